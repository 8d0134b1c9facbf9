package asterisk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// execProcess is Process on the real system.
type execProcess struct{}

func (execProcess) Start(bin string, args []string, maxfiles uint64) (int, <-chan Exit, error) {
	// Set here, inherited by Asterisk: a child's limits cannot be set from
	// outside before it runs. Setting it also stops Go from restoring its
	// own startup limit in the child.
	lim := unix.Rlimit{Cur: maxfiles, Max: maxfiles}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return 0, nil, fmt.Errorf("cannot set the open files limit to %d: %w", maxfiles, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return 0, nil, err
	}
	defer devnull.Close()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	if err := cmd.Start(); err != nil {
		return 0, nil, err
	}
	exited := make(chan Exit, 1)
	go func() {
		cmd.Wait()
		exited <- exitOf(cmd.ProcessState)
	}()
	return cmd.Process.Pid, exited, nil
}

func exitOf(ps *os.ProcessState) Exit {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return Exit{Signal: ws.Signal()}
	}
	return Exit{Code: ps.ExitCode()}
}

func (execProcess) Running(rundir, bin string) int {
	if pid := readPid(rundir); isAsterisk(pid, bin) {
		return pid
	}
	return 0
}

func (execProcess) Alive(pid int, bin string) bool { return isAsterisk(pid, bin) }

func (execProcess) Stopped(pid int) bool {
	st := procState(pid)
	return st == 'T' || st == 't'
}

func (execProcess) Wait(ctx context.Context, pid int, bin string) error {
	return waitExit(ctx, pid, bin)
}

func (execProcess) Signal(pid int, sig syscall.Signal) error { return unix.Kill(pid, sig) }

func (execProcess) KillSession(pid int) error {
	// Asterisk was started with setsid: its session's group is its pid.
	if pgid, err := unix.Getpgid(pid); err == nil && pgid == pid {
		return unix.Kill(-pid, unix.SIGKILL)
	}
	return unix.Kill(pid, unix.SIGKILL)
}

func (execProcess) Canaries(rundir, canary string) []int { return canaries(rundir, canary) }

// readPid reads astrundir/asterisk.pid; 0 when there is none. The run
// directory belongs to the Asterisk user: a link or a FIFO planted there is
// not read.
func readPid(rundir string) int {
	fd, err := unix.Open(filepath.Join(rundir, "asterisk.pid"), unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0
	}
	f := os.NewFile(uintptr(fd), "asterisk.pid")
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return 0
	}
	b := make([]byte, 32)
	n, _ := f.Read(b)
	return parsePid(b[:n])
}

// parsePid reads a pid file's content: a decimal pid > 1 and a newline.
func parsePid(b []byte) int {
	s := strings.TrimSpace(string(b))
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0
	}
	pid, err := strconv.Atoi(s)
	if err != nil || pid <= 1 {
		return 0
	}
	return pid
}

// isAsterisk tells whether pid is a live (not zombie) process running the
// Asterisk binary: a pid file can outlive its process and the pid be reused.
func isAsterisk(pid int, binary string) bool {
	if pid <= 1 {
		return false
	}
	if st := procState(pid); st == 0 || st == 'Z' {
		return false
	}
	exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	if err != nil {
		return false
	}
	exe = strings.TrimSuffix(exe, " (deleted)") // upgraded under a running Asterisk
	return filepath.Base(exe) == filepath.Base(binary)
}

// procState returns the state letter of /proc/pid/stat (R, S, D, T, t, Z...),
// or 0 when pid does not exist.
func procState(pid int) byte {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name in parentheses may itself hold ") ".
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2]
	}
	return 0
}

// waitExit waits for pid to end, on a pidfd when the kernel has them (no
// polling), else by looking every 20 ms. It returns ctx's error on timeout.
func waitExit(ctx context.Context, pid int, binary string) error {
	if fd, err := unix.PidfdOpen(pid, 0); err == nil {
		defer unix.Close(fd)
		for {
			if !isAsterisk(pid, binary) {
				return nil
			}
			ms := 1000
			if dl, ok := ctx.Deadline(); ok {
				ms = max(1, min(ms, int(time.Until(dl)/time.Millisecond)))
			}
			n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, ms)
			if err != nil && !errors.Is(err, unix.EINTR) {
				break
			}
			if n > 0 {
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	for isAsterisk(pid, binary) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// canaryArg is the file name Asterisk passes to its canary (astcanary)
// in realtime mode; it names the instance by its run directory.
func canaryArg(rundir string) string {
	return filepath.Join(rundir, "alt.asterisk.canary.tweet.tweet.tweet")
}

// canaries lists the astcanary processes of this instance.
func canaries(rundir, canaryBinary string) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	want := canaryArg(rundir)
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(cmd), "\x00"), "\x00")
		if len(args) >= 2 && filepath.Base(args[0]) == filepath.Base(canaryBinary) && args[1] == want {
			out = append(out, pid)
		}
	}
	return out
}
