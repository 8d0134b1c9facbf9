package ocf

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Helper is an internal subcommand that an action starts as a detached
// child of the same binary, for work that must outlive the action's process
// (announcing an address in the background). Hidden from usage and meta-data.
type Helper struct {
	Name    string
	Timeout time.Duration
	Run     func(ctx context.Context, args []string, log *Logger) Status
}

// Spawn starts helper name with args, detached from the action: own session,
// stdio on /dev/null so pacemaker-execd does not wait for it. Its pid and
// start time are recorded in the state directory so StopHelper can later
// signal exactly that process and no other.
func (r *Request) Spawn(name string, args ...string) (int, error) {
	if _, err := r.StateDir(); err != nil {
		return 0, err
	}
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	defer devnull.Close()
	cmd := exec.Command(self, append([]string{name}, args...)...)
	cmd.Args[0] = r.Agent.Name
	cmd.Env = r.environ
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	pid := cmd.Process.Pid
	start, err := procStartTime(pid)
	if err == nil {
		err = r.WriteState(name+".pid", fmt.Appendf(nil, "%d %d\n", pid, start))
	}
	if err != nil {
		// Unrecorded, it could never be stopped.
		cmd.Process.Kill()
		cmd.Wait()
		return 0, err
	}
	cmd.Process.Release()
	return pid, nil
}

// StopHelper terminates the recorded helper if that very process still
// runs, and forgets it. It reports whether a process was signalled.
func (r *Request) StopHelper(name string) (bool, error) {
	file := name + ".pid"
	b, err := r.ReadState(file)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer r.RemoveState(file)
	var pid int
	var start uint64
	if _, err := fmt.Sscanf(string(b), "%d %d", &pid, &start); err != nil || pid <= 1 {
		return false, nil
	}
	// A pidfd pins the process checked below: should it end and its pid
	// be reused meanwhile, the signal reaches nobody.
	pidfd, err := unix.PidfdOpen(pid, 0)
	switch {
	case errors.Is(err, unix.ENOSYS): // before Linux 5.3
		pidfd = -1
	case err != nil:
		return false, nil // gone
	default:
		defer unix.Close(pidfd)
	}
	// A recycled pid has another start time: then it is not ours.
	if now, err := procStartTime(pid); err != nil || now != start {
		return false, nil
	}
	if err := isHelper(pid, name); err != nil {
		r.Log.Warnf("helper %s: %v: not signalled", name, err)
		return false, nil
	}
	if pidfd >= 0 {
		err = unix.PidfdSendSignal(pidfd, unix.SIGTERM, nil, 0)
	} else {
		err = unix.Kill(pid, unix.SIGTERM)
	}
	return err == nil, nil
}

// isHelper tells why the process pid is not helper name of this very
// binary (nil when it is): its executable must be this one and its first
// argument the helper's name. A helper still running the binary an upgrade
// replaced is not recognised; it ends at its own timeout.
func isHelper(pid int, name string) error {
	proc := "/proc/" + strconv.Itoa(pid)
	self, err1 := os.Stat("/proc/self/exe")
	exe, err2 := os.Stat(proc + "/exe")
	if err1 != nil || err2 != nil || !os.SameFile(self, exe) {
		return fmt.Errorf("pid %d runs another program", pid)
	}
	b, err := os.ReadFile(proc + "/cmdline")
	if args := strings.Split(string(b), "\x00"); err != nil || len(args) < 2 || args[1] != name {
		return fmt.Errorf("pid %d is not helper %s", pid, name)
	}
	return nil
}

// procStartTime reads field 22 of /proc/PID/stat (clock ticks since boot).
func procStartTime(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("malformed stat")
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); start time is field 22.
	if len(f) < 20 {
		return 0, errors.New("short stat")
	}
	return strconv.ParseUint(f[19], 10, 64)
}
