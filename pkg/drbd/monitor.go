package drbd

import (
	"fmt"
	"strings"

	"github.com/gocf/gocf/pkg/ocf"
)

// MonitorOptions is what the agent knows beyond the kernel state.
type MonitorOptions struct {
	// ExpectConnection tells that the agent brought the resource up with
	// its network configuration and nobody asked for a disconnect. Only then
	// is StandAlone a split brain: events2 shows an admin's `drbdadm
	// disconnect` the same way (on 8.4 even the conn-name goes in both cases).
	ExpectConnection bool
}

// MonitorResult is the OCF answer for a monitor. Reason is the exit reason
// of a failure or a degraded state, short enough for Pacemaker to keep
// (128 characters); Warning is for the log: what to do about it, or what
// endangers a state that is still a success.
type MonitorResult struct {
	Status  ocf.Status
	Reason  string
	Warning string
}

// Monitor maps the state of resource name to an OCF monitor result.
func Monitor(m *Model, name string, o MonitorOptions) MonitorResult {
	if !m.DumpComplete {
		return MonitorResult{Status: ocf.ErrGeneric,
			Reason: "drbdsetup events2 output ended before its end marker; state unknown"}
	}
	r := m.Resource(name)
	if r == nil {
		return MonitorResult{Status: ocf.NotRunning}
	}
	if len(r.Devices) == 0 {
		return MonitorResult{Status: ocf.NotRunning,
			Reason: fmt.Sprintf("DRBD resource %s exists without volumes (partly configured)", name)}
	}
	var promoted bool
	switch r.Role {
	case Primary:
		promoted = true
	case Secondary:
	default:
		return MonitorResult{Status: ocf.ErrGeneric,
			Reason: fmt.Sprintf("DRBD resource %s has role %q", name, r.Role)}
	}
	if sa := r.StandAlone(); len(sa) > 0 && (o.ExpectConnection || m.HelperCalled(name, "split-brain")) {
		res := MonitorResult{Status: ocf.ErrGeneric, Warning: splitBrainMessage(name, sa),
			Reason: short(fmt.Sprintf("split brain: %s StandAlone towards %s; see the log to resolve", name, peerNames(sa)))}
		if promoted {
			// Failing the Primary would make Pacemaker stop the copy in use,
			// and the restart would meet the same split brain again; it
			// works but an admin must act: degraded.
			res.Status = ocf.DegradedPromoted
		}
		return res
	}
	if bad := brokenDisks(r); bad != "" {
		res := MonitorResult{Status: ocf.ErrGeneric, Reason: short(fmt.Sprintf("%s: local disk %s", name, bad)),
			Warning: fmt.Sprintf("DRBD resource %s: local disk %s (I/O error or detached); check the kernel log and the backing device, then `drbdadm attach %s`",
				name, bad, name)}
		switch {
		case !promoted:
		case r.SomePeerUpToDate():
			// I/O goes to the peer: the Primary works, degraded.
			res.Status = ocf.DegradedPromoted
			res.Reason = short(res.Reason + "; I/O served by a peer")
		default:
			res.Status = ocf.FailedPromoted
			res.Reason = short(res.Reason + "; no peer has UpToDate data")
		}
		return res
	}
	if r.QuorumLost() {
		// DRBD 9's quorum: this node reaches no majority of its peers. A Primary cannot
		// write (on-no-quorum io-error fails the writes, suspend-io freezes them): failing it
		// makes Pacemaker stop what runs on it and demote it, and the score is gone, so it is
		// not promoted again here. A Secondary still works as one; it just cannot be promoted.
		if promoted {
			return MonitorResult{Status: ocf.FailedPromoted,
				Reason:  short(fmt.Sprintf("%s is Primary without quorum: its writes fail or hang (%s)", name, quorumPeers(r))),
				Warning: fmt.Sprintf("DRBD resource %s lost quorum while Primary (%s); a node with quorum must take over", name, quorumPeers(r))}
		}
		return MonitorResult{Status: ocf.Success,
			Warning: fmt.Sprintf("DRBD resource %s has no quorum (%s): it cannot be promoted here until it reaches a majority", name, quorumPeers(r))}
	}
	res := MonitorResult{Status: ocf.Success}
	if promoted {
		res.Status = ocf.RunningPromoted
		lost := unreplicatedPeers(r)
		res.Warning = promotedWarning(r, lost)
		if lost != "" {
			// The PBX works on, so nothing may be recovered; but its writes now
			// exist on one disk only, which crm_mon should show, not just a log.
			res.Status = ocf.DegradedPromoted
			res.Reason = short(fmt.Sprintf("%s: writes are not replicated: %s", name, lost))
		}
	}
	return res
}

