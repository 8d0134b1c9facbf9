package fsmount

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gocf/gocf/pkg/ocf"
	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// rig runs the agent through the SDK on a fake node replaying one
// recording (see replay_test.go).
type rig struct {
	t   *testing.T
	rec *recording
	f   *fake
	dir string
}

func replay(t *testing.T, recording, state string) *rig {
	rec := loadRecording(t, recording)
	return &rig{t: t, rec: rec, f: rec.fake(t, state), dir: t.TempDir()}
}

// v is a name the recording used (device, mount point ...).
func (g *rig) v(name string) string {
	g.t.Helper()
	s, ok := g.rec.Vars[name]
	if !ok {
		g.t.Fatalf("recording has no %s", name)
	}
	return s
}

// run runs one action with params (name=value, or OCF_...=value as is)
// and returns its status, exit reason and log.
func (g *rig) run(action string, params ...string) (ocf.Status, string, string) {
	g.t.Helper()
	env := []string{"OCF_RESOURCE_INSTANCE=fs-unit", "HA_RSCTMP=" + g.dir, "OCF_RESKEY_CRM_meta_timeout=10000",
		"OCF_RESKEY_CRM_meta_on_node=" + node1}
	for _, p := range params {
		if !strings.HasPrefix(p, "OCF_") {
			p = "OCF_RESKEY_" + p
		}
		env = append(env, p)
	}
	var stdout, stderr bytes.Buffer
	ops := len(g.f.Ops())
	st := ocf.Run(agentOn(g.f.node()), []string{"fsmount", action}, env, &stdout, &stderr, func(code int) { g.t.Errorf("watchdog exit %d", code) })
	var reasons []string
	for l := range strings.Lines(stderr.String()) {
		if r, ok := strings.CutPrefix(l, "ocf-exit-reason:"); ok {
			reasons = append(reasons, strings.TrimSpace(r))
		}
	}
	if len(reasons) > 1 {
		g.t.Errorf("%s: several exit reasons %q", action, reasons)
	}
	if action == "monitor" || action == "validate-all" {
		// blkid only looks.
		if done := slices.DeleteFunc(g.f.Ops()[ops:], func(o string) bool { return strings.HasPrefix(o, "findfs ") }); len(done) > 0 {
			g.t.Errorf("%s changed the node: %q", action, done)
		}
	}
	g.t.Logf("%s %q -> %v %q (now %q)", action, params, st, reasons, g.f.State())
	return st, strings.Join(reasons, ""), stderr.String()
}

// expect runs an action, checks its status, that its reason contains each
// of reason, and that the operations it made were ops (each "do arg").
func (g *rig) expect(want ocf.Status, action string, params []string, ops []string, reason ...string) string {
	g.t.Helper()
	before := len(g.f.Ops())
	st, r, log := g.run(action, params...)
	if st != want {
		g.t.Fatalf("%s %q: %v, want %v (reason %q)\n%s", action, params, st, want, r, log)
	}
	if want != ocf.Success && want != ocf.NotRunning && r == "" {
		g.t.Errorf("%s %q: %v without a reason", action, params, st)
	}
	for _, s := range reason {
		if !strings.Contains(r, s) {
			g.t.Errorf("%s %q: reason %q lacks %q", action, params, r, s)
		}
	}
	if got := g.short(before); !slices.Equal(got, ops) {
		g.t.Errorf("%s %q: operations %q, want %q", action, params, got, ops)
	}
	return log
}

// short renders the operations made since the n-th as "do arg" (and the
// signal for a signal), so recordings may be remade with other devices
// and mount ids.
func (g *rig) short(n int) []string {
	var out []string
	g.f.mu.Lock()
	defer g.f.mu.Unlock()
	for _, o := range g.f.ops[n:] {
		s := o.Do + " " + o.Args[0]
		if o.Do == "signal" {
			s += " " + o.Args[1]
		}
		out = append(out, s)
	}
	return out
}

func (g *rig) in(state string) {
	g.t.Helper()
	if s := g.f.State(); s != state {
		g.t.Fatalf("in state %q, want %q", s, state)
	}
}

