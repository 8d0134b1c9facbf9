package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gocf/gocf/pkg/mounts"
	"github.com/gocf/gocf/tests/lab"
)

// fsLab is a private mount namespace with a work directory for mount points.
type fsLab struct {
	ns  *lab.MountNS
	dir string
}

func newFsLab(t *testing.T) *fsLab {
	t.Helper()
	lab.RequireRoot(t)
	lab.RequireTool(t, "losetup")
	return &fsLab{ns: lab.NewMountNS(t), dir: t.TempDir()}
}

func (l *fsLab) agent(params map[string]string) *lab.Agent {
	return &lab.Agent{Bin: agentBin("fsmount"), MountNS: l.ns, Instance: "fs-test", Params: params}
}

func (l *fsLab) path(p string) string { return filepath.Join(l.dir, p) }

const recurring = "OCF_RESKEY_CRM_meta_interval=20000"

func TestFsmountOCFTester(t *testing.T) {
	for _, fstype := range []string{"ext4", "xfs"} {
		t.Run(fstype, func(t *testing.T) {
			l := newFsLab(t)
			size := 64
			if fstype == "xfs" {
				size = 300 // mkfs.xfs's minimum
			}
			loop := lab.NewLoop(t, fstype, size)
			p := l.ns.Prefix()
			args := append(p[1:], "ocf-tester", "-n", "fst", "-o", "device="+loop.Dev,
				"-o", "directory="+l.path("mnt"), "-o", "fstype="+fstype, agentBin("fsmount"))
			out, err := exec.Command(p[0], args...).CombinedOutput()
			t.Logf("%s", out)
			if err != nil || !strings.Contains(string(out), "passed all tests") {
				t.Fatalf("ocf-tester failed: %v", err)
			}
		})
	}
}

func TestFsmountStopSignalsOnlyHolders(t *testing.T) {
	l := newFsLab(t)
	loop := lab.NewLoop(t, "ext4", 32)
	other := lab.NewLoop(t, "ext4", 32)
	mnt, elsewhere := l.path("mnt"), l.path("other")
	a := l.agent(map[string]string{"device": loop.Dev, "directory": mnt, "fstype": "ext4", "signal_delay": "1"})
	a.Expect(t, 0, "start")
	l.ns.Run(t, "mkdir", "-p", mnt+"/d", elsewhere)
	l.ns.Run(t, "mount", other.Dev, elsewhere)

	byCwd := l.ns.Hold(t, "cwd", mnt+"/d")
	byFile := l.ns.Hold(t, "open", mnt+"/open.txt")
	byMap := l.ns.Hold(t, "mmap", mnt+"/mapped.bin")
	// Bystanders: one on another filesystem, one merely near the mount point.
	bystander := l.ns.Hold(t, "cwd", elsewhere)
	neighbour := l.ns.Hold(t, "cwd", l.dir)

	// Told not to signal anyone, stop fails and names a holder.
	r := a.Expect(t, 1, "stop", "OCF_RESKEY_force_unmount=false", "OCF_RESKEY_fast_stop=true", "OCF_RESKEY_signal_delay=0")
	if !strings.Contains(r.ExitReasons()[0], "busy") || !byCwd.Alive() || !byFile.Alive() || !byMap.Alive() {
		t.Fatalf("force_unmount=false: %q", r.ExitReasons())
	}
	a.Expect(t, 0, "monitor", recurring)

	r = a.Expect(t, 0, "stop")
	for name, p := range map[string]*lab.Proc{"cwd": byCwd, "open file": byFile, "mmap": byMap} {
		if !p.Exited(5 * time.Second) {
			t.Errorf("holder by %s survived the stop", name)
		}
	}
	if !bystander.Alive() || !neighbour.Alive() {
		t.Error("stop killed a process that did not hold the mount")
	}
	if l.ns.Mounted(t, mnt) {
		t.Error("still mounted after a successful stop")
	}
	if !strings.Contains(r.Stderr, "is held by") {
		t.Errorf("stop should log the holders it found: %s", r.Stderr)
	}
	a.Expect(t, 7, "monitor")
}

