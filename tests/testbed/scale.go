package testbed

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Issue 17, cost as the work grows: N addresses or N filesystems on one node of a 3-node ns
// bed, for the gocf agents and the shell agents in one run (alternating per N): the CPU that
// pacemaker-execd and its agents spend per minute in a steady state, the monitors' execution
// times the CIB records, and the time from corosync's new membership to the last of the N
// answering after the node carrying them is powered off.

// ScaleConfig says what `testbed scale` measures.
type ScaleConfig struct {
	Ns     []int    // resource counts (default 1, 10, 50, 100, 200)
	Stacks []string // ScaleGocf, ScaleShell (default both; alternated per N)
	Kinds  []string // KindAddr, KindFS (default both)
	Depths []int    // filesystems' monitor depths for the steady state (default 0, 20)
	// Window is the steady state's measured window (default 2 min), after Warmup (default
	// 30 s) past the cluster having settled.
	Window, Warmup time.Duration
	// Failover: also power off the carrying node, N independent resources and N as one
	// group (default true through the CLI).
	Failover bool
	Layouts  []string // LayoutSingle, LayoutGroup (default both)
	// BatchLimit and NodeActionLimit, when > 0, add a failover run of the independent
	// resources with Pacemaker's cluster options batch-limit and node-action-limit raised.
	BatchLimit, NodeActionLimit int
	// Progress, if set, is called with each run as it ends.
	Progress func(ScaleRun)
}

// DefaultScaleNs are issue 17's resource counts.
var DefaultScaleNs = []int{1, 10, 50, 100, 200}

func (sc *ScaleConfig) defaults() {
	if len(sc.Ns) == 0 {
		sc.Ns = DefaultScaleNs
	}
	if len(sc.Stacks) == 0 {
		sc.Stacks = []string{ScaleGocf, ScaleShell}
	}
	if len(sc.Kinds) == 0 {
		sc.Kinds = []string{KindAddr, KindFS}
	}
	if len(sc.Depths) == 0 {
		sc.Depths = []int{0, 20}
	}
	if sc.Window <= 0 {
		sc.Window = 2 * time.Minute
	}
	if sc.Warmup <= 0 {
		sc.Warmup = 30 * time.Second
	}
	if len(sc.Layouts) == 0 {
		sc.Layouts = []string{LayoutSingle, LayoutGroup}
	}
}

// ScaleRun is one measurement.
type ScaleRun struct {
	Test   string // "steady" or "failover"
	Stack  string
	Kind   string
	N      int
	Depth  int
	Layout string // failover: LayoutSingle or LayoutGroup
	Limits string // failover: "default" or "batch-limit=X node-action-limit=Y"
	Node   string // the node carrying the N
	WasDC  bool   // it was the DC

	// Steady state: CPU seconds per minute of pacemaker-execd and its agents, of the whole
	// node, over Window seconds; the load average (1 min; in ns mode the host's: the nodes share
	// its kernel) sampled through the window; the monitors' exec-time the CIB records
	// (median, 95th percentile, max, in ms) over Monitors monitors.
	Window                 float64 `json:",omitempty"`
	ExecdCPU, NodeCPU      float64 `json:",omitempty"`
	Load                   float64 `json:",omitempty"`
	MonMed, MonP95, MonMax float64 `json:",omitempty"`
	Monitors               int     `json:",omitempty"`

	// Failover: from the power-off to corosync's new membership on a survivor, to the last
	// of the N answering (addresses: ping from the client; filesystems: a survivor's
	// mount table), and the latter after the membership; all in s. Answered of N did.
	Membership, LastUp, AfterMembership float64 `json:",omitempty"`
	Answered                            int     `json:",omitempty"`
	// The survivors' starts of the N (pacemaker-execd's log): how many ran at once at most
	// (per survivor, the highest), their summed execution time (s), the longest queue
	// (ms) in pacemaker-execd, and the node-action-limit in force (2 × cores by default).
	MaxConcurrent   int     `json:",omitempty"`
	StartExecSum    float64 `json:",omitempty"`
	MaxQueueMS      float64 `json:",omitempty"`
	NodeActionLimit int     `json:",omitempty"`
	Survivors       string  `json:",omitempty"` // where the N went: "n2 112, n3 88"

	Took float64 // s, the whole run
	Err  string  `json:",omitempty"`
}