func kv(s ...string) []string { return s }

func TestReplayExt4Lifecycle(t *testing.T) {
	g := replay(t, "ext4", "empty")
	dev, dir := g.v("dev"), g.v("dir")
	p := func(extra ...string) []string {
		return append([]string{"device=" + dev, "directory=" + dir, "fstype=ext4"}, extra...)
	}
	g.expect(ocf.Success, "validate-all", p(), nil)
	g.expect(ocf.NotRunning, "monitor", p(), nil) // a probe: no reason
	g.expect(ocf.NotRunning, "monitor", p("CRM_meta_interval=20000"), nil, dir+" is not mounted")
	g.expect(ocf.Success, "start", p(), []string{"mkdir " + dir, "mount " + dev, "thaw " + dir})
	g.in("empty +mkdir /mnt/data +mount /mnt/data")
	if log := g.expect(ocf.Success, "start", p(), nil); !strings.Contains(log, "already mounted") {
		t.Errorf("second start: %s", log)
	}
	for _, depth := range []string{"0", "10", "20"} {
		g.expect(ocf.Success, "monitor", p("CRM_meta_interval=20000", "OCF_CHECK_LEVEL="+depth), nil)
	}
	g.expect(ocf.Success, "monitor", p("OCF_CHECK_LEVEL=20"), nil) // a probe writes no status file
	g.expect(ocf.Success, "validate-all", p(), nil)
	g.expect(ocf.Success, "stop", p(), []string{"thaw " + dir, "umount " + dir})
	g.expect(ocf.Success, "stop", p(), nil)
	g.expect(ocf.NotRunning, "monitor", p("CRM_meta_interval=20000"), nil, "not mounted")
}

func TestReplayExt4Refusals(t *testing.T) {
	g := replay(t, "ext4", "empty")
	dev, dir := g.v("dev"), g.v("dir")
	p := func(extra ...string) []string {
		return append([]string{"device=" + dev, "directory=" + dir, "fstype=ext4"}, extra...)
	}
	// What the device holds contradicts fstype everywhere: 6.
	g.expect(ocf.ErrConfigured, "validate-all", p("fstype=xfs"), nil, "holds ext4, not xfs")
	g.expect(ocf.ErrConfigured, "start", p("fstype=xfs"), nil, "holds ext4, not xfs")
	// Missing here: 5.
	g.expect(ocf.ErrInstalled, "start", p("device=/dev/gocf-missing"), nil, "/dev/gocf-missing does not exist")
	g.expect(ocf.ErrInstalled, "validate-all", p("device=/dev/gocf-missing"), nil, "does not exist")
	g.expect(ocf.ErrInstalled, "start", p("device="+g.v("img")), nil, "not a block device", "add loop")
	g.expect(ocf.ErrInstalled, "start", p("fstype=nosuchfs"), nil, "kernel does not support nosuchfs")
	// mount(2) answers EINVAL to an option ext4 does not know.
	g.expect(ocf.ErrGeneric, "start", p("options=bogus_option"), []string{"mkdir " + dir, "mount " + dev}, "wrong type, bad option (bogus_option)")
	g.in("empty +mkdir /mnt/data")
	// A missing device makes a probe 7, and the monitor of a mounted one too.
	g.expect(ocf.NotRunning, "monitor", p("device=/dev/gocf-missing"), nil)
}

func TestReplayPrivileges(t *testing.T) {
	g := replay(t, "ext4", "empty +mkdir /mnt/data +mount /mnt/data")
	g.f.As = "no CAP_SYS_ADMIN"
	dev, dir := g.v("dev"), g.v("dir")
	p := []string{"device=" + dev, "directory=" + dir, "fstype=ext4"}
	g.expect(ocf.ErrPerm, "start", p, nil, "needs root (CAP_SYS_ADMIN)")
	g.expect(ocf.ErrPerm, "validate-all", p, nil, "needs root")
	// stop asks the kernel, which answers EPERM.
	g.expect(ocf.ErrPerm, "stop", p, []string{"thaw " + dir, "umount " + dir}, "not allowed to unmount")
	g.in("empty +mkdir /mnt/data +mount /mnt/data")
	// The monitor needs no privilege.
	g.expect(ocf.Success, "monitor", p, nil)
}

