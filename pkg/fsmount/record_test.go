package fsmount

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gocf/gocf/pkg/holders"
	"github.com/gocf/gocf/pkg/mounts"
	"github.com/gocf/gocf/pkg/ocf"
	"golang.org/x/sys/unix"
)

// TestRecordFsmount records testdata/recorded/*.json, what the node did
// under the real agent and a few direct calls, on loop devices in a
// private mount namespace with a tmpfs over /mnt. Root, losetup, mkfs.ext4,
// mkfs.xfs, fsfreeze, debugfs:
//
//	GOCF_RECORD_FSMOUNT=1 go test ./pkg/fsmount -run TestRecordFsmount -count=1 -v
//
// The test re-runs itself under unshare(1); every loop device it attaches
// is detached again, and the namespace's mounts go with it.
func TestRecordFsmount(t *testing.T) {
	if os.Getenv("GOCF_RECORD_FSMOUNT") == "" {
		t.Skip("records only with GOCF_RECORD_FSMOUNT=1 (root)")
	}
	if os.Geteuid() != 0 {
		t.Fatal("recording needs root")
	}
	if os.Getenv(recordNSEnv) == "" {
		outside(t)
		return
	}
	// Inside: /mnt is this namespace's own.
	tab, err := mounts.Read()
	must(t, err)
	for _, m := range tab {
		if strings.HasPrefix(m.Mountpoint, "/mnt/") {
			foreignMounts[m.Mountpoint] = true
		}
	}
	run(t, "mount", "-t", "tmpfs", "-o", "size=1g,mode=0755", "gocf-rec", "/mnt")
	must(t, os.MkdirAll(imgDir, 0o755))
	for _, s := range []struct {
		name string
		fn   func(*testing.T, *recorder)
	}{
		{"ext4", recordExt4},
		{"busy", recordBusy},
		{"xfs", recordXFS},
		{"bind", recordBind},
		{"tmpfs", recordTmpfs},
		{"image", recordImage},
		{"fsck", recordFsck},
	} {
		t.Run(s.name, func(t *testing.T) {
			rec := newRecorder(t)
			s.fn(t, rec)
			must(t, rec.rec.save(filepath.Join(testdataDir, s.name+".json")))
		})
	}
}

const (
	recordNSEnv = "GOCF_RECORD_FSMOUNT_NS"
	imgDir      = "/mnt/gocf-rec-img"
	node1       = "node1"
	statusRel   = ".Filesystem_status/"
)

var testdataDir, _ = filepath.Abs(filepath.Join("testdata", "recorded"))

// outside re-runs the recorder in a private mount namespace and detaches
// any loop device a crashed run left.
func outside(t *testing.T) {
	must(t, os.MkdirAll(testdataDir, 0o755))
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "--",
		os.Args[0], "-test.run", "^TestRecordFsmount$", "-test.count=1", "-test.v", "-test.timeout=10m")
	cmd.Env = append(os.Environ(), recordNSEnv+"=1")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	err := cmd.Run()
	out, _ := exec.Command("losetup", "-a").Output()
	for l := range strings.Lines(string(out)) {
		if strings.Contains(l, imgDir) {
			dev, _, _ := strings.Cut(l, ":")
			t.Errorf("loop device %s left attached; detaching", dev)
			exec.Command("losetup", "-d", dev).Run()
		}
	}
	if err != nil {
		t.Fatal(err)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func run(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%q: %v\n%s", args, err, out)
	}
	return string(out)
}

// loopDev makes an image with mkfs.<fstype> and attaches it, detached at
// the end of the test.
func loopDev(t *testing.T, name, fstype string, sizeMiB int, mkfsArgs ...string) (dev, img string) {
	img = mkImage(t, name, fstype, sizeMiB, mkfsArgs...)
	dev = strings.TrimSpace(run(t, "losetup", "--find", "--show", img))
	t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
	return dev, img
}

// mkImage makes an image file with mkfs.<fstype>, removed at the end.
func mkImage(t *testing.T, name, fstype string, sizeMiB int, mkfsArgs ...string) string {
	img := filepath.Join(imgDir, name+".img")
	run(t, "truncate", "-s", fmt.Sprintf("%dM", sizeMiB), img)
	args := []string{"mkfs." + fstype, "-q"}
	if strings.HasPrefix(fstype, "ext") {
		args = append(args, "-F")
	} else {
		args = append(args, "-f")
	}
	run(t, append(append(args, mkfsArgs...), img)...)
	t.Cleanup(func() { os.Remove(img) })
	return img
}