// Variant names the run's line in the tables and plots: "addresses", "filesystems depth 20",
// "filesystems group".
func (r ScaleRun) Variant() string {
	v := r.Kind
	if r.Kind == KindFS && r.Test == "steady" {
		v += fmt.Sprintf(" depth %d", r.Depth)
	}
	if r.Test == "failover" {
		v += ", " + r.Layout
		if r.Limits != "" && r.Limits != "default" {
			v += ", limits raised"
		}
	}
	return v
}

// scaleSession is a 3-node ns bed on which the scale runs happen.
type scaleSession struct {
	b       *Bed
	sc      ScaleConfig
	node    string // the carrying node
	devices []string
	images  string // host directory of the filesystems' images
	timeout time.Duration
	cmd     time.Duration
}

// RunScale brings up a 3-node ns bed, measures every N for every stack and takes the bed
// down. It returns what was measured even when a run failed (the error says which).
func RunScale(cfg Config, sc ScaleConfig) (rep *ScaleReport, err error) {
	sc.defaults()
	cfg.defaults()
	if cfg.Mode != "ns" {
		return nil, errors.New("scale: ns mode only (hundreds of resources in TCG VMs would measure the emulator)")
	}
	cfg.Nodes, cfg.SharedDisk, cfg.Asterisk, cfg.QDevice = 3, false, false, false
	for _, n := range sc.Ns {
		if n > ScaleMaxAddrs && slices.Contains(sc.Kinds, KindAddr) {
			return nil, fmt.Errorf("scale: %d addresses: the LAN holds %d", n, ScaleMaxAddrs)
		}
	}
	rep = &ScaleReport{Mode: cfg.Mode, Nodes: cfg.Nodes, Cores: runtime.NumCPU(), Date: time.Now(),
		Window: sc.Window.Seconds(), Warmup: sc.Warmup.Seconds()}
	err = withBed(cfg, func(b *Bed) error {
		s := &scaleSession{b: b, sc: sc, node: b.st.Nodes[0], timeout: 2 * time.Minute, cmd: time.Minute}
		defer s.detachDevices()
		if slices.Contains(sc.Kinds, KindFS) {
			if err := s.makeDevices(slices.Max(sc.Ns)); err != nil {
				return err
			}
		}
		rep.NodeActionLimit = s.nodeActionLimit()
		for i, n := range sc.Ns {
			stacks := slices.Clone(sc.Stacks)
			if i%2 == 1 {
				slices.Reverse(stacks) // the other stack first: neither always runs on a fresher cluster
			}
			for _, st := range stacks {
				for _, r := range s.runN(st, n) {
					rep.Runs = append(rep.Runs, r)
					if sc.Progress != nil {
						sc.Progress(r)
					}
					if r.Err != "" && strings.Contains(r.Err, "bed unusable") {
						return errors.New(r.Err)
					}
				}
			}
		}
		var failed []string
		for _, r := range rep.Runs {
			if r.Err != "" {
				failed = append(failed, fmt.Sprintf("%s %s %s N=%d: %s", r.Test, r.Stack, r.Variant(), r.N, r.Err))
			}
		}
		if len(failed) > 0 {
			return fmt.Errorf("%d scale runs failed: %s", len(failed), strings.Join(failed, "; "))
		}
		return nil
	})
	return rep, err
}

// runN runs every measurement of one stack at N resources.
func (s *scaleSession) runN(stack string, n int) []ScaleRun {
	var runs []ScaleRun
	for _, kind := range s.sc.Kinds {
		depths := []int{0}
		if kind == KindFS {
			depths = s.sc.Depths
		}
		for _, d := range depths {
			runs = append(runs, s.steady(ScaleSpec{Stack: stack, Kind: kind, N: n, Depth: d, Layout: LayoutSingle, Node: s.node, Devices: s.devices}))
		}
		if !s.sc.Failover {
			continue
		}
		for _, l := range s.sc.Layouts {
			spec := ScaleSpec{Stack: stack, Kind: kind, N: n, Layout: l, Node: s.node, Devices: s.devices}
			runs = append(runs, s.failover(spec, false))
			if l == LayoutSingle && (s.sc.BatchLimit > 0 || s.sc.NodeActionLimit > 0) {
				runs = append(runs, s.failover(spec, true))
			}
		}
	}
	return runs
}