func TestReplayUnknownKernelType(t *testing.T) {
	// A modular kernel whose modules.alias cannot be read cannot tell:
	// mount(2) decides, with ENODEV.
	g := replay(t, "ext4", "other made")
	g.f.kernel = &kernelFS{registered: []byte(g.rec.Kernel.Registered), modular: true}
	other := g.v("other")
	g.expect(ocf.ErrInstalled, "start", kv("device="+g.v("dev"), "directory="+other, "fstype=nosuchfs", "run_fsck=no"),
		[]string{"mkdir " + other, "mount " + g.v("dev")}, "kernel does not support filesystem type nosuchfs")
}

func TestReplayUUIDAndLabel(t *testing.T) {
	g := replay(t, "ext4", "other made")
	dev, dir := g.v("dev"), g.v("dir")
	g.expect(ocf.Success, "start", kv("device=UUID="+g.v("uuid"), "directory="+dir, "fstype=ext4"),
		[]string{"findfs UUID", "mkdir " + dir, "mount " + dev, "thaw " + dir})
	g.expect(ocf.Success, "monitor", kv("device=-L "+g.v("label"), "directory="+dir, "fstype=ext4"), []string{"findfs LABEL"})
	g.expect(ocf.Success, "stop", kv("device=LABEL="+g.v("label"), "directory="+dir, "fstype=ext4"),
		[]string{"findfs LABEL", "thaw " + dir, "umount " + dir})
	g.expect(ocf.ErrInstalled, "start", kv("device=UUID="+g.v("nouuid"), "directory="+dir, "fstype=ext4"),
		[]string{"findfs UUID"}, "no filesystem with UUID="+g.v("nouuid"))
}

func TestReplayForeignMount(t *testing.T) {
	g := replay(t, "ext4", "foreign tmpfs")
	p := kv("device="+g.v("dev"), "directory="+g.v("dir"), "fstype=ext4")
	g.expect(ocf.ErrGeneric, "start", p, nil, "already has foreign (tmpfs) mounted on it")
	g.expect(ocf.NotRunning, "monitor", append(p, "CRM_meta_interval=20000"), nil, "has foreign mounted, not "+g.v("dev"))
	if log := g.expect(ocf.Success, "stop", p, nil); !strings.Contains(log, "leaving it alone") {
		t.Errorf("stop: %s", log)
	}
}

func TestReplayMountPointIsAFile(t *testing.T) {
	g := replay(t, "ext4", "mount point a file")
	file := g.v("other") + "/file"
	g.expect(ocf.ErrInstalled, "start", kv("device="+g.v("dev"), "directory="+file, "fstype=ext4"),
		[]string{"mkdir " + file}, "cannot create mount point", "not a directory")
}

func TestReplayUnreadableTable(t *testing.T) {
	g := replay(t, "ext4", "no file descriptors")
	p := kv("device="+g.v("dev"), "directory="+g.v("dir"), "fstype=ext4")
	for _, action := range []string{"start", "stop", "monitor", "validate-all"} {
		g.expect(ocf.ErrGeneric, action, p, nil, "cannot read the mount table", "too many open files")
	}
}

// umount2's EINVAL (nothing mounted any more) and ENOENT (the mount point
// is gone) mean the mount is off: a stop racing another unmount succeeds.
func TestReplayUnmountGoneMeanwhile(t *testing.T) {
	g := replay(t, "ext4", "empty +mkdir /mnt/data")
	r, errs := ocf.Prepare(Agent(), "stop", []string{"OCF_RESKEY_device=" + g.v("dev"), "OCF_RESKEY_directory=" + g.v("dir"), "OCF_RESKEY_fstype=ext4"})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	c, err := parseConfig(r)
	if err != nil {
		t.Fatal(err)
	}
	a := &agent{n: g.f.node()}
	tab, _ := g.f.Read()
	for _, dir := range []string{g.v("dir"), g.v("other")} {
		m := *tab[len(tab)-1]
		m.Mountpoint = dir
		if st := a.unmount(context.Background(), r, c, &m); st != ocf.Success {
			t.Errorf("%s: %v", dir, st)
		}
	}
	if got := g.short(0); !slices.Equal(got, []string{"umount " + g.v("dir"), "umount " + g.v("other")}) {
		t.Errorf("operations %q", got)
	}
}

