package asterisk

import (
	"context"
	"errors"
	"fmt"
	"os"
	osuser "os/user"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gocf/gocf/pkg/ocf"
)

// memAsterisk is Asterisk behind the seam, in memory: one process whose
// control socket answers with the recordings of testdata/console. The
// run directory is real (pid file, control socket file for inotify).
type memAsterisk struct {
	mu      sync.Mutex
	rundir  string
	pid     int
	alive   bool
	frozen  bool // the control socket accepts but never answers (a deadlock)
	stopped bool // SIGSTOP
	exited  chan Exit
	gone    chan struct{}
	sent    []string
	signals []string

	// Script.
	dieOnStart *Exit         // exits this way while starting
	bootDelay  time.Duration // the control socket appears after this
	neverBoots bool          // the socket never appears
	answer     string        // "core show channels count" answers this instead
	bannerPID  int           // the banner names another pid
	deaf       bool          // ignores core stop and SIGTERM
	undying    bool          // survives even SIGKILL
	sipErr     error         // SIP never answers
	sipAnswer  string        // the recording of testdata/sip it answers (options-200.txt if empty)
	sipCalls   int
}

func (m *memAsterisk) tools() Tools {
	return Tools{Proc: m, Console: func(string) Console { return m }, ARI: ariInfo,
		SIP: func(ctx context.Context, uri string) (SIPAnswer, error) {
			m.mu.Lock()
			defer m.mu.Unlock()
			m.sipCalls++
			if m.sipErr != nil {
				return SIPAnswer{}, m.sipErr
			}
			name := m.sipAnswer
			if name == "" {
				name = "options-200.txt"
			}
			return recordedSIP(name), nil
		}}
}

func (m *memAsterisk) Start(bin string, args []string, maxfiles uint64) (int, <-chan Exit, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pid, m.alive, m.exited, m.gone = 4242, true, make(chan Exit, 1), make(chan struct{})
	m.sent = append(m.sent, "start "+strings.Join(args, " "))
	if m.dieOnStart != nil {
		e := *m.dieOnStart
		go func() { time.Sleep(20 * time.Millisecond); m.die(e) }()
		return m.pid, m.exited, nil
	}
	os.WriteFile(filepath.Join(m.rundir, "asterisk.pid"), []byte("4242\n"), 0o644)
	if !m.neverBoots {
		delay := m.bootDelay // read here: a test may change it while this boots
		go func() {
			time.Sleep(delay)
			os.WriteFile(filepath.Join(m.rundir, "asterisk.ctl"), nil, 0o644)
		}()
	}
	return m.pid, m.exited, nil
}

// running sets up an Asterisk that was already running.
func (m *memAsterisk) running() {
	m.Start("", nil, 0)
}

func (m *memAsterisk) die(e Exit) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.alive {
		return
	}
	m.alive = false
	m.exited <- e
	close(m.gone)
	os.Remove(filepath.Join(m.rundir, "asterisk.ctl"))
}

func (m *memAsterisk) Running(rundir, bin string) int {
	if pid := readPid(rundir); pid != 0 && m.Alive(pid, bin) {
		return pid
	}
	return 0
}

func (m *memAsterisk) Alive(pid int, bin string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.alive && pid == m.pid
}

