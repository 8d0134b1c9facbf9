package testbed

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The seed thesis's test plan (chapter 4, table IV, tests 2.1–2.8) on the
// test bed: the 2-node PBX of crm-examples/ with a quorum device, Asterisk's
// directories on /replica. Each fault hits the node that runs the PBX, as in
// the seed (2.2 pulls Asterisk1's cables, 2.3 Asterisk2's after the service
// went there; 2.3d alone hits the standby), and each test ends with both nodes back and, with DRBD,
// UpToDate/UpToDate again.

// SeedPBX is the resource that marks where the PBX runs (crm-examples/pbx-*.crm).
const SeedPBX = "pbx-asterisk"

// SeedTest is one test of table IV and what it measured.
type SeedTest struct {
	ID, Title string
	Kind      string // switch, cable-all, cable-lan, cable-ring, shutdown, power, total
	Passive   bool   // the fault hits the node that does not run the PBX
	Faulted   string // node(s) the fault hit
	From, To  string // where the PBX ran before and after
	// Recovery: fault (or, for 2.8, power back) to the first SIP OPTIONS answered on the VIP
	// after the last unanswered one; Outage: first unanswered to that answer.
	Recovery, Outage time.Duration
	// Rejoin: the faulted node back (boot, cable) to DRBD UpToDate/UpToDate on both (vm)
	// or to the node online (ns).
	Rejoin    time.Duration
	Witnesses int    // fsync'ed files written so far, all found intact
	DRBD      string // what DRBD saw: split brain or not, how resolved
	// Fencing: what the bed's power switch did (ns mode); FenceOff and FenceConfirmed are the
	// fault to the victim's power-off and to the fencer's confirmation.
	Fencing                  string
	FencePeer                string // DRBD's fence-peer handler on the survivor (vm, both cables)
	FenceOff, FenceConfirmed time.Duration
	Skipped                  string // why a test does not run in this mode
	Err                      error
}

// SeedTests is table IV.
var SeedTests = []SeedTest{
	{ID: "2.1", Kind: "switch", Title: "DRBD and cluster check: a file copied to /replica, roles switched by hand"},
	// The seed's cable (2.2, 2.3) is two cables now, LAN and ring: both pulled is a node cut off,
	// which the survivor fences; then each cable alone, on each server in turn.
	{ID: "2.2", Kind: "cable-all", Title: "both cables pulled on the active server (fenced)"},
	{ID: "2.3", Kind: "cable-all", Title: "both cables pulled on the other server, active after 2.2 (fenced)"},
	{ID: "2.3a", Kind: "cable-lan", Title: "LAN cable pulled on the active server (ring up)"},
	{ID: "2.3b", Kind: "cable-lan", Title: "LAN cable pulled on the other server, active after 2.3a (ring up)"},
	{ID: "2.3c", Kind: "cable-ring", Title: "ring cable pulled on the active server (LAN up)"},
	{ID: "2.3d", Kind: "cable-ring", Passive: true, Title: "ring cable pulled on the standby server (LAN up)"},
	{ID: "2.4", Kind: "shutdown", Title: "clean shutdown of the active server"},
	{ID: "2.5", Kind: "shutdown", Title: "clean shutdown of the other server (active after 2.4)"},
	{ID: "2.6", Kind: "power", Title: "power loss of the active server"},
	{ID: "2.7", Kind: "power", Title: "power loss of the other server (active after 2.6)"},
	{ID: "2.8", Kind: "total", Title: "total power loss, then power back (Asterisk1 first)"},
}

// SeedPlan runs table IV on a bed that is up with a quorum device and
// Asterisk (see SeedSetup). It stops at the first test that fails.
type SeedPlan struct {
	b         *Bed
	drbd      bool
	timeout   time.Duration // for the cluster to act
	cmd       time.Duration // for one command on a node
	witnesses []string      // paths under /replica; content is the path itself
	sip       *Prober
	// Skip maps test IDs to the reason they are not run (a shorter plan).
	Skip map[string]string
}

