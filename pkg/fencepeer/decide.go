package fencepeer

import (
	"fmt"
	"strings"
)

// Exit codes of the fence-peer handler (drbd.conf(5)); 1 is DRBD's
// "helper broken", which keeps I/O frozen or refuses the promotion.
const (
	ExitError        = 1
	ExitInconsistent = 3 // never returned, as LINBIT's scripts never do
	ExitOutdated     = 4
	ExitUnreachable  = 5
	ExitPrimary      = 6 // never returned, as LINBIT's scripts never do
	ExitStonithed    = 7
)

// PeerState is what Pacemaker tells of a peer node.
type PeerState int

const (
	// PeerPending: the CIB says the node is still up; wait or ask it.
	PeerPending PeerState = iota
	// PeerAskController: the CIB says member and online; crmadmin decides.
	PeerAskController
	PeerReachable
	PeerFenced // offline and expected down: cleanly down or fenced
	PeerUnreachable
	PeerUnknown
	PeerDCUnreachable
)

func (p PeerState) String() string {
	return [...]string{"pending", "online per CIB", "reachable", "fenced", "unreachable", "unknown", "DC unreachable"}[p]
}

// member and online read node_state's in_ccm and crmd: "true"/"online"
// before Pacemaker 2.1.7, a timestamp after; "false"/"offline" when not.
func member(v string) bool { return v != "" && v != "false" && v != "0" }
func online(v string) bool {
	return v != "" && v != "offline" && v != "false" && v != "0" && v != "banned"
}

// ClassifyNode reads a peer's node_state as Pacemaker's scheduler would
// (unpack.c, determine_online_status_fencing), the way LINBIT's scripts do:
// fenced when it is out of the membership, its controller offline and it
// was expected down; unreachable when no fencing is to be expected and it
// is offline; otherwise still pending (or online: ask its controller).
func ClassifyNode(ns NodeState, stonith, startupFencing bool) PeerState {
	on := online(ns.Crmd)
	willFence := false
	switch {
	case !stonith:
		// Nothing will fence it: what the CIB says now is final.
	case !ns.Present:
		willFence = startupFencing
	default:
		expected := ns.Expected
		if expected == "" {
			expected = "down"
		}
		willFence = ns.InCCM == "" || ns.Crmd == "banned"
		if expected == "down" && !member(ns.InCCM) && !on {
			// cleanly down
		} else if !member(ns.InCCM) || !on {
			willFence = true
		}
	}
	if !willFence && !on {
		if ns.Present && ns.Expected == "down" && !member(ns.InCCM) {
			return PeerFenced
		}
		return PeerUnreachable
	}
	if on && member(ns.InCCM) {
		return PeerAskController
	}
	// Out of the membership with its controller still "online", or not
	// yet offline: Pacemaker is about to fence it, or to notice.
	return PeerPending
}

// AfterTimeout is a pending peer's state when --timeout has passed: its
// controller offline reads as unreachable, anything else as unknown.
func AfterTimeout(ns NodeState) PeerState {
	if !online(ns.Crmd) && ns.Crmd != "" {
		return PeerUnreachable
	}
	return PeerUnknown
}

// ControllerOK reads `crmadmin -S NODE`: "Controller on NODE in state
// S_NOT_DC: ok" (Pacemaker 2.1 and later) or "... (ok)" (older).
func ControllerOK(out string) bool {
	out = strings.TrimSpace(out)
	return strings.HasSuffix(out, ": ok") || strings.HasSuffix(out, "(ok)")
}

// FenceInput is everything a fence-peer decision depends on.
type FenceInput struct {
	Quorum        bool
	Disk          DiskSummary
	AllReachable  bool // every excluded peer reachable (or already rejected)
	AllFenced     bool // every excluded peer fenced (or already rejected)
	UnreachableOK bool // --unreachable-peer-is-outdated from a terminal
}

// FenceDecision is whether to place the constraint and the exit code if
// that works (or the code when nothing is placed), with the reason.
type FenceDecision struct {
	Place  bool
	Code   int
	Reason string
}

// DecideFence follows crm-fence-peer.9.sh's order of checks.
func DecideFence(in FenceInput) FenceDecision {
	d := in.Disk
	switch {
	case !in.Quorum:
		return FenceDecision{false, ExitError, "this partition has no quorum: did not place the constraint"}
	case d.PeersUpToDate:
		return FenceDecision{false, ExitError, "all peer disks are UpToDate: did not place the constraint"}
	case !d.Configured:
		return FenceDecision{false, ExitError, "could not determine the local disk state: did not place the constraint"}
	case in.AllReachable && d.AllConsistent:
		return FenceDecision{true, ExitOutdated, fmt.Sprintf("peers are reachable, local %s: placed the constraint (peers outdated)", d)}
	case in.AllFenced && d.AllUpToDate:
		return FenceDecision{true, ExitStonithed, fmt.Sprintf("peers were fenced by the cluster, local %s: placed the constraint", d)}
	case d.AllUpToDate:
		return FenceDecision{true, ExitUnreachable, fmt.Sprintf("some peer is unreachable and not (yet) fenced, local %s: placed the constraint anyway", d)}
	case !in.AllReachable && in.UnreachableOK && d.AllConsistent:
		return FenceDecision{true, ExitUnreachable, fmt.Sprintf("peer unreachable, local %s only: --unreachable-peer-is-outdated forced the constraint; this MAY RISK DATA INTEGRITY", d)}
	}
	return FenceDecision{false, ExitUnreachable, fmt.Sprintf("some peer is unreachable and the local disk is not UpToDate (%s): did not place the constraint", d)}
}