func TestReplayBusy(t *testing.T) {
	g := replay(t, "busy", "held")
	dir, sub := g.v("dir"), g.v("sub")
	p := func(extra ...string) []string {
		return append([]string{"device=" + g.v("dev"), "directory=" + dir, "fstype=ext4"}, extra...)
	}
	// Told to signal nobody and to give up early: three tries, no signal.
	g.expect(ocf.ErrGeneric, "stop", p("force_unmount=false", "fast_stop=true", "signal_delay=0"),
		[]string{"thaw " + dir, "umount " + sub, "umount " + sub, "umount " + sub}, "cannot unmount "+sub+": it stays busy")
	g.expect(ocf.Success, "monitor", p("CRM_meta_interval=20000"), nil)
	// Signals nobody dies of: the reason names a holder.
	g.expect(ocf.ErrGeneric, "stop", p("fast_stop=true", "signal_delay=0", "term_signals=CONT", "kill_signals=CONT"),
		[]string{"thaw " + dir, "umount " + sub, "signal " + sub + " 18", "umount " + sub, "signal " + sub + " 18", "umount " + sub},
		sub+" is still busy: held by", "fd ", sub+"/f")
	g.in("held")
	// TERM, ignored by the holder of the submount, then KILL; the holder
	// of the mount itself goes with TERM. Submount first.
	began := time.Now()
	log := g.expect(ocf.Success, "stop", p("signal_delay=1"), []string{
		"thaw " + dir,
		"umount " + sub, "signal " + sub + " 15", "umount " + sub, "signal " + sub + " 9", "umount " + sub,
		"umount " + dir, "signal " + dir + " 15", "umount " + dir,
	})
	if took := time.Since(began); took < time.Second {
		t.Errorf("stop did not give the holder signal_delay to let go: %s", took)
	}
	for _, want := range []string{"is held by", "(" + "fsmount.test" + ")", "cwd " + dir + "/d"} {
		if !strings.Contains(log, want) {
			t.Errorf("stop log lacks %q:\n%s", want, log)
		}
	}
	g.in("empty")
	g.expect(ocf.NotRunning, "monitor", p(), nil)
}

func TestReplayFrozen(t *testing.T) {
	g := replay(t, "xfs", "empty")
	dev, dir := g.v("dev"), g.v("dir")
	p := func(extra ...string) []string {
		return append([]string{"device=" + dev, "directory=" + dir, "fstype=xfs"}, extra...)
	}
	g.expect(ocf.ErrConfigured, "validate-all", p("fstype=ext4"), nil, "holds xfs, not ext4")
	g.expect(ocf.Success, "start", p(), []string{"mkdir " + dir, "mount " + dev, "thaw " + dir})
	g.expect(ocf.Success, "monitor", p("CRM_meta_interval=20000", "OCF_CHECK_LEVEL=20"), nil)

	g = replay(t, "xfs", "frozen")
	// The status file's child does not answer; the device still reads.
	g.expect(ocf.ErrGeneric, "monitor", p("CRM_meta_interval=20000", "OCF_CHECK_LEVEL=20"), nil,
		"status file on "+dir, "no answer", "(frozen filesystem or hung I/O)")
	g.expect(ocf.Success, "monitor", p("CRM_meta_interval=20000", "OCF_CHECK_LEVEL=10"), nil)
	if log := g.expect(ocf.Success, "stop", p(), []string{"thaw " + dir, "umount " + dir}); !strings.Contains(log, "was frozen: thawed it before unmounting") {
		t.Errorf("stop: %s", log)
	}
	g.in("empty")

	// Unmounted frozen: the next mount gets the frozen superblock back.
	g = replay(t, "xfs", "frozen superblock, unmounted")
	if log := g.expect(ocf.Success, "start", p(), []string{"mkdir " + dir, "mount " + dev, "thaw " + dir}); !strings.Contains(log, "an earlier unmount left it so") {
		t.Errorf("start: %s", log)
	}
	g.expect(ocf.Success, "monitor", p("CRM_meta_interval=20000", "OCF_CHECK_LEVEL=20"), nil)
}

