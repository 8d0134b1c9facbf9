package testbed

import (
	"encoding/xml"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// The seed plan's rows for the two networks (2.3a-c, ns mode, with fencing): one cable or both
// pulled on the node that runs the PBX.

// linkTest reports whether t is one of the LAN / both / ring cable pulls.
func (t SeedTest) linkTest() bool { return strings.HasPrefix(t.Kind, "cable-") }

// Stays reports whether the PBX must stay where it is in test t (ring cable pulled).
func (t SeedTest) Stays() bool { return t.Kind == "cable-ring" }

// FenceHistoryEvent is a fence_event of `stonith_admin --history`.
type FenceHistoryEvent struct {
	Action    string `xml:"action,attr"`
	Target    string `xml:"target,attr"`
	Status    string `xml:"status,attr"`
	Delegate  string `xml:"delegate,attr"`
	Origin    string `xml:"origin,attr"`
	Completed string `xml:"completed,attr"`
}

// CompletedAt parses the completion time ("2026-11-30 06:42:16.996878Z").
func (e FenceHistoryEvent) CompletedAt() (time.Time, bool) {
	for _, layout := range []string{"2006-01-02 15:04:05.999999Z07:00", "2006-01-02 15:04:05Z07:00", "2006-01-02 15:04:05.999999 -07:00"} {
		if t, err := time.Parse(layout, e.Completed); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// FenceHistory is the cluster's fencing history as node n sees it.
func (b *Bed) FenceHistory(n string) ([]FenceHistoryEvent, error) {
	out, err := b.Exec(n, 30*time.Second, nil, "stonith_admin", "--history", "*", "--output-as=xml")
	if err != nil {
		return nil, fmt.Errorf("%v: %s", err, out)
	}
	if i := strings.Index(out, "<"); i > 0 {
		out = out[i:]
	}
	var r struct {
		Events []FenceHistoryEvent `xml:"list>fence_event"`
	}
	if err := xml.Unmarshal([]byte(out), &r); err != nil {
		return nil, err
	}
	return r.Events, nil
}

// failuresExcept returns the failed actions seen from n other than those allowed.
func (p *SeedPlan) failuresExcept(n string, allowed func(MonFailure) bool) ([]string, error) {
	m, err := p.b.Mon(n)
	if err != nil {
		return nil, err
	}
	var fs []string
	for _, f := range m.Failures {
		if allowed == nil || !allowed(f) {
			fs = append(fs, f.String())
		}
	}
	return fs, nil
}

// settled waits for the PBX's node, a cluster with nothing left to do and, with DRBD, r0 in
// sync there: a fault then hits a steady state. It returns the PBX's node.
func (p *SeedPlan) settled() (string, error) {
	active, err := p.b.WaitResource(p.timeout, SeedPBX)
	if err != nil {
		return "", err
	}
	if err := p.b.WaitSettled(active, p.timeout); err != nil {
		return "", err
	}
	if p.drbd {
		if err := p.waitSynced(active); err != nil {
			return "", err
		}
	}
	return active, nil
}

func (p *SeedPlan) runLink(t *SeedTest) error {
	b := p.b
	active, err := p.settled()
	if err != nil {
		return err
	}
	other := p.other(active)
	victim := active
	if t.Passive {
		victim = other
	}
	t.From = active
	var sbBefore map[string]kernelLog
	if p.drbd {
		sbBefore = p.kernelLogs()
	}
	if err := p.witness(active, "before-"+t.ID); err != nil {
		return err
	}
	which := map[string]string{"cable-lan": LinkLAN, "cable-all": LinkAll, "cable-ring": LinkRing}[t.Kind]
	t.Faulted = victim + " " + which
	var exited func() time.Time
	var survivorClock float64
	if b.st.Mode == "vm" && t.Kind == "cable-all" {
		survivorClock = b.uptime(other)
		// SBD's reset ends the victim's qemu (-no-reboot): that is its power-off
		exited = b.watchExit(victim, p.timeout)
	}
	if err := b.CableLink(victim, which, false); err != nil {
		return err
	}
	mark := b.LastFault()
	b.logf("seed plan %s: %s cable(s) of %s pulled", t.ID, which, victim)

	// where the PBX must be afterwards
	var to string
	if t.Stays() {
		// Watch long enough for corosync to notice the link (knet) and for a monitor round
		// of every resource: the membership must not change and the PBX must not move.
		if !Poll(15*time.Second, 500*time.Millisecond, func() bool {
			out, _ := b.Exec(victim, 10*time.Second, nil, "corosync-cfgtool", "-s")
			return strings.Count(out, "disconnected") > 0
		}) {
			return fmt.Errorf("corosync on %s did not see its ring link down", victim)
		}
		time.Sleep(12 * time.Second)
		to, err = b.WaitResource(p.timeout, SeedPBX)
		if err != nil {
			return err
		}
		if to != active {
			return fmt.Errorf("the PBX moved from %s to %s with only the ring cable pulled", active, to)
		}
	} else {
		to, err = b.WaitResource(p.timeout, SeedPBX, active)
		if err != nil {
			return err
		}
	}
	if err := p.answering(t, to, mark); err != nil {
		return err
	}

	// fencing: only when both cables are out, and then before the survivor took over
	fenced := b.FencedSince(mark)
	if t.Kind != "cable-all" {
		if len(fenced) > 0 {
			return fmt.Errorf("fenced with a cable still in: %v", fenced)
		}
		if _, left := b.membershipLeft(to, mark); left {
			return fmt.Errorf("corosync on %s lost a member with a cable still in", to)
		}
		t.Fencing = "none (membership unchanged)"
	} else {
		if err := p.checkFenced(t, active, other, mark, exited); err != nil {
			return err
		}
		if p.drbd {
			// the survivor promoted a disconnected DRBD: 8.4 ran its fence-peer handler first
			out, _ := b.Exec(other, p.cmd, nil, "dmesg")
			runs := ParseFencePeerRuns(out, survivorClock)
			if len(runs) == 0 {
				return fmt.Errorf("no run of DRBD's fence-peer handler on %s after the cut", other)
			}
			// the handler's own account, for the record
			if log, err := b.Sh(other, p.cmd, "journalctl --no-pager -o short-precise --since=-10min | grep -E 'fence-peer|drbd-fence' | tail -40"); err == nil {
				b.logf("seed plan %s: fence-peer on %s:\n%s", t.ID, other, log)
			}
			for _, r := range runs {
				// what DRBD 8.4 accepts before it promotes with the peer unknown: 7 peer
				// fenced, 4 peer outdated, 5 peer unreachable (assumed dead)
				if r.Exit != 7 && r.Exit != 4 && r.Exit != 5 {
					return fmt.Errorf("DRBD's fence-peer handler on %s: %v (want 7, 4 or 5)", other, r)
				}
			}
			t.FencePeer = fmt.Sprintf("%s handler on %s: %v", b.fencePeerName(), other, runs[len(runs)-1])
			t.Fencing += "; fence-peer " + t.FencePeer
		}
	}
	if err := p.witness(to, "after-"+t.ID); err != nil {
		return err
	}

	// no split brain: the PBX's data is mounted on one node only
	if t.Kind == "cable-lan" {
		if !Poll(p.timeout, 250*time.Millisecond, func() bool { return p.pbxStopped(active) }) {
			return fmt.Errorf("%s still runs the PBX or has /replica mounted after the move", active)
		}
	}

	// back: cables in, the faulted node online (a fenced ns node was booted by the power
	// switch; a fenced VM, reset by SBD, is booted here as its BMC would on "reboot")
	t0 := time.Now()
	if err := b.CableLink(victim, which, true); err != nil && b.Running(victim) {
		return err
	}
	if b.st.Mode == "vm" && !b.Running(victim) {
		if err := b.Boot(victim); err != nil {
			return err
		}
	}
	if err := b.WaitOnline(p.timeout, b.st.Nodes...); err != nil {
		return err
	}
	if p.drbd {
		// with the ring back DRBD reconnects and resyncs what was written meanwhile
		if err := p.waitSynced(to); err != nil {
			return err
		}
		// resynced: the unfence handler (after-resync-target) takes the fence constraint away
		var cons string
		if !Poll(p.timeout, time.Second, func() bool {
			var err error
			cons, err = b.Exec(to, p.cmd, nil, "cibadmin", "-Q", "-o", "constraints")
			return err == nil && !strings.Contains(cons, "drbd-fence-by-handler")
		}) {
			return fmt.Errorf("the fence constraint is still in the CIB after the resync: %s", cons)
		}
	}
	if err := b.WaitSettled(to, p.timeout); err != nil {
		return err
	}
	t.Rejoin = time.Since(t0)
	if t.Kind == "cable-all" {
		t.Rejoin = time.Since(mark) // the node was booted by the fence device, not by the test
	}
	if to != active && !p.pbxStopped(active) {
		return fmt.Errorf("%s runs the PBX or has /replica mounted after it came back", active)
	}

	// no failed action but the fault itself: with the LAN out, vip's link check fails the
	// address's monitor on the faulted node
	allowed := func(f MonFailure) bool {
		return t.Kind == "cable-lan" && f.Node == active && strings.HasPrefix(f.OpKey, "pbx-vip_")
	}
	fs, err := p.failuresExcept(to, allowed)
	if err != nil {
		return err
	}
	if len(fs) > 0 {
		return fmt.Errorf("failed actions: %s", strings.Join(fs, "; "))
	}
	if t.Kind == "cable-lan" {
		all, _ := p.failuresExcept(to, nil)
		if len(all) == 0 {
			return fmt.Errorf("no failed monitor of pbx-vip on %s: the move was not caused by the link check", active)
		}
		t.Fencing += "; the fault: " + strings.Join(all, "; ")
		if out, err := b.Exec(to, p.timeout, nil, "crm_resource", "--cleanup", "-r", "pbx-vip"); err != nil {
			return fmt.Errorf("crm_resource --cleanup: %v: %s", err, out)
		}
		if err := b.WaitSettled(to, p.timeout); err != nil {
			return err
		}
	}
	if err := p.checkWitnesses(to); err != nil {
		return err
	}
	if w, err := b.WaitResource(p.timeout, SeedPBX); err != nil || w != to {
		return fmt.Errorf("the PBX is on %s, not %s, after the faulted node returned: %v", w, to, err)
	}
	t.Witnesses = len(p.witnesses)
	t.DRBD = "no DRBD (shared disk)"
	if p.drbd {
		if sb := p.splitBrainsSince(sbBefore); sb > 0 {
			return fmt.Errorf("DRBD reported split brain %d time(s)", sb)
		}
		t.DRBD = "no split brain; UpToDate/UpToDate"
		if t.Kind == "cable-ring" {
			t.DRBD = "replication cut with the ring, resynced on reconnect; no split brain; UpToDate/UpToDate"
		}
	}
	return nil
}

// checkFenced: the survivor fenced the cut-off node, and started the PBX only after the
// fencing was confirmed. In ns mode the bed's power switch logged the power-off; in vm mode
// (SBD) exited tells when the victim's qemu ended.
func (p *SeedPlan) checkFenced(t *SeedTest, victim, survivor string, mark time.Time, exited func() time.Time) error {
	b := p.b
	var ev *FenceEvent
	if exited != nil {
		if !Poll(p.timeout, 200*time.Millisecond, func() bool { return !exited().IsZero() }) {
			return fmt.Errorf("%s was not fenced: its VM still runs %v after the cut", victim, p.timeout)
		}
		if !b.Running(survivor) {
			return fmt.Errorf("the survivor %s is gone too (both fenced?)", survivor)
		}
		ev = &FenceEvent{Time: exited(), By: survivor, Action: "reset (SBD)", Node: victim, Result: "off"}
	}
	for _, e := range b.FencedSince(mark) {
		if ev == nil && e.Node == victim && (e.Action == "reboot" || e.Action == "off") && strings.HasPrefix(e.Result, "off") {
			e := e
			ev = &e
		}
	}
	if ev == nil {
		return fmt.Errorf("%s was not fenced (the bed's fence log: %v)", victim, b.FenceLog())
	}
	if ev.By != survivor {
		return fmt.Errorf("%s was fenced by %s, not by the survivor %s", victim, ev.By, survivor)
	}
	for _, e := range b.FencedSince(mark) {
		if e.Node != victim && strings.HasPrefix(e.Result, "off") {
			return fmt.Errorf("%s was fenced too: %v", e.Node, e)
		}
	}
	t.FenceOff = ev.Time.Sub(mark)
	// the fencer's history can lag its result by a moment (seen after a node's own reboot)
	var hist []FenceHistoryEvent
	var confirmed time.Time
	var err error
	Poll(30*time.Second, time.Second, func() bool {
		if hist, err = b.FenceHistory(survivor); err != nil {
			return false
		}
		for _, h := range hist {
			if c, ok := h.CompletedAt(); ok && h.Target == victim && h.Status == "success" && !c.Before(mark) {
				confirmed = c
			}
		}
		return !confirmed.IsZero()
	})
	if err != nil {
		return err
	}
	if confirmed.IsZero() {
		// seen in vm mode when the survivor had itself been fenced and rebooted in the test
		// before: its history kept only the older event; its controller's log has the result
		if c, ok := fenceConfirmedInLog(b.NodeLog(survivor, "var/log/pacemaker/pacemaker.log", 5000), victim, mark); ok {
			confirmed = c
			b.logf("%s's stonith history lacks the fencing of %s (%+v); its pacemaker.log has it", survivor, victim, hist)
		}
	}
	if confirmed.IsZero() {
		return fmt.Errorf("no successful fencing of %s in %s's stonith history (%+v) nor in its pacemaker.log", victim, survivor, hist)
	}
	if exited != nil && confirmed.Before(ev.Time) {
		// with SBD the confirmation is msgwait after the message: the victim must be gone by then
		return fmt.Errorf("the fencing of %s was confirmed at +%.2fs, before its VM ended (+%.2fs)",
			victim, confirmed.Sub(mark).Seconds(), ev.Time.Sub(mark).Seconds())
	}
	t.FenceConfirmed = confirmed.Sub(mark)
	// the survivor's first start of the PBX's file system after the fault
	var fsStart time.Time
	for _, o := range agentOps(b.NodeLog(survivor, "var/log/pacemaker/pacemaker.log", 5000), mark) {
		if o.Rsc == "pbx-fs" && o.Op == "start" {
			fsStart = mark.Add(o.End - o.Exec)
			break
		}
	}
	if fsStart.IsZero() {
		return fmt.Errorf("no start of pbx-fs on %s in its pacemaker.log after the fault", survivor)
	}
	if !fsStart.After(confirmed) || !fsStart.After(ev.Time) {
		return fmt.Errorf("%s started pbx-fs at +%.2fs, before the fencing of %s was confirmed (+%.2fs, power-off +%.2fs)",
			survivor, fsStart.Sub(mark).Seconds(), victim, t.FenceConfirmed.Seconds(), t.FenceOff.Seconds())
	}
	t.Fencing = fmt.Sprintf("%s %s by %s: off +%.2fs, confirmed +%.2fs, pbx-fs start +%.2fs",
		victim, ev.Action, survivor, t.FenceOff.Seconds(), t.FenceConfirmed.Seconds(), fsStart.Sub(mark).Seconds())
	return nil
}

// uptime is node n's /proc/uptime (the clock of its kernel log), 0 if unknown.
func (b *Bed) uptime(n string) float64 {
	out, err := b.Exec(n, 30*time.Second, nil, "cat", "/proc/uptime")
	if err != nil {
		return 0
	}
	var u float64
	fmt.Sscanf(out, "%f", &u)
	return u
}

// HandlerRun is one run of DRBD's fence-peer handler as the kernel logged it.
type HandlerRun struct {
	Start, End float64 // kernel log time (s since boot)
	Exit       int
	Said       string // DRBD's reading of the exit code
}

func (h HandlerRun) String() string {
	return fmt.Sprintf("exit %d (%s) after %.2fs", h.Exit, h.Said, h.End-h.Start)
}

var (
	dmesgTime    = regexp.MustCompile(`^\[\s*(\d+\.\d+)\]`)
	helperCall   = regexp.MustCompile(`helper command: \S+ fence-peer`)
	helperExit   = regexp.MustCompile(`helper command: \S+ fence-peer .*exit code (\d+)`)
	helperReturn = regexp.MustCompile(`fence-peer helper returned (\d+) \(([^)]*)\)`)
)

// ParseFencePeerRuns finds the fence-peer handler's runs after kernel time since in dmesg output.
func ParseFencePeerRuns(dmesg string, since float64) []HandlerRun {
	var runs []HandlerRun
	var cur *HandlerRun
	for _, l := range strings.Split(dmesg, "\n") {
		m := dmesgTime.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		var ts float64
		fmt.Sscanf(m[1], "%f", &ts)
		if ts < since {
			continue
		}
		switch {
		case helperExit.MatchString(l):
			if cur != nil {
				cur.End = ts
				fmt.Sscanf(helperExit.FindStringSubmatch(l)[1], "%d", &cur.Exit)
			}
		case helperReturn.MatchString(l):
			if cur != nil {
				cur.Said = helperReturn.FindStringSubmatch(l)[2]
				if cur.End == 0 {
					cur.End = ts
				}
				runs = append(runs, *cur)
				cur = nil
			}
		case helperCall.MatchString(l):
			cur = &HandlerRun{Start: ts}
		}
	}
	if cur != nil && cur.End > 0 {
		runs = append(runs, *cur)
	}
	return runs
}

var terminatedRe = regexp.MustCompile(`Peer (\S+) was terminated \((\w+)\) by (\S+) on behalf of \S+: OK`)

// fenceConfirmedInLog finds when a controller logged the successful fencing of victim after
// since ("Peer n2 was terminated (reboot) by n1 on behalf of pacemaker-controld.703@n1: OK").
func fenceConfirmedInLog(log, victim string, since time.Time) (time.Time, bool) {
	for _, l := range strings.Split(log, "\n") {
		if m := terminatedRe.FindStringSubmatch(l); m != nil && m[1] == victim {
			if t, ok := logTime(l, since); ok {
				return t, true
			}
		}
	}
	return time.Time{}, false
}
