package testbed

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// QuorumTest is one fault of the three-VM DRBD 9 plan (RunQuorumPlan) and what it measured.
type QuorumTest struct {
	ID, Title string
	Victim    string // "active", "standby" (the other node with a disk) or "tiebreaker"
	Link      string // LinkRing or LinkAll
	Moves     bool   // the PBX must end on the standby
	Fenced    bool   // the victim must be fenced (both cables out)

	Faulted, From, To string
	// Recovery and Outage as in SeedTest; 0 when no probe was lost.
	Recovery, Outage time.Duration
	Writers          string // the DRBD Primaries while the fault lasted
	Detected         string // failed actions and what the agent did about quorum
	Fencing          string
	Rejoin           time.Duration // cable back or boot to DRBD in sync and the cluster settled
	Err              error
}

// QuorumTests: each cable pull on each kind of node, in an order that needs the fewest reboots
// of the (slow) VMs; the tiebreaker's ring is not pulled (nothing to see that its LAN hides).
var QuorumTests = []QuorumTest{
	{ID: "Q1", Victim: "active", Link: LinkRing, Moves: true,
		Title: "ring cable pulled on the Primary (LAN up): its DRBD loses quorum, the cluster stays whole"},
	{ID: "Q2", Victim: "standby", Link: LinkRing,
		Title: "ring cable pulled on the Secondary (LAN up): it loses quorum and its promotion score"},
	{ID: "Q3", Victim: "tiebreaker", Link: LinkAll, Fenced: true,
		Title: "both cables pulled on the diskless tiebreaker (fenced)"},
	{ID: "Q4", Victim: "standby", Link: LinkAll, Fenced: true,
		Title: "both cables pulled on the Secondary (fenced)"},
	{ID: "Q5", Victim: "active", Link: LinkAll, Fenced: true, Moves: true,
		Title: "both cables pulled on the Primary (fenced)"},
}

// QuorumCrm is the crm example the plan loads; its tiebreaker is named pbx3.
const QuorumCrm = "pbx-drbd9-quorum.crm"

// QuorumPBXConfig fits crm-examples/pbx-drbd9-quorum.crm to the bed: its tiebreaker pbx3
// becomes the third VM, the operation timeouts those of the VMs.
func (b *Bed) QuorumPBXConfig(crm string) string {
	crm = strings.ReplaceAll(crm, "pbx3", b.st.Nodes[2])
	crm, _ = VMTimeouts(crm)
	return crm
}

// promotionScore is node n's promotion score for the clone instance rsc ("" when none).
func (b *Bed) promotionScore(on, n, rsc string) string {
	out, err := b.Exec(on, time.Minute, nil, "crm_attribute", "-l", "reboot", "-N", n, "-n", "master-"+rsc, "-G", "-q")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(out)
}

// primaries lists the running nodes whose r0 is Primary.
func (p *SeedPlan) primaries() []string {
	var ps []string
	for _, n := range p.b.st.Nodes {
		if !p.b.Running(n) {
			continue
		}
		if out, err := p.b.Exec(n, p.cmd, nil, "drbdadm", "role", "r0"); err == nil && strings.HasPrefix(strings.TrimSpace(out), "Primary") {
			ps = append(ps, n)
		}
	}
	return ps
}