// makeDevices makes n small ext4 filesystems on loop devices of the host (the nodes share
// its kernel), each visible in every node under the host's name (as the bed's shared disk).
func (s *scaleSession) makeDevices(n int) error {
	s.images = filepath.Join(s.b.st.DataDir, "scale")
	if err := os.MkdirAll(s.images, 0o755); err != nil {
		return err
	}
	tmpl := filepath.Join(s.images, "template.img")
	if _, err := run(30*time.Second, "truncate", "-s", "8M", tmpl); err != nil {
		return err
	}
	if _, err := run(60*time.Second, "mkfs.ext4", "-q", "-F", "-E", "nodiscard", tmpl); err != nil {
		return err
	}
	t0 := time.Now()
	for i := 0; i < n; i++ {
		img := filepath.Join(s.images, fmt.Sprintf("f%03d.img", i+1))
		if _, err := run(30*time.Second, "cp", "--sparse=always", tmpl, img); err != nil {
			return err
		}
		out, err := run(30*time.Second, "losetup", "--find", "--show", img)
		if err != nil {
			return err
		}
		s.devices = append(s.devices, strings.TrimSpace(out))
	}
	s.b.logf("scale: %d loop devices with ext4 in %.1fs", n, time.Since(t0).Seconds())
	for _, nd := range s.b.st.Nodes {
		if err := s.nodeDevices(nd); err != nil {
			return err
		}
	}
	return nil
}

// nodeDevices makes the loop devices' nodes in node n's /dev (a tmpfs of its own, made anew
// at each boot).
func (s *scaleSession) nodeDevices(n string) error {
	if len(s.devices) == 0 {
		return nil
	}
	var sb strings.Builder
	sb.WriteString("set -e\n")
	for _, d := range s.devices {
		var st unix.Stat_t
		if err := unix.Stat(d, &st); err != nil {
			return fmt.Errorf("scale device %s: %w", d, err)
		}
		fmt.Fprintf(&sb, "[ -b %s ] || mknod -m 660 %s b %d %d\n", d, d, unix.Major(st.Rdev), unix.Minor(st.Rdev))
	}
	if out, err := s.b.Sh(n, s.cmd, sb.String()); err != nil {
		return fmt.Errorf("scale devices on %s: %v: %s", n, err, out)
	}
	return nil
}

// detachDevices detaches the loop devices whose backing file is one of ours (before the bed's
// Down, which fails on a loop device left over its data directory).
func (s *scaleSession) detachDevices() {
	for _, d := range s.devices {
		back, err := run(10*time.Second, "losetup", "-n", "-O", "BACK-FILE", d)
		if err != nil || !strings.HasPrefix(strings.TrimSpace(back), s.images+"/") {
			continue
		}
		if _, err := run(10*time.Second, "losetup", "-d", d); err != nil {
			s.b.logf("scale: %v", err)
		}
	}
	s.devices = nil
}

// nodeActionLimit is the node-action-limit in force: the cluster option if set, else
// Pacemaker's default, twice the cores a node sees.
func (s *scaleSession) nodeActionLimit() int {
	out, err := s.b.Exec(s.node, s.cmd, nil, "crm_attribute", "--type", "crm_config", "--name", "node-action-limit", "--query", "--quiet")
	if v, e := strconv.Atoi(strings.TrimSpace(out)); err == nil && e == nil && v > 0 {
		return v
	}
	return 2 * runtime.NumCPU()
}