// hold starts a process holding path ("cwd" or "open"), killed at the end.
func hold(t *testing.T, how, path string, noterm bool) int {
	spec := how + ":" + path
	if noterm {
		spec += ":noterm"
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), holdEnv+"="+spec)
	out, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	buf := make([]byte, 6)
	if n, _ := out.Read(buf); string(buf[:n]) != "ready\n" {
		t.Fatalf("holder %s did not get ready", spec)
	}
	return cmd.Process.Pid
}

// recorder passes every call to the real node and records it: each
// state the reads show, named by the scenario (snapshot) or after the
// operation that led to it, and each operation with its answer and the
// state after it. A state that looks like one recorded before is that
// state.
type recorder struct {
	t    *testing.T
	real node
	rec  recording
	cur  string
	// What each dump reads: devices (stat, read, probe), mount points
	// (stat, canonical form, holders, status file when mounted), other
	// paths (stat, link, canonical form).
	devices, dirs, paths []string
	// Via, when set, runs the mount calls (on a thread without
	// CAP_SYS_ADMIN); As names that circumstance.
	Via func(fn func() error) error
	As  string
	// hidden is what the scenario did that the reads cannot show; a thaw
	// that thawed clears it.
	hidden string
}

func newRecorder(t *testing.T) *recorder {
	k, err := readKernelFS()
	must(t, err)
	host, _ := os.Hostname()
	kr := kernelRec{Registered: string(k.registered), Modular: k.modular}
	if k.aliases != nil {
		var fs []string
		for l := range strings.Lines(string(k.aliases)) {
			if strings.HasPrefix(l, "alias fs-") {
				fs = append(fs, l)
			}
		}
		a := strings.Join(fs, "")
		kr.Aliases = &a
	}
	return &recorder{t: t, real: realNode(execTools{}),
		rec: recording{Vars: map[string]string{}, Hostname: host, Kernel: kr, States: map[string]*nodeState{}}}
}

// watch adds what the dumps read; whatever is left mounted on the
// mount points is unmounted at the end.
func (r *recorder) watch(devices, dirs, paths []string) {
	for _, d := range dirs {
		r.t.Cleanup(func() {
			exec.Command("fsfreeze", "-u", d).Run()
			exec.Command("umount", "-R", d).Run()
		})
	}
	r.devices = append(r.devices, devices...)
	r.dirs = append(r.dirs, dirs...)
	r.paths = append(r.paths, paths...)
}

// foreignMounts are the mount points below /mnt that were there before
// the recorder's tmpfs: not the recording's, left out of it.
var foreignMounts = map[string]bool{}

