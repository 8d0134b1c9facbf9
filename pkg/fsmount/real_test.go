package fsmount

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gocf/gocf/pkg/ocf"
	"golang.org/x/sys/unix"
)

// The real side of the seam, where it runs without root and changes
// nothing: the I/O child (this test binary serves it, see TestMain) on a
// temporary directory and files, and the node's reads. What needs root is
// recorded by TestRecordFsmount.

// mountIDs is what the helper checks a mount point by.
func mountIDs(t *testing.T, dir string) (id, dev string) {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	i, d, err := mountOf(fd)
	if err != nil {
		t.Fatal(err)
	}
	return strconv.FormatUint(i, 10), strconv.FormatUint(d, 10)
}

func TestChildStatusFile(t *testing.T) {
	dir := t.TempDir()
	id, dev := mountIDs(t, dir)
	ctx := context.Background()
	if out, err := inChild(ctx, "status", dir, id, dev, statusRel, node1); err != nil || out != "" {
		t.Fatalf("status: %q %v", out, err)
	}
	if left, err := os.ReadDir(filepath.Join(dir, statusRel)); err != nil || len(left) > 0 {
		t.Errorf("status directory: %v %v", left, err)
	}
	// Another mount id: the directory is no longer that mount point.
	if _, err := inChild(ctx, "status", dir, "999999", dev, statusRel, node1); err == nil || !strings.Contains(err.Error(), "no longer the mount point") {
		t.Errorf("wrong mount id: %v", err)
	}
	// A link on the way is not followed.
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	if _, err := inChild(ctx, "status", link, id, dev, statusRel, node1); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("through a link: %v", err)
	}
	if _, err := inChild(ctx, "status", filepath.Join(dir, "missing"), id, dev, statusRel, node1); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing: %v", err)
	}
}

func TestChildThaw(t *testing.T) {
	dir := t.TempDir()
	id, dev := mountIDs(t, dir)
	out, err := inChild(context.Background(), "thaw", dir, id, dev)
	// FITHAW of a filesystem nobody froze: EINVAL, "not frozen"; without
	// CAP_SYS_ADMIN the kernel refuses first.
	if os.Geteuid() == 0 {
		if err != nil || out != "not frozen" {
			t.Errorf("thaw as root: %q %v", out, err)
		}
	} else if err == nil || !strings.Contains(err.Error(), "operation not permitted") {
		t.Errorf("thaw without root: %q %v", out, err)
	}
}

func TestChildDevices(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "img")
	if err := os.WriteFile(file, make([]byte, 8192), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, op := range []string{"read", "probe"} {
		// A regular file, /dev/null: not the block device resolved
		// (O_DIRECT, for read, is refused on /dev/null before that).
		for dev, want := range map[string]string{file: "no longer the device it was", "/dev/null": "no longer the device it was"} {
			if op == "read" && dev == "/dev/null" {
				want = "invalid argument"
			}
			if _, err := inChild(ctx, op, dev, "1792"); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s %s: %v, want %q", op, dev, err, want)
			}
		}
		if _, err := inChild(ctx, op, "/dev/gocf-missing", "1792"); err == nil || !strings.Contains(err.Error(), "no such file") {
			t.Errorf("%s of a missing device: %v", op, err)
		}
		if _, err := inChild(ctx, op, file, "x"); err == nil || !strings.Contains(err.Error(), "invalid syntax") {
			t.Errorf("%s with a bad device number: %v", op, err)
		}
	}
}

func TestChildRefusesBadCalls(t *testing.T) {
	ctx := context.Background()
	for _, args := range [][]string{{"bogus"}, {"read", "/dev/null"}, {"status", "/", "1"}} {
		if _, err := inChild(ctx, args[0], args[1:]...); err == nil || !strings.Contains(err.Error(), "arguments") {
			t.Errorf("%q: %v", args, err)
		}
	}
	if _, err := ioOp(nil); err == nil {
		t.Error("no operation accepted")
	}
	if _, err := inChild(ctx, "thaw", "/", "x", "y"); err == nil || !strings.Contains(err.Error(), "invalid syntax") {
		t.Errorf("bad mount id: %v", err)
	}
}

// A child that has not answered by the deadline is abandoned.
func TestChildDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	dir := t.TempDir()
	id, dev := mountIDs(t, dir)
	_, err := inChild(ctx, "status", dir, id, dev, statusRel, node1)
	if !errors.Is(err, errNoAnswer) || !strings.Contains(hangHint(err, "hung"), "(hung)") {
		t.Errorf("%v", err)
	}
}

