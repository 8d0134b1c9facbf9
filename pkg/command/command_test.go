package command

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The test binary doubles as the programs run: with GOCF_COMMAND_HELPER
// set it becomes the helper named there, with the arguments it was given.
func TestMain(m *testing.M) {
	if h := os.Getenv("GOCF_COMMAND_HELPER"); h != "" {
		os.Exit(helper(h, os.Args[1:]))
	}
	// Orphans of the helpers become the test's children, so the test can
	// tell how they ended.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "PR_SET_CHILD_SUBREAPER:", err)
		os.Exit(2)
	}
	os.Exit(m.Run())
}

func helper(h string, args []string) int {
	switch h {
	case "exit": // exit CODE STDOUT STDERR
		fmt.Print(args[1])
		fmt.Fprint(os.Stderr, args[2])
		code, _ := strconv.Atoi(args[0])
		return code
	case "interleave":
		fmt.Println("out 1")
		fmt.Fprintln(os.Stderr, "err 2")
		fmt.Println("out 3")
		return 1
	case "env":
		for _, k := range args {
			fmt.Printf("%s=%s\n", k, os.Getenv(k))
		}
		return 0
	case "stream":
		fmt.Println("first line")
		time.Sleep(time.Minute)
		return 0
	case "parent", "escape":
		// mount starting mount.nfs: a child that shares the output pipe
		// and outlives the deadline; with "escape" it leaves the process
		// group.
		c := exec.Command("/bin/sleep", "60")
		c.Stdout = os.Stdout
		if h == "escape" {
			c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		}
		if err := c.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 98
		}
		fmt.Println(c.Process.Pid)
		time.Sleep(time.Minute)
		return 0
	}
	return 99
}

// argv is the test binary as helper h.
func argv(t *testing.T, h string, args ...string) []string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOCF_COMMAND_HELPER", h)
	return append([]string{self}, args...)
}

// reap waits for the orphan pid, which the subreaper made the test's child.
func reap(t *testing.T, pid int) unix.WaitStatus {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		var ws unix.WaitStatus
		got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		if err != nil {
			t.Fatalf("wait4 %d: %v", pid, err)
		}
		if got == pid {
			return ws
		}
	}
	unix.Kill(pid, unix.SIGKILL)
	t.Fatalf("child %d still runs after the process group was killed", pid)
	return 0
}

func childPid(t *testing.T, res Result) int {
	t.Helper()
	pid, err := strconv.Atoi(strings.TrimSpace(res.Stdout))
	if err != nil {
		t.Fatalf("no child pid in the helper's output %+v", res)
	}
	return pid
}

// The case of mount and mount.nfs: at the deadline the child holding the
// output pipe is killed with its parent, and Run returns at once instead
// of when the child lets go of the pipe.
func TestDeadlineKillsTheGroup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	res, err := Run(ctx, argv(t, "parent"), Options{})
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Run returned after %v; the child sleeps 60 s", d)
	}
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no answer before the deadline") {
		t.Errorf("error %v", err)
	}
	pid := childPid(t, res)
	if ws := reap(t, pid); !ws.Signaled() || ws.Signal() != unix.SIGKILL {
		t.Errorf("child %d ended with %v, not killed", pid, ws)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
		t.Errorf("child %d still in /proc", pid)
	}
}

// A descendant that left the process group survives the kill; WaitDelay
// still lets Run return instead of waiting for the pipe it holds.
func TestDeadlineWaitDelay(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	res, err := Run(ctx, argv(t, "escape"), Options{})
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Run returned after %v; the child sleeps 60 s", d)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v", err)
	}
	pid := childPid(t, res)
	if err := unix.Kill(pid, 0); err != nil {
		t.Errorf("the child out of the group is gone too: %v", err)
	}
	unix.Kill(pid, unix.SIGKILL)
	reap(t, pid)
}

func TestExit(t *testing.T) {
	ctx := context.Background()
	res, err := Run(ctx, argv(t, "exit", "3", "some output\n", "\n  mount: bad option\nmore\n"), Options{})
	if err != nil || res.Code != 3 || res.Stdout != "some output\n" || res.Stderr != "\n  mount: bad option\nmore\n" {
		t.Errorf("%+v %v", res, err)
	}
	if l := res.Line(); l != "mount: bad option" {
		t.Errorf("Line %q", l)
	}
	res, err = Run(ctx, argv(t, "exit", "0", "ok\n", ""), Options{})
	if err != nil || res.Code != 0 || res.Line() != "ok" {
		t.Errorf("%+v %v", res, err)
	}
	res, err = Run(ctx, argv(t, "exit", "42", "", ""), Options{})
	if err != nil || res.Code != 42 || res.Line() != "exit code 42" {
		t.Errorf("%+v %v %q", res, err, res.Line())
	}

	res, err = Run(ctx, argv(t, "interleave"), Options{Combined: true})
	if err != nil || res.Code != 1 || res.Stdout != "out 1\nerr 2\nout 3\n" || res.Stderr != "" {
		t.Errorf("combined: %+v %v", res, err)
	}
}

func TestCannotRun(t *testing.T) {
	ctx := context.Background()
	if _, err := Run(ctx, []string{"gocf-no-such-program", "-x"}, Options{}); !errors.Is(err, exec.ErrNotFound) {
		t.Errorf("missing program: %v", err)
	}
	if _, err := Run(ctx, []string{"/nonexistent/gocf"}, Options{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing path: %v", err)
	}
	for _, a := range [][]string{nil, {}, {""}} {
		if _, err := Run(ctx, a, Options{}); !errors.Is(err, ErrNoCommand) {
			t.Errorf("%q: %v", a, err)
		}
		if _, err := Stream(ctx, a, Options{}); !errors.Is(err, ErrNoCommand) {
			t.Errorf("stream %q: %v", a, err)
		}
	}
	// An argument list is no shell command line.
	if _, err := Run(ctx, []string{"true; false"}, Options{}); !errors.Is(err, exec.ErrNotFound) {
		t.Errorf("shell line: %v", err)
	}
}

func TestEnv(t *testing.T) {
	ctx := context.Background()
	t.Setenv("GOCF_INHERITED", "yes")
	res, err := Run(ctx, argv(t, "env", "GOCF_INHERITED", "GOCF_ADDED"), Options{})
	if err != nil || res.Stdout != "GOCF_INHERITED=yes\nGOCF_ADDED=\n" {
		t.Errorf("%+v %v", res, err)
	}
	res, err = Run(ctx, argv(t, "env", "GOCF_INHERITED", "GOCF_ADDED"), Options{Env: []string{"GOCF_ADDED=a b", "GOCF_INHERITED=over"}})
	if err != nil || res.Stdout != "GOCF_INHERITED=over\nGOCF_ADDED=a b\n" {
		t.Errorf("%+v %v", res, err)
	}
}

func TestStream(t *testing.T) {
	s, err := Stream(context.Background(), argv(t, "stream"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if l, err := bufio.NewReader(s).ReadString('\n'); l != "first line\n" || err != nil {
		t.Errorf("%q %v", l, err)
	}
	start := time.Now()
	s.Close()
	s.Close()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v", d)
	}

	// The end of ctx ends the stream.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	s, err = Stream(ctx, argv(t, "stream"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start = time.Now()
	if b, err := io.ReadAll(s); string(b) != "first line\n" || err != nil || time.Since(start) > 5*time.Second {
		t.Errorf("%q %v after %v", b, err, time.Since(start))
	}
}
