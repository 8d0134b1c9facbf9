package tests

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gocf/gocf/tests/lab"
	"github.com/gocf/gocf/tests/sipp"
	"github.com/gocf/gocf/tests/testbed"
)

// Issue 16's call counting, without the cluster: real SIPp calls to a real
// Asterisk 22 configured as the test bed configures it (the transport on
// the VIP, extension 100 holding calls, ep200 registering and extension 200
// calling it), in the chroot's own network namespace, where a veth link
// carries the VIP and the client's address.
//
//   - 6 calls at 2/s held 3 s: all successful;
//   - ep200 registers once; a call to 200 reaches the UAS behind it;
//   - Asterisk SIGKILLed while calls are up: those are cut, the calls
//     attempted afterwards fail;
//   - Asterisk restarted (same astdb): a call to 200 reaches the UAS
//     without a new REGISTER.
func TestSIPpCalls(t *testing.T) {
	lab.RequireRoot(t)
	sippBin := lab.RequireTool(t, "sipp")
	c := newAstChroot(t)

	conf := t.TempDir()
	for name, content := range testbed.AsteriskConfig() {
		p := filepath.Join(conf, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		c.root.CopyIn(t, p, "/etc/asterisk/"+name)
	}
	ip := func(args ...string) {
		lab.Run(t, "nsenter", append([]string{"-t", c.pid, "-n", "--", "ip"}, args...)...)
	}
	// A veth pair with both ends inside (this kernel has no dummy links).
	ip("link", "add", "h16-lan", "type", "veth", "peer", "name", "h16-lan-peer")
	ip("addr", "add", testbed.VIP+"/24", "dev", "h16-lan")
	ip("addr", "add", testbed.ClientIP+"/24", "dev", "h16-lan")
	ip("link", "set", "h16-lan-peer", "up")
	ip("link", "set", "h16-lan", "up")

	a := c.agent(map[string]string{"monitor_sipuri": "sip:monitor@" + testbed.VIP + ":5060", "sip_check_depth": "20"})
	start := func() {
		t0 := time.Now()
		a.Expect(t, 0, "start", "OCF_RESKEY_CRM_meta_timeout=60000")
		t.Logf("Asterisk started and answering SIP in %.1fs", time.Since(t0).Seconds())
	}
	start()

	// SIPp's files; GOCF_SIPP_DIR keeps them.
	runs := os.Getenv("GOCF_SIPP_DIR")
	if runs == "" {
		runs = t.TempDir()
	}
	target := testbed.VIP + ":5060"
	launch := func(name string, cfg sipp.Config) *sipp.Process {
		t.Helper()
		cfg.Prefix = []string{"nsenter", "-t", c.pid, "-n", "--"}
		cfg.Binary = sippBin
		cfg.Dir = filepath.Join(runs, name)
		cfg.LocalIP = testbed.ClientIP
		p, err := sipp.Start(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Stop(time.Second) })
		return p
	}
	finish := func(p *sipp.Process, bound time.Duration) *sipp.Result {
		t.Helper()
		code, err := p.Wait(bound)
		log, _ := os.ReadFile(filepath.Join(p.Config.Dir, sipp.LogFile))
		if err != nil || code > 1 {
			p.Stop(time.Second)
			t.Fatalf("sipp %s (exit %d): %v\n%s", p.Config.Scenario, code, err, tail(log, 3000))
		}
		r, err := p.Result()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: exit %d, attempted %d, successful %d, failed %d, cut %d, open %d, set-ups %d",
			filepath.Base(p.Config.Dir), code, r.Attempted, r.Successful, r.Failed, r.Cut, r.Open, len(r.SetUps))
		return r
	}
	calls := func(name, ext string, n int, hold time.Duration) sipp.Config {
		return sipp.Config{Scenario: sipp.UACCall, Target: target, Service: ext, LocalPort: 5061, MediaPort: 7000,
			Rate: 2, Limit: 20, Calls: n, Hold: hold, RecvTimeout: 3 * time.Second, Timeout: 60 * time.Second}
	}
	want := func(r *sipp.Result, attempted, successful, failed, cut int) {
		t.Helper()
		if r.Attempted != attempted || r.Successful != successful || r.Failed != failed || r.Cut != cut || r.Open != 0 {
			t.Errorf("attempted %d, successful %d, failed %d, cut %d, open %d; want %d, %d, %d, %d, 0",
				r.Attempted, r.Successful, r.Failed, r.Cut, r.Open, attempted, successful, failed, cut)
		}
	}

	// 6 calls, 2/s, held 3 s.
	r := finish(launch("hold", calls("hold", testbed.HoldExtension, 6, 3*time.Second)), 30*time.Second)
	want(r, 6, 6, 0, 0)
	if len(r.SetUps) != 6 {
		t.Errorf("%d set-up times, want 6", len(r.SetUps))
	}
	for _, s := range r.SetUps {
		if s.Duration > time.Second {
			t.Errorf("set-up took %v", s.Duration)
		}
	}

	// ep200's phone, for two calls (before the kill and after the
	// restart), and its one registration.
	contact := testbed.ClientIP + ":5070"
	uas := launch("uas", sipp.Config{Scenario: sipp.UASAnswer, Service: testbed.EndpointUser, LocalPort: 5070,
		MediaPort: 7010, Calls: 2, Timeout: 150 * time.Second})
	reg := finish(launch("register", sipp.Config{Scenario: sipp.Register, Target: target, Service: testbed.EndpointUser,
		LocalPort: 5072, MediaPort: 7020, Calls: 1, RecvTimeout: 5 * time.Second, Timeout: 15 * time.Second,
		Vars: map[string]string{"contact": contact, "expires": "3600"}}), 20*time.Second)
	want(reg, 1, 1, 0, 0)
	if out := c.rxDefault(t, "pjsip show contacts"); !strings.Contains(out, testbed.EndpointUser+"/sip:"+testbed.EndpointUser+"@"+contact) {
		t.Errorf("ep200's contact is not registered:\n%s", out)
	}
	r = finish(launch("call200", calls("call200", testbed.EndpointExtension, 1, 2*time.Second)), 30*time.Second)
	want(r, 1, 1, 0, 0)

	// Asterisk dies while 10 calls held 5 s are being made: the first
	// ones are up.
	kp := launch("kill", calls("kill", testbed.HoldExtension, 10, 5*time.Second))
	time.Sleep(3200 * time.Millisecond)
	killed := time.Now()
	pids := c.pidsOf(t, "asterisk")
	if len(pids) == 0 {
		t.Fatal("no asterisk process")
	}
	for _, p := range pids {
		syscall.Kill(p, syscall.SIGKILL)
	}
	for deadline := time.Now().Add(10 * time.Second); len(c.pidsOf(t, "asterisk")) > 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("asterisk still there 10 s after SIGKILL")
		}
	}
	r = finish(kp, 45*time.Second)
	up := 0
	for _, s := range r.SetUps {
		if s.Time.Before(killed) {
			up++
		}
	}
	t.Logf("SIGKILL %v after SIPp started; %d calls were up", killed.Sub(r.Start).Round(time.Millisecond), up)
	if up < 3 {
		t.Errorf("only %d calls were up at the kill", up)
	}
	want(r, 10, 0, 10-up, up)
	for _, s := range r.Seconds {
		if (s.Cut > 0 || s.Failed > 0) && s.Time.Before(killed) {
			t.Errorf("calls lost before the kill: %+v", s)
		}
	}

	// Restarted on the same /var/lib/asterisk: the contact is back from
	// astdb, and ep200 is called without registering again.
	start()
	if out := c.rxDefault(t, "pjsip show contacts"); !strings.Contains(out, testbed.EndpointUser+"/sip:"+testbed.EndpointUser+"@"+contact) {
		t.Errorf("ep200's contact is gone after the restart:\n%s", out)
	}
	r = finish(launch("call200-after", calls("call200-after", testbed.EndpointExtension, 1, 2*time.Second)), 30*time.Second)
	want(r, 1, 1, 0, 0)
	u := finish(uas, 20*time.Second)
	want(u, 2, 2, 0, 0)
	a.Expect(t, 0, "stop")
}

// rxDefault runs an Asterisk CLI command against the Asterisk of the
// default configuration (/etc/asterisk).
func (c *astChroot) rxDefault(t *testing.T, cmd string) string {
	t.Helper()
	return lab.Run(t, c.enter[0], append(c.enter[1:], "asterisk", "-rx", cmd)...)
}

// pidsOf lists, as host PIDs, the live processes named comm in the
// chroot's PID namespace (zombies left: its init, sleep, reaps none).
func (c *astChroot) pidsOf(t *testing.T, comm string) []int {
	t.Helper()
	ns, err := os.Readlink("/proc/" + c.pid + "/ns/pid")
	if err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if l, _ := os.Readlink("/proc/" + e.Name() + "/ns/pid"); l != ns {
			continue
		}
		// /proc/N/stat: "N (comm) S ...", comm possibly with spaces.
		b, _ := os.ReadFile("/proc/" + e.Name() + "/stat")
		open, end := strings.IndexByte(string(b), '('), strings.LastIndexByte(string(b), ')')
		if open < 0 || end < open || len(b) < end+3 {
			continue
		}
		if string(b[open+1:end]) == comm && b[end+2] != 'Z' {
			pids = append(pids, n)
		}
	}
	return pids
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