func (p *SeedPlan) runQuorum(t *QuorumTest) error {
	b := p.b
	active, err := p.settled()
	if err != nil {
		return err
	}
	disks := b.st.Nodes[:2]
	standby := disks[0]
	if standby == active {
		standby = disks[1]
	}
	victim := map[string]string{"active": active, "standby": standby, "tiebreaker": b.st.Nodes[2]}[t.Victim]
	t.From, t.Faulted = active, victim+" "+t.Link
	sbBefore := p.kernelLogs()
	if err := p.witness(active, "before-"+t.ID); err != nil {
		return err
	}
	var exited func() time.Time
	if t.Fenced {
		exited = b.watchExit(victim, p.timeout)
	}
	if err := b.CableLink(victim, t.Link, false); err != nil {
		return err
	}
	mark := b.LastFault()
	b.logf("quorum %s: %s cable(s) of %s (%s) pulled", t.ID, t.Link, victim, t.Victim)

	to := active
	if t.Moves {
		if to, err = b.WaitResource(p.timeout, SeedPBX, active); err != nil {
			return err
		}
		if to != standby {
			return fmt.Errorf("the PBX went to %s, not to the standby %s", to, standby)
		}
	} else {
		// long enough for DRBD to lose its peers, a monitor round of each instance (31 s
		// unpromoted) and Pacemaker to act on it: the PBX must stay
		time.Sleep(75 * time.Second)
		if to, err = b.WaitResource(p.timeout, SeedPBX); err != nil {
			return err
		}
		if to != active {
			return fmt.Errorf("the PBX moved from %s to %s", active, to)
		}
	}
	var st SeedTest
	if err := p.answering(&st, to, mark); err != nil {
		return err
	}
	t.To, t.Recovery, t.Outage = to, st.Recovery, st.Outage

	// one writer while the fault lasts: the node running the PBX, and only it
	ps := p.primaries()
	t.Writers = "Primary: " + strings.Join(ps, ", ")
	if len(ps) != 1 || ps[0] != to {
		return fmt.Errorf("DRBD Primaries with the fault on: %v, want only %s", ps, to)
	}

	if t.Fenced {
		if t.Moves {
			if err := p.checkFenced(&st, victim, to, mark, exited); err != nil {
				return err
			}
			t.Fencing = st.Fencing
		} else {
			if !Poll(p.timeout, 200*time.Millisecond, func() bool { return !exited().IsZero() }) {
				return fmt.Errorf("%s was not fenced: its VM still runs %v after the cut", victim, p.timeout)
			}
			t.Fencing = fmt.Sprintf("%s reset (SBD) +%.2fs", victim, exited().Sub(mark).Seconds())
		}
	} else {
		if !b.Running(victim) {
			return fmt.Errorf("%s was fenced with its LAN cable in", victim)
		}
		if _, left := b.membershipLeft(to, mark); left {
			return fmt.Errorf("corosync on %s lost a member with the LAN cable in", to)
		}
		t.Fencing = "none (membership unchanged)"
	}

	switch {
	case t.Link == LinkRing && t.Victim == "active":
		// The agents saw it on the victim: the drbd monitor fails a Primary without quorum
		// (9, "without quorum"); whichever monitor of the group runs first may see the
		// failing writes before it (Asterisk's or the file system's, I/O errors) and move the
		// PBX already. Both are recorded.
		m, err := b.Mon(to)
		if err != nil {
			return err
		}
		var why []string
		for _, f := range m.Failures {
			why = append(why, f.String())
		}
		t.Detected = strings.Join(why, "; ")
		if !slices.ContainsFunc(m.Failures, func(f MonFailure) bool { return f.Node == victim }) {
			return fmt.Errorf("the PBX moved without a failed action on %s: %v", victim, why)
		}
	case t.Link == LinkRing:
		// a Secondary without quorum keeps running but loses its promotion score
		var score string
		if !Poll(p.timeout, 2*time.Second, func() bool {
			score = b.promotionScore(to, victim, "pbx-drbd")
			return score == ""
		}) {
			return fmt.Errorf("%s keeps promotion score %q without quorum", victim, score)
		}
		t.Detected = fmt.Sprintf("%s's promotion score removed (no quorum); nothing failed", victim)
	}
	if err := p.witness(to, "after-"+t.ID); err != nil {
		return err
	}

	// back
	t0 := time.Now()
	if b.Running(victim) {
		if err := b.CableLink(victim, t.Link, true); err != nil {
			return err
		}
	} else {
		if err := b.CableLink(victim, t.Link, true); err != nil && b.Running(victim) {
			return err
		}
		if err := b.Boot(victim); err != nil {
			return err
		}
	}
	if err := b.WaitOnline(p.timeout, b.st.Nodes...); err != nil {
		return err
	}
	if err := p.waitSynced(to); err != nil {
		return err
	}
	if t.Link == LinkRing && t.Victim == "active" {
		// the failures the lost quorum caused (DRBD's monitor, and the I/O errors the file
		// system and Asterisk's monitors met) were the fault: clean them up, as an admin would
		if out, err := b.Exec(to, p.timeout, nil, "crm_resource", "--cleanup"); err != nil {
			return fmt.Errorf("crm_resource --cleanup: %v: %s", err, out)
		}
	}
	if err := b.WaitSettled(to, p.timeout); err != nil {
		return err
	}
	t.Rejoin = time.Since(t0)
	if fs, err := p.failuresExcept(to, nil); err != nil || len(fs) > 0 {
		return fmt.Errorf("failed actions after the rejoin: %v %v", fs, err)
	}
	if w, err := b.WaitResource(p.timeout, SeedPBX); err != nil || w != to {
		return fmt.Errorf("the PBX is on %s, not %s, after %s came back: %v", w, to, victim, err)
	}
	if ps := p.primaries(); len(ps) != 1 || ps[0] != to {
		return fmt.Errorf("DRBD Primaries after the rejoin: %v, want only %s", ps, to)
	}
	if err := p.checkWitnesses(to); err != nil {
		return err
	}
	if sb := p.splitBrainsSince(sbBefore); sb > 0 {
		return fmt.Errorf("DRBD reported split brain %d time(s)", sb)
	}
	return nil
}