// TestFsmountBindMountSpares checks resource-agents #1304: stopping a bind
// mount must not kill the users of its source.
func TestFsmountBindMountSpares(t *testing.T) {
	l := newFsLab(t)
	loop := lab.NewLoop(t, "ext4", 32)
	data, bound := l.path("data"), l.path("bound")
	l.ns.Run(t, "mkdir", "-p", data)
	l.ns.Run(t, "mount", loop.Dev, data)
	l.ns.Run(t, "mkdir", "-p", data+"/export")
	a := l.agent(map[string]string{"device": data + "/export", "directory": bound, "fstype": "none", "options": "bind,ro"})
	a.Expect(t, 0, "start")
	a.Expect(t, 0, "monitor", recurring)
	if out := l.ns.Run(t, "findmnt", "-n", "-o", "OPTIONS", bound); !strings.HasPrefix(out, "ro") {
		t.Errorf("bind,ro not applied: %q", out)
	}
	sourceUser := l.ns.Hold(t, "cwd", data+"/export")
	bindUser := l.ns.Hold(t, "cwd", bound)
	a.Expect(t, 0, "stop")
	if !bindUser.Exited(5 * time.Second) {
		t.Error("the bind mount's user survived")
	}
	if !sourceUser.Alive() {
		t.Error("stop of the bind mount killed a user of its source (resource-agents #1304)")
	}
	if !l.ns.Mounted(t, data) || l.ns.Mounted(t, bound) {
		t.Error("want the source mounted and the bind gone")
	}
}

func TestFsmountDepths(t *testing.T) {
	l := newFsLab(t)
	loop := lab.NewLoop(t, "ext4", 32)
	mnt := l.path("mnt")
	a := l.agent(map[string]string{"device": loop.Dev, "directory": mnt, "fstype": "ext4"})
	a.Expect(t, 0, "start")
	for _, depth := range []string{"0", "10", "20"} {
		a.Expect(t, 0, "monitor", recurring, "OCF_CHECK_LEVEL="+depth, "OCF_RESKEY_CRM_meta_on_node=node1")
	}
	if _, err := os.Stat(mnt + "/.Filesystem_status"); err == nil {
		t.Error("the status file was written outside the namespace's mount")
	}
	// Each run writes a file of its own and removes it.
	if out := l.ns.Run(t, "ls", "-A", mnt+"/.Filesystem_status"); out != "" {
		t.Errorf("status files left behind: %q", out)
	}
	// Remounted read-only while configured read-write: broken at every
	// depth, from the mount table.
	l.ns.Run(t, "mount", "-o", "remount,ro", mnt)
	for _, depth := range []string{"0", "10", "20"} {
		r := a.Expect(t, 1, "monitor", recurring, "OCF_CHECK_LEVEL="+depth)
		if !strings.Contains(r.ExitReasons()[0], "read-only") {
			t.Errorf("depth %s reason: %q", depth, r.ExitReasons())
		}
	}
	// A probe writes nothing but still sees the read-only flag of a
	// filesystem configured read-write: mounted but broken, not 0.
	r := a.Expect(t, 1, "monitor", "OCF_CHECK_LEVEL=20")
	if !strings.Contains(r.ExitReasons()[0], "read-only") {
		t.Errorf("probe reason: %q", r.ExitReasons())
	}
	a.Expect(t, 0, "monitor", "OCF_CHECK_LEVEL=20", "OCF_RESKEY_options=ro")
	a.Expect(t, 0, "stop")
}