func TestParseAnswer(t *testing.T) {
	for out, want := range map[string]string{"ok thawed\n": "thawed", "warning\nok \n": "", "ok not frozen": "not frozen"} {
		if got, err := parseAnswer(out); err != nil || got != want {
			t.Errorf("%q: %q %v", out, got, err)
		}
	}
	if _, err := parseAnswer("err the filesystem is read-only\n"); err == nil || err.Error() != "the filesystem is read-only" {
		t.Errorf("err line: %v", err)
	}
	if _, err := parseAnswer("panic: x\n"); err == nil || !strings.Contains(err.Error(), "helper failed") {
		t.Errorf("no answer line: %v", err)
	}
}

func TestExplainAndShort(t *testing.T) {
	if err := explain(unix.EROFS); err.Error() != "the filesystem is read-only" {
		t.Error(err)
	}
	if err := explain(unix.EIO); err != unix.EIO {
		t.Error(err)
	}
	if err := orShort(nil, 100); err.Error() != "100 of 4096 bytes" {
		t.Error(err)
	}
	if err := orShort(unix.EIO, 0); err != unix.EIO {
		t.Error(err)
	}
}

// The real node's reads, and calls that change nothing here.
func TestRealNode(t *testing.T) {
	n := realNode(execTools{})
	ctx := context.Background()
	tab, err := n.table.Read()
	if err != nil || tab.At("/") == nil {
		t.Fatalf("mount table: %v", err)
	}
	dir := t.TempDir()
	if c, err := n.table.Canonical(ctx, tab, filepath.Join(dir, "a/../b")); err != nil || c != filepath.Join(dir, "b") {
		t.Errorf("canonical: %q %v", c, err)
	}
	if hs, err := n.holders.Find(ctx, filepath.Join(dir, "nobody")); err != nil || len(hs) > 0 {
		t.Errorf("holders of an unused directory: %v %v", hs, err)
	}
	if got := n.holders.Signal(nil, dir, unix.SIGTERM); got != 0 {
		t.Errorf("signalled %d of nobody", got)
	}
	if st, err := n.host.Stat(dir); err != nil || st.Mode != unix.S_IFDIR {
		t.Errorf("stat of a directory: %+v %v", st, err)
	}
	if st, err := n.host.Stat("/dev/null"); err != nil || st.Mode != unix.S_IFCHR || st.Rdev != unix.Mkdev(1, 3) {
		t.Errorf("stat of /dev/null: %+v %v", st, err)
	}
	if _, err := n.host.Stat(filepath.Join(dir, "missing")); !errors.Is(err, unix.ENOENT) {
		t.Errorf("stat of nothing: %v", err)
	}
	if err := n.host.MkdirAll(filepath.Join(dir, "x/y")); err != nil {
		t.Error(err)
	}
	if p, err := n.host.EvalSymlinks(filepath.Join(dir, "x/../x/y")); err != nil || p != filepath.Join(dir, "x/y") {
		t.Errorf("links: %q %v", p, err)
	}
	k, err := n.host.KernelFS()
	if err != nil {
		t.Fatal(err)
	}
	if ok, known := k.supports("proc"); !ok || !known {
		t.Errorf("the kernel has no proc: %v %v", ok, known)
	}
	if h, err := n.host.Hostname(); err != nil || h == "" {
		t.Errorf("host name: %q %v", h, err)
	}
	if _, err := n.host.LoopBacking(1, 3); err == nil {
		t.Error("/dev/null has a backing file")
	}
	if n.host.Privileged() != (os.Geteuid() == 0) {
		t.Errorf("privileged %v as uid %d", n.host.Privileged(), os.Geteuid())
	}
	// Nothing mounted there: EINVAL as root, EPERM otherwise.
	err = n.sys.Unmount(dir, unix.UMOUNT_NOFOLLOW)
	if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EPERM) {
		t.Errorf("umount of a plain directory: %v", err)
	}
	err = n.sys.Mount("none", dir, "gocf-nosuchfs", 0, "")
	if !errors.Is(err, unix.ENODEV) && !errors.Is(err, unix.EPERM) {
		t.Errorf("mount of an unknown type: %v", err)
	}
}

