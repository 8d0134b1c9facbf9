package ocf

import (
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
	dir, err := r.StateDir()
	if err != nil {
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
		rec := fmt.Sprintf("%d %d\n", pid, start)
		err = os.WriteFile(filepath.Join(dir, name+".pid"), []byte(rec), 0o600)
	}
	cmd.Process.Release()
	return pid, err
}

// StopHelper terminates the recorded helper if that very process still
// runs, and forgets it. It reports whether a process was signalled.
func (r *Request) StopHelper(name string) (bool, error) {
	dir, err := r.StateDir()
	if err != nil {
		return false, err
	}
	file := filepath.Join(dir, name+".pid")
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer os.Remove(file)
	var pid int
	var start uint64
	if _, err := fmt.Sscanf(string(b), "%d %d", &pid, &start); err != nil || pid <= 1 {
		return false, nil
	}
	// A recycled pid has another start time: then it is not ours.
	if now, err := procStartTime(pid); err != nil || now != start {
		return false, nil
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return false, nil
	}
	return true, nil
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
