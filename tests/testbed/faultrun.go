package testbed

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gocf/gocf/tests/sipp"
)

// FaultConfig is how the faults are run.
type FaultConfig struct {
	Faults []Fault
	Stacks []string
	Runs   int
	// Calls: Rate new calls a second to HoldExtension, each held Hold; they run Pre before
	// the fault (so that calls are up when it hits). Defaults 2/s, 20 s, Hold + 5 s.
	Rate      float64
	Hold, Pre time.Duration
	// WorkDir receives SIPp's files, a directory per run (default: a new temporary one).
	WorkDir string
	// SIPp is SIPp's program on the host (default /usr/bin/sipp): it runs in the client
	// namespace (nsenter --net) with the host's root, not the image's.
	SIPp string
	// Progress, if set, is called with each run as it ends.
	Progress func(FaultRun)
}

func (fc *FaultConfig) defaults() {
	if fc.Runs <= 0 {
		fc.Runs = 1
	}
	if fc.Rate <= 0 {
		fc.Rate = 2
	}
	if fc.Hold <= 0 {
		fc.Hold = 20 * time.Second
	}
	if fc.Pre <= 0 {
		fc.Pre = fc.Hold + 5*time.Second
	}
	if fc.SIPp == "" {
		fc.SIPp = "/usr/bin/sipp"
	}
	if len(fc.Stacks) == 0 {
		fc.Stacks = FaultStackNames
	}
}

// Calls are a SIPp run's counts.
type Calls struct {
	Attempted, Successful, Failed, Cut, Open int
}

// FaultRun is one fault on one stack: what was seen.
type FaultRun struct {
	Mode, Stack string
	Fault       int
	Run         int // from 1
	Active      string
	After       string    // where the PBX ran when the watch ended ("" stopped)
	Mark        time.Time // the fault
	Injected    string    // what was done
	InjectTook  time.Duration
	Watched     time.Duration // the fault to the end of the watch
	Detections  []Detection
	// SIPBack: the fault to the first answered OPTIONS after the last unanswered one
	// (0: never unanswered); SIPOutage: first unanswered to that answer. SIPOK: answered
	// again within the watch.
	SIPBack, SIPOutage time.Duration
	SIPOK              bool
	// CallBack: the fault to the first new call set up after the last failed one
	// (FirstNewCall); CallOK: one was.
	CallBack time.Duration
	CallOK   bool
	Calls    Calls
	// Ep200: the call to extension 200 after the fault, to the UAS registered before it
	// (no REGISTER since): "reached", or what happened.
	Ep200       string
	Actions     []AgentAction
	Unnecessary []string
	Failures    []string          // failed actions crm_mon showed when the watch ended
	FailCounts  map[string]string // resource on node: count
	Restore     []string          // what the harness did afterwards
	Notes       []string          // what the harness saw beyond the above (fault 6 in vm: DRBD's state)
	Err         string            // the run could not be done (or restored) as planned

	Probes  []ProbeResult `json:"-"` // for the timeline; in the JSON as ProbeMS and ProbeOK
	Seconds []sipp.Second
}

// faultRunJSON is FaultRun in the JSON: the probes (one per 100 ms, thousands a run) as
// milliseconds from the fault, space-separated, and a string of 1 (answered) and 0, one line
// each, so that a run kept by a later command still draws its timeline.
type faultRunJSON struct {
	faultRunFields
	ProbeMS string `json:",omitempty"`
	ProbeOK string `json:",omitempty"`
}

type faultRunFields FaultRun

func (r FaultRun) MarshalJSON() ([]byte, error) {
	j := faultRunJSON{faultRunFields: faultRunFields(r)}
	ms := make([]string, len(r.Probes))
	ok := make([]byte, len(r.Probes))
	for i, p := range r.Probes {
		ms[i] = strconv.FormatInt(p.At.Sub(r.Mark).Milliseconds(), 10)
		ok[i] = '0'
		if p.OK {
			ok[i] = '1'
		}
	}
	j.ProbeMS, j.ProbeOK = strings.Join(ms, " "), string(ok)
	return json.Marshal(j)
}