// load loads the configuration of spec and waits until all N run on spec.Node.
func (s *scaleSession) load(spec ScaleSpec) error {
	crm, err := ScaleCRM(spec)
	if err != nil {
		return err
	}
	if err := s.b.CrmLoad(s.node, crm); err != nil {
		return err
	}
	return s.waitAll(spec, spec.Node, s.startBound(spec.N))
}

// startBound is how long N resources may take to start (a group starts them one by one).
func (s *scaleSession) startBound(n int) time.Duration {
	return min(2*time.Minute+time.Duration(n)*3*time.Second, 15*time.Minute)
}

// waitAll waits until the N resources of spec are started on node on.
func (s *scaleSession) waitAll(spec ScaleSpec, on string, timeout time.Duration) error {
	var last string
	if !Poll(timeout, time.Second, func() bool {
		m, err := s.b.Mon(on)
		if err != nil {
			last = err.Error()
			return false
		}
		ok := 0
		for i := 0; i < spec.N; i++ {
			if w := m.Where(ScaleID(spec.Kind, i)); len(w) == 1 && w[0] == on {
				ok++
			}
		}
		last = fmt.Sprintf("%d of %d started on %s", ok, spec.N, on)
		return ok == spec.N
	}) {
		return fmt.Errorf("scale: %s within %v", last, timeout)
	}
	return nil
}

// clean removes every scale resource and constraint (the cluster stops what runs) on a
// running node and checks that no node keeps a scale address or mount.
func (s *scaleSession) clean(via string, spec ScaleSpec) error {
	for _, x := range []string{
		"//constraints/rsc_location[starts-with(@id,'" + ScalePrefix + "')]",
		"//resources/group[starts-with(@id,'" + ScalePrefix + "')]",
		"//resources/primitive[starts-with(@id,'" + ScalePrefix + "')]",
	} {
		out, err := s.b.Exec(via, s.cmd, nil, "cibadmin", "--delete-all", "--force", "--xpath", x)
		if err != nil && !strings.Contains(out, "No such") && !strings.Contains(err.Error(), "exit status 105") {
			return fmt.Errorf("scale: cibadmin --delete-all %s: %v: %s", x, err, out)
		}
	}
	if err := s.b.WaitSettled(via, s.startBound(spec.N)); err != nil {
		return err
	}
	var left []string
	if !Poll(time.Minute, time.Second, func() bool {
		left = nil
		for _, n := range s.b.st.Nodes {
			if !s.b.Running(n) {
				continue
			}
			out, err := s.b.Sh(n, s.cmd, "ip -o -4 addr show dev "+NodeIface+"; cat /proc/mounts")
			if err != nil {
				left = append(left, err.Error())
				continue
			}
			for _, l := range strings.Split(out, "\n") {
				if strings.Contains(l, " /srv/scale/") {
					left = append(left, n+": mount "+strings.Fields(l)[1])
				}
				if f := strings.Fields(l); len(f) > 3 && f[2] == "inet" {
					a := strings.Split(f[3], "/")[0]
					if a != NodeIP(n) {
						left = append(left, n+": address "+a)
					}
				}
			}
		}
		return len(left) == 0
	}) {
		return fmt.Errorf("scale: left after removing the resources: %s", strings.Join(left, ", "))
	}
	return nil
}

// sample reads the CPU accounting of node n.
func (s *scaleSession) sample(n string) (CPUSample, error) {
	out, err := s.b.Sh(n, s.cmd, ScaleSampleScript)
	if err != nil {
		return CPUSample{}, fmt.Errorf("cpu sample on %s: %v: %s", n, err, out)
	}
	return ParseCPUSample(out)
}

func hostLoad() (float64, bool) {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return 0, false
	}
	v, err := strconv.ParseFloat(f[0], 64)
	return v, err == nil
}

func (s *scaleSession) isDC(n string) bool {
	m, err := s.b.Mon(n)
	return err == nil && m.Summary.DC.Name == n
}

