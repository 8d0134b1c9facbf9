package testbed

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// newBed is ForTest with the agents of this tree (GOCF_AGENTS overrides).
func newBed(t *testing.T, env string, cfg Config) *Bed {
	t.Helper()
	if cfg.AgentsDir == "" {
		cfg.AgentsDir = os.Getenv("GOCF_AGENTS")
		if cfg.AgentsDir == "" {
			cfg.AgentsDir = "../../bin"
		}
	}
	return ForTest(t, env, cfg)
}

func TestNSFailover(t *testing.T) {
	b := newBed(t, "GOCF_TESTBED", Config{Mode: "ns", Nodes: 3})
	t0 := time.Now()
	if err := b.Up(); err != nil {
		t.Fatal(err)
	}
	t.Logf("3 ns nodes up in %.1fs", time.Since(t0).Seconds())
	m, err := b.Mon("n1")
	if err != nil {
		t.Fatal(err)
	}
	if on := m.Online(); strings.Join(on, " ") != "n1 n2 n3" {
		t.Fatalf("online nodes %v, want n1 n2 n3", on)
	}
	err = b.CrmLoad("n1", `primitive p_vip ocf:heartbeat:IPaddr2 params ip=`+VIP+` cidr_netmask=24 nic=`+NodeIface+` op monitor interval=5s timeout=20s
primitive p_dummy ocf:heartbeat:Dummy op monitor interval=5s timeout=20s
group g_test p_vip p_dummy
`)
	if err != nil {
		t.Fatal(err)
	}
	active, err := b.WaitResource(60*time.Second, "p_dummy")
	if err != nil {
		t.Fatal(err)
	}
	if w, _ := b.WaitResource(10*time.Second, "p_vip"); w != active {
		t.Fatalf("p_vip on %q, p_dummy on %q", w, active)
	}
	ping := NewProber(b.PingProbe(), 100*time.Millisecond, time.Second, time.Minute)
	if !Poll(30*time.Second, 200*time.Millisecond, ping.Once) {
		t.Fatalf("VIP %s does not answer the client before the fault", VIP)
	}
	t.Logf("group g_test on %s; powering it off", active)
	tf := time.Now()
	if err := b.PowerOff(active); err != nil {
		t.Fatal(err)
	}
	now, err := b.WaitResource(60*time.Second, "p_dummy", active)
	if err != nil {
		t.Fatal(err)
	}
	if w, _ := b.WaitResource(30*time.Second, "p_vip", active); w != now {
		t.Fatalf("after failover p_vip on %q, p_dummy on %q", w, now)
	}
	t.Logf("group on %s %.2fs after power-off of %s", now, time.Since(tf).Seconds(), active)
	if !Poll(30*time.Second, 100*time.Millisecond, ping.Once) {
		t.Fatalf("VIP %s does not answer the client after failover", VIP)
	}
	t.Logf("VIP answers ping from the client %.2fs after power-off", time.Since(tf).Seconds())
	// the powered-off node comes back clean: no VIP left over on it
	if err := b.Boot(active); err != nil {
		t.Fatal(err)
	}
	out, err := b.Exec(active, 10*time.Second, nil, "ip", "-o", "addr", "show", "dev", NodeIface)
	if err != nil || strings.Contains(out, VIP+"/") {
		t.Fatalf("rebooted %s: %v %s", active, err, out)
	}
	m, err = b.Mon(now)
	if err != nil {
		t.Fatal(err)
	}
	if on := m.Online(); len(on) != 3 {
		t.Fatalf("after boot online %v", on)
	}
	if w := m.Where("p_vip"); len(w) != 1 {
		t.Fatalf("p_vip active on %v after the reboot of %s", w, active)
	}
}

func TestParseCrmMon(t *testing.T) {
	x := `<?xml version="1.0"?>
<pacemaker-result api-version="2.39" request="crm_mon -1 --output-as=xml">
  <summary><current_dc present="true" version="3.0.0" name="n2" id="2" with_quorum="true"/></summary>
  <nodes>
    <node name="n1" id="1" online="false" standby="false" unclean="false" type="member"/>
    <node name="n2" id="2" online="true" standby="false" unclean="false" type="member"/>
    <node name="n3" id="3" online="true" standby="false" unclean="false" type="member"/>
  </nodes>
  <resources>
    <group id="g_test" number_resources="2" maintenance="false" managed="true" disabled="false">
      <resource id="p_vip" resource_agent="ocf:heartbeat:IPaddr2" role="Started" active="true" orphaned="false" blocked="false" managed="true" failed="false" failure_ignored="false" nodes_running_on="1">
        <node name="n2" id="2" cached="true"/>
      </resource>
      <resource id="p_dummy" resource_agent="ocf:heartbeat:Dummy" role="Stopped" active="false" orphaned="false" blocked="false" managed="true" failed="false" failure_ignored="false" nodes_running_on="0"/>
    </group>
  </resources>
  <status code="0" message="OK"/>
</pacemaker-result>`
	m, err := ParseCrmMon([]byte(x))
	if err != nil {
		t.Fatal(err)
	}
	if on := strings.Join(m.Online(), " "); on != "n2 n3" {
		t.Errorf("online %q", on)
	}
	if w := m.Where("p_vip"); len(w) != 1 || w[0] != "n2" {
		t.Errorf("p_vip on %v", w)
	}
	if w := m.Where("p_dummy"); len(w) != 0 {
		t.Errorf("p_dummy on %v", w)
	}
	if m.Summary.DC.Name != "n2" {
		t.Errorf("DC %q", m.Summary.DC.Name)
	}
}