func (r *FaultRun) UnmarshalJSON(data []byte) error {
	var j faultRunJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	ms := strings.Fields(j.ProbeMS)
	if len(ms) != len(j.ProbeOK) {
		return fmt.Errorf("fault %d on %s: %d probe times, %d results", j.Fault, j.Stack, len(ms), len(j.ProbeOK))
	}
	*r = FaultRun(j.faultRunFields)
	for i, m := range ms {
		n, err := strconv.ParseInt(m, 10, 64)
		if err != nil {
			return fmt.Errorf("fault %d on %s: probe time %q", j.Fault, j.Stack, m)
		}
		r.Probes = append(r.Probes, ProbeResult{At: r.Mark.Add(time.Duration(n) * time.Millisecond), OK: j.ProbeOK[i] == '1'})
	}
	return nil
}

// Recovered: OPTIONS answered and a new call set up after the fault.
func (r FaultRun) Recovered() bool { return r.SIPOK && r.CallOK }

// FaultSession is a bed set up with one stack (SeedSetup), on which faults are run.
type FaultSession struct {
	b       *Bed
	p       *SeedPlan
	stack   FaultStack
	fc      FaultConfig
	depths  map[string]int
	timeout time.Duration // for the cluster to act
	cmd     time.Duration // for one command on a node
	recv    time.Duration // SIPp's recv_timeout
	scale   time.Duration // watch multiplier (vm: 2)
	work    string
	drain   string // the shipped call_drain_timeout ("" none)
}

// FaultSetup sets up the seed plan's PBX with the stack on a bed that is up (two nodes with
// a quorum device and Asterisk; SeedSetup) and checks the host's SIPp.
func (b *Bed) FaultSetup(stack FaultStack, fc FaultConfig) (*FaultSession, error) {
	fc.defaults()
	if _, err := os.Stat(fc.SIPp); err != nil {
		return nil, fmt.Errorf("SIPp (the host's sip-tester) is needed: %w", err)
	}
	for _, f := range fc.Faults {
		if f.Name == Fault6DM.Name && !b.st.DMBacking {
			return nil, fmt.Errorf("fault %d (%s) needs a vm bed with DRBD on the device-mapper mapping (Config.DMBacking, as RunFaults brings it up)", f.ID, f.Title)
		}
	}
	fsdev := b.SharedDisk()
	if b.Mode() == "vm" {
		fsdev = "/dev/drbd0"
	}
	crm := strings.ReplaceAll(stack.CRM, "@FSDEV@", fsdev)
	s := &FaultSession{b: b, stack: stack, fc: fc, depths: MonitorDepths(crm), timeout: 2 * time.Minute, cmd: time.Minute,
		recv: 3 * time.Second, scale: 1, drain: shippedDrain(crm)}
	if b.Mode() == "vm" {
		s.timeout, s.cmd, s.recv, s.scale = 10*time.Minute, 5*time.Minute, 10*time.Second, 2
	}
	s.work = fc.WorkDir
	if s.work == "" {
		d, err := os.MkdirTemp("", "gocf-faults-")
		if err != nil {
			return nil, err
		}
		s.work = d
	}
	p, err := b.SeedSetup(crm)
	if err != nil {
		return nil, err
	}
	// each run has its own prober (its probes go into the run's timeline)
	p.Close()
	s.p = p
	return s, nil
}

// WorkDir is where SIPp's files of the runs are.
func (s *FaultSession) WorkDir() string { return s.work }