func TestReplayBind(t *testing.T) {
	g := replay(t, "bind", "source ready")
	src, dir := g.v("src"), g.v("dir")
	p := func(extra ...string) []string {
		return append([]string{"device=" + src, "directory=" + dir, "fstype=none"}, extra...)
	}
	g.expect(ocf.ErrInstalled, "start", kv("device=/mnt/data/missing", "directory="+dir, "fstype=none", "options=bind"), nil,
		"bind source /mnt/data/missing is not a directory")
	// bind,ro: the flags take a remount; no thaw for a bind mount.
	g.expect(ocf.Success, "start", p("options=bind,ro"), []string{"mkdir " + dir, "mount " + src, "mount "})
	if o := g.f.Ops(); o[1] != "mount "+src+" "+dir+"  0x1000 " || o[2] != "mount  "+dir+"  0x1021 " {
		t.Errorf("bind then remount,bind,ro: %q", o)
	}
	// The status file cannot be written on a read-only bind mount.
	g.expect(ocf.ErrGeneric, "monitor", p("options=bind,ro", "CRM_meta_interval=20000", "OCF_CHECK_LEVEL=20"), nil, "read-only")
	g.expect(ocf.ErrGeneric, "monitor", p("options=bind", "OCF_CHECK_LEVEL=20"), nil, "mounted read-only but configured read-write")
	g.expect(ocf.ErrGeneric, "monitor", p("options=bind"), nil, "mounted read-only but configured read-write")
	g.expect(ocf.Success, "stop", p("options=bind,ro"), []string{"umount " + dir})
	// rbind with a propagation change after it.
	g.expect(ocf.Success, "start", p("options=rbind,rprivate"), []string{"mkdir " + dir, "mount " + src, "mount "})
	if o := g.f.Ops(); o[len(o)-1] != "mount  "+dir+"  0x44000 " {
		t.Errorf("rprivate: %q", o)
	}
	g.expect(ocf.Success, "monitor", p("options=rbind,rprivate"), nil)
	g.expect(ocf.Success, "stop", p("options=rbind,rprivate"), []string{"umount " + dir})
	g.in("source ready +mkdir /mnt/bound")
}

func TestReplayTmpfs(t *testing.T) {
	g := replay(t, "tmpfs", "empty")
	dir := g.v("dir")
	p := func(extra ...string) []string {
		return append([]string{"device=scratch", "directory=" + dir, "fstype=tmpfs"}, extra...)
	}
	g.expect(ocf.ErrGeneric, "start", p("options=size=lots"), []string{"mkdir " + dir, "mount scratch"}, "wrong type, bad option")
	g.expect(ocf.Success, "start", p("options=size=16m,noexec"), []string{"mkdir " + dir, "mount scratch"})
	if o := g.f.Ops(); o[len(o)-1] != "mount scratch "+dir+" tmpfs 0x8 size=16m" {
		t.Errorf("noexec is a flag, size data: %q", o[len(o)-1])
	}
	g.expect(ocf.Success, "monitor", p("options=size=16m,noexec", "CRM_meta_interval=20000", "OCF_CHECK_LEVEL=20"), nil)
	g.expect(ocf.NotRunning, "monitor", p("device=other", "fstype=ramfs", "CRM_meta_interval=20000"), nil, "has scratch mounted, not other")
	g.expect(ocf.Success, "stop", p("options=size=16m,noexec"), []string{"umount " + dir})
}