// TestFsmountStatusFileLinks: whoever can write to the filesystem's root
// must not make the root-run monitor write elsewhere through a link.
func TestFsmountStatusFileLinks(t *testing.T) {
	l := newFsLab(t)
	loop := lab.NewLoop(t, "ext4", 32)
	mnt, outside := l.path("mnt"), l.path("outside")
	if err := os.MkdirAll(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	a := l.agent(map[string]string{"device": loop.Dev, "directory": mnt, "fstype": "ext4"})
	a.Expect(t, 0, "start")
	l.ns.Run(t, "ln", "-s", outside, mnt+"/.Filesystem_status")
	l.ns.Run(t, "ln", "-s", outside, mnt+"/a")
	for _, prefix := range []string{".Filesystem_status/", "a/b/st-"} {
		r := a.Expect(t, 1, "monitor", recurring, "OCF_CHECK_LEVEL=20", "OCF_RESKEY_statusfile_prefix="+prefix)
		if !strings.Contains(r.ExitReasons()[0], "symbolic link") {
			t.Errorf("%s: reason %q", prefix, r.ExitReasons())
		}
	}
	if left, _ := os.ReadDir(outside); len(left) > 0 {
		t.Errorf("the monitor wrote through a link: %v", left)
	}
	a.Expect(t, 0, "monitor", recurring, "OCF_CHECK_LEVEL=20", "OCF_RESKEY_statusfile_prefix=st-")
	if out := l.ns.Run(t, "ls", "-A", mnt); strings.Contains(out, "st-") {
		t.Errorf("status file left behind: %q", out)
	}
	a.Expect(t, 0, "stop")
}

// TestFsmountConcurrentStatusFiles: depth-20 monitors that overlap (a
// probe and a recurring monitor, or two intervals) each use a file of
// their own and never read back what another wrote.
func TestFsmountConcurrentStatusFiles(t *testing.T) {
	l := newFsLab(t)
	loop := lab.NewLoop(t, "ext4", 32)
	mnt := l.path("mnt")
	a := l.agent(map[string]string{"device": loop.Dev, "directory": mnt, "fstype": "ext4"})
	a.Expect(t, 0, "start")
	const n = 12
	for round := 0; round < 3; round++ {
		var wg sync.WaitGroup
		got := make([]lab.Result, n)
		for i := range got {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				got[i] = a.Do(t, "monitor", recurring, "OCF_CHECK_LEVEL=20", "OCF_RESKEY_CRM_meta_on_node=node1")
			}(i)
		}
		wg.Wait()
		for i, r := range got {
			if r.Status != 0 {
				t.Errorf("round %d, monitor %d: %d %q", round, i, r.Status, r.ExitReasons())
			}
		}
	}
	if out := l.ns.Run(t, "ls", "-A", mnt+"/.Filesystem_status"); out != "" {
		t.Errorf("status files left behind: %q", out)
	}
	a.Expect(t, 0, "stop")
}

// TestFsmountDeviceShrank: a device that reads short (here a loop device
// whose capacity dropped to 0 under the mounted filesystem) fails depth 10.
func TestFsmountDeviceShrank(t *testing.T) {
	l := newFsLab(t)
	loop := lab.NewLoop(t, "ext4", 32)
	a := l.agent(map[string]string{"device": loop.Dev, "directory": l.path("mnt"), "fstype": "ext4"})
	a.Expect(t, 0, "start")
	a.Expect(t, 0, "monitor", recurring, "OCF_CHECK_LEVEL=10")
	if err := os.Truncate(loop.Image, 0); err != nil {
		t.Fatal(err)
	}
	lab.Run(t, "losetup", "-c", loop.Dev)
	if size := strings.TrimSpace(lab.Run(t, "blockdev", "--getsize64", loop.Dev)); size != "0" {
		t.Fatalf("loop device still has %s bytes", size)
	}
	r := a.Expect(t, 1, "monitor", recurring, "OCF_CHECK_LEVEL=10")
	if !strings.Contains(r.ExitReasons()[0], "0 of 4096") {
		t.Errorf("reason: %q", r.ExitReasons())
	}
	a.Do(t, "stop")
}

// TestFsmountFrozen: fsfreeze -f blocks every write in the kernel (D state,
// where no signal reaches). The monitor must still answer within its
// timeout, stop must thaw before unmounting (an unmounted frozen superblock
// stays frozen and the next mount gets it back), and start must thaw a
// superblock an earlier unmount left frozen.
func TestFsmountFrozen(t *testing.T) {
	l := newFsLab(t)
	lab.RequireTool(t, "fsfreeze")
	loop := lab.NewLoop(t, "ext4", 32)
	mnt := l.path("mnt")
	a := l.agent(map[string]string{"device": loop.Dev, "directory": mnt, "fstype": "ext4"})
	inNS := func(args ...string) error {
		p := l.ns.Prefix()
		return exec.Command(p[0], append(p[1:], args...)...).Run()
	}
	thaw := func() { inNS("fsfreeze", "-u", mnt) }
	t.Cleanup(func() {
		thaw()
		// A frozen superblock without a mount is reached through a new one.
		if inNS("mount", loop.Dev, mnt) == nil {
			thaw()
			inNS("umount", mnt)
		}
	})
	const timeout = "OCF_RESKEY_CRM_meta_timeout=5000"
	a.Expect(t, 0, "start")
	l.ns.Run(t, "fsfreeze", "-f", mnt)
	// Should the agent hang anyway, this thaw ends it and the test fails.
	safety := time.AfterFunc(20*time.Second, thaw)
	began := time.Now()
	r := a.Do(t, "monitor", recurring, "OCF_CHECK_LEVEL=20", timeout)
	took := time.Since(began)
	safety.Stop()
	if r.Status != 1 || len(r.ExitReasons()) != 1 || took > 5*time.Second {
		t.Fatalf("depth 20 on a frozen filesystem: %d after %s, reasons %q", r.Status, took, r.ExitReasons())
	}
	if !strings.Contains(r.ExitReasons()[0], "frozen") {
		t.Errorf("reason: %q", r.ExitReasons())
	}
	a.Expect(t, 0, "monitor", recurring, "OCF_CHECK_LEVEL=10", timeout)
	r = a.Expect(t, 0, "stop", "OCF_RESKEY_CRM_meta_timeout=20000")
	if !strings.Contains(r.Stderr, "frozen") {
		t.Errorf("stop should say it thawed the filesystem: %s", r.Stderr)
	}
	if l.ns.Mounted(t, mnt) {
		t.Fatal("still mounted")
	}
	// Not left frozen: the next mount can be written, and the abandoned
	// monitor's child, let go by the thaw, removed its status file.
	a.Expect(t, 0, "start")
	a.Expect(t, 0, "monitor", recurring, "OCF_CHECK_LEVEL=20", timeout)
	if out := l.ns.Run(t, "ls", "-A", mnt+"/.Filesystem_status"); out != "" {
		t.Errorf("status files left behind: %q", out)
	}

	// Frozen, then unmounted behind the agent's back: start thaws it.
	l.ns.Run(t, "fsfreeze", "-f", mnt)
	l.ns.Run(t, "umount", mnt)
	r = a.Expect(t, 0, "start")
	if !strings.Contains(r.Stderr, "frozen") {
		t.Errorf("start should say it thawed the filesystem: %s", r.Stderr)
	}
	a.Expect(t, 0, "monitor", recurring, "OCF_CHECK_LEVEL=20", timeout)
	a.Expect(t, 0, "stop")
}