// Run runs fault f once (run i) and restores the bed. A run whose restore failed leaves the
// bed unusable: its Err says so, and the caller should stop.
func (s *FaultSession) Run(f Fault, i int) (r FaultRun) {
	b := s.b
	r = FaultRun{Mode: b.Mode(), Stack: s.stack.Name, Fault: f.ID, Run: i}
	fail := func(err error) FaultRun {
		r.Err = err.Error()
		return r
	}
	active, err := b.WaitResource(s.timeout, pbxAst)
	if err != nil {
		return fail(err)
	}
	r.Active = active
	other := s.p.other(active)
	if err := b.WaitSettled(active, s.timeout); err != nil {
		return fail(err)
	}
	if s.p.drbd {
		if err := s.p.waitSynced(active); err != nil {
			return fail(err)
		}
	}
	if !Poll(s.timeout, 250*time.Millisecond, s.p.sip.Once) {
		return fail(errors.New("the PBX does not answer SIP OPTIONS before the fault"))
	}
	if f.Planned && s.stack.Drain {
		// calls drain on the old node for longer than they last (the stop's timeout
		// bounds the drain to half of it); call_drain_timeout is reloadable: reload-agent,
		// no restart
		drain := strconv.Itoa(int((s.fc.Hold + 10*time.Second).Seconds()))
		if out, err := b.Exec(active, s.cmd, nil, "crm_resource", "--resource", pbxAst, "--set-parameter", "call_drain_timeout",
			"--parameter-value", drain); err != nil {
			return fail(fmt.Errorf("call_drain_timeout: %v: %s", err, out))
		}
		r.Restore = append(r.Restore, "call_drain_timeout="+drain+" before the move")
		if err := b.WaitSettled(active, s.timeout); err != nil {
			return fail(err)
		}
	}
	dir := filepath.Join(s.work, fmt.Sprintf("%s-%s-f%d-r%d", b.Mode(), s.stack.Name, f.ID, i))
	if err := os.RemoveAll(dir); err != nil {
		return fail(err)
	}

	// ep200's phone, registered now, called after the fault without registering again
	watchMax := (f.MinWatch + 2*time.Minute) * s.scale
	bound := s.fc.Pre + watchMax + s.fc.Hold + 5*time.Minute
	uas, err := s.sipp(dir, "uas", sipp.Config{Scenario: sipp.UASAnswer, Service: EndpointUser, LocalPort: 5070, MediaPort: 7010,
		Calls: 1, Timeout: bound})
	if err != nil {
		return fail(err)
	}
	defer uas.Stop(time.Second)
	if res, err := s.finish(s.sipp(dir, "register", sipp.Config{Scenario: sipp.Register, Target: VIP + ":5060", Service: EndpointUser,
		LocalPort: 5072, MediaPort: 7020, Calls: 1, RecvTimeout: s.recv, Timeout: 30 * time.Second * s.scale,
		Vars: map[string]string{"contact": ClientIP + ":5070", "expires": "3600"}})); err != nil || res.Successful != 1 {
		return fail(fmt.Errorf("ep200 does not register: %v %+v", err, res))
	}

	// the calls, and the OPTIONS prober
	total := int(s.fc.Rate*(s.fc.Pre+watchMax).Seconds()) + 10
	uac, err := s.sipp(dir, "calls", sipp.Config{Scenario: sipp.UACCall, Target: VIP + ":5060", Service: HoldExtension,
		LocalPort: 5061, MediaPort: 7000, Rate: s.fc.Rate, Limit: int(s.fc.Rate*s.fc.Hold.Seconds())*2 + 20, Calls: total,
		Hold: s.fc.Hold, RecvTimeout: s.recv, Timeout: bound})
	if err != nil {
		return fail(err)
	}
	defer uac.Stop(time.Second)
	prober := NewProber(b.SIPProbe(), probeInterval, time.Second, bound)
	prober.Start()
	defer prober.Stop()
	time.Sleep(s.fc.Pre)

	// the fault
	t0 := time.Now()
	r.Injected, err = s.inject(f, &r, active, other)
	r.InjectTook = time.Since(t0)
	r.Mark = t0
	if f.ID == 5 || f.ID == 8 {
		r.Mark = b.LastFault()
	}
	if err != nil {
		if rerr := s.restore(f, &r, active); rerr != nil {
			return fail(fmt.Errorf("restore: %w (after the fault could not be injected: %v)", rerr, err))
		}
		return fail(fmt.Errorf("injecting the fault: %w", err))
	}
	b.logf("faults: %s, fault %d (%s), run %d: %s on %s", s.stack.Name, f.ID, f.Name, i, r.Injected, active)

	// watch: at least MinWatch, until OPTIONS are answered again (and 10 s more, for a new
	// call to show), at most watchMax
	minWatch := f.MinWatch * s.scale
	var backAt time.Time
	for time.Since(r.Mark) < watchMax {
		time.Sleep(500 * time.Millisecond)
		back, _, ok := prober.Recovery(r.Mark)
		if !ok || !s.lastAnswered(prober) {
			backAt = time.Time{}
			continue
		}
		if backAt.IsZero() {
			backAt = r.Mark.Add(back)
		}
		if time.Since(r.Mark) >= minWatch && time.Since(backAt) >= 10*time.Second {
			break
		}
	}
	r.Watched = time.Since(r.Mark)
	r.SIPBack, r.SIPOutage, r.SIPOK = prober.Recovery(r.Mark)
	r.SIPOK = r.SIPOK && s.lastAnswered(prober)

	// what the cluster did, before anything is restored
	r.After, _ = b.WaitResource(5*time.Second, pbxAst)
	if f.MayMove {
		for _, n := range b.Nodes() {
			if b.Running(n) {
				r.Notes = append(r.Notes, "DRBD when the watch ended: "+b.DRBDState(n, s.cmd))
			}
		}
	}
	s.readLogs(&r, f)
	if v, err := b.AnyRunning(); err == nil {
		if m, err := b.Mon(v); err == nil {
			for _, x := range append(m.Failures, m.Degraded...) {
				r.Failures = append(r.Failures, x.String())
			}
			r.FailCounts = m.FailCounts()
		}
	}

	// calls: no new ones; those up run to their end
	uac.Stop(s.fc.Hold + 2*s.recv + 10*time.Second)
	if res, err := uac.Result(); err != nil {
		r.Err = fmt.Sprintf("SIPp's calls: %v", err)
	} else {
		r.Calls = Calls{res.Attempted, res.Successful, res.Failed, res.Cut, res.Open}
		r.Seconds = res.Seconds
		var down time.Time
		if r.SIPOutage > 0 {
			down = r.Mark.Add(r.SIPBack - probeInterval)
		}
		r.CallBack, r.CallOK = FirstNewCall(res, r.Mark, s.recv, down)
	}
	// extension 200: the registered phone, reached through whichever Asterisk runs now
	if r.SIPOK {
		res, err := s.finish(s.sipp(dir, "call200", sipp.Config{Scenario: sipp.UACCall, Target: VIP + ":5060",
			Service: EndpointExtension, LocalPort: 5063, MediaPort: 7030, Calls: 1, Hold: 2 * time.Second,
			RecvTimeout: s.recv, Timeout: time.Minute * s.scale}))
		switch {
		case err != nil:
			r.Ep200 = "not reached: " + err.Error()
		case res.Successful == 1:
			r.Ep200 = "reached"
		default:
			r.Ep200 = fmt.Sprintf("not reached (%d failed, %d cut)", res.Failed, res.Cut)
		}
	} else {
		r.Ep200 = "not tried: the PBX does not answer"
	}
	prober.Stop()
	r.Probes = prober.Results()

	if err := s.restore(f, &r, active); err != nil {
		return fail(fmt.Errorf("restore: %w", err))
	}
	return r
}