// SeedSetup prepares a bed that is up: DRBD r0 (vm) or the shared disk (ns)
// holding Asterisk's directories, and loads crm (crm-examples/pbx-drbd.crm
// or pbx-shared.crm). It returns when the PBX answers SIP on the VIP.
func (b *Bed) SeedSetup(crm string) (*SeedPlan, error) {
	p := &SeedPlan{b: b, drbd: b.st.Mode == "vm", timeout: 2 * time.Minute, cmd: time.Minute}
	// Two nodes need the quorum device; three VMs (RunQuorumPlan) have Corosync's own quorum.
	if !b.st.Asterisk || !(len(b.st.Nodes) == 2 && b.st.QNetd != nil || len(b.st.Nodes) == 3 && p.drbd) {
		return nil, errors.New("the seed plan needs Asterisk and a 2-node bed with QDevice, or 3 VMs")
	}
	first := b.st.Nodes[0]
	dev := b.st.Loop
	if p.drbd {
		p.timeout, p.cmd = 10*time.Minute, 5*time.Minute
		if err := b.DRBDInit(); err != nil {
			return nil, err
		}
		dev = "/dev/drbd0"
	}
	// Asterisk's data moves to the replicated file system (as the seed's /replica), its usual
	// places become symlinks on every node.
	script := `set -e
mkdir -p /replica
mount ` + dev + ` /replica
mkdir -p /replica/asterisk /replica/witness
cp -a /etc/asterisk /replica/asterisk/etc
cp -a /var/lib/asterisk /replica/asterisk/lib
cp -a /var/spool/asterisk /replica/asterisk/spool
cp -a /var/log/asterisk /replica/asterisk/log
sync -f /replica
umount /replica
`
	if out, err := b.Sh(first, p.cmd, script); err != nil {
		return nil, fmt.Errorf("seed layout on %s: %v: %s", first, err, out)
	}
	for _, n := range b.st.Nodes {
		out, err := b.Sh(n, p.cmd, `set -e
mkdir -p /replica
for p in etc/asterisk:etc var/lib/asterisk:lib var/spool/asterisk:spool var/log/asterisk:log; do
  mv "/${p%%:*}" "/${p%%:*}.local"; ln -s "/replica/asterisk/${p##*:}" "/${p%%:*}"
done
sync`)
		if err != nil {
			return nil, fmt.Errorf("seed layout on %s: %v: %s", n, err, out)
		}
	}
	if p.drbd {
		if err := b.DRBDHandOver(); err != nil {
			return nil, err
		}
		crm, _ = VMTimeouts(crm)
	}
	if err := b.CrmLoad(first, crm); err != nil {
		return nil, err
	}
	if _, err := b.WaitResource(p.timeout, SeedPBX); err != nil {
		return nil, err
	}
	p.sip = NewProber(b.SIPProbe(), 100*time.Millisecond, time.Second, 3*time.Hour)
	if !Poll(p.timeout, 250*time.Millisecond, p.sip.Once) {
		return nil, errors.New("the PBX does not answer SIP OPTIONS on the VIP")
	}
	p.sip.Start()
	return p, nil
}

// Only skips every test not named in the comma-separated list ids.
func (p *SeedPlan) Only(ids string) {
	p.Skip = map[string]string{}
	for _, t := range SeedTests {
		if !strings.Contains(","+ids+",", ","+t.ID+",") {
			p.Skip[t.ID] = "not selected"
		}
	}
}

// Close stops the background probe.
func (p *SeedPlan) Close() { p.sip.Stop() }

// Run runs the tests of table IV in order and returns them with their
// figures; it stops at the first failure (later tests depend on the state).
func (p *SeedPlan) Run() []SeedTest {
	var done []SeedTest
	for _, t := range SeedTests {
		if why, ok := p.Skip[t.ID]; ok {
			t.Skipped = why
			done = append(done, t)
			continue
		}
		p.b.logf("seed plan %s: %s", t.ID, t.Title)
		if t.linkTest() {
			t.Err = p.runLink(&t)
		} else {
			t.Err = p.run(&t)
		}
		if t.Err != nil {
			t.Err = fmt.Errorf("test %s (%s): %w", t.ID, t.Title, t.Err)
		}
		done = append(done, t)
		if t.Err != nil {
			break
		}
		p.b.logf("seed plan %s: PBX %s -> %s, SIP answered again after %.2fs (outage %.2fs), rejoined in %.1fs; %s; %s",
			t.ID, t.From, t.To, t.Recovery.Seconds(), t.Outage.Seconds(), t.Rejoin.Seconds(), t.DRBD, t.Fencing)
	}
	return done
}

func (p *SeedPlan) other(n string) string {
	for _, x := range p.b.st.Nodes {
		if x != n {
			return x
		}
	}
	return ""
}

