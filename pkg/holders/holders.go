// Package holders finds the processes that keep a mount busy and signals
// them. It reads only /proc: the names of a process's cwd, root, exe, open
// files and mapped files come from the kernel's own path strings (readlink
// of /proc/PID/... does not touch the filesystem they name), so a dead mount
// cannot block the search. Paths are compared below the mount point, not by
// device, so the users of a bind mount's source are never mistaken for users
// of the bind mount (resource-agents #1304).
package holders

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Holder is a process using something at or below the mount point.
type Holder struct {
	PID  int
	Comm string
	Via  string // cwd, root, exe, fd N, mmap
	Path string
}

func (h Holder) String() string { return fmt.Sprintf("%d (%s) %s %s", h.PID, h.Comm, h.Via, h.Path) }

// under tells whether p names dir or something below it.
func under(p, dir string) bool {
	p = strings.TrimSuffix(p, " (deleted)")
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

// Find lists the processes of this mount namespace holding dir, one entry
// per process (the first way found). It stops with ctx's error.
func Find(ctx context.Context, dir string) ([]Holder, error) {
	self := os.Getpid()
	myNS, _ := os.Readlink("/proc/self/ns/mnt")
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var out []Holder
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self || pid == 1 {
			continue
		}
		if h, ok := check(pid, dir, myNS); ok {
			out = append(out, h)
		}
	}
	return out, nil
}

func check(pid int, dir, myNS string) (Holder, bool) {
	base := "/proc/" + strconv.Itoa(pid)
	// Other mount namespaces hold their own copies of a mount, never ours,
	// and their paths mean something else.
	if ns, err := os.Readlink(base + "/ns/mnt"); err != nil || ns != myNS {
		return Holder{}, false
	}
	comm, _ := os.ReadFile(base + "/comm")
	h := Holder{PID: pid, Comm: strings.TrimSpace(string(comm))}
	// A chrooted process names paths relative to its root.
	root, err := os.Readlink(base + "/root")
	if err != nil {
		return Holder{}, false // gone, or a kernel thread
	}
	abs := func(p string) string {
		if root == "/" || !strings.HasPrefix(p, "/") {
			return p
		}
		return filepath.Join(root, p)
	}
	if under(root, dir) {
		h.Via, h.Path = "root", root
		return h, true
	}
	for _, l := range []string{"cwd", "exe"} {
		if p, err := os.Readlink(base + "/" + l); err == nil && under(abs(p), dir) {
			h.Via, h.Path = l, p
			return h, true
		}
	}
	if fds, err := os.ReadDir(base + "/fd"); err == nil {
		for _, fd := range fds {
			if p, err := os.Readlink(base + "/fd/" + fd.Name()); err == nil && under(abs(p), dir) {
				h.Via, h.Path = "fd "+fd.Name(), p
				return h, true
			}
		}
	}
	if f, err := os.Open(base + "/maps"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// address perms offset dev inode pathname
			fields := strings.SplitN(sc.Text(), " ", 6)
			if len(fields) == 6 {
				if p := strings.TrimSpace(fields[5]); strings.HasPrefix(p, "/") && under(abs(p), dir) {
					h.Via, h.Path = "mmap", p
					return h, true
				}
			}
		}
	}
	return Holder{}, false
}

// ParseSignals reads a list of signal names or numbers ("TERM", "SIGINT
// 15", "TERM,HUP").
func ParseSignals(s string) ([]syscall.Signal, error) {
	var out []syscall.Signal
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		if n, err := strconv.Atoi(f); err == nil {
			if n <= 0 || n > 64 {
				return nil, fmt.Errorf("signal %d is out of range", n)
			}
			out = append(out, syscall.Signal(n))
			continue
		}
		name := strings.ToUpper(f)
		if !strings.HasPrefix(name, "SIG") {
			name = "SIG" + name
		}
		sig := unix.SignalNum(name)
		if sig == 0 {
			return nil, fmt.Errorf("%q is not a signal", f)
		}
		out = append(out, sig)
	}
	return out, nil
}

// Signal sends sig to each holder that still holds dir, checked again right
// before, so a pid that exited and was reused meanwhile is left alone. It
// returns how many were signalled.
func Signal(holders []Holder, dir string, sig syscall.Signal) int {
	myNS, _ := os.Readlink("/proc/self/ns/mnt")
	n := 0
	for _, h := range holders {
		// Re-check: the pid may have exited and been reused meanwhile.
		if _, ok := check(h.PID, dir, myNS); !ok {
			continue
		}
		if unix.Kill(h.PID, sig) == nil {
			n++
		}
	}
	return n
}
