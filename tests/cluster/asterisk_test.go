package cluster

import (
	"strings"
	"testing"
	"time"

	"github.com/gocf/gocf/tests/testbed"
)

// testAsterisk is an Asterisk configuration of the test's own, next to the
// image's: pjsip on the node's address, ARI on loopback, a dialplan context
// whose calls last a few seconds, and the CLI originate command.
var testAsterisk = map[string]string{
	"asterisk.conf": "[directories]\nastetcdir => /etc/gocf-test\n[options]\n",
	"modules.conf": testbed.AsteriskModules + `load => res_http_websocket.so
load => res_websocket_client.so
load => res_stasis.so
load => res_ari.so
load => res_ari_model.so
load => res_ari_asterisk.so
load => res_clioriginate.so
`,
	"http.conf": "[general]\nenabled=yes\nbindaddr=127.0.0.1\nbindport=8088\n",
	"ari.conf":  "[general]\nenabled=yes\n[monitor]\ntype=user\nread_only=yes\npassword=s3cret\n",
	"extensions.conf": `[test]
exten => monitor,1,Hangup()
exten => hold,1,Answer()
 same => n,Wait(4)
 same => n,Hangup()
`,
	"pjsip.conf": `[global]
type=global
endpoint_identifier_order=ip,anonymous
[transport-udp]
type=transport
protocol=udp
bind=NODEIP:5060
[anonymous]
type=endpoint
context=test
disallow=all
allow=ulaw
`,
}

// installTestAsterisk writes the configuration to /etc/gocf-test on n, on
// top of a copy of the image's /etc/asterisk.
func installTestAsterisk(t *testing.T, b *testbed.Bed, n string) {
	t.Helper()
	if out, err := b.Sh(n, 20*time.Second, "mkdir -p /etc/gocf-test && cp -a /etc/asterisk/. /etc/gocf-test/"); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	for name, content := range testAsterisk {
		content = strings.ReplaceAll(content, "NODEIP", testbed.NodeIP(n))
		if out, err := b.Exec(n, 10*time.Second, []byte(content), "/bin/sh", "-c", "cat > /etc/gocf-test/"+name); err != nil {
			t.Fatalf("%v %s", err, out)
		}
	}
	// Asterisk reads its configuration after dropping to its user.
	if out, err := b.Sh(n, 10*time.Second, "chmod -R a+rX /etc/gocf-test"); err != nil {
		t.Fatalf("%v %s", err, out)
	}
}

func astctl(t *testing.T, b *testbed.Bed, n, cmd string) string {
	t.Helper()
	out, err := b.Exec(n, 10*time.Second, nil, "asterisk", "-C", "/etc/gocf-test/asterisk.conf", "-rx", cmd)
	if err != nil {
		t.Fatalf("asterisk -rx %q on %s: %v %s", cmd, n, err, out)
	}
	return out
}