// witness writes and fsyncs a new file under /replica on node n.
func (p *SeedPlan) witness(n, name string) error {
	path := "/replica/witness/" + name
	out, err := p.b.Sh(n, p.cmd, fmt.Sprintf("printf %%s '%s' > '%s' && sync '%s'", path, path, path))
	if err != nil {
		return fmt.Errorf("witness %s on %s: %v: %s", path, n, err, out)
	}
	p.witnesses = append(p.witnesses, path)
	return nil
}

// checkWitnesses reads every witness written so far on node n.
func (p *SeedPlan) checkWitnesses(n string) error {
	for _, w := range p.witnesses {
		out, err := p.b.Exec(n, p.cmd, nil, "cat", w)
		if err != nil || out != w {
			return fmt.Errorf("fsync'ed file %s lost or changed on %s: %q %v", w, n, out, err)
		}
	}
	return nil
}

// splitBrains counts DRBD's split-brain reports in node n's kernel log,
// which starts anew at each boot (returned with it).
func (p *SeedPlan) splitBrains(n string) (boot string, count int) {
	out, _ := p.b.Sh(n, p.cmd, "cat /proc/sys/kernel/random/boot_id; dmesg | grep -c 'Split-Brain detected' || true")
	f := strings.Fields(out)
	if len(f) == 2 {
		boot = f[0]
		fmt.Sscanf(f[1], "%d", &count)
	}
	return boot, count
}

type kernelLog struct {
	boot  string
	count int
}

// splitBrainsSince counts the reports on every node since the counts in before.
func (p *SeedPlan) splitBrainsSince(before map[string]kernelLog) int {
	total := 0
	for _, n := range p.b.st.Nodes {
		boot, c := p.splitBrains(n)
		if b, ok := before[n]; ok && b.boot == boot {
			c -= b.count
		}
		total += c
	}
	return total
}

func (p *SeedPlan) kernelLogs() map[string]kernelLog {
	m := map[string]kernelLog{}
	for _, n := range p.b.st.Nodes {
		boot, c := p.splitBrains(n)
		m[n] = kernelLog{boot, c}
	}
	return m
}

// waitSynced waits until r0 is Connected and UpToDate/UpToDate with one Primary.
func (p *SeedPlan) waitSynced(active string) error {
	return p.b.WaitDRBDSynced(active, p.timeout, p.cmd)
}

// pbxStopped reports whether node n runs no Asterisk and, with DRBD, is not Primary.
func (p *SeedPlan) pbxStopped(n string) bool {
	script := "! pgrep -x asterisk >/dev/null && ! grep -q ' /replica ' /proc/mounts"
	if p.drbd {
		script += " && ! drbdadm role r0 2>/dev/null | grep -q '^Primary'"
	}
	_, err := p.b.Sh(n, 30*time.Second, script)
	return err == nil
}

// answering waits until the PBX on to answers SIP OPTIONS on the VIP again,
// records when in t, and checks every fsync'ed file there.
func (p *SeedPlan) answering(t *SeedTest, to string, mark time.Time) error {
	t.To = to
	var ok bool
	if !Poll(p.timeout, 100*time.Millisecond, func() bool {
		t.Recovery, t.Outage, ok = p.sip.Recovery(mark)
		return ok && p.sip.Once()
	}) {
		return fmt.Errorf("the PBX on %s does not answer SIP OPTIONS on the VIP", to)
	}
	return p.checkWitnesses(to)
}