// mountinfoLines keeps the lines of / and of the recorder's mounts on and
// below /mnt.
func mountinfoLines() (string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	var keep []string
	for l := range strings.Lines(string(b)) {
		if f := strings.Fields(l); len(f) > 4 && !foreignMounts[f[4]] && (f[4] == "/" || f[4] == "/mnt" || strings.HasPrefix(f[4], "/mnt/")) {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, ""), nil
}

// dump reads the node.
func (r *recorder) dump() *nodeState {
	ctx := context.Background()
	st := &nodeState{Hidden: r.hidden, Paths: map[string]pathState{}, Holders: map[string][]holders.Holder{}, Child: map[string]answer{}}
	var err error
	if st.Mountinfo, err = mountinfoLines(); err != nil {
		st.ReadErr = recorded(err)
	}
	tab, err := mounts.Read()
	if err != nil {
		st.ReadErr = recorded(err)
	}
	pathOf := func(p string) pathState {
		var ps pathState
		fi, err := r.real.host.Stat(p)
		if err != nil {
			ps.StatErr = recorded(err)
		} else {
			ps.Stat = &fi
		}
		c, err := r.real.table.Canonical(ctx, tab, p)
		ps.Canonical, ps.CanonErr = c, recorded(err)
		return ps
	}
	ask := func(timeout time.Duration, op string, args ...string) {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		out, err := r.real.child.Run(cctx, op, args...)
		st.Child[op+" "+strings.Join(args, " ")] = answer{out, recorded(err)}
	}
	for _, d := range r.devices {
		ps := pathOf(d)
		st.Paths[d] = ps
		if ps.Stat != nil && ps.Stat.Mode == unix.S_IFBLK {
			rdev := strconv.FormatUint(ps.Stat.Rdev, 10)
			ask(5*time.Second, "read", d, rdev)
			ask(5*time.Second, "probe", d, rdev)
		}
	}
	for _, p := range r.paths {
		ps := pathOf(p)
		l, err := r.real.host.EvalSymlinks(p)
		ps.Link, ps.LinkErr = l, recorded(err)
		st.Paths[p] = ps
	}
	for _, d := range r.dirs {
		st.Paths[d] = pathOf(d)
		hs, err := r.real.holders.Find(ctx, d)
		if err != nil {
			if st.HoldErr == nil {
				st.HoldErr = map[string]*recError{}
			}
			st.HoldErr[d] = recorded(err)
		}
		st.Holders[d] = hs
	}
	for _, d := range r.dirs {
		if m := tab.At(d); m != nil {
			if st.Loops == nil {
				st.Loops = map[string]answer{}
			}
			f, err := r.real.host.LoopBacking(m.Major, m.Minor)
			st.Loops[fmt.Sprintf("%d:%d", m.Major, m.Minor)] = answer{f, recorded(err)}
		}
	}
	// Status files last: on a frozen filesystem the child stays blocked,
	// holding the mount, until the filesystem is thawed.
	for _, d := range r.dirs {
		if m := tab.At(d); m != nil {
			ask(1500*time.Millisecond, "status", m.Mountpoint, strconv.Itoa(m.ID), devOf(m), statusRel, node1)
		}
	}
	return st
}

func same(a, b *nodeState) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// settle waits until no I/O child of this process is left holding a
// watched mount (one a thaw let go finishes within moments).
func (r *recorder) settle() {
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		busy := false
		for _, d := range r.dirs {
			hs, _ := holders.Find(context.Background(), d)
			for _, h := range hs {
				busy = busy || h.Comm == ioHelper
			}
		}
		if !busy {
			return
		}
	}
}

// snapshot records the current state as name.
func (r *recorder) snapshot(name string) {
	r.t.Helper()
	r.settle()
	st := r.dump()
	if old, ok := r.rec.States[name]; ok && !same(old, st) {
		r.t.Fatalf("state %s differs from its first recording", name)
	}
	r.rec.States[name], r.cur = st, name
}

// arrive names the state after an operation.
func (r *recorder) arrive(label string) string {
	r.settle()
	st := r.dump()
	names := make([]string, 0, len(r.rec.States))
	for n := range r.rec.States {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if same(r.rec.States[n], st) {
			r.cur = n
			return n
		}
	}
	name := r.cur + " " + label
	for i := 2; r.rec.States[name] != nil; i++ {
		name = fmt.Sprintf("%s %s (%d)", r.cur, label, i)
	}
	r.rec.States[name], r.cur = st, name
	return name
}

func (r *recorder) do(op recOp, label string, fn func() (string, int, error)) (string, int, error) {
	out, code, err := fn()
	from := r.cur
	to := r.arrive(label)
	r.rec.Transitions = append(r.rec.Transitions, transition{From: from, Op: op, As: r.As, Code: code, Out: out, Err: recorded(err), To: to})
	return out, code, err
}

func (r *recorder) node() node {
	return node{tools: recTools{r}, sys: recSys{r}, table: r.real.table, holders: recHolders{r}, child: recChild{r}, host: recHost{r}}
}

type recSys struct{ r *recorder }

func (s recSys) Mount(source, target, fstype string, flags uintptr, data string) error {
	op := recOp{"mount", []string{source, target, fstype, "0x" + strconv.FormatUint(uint64(flags), 16), data}}
	_, _, err := s.r.do(op, "+mount "+target, func() (string, int, error) {
		return "", 0, s.r.via(func() error { return s.r.real.sys.Mount(source, target, fstype, flags, data) })
	})
	return err
}