func TestReplayLoopImage(t *testing.T) {
	g := replay(t, "image", "empty")
	img, dir := g.v("img"), g.v("dir")
	p := func(extra ...string) []string {
		return append([]string{"device=" + img, "directory=" + dir, "options=loop"}, extra...)
	}
	g.expect(ocf.ErrGeneric, "start", p("fstype=xfs"), []string{"mkdir " + dir, "mount8 " + img}, "mount -t xfs "+img+" "+dir+" failed: mount: "+dir+": wrong fs type")
	// The table shows the loop device mount(8) set up; its backing file
	// is the image.
	g.expect(ocf.Success, "start", p("fstype=ext4"), []string{"mkdir " + dir, "mount8 " + img, "thaw " + dir})
	g.expect(ocf.Success, "start", p("fstype=ext4"), nil)
	g.expect(ocf.Success, "monitor", p("fstype=ext4", "CRM_meta_interval=20000", "OCF_CHECK_LEVEL=20"), nil)
	g.expect(ocf.Success, "stop", p("fstype=ext4"), []string{"thaw " + dir, "umount " + dir})
	g.expect(ocf.NotRunning, "monitor", p("fstype=ext4"), nil)
}

func TestReplayFsck(t *testing.T) {
	g := replay(t, "fsck", "empty")
	dev, dir := g.v("dev"), g.v("dir")
	p := kv("device="+dev, "directory="+dir, "fstype=ext2")
	g.expect(ocf.Success, "start", p, []string{"mkdir " + dir, "fsck " + dev, "mount " + dev, "thaw " + dir})
	g.expect(ocf.Success, "stop", p, []string{"thaw " + dir, "umount " + dir})
	// Damaged but marked clean: fsck -p passes, the kernel refuses.
	g = replay(t, "fsck", "root inode cleared")
	g.expect(ocf.ErrGeneric, "start", p, []string{"mkdir " + dir, "fsck " + dev, "mount " + dev}, "mounting "+dev+" on "+dir+" failed: structure needs cleaning")
	// Marked with errors: fsck -p gives up with 4, and nothing is mounted.
	g = replay(t, "fsck", "root inode cleared, marked with errors")
	log := g.expect(ocf.ErrGeneric, "start", p, []string{"mkdir " + dir, "fsck " + dev}, "fsck found errors it could not correct on "+dev+" (exit 4)")
	if !strings.Contains(log, "UNEXPECTED INCONSISTENCY") {
		t.Errorf("fsck's output not logged: %s", log)
	}
}

// The recorded errors keep their errno through the replay.
func TestRecordedErrnos(t *testing.T) {
	rec := loadRecording(t, "ext4")
	want := map[string]unix.Errno{}
	for _, tr := range rec.Transitions {
		if tr.Err != nil && tr.Err.Errno != 0 {
			want[tr.Op.Do+" "+tr.Err.Text] = tr.Err.Errno
		}
	}
	for _, e := range []unix.Errno{unix.EPERM, unix.EINVAL, unix.ENOENT, unix.ENODEV, unix.ENOTDIR} {
		found := false
		for _, got := range want {
			found = found || got == e
		}
		if !found {
			t.Errorf("ext4 recording has no %v", e)
		}
	}
}

// The superblock options of an ext4 the kernel made read-only after an error
// (trigger_fs_error with errors=remount-ro, Debian 12's 6.1 kernel): the
// mount still says rw, the superblock rw and emergency_ro.
func TestReadOnlyAfterError(t *testing.T) {
	for _, c := range []struct {
		opts, super string
		ro          bool
		hint        bool
	}{
		{"rw,relatime", "rw,errors=remount-ro,emergency_ro", true, true},
		{"rw,relatime", "rw,errors=remount-ro", false, false},
		{"ro,relatime", "rw", true, false},
		{"rw,relatime", "ro,errors=remount-ro", true, false},
	} {
		m := &mountinfo.Info{Options: c.opts, VFSOptions: c.super}
		if readOnly(m) != c.ro || (emergencyHint(m) != "") != c.hint {
			t.Errorf("%s / %s: read-only %v, hint %q", c.opts, c.super, readOnly(m), emergencyHint(m))
		}
	}
}