// TestAsteriskAgent: the agent against the real Asterisk 22 on a node,
// running, stopped, killed and frozen, at every depth, with a real SIP
// exchange, ARI, and a call that stop lets finish.
func TestAsteriskAgent(t *testing.T) {
	b := bedFor(t, "GOCF_TESTBED", testbed.Config{Mode: "ns", Nodes: 2})
	n := "n1"
	installTestAsterisk(t, b, n)
	p := map[string]string{
		"config":         "/etc/gocf-test/asterisk.conf",
		"monitor_sipuri": "sip:monitor@" + testbed.NodeIP(n) + ":5060",
		"ari_url":        "http://127.0.0.1:8088/ari", "ari_username": "monitor", "ari_password": "s3cret",
	}
	recurring := "OCF_RESKEY_CRM_meta_interval=10000"

	// ocf-tester from the node, on the installed agent.
	out, err := b.Exec(n, 3*time.Minute, nil, "ocf-tester", "-n", "ast", "-o", "config=/etc/gocf-test/asterisk.conf",
		"-o", "monitor_sipuri="+p["monitor_sipuri"], "/usr/lib/ocf/resource.d/gocf/asterisk")
	t.Logf("ocf-tester:\n%s", out)
	if err != nil || !strings.Contains(out, "passed all tests") {
		t.Fatalf("ocf-tester failed: %v", err)
	}

	expect(t, b, n, "asterisk", "monitor", 7, p)
	expect(t, b, n, "asterisk", "start", 0, p)
	for _, depth := range []string{"0", "10", "20"} {
		expect(t, b, n, "asterisk", "monitor", 0, p, recurring, "OCF_CHECK_LEVEL="+depth)
	}
	expect(t, b, n, "asterisk", "start", 0, p) // already running

	// A real SIP exchange from the other node: OPTIONS answered.
	if out, err := b.Exec("n2", 10*time.Second, nil, "sipsak", "-s", p["monitor_sipuri"]); err != nil {
		t.Fatalf("sipsak from n2: %v %s", err, out)
	}

	// ARI refusing the monitor user: calls still work, so degraded (190).
	bad := map[string]string{}
	for k, v := range p {
		bad[k] = v
	}
	bad["ari_password"] = "wrong"
	out = expect(t, b, n, "asterisk", "monitor", 190, bad, recurring, "OCF_CHECK_LEVEL=10")
	if !strings.Contains(out, "ocf-exit-reason:") {
		t.Error("a degraded monitor must say why")
	}
	// SIP not answering (nothing listens there) is a failure.
	nosip := map[string]string{}
	for k, v := range p {
		nosip[k] = v
	}
	nosip["monitor_sipuri"] = "sip:monitor@" + testbed.NodeIP(n) + ":5099"
	expect(t, b, n, "asterisk", "monitor", 1, nosip, recurring, "OCF_CHECK_LEVEL=20", "OCF_RESKEY_CRM_meta_timeout=5000")

	// A call in progress is allowed to finish when stop drains.
	astctl(t, b, n, "channel originate Local/hold@test application Wait 4")
	if c := astctl(t, b, n, "core show channels count"); !strings.Contains(c, "1 active call") {
		t.Fatalf("no call in progress: %q", c)
	}
	drain := map[string]string{"call_drain_timeout": "20"}
	for k, v := range p {
		drain[k] = v
	}
	t0 := time.Now()
	out = expect(t, b, n, "asterisk", "stop", 0, drain)
	if !strings.Contains(out, "after its calls ended") || time.Since(t0) < 2*time.Second {
		t.Errorf("stop did not let the call end:\n%s", out)
	}
	expect(t, b, n, "asterisk", "monitor", 7, p, recurring)
	expect(t, b, n, "asterisk", "stop", 0, p)

	// Killed: not running, and start brings it back.
	expect(t, b, n, "asterisk", "start", 0, p)
	if out, err := b.Sh(n, 10*time.Second, "kill -9 $(cat /var/run/asterisk/asterisk.pid)"); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	time.Sleep(300 * time.Millisecond) // the kernel reaps asynchronously
	expect(t, b, n, "asterisk", "monitor", 7, p, recurring)
	expect(t, b, n, "asterisk", "start", 0, p)

	// Frozen (SIGSTOP): the monitor sees the stopped process at once; stop still works.
	if out, err := b.Sh(n, 10*time.Second, "kill -STOP $(cat /var/run/asterisk/asterisk.pid)"); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	out = expect(t, b, n, "asterisk", "monitor", 1, p, recurring, "OCF_RESKEY_CRM_meta_timeout=4000")
	if !strings.Contains(out, "is stopped (SIGSTOP") {
		t.Errorf("a SIGSTOPped Asterisk should be called stopped:\n%s", out)
	}
	expect(t, b, n, "asterisk", "stop", 0, p, "OCF_RESKEY_CRM_meta_timeout=20000")
	if out, _ := b.Sh(n, 10*time.Second, "pgrep -x asterisk || true"); strings.TrimSpace(out) != "" {
		t.Fatalf("Asterisk processes remain after stop: %s", out)
	}

	// Bad values: 6 everywhere, never a start.
	for _, kv := range [][2]string{{"config", "relative.conf"}, {"additional_parameters", "-C /tmp/x"}, {"monitor_sipuri", "nope"},
		{"ari_url", "ftp://x"}, {"maxfiles", "12"}, {"call_drain_timeout", "-1"}, {"realtime", "sometimes"}} {
		q := map[string]string{}
		for k, v := range p {
			q[k] = v
		}
		q[kv[0]] = kv[1]
		expect(t, b, n, "asterisk", "validate-all", 6, q)
		expect(t, b, n, "asterisk", "start", 6, q)
	}
	missing := map[string]string{"config": "/etc/gocf-test/none.conf"}
	expect(t, b, n, "asterisk", "validate-all", 5, missing)
	expect(t, b, n, "asterisk", "monitor", 7, missing)
}