// lastAnswered: the latest probe completed succeeded.
func (s *FaultSession) lastAnswered(p *Prober) bool {
	rs := p.Results()
	return len(rs) > 0 && rs[len(rs)-1].OK
}

// sipp starts SIPp in the client namespace, its files in dir/name.
func (s *FaultSession) sipp(dir, name string, c sipp.Config) (*sipp.Process, error) {
	c.Prefix = []string{"nsenter", "--net=/run/netns/" + ClientNS, "--"}
	c.Binary = s.fc.SIPp
	c.Dir = filepath.Join(dir, name)
	c.LocalIP = ClientIP
	return sipp.Start(c)
}

// finish waits for a short SIPp run (its Timeout and a minute) and reads its result.
func (s *FaultSession) finish(p *sipp.Process, err error) (*sipp.Result, error) {
	if err != nil {
		return nil, err
	}
	code, err := p.Wait(p.Config.Timeout + time.Minute)
	if err != nil {
		p.Stop(time.Second)
		return nil, err
	}
	res, err := p.Result()
	if err != nil {
		return nil, fmt.Errorf("sipp %s (exit %d): %w", p.Config.Scenario, code, err)
	}
	return res, nil
}

// inject does fault f on the active node and says what it did (and notes in r what it saw).
func (s *FaultSession) inject(f Fault, r *FaultRun, active, other string) (string, error) {
	b := s.b
	ex := func(argv ...string) (string, error) {
		out, err := b.Exec(active, s.cmd, nil, argv...)
		if err != nil {
			return out, fmt.Errorf("%s: %v: %s", strings.Join(argv, " "), err, out)
		}
		return out, nil
	}
	switch f.ID {
	case 1:
		_, err := ex("pkill", "-KILL", "-x", "asterisk")
		return "pkill -KILL -x asterisk", err
	case 2:
		_, err := ex("pkill", "-STOP", "-x", "asterisk")
		return "pkill -STOP -x asterisk", err
	case 3:
		// Every endpoint identifier: with one left (the bed's username one, for ep200) an
		// unidentified request gets 401 from the artificial endpoint; with none, every
		// request gets 500, as seen on pbx-shared.crm (tests/asterisk_sip_test.go).
		for _, m := range []string{"res_pjsip_endpoint_identifier_anonymous.so", "res_pjsip_endpoint_identifier_ip.so", "res_pjsip_endpoint_identifier_user.so"} {
			if _, err := ex("asterisk", "-rx", "module unload "+m); err != nil {
				return "", err
			}
		}
		return "asterisk -rx 'module unload res_pjsip_endpoint_identifier_{anonymous,ip,user}.so'", nil
	case 4:
		_, err := ex("ip", "addr", "del", VIP+"/24", "dev", NodeIface)
		return "ip addr del " + VIP + "/24 dev " + NodeIface, err
	case 5:
		return "LAN cable pulled", b.CableLink(active, LinkLAN, false)
	case 6:
		if f.Name == Fault6DM.Name {
			return s.injectDiskErrors(r, active)
		}
		// What ext4 does on an I/O error with errors=remount-ro: the kernel's own error path
		// (ext4's trigger_fs_error), so that writers see EROFS; a plain remount,ro is
		// refused while Asterisk has files open for writing there.
		src, err := ex("findmnt", "-n", "-o", "SOURCE", "--mountpoint", "/replica")
		if err != nil {
			return "", err
		}
		dev, err := ex("readlink", "-f", strings.TrimSpace(src))
		if err != nil {
			return "", err
		}
		if _, err := ex("mount", "-o", "remount,errors=remount-ro", "/replica"); err != nil {
			return "", err
		}
		sysfs := "/sys/fs/ext4/" + filepath.Base(strings.TrimSpace(dev)) + "/trigger_fs_error"
		if _, err := b.Exec(active, s.cmd, []byte("gocf fault 6\n"), "tee", sysfs); err != nil {
			return "", fmt.Errorf("%s: %w", sysfs, err)
		}
		if _, err := b.Exec(active, s.cmd, nil, "touch", "/replica/.gtb-fault-6"); err == nil {
			return "", errors.New("/replica still takes writes after the ext4 error")
		}
		return "mount -o remount,errors=remount-ro /replica; ext4 error via " + sysfs, nil
	case 7:
		out, err := b.Sh(active, s.cmd, `free=$(( $(stat -f -c '%f*%S' /replica) ))
if [ "$free" -gt 8388608 ]; then fallocate -l $((free - 4194304)) /replica/gtb-fill || true; fi
dd if=/dev/zero of=/replica/gtb-fill2 bs=64k status=none 2>/dev/null || true
sync -f /replica || true
stat -f -c 'free blocks %f of %b' /replica`)
		if err != nil {
			return "", fmt.Errorf("%v: %s", err, out)
		}
		return "/replica filled (fallocate, dd to ENOSPC as root): " + strings.TrimSpace(out), nil
	case 8:
		return "ring cable pulled", b.CableLink(active, LinkRing, false)
	case 9:
		out, err := b.Exec(active, s.timeout, nil, "crm_resource", "--move", "--resource", pbxGroup, "--node", other)
		if err != nil {
			return "", fmt.Errorf("crm_resource --move: %v: %s", err, out)
		}
		return "crm_resource --move --resource pbx --node " + other, nil
	}
	return "", fmt.Errorf("no fault %d", f.ID)
}