// RunQuorumPlan brings up three VMs with DRBD drbd (9.2 or 9.3): two with disks, the third a
// diskless tiebreaker, r0 with quorum (DRBDQuorumResource), Corosync's own three-node quorum
// (no quorum device), the PBX of crm (crm-examples/pbx-drbd9-quorum.crm), and runs
// QuorumTests (all, or those named in the comma-separated only); it takes the bed down.
func RunQuorumPlan(cfg Config, drbd, crm, only string) (tests []QuorumTest, err error) {
	cfg.defaults()
	cfg.Mode, cfg.Nodes, cfg.Asterisk, cfg.DRBD = "vm", 3, true, drbd
	err = withBed(cfg, func(b *Bed) error {
		p, err := b.SeedSetup(b.QuorumPBXConfig(crm))
		if err != nil {
			return err
		}
		defer p.Close()
		for _, t := range QuorumTests {
			if only != "" && !strings.Contains(","+only+",", ","+t.ID+",") {
				continue
			}
			b.logf("quorum %s: %s", t.ID, t.Title)
			t.Err = p.runQuorum(&t)
			if t.Err != nil {
				t.Err = fmt.Errorf("test %s (%s): %w", t.ID, t.Title, t.Err)
			}
			tests = append(tests, t)
			if t.Err != nil {
				return t.Err
			}
			b.logf("quorum %s: PBX %s -> %s, SIP answered again after %.2fs (outage %.2fs); %s; %s; %s; back in %.1fs",
				t.ID, t.From, t.To, t.Recovery.Seconds(), t.Outage.Seconds(), t.Writers, t.Fencing, t.Detected, t.Rejoin.Seconds())
		}
		return nil
	})
	return tests, err
}

// QuorumMarkdown is the plan's results as a Markdown table.
func QuorumMarkdown(drbd string, tests []QuorumTest, command string) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "\n### Three VMs, DRBD %s with quorum, %s\n\nCommand: `%s` (as root).\n\n", drbd, time.Now().UTC().Format("2006-01-02 15:04 UTC"), command)
	sb.WriteString("| test | fault | PBX | SIP answered again after (s) | SIP outage (s) | writers during the fault | detected | fencing | back and in sync after (s) |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, t := range tests {
		if t.Err != nil {
			fmt.Fprintf(&sb, "| %s | %s | **FAILED**: %v | | | | | | |\n", t.ID, t.Title, t.Err)
			continue
		}
		rec, out := "no probe lost", "0"
		if t.Outage > 0 {
			rec, out = fmt.Sprintf("%.2f", t.Recovery.Seconds()), fmt.Sprintf("%.2f", t.Outage.Seconds())
		}
		det := t.Detected
		if det == "" {
			det = "–"
		}
		fmt.Fprintf(&sb, "| %s | %s (%s) | %s → %s | %s | %s | %s | %s | %s | %.1f |\n",
			t.ID, t.Title, t.Faulted, t.From, t.To, rec, out, t.Writers, det, t.Fencing, t.Rejoin.Seconds())
	}
	return sb.String()
}