// TestFsmountSystemDirectories: a system directory is refused however it
// is spelt, through a link too; look-alikes below are not.
func TestFsmountSystemDirectories(t *testing.T) {
	l := newFsLab(t)
	loop := lab.NewLoop(t, "ext4", 32)
	link := l.path("etc-link")
	if err := os.Symlink("/etc", link); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{link, link + "/", l.path("etc-link/../etc-link")} {
		a := l.agent(map[string]string{"device": loop.Dev, "directory": dir, "fstype": "ext4"})
		for _, action := range []string{"validate-all", "start"} {
			r := a.Expect(t, 6, action)
			if !strings.Contains(r.ExitReasons()[0], "system directory") {
				t.Errorf("%s %s: reason %q", dir, action, r.ExitReasons())
			}
		}
		if l.ns.Mounted(t, "/etc") {
			t.Fatal("mounted over /etc")
		}
		a.Expect(t, 7, "monitor")
		a.Expect(t, 0, "stop")
	}
	for _, dir := range []string{"/var/lib/asterisk", "/srv/gocf-test", "/mnt/gocf-test", l.path("x")} {
		l.agent(map[string]string{"device": loop.Dev, "directory": dir, "fstype": "ext4"}).Expect(t, 0, "validate-all")
	}
}

// TestFsmountReadmeListsSystemDirectories keeps README's list of refused
// directories equal to the agent's.
func TestFsmountReadmeListsSystemDirectories(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(lab.RepoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i := strings.Index(readme, "## Using `ocf:gocf:fsmount`")
	j := strings.Index(readme[i+1:], "\n## ")
	if i < 0 || j < 0 {
		t.Fatal("README.md has no fsmount section")
	}
	section := readme[i : i+1+j]
	exact, trees := mounts.SystemDirs()
	for _, d := range append(exact, trees...) {
		if !strings.Contains(section, "`"+d+"`") {
			t.Errorf("README's fsmount section does not list %s", d)
		}
	}
}

// TestFsmountValidateAsStart: validate-all refuses what start would, with
// the same code, without mounting anything.
func TestFsmountValidateAsStart(t *testing.T) {
	l := newFsLab(t)
	loop := lab.NewLoop(t, "ext4", 32)
	mnt := l.path("mnt")
	for _, c := range []struct {
		fstype string
		status int
		reason string
	}{
		{"ext5", 5, "does not support"}, // in no /proc/filesystems, no module
		{"xfs", 6, "holds ext4"},        // the device says otherwise
	} {
		a := l.agent(map[string]string{"device": loop.Dev, "directory": mnt, "fstype": c.fstype})
		for _, action := range []string{"validate-all", "start"} {
			r := a.Expect(t, c.status, action)
			if !strings.Contains(r.ExitReasons()[0], c.reason) {
				t.Errorf("fstype %s %s: reason %q", c.fstype, action, r.ExitReasons())
			}
		}
		if l.ns.Mounted(t, mnt) {
			t.Fatalf("fstype %s: mounted", c.fstype)
		}
	}
	ok := l.agent(map[string]string{"device": loop.Dev, "directory": mnt, "fstype": "ext4"})
	for _, v := range []string{"yes", "no", "1", "0", "safe", "FALSE"} {
		ok.Expect(t, 0, "validate-all", "OCF_RESKEY_force_unmount="+v)
	}
	// Without privileges: 4, not 5 for a mount point nobody may create.
	for _, action := range []string{"validate-all", "start"} {
		cmd := exec.Command(agentBin("fsmount"), action)
		cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "OCF_ROOT=/usr/lib/ocf", "OCF_RESOURCE_INSTANCE=fs-nobody",
			"OCF_RESKEY_device=" + loop.Dev, "OCF_RESKEY_directory=" + mnt, "OCF_RESKEY_fstype=ext4"}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, _ := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != 4 || !strings.Contains(string(out), "ocf-exit-reason:") {
			t.Errorf("%s as nobody: %d\n%s", action, code, out)
		}
	}
}