// probeInterval is the SIP OPTIONS probe's period during a fault run.
const probeInterval = 100 * time.Millisecond

// restore undoes fault f (as a human would), cleans up, and waits for a settled cluster with
// the PBX answering; it notes what it did in r.Restore.
func (s *FaultSession) restore(f Fault, r *FaultRun, active string) error {
	b := s.b
	note := func(format string, a ...any) { r.Restore = append(r.Restore, fmt.Sprintf(format, a...)) }
	try := func(n string, argv ...string) {
		if !b.Running(n) {
			return
		}
		out, err := b.Exec(n, s.cmd, nil, argv...)
		if err != nil {
			note("%s on %s: %v %s", strings.Join(argv, " "), n, err, strings.TrimSpace(out))
			return
		}
		note("%s on %s", strings.Join(argv, " "), n)
	}
	switch f.ID {
	case 2:
		try(active, "pkill", "-CONT", "-x", "asterisk")
	case 6:
		if f.Name == Fault6DM.Name {
			if err := s.restoreDisk(active, note); err != nil {
				return err
			}
		}
	case 5, 8:
		which := LinkLAN
		if f.ID == 8 {
			which = LinkRing
		}
		if b.Running(active) {
			if err := b.CableLink(active, which, true); err != nil {
				return err
			}
			note("%s cable of %s plugged", which, active)
		}
	case 7:
		if n, err := b.WaitResource(s.timeout, pbxFS); err == nil {
			try(n, "rm", "-f", "/replica/gtb-fill", "/replica/gtb-fill2")
		}
	case 9:
		if n, err := b.AnyRunning(); err == nil {
			try(n, "crm_resource", "--clear", "--resource", pbxGroup)
			if s.stack.Drain {
				if s.drain == "" {
					try(n, "crm_resource", "--resource", pbxAst, "--delete-parameter", "call_drain_timeout")
				} else {
					try(n, "crm_resource", "--resource", pbxAst, "--set-parameter", "call_drain_timeout", "--parameter-value", s.drain)
				}
			}
		}
	}
	// a node fenced meanwhile (ns: booted by the power switch; vm: SBD ended its qemu)
	for _, n := range b.Nodes() {
		if !b.Running(n) && b.Mode() == "vm" {
			if err := b.Boot(n); err != nil {
				return err
			}
			note("booted %s (fenced)", n)
		}
	}
	if err := b.WaitOnline(s.timeout, b.Nodes()...); err != nil {
		return err
	}
	n, err := b.AnyRunning()
	if err != nil {
		return err
	}
	// forget the failures (and re-probe: a stack that noticed nothing finds the damage now)
	try(n, "crm_resource", "--cleanup")
	settle := func() (string, error) {
		to, err := b.WaitResource(s.timeout, pbxAst)
		if err != nil {
			return "", err
		}
		if err := b.WaitSettled(to, s.timeout); err != nil {
			return "", err
		}
		if s.p.drbd {
			if err := s.p.waitSynced(to); err != nil {
				return "", err
			}
		}
		return to, nil
	}
	to, err := settle()
	writable := func(n string) bool {
		_, err := b.Exec(n, s.cmd, nil, "touch", "/replica/.gtb-rw")
		return err == nil
	}
	if err != nil || !Poll(30*time.Second*s.scale, 500*time.Millisecond, s.p.sip.Once) || f.ID == 6 && !writable(to) {
		// still broken (a stack that did not recover, SIP dead in a live process, a file
		// system still read-only): the operator restarts the PBX
		note("PBX still broken after the cleanup (%v): restart of the group", err)
		if out, rerr := b.Exec(n, s.timeout+time.Minute, nil, "crm_resource", "--restart", "--resource", pbxGroup,
			"--timeout", strconv.Itoa(int(s.timeout.Seconds()))+"s"); rerr != nil {
			note("crm_resource --restart: %v %s", rerr, strings.TrimSpace(out))
		}
		try(n, "crm_resource", "--cleanup")
		if to, err = settle(); err != nil {
			return err
		}
		if !Poll(s.timeout, 500*time.Millisecond, s.p.sip.Once) {
			return errors.New("the PBX does not answer SIP OPTIONS after the restore")
		}
	}
	if f.MayMove && b.Running(active) {
		// settle's check takes a Diskless peer for a tiebreaker: the faulted node's disk
		// must be back too, for the next run
		if err := s.waitDiskUpToDate(active, note); err != nil {
			return err
		}
	}
	if m, err := b.Mon(to); err != nil {
		return err
	} else if len(m.Failures) > 0 {
		var fs []string
		for _, x := range m.Failures {
			fs = append(fs, x.String())
		}
		return fmt.Errorf("failed actions left after the cleanup: %s", strings.Join(fs, "; "))
	}
	return nil
}