func (m *memAsterisk) Wait(ctx context.Context, pid int, bin string) error {
	m.mu.Lock()
	gone := m.gone
	m.mu.Unlock()
	select {
	case <-gone:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (m *memAsterisk) Signal(pid int, sig syscall.Signal) error {
	m.mu.Lock()
	m.signals = append(m.signals, fmt.Sprintf("%d %v", pid, sig))
	deaf := m.deaf
	m.mu.Unlock()
	switch sig {
	case syscall.SIGCONT:
		m.mu.Lock()
		m.frozen, m.stopped = false, false
		m.mu.Unlock()
	case syscall.SIGTERM:
		if !deaf {
			go m.die(Exit{Signal: sig})
		}
	}
	return nil
}

func (m *memAsterisk) KillSession(pid int) error {
	m.mu.Lock()
	m.signals = append(m.signals, fmt.Sprintf("session %d", pid))
	undying := m.undying
	m.mu.Unlock()
	if !undying {
		m.die(Exit{Signal: syscall.SIGKILL})
	}
	return nil
}

func (m *memAsterisk) Stopped(pid int) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.alive && pid == m.pid && m.stopped
}

func (m *memAsterisk) Canaries(rundir, canary string) []int { return nil }

// Command answers as the real control socket does: no socket while
// Asterisk is not up, a deadline when it is frozen, else the recording.
func (m *memAsterisk) Command(ctx context.Context, cmd string) (Banner, string, error) {
	b, err := m.dial(ctx)
	if err != nil {
		return b, "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, cmd)
	switch {
	case cmd == "core show channels count" && m.answer != "":
		return b, m.answer, nil
	case cmd == "core show channels count" || cmd == "core waitfullybooted":
		return b, string(recording(strings.ReplaceAll(cmd, " ", "_") + ".out")), nil
	}
	return b, "", nil
}

func (m *memAsterisk) Send(ctx context.Context, cmd string) (Banner, error) {
	b, err := m.dial(ctx)
	if err != nil {
		return b, err
	}
	m.mu.Lock()
	m.sent = append(m.sent, cmd)
	deaf := m.deaf
	m.mu.Unlock()
	if strings.HasPrefix(cmd, "core stop") && !deaf {
		go m.die(Exit{})
	}
	return b, nil
}

func (m *memAsterisk) dial(ctx context.Context) (Banner, error) {
	path := filepath.Join(m.rundir, "asterisk.ctl")
	if _, err := os.Stat(path); err != nil {
		return Banner{}, &os.PathError{Op: "dial", Path: path, Err: syscall.ECONNREFUSED}
	}
	m.mu.Lock()
	frozen, pid := m.frozen, m.pid
	if m.bannerPID != 0 {
		pid = m.bannerPID
	}
	m.mu.Unlock()
	if frozen {
		<-ctx.Done()
		return Banner{}, fmt.Errorf("no banner on %s (Asterisk hung?): %w", path, os.ErrDeadlineExceeded)
	}
	return parseBanner(fmt.Sprintf("pbx1/%d/%s\n", pid, recording("version")))
}

type memNode struct {
	m   *memAsterisk
	a   *ocf.Agent
	env []string
}

// newMem makes a node whose asterisk.conf puts its directories in a
// temporary directory; the binary is any executable (it is not run).
func newMem(t *testing.T) *memNode {
	t.Helper()
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	rundir, logdir := filepath.Join(dir, "run"), filepath.Join(dir, "log")
	os.Mkdir(rundir, 0o755)
	conf := filepath.Join(dir, "asterisk.conf")
	os.WriteFile(conf, fmt.Appendf(nil, "[directories]\nastrundir => %s\nastlogdir => %s\n", rundir, logdir), 0o644)
	m := &memAsterisk{rundir: rundir}
	user, group := "nobody", "nogroup"
	if os.Geteuid() != 0 { // ownedDir must change nothing then
		u, err := osuser.Current()
		if err != nil {
			t.Skip(err)
		}
		g, err := osuser.LookupGroupId(u.Gid)
		if err != nil {
			t.Skip(err)
		}
		user, group = u.Username, g.Name
	}
	return &memNode{m: m, a: agentWith(m.tools), env: []string{"OCF_RESKEY_binary=/bin/true", "OCF_RESKEY_config=" + conf,
		"OCF_RESKEY_user=" + user, "OCF_RESKEY_group=" + group, "OCF_RESKEY_CRM_meta_timeout=4000"}}
}

func (n *memNode) expect(t *testing.T, want ocf.Status, action string, env ...string) string {
	t.Helper()
	return expect(t, n.a, want, action, append(n.env, env...)...)
}

func TestStartWaitsForBoot(t *testing.T) {
	n := newMem(t)
	n.m.bootDelay = 200 * time.Millisecond
	t0 := time.Now()
	n.expect(t, ocf.Success, "start", "OCF_RESKEY_additional_parameters=-g -L 5", "OCF_RESKEY_maxfiles=4096", "OCF_RESKEY_monitor_sipuri=sip:monitor@127.0.0.1:5060")
	// The socket's creation ends the wait, not a poll interval.
	if d := time.Since(t0); d < 200*time.Millisecond || d > 900*time.Millisecond {
		t.Errorf("start took %s", d)
	}
	if got := strings.Join(n.m.sent, "|"); !strings.HasPrefix(got, "start -f -U ") || !strings.Contains(got, "-g -L 5|core waitfullybooted") || n.m.sipCalls == 0 {
		t.Errorf("%q, %d SIP", got, n.m.sipCalls)
	}
}

func TestStartFailures(t *testing.T) {
	n := newMem(t)
	n.m.dieOnStart = &Exit{Signal: syscall.SIGSEGV}
	if r := n.expect(t, ocf.ErrGeneric, "start"); !strings.HasPrefix(r, "Asterisk was killed by signal 11 (segmentation fault) while starting") {
		t.Errorf("%q", r)
	}
	n = newMem(t)
	n.m.neverBoots = true
	if r := n.expect(t, ocf.ErrGeneric, "start", "OCF_RESKEY_CRM_meta_timeout=1500"); !strings.Contains(r, "not fully booted within the start timeout") {
		t.Errorf("%q", r)
	}
	n = newMem(t)
	n.m.sipErr = errors.New("transaction timeout")
	if r := n.expect(t, ocf.ErrGeneric, "start", "OCF_RESKEY_CRM_meta_timeout=1500", "OCF_RESKEY_monitor_sipuri=sip:monitor@127.0.0.1:5060"); !strings.Contains(r, "did not answer SIP OPTIONS") {
		t.Errorf("%q", r)
	}
	// Start waits for an answer that takes calls: a 500 is waited out
	// until the timeout and then quoted.
	n = newMem(t)
	n.m.sipAnswer = "options-500.txt"
	if r := n.expect(t, ocf.ErrGeneric, "start", "OCF_RESKEY_CRM_meta_timeout=2500", "OCF_RESKEY_monitor_sipuri=sip:monitor@127.0.0.1:5060"); r != `SIP cannot take calls at the start timeout: sip:monitor@127.0.0.1:5060 answered "500 Server Internal Error"` {
		t.Errorf("%q", r)
	}
	if n.m.sipCalls < 2 {
		t.Errorf("start asked SIP %d times: it does not wait", n.m.sipCalls)
	}
	n = newMem(t)
	if r := n.expect(t, ocf.ErrInstalled, "start", "OCF_RESKEY_binary=/nonexistent/asterisk"); !strings.Contains(r, "not found") {
		t.Errorf("%q", r)
	}
	for _, env := range [][]string{{"OCF_RESKEY_config=/nonexistent/asterisk.conf"}, {"OCF_RESKEY_user=no-such-user"}, {"OCF_RESKEY_group=no-such-group"},
		{"OCF_RESKEY_realtime=true", "OCF_RESKEY_canary_binary=/nonexistent/astcanary"},
		{"OCF_RESKEY_ari_url=http://127.0.0.1:1/ari", "OCF_RESKEY_ari_username=u", "OCF_RESKEY_ari_password_file=/nonexistent/pw"}} {
		n.expect(t, ocf.ErrInstalled, "validate-all", env...)
		n.expect(t, ocf.ErrInstalled, "start", env...)
	}
	n.expect(t, ocf.Success, "validate-all")
}

func TestMonitorDepths(t *testing.T) {
	s := ariServer(t, "monitor", "s3cret", nil)
	n := newMem(t)
	n.expect(t, ocf.NotRunning, "monitor")
	n.m.running()
	n.m.bootDelay = 0
	time.Sleep(50 * time.Millisecond)
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("s3cret\nrest\n"), 0o600)
	ari := []string{recurring, "OCF_RESKEY_ari_url=" + s.URL + "/ari", "OCF_RESKEY_ari_username=monitor", "OCF_RESKEY_ari_password_file=" + pw}
	n.expect(t, ocf.Success, "monitor", append(ari, "OCF_CHECK_LEVEL=10")...)
	bad := append(ari, "OCF_CHECK_LEVEL=10", "OCF_RESKEY_ari_password=wrong")
	if r := n.expect(t, ocf.Degraded, "monitor", bad...); r != `Asterisk takes calls but its REST interface fails: ARI refused the credentials of "monitor" (401 Unauthorized)` {
		t.Errorf("%q", r)
	}
	n.expect(t, ocf.Success, "monitor", append(bad, "OCF_CHECK_LEVEL=0")...) // ARI is depth 10

	sip := []string{recurring, "OCF_RESKEY_monitor_sipuri=sip:monitor@127.0.0.1:5060"}
	n.expect(t, ocf.Success, "monitor", sip...)
	calls := n.m.sipCalls
	n.expect(t, ocf.Success, "monitor", append(sip, "OCF_RESKEY_sip_check_depth=20", "OCF_CHECK_LEVEL=10")...)
	if n.m.sipCalls != calls {
		t.Error("SIP checked below sip_check_depth")
	}
	n.m.sipErr = errors.New("transaction timeout")
	if r := n.expect(t, ocf.ErrGeneric, "monitor", sip...); r != "no SIP answer from sip:monitor@127.0.0.1:5060: transaction timeout" {
		t.Errorf("%q", r)
	}
	n.m.sipErr = nil
	// The SIP stack dead while the process and its control socket live:
	// Asterisk 22's recorded 500 to every request once its endpoint
	// identifier modules are unloaded. Only the SIP check sees it.
	n.m.sipAnswer = "options-500.txt"
	if r := n.expect(t, ocf.ErrGeneric, "monitor", sip...); r != `SIP cannot take calls: sip:monitor@127.0.0.1:5060 answered OPTIONS with "500 Server Internal Error"` {
		t.Errorf("%q", r)
	}
	n.expect(t, ocf.Success, "monitor", append(sip, "OCF_RESKEY_sip_check_depth=20", "OCF_CHECK_LEVEL=10")...)
	n.expect(t, ocf.ErrGeneric, "monitor", append(sip, "OCF_RESKEY_sip_check_depth=20", "OCF_CHECK_LEVEL=20")...)
	n.m.sipAnswer = ""

	// An unknown command, and a known one with a wrong argument (its usage).
	for _, name := range []string{"unknown.out", "usage.out"} {
		n.m.answer = string(recording(name))
		if r := n.expect(t, ocf.ErrGeneric, "monitor", recurring); !strings.Contains(r, "unexpected answer") {
			t.Errorf("%s: %q", name, r)
		}
	}
	n.m.answer = ""
	n.m.bannerPID = 777
	_, _, stderr := run(t, n.a, "monitor", append(n.env, recurring)...)
	if !strings.Contains(stderr, "answered by pid 777, the pid file says 4242") {
		t.Errorf("%s", stderr)
	}
	n.m.bannerPID = 0
	os.Remove(filepath.Join(n.m.rundir, "asterisk.ctl"))
	if r := n.expect(t, ocf.ErrGeneric, "monitor", recurring); !strings.Contains(r, "does not answer on its control socket") {
		t.Errorf("%q", r)
	}
	os.WriteFile(filepath.Join(n.m.rundir, "asterisk.ctl"), nil, 0o644)
	n.m.frozen = true
	// The reason names the control socket's own deadline: half of the 6 s.
	r := n.expect(t, ocf.ErrGeneric, "monitor", recurring, "OCF_RESKEY_CRM_meta_timeout=6000")
	var wait time.Duration
	if w, ok := strings.CutPrefix(r, "Asterisk (pid 4242) is hung: no answer on its control socket within "); !ok {
		t.Errorf("%q", r)
	} else if w, ok = strings.CutSuffix(w, " (half the monitor's timeout)"); !ok {
		t.Errorf("%q", r)
	} else if wait, _ = time.ParseDuration(w); wait <= 0 || wait > 3*time.Second {
		t.Errorf("the control socket waited %q, not half of 6s", w)
	}
	n.m.frozen, n.m.stopped = false, true
	if r := n.expect(t, ocf.ErrGeneric, "monitor", recurring); r != "Asterisk (pid 4242) is stopped (SIGSTOP or a tracer): it answers nothing until continued" {
		t.Errorf("%q", r)
	}
	n.m.stopped = false
	// Running, but the configuration is gone from this node.
	n.m.frozen = false
	n.expect(t, ocf.ErrInstalled, "monitor", recurring, "OCF_RESKEY_user=no-such-user")
}

func TestStopSteps(t *testing.T) {
	// Drain: core stop gracefully is enough.
	n := newMem(t)
	n.expect(t, ocf.Success, "stop") // nothing runs
	n.m.running()
	time.Sleep(50 * time.Millisecond)
	n.expect(t, ocf.Success, "stop", "OCF_RESKEY_call_drain_timeout=30")
	if got := strings.Join(n.m.sent[1:], "|"); got != "core show channels count|core stop gracefully" {
		t.Errorf("%q", got)
	}
	if readPid(n.m.rundir) != 0 {
		t.Error("the pid file survived stop")
	}

	// Deaf to core stop: TERM (with CONT), then the session is killed.
	n = newMem(t)
	n.m.running()
	time.Sleep(50 * time.Millisecond)
	n.m.deaf = true
	_, _, stderr := run(t, n.a, "stop", append(n.env, "OCF_RESKEY_CRM_meta_timeout=3000")...)
	if got := strings.Join(n.m.signals, "|"); got != "4242 terminated|4242 continued|session 4242" || !strings.Contains(stderr, "Asterisk killed") {
		t.Errorf("%q\n%s", got, stderr)
	}

	// Frozen: TERM and CONT end it.
	n = newMem(t)
	n.m.running()
	time.Sleep(50 * time.Millisecond)
	n.m.frozen = true
	_, _, stderr = run(t, n.a, "stop", append(n.env, "OCF_RESKEY_CRM_meta_timeout=3000")...)
	if !strings.Contains(stderr, "stopped on SIGTERM") {
		t.Errorf("%s", stderr)
	}

	// Nothing ends it: stop fails and says so.
	n = newMem(t)
	n.m.running()
	time.Sleep(50 * time.Millisecond)
	n.m.deaf, n.m.undying = true, true
	if r := n.expect(t, ocf.ErrGeneric, "stop", "OCF_RESKEY_CRM_meta_timeout=2000"); r != "Asterisk (pid 4242) is still running after TERM and KILL" {
		t.Errorf("%q", r)
	}

	// With its configuration unreadable, stop still finds it.
	n = newMem(t)
	n.m.running()
	time.Sleep(50 * time.Millisecond)
	n.expect(t, ocf.Success, "stop", "OCF_RESKEY_user=no-such-user")
}
