package ocf

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperEnv makes the test binary, re-executed by Spawn, run helperAgent.
const helperEnv = "GOCF_OCF_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(int(Run(helperAgent(), os.Args, os.Environ(), io.Discard, io.Discard, os.Exit)))
	}
	os.Exit(m.Run())
}

func helperAgent() *Agent {
	a := testAgent()
	a.Helpers = []Helper{{Name: "sleeper", Timeout: time.Minute, Run: func(ctx context.Context, _ []string, _ *Logger) Status {
		<-ctx.Done()
		return Success
	}}}
	return a
}

// stateRequest is a request of helperAgent, instance x, with HA_RSCTMP=base.
func stateRequest(base string) *Request {
	env := []string{"HA_RSCTMP=" + base, "OCF_RESOURCE_INSTANCE=x", helperEnv + "=1"}
	return &Request{Agent: helperAgent(), Instance: "x", environ: env, getenv: lookupIn(env),
		Log: newLogger(io.Discard, "demo", "x", false)}
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

func TestStateDirRefusesUnsafe(t *testing.T) {
	requireRoot(t)
	for _, tc := range []struct {
		name, want string
		make       func(t *testing.T, dir string)
	}{
		{"symlink", "symbolic link", func(t *testing.T, dir string) {
			if err := os.Symlink(t.TempDir(), dir); err != nil {
				t.Fatal(err)
			}
		}},
		{"file", "not a directory", func(t *testing.T, dir string) {
			if err := os.WriteFile(dir, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"group-writable", "writable by group or others", func(t *testing.T, dir string) {
			mkdirMode(t, dir, 0o770)
		}},
		{"world-writable", "writable by group or others", func(t *testing.T, dir string) {
			mkdirMode(t, dir, 0o1777)
		}},
		{"other-owner", "owned by uid 4321", func(t *testing.T, dir string) {
			mkdirMode(t, dir, 0o700)
			if err := os.Chown(dir, 4321, 4321); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			r := stateRequest(base)
			dir := filepath.Join(base, "gocf-demo-x")
			tc.make(t, dir)
			if _, err := r.StateDir(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("StateDir: %v, want an error saying %q", err, tc.want)
			}
			if err := r.WriteState("f", []byte("x")); err == nil {
				t.Error("WriteState wrote into an unsafe state directory")
			}
			if _, err := os.Lstat(filepath.Join(dir, "f")); err == nil {
				t.Error("a state file appeared in the unsafe directory")
			}
			if _, err := r.Spawn("sleeper"); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Spawn: %v", err)
			}
		})
	}
}

func mkdirMode(t *testing.T, dir string, mode os.FileMode) {
	t.Helper()
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
}

// The agent creates HA_RSCTMP when missing, and only as a safe directory.
func TestStateDirCreatesBase(t *testing.T) {
	base := filepath.Join(t.TempDir(), "run", "resource-agents")
	r := stateRequest(base)
	dir, err := r.StateDir()
	if err != nil || dir != filepath.Join(base, "gocf-demo-x") {
		t.Fatalf("%q %v", dir, err)
	}
	for _, d := range []string{base, dir} {
		fi, err := os.Lstat(d)
		if err != nil || !fi.IsDir() || fi.Mode().Perm()&0o022 != 0 {
			t.Errorf("%s: %v %v", d, fi.Mode(), err)
		}
	}
}

func TestStateFiles(t *testing.T) {
	base := t.TempDir()
	r := stateRequest(base)
	if _, err := r.ReadState("f"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if err := r.WriteState("f", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteState("f", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if b, err := r.ReadState("f"); err != nil || string(b) != "1" {
		t.Errorf("read back %q %v", b, err)
	}
	if fi, err := os.Stat(filepath.Join(base, "gocf-demo-x", "f")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v %v", fi.Mode(), err)
	}
	if err := r.RemoveState("f"); err != nil {
		t.Error(err)
	}
	if err := r.RemoveState("f"); err != nil {
		t.Errorf("removing a missing file: %v", err)
	}
	for _, bad := range []string{"", ".", "..", "../f", "a/b", "a\x00b"} {
		if err := r.WriteState(bad, nil); err == nil {
			t.Errorf("WriteState(%q) accepted", bad)
		}
	}
}

// A link in the state directory is never followed: not to write, not to
// read, not to remove what it points to.
func TestStateFileLinksNotFollowed(t *testing.T) {
	base := t.TempDir()
	r := stateRequest(base)
	dir, err := r.StateDir()
	if err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "outside")
	if err := os.WriteFile(outside, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "sym")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(outside, filepath.Join(dir, "hard")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"sym", "hard"} {
		if err := r.WriteState(name, []byte("evil")); err == nil {
			t.Errorf("%s: written", name)
		}
		if b, err := r.ReadState(name); err == nil {
			t.Errorf("%s: read %q through it", name, b)
		}
	}
	if b, _ := os.ReadFile(outside); string(b) != "keep" {
		t.Errorf("written through a link: %q", b)
	}
	// A pid file that is a link is no pid file.
	if err := os.Symlink(outside, filepath.Join(dir, "sleeper.pid")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Spawn("sleeper"); err == nil {
		t.Error("Spawn wrote its pid through a link")
	}
	if b, _ := os.ReadFile(outside); string(b) != "keep" {
		t.Errorf("pid written through a link: %q", b)
	}
	if err := r.RemoveState("sym"); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(outside); err != nil {
		t.Errorf("removing the link removed its target: %v", err)
	}
}

// reap waits for a child and tells which signal ended it (0: none).
func reap(t *testing.T, pid int) syscall.Signal {
	t.Helper()
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
		t.Fatalf("wait %d: %v", pid, err)
	}
	if ws.Signaled() {
		return ws.Signal()
	}
	return 0
}

// recordPid writes a pid file for helper name naming cmd's process, with
// its true start time: only the process itself can tell it is no helper.
func recordPid(t *testing.T, r *Request, name string, pid int) {
	t.Helper()
	start, err := procStartTime(pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.WriteState(name+".pid", []byte(strconv.Itoa(pid)+" "+strconv.FormatUint(start, 10)+"\n")); err != nil {
		t.Fatal(err)
	}
}

func TestStopHelperSignalsOnlyItsHelper(t *testing.T) {
	r := stateRequest(t.TempDir())

	// The helper itself is stopped.
	pid, err := r.Spawn("sleeper")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := r.StopHelper("sleeper"); !ok || err != nil {
		t.Errorf("StopHelper of a running helper: %v %v", ok, err)
	}
	if sig := reap(t, pid); sig != syscall.SIGTERM {
		t.Errorf("helper ended by %v", sig)
	}
	if _, err := r.ReadState("sleeper.pid"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("pid file kept: %v", err)
	}

	// stop signals the process with SIGKILL and tells whether it was
	// signalled before (it then died of SIGTERM).
	check := func(what string, cmd *exec.Cmd, name string) {
		t.Helper()
		recordPid(t, r, name, cmd.Process.Pid)
		if ok, err := r.StopHelper(name); ok || err != nil {
			t.Errorf("%s: StopHelper says %v %v", what, ok, err)
		}
		time.Sleep(50 * time.Millisecond) // a SIGTERM would have landed
		cmd.Process.Kill()
		if sig := reap(t, cmd.Process.Pid); sig != syscall.SIGKILL {
			t.Errorf("%s was signalled (%v)", what, sig)
		}
	}

	// An unrelated process with the recorded start time.
	sleep := exec.Command("sleep", "60")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	check("an unrelated sleep", sleep, "sleeper")

	// Another program that calls itself the helper.
	fifoDir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(fifoDir, "sleeper"), 0o600); err != nil {
		t.Fatal(err)
	}
	cat, err := exec.LookPath("cat")
	if err != nil {
		t.Skip(err)
	}
	impostor := &exec.Cmd{Path: cat, Args: []string{"demo", "sleeper"}, Dir: fifoDir} // blocks opening the fifo
	if err := impostor.Start(); err != nil {
		t.Fatal(err)
	}
	check("another program named like the helper", impostor, "sleeper")

	// This agent's binary, but another helper.
	pid, err = r.Spawn("sleeper")
	if err != nil {
		t.Fatal(err)
	}
	recordPid(t, r, "other", pid)
	if ok, _ := r.StopHelper("other"); ok {
		t.Error("the sleeper was stopped as helper other")
	}
	if ok, _ := r.StopHelper("sleeper"); !ok {
		t.Error("the sleeper was not stopped")
	}
	if sig := reap(t, pid); sig != syscall.SIGTERM {
		t.Errorf("helper ended by %v", sig)
	}
}