func TestFsmountDeviceRemoved(t *testing.T) {
	l := newFsLab(t)
	loop := lab.NewLoop(t, "ext4", 32)
	a := l.agent(map[string]string{"device": loop.Dev, "directory": l.path("mnt"), "fstype": "ext4"})
	a.Expect(t, 0, "validate-all")
	loop.Detach()
	// A detached loop device node stays, but reads as empty: use a path
	// that is really gone too.
	gone := l.agent(map[string]string{"device": "/dev/gocf-no-such-disk", "directory": l.path("mnt"), "fstype": "ext4"})
	for _, action := range []string{"validate-all", "start"} {
		r := gone.Expect(t, 5, action)
		if !strings.Contains(r.ExitReasons()[0], "does not exist on this node") {
			t.Errorf("%s reason: %q", action, r.ExitReasons())
		}
	}
	r := a.Expect(t, 1, "start")
	t.Logf("start on a detached loop device: %q", r.ExitReasons())
	gone.Expect(t, 7, "monitor")
	gone.Expect(t, 0, "stop")
}

func TestFsmountMountPointShapes(t *testing.T) {
	l := newFsLab(t)
	loop := lab.NewLoop(t, "ext4", 32)
	// A mount point whose parents do not exist yet.
	deep := l.path("a/b/c")
	a := l.agent(map[string]string{"device": loop.Dev, "directory": deep, "fstype": "ext4"})
	a.Expect(t, 0, "start")
	a.Expect(t, 0, "monitor", recurring)
	a.Expect(t, 0, "stop")

	// A symlinked mount point: the table shows the target.
	real := l.path("real")
	os.MkdirAll(real, 0o755)
	link := l.path("link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	s := l.agent(map[string]string{"device": loop.Dev, "directory": link + "/", "fstype": "ext4"})
	s.Expect(t, 0, "start")
	if !l.ns.Mounted(t, real) {
		t.Fatal("not mounted on the symlink's target")
	}
	s.Expect(t, 0, "monitor", recurring)
	s.Expect(t, 0, "start")
	s.Expect(t, 0, "stop")
	s.Expect(t, 7, "monitor", recurring)
}

func TestFsmountForeignMountAndSubmounts(t *testing.T) {
	l := newFsLab(t)
	loop := lab.NewLoop(t, "ext4", 32)
	sub := lab.NewLoop(t, "ext4", 32)
	mnt := l.path("mnt")
	a := l.agent(map[string]string{"device": loop.Dev, "directory": mnt, "fstype": "ext4"})

	// Something else is mounted there: not ours, never touched.
	l.ns.Run(t, "mkdir", "-p", mnt)
	l.ns.Run(t, "mount", "-t", "tmpfs", "tmpfs", mnt)
	r := a.Expect(t, 1, "start")
	if !strings.Contains(r.ExitReasons()[0], "already has tmpfs") {
		t.Errorf("reason: %q", r.ExitReasons())
	}
	a.Expect(t, 7, "monitor")
	a.Expect(t, 0, "stop")
	if !l.ns.Mounted(t, mnt) {
		t.Fatal("stop removed someone else's mount")
	}
	l.ns.Run(t, "umount", mnt)

	// Submounts go first, deepest first.
	a.Expect(t, 0, "start")
	l.ns.Run(t, "mkdir", "-p", mnt+"/sub/deeper")
	l.ns.Run(t, "mount", sub.Dev, mnt+"/sub")
	l.ns.Run(t, "mkdir", "-p", mnt+"/sub/deeper")
	l.ns.Run(t, "mount", "-t", "tmpfs", "tmpfs", mnt+"/sub/deeper")
	a.Expect(t, 0, "stop")
	for _, p := range []string{mnt, mnt + "/sub", mnt + "/sub/deeper"} {
		if l.ns.Mounted(t, p) {
			t.Errorf("%s still mounted", p)
		}
	}
}

func TestFsmountUUIDAndLabel(t *testing.T) {
	l := newFsLab(t)
	loop := lab.NewLoop(t, "ext4", 32, "-L", "gocftest", "-U", "0b3f7c1e-6a4d-4a61-9b8e-2d6f0c1a5e77")
	for _, dev := range []string{"UUID=0b3f7c1e-6a4d-4a61-9b8e-2d6f0c1a5e77", "-L gocftest", "LABEL=gocftest", "-U 0b3f7c1e-6a4d-4a61-9b8e-2d6f0c1a5e77"} {
		a := l.agent(map[string]string{"device": dev, "directory": l.path("mnt"), "fstype": "ext4"})
		a.Expect(t, 0, "start")
		a.Expect(t, 0, "monitor", recurring)
		a.Expect(t, 0, "stop")
	}
	_ = loop
}

func TestFsmountFsck(t *testing.T) {
	l := newFsLab(t)
	loop := lab.NewLoop(t, "ext2", 32)
	// ext2 has no journal: run_fsck=auto checks it before mounting.
	a := l.agent(map[string]string{"device": loop.Dev, "directory": l.path("mnt"), "fstype": "ext2"})
	a.Expect(t, 0, "start")
	a.Expect(t, 0, "stop")
	// A superblock destroyed beyond repair fails start with a reason.
	lab.Run(t, "dd", "if=/dev/zero", "of="+loop.Dev, "bs=1024", "seek=1", "count=1", "conv=notrunc", "status=none")
	r := a.Expect(t, 1, "start")
	if !strings.Contains(r.ExitReasons()[0], "fsck") {
		t.Errorf("reason: %q", r.ExitReasons())
	}
	if l.ns.Mounted(t, l.path("mnt")) {
		t.Error("mounted despite fsck failure")
	}
}

func TestFsmountTwentyAtOnce(t *testing.T) {
	l := newFsLab(t)
	const n = 20
	agents := make([]*lab.Agent, n)
	for i := range agents {
		loop := lab.NewLoop(t, "ext4", 8)
		agents[i] = l.agent(map[string]string{"device": loop.Dev, "directory": l.path(fmt.Sprintf("m%02d", i)), "fstype": "ext4"})
		agents[i].Instance = fmt.Sprintf("fs%02d", i)
		agents[i].Expect(t, 0, "start")
	}
	// Unmount every fourth by hand.
	for i := 0; i < n; i += 4 {
		l.ns.Run(t, "umount", l.path(fmt.Sprintf("m%02d", i)))
	}
	var wg sync.WaitGroup
	got := make([]int, n)
	for i := range agents {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			got[i] = agents[i].Do(t, "monitor", recurring, "OCF_CHECK_LEVEL=20").Status
		}(i)
	}
	wg.Wait()
	for i, status := range got {
		want := 0
		if i%4 == 0 {
			want = 7
		}
		if status != want {
			t.Errorf("fs%02d: monitor %d, want %d", i, status, want)
		}
	}
	for _, a := range agents {
		a.Expect(t, 0, "stop")
	}
}