func TestMembershipLeft(t *testing.T) {
	log := `Nov 26 14:18:49.043 [474] n1 corosync notice  [TOTEM ] A new membership (1.5) was formed. Members joined: 1
Nov 26 14:20:01.500 [474] n1 corosync notice  [TOTEM ] A new membership (1.9) was formed. Members left: 2
Nov 26 14:30:02.250 [474] n1 corosync notice  [TOTEM ] A processor failed, forming new configuration: token timed out (1000ms), waiting 1200ms for consensus.
Nov 26 14:30:03.457 [474] n1 corosync notice  [TOTEM ] A new membership (1.d) was formed. Members left: 2
`
	since := time.Date(2026, 11, 26, 14, 30, 1, 0, time.Local)
	got, ok := membershipLeft(log, since)
	want := time.Date(2026, 11, 26, 14, 30, 3, 457e6, time.Local)
	if !ok || !got.Equal(want) {
		t.Fatalf("got %v %v, want %v", got, ok, want)
	}
	if _, ok := membershipLeft(log, want.Add(time.Second)); ok {
		t.Fatal("found a membership change before since")
	}
}

func TestScaleTimeouts(t *testing.T) {
	in := "op start timeout=60s interval=0s \\\n\top monitor timeout=20s interval=10s\nparams call_drain_timeout=20"
	want := "op start timeout=240s interval=0s \\\n\top monitor timeout=80s interval=10s\nparams call_drain_timeout=20"
	if got := ScaleTimeouts(in, 4); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestAgentOps(t *testing.T) {
	log := `Nov 26 16:49:55.035 n2 pacemaker-execd     [542] (log_finished) 	info: pbx-drbd promote (call 28, PID 2039) exited with status 0 (execution time 4.816s)
Nov 26 16:50:04.000 n2 pacemaker-execd     [542] (log_finished) 	info: pbx-fs monitor (call 29, PID 2040) exited with status 0 (execution time 45ms after being queued 1ms)
Nov 26 16:50:09.967 n2 pacemaker-execd     [542] (log_finished) 	info: pbx-vip start (call 33, PID 2123) exited with status 0 (execution time 612ms after being queued 6ms)
Nov 26 16:51:50.323 n2 pacemaker-execd     [542] (log_finished) 	info: pbx-asterisk start (call 35, PID 2145) exited with status 0 (execution time 1m37.612s after being queued 45ms)
`
	since := time.Date(2026, 11, 26, 16, 50, 0, 0, time.Local)
	got := agentOps(log, since)
	want := []AgentOp{
		{Rsc: "pbx-vip", Op: "start", Exec: 612 * time.Millisecond, End: 9967 * time.Millisecond},
		{Rsc: "pbx-asterisk", Op: "start", Exec: 97612 * time.Millisecond, End: 110323 * time.Millisecond},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestBaselineMarkdownUnknownDetection(t *testing.T) {
	r := &BaselineResult{Mode: "ns", Stack: "s", Runs: []BaselineRun{
		{Active: "n1", VIP: 4 * time.Second, SIP: 5 * time.Second, Detect: 3 * time.Second},
		{Active: "n2", VIP: 6 * time.Second, SIP: 7 * time.Second}, // logs unreadable
	}}
	md := r.Markdown("cmd")
	for _, want := range []string{"| 2 | n2 | – | 6.00 | 7.00 | – | – |", "| **median** (2 runs) | | **3.00** | **5.00** | **6.00** | **1.00** | **2.00** |"} {
		if !strings.Contains(md, want) {
			t.Errorf("missing %q in\n%s", want, md)
		}
	}
	if d, n := r.afterDetect(true); n != 1 || d[0] != time.Second {
		t.Errorf("afterDetect: %v over %d runs, want 1s over 1", d, n)
	}
}
