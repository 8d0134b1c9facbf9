package testbed

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// AgentOp is one resource agent action the survivor ran after the fault,
// as pacemaker-execd logged it.
type AgentOp struct {
	Rsc, Op string
	Exec    time.Duration // the agent's run time
	End     time.Duration // its end, after corosync's new membership
}

// finishedRe matches pacemaker-execd's line for a finished action, e.g.
// "p_ast start (call 35, PID 2145) exited with status 0 (execution time 1m37.612s after being queued 45ms)".
var finishedRe = regexp.MustCompile(`\(log_finished\)\s+\w+: (\S+) (\w+) \(call \d+, PID \d+\) exited with status \d+ \(execution time ([0-9hms.]+)`)

// logTime reads the hires timestamp that starts a corosync.log or
// pacemaker.log line ("Nov 26 16:50:11.155"), in since's year, and tells
// whether it is at or after since.
func logTime(line string, since time.Time) (time.Time, bool) {
	if len(line) < 19 {
		return time.Time{}, false
	}
	t, err := time.ParseInLocation("Jan _2 15:04:05.000", line[:19], time.Local)
	if err != nil {
		return time.Time{}, false
	}
	t = t.AddDate(since.Year(), 0, 0)
	return t, !t.Before(since.Truncate(time.Millisecond))
}

// membershipLeft finds when node n's corosync formed a membership that left
// a node out, at or after since.
func (b *Bed) membershipLeft(n string, since time.Time) (time.Time, bool) {
	return membershipLeft(b.NodeLog(n, "var/log/corosync/corosync.log", 200), since)
}

func membershipLeft(log string, since time.Time) (time.Time, bool) {
	for _, l := range strings.Split(log, "\n") {
		if !strings.Contains(l, "A new membership") || !strings.Contains(l, "Members left") {
			continue
		}
		if t, ok := logTime(l, since); ok {
			return t, true
		}
	}
	return time.Time{}, false
}

// agentOps returns the non-recurring actions finished at or after since
// in a pacemaker.log, with their end relative to since.
func agentOps(log string, since time.Time) []AgentOp {
	var ops []AgentOp
	for _, l := range strings.Split(log, "\n") {
		m := finishedRe.FindStringSubmatch(l)
		if m == nil || m[2] == "monitor" {
			continue
		}
		t, after := logTime(l, since)
		d, err := time.ParseDuration(m[3]) // "45ms", "19.608s", "1m37.612s"
		if err != nil || !after {
			continue
		}
		ops = append(ops, AgentOp{Rsc: m[1], Op: m[2], Exec: d, End: t.Sub(since)})
	}
	return ops
}

// guestOffset is how far node n's clock is ahead of the host's, measured
// with one command; the error is up to half the command's round trip.
func (b *Bed) guestOffset(n string) (off, uncertainty time.Duration, err error) {
	if b.st.Mode != "vm" {
		return 0, 0, nil // namespaces share the host's clock
	}
	t1 := time.Now()
	out, err := b.Exec(n, time.Minute, nil, "date", "+%s.%N")
	t2 := time.Now()
	if err != nil {
		return 0, 0, err
	}
	secs, err := strconv.ParseFloat(strings.TrimSpace(out), 64)
	if err != nil {
		return 0, 0, fmt.Errorf("date on %s: %q", n, out)
	}
	guest := time.Unix(0, int64(secs*1e9))
	mid := t1.Add(t2.Sub(t1) / 2)
	return guest.Sub(mid), t2.Sub(t1) / 2, nil
}

// timeline reads from survivor n's logs when corosync formed the
// membership without the failed node (relative to the fault at tf) and
// the agent actions it ran after that.
func (b *Bed) timeline(n string, tf time.Time) (detect time.Duration, ops []AgentOp, ok bool) {
	off, unc, err := b.guestOffset(n)
	if err != nil {
		b.logf("clock of %s: %v", n, err)
		return 0, nil, false
	}
	gf := tf.Add(off - unc) // the fault on n's clock, at the earliest
	t, ok := b.membershipLeft(n, gf)
	if !ok {
		return 0, nil, false
	}
	return t.Add(-off).Sub(tf), agentOps(b.NodeLog(n, "var/log/pacemaker/pacemaker.log", 5000), t), true
}

// opsSummary renders the actions compactly: "p_drbd notify 1.2, p_drbd promote 4.8 (+6.0)".
func opsSummary(ops []AgentOp) string {
	if len(ops) == 0 {
		return "(the survivor's logs could not be read)"
	}
	var parts []string
	for _, o := range ops {
		parts = append(parts, fmt.Sprintf("%s %s %.1f (ends +%.1f)", o.Rsc, o.Op, o.Exec.Seconds(), o.End.Seconds()))
	}
	return strings.Join(parts, ", ")
}