func TestFsmountRejectsBadValues(t *testing.T) {
	l := newFsLab(t)
	base := map[string]string{"device": "/dev/loop-unused", "directory": l.path("mnt"), "fstype": "ext4"}
	lab.RejectsAll(t, l.agent, base, lab.BadValues{
		{"device", "", "device is required"},
		{"device", "sda1", "neither a device path"},
		{"device", "UUID=", "no usable UUID"},
		{"directory", "", "directory is required"},
		{"directory", "relative/path", "not an absolute path"},
		{"directory", "/", "cannot be managed"},
		{"directory", "/etc", "system directory"},
		{"directory", "/etc/../etc/", "system directory"},
		{"directory", "/usr//lib/", "system directory"},
		{"directory", "/var/log", "system directory"},
		{"directory", "/proc/sys/fs", "system directory"},
		{"device", "/dev/sd\x1bb", "control character"},
		{"options", "noatime\nro", "control character"},
		{"options", strings.Repeat("x", 100000), "longer than"},
		{"fstype", "", "fstype is required"},
		{"fstype", "ext4 ro", "not a filesystem type"},
		{"fstype", "none", "only for bind mounts"},
		{"run_fsck", "sometimes", "not one of auto, force, no"},
		{"fast_stop", "quick", "not a boolean"},
		{"force_clones", "2", "not a boolean"},
		{"force_unmount", "always", "not a boolean"},
		{"force_unmount", "move", "use safe"},
		{"term_signals", "SIGFOO", "not a signal"},
		{"term_signals", "99", "out of range"},
		{"kill_signals", ",", "no signal given"},
		{"signal_delay", "soon", "not an integer"},
		{"signal_delay", "-1", "out of range"},
		{"statusfile_prefix", "/abs/", "relative path inside the mount"},
		{"statusfile_prefix", "../up", "relative path inside the mount"},
	})
	// Network sources are checked for their shape, never passed as options.
	nfs := map[string]string{"device": "server:/export", "directory": l.path("n"), "fstype": "nfs4"}
	lab.RejectsAll(t, l.agent, nfs, lab.BadValues{
		{"device", "-oremount:/x", "begins with '-'"},
		{"device", "server", "host:/path"},
		{"device", "server:/a b", "blank"},
		{"device", "server:/a\tb", "control character"},
	})
	cifs := map[string]string{"device": "//server/share", "directory": l.path("c"), "fstype": "cifs"}
	lab.RejectsAll(t, l.agent, cifs, lab.BadValues{
		{"device", "server/share", "//server/share"},
		{"device", "//-V/share", "//server/share"},
	})
	// A bind mount needs an absolute source; ext4 cannot be cloned.
	l.agent(map[string]string{"device": "rel", "directory": l.path("b"), "fstype": "none", "options": "bind"}).Expect(t, 6, "validate-all")
	r := l.agent(base).Expect(t, 6, "validate-all", "OCF_RESKEY_CRM_meta_clone_max=2")
	if !strings.Contains(r.ExitReasons()[0], "not a cluster filesystem") {
		t.Errorf("clone reason: %q", r.ExitReasons())
	}
	forced := map[string]string{"force_clones": "true"}
	for k, v := range base {
		forced[k] = v
	}
	if st := l.agent(forced).Do(t, "validate-all", "OCF_RESKEY_CRM_meta_clone_max=2").Status; st == 6 {
		t.Error("force_clones did not allow the clone")
	}
}

