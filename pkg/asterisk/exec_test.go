package asterisk

import (
	"bytes"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gocf/gocf/pkg/ocf"
)

// run runs one action through the SDK as Pacemaker would and returns the
// status, the exit reason and all of stderr.
func run(t *testing.T, a *ocf.Agent, action string, env ...string) (ocf.Status, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	// The tests give start timeouts of 1.5-2.5 s, which leave an action 75-125 ms between its
	// context's end and the watchdog: a loaded machine (make check beside a bed) can take
	// that long to schedule it. What must not happen is an action that ignores its context.
	var fired atomic.Int64 // the watchdog's time, in Unix ns; it runs on its own goroutine
	st := ocf.Run(a, []string{"asterisk", action}, env, &stdout, &stderr, func(code int) {
		fired.Store(time.Now().UnixNano())
		t.Logf("watchdog exit %d", code)
	})
	if f := fired.Load(); f != 0 && time.Since(time.Unix(0, f)) > 2*time.Second {
		t.Errorf("%s ran on %v after the watchdog: it ignores its context", action, time.Since(time.Unix(0, f)).Round(time.Millisecond))
	}
	reason := ""
	for l := range strings.Lines(stderr.String()) {
		if r, ok := strings.CutPrefix(l, "ocf-exit-reason:"); ok {
			reason = strings.TrimSpace(r)
		}
	}
	return st, reason, stderr.String()
}

func expect(t *testing.T, a *ocf.Agent, want ocf.Status, action string, env ...string) string {
	t.Helper()
	st, reason, stderr := run(t, a, action, env...)
	if st != want {
		t.Fatalf("%s returned %d (%s), want %d:\n%s", action, int(st), reason, int(want), stderr)
	}
	return reason
}

const recurring = "OCF_RESKEY_CRM_meta_interval=10000"

// An Asterisk that exits while starting is reported by how it exited; a
// clean exit is status 0, not "<nil>".
func TestStartExitStatus(t *testing.T) {
	asRoot(t)
	for code, want := range map[string]string{"0": "Asterisk exited with status 0 while starting", "3": "Asterisk exited with status 3 while starting"} {
		f := newFakeNode(t, "exit:"+code)
		reason := expect(t, Agent(), ocf.ErrGeneric, "start", append(f.env, "OCF_RESKEY_CRM_meta_timeout=5000")...)
		if !strings.HasPrefix(reason, want) || strings.Contains(reason, "nil") || !strings.Contains(reason, f.logdir+"/messages") {
			t.Errorf("exit %s: %q", code, reason)
		}
	}
}

// deadSIP returns a SIP URI on a loopback port nothing answers on.
func deadSIP(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := c.LocalAddr().String()
	c.Close()
	return "sip:monitor@" + addr
}

// With monitor_sipuri set every monitor checks SIP, as
// ocf:heartbeat:asterisk does; sip_check_depth=20 keeps it to depth 20.
func TestSIPCheckDepth(t *testing.T) {
	asRoot(t)
	f := newFakeNode(t, "serve")
	a := Agent()
	expect(t, a, ocf.Success, "start", f.env...)
	sip := "OCF_RESKEY_monitor_sipuri=" + deadSIP(t)
	env := append(f.env, recurring, "OCF_RESKEY_CRM_meta_timeout=3000", sip)
	reason := expect(t, a, ocf.ErrGeneric, "monitor", env...)
	if !strings.Contains(reason, "no SIP answer") {
		t.Errorf("reason %q", reason)
	}
	expect(t, a, ocf.Success, "monitor", append(env, "OCF_RESKEY_sip_check_depth=20")...)
	expect(t, a, ocf.ErrGeneric, "monitor", append(env, "OCF_RESKEY_sip_check_depth=20", "OCF_CHECK_LEVEL=20")...)
	expect(t, a, ocf.Success, "stop", f.env...)
}

// The exec implementations end to end: start, monitor, the pid file,
// realtime's canary, a frozen Asterisk, drain, TERM ignored.
func TestExecLifecycle(t *testing.T) {
	asRoot(t)
	a := Agent()
	f := newFakeNode(t, "serve")
	expect(t, a, ocf.NotRunning, "monitor", f.env...)
	env := append(f.env, "OCF_RESKEY_realtime=true")
	expect(t, a, ocf.Success, "start", env...)
	expect(t, a, ocf.Success, "start", env...) // already running
	pid := readPid(f.rundir)
	// The canary is Asterisk's child: give a loaded machine a moment.
	for i := 0; i < 50 && len(canaries(f.rundir, "astcanary")) == 0; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if !isAsterisk(pid, "asterisk") || len(canaries(f.rundir, "astcanary")) != 1 {
		t.Fatalf("pid %d, canaries %v", pid, canaries(f.rundir, "astcanary"))
	}
	expect(t, a, ocf.Success, "monitor", append(env, recurring)...)
	syscall.Kill(canaries(f.rundir, "astcanary")[0], syscall.SIGKILL)
	time.Sleep(100 * time.Millisecond)
	if r := expect(t, a, ocf.ErrGeneric, "monitor", append(env, recurring)...); !strings.Contains(r, "canary") {
		t.Errorf("reason %q", r)
	}

	// Frozen by SIGSTOP: seen in /proc at once, not at the timeout; stop
	// still stops it.
	syscall.Kill(pid, syscall.SIGSTOP)
	for i := 0; i < 50 && procState(pid) != 'T'; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	t0 := time.Now()
	if r := expect(t, a, ocf.ErrGeneric, "monitor", append(env, recurring, "OCF_RESKEY_CRM_meta_timeout=20000")...); !strings.Contains(r, "is stopped (SIGSTOP") {
		t.Errorf("reason %q", r)
	}
	if time.Since(t0) > 2*time.Second {
		t.Errorf("the monitor took %s", time.Since(t0))
	}
	expect(t, a, ocf.Success, "stop", append(env, "OCF_RESKEY_CRM_meta_timeout=20000")...)
	if isAsterisk(pid, "asterisk") || readPid(f.rundir) != 0 {
		t.Fatal("Asterisk or its pid file survived stop")
	}
	expect(t, a, ocf.NotRunning, "monitor", append(env, recurring)...)
	expect(t, a, ocf.Success, "stop", env...)
}

func TestExecDrainAndKill(t *testing.T) {
	asRoot(t)
	a := Agent()
	f := newFakeNode(t, "serve call=400ms")
	expect(t, a, ocf.Success, "start", f.env...)
	_, _, stderr := run(t, a, "stop", append(f.env, "OCF_RESKEY_call_drain_timeout=10")...)
	if !strings.Contains(stderr, "Asterisk has 1 active calls") || !strings.Contains(stderr, "after its calls ended") {
		t.Errorf("stop did not let the call end:\n%s", stderr)
	}

	f = newFakeNode(t, "serve ignore-term")
	expect(t, a, ocf.Success, "start", f.env...)
	pid := readPid(f.rundir)
	st, _, stderr := run(t, a, "stop", append(f.env, "OCF_RESKEY_CRM_meta_timeout=6000")...)
	if st != ocf.Success || !strings.Contains(stderr, "Asterisk killed") || isAsterisk(pid, "asterisk") {
		t.Errorf("stop %d:\n%s", st, stderr)
	}
}
