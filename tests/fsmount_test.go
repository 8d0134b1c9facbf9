package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

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
	if _, err := os.Stat(mnt + "/.Filesystem_status/node1"); err == nil {
		t.Error("the status file was written outside the namespace's mount")
	}
	if out := l.ns.Run(t, "cat", mnt+"/.Filesystem_status/node1"); !strings.HasPrefix(out, "node1 ") {
		t.Errorf("status file content: %q", out)
	}
	l.ns.Run(t, "mount", "-o", "remount,ro", mnt)
	a.Expect(t, 0, "monitor", recurring, "OCF_CHECK_LEVEL=10")
	r := a.Expect(t, 1, "monitor", recurring, "OCF_CHECK_LEVEL=20")
	if !strings.Contains(r.ExitReasons()[0], "read-only") {
		t.Errorf("reason: %q", r.ExitReasons())
	}
	a.Expect(t, 0, "stop")
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
		{"fstype", "", "fstype is required"},
		{"fstype", "ext4 ro", "not a filesystem type"},
		{"fstype", "none", "only for bind mounts"},
		{"run_fsck", "sometimes", "not one of auto, force, no"},
		{"fast_stop", "quick", "not a boolean"},
		{"force_clones", "2", "not a boolean"},
		{"force_unmount", "always", "not one of true, safe, false"},
		{"term_signals", "SIGFOO", "not a signal"},
		{"term_signals", "99", "out of range"},
		{"kill_signals", ",", "no signal given"},
		{"signal_delay", "soon", "not an integer"},
		{"signal_delay", "-1", "out of range"},
		{"statusfile_prefix", "/abs/", "relative path inside the mount"},
		{"statusfile_prefix", "../up", "relative path inside the mount"},
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