// TestAsteriskUnderPacemaker: kill -9 of Asterisk is recovered by the
// cluster; power-off of the active node moves the PBX, and Asterisk answers
// SIP OPTIONS on the VIP from the other node.
func TestAsteriskUnderPacemaker(t *testing.T) {
	b := bedFor(t, "GOCF_TESTBED", testbed.Config{Mode: "ns", Nodes: 2, Asterisk: true})
	err := b.CrmLoad("n1", `primitive ip ocf:gocf:vip params ip=`+testbed.VIP+` cidr_netmask=24 op monitor interval=5s timeout=20s
primitive pbx ocf:gocf:asterisk params monitor_sipuri="sip:monitor@`+testbed.VIP+`:5060" op monitor interval=3s timeout=20s op monitor interval=10s timeout=20s OCF_CHECK_LEVEL=20 op start timeout=60s op stop timeout=60s
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
	sip := testbed.NewProber(b.SIPProbe(), 100*time.Millisecond, time.Second, 2*time.Minute)
	if !testbed.Poll(30*time.Second, 200*time.Millisecond, sip.Once) {
		t.Fatal("Asterisk does not answer SIP OPTIONS on the VIP")
	}
	t.Logf("PBX on %s:\n%s", active, b.Status())
	pid1, _ := b.Sh(active, 5*time.Second, "cat /var/run/asterisk/asterisk.pid")
	if out, err := b.Sh(active, 5*time.Second, "kill -9 "+strings.TrimSpace(pid1)); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	tk := time.Now()
	var pid2 string
	if !testbed.Poll(60*time.Second, 200*time.Millisecond, func() bool {
		pid2, _ = b.Sh(active, 5*time.Second, "cat /var/run/asterisk/asterisk.pid 2>/dev/null")
		return strings.TrimSpace(pid2) != "" && pid2 != pid1 && sip.Once()
	}) {
		ps, _ := b.Sh(active, 5*time.Second, "ps -eo pid,stat,cmd | grep [a]sterisk")
		t.Fatalf("Pacemaker did not restart Asterisk after kill -9 (pid %s)\n%s\n%s", strings.TrimSpace(pid1), ps, b.Status())
	}
	t.Logf("Asterisk restarted by the cluster and answering SIP %.2fs after kill -9", time.Since(tk).Seconds())
	if err := b.PowerOff(active); err != nil {
		t.Fatal(err)
	}
	tf := time.Now()
	now, err := b.WaitResource(90*time.Second, "pbx", active)
	if err != nil {
		t.Fatal(err)
	}
	if !testbed.Poll(30*time.Second, 100*time.Millisecond, sip.Once) {
		t.Fatal("Asterisk does not answer SIP OPTIONS on the VIP after the failover")
	}
	t.Logf("PBX on %s, answering SIP on the VIP %.2fs after the power-off of %s", now, time.Since(tf).Seconds(), active)
}
