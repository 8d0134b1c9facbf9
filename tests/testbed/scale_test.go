package testbed

import (
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestScaleAddr(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < ScaleMaxAddrs; i++ {
		a, err := ScaleAddr(i)
		if err != nil {
			t.Fatal(err)
		}
		p := netip.MustParseAddr(a)
		if !netip.MustParsePrefix(Subnet).Contains(p) {
			t.Errorf("%s outside the LAN", a)
		}
		for _, used := range []string{ClientIP, VIP, NodeIP("n1"), NodeIP("n2"), NodeIP("n3"), "198.51.100.0", "198.51.100.255"} {
			if a == used {
				t.Errorf("scale address %d is %s, which the bed uses", i, a)
			}
		}
		if seen[a] {
			t.Errorf("%s twice", a)
		}
		seen[a] = true
	}
	if a, _ := ScaleAddr(0); a != "198.51.100.101" {
		t.Errorf("first: %s", a)
	}
	if a, _ := ScaleAddr(199); a != "198.51.100.59" {
		t.Errorf("200th: %s", a)
	}
	if _, err := ScaleAddr(ScaleMaxAddrs); err == nil {
		t.Error("address beyond the LAN's room")
	}
}

func TestScaleCRM(t *testing.T) {
	devs := []string{"/dev/loop7", "/dev/loop8", "/dev/loop9"}
	for _, c := range []struct {
		spec  ScaleSpec
		lines []string
		count map[string]int
	}{
		{ScaleSpec{Stack: ScaleGocf, Kind: KindAddr, N: 3, Node: "n1"}, []string{
			"primitive scale-a001 ocf:gocf:vip params ip=198.51.100.101 cidr_netmask=24 nic=eth0 op monitor interval=10s timeout=30s op start timeout=60s interval=0s op stop timeout=60s interval=0s",
			"location scale-l-a003 scale-a003 100: n1",
		}, map[string]int{"primitive ": 3, "location ": 3, "group ": 0}},
		{ScaleSpec{Stack: ScaleShell, Kind: KindAddr, N: 2, Layout: LayoutGroup, Node: "n2"}, []string{
			"primitive scale-a002 ocf:heartbeat:IPaddr2 params ip=198.51.100.102 cidr_netmask=24 nic=eth0 op monitor interval=10s",
			"group scale-g scale-a001 scale-a002",
			"location scale-l-g scale-g 100: n2",
		}, map[string]int{"primitive ": 2, "location ": 1, "group ": 1}},
		{ScaleSpec{Stack: ScaleShell, Kind: KindFS, N: 3, Depth: 20, Node: "n1", Devices: devs}, []string{
			"primitive scale-f003 ocf:heartbeat:Filesystem params device=/dev/loop9 directory=/srv/scale/f003 fstype=ext4 op monitor interval=20s timeout=40s OCF_CHECK_LEVEL=20 op start",
		}, map[string]int{"primitive ": 3, "OCF_CHECK_LEVEL=20": 3}},
		{ScaleSpec{Stack: ScaleGocf, Kind: KindFS, N: 2, Node: "n1", Devices: devs}, []string{
			"primitive scale-f001 ocf:gocf:fsmount params device=/dev/loop7 directory=/srv/scale/f001 fstype=ext4 op monitor interval=20s timeout=40s op start",
		}, map[string]int{"primitive ": 2, "OCF_CHECK_LEVEL": 0}},
	} {
		crm, err := ScaleCRM(c.spec)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range c.lines {
			if !strings.Contains(crm, l) {
				t.Errorf("%+v: lacks %q in\n%s", c.spec, l, crm)
			}
		}
		for s, n := range c.count {
			if got := strings.Count(crm, s); got != n {
				t.Errorf("%+v: %d × %q, want %d", c.spec, got, s, n)
			}
		}
	}
	// the two stacks differ only in the agent
	g, _ := ScaleCRM(ScaleSpec{Stack: ScaleGocf, Kind: KindFS, N: 3, Depth: 20, Node: "n1", Devices: devs})
	s, _ := ScaleCRM(ScaleSpec{Stack: ScaleShell, Kind: KindFS, N: 3, Depth: 20, Node: "n1", Devices: devs})
	if strings.ReplaceAll(g, "ocf:gocf:fsmount", "ocf:heartbeat:Filesystem") != s {
		t.Errorf("the stacks differ in more than the agent:\n%s\n%s", g, s)
	}
	big, err := ScaleCRM(ScaleSpec{Stack: ScaleShell, Kind: KindAddr, N: 200, Node: "n1"})
	if err != nil || strings.Count(big, "\n") != 400 || !strings.Contains(big, "ip=198.51.100.59 ") {
		t.Errorf("200 addresses: %v, %d lines", err, strings.Count(big, "\n"))
	}
	for _, bad := range []ScaleSpec{
		{Stack: "hb1", Kind: KindAddr, N: 1, Node: "n1"},
		{Stack: ScaleGocf, Kind: KindAddr, N: 0, Node: "n1"},
		{Stack: ScaleGocf, Kind: KindFS, N: 4, Node: "n1", Devices: devs},
		{Stack: ScaleGocf, Kind: KindAddr, N: ScaleMaxAddrs + 1, Node: "n1"},
		{Stack: ScaleGocf, Kind: KindAddr, N: 1},
		{Stack: ScaleGocf, Kind: KindAddr, N: 1, Node: "n1", Layout: "clone"},
	} {
		if _, err := ScaleCRM(bad); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

// The samples are real: ScaleSampleScript run twice, 4 s apart, through nsenter into a PID
// namespace of this host (unshare --pid --fork --mount-proc) whose init started a
// "pacemaker-execd" (a copy of bash) forking short CPU-bound children and waiting for them,
// as pacemaker-execd runs agents. The second sample caught one such child right after its
// fork (PID 427, still named pacemaker-execd, its parent PID 2).
func TestParseCPUSample(t *testing.T) {
	read := func(name string) CPUSample {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		s, err := ParseCPUSample(string(data))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b := read("scale-cpu-sample-a.txt"), read("scale-cpu-sample-b.txt")
	if a.ClkTck != 100 || a.ExecdPID != 2 || b.ExecdPID != 2 {
		t.Fatalf("a %+v b %+v", a, b)
	}
	// execd: utime 0+stime 1 + cutime 30 + cstime 3, then 0+6+134+14
	if a.Execd != 34 || b.Execd != 154 {
		t.Errorf("execd ticks %d, %d; want 34, 154", a.Execd, b.Execd)
	}
	// the sampling shell (ppid 0) is not counted; init, execd, the sleeps and the forked
	// child are
	if a.Procs != 4 || b.Procs != 4 {
		t.Errorf("processes %d, %d; want 4, 4", a.Procs, b.Procs)
	}
	if a.Load != [3]float64{0.46, 0.52, 0.96} {
		t.Errorf("load %v", a.Load)
	}
	w, err := Window(a, b)
	if err != nil {
		t.Fatal(err)
	}
	want := 1.20 / 4.02 * 60
	if math.Abs(w.Seconds-4.02) > 1e-6 || math.Abs(w.ExecdPerMin-want) > 1e-6 || w.NodePerMin < w.ExecdPerMin {
		t.Errorf("window %+v, want execd %.3f s/min", w, want)
	}
	b2 := b
	b2.ExecdPID = 9
	if _, err := Window(a, b2); err == nil {
		t.Error("a restarted pacemaker-execd was not noticed")
	}
	if _, err := ParseCPUSample("self 1\nclk 100\nuptime 5\nend\n"); err == nil {
		t.Error("a sample without pacemaker-execd parsed")
	}
	if _, err := ParseCPUSample("clk 100\n"); err == nil {
		t.Error("an incomplete sample parsed")
	}
}

func TestParseProcStat(t *testing.T) {
	// a command name with blanks and a parenthesis, negative cutime clamped
	p, err := ParseProcStat("77 (a (b) c) S 1 77 77 0 -1 4194304 10 0 0 0 5 7 -1 2 20 0 1 0 123 0 0")
	if err != nil {
		t.Fatal(err)
	}
	if p.PID != 77 || p.Comm != "a (b) c" || p.PPID != 1 || p.UTime != 5 || p.STime != 7 || p.CUTime != 0 || p.CSTime != 2 ||
		p.Start != 123 || p.WithDescendant != 14 {
		t.Errorf("%+v", p)
	}
	for _, bad := range []string{"", "77 no name", "x (a) S 1", "77 (a) S 1 2 3"} {
		if _, err := ParseProcStat(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// scale-cib-crm_simulate-2.1.5.xml is real: the host's Pacemaker 2.1.5 (no cluster), a CIB
// with three IPaddr2 primitives monitored every 10 s on nodes n1 and n2, `crm_simulate -S -O`
// run twice (probes, then starts and monitors; no-quorum-policy=ignore). crm_simulate writes
// exec-time="0"; the test sets some to what a cluster records.
func TestParseOpTimes(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "scale-cib-crm_simulate-2.1.5.xml"))
	if err != nil {
		t.Fatal(err)
	}
	all, err := ParseOpTimes(data, "", ScalePrefix)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 {
		t.Fatalf("%d recurring operations, want 3: %+v", len(all), all)
	}
	n1, _ := ParseOpTimes(data, "n1", ScalePrefix)
	if len(n1) != 2 || n1[0].Rsc != "scale-a001" || n1[0].Interval != 10*time.Second || n1[0].Op != "monitor" || n1[0].RC != 0 ||
		n1[0].Key != "scale-a001_monitor_10000" {
		t.Errorf("n1: %+v", n1)
	}
	timed := strings.Replace(strings.Replace(string(data),
		`operation_key="scale-a001_monitor_10000" operation="monitor" crm-debug-origin="crm_simulate" crm_feature_set="3.16.1" transition-key="3:-1:0:xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" transition-magic="0:0;3:-1:0:xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" exit-reason="" call-id="3" rc-code="0" op-status="0" interval="10000" last-rc-change="1796054469" exec-time="0" queue-time="0"`,
		`operation_key="scale-a001_monitor_10000" operation="monitor" crm-debug-origin="crm_simulate" crm_feature_set="3.16.1" transition-key="3:-1:0:xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" transition-magic="0:0;3:-1:0:xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" exit-reason="" call-id="3" rc-code="0" op-status="0" interval="10000" last-rc-change="1796054469" exec-time="43" queue-time="2"`, 1),
		`exec-time="0"`, `exec-time="0"`, 1)
	ops, err := ParseOpTimes([]byte(timed), "n1", ScalePrefix)
	if err != nil || ops[0].Exec != 43*time.Millisecond || ops[0].Queue != 2*time.Millisecond {
		t.Errorf("timed: %v %+v", err, ops)
	}
	if none, _ := ParseOpTimes(data, "n1", "other-"); len(none) != 0 {
		t.Errorf("prefix: %+v", none)
	}
	// what the harness gives it: cibadmin --query --scope status, wrapped
	i, j := strings.Index(string(data), "<status>"), strings.Index(string(data), "</status>")
	wrapped := "<cib>" + string(data)[i:j+len("</status>")] + "</cib>"
	if w, err := ParseOpTimes([]byte(wrapped), "", ScalePrefix); err != nil || len(w) != 3 {
		t.Errorf("the status section alone: %v, %d", err, len(w))
	}
}

func TestQuantiles(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 20; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	med, p95, mx := Quantiles(ds)
	if med != 10500*time.Microsecond || p95 != 19*time.Millisecond || mx != 20*time.Millisecond {
		t.Errorf("%v %v %v", med, p95, mx)
	}
	if a, b, c := Quantiles(nil); a != 0 || b != 0 || c != 0 {
		t.Error("empty")
	}
}

// The finished actions are real lines of Pacemaker 3.0 from the bed (pacemaker-faults.log,
// resources named pbx-*), plus one with a queue time as pacemaker-execd writes it when the
// action waited.
func TestParseFinishedOps(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "pacemaker-faults.log"))
	if err != nil {
		t.Fatal(err)
	}
	log := string(data) + "Nov 30 06:44:10.000 n1 pacemaker-execd     [145] (log_finished) \tinfo: scale-a001 start (call 90, PID 900) exited with status 0 (execution time 1.5s after being queued 250ms)\n"
	since := time.Date(2026, 11, 30, 6, 43, 51, 560e6, time.Local)
	ops := ParseFinishedOps(log, since, "pbx-")
	if len(ops) < 4 || ops[0].Rsc != "pbx-vip" || ops[0].Op != "stop" || ops[0].Exec != 6*time.Millisecond {
		t.Fatalf("%+v", ops)
	}
	for _, o := range ops {
		if o.At.Before(since) || o.Op == "monitor" {
			t.Errorf("%+v", o)
		}
	}
	sc := ParseFinishedOps(log, since, ScalePrefix)
	if len(sc) != 1 || sc[0].Exec != 1500*time.Millisecond || sc[0].Queue != 250*time.Millisecond || sc[0].RC != 0 {
		t.Errorf("%+v", sc)
	}
}

func TestMaxConcurrent(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	ops := []ScaleOp{
		{At: at(1), Exec: time.Second},             // 0-1
		{At: at(1.5), Exec: time.Second},           // 0.5-1.5
		{At: at(2), Exec: 1200 * time.Millisecond}, // 0.8-2
		{At: at(3), Exec: time.Second},             // 2-3: starts as the third ends
	}
	if got := MaxConcurrent(ops); got != 3 {
		t.Errorf("%d, want 3", got)
	}
	if MaxConcurrent(nil) != 0 {
		t.Error("none")
	}
}

func TestParseNs(t *testing.T) {
	for _, c := range []struct {
		list string
		max  int
		want string
	}{
		{"1,10,50,100,200", 200, "[1 10 50 100 200]"},
		{"1,10,50,100,200", 60, "[1 10 50 60]"},
		{"20", 0, "[20]"},
		{"10, 1,10", 0, "[1 10]"},
	} {
		ns, err := ParseNs(c.list, c.max)
		if err != nil || fmt.Sprint(ns) != c.want {
			t.Errorf("%q max %d: %v %v, want %s", c.list, c.max, ns, err, c.want)
		}
	}
	for _, bad := range []string{"", "0", "x", "-3"} {
		if _, err := ParseNs(bad, 200); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestEchoPacket(t *testing.T) {
	req := icmpEcho(0x1234, 7)
	if req[0] != 8 || icmpChecksum(req) != 0 {
		t.Errorf("request %x: checksum over it %x", req, icmpChecksum(req))
	}
	// the reply as a raw socket receives it: an IPv4 header, then the echo reply
	ipHdr := []byte{0x45, 0, 0, 36, 0, 0, 0, 0, 64, 1, 0, 0, 198, 51, 100, 101, 198, 51, 100, 2}
	rep := append([]byte(nil), req...)
	rep[0] = 0
	src, id, seq, ok := parseEchoReply(append(ipHdr, rep...))
	if !ok || src != netip.MustParseAddr("198.51.100.101") || id != 0x1234 || seq != 7 {
		t.Errorf("%v %x %d %v", src, id, seq, ok)
	}
	if _, _, _, ok := parseEchoReply(append(ipHdr, req...)); ok {
		t.Error("an echo request read as a reply")
	}
	if _, _, _, ok := parseEchoReply(ipHdr[:10]); ok {
		t.Error("a short packet read as a reply")
	}
}

func TestParseMounts(t *testing.T) {
	m := parseMounts("/dev/loop7 /srv/scale/f001 ext4 rw,relatime 0 0\nproc /proc proc rw 0 0\n")
	if !m["/srv/scale/f001"] || !m["/proc"] || m["/srv/scale/f002"] {
		t.Errorf("%v", m)
	}
}

// syntheticScale is a made-up run (numbers of a plausible shape, not measured).
func syntheticScale() *ScaleReport {
	r := &ScaleReport{Command: "testbed scale --mode ns --max 200", Date: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), Mode: "ns",
		Nodes: 3, Cores: 2, Window: 120, Warmup: 30, NodeActionLimit: 4}
	for _, n := range []int{1, 10, 50} {
		for _, st := range []string{ScaleGocf, ScaleShell} {
			k := 1.0
			if st == ScaleShell {
				k = 8
			}
			r.Runs = append(r.Runs,
				ScaleRun{Test: "steady", Stack: st, Kind: KindAddr, N: n, Node: "n1", Window: 120, ExecdCPU: 0.05 + 0.01*k*float64(n),
					NodeCPU: 1 + 0.01*k*float64(n), Load: 0.4, MonMed: 3 * k, MonP95: 5 * k, MonMax: 9 * k, Monitors: n},
				ScaleRun{Test: "steady", Stack: st, Kind: KindFS, Depth: 20, N: n, Node: "n1", Window: 120, ExecdCPU: 0.05 + 0.02*k*float64(n)},
				ScaleRun{Test: "failover", Stack: st, Kind: KindAddr, Layout: LayoutSingle, Limits: "default", N: n, Node: "n1",
					Membership: 2.1, LastUp: 2.1 + 0.05*k*float64(n), AfterMembership: 0.05 * k * float64(n), Answered: n,
					MaxConcurrent: min(n, 4), NodeActionLimit: 4, Survivors: "n2 5, n3 5"},
				ScaleRun{Test: "failover", Stack: st, Kind: KindFS, Layout: LayoutGroup, Limits: "default", N: n, Node: "n1",
					Membership: 2.1, AfterMembership: 0.1 * k * float64(n), Answered: n, MaxConcurrent: 1, NodeActionLimit: 4})
		}
	}
	r.Runs = append(r.Runs, ScaleRun{Test: "failover", Stack: ScaleShell, Kind: KindAddr, Layout: LayoutSingle, Limits: "default",
		N: 100, Answered: 97, Err: "97 of 100 answered | within 5m0s"})
	return r
}

func TestScaleReport(t *testing.T) {
	r := syntheticScale()
	md := r.Markdown()
	for _, s := range []string{
		"| addresses | 10 | gocf vip | 0.15 | 2.5 | 1.10 | 0.40 | 3 / 5 / 9 (10) |",
		"| addresses | 10 | IPaddr2 | 0.85 |",
		"| filesystems depth 20 | 50 | Filesystem |",
		"| addresses, independent | 50 | gocf vip | default | 2.10 | 2.50 | 50 of 50 | 4 (4) |",
		"97 of 100 answered \\| within",
		"CPU per minute, pacemaker-execd + agents, gocf vip (addresses): linear",
		"node-action-limit is 4 by default",
	} {
		if !strings.Contains(md, s) {
			t.Errorf("Markdown lacks %q:\n%s", s, md)
		}
	}
	cs := r.Charts()
	if len(cs) != 2 || len(cs[0].Series) != 4 || len(cs[1].Series) != 4 {
		t.Fatalf("charts: %+v", cs)
	}
	for _, s := range cs[1].Series {
		if len(s.Points) != 3 {
			t.Errorf("%s: %d points (the failed run must not be plotted)", s.Name, len(s.Points))
		}
	}
	dir := t.TempDir()
	files, err := r.Write(filepath.Join(dir, "SCALE-ns.md"))
	if err != nil || len(files) != 4 {
		t.Fatalf("%v %v", files, err)
	}
	md2, _ := os.ReadFile(filepath.Join(dir, "SCALE-ns.md"))
	if !strings.Contains(string(md2), "](SCALE-ns-cpu.svg)") || !strings.Contains(string(md2), "](SCALE-ns-failover.svg)") {
		t.Errorf("the table does not embed the plots:\n%s", md2)
	}
	for _, f := range []string{"SCALE-ns-cpu.svg", "SCALE-ns-failover.svg"} {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || !strings.Contains(string(data), "<svg") {
			t.Errorf("%s: %v", f, err)
		}
	}
	back, err := LoadScaleReport(filepath.Join(dir, "SCALE-ns.json"))
	if err != nil || back.Markdown() != md {
		t.Errorf("the JSON does not give the same report back: %v", err)
	}
}
