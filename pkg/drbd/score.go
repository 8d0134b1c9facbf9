package drbd

import (
	"fmt"
	"strconv"
	"strings"
)

// Scores are the four promotion scores of ocf:linbit:drbd's
// adjust_master_score parameter, in its order. A score <= 0 removes the
// node's promotion score instead of setting it, as that agent does.
type Scores struct {
	Consistent     int // only Consistent data: maybe not the newest
	RemoteUpToDate int // no good local data, a connected peer has UpToDate
	PeerUnknown    int // UpToDate, Secondary, some peer's disk unknown
	UpToDate       int // UpToDate and Primary, or every peer's disk known
}

// DefaultScores is adjust_master_score's default "0 10 1000 10000".
var DefaultScores = Scores{Consistent: 0, RemoteUpToDate: 10, PeerUnknown: 1000, UpToDate: 10000}

// ParseScores reads an adjust_master_score value: four integers.
func ParseScores(s string) (Scores, error) {
	f := strings.Fields(s)
	if len(f) != 4 {
		return Scores{}, fmt.Errorf("adjust_master_score %q: want 4 numbers, got %d", s, len(f))
	}
	var n [4]int
	for i, v := range f {
		x, err := strconv.Atoi(v)
		if err != nil {
			return Scores{}, fmt.Errorf("adjust_master_score %q: %q is not an integer", s, v)
		}
		n[i] = x
	}
	return Scores{n[0], n[1], n[2], n[3]}, nil
}

func (s Scores) String() string {
	return fmt.Sprintf("%d %d %d %d", s.Consistent, s.RemoteUpToDate, s.PeerUnknown, s.UpToDate)
}

// ScoreAction is what to do with the node's promotion score.
type ScoreAction int

const (
	// Keep leaves the score as it is: the state is transient and a
	// decision now would flap (Pacemaker may demote on a removed score).
	Keep ScoreAction = iota
	Set
	Remove
)

func (a ScoreAction) String() string {
	switch a {
	case Set:
		return "set"
	case Remove:
		return "remove"
	}
	return "keep"
}

// ScoreDecision is the outcome of Score; Value is meaningful for Set only.
type ScoreDecision struct {
	Action ScoreAction
	Value  int
	Reason string
}

func (d ScoreDecision) String() string {
	if d.Action == Set {
		return fmt.Sprintf("set %d: %s", d.Value, d.Reason)
	}
	return d.Action.String() + ": " + d.Reason
}

func set(n int, reason string) ScoreDecision {
	if n <= 0 {
		return ScoreDecision{Action: Remove, Reason: reason + fmt.Sprintf(" (configured score %d)", n)}
	}
	return ScoreDecision{Action: Set, Value: n, Reason: reason}
}

func remove(reason string) ScoreDecision { return ScoreDecision{Action: Remove, Reason: reason} }

// Score decides this node's promotion score from its resource state. r is
// nil when the resource is not configured in the kernel.
func Score(r *Resource, s Scores) ScoreDecision {
	switch {
	case r == nil:
		return remove("resource not configured")
	case len(r.Devices) == 0:
		return remove("resource has no volumes")
	case r.QuorumLost():
		return remove("quorum lost")
	case r.LocalDiskTransient():
		// ocf:linbit:drbd's events2 path removes the score here and makes
		// Pacemaker demote for a moment; the disk settles within seconds.
		return ScoreDecision{Action: Keep, Reason: "local disk " + r.DiskSummary() + " is transient"}
	case r.AllLocalDisksUpToDate():
		switch {
		case r.Role == Primary:
			return set(s.UpToDate, "Primary with UpToDate data")
		case r.PeerDisksKnown():
			return set(s.UpToDate, "UpToDate data, every peer's disk state known")
		default:
			return set(s.PeerUnknown, "UpToDate data, "+unknownPeers(r)+" disk state unknown")
		}
	case r.SomePeerUpToDate():
		return set(s.RemoteUpToDate, "local disk "+r.DiskSummary()+", a connected peer has UpToDate data")
	case r.AllLocalDisksConsistent():
		return set(s.Consistent, "only Consistent data, it may not be the newest")
	}
	return remove("no UpToDate data here (disk " + r.DiskSummary() + ") nor on a connected peer")
}

// unknownPeers names the peers whose disk state is unknown.
func unknownPeers(r *Resource) string {
	var names []string
	for _, c := range r.Connections {
		if !c.allPeerDisks(r.Devices, func(d DiskState) bool { return d != "" && d != DUnknown }) {
			names = append(names, c.Peer())
		}
	}
	if len(names) == 1 {
		return "peer " + names[0]
	}
	return "peers " + strings.Join(names, ", ")
}
