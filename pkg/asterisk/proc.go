package asterisk

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// readPid reads astrundir/asterisk.pid; 0 when there is none.
func readPid(rundir string) int {
	b, err := os.ReadFile(filepath.Join(rundir, "asterisk.pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
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
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	if i := bytes.LastIndexByte(stat, ')'); i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' {
		return false
	}
	exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	if err != nil {
		return false
	}
	exe = strings.TrimSuffix(exe, " (deleted)") // upgraded under a running Asterisk
	return filepath.Base(exe) == filepath.Base(binary)
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
