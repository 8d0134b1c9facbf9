package cluster

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gocf/gocf/tests/testbed"
)

// opCount counts the results of action on resource rsc that node n's
// controller logged ("Result of reload-agent operation for ip on n1: OK").
func opCount(t *testing.T, b *testbed.Bed, n, action, rsc string) int {
	t.Helper()
	out, err := b.Sh(n, 10*time.Second, fmt.Sprintf(
		"grep -ciE 'Result of %s operation for %s on ' /var/log/pacemaker/pacemaker.log || true", action, rsc))
	c, cerr := strconv.Atoi(strings.TrimSpace(out))
	if err != nil || cerr != nil {
		t.Fatalf("counting %s of %s on %s: %v %q", action, rsc, n, err, out)
	}
	return c
}

// ops counts the reload-agent, stop and start results of rsc on n.
type ops struct{ reload, stop, start int }

func opsOf(t *testing.T, b *testbed.Bed, n, rsc string) ops {
	t.Helper()
	return ops{opCount(t, b, n, "reload-agent", rsc), opCount(t, b, n, "stop", rsc), opCount(t, b, n, "start", rsc)}
}

// TestReloadAgentUnderPacemaker: Pacemaker 3.0 reads the agents' OCF 1.1
// meta-data, so a change of a reloadable parameter with crm runs
// reload-agent and nothing is restarted (the address stays on the
// interface, Asterisk keeps its pid), while a change of a parameter that is
// not reloadable restarts the resource (and the group after it).
func TestReloadAgentUnderPacemaker(t *testing.T) {
	b := bedFor(t, "GOCF_TESTBED", testbed.Config{Mode: "ns", Nodes: 2, Asterisk: true})
	for _, agent := range []string{"vip", "asterisk"} {
		md, err := b.Exec("n1", 30*time.Second, nil, "crm_resource", "--show-metadata", "ocf:gocf:"+agent)
		if err != nil || !strings.Contains(md, `reloadable="1"`) || !strings.Contains(md, `<action name="reload-agent"`) {
			t.Fatalf("Pacemaker does not get reloadable parameters and reload-agent from %s: %v\n%s", agent, err, md)
		}
	}
	err := b.CrmLoad("n1", `primitive ip ocf:gocf:vip params ip=`+testbed.VIP+` cidr_netmask=24 arp_count=1 op monitor interval=5s timeout=20s
primitive pbx ocf:gocf:asterisk params monitor_sipuri="sip:monitor@`+testbed.VIP+`:5060" op monitor interval=5s timeout=20s op start timeout=60s op stop timeout=60s
group g ip pbx
rsc_defaults resource-stickiness=100
`)
	if err != nil {
		t.Fatal(err)
	}
	active, err := b.WaitResource(90*time.Second, "pbx")
	if err != nil {
		t.Fatal(err)
	}
	settle := func(what string) {
		t.Helper()
		if err := b.WaitSettled(active, 90*time.Second); err != nil {
			t.Fatalf("after %s: %v\n%s", what, err, b.Status())
		}
		if now, err := b.WaitResource(30*time.Second, "pbx"); err != nil || now != active {
			t.Fatalf("after %s the group is on %q (%v), want %s", what, now, err, active)
		}
	}
	settle("start")
	pid := func() string {
		t.Helper()
		out, err := b.Sh(active, 5*time.Second, "cat /var/run/asterisk/asterisk.pid")
		if err != nil || strings.TrimSpace(out) == "" {
			t.Fatalf("Asterisk's pid file on %s: %v %q", active, err, out)
		}
		return strings.TrimSpace(out)
	}
	addr := func() string {
		t.Helper()
		out, _ := b.Sh(active, 5*time.Second, "ip -o -4 addr show | grep -F ' "+testbed.VIP+"/' || true")
		return strings.TrimSpace(out)
	}
	// Every change of the address on the node, from before the first
	// parameter change: a restart of ip removes it (Deleted).
	const addrLog = "/tmp/gtb-reload-addrmon"
	if out, err := b.Sh(active, 10*time.Second, "rm -f "+addrLog+"; setsid -f timeout 900 ip -o monitor address >"+addrLog+" 2>&1 </dev/null"); err != nil {
		t.Fatalf("ip monitor on %s: %v %s", active, err, out)
	}
	time.Sleep(time.Second)
	deleted := func() bool {
		t.Helper()
		out, err := b.Sh(active, 5*time.Second, "cat "+addrLog)
		if err != nil {
			t.Fatalf("%s on %s: %v", addrLog, active, err)
		}
		for l := range strings.Lines(out) {
			if strings.HasPrefix(l, "Deleted") && strings.Contains(l, " "+testbed.VIP+"/") {
				return true
			}
		}
		return false
	}
	pid0, addr0 := pid(), addr()
	t.Logf("group on %s, Asterisk pid %s, %s", active, pid0, addr0)

	// Reloadable: vip's arp_count. reload-agent of ip, nothing restarted.
	ip0, pbx0 := opsOf(t, b, active, "ip"), opsOf(t, b, active, "pbx")
	if out, err := b.Crm(active, 60*time.Second, "resource", "param", "ip", "set", "arp_count", "3"); err != nil {
		t.Fatalf("crm resource param ip set arp_count 3: %v %s", err, out)
	}
	settle("arp_count=3")
	ip1, pbx1 := opsOf(t, b, active, "ip"), opsOf(t, b, active, "pbx")
	if ip1.reload != ip0.reload+1 || ip1.stop != ip0.stop || ip1.start != ip0.start || pbx1 != pbx0 {
		t.Errorf("arp_count: ip reload-agent/stop/start %v -> %v, pbx %v -> %v; want one reload-agent of ip and nothing else\n%s",
			ip0, ip1, pbx0, pbx1, b.NodeLog(active, "var/log/pacemaker/pacemaker.log", 60))
	}
	if p, a := pid(), addr(); p != pid0 || a != addr0 || deleted() {
		t.Errorf("arp_count: Asterisk pid %s -> %s, address %q -> %q, deleted %v: restarted", pid0, p, addr0, a, deleted())
	}

	// Reloadable: asterisk's call_drain_timeout and sip_check_depth (no
	// depth 20 monitor is configured: the SIP check stops).
	for _, kv := range [][2]string{{"call_drain_timeout", "20"}, {"sip_check_depth", "20"}} {
		if out, err := b.Crm(active, 60*time.Second, "resource", "param", "pbx", "set", kv[0], kv[1]); err != nil {
			t.Fatalf("crm resource param pbx set %s %s: %v %s", kv[0], kv[1], err, out)
		}
		settle(kv[0] + "=" + kv[1])
	}
	pbx2 := opsOf(t, b, active, "pbx")
	if pbx2.reload != pbx1.reload+2 || pbx2.stop != pbx1.stop || pbx2.start != pbx1.start {
		t.Errorf("call_drain_timeout, sip_check_depth: pbx reload-agent/stop/start %v -> %v; want two reload-agents\n%s",
			pbx1, pbx2, b.NodeLog(active, "var/log/pacemaker/pacemaker.log", 60))
	}
	if p := pid(); p != pid0 {
		t.Errorf("Asterisk restarted by a reloadable change: pid %s -> %s", pid0, p)
	}
	if out, err := b.Exec(active, 30*time.Second, nil, "crm_resource", "--list-operations", "--resource", "g"); err == nil {
		t.Logf("operations after the reloads:\n%s", out)
	}

	// Not reloadable: vip's cidr_netmask. ip is restarted, and pbx after it.
	ip2 := opsOf(t, b, active, "ip")
	if out, err := b.Crm(active, 60*time.Second, "resource", "param", "ip", "set", "cidr_netmask", "25"); err != nil {
		t.Fatalf("crm resource param ip set cidr_netmask 25: %v %s", err, out)
	}
	settle("cidr_netmask=25")
	ip3, pbx3 := opsOf(t, b, active, "ip"), opsOf(t, b, active, "pbx")
	if ip3.stop != ip2.stop+1 || ip3.start != ip2.start+1 || ip3.reload != ip2.reload {
		t.Errorf("cidr_netmask: ip reload-agent/stop/start %v -> %v; want one stop and one start\n%s",
			ip2, ip3, b.NodeLog(active, "var/log/pacemaker/pacemaker.log", 60))
	}
	if pbx3.stop != pbx2.stop+1 || pbx3.start != pbx2.start+1 {
		t.Errorf("cidr_netmask: pbx reload-agent/stop/start %v -> %v; the group's restart restarts it", pbx2, pbx3)
	}
	if a := addr(); !strings.Contains(a, " "+testbed.VIP+"/25 ") {
		t.Errorf("after the restart the address is %q, want %s/25", a, testbed.VIP)
	}
	if !deleted() {
		t.Errorf("ip monitor saw no removal of %s in the restart: it did not watch, so the reload checks above prove less", testbed.VIP)
	}
	if p := pid(); p == pid0 {
		t.Errorf("Asterisk kept pid %s through the group's restart", p)
	}
}
