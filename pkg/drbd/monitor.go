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
// for a failure; Warning is for the log when the status is a success but an
// admin should still act.
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
		msg := splitBrainMessage(name, sa)
		if promoted {
			// Failing the Primary would make Pacemaker stop the copy in use,
			// and the restart would meet the same split brain again.
			return MonitorResult{Status: ocf.RunningPromoted, Warning: msg}
		}
		return MonitorResult{Status: ocf.ErrGeneric, Reason: msg}
	}
	if bad := brokenDisks(r); bad != "" {
		msg := fmt.Sprintf("DRBD resource %s: local disk %s (I/O error or detached); check the kernel log and the backing device, then `drbdadm attach %s`",
			name, bad, name)
		switch {
		case !promoted:
			return MonitorResult{Status: ocf.ErrGeneric, Reason: msg}
		case r.SomePeerUpToDate():
			return MonitorResult{Status: ocf.RunningPromoted, Warning: msg + "; I/O is served by a peer"}
		default:
			return MonitorResult{Status: ocf.FailedPromoted, Reason: msg + "; no peer has UpToDate data"}
		}
	}
	res := MonitorResult{Status: ocf.Success}
	if promoted {
		res.Status = ocf.RunningPromoted
		res.Warning = promotedWarning(r)
	}
	return res
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

func splitBrainMessage(name string, sa []*Connection) string {
	peers := make([]string, len(sa))
	for i, c := range sa {
		peers[i] = c.Peer()
	}
	return fmt.Sprintf("DRBD resource %s is StandAlone towards %s after a connect: split brain, the data diverged. "+
		"Pick the victim whose changes are to be lost and run there `drbdadm secondary %s; drbdadm connect --discard-my-data %s`, "+
		"then on the survivor `drbdadm connect %s`",
		name, strings.Join(peers, ", "), name, name, name)
}

// promotedWarning points at what endangers a Primary that still works.
func promotedWarning(r *Resource) string {
	if r.IOSuspended() {
		return fmt.Sprintf("DRBD resource %s: I/O suspended (%s)", r.Name, strings.Join(r.Suspended, ","))
	}
	for _, c := range r.Connections {
		if !c.Connected() {
			return fmt.Sprintf("DRBD resource %s: peer %s is %s, writes are not replicated", r.Name, c.Peer(), c.State)
		}
	}
	return ""
}
