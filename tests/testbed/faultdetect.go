package testbed

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gocf/gocf/tests/sipp"
)

// Detection is how the cluster noticed a fault: a failed (or degraded) action of a resource
// agent, as the controller of the node that ran it logged it, or a node fenced.
type Detection struct {
	At       time.Time
	Node     string // where the action ran (fencing: the node that fenced)
	Resource string // fencing: the victim
	Action   string // monitor, start, stop, promote, ..., fencing
	Interval time.Duration
	// Depth is the monitor's OCF_CHECK_LEVEL from the crm configuration, -1 when unknown
	// or not a monitor.
	Depth  int
	RC     int    // the agent's exit code, -1 when it did not end (timed out)
	Result string // Pacemaker's reading: "Not running", "Timed Out after 30s", "Degraded"
	Reason string // the agent's exit reason
	// Failed is false for a degraded monitor (190, 191): shown, not acted on.
	Failed bool
}

// What reads better in a table: "pbx-asterisk monitor (depth 20, every 30 s) → 1 error: reason".
func (d Detection) String() string {
	if d.Action == "fencing" {
		return fmt.Sprintf("%s fenced by %s", d.Resource, d.Node)
	}
	s := d.Resource + " " + d.Action
	if d.Action == "monitor" {
		var p []string
		if d.Depth >= 0 {
			p = append(p, fmt.Sprintf("depth %d", d.Depth))
		}
		if d.Interval > 0 {
			p = append(p, fmt.Sprintf("every %s", d.Interval))
		}
		if len(p) > 0 {
			s += " (" + strings.Join(p, ", ") + ")"
		}
	}
	if d.RC >= 0 {
		s += fmt.Sprintf(" → %d %s", d.RC, strings.ToLower(d.Result))
	} else {
		s += " → " + strings.ToLower(d.Result)
	}
	if d.Reason != "" {
		s += ": " + d.Reason
	}
	return s
}

// resultRe matches the controller's line for an action's result (Pacemaker 2.1-3.0,
// log_executor_event), e.g. "Result of monitor operation for pbx-vip on n1: Not running
// (198.51.100.100/24 is on eth0 but the link is down or has no carrier) | graph action
// unconfirmed; call=24 key=pbx-vip_monitor_10000 rc=7"; a timeout has no rc ("Timed Out after
// 30s").
var resultRe = regexp.MustCompile(`Result of (\S+) operation for (\S+) on (\S+): (.*?) \| (?:.*?)call=\d+ key=(\S+)(?: rc=(-?\d+))?`)

// ParseDetections reads the failed and degraded actions, and the fencings, logged at or after
// since in a pacemaker.log (Pacemaker's hires time stamps, in since's year and time zone);
// depths maps monitors to their depth (MonitorDepths). Probes and cancellations are not
// detections; neither is a monitor's 0, nor a promoted instance's 8.
func ParseDetections(log string, since time.Time, depths map[string]int) []Detection {
	var ds []Detection
	for _, l := range strings.Split(log, "\n") {
		if m := terminatedRe.FindStringSubmatch(l); m != nil {
			if t, ok := logTime(l, since); ok {
				ds = append(ds, Detection{At: t, Node: m[3], Resource: m[1], Action: "fencing", Depth: -1, RC: -1,
					Result: "terminated (" + m[2] + ")", Failed: true})
			}
			continue
		}
		m := resultRe.FindStringSubmatch(l)
		if m == nil || m[1] == "probe" {
			continue
		}
		t, ok := logTime(l, since)
		if !ok {
			continue
		}
		d := Detection{At: t, Action: m[1], Resource: m[2], Node: m[3], Depth: -1, RC: -1}
		d.Result, d.Reason = m[4], ""
		if i := strings.Index(m[4], " ("); i >= 0 && strings.HasSuffix(m[4], ")") {
			d.Result, d.Reason = m[4][:i], m[4][i+2:len(m[4])-1]
		}
		if d.Result == "Cancelled" {
			continue
		}
		if m[6] != "" {
			d.RC, _ = strconv.Atoi(m[6])
		}
		// the key: rsc_action_intervalms
		if i := strings.LastIndex(m[5], "_"); i > 0 {
			if ms, err := strconv.Atoi(m[5][i+1:]); err == nil {
				d.Interval = time.Duration(ms) * time.Millisecond
				if d.Action == "monitor" {
					d.Depth = 0
					if dp, ok := depths[fmt.Sprintf("%s/%d", d.Resource, ms)]; ok {
						d.Depth = dp
					}
				}
			}
		}
		switch {
		case m[6] == "": // did not end: timed out, or an execution error
			d.Failed = true
		case d.RC == 0, d.Action == "monitor" && d.RC == 8:
			continue
		case d.RC == 190 || d.RC == 191:
			d.Failed = false // degraded
		default:
			d.Failed = true
		}
		ds = append(ds, d)
	}
	sort.SliceStable(ds, func(i, j int) bool { return ds[i].At.Before(ds[j].At) })
	return ds
}