func (s recSys) Unmount(target string, flags int) error {
	op := recOp{"umount", []string{target, "0x" + strconv.FormatUint(uint64(flags), 16)}}
	_, _, err := s.r.do(op, "-umount "+target, func() (string, int, error) {
		return "", 0, s.r.via(func() error { return s.r.real.sys.Unmount(target, flags) })
	})
	return err
}

func (r *recorder) via(fn func() error) error {
	if r.Via != nil {
		return r.Via(fn)
	}
	return fn()
}

type recHolders struct{ r *recorder }

func (h recHolders) Find(ctx context.Context, dir string) ([]holders.Holder, error) {
	return h.r.real.holders.Find(ctx, dir)
}

func (h recHolders) Signal(hs []holders.Holder, dir string, sig syscall.Signal) int {
	args := []string{dir, strconv.Itoa(int(sig))}
	for _, x := range hs {
		args = append(args, strconv.Itoa(x.PID))
	}
	out, _, _ := h.r.do(recOp{"signal", args}, fmt.Sprintf("signal %d", sig), func() (string, int, error) {
		n := h.r.real.holders.Signal(hs, dir, sig)
		// Let the signalled ones go before the next dump.
		for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			left, _ := holders.Find(context.Background(), dir)
			if !slices.ContainsFunc(left, func(x holders.Holder) bool {
				return slices.ContainsFunc(hs, func(y holders.Holder) bool { return x.PID == y.PID })
			}) {
				break
			}
		}
		return strconv.Itoa(n), 0, nil
	})
	n, _ := strconv.Atoi(out)
	return n
}

type recChild struct{ r *recorder }

func (c recChild) Run(ctx context.Context, op string, args ...string) (string, error) {
	if op != "thaw" {
		return c.r.real.child.Run(ctx, op, args...)
	}
	out, _, err := c.r.do(recOp{"thaw", args}, "thaw", func() (string, int, error) {
		out, err := c.r.real.child.Run(ctx, op, args...)
		if out == "thawed" {
			c.r.hidden = ""
		}
		return out, 0, err
	})
	return out, err
}

type recHost struct{ r *recorder }

func (h recHost) Privileged() bool                      { return h.r.As == "" && h.r.real.host.Privileged() }
func (h recHost) Stat(p string) (fileStat, error)       { return h.r.real.host.Stat(p) }
func (h recHost) EvalSymlinks(p string) (string, error) { return h.r.real.host.EvalSymlinks(p) }
func (h recHost) KernelFS() (kernelFS, error)           { return h.r.real.host.KernelFS() }
func (h recHost) Hostname() (string, error)             { return h.r.real.host.Hostname() }
func (h recHost) MkdirAll(dir string) error {
	_, _, err := h.r.do(recOp{"mkdir", []string{dir}}, "+mkdir "+dir, func() (string, int, error) {
		return "", 0, h.r.real.host.MkdirAll(dir)
	})
	return err
}

type recTools struct{ r *recorder }

func (x recTools) Fsck(ctx context.Context, device, fstype string) (int, string, error) {
	out, code, err := x.r.do(recOp{"fsck", []string{device, fstype}}, "fsck", func() (string, int, error) {
		code, out, err := x.r.real.tools.Fsck(ctx, device, fstype)
		return out, code, err
	})
	return code, out, err
}

func (x recTools) Mount(ctx context.Context, device, dir, fstype, options string) (string, error) {
	out, _, err := x.r.do(recOp{"mount8", []string{device, dir, fstype, options}}, "+mount(8) "+dir, func() (string, int, error) {
		out, err := x.r.real.tools.Mount(ctx, device, dir, fstype, options)
		return out, 0, err
	})
	return out, err
}

func (x recTools) FindFS(ctx context.Context, tag, value string) (string, error) {
	out, _, err := x.r.do(recOp{"findfs", []string{tag, value}}, "findfs", func() (string, int, error) {
		out, err := x.r.real.tools.FindFS(ctx, tag, value)
		return out, 0, err
	})
	return out, err
}

// anyStatus takes whatever the action answers.
const anyStatus ocf.Status = -1