func (p *SeedPlan) run(t *SeedTest) error {
	b := p.b
	active, err := b.WaitResource(p.timeout, SeedPBX)
	if err != nil {
		return err
	}
	other := p.other(active)
	t.From = active
	var sbBefore map[string]kernelLog
	if p.drbd {
		sbBefore = p.kernelLogs()
	}
	if err := p.witness(active, "before-"+t.ID); err != nil {
		return err
	}

	var mark time.Time
	var back []string // nodes to bring back, in order
	switch t.Kind {
	case "switch":
		// the seed: cp /etc/hosts /replica, switch roles by hand, ls /replica on the other node
		if out, err := b.Sh(active, p.cmd, "cp /etc/hosts /replica/hosts && sync /replica/hosts"); err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		t.Faulted = active
		mark = time.Now()
		// Pacemaker's own CLI: crmsh (Python) can take over a minute to start in a loaded TCG VM
		if out, err := b.Exec(active, p.timeout, nil, "crm_resource", "--move", "-r", "pbx", "-N", other); err != nil {
			return fmt.Errorf("crm_resource --move: %v: %s", err, out)
		}
	case "shutdown":
		t.Faulted = active
		mark = time.Now()
		if err := b.Shutdown(active); err != nil {
			return err
		}
		back = []string{active}
	case "power":
		t.Faulted = active
		if err := b.PowerOff(active); err != nil {
			return err
		}
		mark = b.LastFault()
		back = []string{active}
	case "total":
		t.Faulted = active + ", " + other
		if err := b.PowerOff(active); err != nil {
			return err
		}
		if err := b.PowerOff(other); err != nil {
			return err
		}
		time.Sleep(2 * time.Second)
		first := b.st.Nodes[0] // the seed powers Asterisk1 on first
		mark = time.Now()
		if err := b.Boot(first); err != nil {
			return err
		}
		back = []string{p.other(first)}
		if p.drbd {
			// With fencing, DRBD attaches a crashed disk as Consistent, not UpToDate: alone,
			// n1 cannot know that its data is the newest (n2 may have written on alone), so
			// nothing promotes it (neither agent scores Consistent data by default) until
			// its peer is back and they compare generations. The seed's Heartbeat promoted
			// here; with fencing the PBX must wait for the second server.
			if err := p.waitAlone(first); err != nil {
				return err
			}
			if err := b.Boot(back[0]); err != nil {
				return err
			}
			t.Faulted += " (the PBX waits for both: DRBD Consistent on " + first + " alone)"
			back = nil
		}
	}

	notOn := []string{}
	if t.Kind != "total" {
		notOn = []string{active}
	}
	to, err := b.WaitResource(p.timeout, SeedPBX, notOn...)
	if err != nil {
		return err
	}
	if err := p.answering(t, to, mark); err != nil {
		return err
	}
	if t.Kind == "switch" {
		if out, err := b.Sh(to, p.cmd, "cmp /etc/hosts /replica/hosts"); err != nil {
			return fmt.Errorf("/replica/hosts after the switch: %v: %s", err, out)
		}
		if out, err := b.Exec(to, p.timeout, nil, "crm_resource", "--clear", "-r", "pbx"); err != nil {
			return fmt.Errorf("crm_resource --clear: %v: %s", err, out)
		}
	}
	// written while the faulted node is away: must reach it by resync
	if err := p.witness(to, "after-"+t.ID); err != nil {
		return err
	}

	for _, n := range back {
		t0 := time.Now()
		if err := b.Boot(n); err != nil {
			return err
		}
		if p.drbd {
			if err := p.waitSynced(to); err != nil {
				return err
			}
		}
		t.Rejoin = time.Since(t0)
	}
	if p.drbd && (t.Kind == "switch" || t.Kind == "total" && len(back) == 0) {
		if err := p.waitSynced(to); err != nil {
			return err
		}
	}
	// no action may have failed on the way, and stickiness keeps the PBX where it went
	if m, err := b.Mon(to); err != nil {
		return err
	} else if len(m.Failures) > 0 {
		var fs []string
		for _, f := range m.Failures {
			fs = append(fs, f.String())
		}
		return fmt.Errorf("failed actions: %s", strings.Join(fs, "; "))
	}
	if w, err := b.WaitResource(p.timeout, SeedPBX); err != nil || w != to {
		return fmt.Errorf("the PBX is on %s, not %s where it went, after the faulted node returned: %v", w, to, err)
	}
	t.Witnesses = len(p.witnesses)
	t.DRBD = "no DRBD (shared disk)"
	if p.drbd {
		if sb := p.splitBrainsSince(sbBefore); sb > 0 {
			return fmt.Errorf("DRBD reported split brain %d time(s)", sb)
		}
		t.DRBD = "no split brain; UpToDate/UpToDate"
	}
	return nil
}

