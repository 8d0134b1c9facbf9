package lab

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// MountNS is a persistent private mount namespace the test created, held by
// a bind-mounted nsfs file, entered with nsenter.
type MountNS struct{ File string }

// NewMountNS creates the namespace; it and everything mounted in it go away
// when the test ends.
func NewMountNS(t testing.TB) *MountNS {
	t.Helper()
	RequireRoot(t)
	dir, err := os.MkdirTemp("/run", "gocf-mntns-")
	if err != nil {
		t.Fatal(err)
	}
	// The file that pins the namespace must sit on a private mount.
	Run(t, "mount", "--bind", dir, dir)
	Run(t, "mount", "--make-private", dir)
	file := filepath.Join(dir, "ns")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	Run(t, "unshare", "--mount="+file, "--propagation", "private", "true")
	t.Cleanup(func() {
		exec.Command("umount", file).Run()
		exec.Command("umount", dir).Run()
		os.RemoveAll(dir)
	})
	return &MountNS{File: file}
}

// Prefix is the command prefix that runs a program inside the namespace.
func (m *MountNS) Prefix() []string { return []string{"nsenter", "--mount=" + m.File, "--"} }

// Run runs a command inside the namespace and fails the test on error.
func (m *MountNS) Run(t testing.TB, args ...string) string {
	t.Helper()
	p := m.Prefix()
	return Run(t, p[0], append(p[1:], args...)...)
}

// Mounted tells whether something is mounted on path inside the namespace.
func (m *MountNS) Mounted(t testing.TB, path string) bool {
	t.Helper()
	out := m.Run(t, "cat", "/proc/self/mountinfo")
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 4 && f[4] == path {
			return true
		}
	}
	return false
}

// Loop is a loop device over an image file with a fresh filesystem.
type Loop struct{ Dev, Image string }

// NewLoop makes an image of sizeMiB with mkfs.<fstype> and attaches it; it
// is detached when the test ends.
func NewLoop(t testing.TB, fstype string, sizeMiB int, mkfsArgs ...string) *Loop {
	t.Helper()
	RequireTool(t, "mkfs."+fstype)
	img := filepath.Join(t.TempDir(), "fs.img")
	Run(t, "truncate", "-s", fmt.Sprintf("%dM", sizeMiB), img)
	args := []string{"-q"}
	if fstype == "ext4" || fstype == "ext2" {
		args = append(args, "-F")
	} else if fstype == "xfs" {
		args = append(args, "-f")
	}
	Run(t, "mkfs."+fstype, append(append(args, mkfsArgs...), img)...)
	dev := strings.TrimSpace(Run(t, "losetup", "--find", "--show", img))
	l := &Loop{Dev: dev, Image: img}
	t.Cleanup(func() { l.Detach() })
	return l
}

// Detach detaches the loop device (idempotent).
func (l *Loop) Detach() { exec.Command("losetup", "-d", l.Dev).Run() }

// HolderEnv is the variable that turns a re-executed test binary into a
// process holding a path (see Hold).
const HolderEnv = "GOCF_TEST_HOLD"

// Proc is a process the test started; Stop kills it by PID at the end.
type Proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// Hold starts the test binary itself in the namespace, holding path in one
// way: "cwd", "open" (an open file descriptor), "mmap" (a mapping with the
// descriptor closed) or "root" (chroot). It returns once the hold is in
// place (the process prints "ready").
func (m *MountNS) Hold(t testing.TB, how, path string) *Proc {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := m.Prefix()
	cmd := exec.Command(p[0], append(p[1:], self)...)
	cmd.Env = append(os.Environ(), HolderEnv+"="+how+":"+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pr := &Proc{cmd: cmd, done: make(chan struct{})}
	ready := make(chan bool, 1)
	go func() {
		buf := make([]byte, 6)
		n, _ := out.Read(buf)
		ready <- string(buf[:n]) == "ready\n"
	}()
	go func() { cmd.Wait(); close(pr.done) }()
	t.Cleanup(pr.Stop)
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("holder %s %s did not get ready", how, path)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("holder %s %s did not get ready in 10s", how, path)
	}
	return pr
}

// Alive tells whether the process still runs.
func (p *Proc) Alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Exited waits up to d for the process to end.
func (p *Proc) Exited(d time.Duration) bool {
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		return false
	}
}

// Stop kills the process by PID and reaps it.
func (p *Proc) Stop() {
	if p.Alive() {
		p.cmd.Process.Signal(syscall.SIGKILL)
	}
	<-p.done
}

// ServeHolder is called first thing in TestMain: in a process started by
// Hold it takes the hold, says ready and sleeps (at most 5 minutes), and
// never returns.
func ServeHolder() {
	spec := os.Getenv(HolderEnv)
	if spec == "" {
		return
	}
	how, path, _ := strings.Cut(spec, ":")
	var err error
	switch how {
	case "cwd":
		err = os.Chdir(path)
	case "root":
		err = syscall.Chroot(path)
	case "open":
		var f *os.File
		f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		defer f.Close()
	case "mmap":
		var f *os.File
		if f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644); err == nil {
			f.Truncate(4096)
			_, err = syscall.Mmap(int(f.Fd()), 0, 4096, syscall.PROT_READ, syscall.MAP_SHARED)
			f.Close()
		}
		if err == nil {
			err = os.Chdir("/")
		}
	default:
		err = fmt.Errorf("unknown hold %q", how)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "holder:", err)
		os.Exit(2)
	}
	os.Stdout.WriteString("ready\n")
	time.Sleep(5 * time.Minute)
	os.Exit(0)
}