// act runs one action of the real agent through the recorder and checks
// its status.
func (r *recorder) act(want ocf.Status, action string, params ...string) string {
	r.t.Helper()
	env := []string{"OCF_RESOURCE_INSTANCE=fs-rec", "HA_RSCTMP=" + r.t.TempDir(), "OCF_RESKEY_CRM_meta_timeout=10000",
		"OCF_RESKEY_CRM_meta_on_node=" + node1}
	for _, p := range params {
		if !strings.HasPrefix(p, "OCF_") {
			p = "OCF_RESKEY_" + p
		}
		env = append(env, p)
	}
	var stdout, stderr bytes.Buffer
	st := ocf.Run(agentOn(r.node()), []string{"fsmount", action}, env, &stdout, &stderr, func(code int) { r.t.Fatalf("watchdog exit %d", code) })
	if st != want && want != anyStatus {
		r.t.Fatalf("%s %q: %v, want %v\n%s", action, params, st, want, stderr.String())
	}
	r.t.Logf("%s %q -> %v (state %q)", action, params, st, r.cur)
	return stderr.String()
}

// withoutSysAdmin runs fn on a thread that lacks CAP_SYS_ADMIN, as an
// agent not run as root would.
func withoutSysAdmin(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // discarded afterwards, capabilities and all
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			errc <- err
			return
		}
		data[0].Effective &^= 1 << unix.CAP_SYS_ADMIN
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	return <-errc
}

const (
	fixedUUID  = "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b"
	fixedLabel = "gocfdata"
	noUUID     = "00000000-0000-4000-8000-000000000000"
)