// steady measures the steady state of spec.
func (s *scaleSession) steady(spec ScaleSpec) (r ScaleRun) {
	t0 := time.Now()
	r = ScaleRun{Test: "steady", Stack: spec.Stack, Kind: spec.Kind, N: spec.N, Depth: spec.Depth, Node: spec.Node}
	defer func() { r.Took = time.Since(t0).Seconds() }()
	s.b.logf("scale: steady state, %s, %d %s (depth %d)", spec.Stack, spec.N, spec.Kind, spec.Depth)
	err := func() error {
		if err := s.load(spec); err != nil {
			return err
		}
		if err := s.b.WaitSettled(s.node, s.startBound(spec.N)); err != nil {
			return err
		}
		time.Sleep(s.sc.Warmup)
		r.WasDC = s.isDC(s.node)
		a, err := s.sample(s.node)
		if err != nil {
			return err
		}
		// the load, from the host (the same kernel), every 10 s; nothing runs in the node
		var loads []float64
		end := time.Now().Add(s.sc.Window)
		for time.Now().Before(end) {
			if l, ok := hostLoad(); ok {
				loads = append(loads, l)
			}
			time.Sleep(min(10*time.Second, time.Until(end)))
		}
		b, err := s.sample(s.node)
		if err != nil {
			return err
		}
		w, err := Window(a, b)
		if err != nil {
			return err
		}
		r.Window, r.ExecdCPU, r.NodeCPU = w.Seconds, w.ExecdPerMin, w.NodePerMin
		for _, l := range loads {
			r.Load += l / float64(len(loads))
		}
		cib, err := s.b.Exec(s.node, s.cmd, nil, "cibadmin", "--query", "--scope", "status")
		if err != nil {
			return fmt.Errorf("cibadmin --query: %v", err)
		}
		if i := strings.Index(cib, "<"); i > 0 {
			cib = cib[i:]
		}
		ops, err := ParseOpTimes([]byte("<cib>"+cib+"</cib>"), s.node, ScalePrefix)
		if err != nil {
			return fmt.Errorf("the CIB's status: %v", err)
		}
		var ex []time.Duration
		for _, o := range ops {
			if o.Op == "monitor" {
				ex = append(ex, o.Exec)
				if o.RC != 0 {
					return fmt.Errorf("%s: monitor rc %d in the CIB", o.Rsc, o.RC)
				}
			}
		}
		med, p95, mx := Quantiles(ex)
		r.Monitors = len(ex)
		r.MonMed, r.MonP95, r.MonMax = ms(med), ms(p95), ms(mx)
		return s.noFailures()
	}()
	if err != nil {
		r.Err = err.Error()
	}
	if cerr := s.clean(s.node, spec); cerr != nil {
		r.Err = strings.TrimPrefix(r.Err+"; ", "; ") + cerr.Error() + " (bed unusable)"
	}
	return r
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// noFailures fails when crm_mon shows a failed action of a scale resource.
func (s *scaleSession) noFailures() error {
	v, err := s.b.AnyRunning()
	if err != nil {
		return err
	}
	m, err := s.b.Mon(v)
	if err != nil {
		return err
	}
	var fs []string
	for _, f := range m.Failures {
		if strings.HasPrefix(f.OpKey, ScalePrefix) {
			fs = append(fs, f.String())
		}
	}
	if len(fs) > 0 {
		if len(fs) > 5 {
			fs = append(fs[:5], fmt.Sprintf("and %d more", len(fs)-5))
		}
		return fmt.Errorf("failed actions: %s", strings.Join(fs, "; "))
	}
	return nil
}

// setLimits sets (raise) or removes batch-limit and node-action-limit.
func (s *scaleSession) setLimits(raise bool) error {
	for _, o := range []struct {
		name string
		v    int
	}{{"batch-limit", s.sc.BatchLimit}, {"node-action-limit", s.sc.NodeActionLimit}} {
		if o.v <= 0 {
			continue
		}
		args := []string{"crm_attribute", "--type", "crm_config", "--name", o.name}
		if raise {
			args = append(args, "--update", strconv.Itoa(o.v))
		} else {
			args = append(args, "--delete")
		}
		v, err := s.b.AnyRunning()
		if err != nil {
			return err
		}
		if out, err := s.b.Exec(v, s.cmd, nil, args...); err != nil {
			return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// limitsLabel names the raised limits.
func (s *scaleSession) limitsLabel() string {
	var p []string
	if s.sc.BatchLimit > 0 {
		p = append(p, fmt.Sprintf("batch-limit=%d", s.sc.BatchLimit))
	}
	if s.sc.NodeActionLimit > 0 {
		p = append(p, fmt.Sprintf("node-action-limit=%d", s.sc.NodeActionLimit))
	}
	return strings.Join(p, " ")
}

// failover powers off the node carrying the N of spec and measures until the last of them
// answers on a survivor; then it removes them and boots the node again.
func (s *scaleSession) failover(spec ScaleSpec, raised bool) (r ScaleRun) {
	t0 := time.Now()
	b := s.b
	r = ScaleRun{Test: "failover", Stack: spec.Stack, Kind: spec.Kind, N: spec.N, Layout: spec.Layout, Node: spec.Node,
		Limits: "default", NodeActionLimit: s.nodeActionLimit()}
	defer func() { r.Took = time.Since(t0).Seconds() }()
	if raised {
		r.Limits = s.limitsLabel()
		if s.sc.NodeActionLimit > 0 {
			r.NodeActionLimit = s.sc.NodeActionLimit
		}
	}
	s.b.logf("scale: failover, %s, %d %s, %s, limits %s", spec.Stack, spec.N, spec.Kind, spec.Layout, r.Limits)
	var addrs []netip.Addr
	var pinger *Pinger
	poweredOff := false
	err := func() error {
		if raised {
			if err := s.setLimits(true); err != nil {
				return err
			}
		}
		if err := s.load(spec); err != nil {
			return err
		}
		if err := b.WaitSettled(s.node, s.startBound(spec.N)); err != nil {
			return err
		}
		r.WasDC = s.isDC(s.node)
		up := map[string]time.Time{} // resource id: first seen up after the fault
		var check func()
		if spec.Kind == KindAddr {
			var err error
			if addrs, err = scaleAddrs(spec.N); err != nil {
				return err
			}
			if pinger, err = OpenPinger("/run/netns/" + ClientNS); err != nil {
				return err
			}
			// every address answers before the fault
			pinger.Mark(time.Now())
			if !Poll(30*time.Second, 200*time.Millisecond, func() bool {
				pinger.Round(addrs)
				return len(pinger.Answered()) == len(addrs)
			}) {
				return fmt.Errorf("%d of %d addresses answer ping before the fault", len(pinger.Answered()), len(addrs))
			}
			check = func() {
				pinger.Round(addrs)
				ans := pinger.Answered()
				for i, a := range addrs {
					if t, ok := ans[a]; ok {
						if _, seen := up[ScaleID(spec.Kind, i)]; !seen {
							up[ScaleID(spec.Kind, i)] = t
						}
					}
				}
			}
		} else {
			check = func() {
				now := time.Now()
				for _, n := range b.st.Nodes {
					if n == spec.Node || !b.Running(n) {
						continue
					}
					data, err := os.ReadFile(fmt.Sprintf("/proc/%d/mounts", b.st.Init[n].PID))
					if err != nil {
						continue
					}
					m := parseMounts(string(data))
					for i := 0; i < spec.N; i++ {
						id := ScaleID(spec.Kind, i)
						if _, seen := up[id]; !seen && m[ScaleMountDir(i)] {
							up[id] = now
						}
					}
				}
			}
		}
		if err := b.PowerOff(spec.Node); err != nil {
			return err
		}
		poweredOff = true
		tf := b.LastFault()
		if pinger != nil {
			pinger.Mark(tf)
		}
		bound := s.startBound(spec.N) + time.Minute
		Poll(bound, 100*time.Millisecond, func() bool {
			check()
			return len(up) == spec.N
		})
		r.Answered = len(up)
		var last time.Time
		for _, t := range up {
			if t.After(last) {
				last = t
			}
		}
		if !last.IsZero() {
			r.LastUp = last.Sub(tf).Seconds()
		}
		// where they went, the membership and the starts, from the survivors' logs
		if v, err := b.AnyRunning(spec.Node); err == nil {
			if m, err := b.Mon(v); err == nil {
				count := map[string]int{}
				for i := 0; i < spec.N; i++ {
					for _, w := range m.Where(ScaleID(spec.Kind, i)) {
						count[w]++
					}
				}
				var p []string
				for _, n := range b.st.Nodes {
					if count[n] > 0 {
						p = append(p, fmt.Sprintf("%s %d", n, count[n]))
					}
				}
				r.Survivors = strings.Join(p, ", ")
			}
			if t, ok := b.membershipLeft(v, tf); ok {
				r.Membership = t.Sub(tf).Seconds()
				if !last.IsZero() {
					r.AfterMembership = last.Sub(t).Seconds()
				}
			}
		}
		for _, n := range b.st.Nodes {
			if n == spec.Node || !b.Running(n) {
				continue
			}
			ops := ParseFinishedOps(b.NodeLog(n, "var/log/pacemaker/pacemaker.log", 20000+40*spec.N), tf, ScalePrefix)
			var starts []ScaleOp
			for _, o := range ops {
				if o.Op == "start" {
					starts = append(starts, o)
					r.StartExecSum += o.Exec.Seconds()
					r.MaxQueueMS = max(r.MaxQueueMS, ms(o.Queue))
				}
			}
			r.MaxConcurrent = max(r.MaxConcurrent, MaxConcurrent(starts))
		}
		if r.Answered < spec.N {
			return fmt.Errorf("%d of %d answered within %v of the power-off", r.Answered, spec.N, bound)
		}
		return nil
	}()
	if pinger != nil {
		pinger.Close()
	}
	if err != nil {
		r.Err = err.Error()
	}
	// restore: remove the N (the survivors stop them), the node back, its devices, the limits
	var rerr []string
	if via, e := b.AnyRunning(spec.Node); e == nil {
		if e := s.clean(via, spec); e != nil {
			rerr = append(rerr, e.Error())
		}
	} else {
		rerr = append(rerr, e.Error())
	}
	if poweredOff {
		if e := b.Boot(spec.Node); e != nil {
			rerr = append(rerr, e.Error())
		} else if e := s.nodeDevices(spec.Node); e != nil {
			rerr = append(rerr, e.Error())
		} else if e := b.WaitSettled(spec.Node, s.timeout); e != nil {
			rerr = append(rerr, e.Error())
		}
	}
	if raised {
		if e := s.setLimits(false); e != nil {
			rerr = append(rerr, e.Error())
		}
	}
	if len(rerr) > 0 {
		r.Err = strings.TrimPrefix(r.Err+"; ", "; ") + strings.Join(rerr, "; ") + " (bed unusable)"
	}
	return r
}

// ScaleCheck is make check's small version (issue 17: N = 20): on a 3-node ns bed that is up,
// for the gocf stack, n addresses and then n filesystems (each independent, then as one
// group) must all start on one node and, after that node's power-off, all answer on the
// survivors. It returns the failover runs; an error names the first that failed. No steady
// state window (it measures nothing that a check could assert).
func (b *Bed) ScaleCheck(n int) (runs []ScaleRun, err error) {
	if b.st.Mode != "ns" || len(b.st.Nodes) != 3 {
		return nil, errors.New("scale check: needs a 3-node ns bed")
	}
	s := &scaleSession{b: b, sc: ScaleConfig{Failover: true}, node: b.st.Nodes[0], timeout: 2 * time.Minute, cmd: time.Minute}
	s.sc.defaults()
	defer s.detachDevices()
	if err := s.makeDevices(n); err != nil {
		return nil, err
	}
	for _, kind := range []string{KindAddr, KindFS} {
		for _, l := range []string{LayoutSingle, LayoutGroup} {
			r := s.failover(ScaleSpec{Stack: ScaleGocf, Kind: kind, N: n, Layout: l, Node: s.node, Devices: s.devices}, false)
			runs = append(runs, r)
			if r.Err != "" {
				return runs, fmt.Errorf("%s, %d %s: %s", l, n, kind, r.Err)
			}
		}
	}
	return runs, nil
}