// unreplicatedPeers names the peers with a disk that a Primary's writes do not
// reach (their connection is down); "" when every such peer is connected.
// An intentionally diskless peer (DRBD 9's tiebreaker) holds no copy.
func unreplicatedPeers(r *Resource) string {
	var lost []string
	for _, c := range r.Connections {
		if c.Connected() || peerIsClient(c) {
			continue
		}
		lost = append(lost, fmt.Sprintf("peer %s is %s", c.Peer(), c.State))
	}
	return strings.Join(lost, ", ")
}

// peerIsClient tells whether every volume of the peer was last seen diskless by intent.
func peerIsClient(c *Connection) bool {
	if len(c.PeerDevices) == 0 {
		return false
	}
	for _, pd := range c.PeerDevices {
		if pd.PeerClient != Yes {
			return false
		}
	}
	return true
}

// quorumPeers says which peers this node reaches, for a quorum message.
func quorumPeers(r *Resource) string {
	var up, down []string
	for _, c := range r.Connections {
		if c.Connected() {
			up = append(up, c.Peer())
		} else {
			down = append(down, c.Peer()+" "+string(c.State))
		}
	}
	switch {
	case len(r.Connections) == 0:
		return "no peer configured"
	case len(up) == 0:
		return "no peer reachable: " + strings.Join(down, ", ")
	case len(down) == 0:
		return "reaches " + strings.Join(up, ", ")
	}
	return "reaches " + strings.Join(up, ", ") + "; not " + strings.Join(down, ", ")
}

// brokenDisks describes local volumes that lost their disk although they
// are not intentionally diskless clients; "" when there are none.
func brokenDisks(r *Resource) string {
	var bad []string
	for _, d := range r.Devices {
		if (d.Disk == Failed || d.Disk == Diskless) && d.Client != Yes {
			bad = append(bad, fmt.Sprintf("volume %d is %s", d.Volume, d.Disk))
		}
	}
	return strings.Join(bad, ", ")
}

// reasonMax is how much of an exit reason Pacemaker keeps.
const reasonMax = 128

// short cuts an exit reason to what Pacemaker keeps.
func short(s string) string {
	if r := []rune(s); len(r) > reasonMax {
		return string(r[:reasonMax-1]) + "…"
	}
	return s
}

func peerNames(sa []*Connection) string {
	peers := make([]string, len(sa))
	for i, c := range sa {
		peers[i] = c.Peer()
	}
	return strings.Join(peers, ", ")
}

func splitBrainMessage(name string, sa []*Connection) string {
	return fmt.Sprintf("DRBD resource %s is StandAlone towards %s after a connect: split brain, the data diverged. "+
		"Pick the victim whose changes are to be lost and run there `drbdadm secondary %s; drbdadm connect --discard-my-data %s`, "+
		"then on the survivor `drbdadm connect %s`",
		name, peerNames(sa), name, name, name)
}

// promotedWarning points at what endangers a Primary that still works; lost is
// unreplicatedPeers(r).
func promotedWarning(r *Resource, lost string) string {
	if r.IOSuspended() {
		return fmt.Sprintf("DRBD resource %s: I/O suspended (%s)", r.Name, strings.Join(r.Suspended, ","))
	}
	if lost != "" {
		return fmt.Sprintf("DRBD resource %s: writes are not replicated (%s); they resync when the peer connects again", r.Name, lost)
	}
	return ""
}