// readLogs takes from both nodes' pacemaker.log the detections and agent actions since the
// fault (times on the host's clock).
func (s *FaultSession) readLogs(r *FaultRun, f Fault) {
	b := s.b
	for _, n := range b.Nodes() {
		if !b.Running(n) {
			continue
		}
		off, unc, err := b.guestOffset(n)
		if err != nil {
			b.logf("clock of %s: %v", n, err)
			continue
		}
		since := r.Mark.Add(off - unc) // the fault on n's clock, at the earliest
		log := b.nodeLogLines(n, "var/log/pacemaker/pacemaker.log", "log_executor_event", "log_finished", "was terminated")
		for _, d := range ParseDetections(log, since, s.depths) {
			d.At = d.At.Add(-off)
			if d.At.Sub(r.Mark) <= r.Watched {
				r.Detections = append(r.Detections, d)
			}
		}
		r.Actions = append(r.Actions, agentActions(n, agentOps(log, since), r.Watched)...)
	}
	sort.SliceStable(r.Detections, func(i, j int) bool { return r.Detections[i].At.Before(r.Detections[j].At) })
	sort.SliceStable(r.Actions, func(i, j int) bool { return r.Actions[i].End < r.Actions[j].End })
	r.Unnecessary = Verdict(f, r.Active, r.After, r.Actions)
}