// waitAlone checks, for a minute, that node n, back alone after a total power loss, keeps its
// DRBD Consistent and Secondary and does not start the PBX.
func (p *SeedPlan) waitAlone(n string) error {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		out, err := p.b.Sh(n, p.cmd, "drbdadm role r0; drbdadm dstate r0")
		if err == nil && (strings.Contains(out, "Primary/") || strings.HasPrefix(strings.TrimSpace(out), "Primary")) {
			return fmt.Errorf("%s, back alone, promoted DRBD on data it cannot know to be the newest: %s", n, out)
		}
		if w, _ := p.b.WaitResource(time.Second, SeedPBX); w != "" {
			return fmt.Errorf("%s, back alone, started the PBX (%s) on data it cannot know to be the newest", n, w)
		}
		time.Sleep(5 * time.Second)
	}
	return nil
}

// SeedMarkdown renders the results as a table.
func SeedMarkdown(mode string, tests []SeedTest, command string) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "\n### %s mode, %s\n\nCommand: `%s` (as root).\n\n", mode, time.Now().UTC().Format("2006-01-02 15:04 UTC"), command)
	sb.WriteString("| test | fault | PBX moved | SIP answered again after (s) | SIP outage (s) | faulted node back (and DRBD in sync) after (s) | fsync'ed files intact | DRBD | fencing |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, t := range tests {
		if t.Skipped != "" {
			fmt.Fprintf(&sb, "| %s | %s | not run: %s | | | | | | |\n", t.ID, t.Title, t.Skipped)
			continue
		}
		if t.Err != nil {
			fmt.Fprintf(&sb, "| %s | %s | **FAILED**: %v | | | | | | |\n", t.ID, t.Title, t.Err)
			continue
		}
		rejoin := "–"
		if t.Rejoin > 0 {
			rejoin = fmt.Sprintf("%.1f", t.Rejoin.Seconds())
		}
		fencing := t.Fencing
		if fencing == "" {
			fencing = "–"
		}
		fmt.Fprintf(&sb, "| %s | %s (%s) | %s → %s | %.2f | %.2f | %s | %d of %d | %s | %s |\n",
			t.ID, t.Title, t.Faulted, t.From, t.To, t.Recovery.Seconds(), t.Outage.Seconds(),
			rejoin, t.Witnesses, t.Witnesses, t.DRBD, fencing)
	}
	return sb.String()
}

// RunSeedPlan brings up a 2-node bed with a quorum device (vm mode: DRBD),
// runs table IV with the crm configuration and takes the bed down.
// only, if not empty, names the tests to run (e.g. "2.2,2.3a"); the others are skipped.
func RunSeedPlan(cfg Config, crm, only string) (tests []SeedTest, err error) {
	cfg.defaults()
	cfg.Nodes, cfg.QDevice, cfg.Asterisk = 2, true, true
	cfg.SharedDisk = cfg.Mode == "ns"
	err = withBed(cfg, func(b *Bed) error {
		p, err := b.SeedSetup(crm)
		if err != nil {
			return err
		}
		defer p.Close()
		if only != "" {
			p.Only(only)
		}
		tests = p.Run()
		for _, t := range tests {
			if t.Err != nil {
				return t.Err
			}
		}
		return nil
	})
	return tests, err
}

// withBed brings a new bed of cfg up, runs f on it and takes the bed down whatever happened;
// the error is f's, or Down's when f had none.
func withBed(cfg Config, f func(*Bed) error) (err error) {
	b, err := newIdle(cfg)
	if err != nil {
		return err
	}
	defer func() {
		if derr := b.Down(); derr != nil && err == nil {
			err = derr
		}
	}()
	if err := b.Up(); err != nil {
		return err
	}
	return f(b)
}

// tcgSlowdown is how much longer operations take in the VMs under TCG
// (software emulation: a fork costs ~65 ms) than on the hardware the crm
// examples' operation timeouts are written for.
const tcgSlowdown = 4

// VMTimeouts returns crm with its operation timeouts fitted to the VMs:
// multiplied by tcgSlowdown under TCG (and scaled true), else unchanged.
func VMTimeouts(crm string) (string, bool) {
	if Accel() != "tcg" {
		return crm, false
	}
	return ScaleTimeouts(crm, tcgSlowdown), true
}

var opTimeout = regexp.MustCompile(`\btimeout=(\d+)s\b`)

// ScaleTimeouts multiplies every "timeout=Ns" of a crm configuration by k.
func ScaleTimeouts(crm string, k int) string {
	return opTimeout.ReplaceAllStringFunc(crm, func(m string) string {
		n, _ := strconv.Atoi(opTimeout.FindStringSubmatch(m)[1])
		return fmt.Sprintf("timeout=%ds", n*k)
	})
}