// TestFsmountLoopImage: options=loop mounts an image file through
// mount(8); the mount table then names /dev/loopN, not the image, and the
// agent must still know the mount as its own (it once failed start, said 7
// while mounted and left it mounted at stop).
func TestFsmountLoopImage(t *testing.T) {
	l := newFsLab(t)
	lab.RequireTool(t, "mkfs.ext4")
	img, mnt := l.path("fs.img"), l.path("mnt")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 32<<20); err != nil {
		t.Fatal(err)
	}
	lab.Run(t, "mkfs.ext4", "-q", "-F", img)
	a := l.agent(map[string]string{"device": img, "directory": mnt, "fstype": "ext4", "options": "loop"})
	a.Expect(t, 7, "monitor")
	a.Expect(t, 0, "start")
	a.Expect(t, 0, "monitor", recurring)
	a.Expect(t, 0, "monitor", recurring, "OCF_CHECK_LEVEL=20", "OCF_RESKEY_CRM_meta_on_node=node1")
	a.Expect(t, 0, "stop")
	a.Expect(t, 7, "monitor")
	if out := l.ns.Run(t, "cat", "/proc/self/mountinfo"); strings.Contains(out, " "+mnt+" ") {
		t.Errorf("still mounted after stop:\n%s", out)
	}
}

// TestFsmountReloadAgent: a 1.1 caller may change a reloadable parameter of
// a mounted filesystem; reload-agent validates it and leaves the mount.
func TestFsmountReloadAgent(t *testing.T) {
	l := newFsLab(t)
	loop := lab.NewLoop(t, "ext4", 32)
	mnt := l.path("mnt")
	a := l.agent(map[string]string{"device": loop.Dev, "directory": mnt, "fstype": "ext4"})
	v11 := []string{"OCF_RA_VERSION_MAJOR=1", "OCF_RA_VERSION_MINOR=1"}
	a.Expect(t, 0, "start")
	a.Expect(t, 0, "reload-agent", append(v11, "OCF_RESKEY_signal_delay=3", "OCF_RESKEY_force_unmount=safe")...)
	a.Expect(t, 6, "reload-agent", append(v11, "OCF_RESKEY_signal_delay=-1")...)
	a.Expect(t, 0, "monitor", recurring)
	a.Expect(t, 0, "stop")
}