// FirstDetection is the first failed detection, else the first degraded one.
func FirstDetection(ds []Detection) (Detection, bool) {
	for _, d := range ds {
		if d.Failed {
			return d, true
		}
	}
	if len(ds) > 0 {
		return ds[0], true
	}
	return Detection{}, false
}

// FirstNewCall is the time from mark to the 200 OK of the first call set up whose INVITE was
// sent after mark and after the last INVITE that failed. SIPp counts a failure per second when
// it happens, up to recvTimeout after the INVITE (no answer) or at once (an error answer), so
// the last failed INVITE is taken as sent recvTimeout before the start of the last second that
// counted a failure after mark; a call set up in between would be missed only if calls failed
// and succeeded by turns. An INVITE sent before down (the last time the OPTIONS probe found
// the PBX not answering; zero if never) is not new either: a call set up just after the fault
// and before the calls began to fail would otherwise count as the recovery. ok is false when
// no such call was set up.
func FirstNewCall(r *sipp.Result, mark time.Time, recvTimeout time.Duration, down time.Time) (time.Duration, bool) {
	after := mark
	if down.After(after) {
		after = down
	}
	for _, s := range r.Seconds {
		if s.Failed > 0 && s.Time.After(mark) {
			if t := s.Time.Add(-time.Second - recvTimeout); t.After(after) {
				after = t
			}
		}
	}
	var first time.Time
	for _, su := range r.SetUps {
		invite := su.Time.Add(-su.Duration)
		if invite.Before(mark) || invite.Before(after) {
			continue
		}
		if first.IsZero() || su.Time.Before(first) {
			first = su.Time
		}
	}
	if first.IsZero() {
		return 0, false
	}
	return first.Sub(mark), true
}

// AgentAction is an agent action that ended after the fault, as pacemaker-execd logged it.
type AgentAction struct {
	Node     string
	Resource string
	Action   string
	End      time.Duration // after the fault
}

// Verdict judges what the cluster did about fault f: the restarts and moves it did not need
// (see Fault.Needs, InPlace, Quiet, Planned). from and to are where the PBX ran before and
// after ("" when stopped).
func Verdict(f Fault, from, to string, acts []AgentAction) []string {
	var bad []string
	moved := to != "" && to != from
	starts := map[string]int{}
	for _, a := range acts {
		if a.Action == "start" && strings.HasPrefix(a.Resource, "pbx") {
			starts[a.Resource]++
		}
	}
	names := make([]string, 0, len(starts))
	for r := range starts {
		names = append(names, r)
	}
	sort.Strings(names)
	switch {
	case f.Quiet:
		if moved {
			bad = append(bad, fmt.Sprintf("moved %s → %s", from, to))
		}
		for _, r := range names {
			bad = append(bad, fmt.Sprintf("%s started %d×", r, starts[r]))
		}
	case f.MayMove:
		// riding it out or one move (Fault6DM): a start on the node the fault hit is a
		// restart where the disk still fails, which repairs nothing (the PBX's resources, or
		// the DRBD instance there); elsewhere each resource starts once, the move
		for _, r := range names {
			here, there := 0, 0
			for _, a := range acts {
				if a.Action == "start" && a.Resource == r {
					if a.Node == from {
						here++
					} else {
						there++
					}
				}
			}
			if here > 0 {
				bad = append(bad, fmt.Sprintf("%s restarted on %s (its disk still fails: repairs nothing)", r, from))
			}
			if there > 1 {
				bad = append(bad, fmt.Sprintf("%s started %d× (once is the move)", r, there))
			}
		}
	case f.Planned || moved && !f.InPlace:
		for _, r := range names {
			if starts[r] > 1 {
				bad = append(bad, fmt.Sprintf("%s started %d× (once is the move)", r, starts[r]))
			}
		}
	default:
		if moved {
			bad = append(bad, fmt.Sprintf("moved %s → %s (a restart in place repairs it)", from, to))
		}
		for _, r := range names {
			switch need := contains(f.Needs, r); {
			case !need && !moved:
				bad = append(bad, fmt.Sprintf("%s restarted (not needed)", r))
			case starts[r] > 1:
				bad = append(bad, fmt.Sprintf("%s started %d×", r, starts[r]))
			}
		}
	}
	return bad
}

// agentActions converts agentOps of node n (ends relative to since) into AgentActions,
// keeping those that ended before until.
func agentActions(n string, ops []AgentOp, until time.Duration) []AgentAction {
	var out []AgentAction
	for _, o := range ops {
		if until > 0 && o.End > until {
			continue
		}
		out = append(out, AgentAction{Node: n, Resource: o.Rsc, Action: o.Op, End: o.End})
	}
	return out
}