// nodeLogLines returns the lines of a node's log that contain one of keep (the whole file,
// filtered: pacemaker.log grows by thousands of lines a minute).
func (b *Bed) nodeLogLines(n, path string, keep ...string) string {
	if b.st.Mode == "vm" {
		argv := []string{"grep", "-a", "-F"}
		for _, k := range keep {
			argv = append(argv, "-e", k)
		}
		out, _ := b.Exec(n, 2*time.Minute, nil, append(argv, "/"+path)...)
		return out
	}
	f, err := os.Open(filepath.Join(b.nodeDir(n), "upper", path))
	if err != nil {
		return ""
	}
	defer f.Close()
	var sb strings.Builder
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		for _, k := range keep {
			if strings.Contains(l, k) {
				sb.WriteString(l)
				sb.WriteByte('\n')
				break
			}
		}
	}
	return sb.String()
}

// RunFaults brings up, for each stack, a 2-node bed with a quorum device and Asterisk (vm
// mode: DRBD), sets up the seed plan's PBX with the stack, runs each fault fc.Runs times
// and takes the bed down. It returns every run done; it stops a stack at a run whose restore
// failed.
func RunFaults(cfg Config, fc FaultConfig) (rep *FaultReport, err error) {
	cfg.defaults()
	fc.defaults()
	cfg.Nodes, cfg.QDevice, cfg.Asterisk = 2, true, true
	cfg.SharedDisk = cfg.Mode == "ns"
	// fault 6 in vm mode swaps DRBD's backing disk to an error target (Fault6DM): every
	// fault of the harness runs on that bed, whichever are selected, so that they share one
	// configuration
	cfg.DMBacking = cfg.Mode == "vm"
	rep = &FaultReport{Mode: cfg.Mode, Stacks: fc.Stacks, Faults: fc.Faults}
	gocf, err := GocfExample(cfg.Mode)
	if err != nil {
		return rep, err
	}
	for _, name := range fc.Stacks {
		st, err := NewFaultStack(name, cfg.Mode, gocf)
		if err != nil {
			return rep, err
		}
		if err := runStack(cfg, fc, st, rep); err != nil {
			return rep, fmt.Errorf("stack %s: %w", name, err)
		}
	}
	return rep, nil
}

func runStack(cfg Config, fc FaultConfig, st FaultStack, rep *FaultReport) error {
	return withBed(cfg, func(b *Bed) error { return runFaults(b, fc, st, rep) })
}

func runFaults(b *Bed, fc FaultConfig, st FaultStack, rep *FaultReport) error {
	s, err := b.FaultSetup(st, fc)
	if err != nil {
		return err
	}
	b.logf("faults: stack %s set up; SIPp's files in %s", st.Name, s.WorkDir())
	for _, f := range fc.Faults {
		for i := 1; i <= fc.Runs; i++ {
			r := s.Run(f, i)
			rep.Runs = append(rep.Runs, r)
			if fc.Progress != nil {
				fc.Progress(r)
			}
			if r.Err != "" {
				// later runs would start from a bed in an unknown state
				return fmt.Errorf("fault %d run %d: %s", f.ID, i, r.Err)
			}
		}
	}
	return nil
}