func TestExecTools(t *testing.T) {
	ctx := context.Background()
	tools := execTools{}
	if _, err := exec.LookPath("blkid"); err == nil {
		if p, err := tools.FindFS(ctx, "UUID", "00000000-0000-4000-8000-00000000dead"); err == nil {
			t.Errorf("blkid found %q", p)
		}
		if p, err := tools.FindFS(ctx, "LABEL", "gocf-no-such-label"); err == nil {
			t.Errorf("blkid found %q", p)
		}
	}
	dir := t.TempDir()
	if out, err := tools.Mount(ctx, filepath.Join(dir, "missing"), dir, "gocf-nosuchfs", "ro"); err == nil {
		t.Errorf("mount(8) of nothing: %q", out)
	}
	if _, err := exec.LookPath("fsck.ext2"); err == nil {
		img := filepath.Join(dir, "zeros")
		if err := os.WriteFile(img, make([]byte, 1<<20), 0o644); err != nil {
			t.Fatal(err)
		}
		// No superblock: e2fsck gives up with 8.
		if code, out, err := tools.Fsck(ctx, img, "ext2"); err != nil || code != 8 || !strings.Contains(out, "superblock") {
			t.Errorf("fsck of zeros: %d %v %s", code, err, out)
		}
	}
}

func TestSmallHelpers(t *testing.T) {
	if d := remaining(context.Background()); d != time.Minute {
		t.Errorf("no deadline: %s", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	block := make(chan struct{})
	defer close(block)
	if _, err := call(ctx, func() (int, error) { <-block; return 0, nil }); err == nil || !strings.Contains(err.Error(), "no answer before the deadline") {
		t.Errorf("call past the deadline: %v", err)
	}
	if got := firstLine("\n  mount: failed\nmore\n", errors.New("x")); got != "mount: failed" {
		t.Errorf("firstLine: %q", got)
	}
	if got := firstLine(" \n", errors.New("exit status 32")); got != "exit status 32" {
		t.Errorf("firstLine without output: %q", got)
	}
	if err := orEmpty(nil); err == nil {
		t.Error("orEmpty(nil) is nil")
	}
	if kernelType("cephfs") != "ceph" || kernelType("sshfs") != "fuse" || kernelType("ext4") != "ext4" {
		t.Error("kernelType")
	}
	// Without on_node the status file is named after the host.
	g := replay(t, "ext4", "empty")
	a := &agent{n: g.f.node()}
	r, errs := prepareReq(t, "monitor")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if got := a.nodeName(r); got != g.rec.Hostname {
		t.Errorf("node name %q, want the host's %q", got, g.rec.Hostname)
	}
}

func prepareReq(t *testing.T, action string) (*ocf.Request, []error) {
	t.Helper()
	return ocf.Prepare(Agent(), action, []string{"OCF_RESKEY_device=/dev/sdb1", "OCF_RESKEY_directory=/srv/data", "OCF_RESKEY_fstype=ext4"})
}

// What a full filesystem's exit reason says, from statfs as df reads it.
func TestUsage(t *testing.T) {
	for _, c := range []struct {
		st   unix.Statfs_t
		want string
	}{
		// ext4, 32 MiB, 1 KiB blocks, filled by a user: 3 blocks left.
		{unix.Statfs_t{Bsize: 1024, Blocks: 25844, Bfree: 2296, Bavail: 3, Files: 8192, Ffree: 8180}, "100% of 25.2 MiB used, 3.0 KiB free"},
		{unix.Statfs_t{Bsize: 4096, Blocks: 512, Bfree: 0, Bavail: 0, Files: 100, Ffree: 90}, "100% of 2.0 MiB used, 0 B free"},
		{unix.Statfs_t{Bsize: 4096, Blocks: 1000, Bfree: 500, Bavail: 500, Files: 100, Ffree: 0}, "no inode free of 100"},
		{unix.Statfs_t{Bsize: 4096, Blocks: 1 << 20, Bfree: 1 << 19, Bavail: 1 << 19}, "50% of 4.0 GiB used, 2.0 GiB free"},
		{unix.Statfs_t{Bsize: 4096}, "100% of 0 B used, 0 B free"},
	} {
		if got := usage(c.st); got != c.want {
			t.Errorf("%+v: %q, want %q", c.st, got, c.want)
		}
	}
	for err, want := range map[error]bool{unix.ENOSPC: true, unix.EDQUOT: true, unix.EROFS: false, unix.EIO: false,
		fmt.Errorf("writing x: %w", unix.ENOSPC): true} {
		if isFull(err) != want {
			t.Errorf("isFull(%v) = %v", err, !want)
		}
	}
}
