package testbed

import (
	"encoding/xml"
	"fmt"
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

func (p *SeedPlan) runLink(t *SeedTest) error {
	b := p.b
	active, err := b.WaitResource(p.timeout, SeedPBX)
	if err != nil {
		return err
	}
	if err := b.WaitSettled(active, p.timeout); err != nil {
		return err
	}
	other := p.other(active)
	t.From, t.Faulted = active, active
	var sbBefore map[string]kernelLog
	if p.drbd {
		if err := p.waitSynced(active); err != nil {
			return err
		}
		sbBefore = p.kernelLogs()
	}
	if err := p.witness(active, "before-"+t.ID); err != nil {
		return err
	}
	which := map[string]string{"cable-lan": LinkLAN, "cable-all": LinkAll, "cable-ring": LinkRing}[t.Kind]
	t.Faulted = active + " " + which
	if err := b.CableLink(active, which, false); err != nil {
		return err
	}
	mark := b.LastFault()
	b.logf("seed plan %s: %s cable(s) of %s pulled", t.ID, which, active)

	// where the PBX must be afterwards
	var to string
	if t.Stays() {
		// Watch long enough for corosync to notice the link (knet) and for a monitor round
		// of every resource: the membership must not change and the PBX must not move.
		if !Poll(15*time.Second, 500*time.Millisecond, func() bool {
			out, _ := b.Exec(active, 10*time.Second, nil, "corosync-cfgtool", "-s")
			return strings.Count(out, "disconnected") > 0
		}) {
			return fmt.Errorf("corosync on %s did not see its ring link down", active)
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
		if err := p.checkFenced(t, active, other, mark); err != nil {
			return err
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

	// back: cables in, the faulted node online (a fenced node was booted by the power switch)
	t0 := time.Now()
	if b.Running(active) {
		if err := b.CableLink(active, which, true); err != nil {
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
// fencing was confirmed.
func (p *SeedPlan) checkFenced(t *SeedTest, victim, survivor string, mark time.Time) error {
	b := p.b
	var ev *FenceEvent
	for _, e := range b.FencedSince(mark) {
		if e.Node == victim && (e.Action == "reboot" || e.Action == "off") && strings.HasPrefix(e.Result, "off") {
			e := e
			ev = &e
			break
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
	hist, err := b.FenceHistory(survivor)
	if err != nil {
		return err
	}
	var confirmed time.Time
	for _, h := range hist {
		if c, ok := h.CompletedAt(); ok && h.Target == victim && h.Status == "success" && !c.Before(mark) {
			confirmed = c
		}
	}
	if confirmed.IsZero() {
		return fmt.Errorf("no successful fencing of %s in %s's stonith history: %+v", victim, survivor, hist)
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
