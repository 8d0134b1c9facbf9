package lab

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocf/gocf/tests/testbed"
)

var chrootMu sync.Mutex

// DebianChroot returns a Debian root filesystem of suite with packages,
// made by debootstrap once and cached under /var/cache/gocf/chroots (keyed
// by suite and packages). Tests must not write to it: see Overlay.
func DebianChroot(t testing.TB, suite string, packages ...string) string {
	t.Helper()
	RequireRoot(t)
	RequireTool(t, "debootstrap")
	chrootMu.Lock()
	defer chrootMu.Unlock()
	sum := sha256.Sum256([]byte(suite + " " + strings.Join(packages, ",")))
	dir := filepath.Join("/var/cache/gocf/chroots", suite+"-"+hex.EncodeToString(sum[:6]))
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
		return filepath.Join(dir, "root")
	}
	mirror, err := testbed.DebianMirror()
	if err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(dir)
	root := filepath.Join(dir, "root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	args := []string{"--variant=minbase"}
	if len(packages) > 0 {
		args = append(args, "--include="+strings.Join(packages, ","))
	}
	cmd := exec.Command("debootstrap", append(args, suite, root, mirror)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		t.Fatalf("debootstrap %s: %v\n%s", suite, err, tail(out, 30))
	}
	if err := os.WriteFile(filepath.Join(dir, ".complete"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("debootstrap %s with %d packages: %s", suite, len(packages), time.Since(t0).Round(time.Second))
	return root
}

func tail(b []byte, lines int) string {
	l := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// Root is a writable root filesystem for one test: an overlay over a
// read-only lower tree, mounted in the test's own mount namespace.
type Root struct {
	NS   *MountNS
	Path string
}

// Overlay mounts a writable overlay of lower for the test.
func Overlay(t testing.TB, lower string) *Root {
	t.Helper()
	ns := NewMountNS(t)
	d := t.TempDir()
	for _, sub := range []string{"upper", "work", "merged"} {
		os.Mkdir(filepath.Join(d, sub), 0o755)
	}
	merged := filepath.Join(d, "merged")
	ns.Run(t, "mount", "-t", "overlay", "overlay", "-o",
		fmt.Sprintf("lowerdir=%s,upperdir=%s/upper,workdir=%s/work", lower, d, d), merged)
	return &Root{NS: ns, Path: merged}
}

// Command builds a command run inside the root, in fresh PID and network
// namespaces (with /proc and a loopback), as root.
func (r *Root) Command(args ...string) *exec.Cmd {
	p := r.NS.Prefix()
	full := append(p[1:], "unshare", "--pid", "--fork", "--net", "--mount-proc="+r.Path+"/proc",
		"chroot", r.Path)
	full = append(full, args...)
	cmd := exec.Command(p[0], full...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "HOME=/root", "TERM=dumb"}
	return cmd
}

// Run runs a command inside the root and returns its combined output,
// failing the test on error.
func (r *Root) Run(t testing.TB, args ...string) string {
	t.Helper()
	out, err := r.Command(args...).CombinedOutput()
	if err != nil {
		t.Fatalf("in %s: %s: %v\n%s", r.Path, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// CopyIn copies a host file into the root.
func (r *Root) CopyIn(t testing.TB, src, dst string) {
	t.Helper()
	r.NS.Run(t, "cp", src, filepath.Join(r.Path, dst))
}