func recordExt4(t *testing.T, r *recorder) {
	dev, img := loopDev(t, "ext4", "ext4", 32, "-U", fixedUUID, "-L", fixedLabel)
	mnt, other := "/mnt/data", "/mnt/other"
	r.rec.Comment = "ext4 on a loop device mounted on /mnt/data by the agent: validate, probe, start twice, monitor at every depth, " +
		"stop twice; a wrong fstype, a bad option, UUID= and LABEL= (no /dev/disk links), a missing device, an image without loop, " +
		"someone else's tmpfs on the mount point, EPERM without CAP_SYS_ADMIN, ENODEV, EINVAL and ENOENT of umount2, " +
		"a mount point that is a file, and a mount table that cannot be read"
	r.rec.Vars = map[string]string{"dev": dev, "img": img, "dir": mnt, "other": other, "uuid": fixedUUID, "label": fixedLabel, "nouuid": noUUID}
	byUUID, byLabel, byNoUUID := "/dev/disk/by-uuid/"+fixedUUID, "/dev/disk/by-label/"+fixedLabel, "/dev/disk/by-uuid/"+noUUID
	r.watch([]string{dev, "/dev/gocf-missing", img}, []string{mnt, other}, []string{byUUID, byLabel, byNoUUID})
	r.snapshot("empty")
	base := []string{"device=" + dev, "directory=" + mnt, "fstype=ext4"}
	p := func(extra ...string) []string { return append(slices.Clone(base), extra...) }
	r.act(ocf.Success, "validate-all", p()...)
	r.act(ocf.NotRunning, "monitor", p()...)
	r.act(ocf.ErrConfigured, "validate-all", p("fstype=xfs")...)
	r.act(ocf.ErrConfigured, "start", p("fstype=xfs")...)
	r.act(ocf.ErrInstalled, "start", p("device=/dev/gocf-missing")...)
	r.act(ocf.ErrInstalled, "start", p("device="+img)...)
	r.act(ocf.ErrInstalled, "start", p("fstype=nosuchfs")...)
	r.act(ocf.ErrGeneric, "start", p("options=bogus_option")...)
	r.act(ocf.Success, "start", p()...)
	r.act(ocf.Success, "start", p()...)
	for _, depth := range []string{"0", "10", "20"} {
		r.act(ocf.Success, "monitor", p("CRM_meta_interval=20000", "OCF_CHECK_LEVEL="+depth)...)
	}
	r.act(ocf.Success, "monitor", p("OCF_CHECK_LEVEL=20")...)
	r.act(ocf.Success, "validate-all", p()...)
	// Without CAP_SYS_ADMIN: mount(2) and umount2(2) answer EPERM.
	r.Via, r.As = withoutSysAdmin, "no CAP_SYS_ADMIN"
	r.act(ocf.ErrPerm, "stop", p()...)
	r.Via, r.As = nil, ""
	r.act(ocf.Success, "stop", p()...)
	r.act(ocf.Success, "stop", p()...)
	// What umount2 says of a mount point with nothing mounted, and of a
	// path that does not exist.
	if err := (recSys{r}).Unmount(mnt, unix.UMOUNT_NOFOLLOW); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("umount of nothing: %v", err)
	}
	if err := (recSys{r}).Unmount(other, unix.UMOUNT_NOFOLLOW); !errors.Is(err, unix.ENOENT) {
		t.Fatalf("umount of a missing path: %v", err)
	}
	// A type the kernel does not have.
	must(t, os.MkdirAll(other, 0o755))
	r.snapshot("other made")
	must(t, (recHost{r}).MkdirAll(other))
	if err := (recSys{r}).Mount(dev, other, "nosuchfs", 0, ""); !errors.Is(err, unix.ENODEV) {
		t.Fatalf("mount of an unknown type: %v", err)
	}
	r.Via, r.As = withoutSysAdmin, "no CAP_SYS_ADMIN"
	if err := (recSys{r}).Mount(dev, other, "ext4", 0, ""); !errors.Is(err, unix.EPERM) {
		t.Fatalf("mount without CAP_SYS_ADMIN: %v", err)
	}
	r.Via, r.As = nil, ""
	// UUID= and LABEL=: no udev links here, blkid finds them.
	r.act(ocf.Success, "start", "device=UUID="+fixedUUID, "directory="+mnt, "fstype=ext4")
	r.act(ocf.Success, "monitor", "device=-L "+fixedLabel, "directory="+mnt, "fstype=ext4")
	r.act(ocf.Success, "stop", "device=LABEL="+fixedLabel, "directory="+mnt, "fstype=ext4")
	r.act(ocf.ErrInstalled, "start", "device=UUID="+noUUID, "directory="+mnt, "fstype=ext4")
	// Someone else's filesystem on the mount point.
	run(t, "mount", "-t", "tmpfs", "foreign", mnt)
	r.snapshot("foreign tmpfs")
	r.act(ocf.ErrGeneric, "start", p()...)
	r.act(ocf.NotRunning, "monitor", p()...)
	r.act(ocf.Success, "stop", p()...)
	run(t, "umount", mnt)
	// A mount point that is a file.
	must(t, os.WriteFile(other+"/file", nil, 0o644))
	r.watch(nil, []string{other + "/file"}, nil)
	r.snapshot("mount point a file")
	r.act(ocf.ErrInstalled, "start", "device="+dev, "directory="+other+"/file", "fstype=ext4")
	os.Remove(other + "/file")
	// No file descriptor left: the mount table cannot be read.
	var lim unix.Rlimit
	must(t, unix.Getrlimit(unix.RLIMIT_NOFILE, &lim))
	low := lim
	low.Cur = 3
	must(t, unix.Setrlimit(unix.RLIMIT_NOFILE, &low))
	st := r.dump()
	unix.Setrlimit(unix.RLIMIT_NOFILE, &lim)
	if st.ReadErr == nil {
		t.Fatal("the mount table could be read without descriptors")
	}
	r.rec.States["no file descriptors"] = st
}

func recordBusy(t *testing.T, r *recorder) {
	dev, _ := loopDev(t, "busy", "ext4", 32)
	mnt, sub := "/mnt/data", "/mnt/data/sub"
	r.rec.Comment = "ext4 on /mnt/data with a tmpfs on /mnt/data/sub; a process with its cwd in /mnt/data/d (ends on TERM) and one " +
		"with a file open in the tmpfs that ignores TERM: stop without signalling, with signals that end nobody (CONT), " +
		"then with TERM and KILL"
	r.rec.Vars = map[string]string{"dev": dev, "dir": mnt, "sub": sub}
	r.watch([]string{dev}, []string{mnt, sub}, nil)
	r.snapshot("empty")
	base := []string{"device=" + dev, "directory=" + mnt, "fstype=ext4"}
	p := func(extra ...string) []string { return append(slices.Clone(base), extra...) }
	r.act(ocf.Success, "start", p()...)
	must(t, os.MkdirAll(mnt+"/d", 0o755))
	must(t, os.MkdirAll(sub, 0o755))
	run(t, "mount", "-t", "tmpfs", "subfs", sub)
	r.snapshot("mounted with submount")
	hold(t, "cwd", mnt+"/d", false)
	hold(t, "open", sub+"/f", true)
	r.snapshot("held")
	r.act(ocf.ErrGeneric, "stop", p("force_unmount=false", "fast_stop=true", "signal_delay=0")...)
	r.act(ocf.Success, "monitor", p("CRM_meta_interval=20000")...)
	r.act(ocf.ErrGeneric, "stop", p("fast_stop=true", "signal_delay=0", "term_signals=CONT", "kill_signals=CONT")...)
	out := r.act(ocf.Success, "stop", p("signal_delay=1")...)
	if !strings.Contains(out, "is held by") {
		t.Errorf("stop did not name the holders: %s", out)
	}
}