// TestFsmountFull: issue 16, fault 7. A full filesystem is degraded (190,
// with the reason), never failed: a restart or a move would not free a
// byte (DRBD or the shared disk gives the other node the same full
// filesystem), so failing would only move the PBX round the nodes. Filled
// by Asterisk's user, root's reserved blocks still take the status file,
// and the monitor still reports it full; filled by root, the status file
// write fails with ENOSPC. Emptied, it is healthy again; remounted
// read-only (fault 6) it fails.
func TestFsmountFull(t *testing.T) {
	lab.RequireTool(t, "setpriv")
	for _, fs := range []struct{ fstype, options string }{{"ext4", ""}, {"tmpfs", "size=2m"}} {
		t.Run(fs.fstype, func(t *testing.T) {
			l := newFsLab(t)
			mnt := l.path("mnt")
			params := map[string]string{"directory": mnt, "fstype": fs.fstype, "options": fs.options}
			if fs.fstype == "tmpfs" {
				params["device"] = "gocf-full"
			} else {
				params["device"] = lab.NewLoop(t, fs.fstype, 32).Dev
			}
			a := l.agent(params)
			deep := []string{recurring, "OCF_CHECK_LEVEL=20", "OCF_RESKEY_CRM_meta_on_node=node1"}
			a.Expect(t, 0, "start")
			a.Expect(t, 0, "monitor", deep...)

			// Asterisk's user (nobody here) fills it: ext4 keeps its
			// reserved blocks for uid 0 (resuid), not for a capability.
			for _, d := range []string{l.dir, filepath.Dir(l.dir)} {
				if err := os.Chmod(d, 0o711); err != nil {
					t.Fatal(err)
				}
			}
			l.ns.Run(t, "install", "-d", "-o", "65534", "-g", "65534", mnt+"/user")
			out := l.ns.Run(t, "sh", "-c", `setpriv --reuid=65534 --regid=65534 --clear-groups dd if=/dev/zero of="$1/user/fill" bs=4k 2>&1; true`, "sh", mnt)
			if !strings.Contains(out, "No space left on device") {
				t.Fatalf("filling as a user: %s", out)
			}
			r := a.Expect(t, 190, "monitor", deep...)
			reason := strings.TrimSpace(r.ExitReasons()[0])
			if !strings.HasPrefix(reason, mnt+" is full (") || !strings.Contains(reason, "free), still readable") {
				t.Errorf("reason %q", reason)
			}
			if fs.fstype == "ext4" && !strings.Contains(r.Stderr, "only root's reserved blocks are left") {
				t.Errorf("want the reserved blocks named:\n%s", r.Stderr)
			}
			// Root fills the rest: the status file itself finds no room.
			out = l.ns.Run(t, "sh", "-c", `dd if=/dev/zero of="$1/root-fill" bs=4k 2>&1; true`, "sh", mnt)
			if !strings.Contains(out, "No space left on device") {
				t.Fatalf("filling as root: %s", out)
			}
			r = a.Expect(t, 190, "monitor", deep...)
			if !strings.Contains(r.Stderr, "no space left on device") || !strings.Contains(r.ExitReasons()[0], "0 B free") {
				t.Errorf("want ENOSPC in the log and nothing free in the reason:\n%s", r.Stderr)
			}
			// The shallower depths and a probe write nothing: running.
			a.Expect(t, 0, "monitor", recurring, "OCF_CHECK_LEVEL=10")
			a.Expect(t, 0, "monitor", "OCF_CHECK_LEVEL=20")
			if out := l.ns.Run(t, "ls", "-A", mnt+"/.Filesystem_status"); out != "" {
				t.Errorf("status files left behind: %q", out)
			}
			// Read-only is still a failure, full or not.
			l.ns.Run(t, "mount", "-o", "remount,ro", mnt)
			if r := a.Expect(t, 1, "monitor", deep...); !strings.Contains(r.ExitReasons()[0], "read-only") {
				t.Errorf("read-only: %q", r.ExitReasons())
			}
			l.ns.Run(t, "mount", "-o", "remount,rw", mnt)
			l.ns.Run(t, "rm", "-r", mnt+"/user", mnt+"/root-fill")
			a.Expect(t, 0, "monitor", deep...)
			a.Expect(t, 0, "stop")
		})
	}
}
