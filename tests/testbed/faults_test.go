package testbed

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gocf/gocf/tests/sipp"
)

func faultIDs(fs []Fault) []int {
	var ids []int
	for _, f := range fs {
		ids = append(ids, f.ID)
	}
	return ids
}

func TestParseFaults(t *testing.T) {
	for _, c := range []struct {
		list, mode string
		want       []int
	}{
		{"", "ns", []int{1, 2, 3, 4, 5, 6, 7, 9}},
		{"", "vm", []int{1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{"2,3,9", "ns", []int{2, 3, 9}},
		{"9, 2,2,3", "ns", []int{2, 3, 9}},
		{"1-4,9", "ns", []int{1, 2, 3, 4, 9}},
		{"8", "vm", []int{8}},
	} {
		fs, err := ParseFaults(c.list, c.mode)
		if err != nil || !slices.Equal(faultIDs(fs), c.want) {
			t.Errorf("ParseFaults(%q, %s) = %v, %v; want %v", c.list, c.mode, faultIDs(fs), err, c.want)
		}
	}
	for _, c := range []struct{ list, mode string }{{"0", "ns"}, {"10", "vm"}, {"x", "ns"}, {"4-2", "ns"}, {"8", "ns"}, {"1-", "ns"}, {",", "ns"}} {
		if fs, err := ParseFaults(c.list, c.mode); err == nil {
			t.Errorf("ParseFaults(%q, %s) = %v, want an error", c.list, c.mode, faultIDs(fs))
		}
	}
}

func TestParseStacks(t *testing.T) {
	if s, err := ParseStacks(""); err != nil || !slices.Equal(s, []string{"gocf", "shell", "hb1"}) {
		t.Errorf("default stacks %v %v", s, err)
	}
	if s, err := ParseStacks("hb1, gocf,hb1"); err != nil || !slices.Equal(s, []string{"hb1", "gocf"}) {
		t.Errorf("stacks %v %v", s, err)
	}
	if _, err := ParseStacks("gocf,pcs"); err == nil {
		t.Error("an unknown stack is accepted")
	}
}

func readExample(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "crm-examples", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// The stacks: the same resources, operations and cluster around them; only the agents (and,
// for hb1, the monitors) differ.
func TestFaultStacks(t *testing.T) {
	for _, c := range []struct{ mode, example string }{{"ns", "pbx-shared.crm"}, {"vm", "pbx-drbd.crm"}} {
		gocf := readExample(t, c.example)
		if ex, err := GocfExample(c.mode); err != nil || ex != gocf {
			t.Errorf("GocfExample(%s): %v", c.mode, err)
		}
		g, _ := NewFaultStack("gocf", c.mode, gocf)
		sh, err := NewFaultStack("shell", c.mode, gocf)
		if err != nil {
			t.Fatal(err)
		}
		hb, _ := NewFaultStack("hb1", c.mode, gocf)
		if !g.Drain || sh.Drain || hb.Drain {
			t.Errorf("%s: only gocf drains calls", c.mode)
		}
		// the PBX's monitors (the fence device's is the same in every stack)
		pbxOnly := func(m map[string]int) map[string]int {
			for k := range m {
				if !strings.HasPrefix(k, "pbx") {
					delete(m, k)
				}
			}
			return m
		}
		gd, sd, hd := pbxOnly(MonitorDepths(g.CRM)), pbxOnly(MonitorDepths(sh.CRM)), pbxOnly(MonitorDepths(hb.CRM))
		want := map[string]int{"pbx-fs/20000": 0, "pbx-fs/60000": 20, "pbx-vip/10000": 0, "pbx-asterisk/10000": 0, "pbx-asterisk/30000": 20}
		if c.mode == "vm" {
			want["pbx-drbd/29000"], want["pbx-drbd/31000"] = 0, 0
		}
		for k, v := range want {
			if gd[k] != v || sd[k] != v {
				t.Errorf("%s: monitor %s: gocf depth %d, shell %d, want %d", c.mode, k, gd[k], sd[k], v)
			}
		}
		if len(gd) != len(want) || len(sd) != len(want) || len(hd) != 0 {
			t.Errorf("%s: monitors gocf %v, shell %v, hb1 %v", c.mode, gd, sd, hd)
		}
		for _, s := range []FaultStack{sh, hb} {
			if strings.Contains(s.CRM, "ocf:gocf:") || !strings.Contains(s.CRM, "ocf:heartbeat:asterisk") {
				t.Errorf("%s %s: not the shell agents:\n%s", c.mode, s.Name, s.CRM)
			}
			if strings.Contains(ShellPBX(c.mode, s.Name == "shell"), "op monitor") != (s.Name == "shell") {
				t.Errorf("%s %s: monitors wrong:\n%s", c.mode, s.Name, s.CRM)
			}
			for _, w := range []string{"primitive fence-sbd stonith:fence_sbd", "migration-threshold=3", "priority-fencing-delay=15s",
				"group pbx pbx-fs pbx-vip pbx-asterisk", "start timeout=60s interval=0s", "device=@FSDEV@"} {
				if !strings.Contains(s.CRM, w) {
					t.Errorf("%s %s: no %q:\n%s", c.mode, s.Name, w, s.CRM)
				}
			}
			if c.mode == "vm" && !strings.Contains(s.CRM, "ocf:linbit:drbd") {
				t.Errorf("vm %s: no DRBD", s.Name)
			}
			// the bed's fencing replaces the examples' in ns mode, as for the gocf stack
			if bf := WithBedFencing(s.CRM); strings.Contains(bf, "fence-sbd") {
				t.Errorf("%s %s: fence-sbd not dropped:\n%s", c.mode, s.Name, bf)
			}
			if st := crmStatements(s.CRM); len(st) < 6 {
				t.Errorf("%s %s: %d statements", c.mode, s.Name, len(st))
			}
		}
		if d := shippedDrain(gocf); (c.mode == "vm") != (d == "20") {
			t.Errorf("%s: shipped call_drain_timeout %q", c.mode, d)
		}
	}
}

// Real lines of Pacemaker 3.0's pacemaker.log (testdata/README.md) and two written as
// log_executor_event writes them: a monitor timed out, a degraded monitor.
func TestParseDetections(t *testing.T) {
	data, err := os.ReadFile("testdata/pacemaker-faults.log")
	if err != nil {
		t.Fatal(err)
	}
	log := string(data) +
		"Nov 30 06:44:20.100 n1 pacemaker-controld  [148] (log_executor_event) \tnotice: Result of monitor operation for pbx-asterisk on n1: Timed Out after 30s | graph action unconfirmed; call=60 key=pbx-asterisk_monitor_10000\n" +
		"Nov 30 06:44:30.200 n1 pacemaker-controld  [148] (log_executor_event) \tnotice: Result of monitor operation for pbx-fs on n1: Degraded (/replica is full (100%), still readable: free space) | graph action unconfirmed; call=61 key=pbx-fs_monitor_60000 rc=190\n"
	depths := MonitorDepths(readExample(t, "pbx-shared.crm"))
	since := time.Date(2026, 11, 30, 6, 43, 51, 0, time.Local)
	ds := ParseDetections(log, since, depths)
	var got []string
	for _, d := range ds {
		got = append(got, d.At.Format("15:04:05.000")+" "+d.Node+" "+d.String())
	}
	vip := "pbx-vip monitor (depth 0, every 10s) → 7 not running: 198.51.100.100/24 is on eth0 but the link is down or has no carrier"
	want := []string{
		"06:43:51.488 n1 " + vip, "06:43:51.592 n1 " + vip, "06:43:52.908 n1 " + vip, "06:43:54.372 n1 " + vip,
		"06:44:20.100 n1 pbx-asterisk monitor (depth 0, every 10s) → timed out after 30s",
		"06:44:30.200 n1 pbx-fs monitor (depth 20, every 1m0s) → 190 degraded: /replica is full (100%), still readable: free space",
		"11:11:40.754 n1 n2 fenced by n1",
	}
	if !slices.Equal(got, want) {
		t.Errorf("detections:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(ds) == len(want) {
		if d := ds[0]; !d.Failed || d.RC != 7 || d.Interval != 10*time.Second || d.Resource != "pbx-vip" {
			t.Errorf("first: %+v", d)
		}
		if ds[4].RC != -1 || !ds[4].Failed || ds[5].Failed || ds[5].Depth != 20 || ds[6].Action != "fencing" {
			t.Errorf("timeout %+v, degraded %+v, fencing %+v", ds[4], ds[5], ds[6])
		}
	}
	if d, ok := FirstDetection(ds); !ok || d.At.Format("05.000") != "51.488" {
		t.Errorf("first detection %v %v", d, ok)
	}
	// nothing before since; a degraded one alone is still the first detection
	if ds := ParseDetections(log, time.Date(2026, 11, 30, 6, 44, 25, 0, time.Local), depths); len(ds) != 2 {
		t.Errorf("after 06:44:25: %v", ds)
	} else if d, _ := FirstDetection(ds[:1]); d.Failed || d.Resource != "pbx-fs" {
		t.Errorf("degraded first: %v", d)
	}
	// the actions pacemaker-execd finished, as the harness counts restarts
	ops := agentActions("n1", agentOps(log, since), 0)
	if len(ops) != 11 || ops[0].Resource != "pbx-asterisk" || ops[0].Action != "stop" || ops[0].End != 552*time.Millisecond {
		t.Errorf("actions %+v", ops)
	}
	if len(agentActions("n1", agentOps(log, since), 2*time.Second)) != 7 {
		t.Error("actions are not cut at the end of the watch")
	}
}

// crm_mon's XML as Pacemaker writes it (testdata/crm_mon-failure-vip.xml: crm_mon of a CIB
// holding the real failed monitor above): the failure's fields and the fail counts.
func TestCrmMonFailures(t *testing.T) {
	data, err := os.ReadFile("testdata/crm_mon-failure-vip.xml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseCrmMon(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Failures) != 1 {
		t.Fatalf("failures %+v", m.Failures)
	}
	f := m.Failures[0]
	if f.OpKey != "pbx-vip_monitor_10000" || f.Node != "n1" || f.ExitCode != "7" || f.Interval != "10000" || f.Task != "monitor" ||
		f.ExitReason != "198.51.100.100/24 is on eth0 but the link is down or has no carrier" || f.Call != "24" || f.LastChange == "" {
		t.Errorf("failure %+v", f)
	}
	if fc := m.FailCounts(); len(fc) != 1 || fc["pbx-vip on n1"] != "3" {
		t.Errorf("fail counts %v", fc)
	}
	if w := m.Where("pbx-asterisk"); !slices.Equal(w, []string{"n2"}) {
		t.Errorf("pbx-asterisk on %v", w)
	}
	if _, err := xml.Marshal(m); err != nil {
		t.Error(err)
	}
}

// FirstNewCall on a real SIPp recording (tests/sipp/testdata/outage: the fake PBX killed 2.8 s
// after the start, back 3 s later; recv_timeout 3 s) and on synthetic results.
func TestFirstNewCall(t *testing.T) {
	r, err := sipp.ReadDir("../sipp/testdata/outage")
	if err != nil {
		t.Fatal(err)
	}
	mark := r.Start.Add(2800 * time.Millisecond)
	d, ok := FirstNewCall(r, mark, 3*time.Second, time.Time{})
	// the 200 of the call sent at +6.004 s: INVITEs sent during the outage (answered late
	// by retransmission, or failed) are not new calls
	if !ok || d.Round(time.Millisecond) != 3204*time.Millisecond {
		t.Errorf("outage: %v %v, want 3.204s", d, ok)
	}
	// a mark before the calls that went well: the failures after it still count
	if d, ok := FirstNewCall(r, r.Start.Add(700*time.Millisecond), 3*time.Second, time.Time{}); !ok || d.Round(time.Millisecond) != 5304*time.Millisecond {
		t.Errorf("mark at +0.7 s: %v %v, want 5.304s", d, ok)
	}
	// no failure after the mark: the first call sent after it
	if d, ok := FirstNewCall(r, r.Start.Add(7500*time.Millisecond), 0, time.Time{}); !ok || d.Round(time.Millisecond) != 4*time.Millisecond {
		t.Errorf("mark at +7.5 s: %v %v, want 4ms (the call sent at +7.504 s)", d, ok)
	}
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	syn := &sipp.Result{
		Seconds: []sipp.Second{{Time: at(1)}, {Time: at(5), Failed: 2}, {Time: at(9), Failed: 1}, {Time: at(12)}},
		SetUps: []sipp.SetUp{{Time: at(0.5)}, {Time: at(4.6), Duration: 100 * time.Millisecond}, // before the last failure
			{Time: at(6), Duration: 2 * time.Second}, {Time: at(9.8), Duration: 200 * time.Millisecond}, {Time: at(10.5)}},
	}
	// last failure counted in (8 s, 9 s]: its INVITE left after 5 s at the latest
	// (9 s - 1 s - recv_timeout): the set-up at 9.8 s, not the one at 6 s (sent at 4 s)
	if d, ok := FirstNewCall(syn, at(2), 3*time.Second, time.Time{}); !ok || d != 7800*time.Millisecond {
		t.Errorf("synthetic: %v %v, want 7.8s", d, ok)
	}
	// the OPTIONS probe saw the PBX down until 10 s: the set-up at 10.5 s
	if d, ok := FirstNewCall(syn, at(2), 3*time.Second, at(10)); !ok || d != 8500*time.Millisecond {
		t.Errorf("synthetic, down until 10 s: %v %v, want 8.5s", d, ok)
	}
	if _, ok := FirstNewCall(&sipp.Result{Seconds: syn.Seconds}, at(2), 3*time.Second, time.Time{}); ok {
		t.Error("a new call without set-ups")
	}
}

// A degraded result (191: the drbd agent's Primary whose writes reach no peer) is in crm_mon's
// failures list but is no failure: Pacemaker counts it as success (testdata/
// crm_mon-degraded-2.1.5.xml: the host's crm_mon of a CIB whose promoted monitor returned 191).
func TestCrmMonDegraded(t *testing.T) {
	data, err := os.ReadFile("testdata/crm_mon-degraded-2.1.5.xml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := ParseCrmMon(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Failures) != 0 || len(m.Degraded) != 1 || m.Degraded[0].ExitStatus != "promoted (degraded)" ||
		!strings.Contains(m.Degraded[0].String(), "writes are not replicated") {
		t.Errorf("failures %+v, degraded %+v", m.Failures, m.Degraded)
	}
}