func recordXFS(t *testing.T, r *recorder) {
	dev, _ := loopDev(t, "xfs", "xfs", 300)
	mnt := "/mnt/data"
	r.rec.Comment = "xfs on a loop device: start, monitor, a wrong fstype; frozen with fsfreeze: depth 20 gets no answer, " +
		"stop thaws (FITHAW) and unmounts; frozen and unmounted behind the agent's back: start thaws it"
	r.rec.Vars = map[string]string{"dev": dev, "dir": mnt}
	r.watch([]string{dev}, []string{mnt}, nil)
	r.snapshot("empty")
	base := []string{"device=" + dev, "directory=" + mnt, "fstype=xfs"}
	p := func(extra ...string) []string { return append(slices.Clone(base), extra...) }
	r.act(ocf.ErrConfigured, "validate-all", p("fstype=ext4")...)
	r.act(ocf.Success, "start", p()...)
	r.act(ocf.Success, "monitor", p("CRM_meta_interval=20000", "OCF_CHECK_LEVEL=20")...)
	run(t, "fsfreeze", "-f", mnt)
	t.Cleanup(func() { exec.Command("fsfreeze", "-u", mnt).Run() })
	r.hidden = "frozen superblock"
	r.snapshot("frozen")
	r.act(ocf.ErrGeneric, "monitor", p("CRM_meta_interval=20000", "OCF_CHECK_LEVEL=20", "CRM_meta_timeout=3000")...)
	r.act(ocf.Success, "monitor", p("CRM_meta_interval=20000", "OCF_CHECK_LEVEL=10")...)
	if out := r.act(ocf.Success, "stop", p()...); !strings.Contains(out, "frozen") {
		t.Errorf("stop did not say it thawed: %s", out)
	}
	run(t, "mount", dev, mnt)
	run(t, "fsfreeze", "-f", mnt)
	run(t, "umount", mnt)
	r.hidden = "frozen superblock"
	r.snapshot("frozen superblock, unmounted")
	if out := r.act(ocf.Success, "start", p()...); !strings.Contains(out, "frozen") {
		t.Errorf("start did not say it thawed: %s", out)
	}
	r.act(ocf.Success, "stop", p()...)
}

func recordBind(t *testing.T, r *recorder) {
	dev, _ := loopDev(t, "bind", "ext4", 32)
	data, src, bound := "/mnt/data", "/mnt/data/export", "/mnt/bound"
	r.rec.Comment = "a bind mount of /mnt/data/export (on ext4) on /mnt/bound: bind,ro (a remount), rbind,rprivate (propagation), " +
		"a missing source"
	r.rec.Vars = map[string]string{"src": src, "dir": bound}
	must(t, os.MkdirAll(data, 0o755))
	run(t, "mount", dev, data)
	must(t, os.MkdirAll(src, 0o755))
	r.watch(nil, []string{bound, data}, []string{src, data + "/missing"})
	r.snapshot("source ready")
	base := []string{"device=" + src, "directory=" + bound, "fstype=none"}
	p := func(extra ...string) []string { return append(slices.Clone(base), extra...) }
	r.act(ocf.ErrInstalled, "start", "device="+data+"/missing", "directory="+bound, "fstype=none", "options=bind")
	r.act(ocf.Success, "start", p("options=bind,ro")...)
	r.act(anyStatus, "monitor", p("options=bind,ro", "CRM_meta_interval=20000", "OCF_CHECK_LEVEL=20")...)
	r.act(ocf.ErrGeneric, "monitor", p("options=bind", "OCF_CHECK_LEVEL=20")...)
	r.act(ocf.Success, "stop", p("options=bind,ro")...)
	r.act(ocf.Success, "start", p("options=rbind,rprivate")...)
	r.act(ocf.Success, "monitor", p("options=rbind,rprivate")...)
	r.act(ocf.Success, "stop", p("options=rbind,rprivate")...)
	run(t, "umount", data)
}

