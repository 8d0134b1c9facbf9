package fsmount

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/gocf/gocf/pkg/holders"
	"github.com/gocf/gocf/pkg/mounts"
	"golang.org/x/sys/unix"
)

// node is everything the actions touch on the node, each external thing
// behind a small interface of its own. The real ones are below; the unit
// tests replay recordings of them (testdata/recorded, see record_test.go).
type node struct {
	tools   Tools        // fsck, mount(8), blkid
	sys     mountCalls   // mount(2), umount2(2)
	table   mountTable   // /proc/self/mountinfo and mount point resolution
	holders holderSearch // the processes holding a mount
	child   ioChild      // blocking I/O in an abandonable child
	host    hostInfo     // stat, links, mkdir, kernel filesystems, privileges
}

// mountCalls are the system calls that change the mount table.
type mountCalls interface {
	Mount(source, target, fstype string, flags uintptr, data string) error
	Unmount(target string, flags int) error
}

// mountTable reads this namespace's mounts.
type mountTable interface {
	Read() (mounts.Table, error)
	// Canonical is mounts.Canonical: dir as the table spells it.
	Canonical(ctx context.Context, t mounts.Table, dir string) (string, error)
}

// holderSearch finds and signals the processes holding a mount (pkg/holders).
type holderSearch interface {
	Find(ctx context.Context, dir string) ([]holders.Holder, error)
	Signal(hs []holders.Holder, dir string, sig syscall.Signal) int
}

// ioChild runs one operation of the I/O helper (read, probe, status,
// thaw) in a child and returns its answer; errNoAnswer when it did not
// answer before ctx's end.
type ioChild interface {
	Run(ctx context.Context, op string, args ...string) (string, error)
}

// fileStat is what the actions need of a stat(2): the file type bits and,
// for a device, its number.
type fileStat struct {
	Mode uint32 // st_mode & S_IFMT
	Rdev uint64
}

// hostInfo is the rest of what the actions ask the node.
type hostInfo interface {
	// Privileged tells whether this process may mount (CAP_SYS_ADMIN).
	Privileged() bool
	// Stat follows links, as stat(2).
	Stat(path string) (fileStat, error)
	// EvalSymlinks resolves a /dev/disk/by-* link.
	EvalSymlinks(path string) (string, error)
	MkdirAll(dir string) error
	// KernelFS reads what the kernel can mount.
	KernelFS() (kernelFS, error)
	Hostname() (string, error)
	// LoopBacking is the file behind loop device major:minor.
	LoopBacking(major, minor int) (string, error)
}

// realNode is the node itself.
func realNode(t Tools) node {
	return node{tools: t, sys: sysMount{}, table: procTable{}, holders: procHolders{}, child: execChild{}, host: realHost{}}
}

type sysMount struct{}

func (sysMount) Mount(source, target, fstype string, flags uintptr, data string) error {
	return unix.Mount(source, target, fstype, flags, data)
}

func (sysMount) Unmount(target string, flags int) error { return unix.Unmount(target, flags) }

type procTable struct{}

func (procTable) Read() (mounts.Table, error) { return mounts.Read() }

func (procTable) Canonical(ctx context.Context, t mounts.Table, dir string) (string, error) {
	return mounts.Canonical(ctx, t, dir)
}

type procHolders struct{}

func (procHolders) Find(ctx context.Context, dir string) ([]holders.Holder, error) {
	return holders.Find(ctx, dir)
}

func (procHolders) Signal(hs []holders.Holder, dir string, sig syscall.Signal) int {
	return holders.Signal(hs, dir, sig)
}

type execChild struct{}

func (execChild) Run(ctx context.Context, op string, args ...string) (string, error) {
	return inChild(ctx, op, args...)
}

type realHost struct{}

func (realHost) Privileged() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	return unix.Capget(&hdr, &data[0]) == nil && data[0].Effective&(1<<unix.CAP_SYS_ADMIN) != 0
}

func (realHost) Stat(path string) (fileStat, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return fileStat{}, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	return fileStat{Mode: st.Mode & unix.S_IFMT, Rdev: st.Rdev}, nil
}

func (realHost) EvalSymlinks(path string) (string, error) { return filepath.EvalSymlinks(path) }

func (realHost) MkdirAll(dir string) error { return os.MkdirAll(dir, 0o755) }

func (realHost) KernelFS() (kernelFS, error) { return readKernelFS() }

func (realHost) Hostname() (string, error) { return os.Hostname() }

func (realHost) LoopBacking(major, minor int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/sys/dev/block/%d:%d/loop/backing_file", major, minor))
	return strings.TrimSuffix(string(b), "\n"), err
}