func recordTmpfs(t *testing.T, r *recorder) {
	mnt := "/mnt/scratch"
	r.rec.Comment = "tmpfs (no device) on /mnt/scratch with size=16m,noexec: start, monitor at depth 20 (O_DIRECT refused, O_SYNC), stop; " +
		"a size the kernel refuses"
	r.rec.Vars = map[string]string{"dir": mnt}
	r.watch(nil, []string{mnt}, nil)
	r.snapshot("empty")
	base := []string{"device=scratch", "directory=" + mnt, "fstype=tmpfs"}
	p := func(extra ...string) []string { return append(slices.Clone(base), extra...) }
	r.act(ocf.ErrGeneric, "start", p("options=size=lots")...)
	r.act(ocf.Success, "start", p("options=size=16m,noexec")...)
	r.act(ocf.Success, "monitor", p("options=size=16m,noexec", "CRM_meta_interval=20000", "OCF_CHECK_LEVEL=20")...)
	r.act(ocf.NotRunning, "monitor", p("device=other", "fstype=ramfs")...)
	r.act(ocf.Success, "stop", p("options=size=16m,noexec")...)
}

func recordImage(t *testing.T, r *recorder) {
	img := mkImage(t, "image", "ext4", 32)
	mnt := "/mnt/img"
	r.rec.Comment = "an ext4 image file mounted with options=loop through mount(8): start, monitor, stop; mount(8) failing (xfs)"
	r.rec.Vars = map[string]string{"img": img, "dir": mnt}
	r.watch([]string{img}, []string{mnt}, nil)
	r.snapshot("empty")
	base := []string{"device=" + img, "directory=" + mnt, "options=loop"}
	p := func(extra ...string) []string { return append(slices.Clone(base), extra...) }
	r.act(ocf.ErrGeneric, "start", p("fstype=xfs")...)
	r.act(ocf.Success, "start", p("fstype=ext4")...)
	r.act(ocf.Success, "monitor", p("fstype=ext4", "CRM_meta_interval=20000", "OCF_CHECK_LEVEL=20")...)
	r.act(ocf.Success, "stop", p("fstype=ext4")...)
	// mount(8) left the loop device attached with autoclear: gone now.
	if out, _ := exec.Command("losetup", "-j", img).Output(); len(out) > 0 {
		t.Errorf("loop device left: %s", out)
	}
}

func recordFsck(t *testing.T, r *recorder) {
	dev, _ := loopDev(t, "ext2", "ext2", 32)
	mnt := "/mnt/data"
	r.rec.Comment = "ext2 (run_fsck=auto checks it): a clean check and mount; a root inode cleared with debugfs: while the superblock says clean, " +
		"fsck -p passes and mount(2) says EUCLEAN; marked with errors, fsck -p gives up (exit 4)"
	r.rec.Vars = map[string]string{"dev": dev, "dir": mnt}
	r.watch([]string{dev}, []string{mnt}, nil)
	r.snapshot("empty")
	base := []string{"device=" + dev, "directory=" + mnt, "fstype=ext2"}
	r.act(ocf.Success, "start", base...)
	r.act(ocf.Success, "stop", base...)
	run(t, "debugfs", "-w", "-R", "clri <2>", dev)
	r.hidden = "root inode cleared"
	r.snapshot("root inode cleared")
	// Marked clean, the filesystem passes fsck -p; the kernel refuses it.
	r.act(ocf.ErrGeneric, "start", base...)
	run(t, "debugfs", "-w", "-R", "ssv state 2", dev)
	r.hidden = "root inode cleared, marked with errors"
	r.snapshot("root inode cleared, marked with errors")
	if out := r.act(ocf.ErrGeneric, "start", base...); !strings.Contains(out, "could not correct") {
		t.Errorf("fsck: %s", out)
	}
}

func (h recHost) LoopBacking(major, minor int) (string, error) {
	return h.r.real.host.LoopBacking(major, minor)
}
