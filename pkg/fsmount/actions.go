package fsmount

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gocf/gocf/pkg/holders"
	"github.com/gocf/gocf/pkg/mounts"
	"github.com/gocf/gocf/pkg/ocf"
	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

type agent struct{ n node }

// call runs an operation that may block so that the action returns at
// ctx's deadline. A thread blocked uninterruptibly (D state) still keeps
// the process from exiting: I/O that can block so (a frozen filesystem, a
// dead device) goes to a child (node.child, inChild) instead.
func call[T any](ctx context.Context, fn func() (T, error)) (T, error) {
	type res struct {
		v   T
		err error
	}
	ch := make(chan res, 1)
	go func() {
		v, err := fn()
		ch <- res{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, fmt.Errorf("no answer before the deadline: %w", ctx.Err())
	}
}

// source is what would be mounted: for a block filesystem the device path
// with its device number.
type source struct {
	path string
	rdev uint64 // block devices only
}

// resolveSource finds the device on this node. A failure is node-local.
func (a *agent) resolveSource(ctx context.Context, r *ocf.Request, c config) (source, ocf.Status) {
	switch c.kind {
	case network, virtual:
		return source{path: c.device}, ocf.Success
	case bind:
		fi, err := call(ctx, func() (fileStat, error) { return a.n.host.Stat(c.device) })
		if err != nil || fi.Mode != unix.S_IFDIR {
			return source{}, r.Fail(ocf.ErrInstalled, "bind source %s is not a directory on this node", c.device)
		}
		return source{path: c.device}, ocf.Success
	}
	tag, value, _ := parseDeviceSpec(c.device)
	path := value
	if tag != "" {
		link := "/dev/disk/by-" + strings.ToLower(tag) + "/" + value
		if p, err := a.n.host.EvalSymlinks(link); err == nil {
			path = p
		} else if p, err := a.n.tools.FindFS(ctx, tag, value); err == nil {
			path = p
		} else {
			return source{}, r.Fail(ocf.ErrInstalled, "no filesystem with %s=%s on this node", tag, value)
		}
	}
	st, err := a.n.host.Stat(path)
	if err != nil {
		return source{}, r.Fail(ocf.ErrInstalled, "device %s does not exist on this node", path)
	}
	switch st.Mode {
	case unix.S_IFBLK:
		return source{path: path, rdev: st.Rdev}, ocf.Success
	case unix.S_IFREG:
		if c.opts.Helper {
			return source{path: path}, ocf.Success // an image for the loop option
		}
	}
	return source{}, r.Fail(ocf.ErrInstalled, "%s is not a block device (for an image file add loop to options)", path)
}

// ours tells whether mount m is this resource's filesystem.
func (a *agent) ours(c config, src source, m *mountinfo.Info) bool {
	switch c.kind {
	case block:
		if src.rdev != 0 {
			return uint64(unix.Mkdev(uint32(m.Major), uint32(m.Minor))) == src.rdev
		}
		// An image mounted with the loop option: the table shows the loop
		// device mount(8) set up, whose backing file is the image.
		if m.Source == src.path {
			return true
		}
		f, err := a.n.host.LoopBacking(m.Major, m.Minor)
		return err == nil && f == src.path
	case network:
		return strings.TrimSuffix(m.Source, "/") == strings.TrimSuffix(src.path, "/") &&
			strings.SplitN(m.FSType, ".", 2)[0] == strings.SplitN(c.fstype, ".", 2)[0]
	case virtual:
		return m.FSType == c.fstype
	}
	return true // a bind mount: what is mounted there is the bind
}

// mountPoint reads the table and the canonical mount point.
func (a *agent) mountPoint(ctx context.Context, r *ocf.Request, c config) (mounts.Table, string, error) {
	t, err := a.n.table.Read()
	if err != nil {
		return nil, "", fmt.Errorf("cannot read the mount table: %w", err)
	}
	dir, err := a.n.table.Canonical(ctx, t, c.dir)
	if err != nil {
		r.Log.Warnf("cannot resolve %s (%v); using it as written", c.dir, err)
	}
	return t, dir, nil
}

// validate-all checks on this node what start checks before it mounts, in
// the same order and with the same codes, so that it refuses what start
// would refuse.
func (a *agent) validate(ctx context.Context, r *ocf.Request) ocf.Status {
	c := ocf.Config[config](r)
	_, _, src, st := a.preflight(ctx, r, c)
	if st != ocf.Success {
		return st
	}
	if st := a.checkKernel(r, c); st != ocf.Success {
		return st
	}
	return a.checkType(ctx, r, c, src)
}

// checkPrivileges wants what mount(2) wants, CAP_SYS_ADMIN: without it
// start fails with 4, not with whatever error comes first.
func (a *agent) checkPrivileges(r *ocf.Request) ocf.Status {
	if a.n.host.Privileged() {
		return ocf.Success
	}
	return r.Fail(ocf.ErrPerm, "fsmount needs root (CAP_SYS_ADMIN) to mount; running as uid %d", os.Geteuid())
}

// checkDir refuses a mount point that is a system directory once links are
// resolved on this node (the lexical form was checked with the parameters).
func checkDir(r *ocf.Request, c config, dir string) ocf.Status {
	if _, ok := mounts.SystemDir(dir); ok {
		return r.Fail(ocf.ErrConfigured, "directory %s is %s, a system directory: it cannot be managed", c.dir, dir)
	}
	return ocf.Success
}

// checkKernel refuses a type the kernel can neither mount nor load a
// module for, as Filesystem does (5).
func (a *agent) checkKernel(r *ocf.Request, c config) ocf.Status {
	if c.kind == bind {
		return ocf.Success
	}
	k, err := a.n.host.KernelFS()
	if err != nil {
		r.Log.Warnf("cannot tell the filesystem types of this kernel: %v", err)
		return ocf.Success
	}
	if ok, known := k.supports(c.fstype); known && !ok {
		return r.Fail(ocf.ErrInstalled, "the kernel does not support %s on this node (not in /proc/filesystems, no module)", kernelType(c.fstype))
	}
	return ocf.Success
}

// checkType reads the device's superblock and refuses a filesystem that
// cannot be mounted as fstype. That is 6, not 5: the device is shared (or
// meant to hold the same filesystem on every node), so what it holds
// contradicts the configuration everywhere; it is not something missing
// here. A device that cannot be read in time or holds nothing recognised
// is left to mount(2).
func (a *agent) checkType(ctx context.Context, r *ocf.Request, c config, src source) ocf.Status {
	if c.kind != block || src.rdev == 0 {
		return ocf.Success
	}
	pctx, cancel := context.WithTimeout(ctx, min(remaining(ctx)/2, 5*time.Second))
	defer cancel()
	found, err := a.n.child.Run(pctx, "probe", src.path, strconv.FormatUint(src.rdev, 10))
	if err != nil {
		r.Log.Infof("cannot read the filesystem type of %s: %v", src.path, err)
		return ocf.Success
	}
	if typeMismatch(c.fstype, found) {
		return r.Fail(ocf.ErrConfigured, "%s holds %s, not %s: check fstype and device", src.path, found, c.fstype)
	}
	return ocf.Success
}

// remaining is the time left before ctx's deadline (a minute without one).
func remaining(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return time.Until(d)
	}
	return time.Minute
}

// preflight is what start and validate-all check first, in this order:
// privileges, the mount point (resolved, not a system directory) and the
// source.
func (a *agent) preflight(ctx context.Context, r *ocf.Request, c config) (mounts.Table, string, source, ocf.Status) {
	if st := a.checkPrivileges(r); st != ocf.Success {
		return nil, "", source{}, st
	}
	t, dir, err := a.mountPoint(ctx, r, c)
	if err != nil {
		return nil, "", source{}, r.Fail(ocf.ErrGeneric, "%v", err)
	}
	if st := checkDir(r, c, dir); st != ocf.Success {
		return nil, "", source{}, st
	}
	src, st := a.resolveSource(ctx, r, c)
	return t, dir, src, st
}

func (a *agent) start(ctx context.Context, r *ocf.Request) ocf.Status {
	c := ocf.Config[config](r)
	t, dir, src, st := a.preflight(ctx, r, c)
	if st != ocf.Success {
		return st
	}
	if m := t.At(dir); m != nil {
		if a.ours(c, src, m) {
			r.Log.Infof("%s is already mounted on %s", src.path, dir)
			return ocf.Success
		}
		return r.Fail(ocf.ErrGeneric, "%s already has %s (%s) mounted on it", dir, m.Source, m.FSType)
	}
	if st := a.checkKernel(r, c); st != ocf.Success {
		return st
	}
	if st := a.checkType(ctx, r, c, src); st != ocf.Success {
		return st
	}
	if err := a.n.host.MkdirAll(dir); err != nil {
		return r.Fail(ocf.ErrInstalled, "cannot create mount point %s: %v", dir, err)
	}
	if fi, err := a.n.host.Stat(dir); err != nil || fi.Mode != unix.S_IFDIR {
		return r.Fail(ocf.ErrInstalled, "mount point %s is not a directory", dir)
	}
	if c.needsFsck() {
		code, out, err := a.n.tools.Fsck(ctx, src.path, c.fstype)
		switch {
		case err != nil:
			return r.Fail(ocf.ErrGeneric, "fsck of %s could not run: %v", src.path, err)
		case code >= 4:
			r.Log.Errorf("fsck %s: %s", src.path, out)
			return r.Fail(ocf.ErrGeneric, "fsck found errors it could not correct on %s (exit %d): repair it by hand", src.path, code)
		case code != 0:
			r.Log.Warnf("fsck corrected errors on %s (exit %d)", src.path, code)
		}
	}
	if st := a.mount(ctx, r, c, src, dir); st != ocf.Success {
		return st
	}
	// Success only when the table shows it.
	t, err := a.n.table.Read()
	if err != nil {
		return r.Fail(ocf.ErrGeneric, "cannot read the mount table: %v", err)
	}
	m := t.At(dir)
	if m == nil || !a.ours(c, src, m) {
		return r.Fail(ocf.ErrGeneric, "mount of %s on %s reported success but is not in the mount table", src.path, dir)
	}
	if c.kind == block {
		// An unmounted frozen superblock stays frozen, and mounting the
		// device again brings it back, with every write blocking.
		switch res, err := a.thawMount(ctx, m); {
		case err != nil:
			r.Log.Warnf("cannot check whether %s is frozen: %v", dir, err)
		case res == "thawed":
			r.Log.Warnf("%s was frozen (an earlier unmount left it so): thawed it", src.path)
		}
	}
	r.Log.Infof("mounted %s on %s", src.path, dir)
	return ocf.Success
}

// thawMount thaws the filesystem mounted as m, in a child bounded to a
// share of the time left: FITHAW itself does not block, the way to the
// mount point might.
func (a *agent) thawMount(ctx context.Context, m *mountinfo.Info) (string, error) {
	tctx, cancel := context.WithTimeout(ctx, min(remaining(ctx)/4, 10*time.Second))
	defer cancel()
	return a.n.child.Run(tctx, "thaw", m.Mountpoint, strconv.Itoa(m.ID), devOf(m))
}

// devOf is m's device number as the helper takes it.
func devOf(m *mountinfo.Info) string {
	return strconv.FormatUint(unix.Mkdev(uint32(m.Major), uint32(m.Minor)), 10)
}

// readOnly tells whether m is read-only, as a mount or as a filesystem;
// ext4 on newer kernels marks its read-only after an error (errors=remount-ro)
// as emergency_ro among the superblock's options, which still say rw.
func readOnly(m *mountinfo.Info) bool {
	sb := strings.Split(m.VFSOptions, ",")
	return slices.Contains(strings.Split(m.Options, ","), "ro") || slices.Contains(sb, "ro") || slices.Contains(sb, "emergency_ro")
}

// emergencyHint names the kernel's error read-only when m has it.
func emergencyHint(m *mountinfo.Info) string {
	if slices.Contains(strings.Split(m.VFSOptions, ","), "emergency_ro") {
		return " (the kernel made it read-only after a filesystem error: emergency_ro)"
	}
	return ""
}

func (a *agent) mount(ctx context.Context, r *ocf.Request, c config, src source, dir string) ocf.Status {
	var err error
	switch {
	case c.kind == network || c.opts.Helper:
		var out string
		out, err = a.n.tools.Mount(ctx, src.path, dir, c.fstype, c.options)
		if err != nil {
			return r.Fail(ocf.ErrGeneric, "mount -t %s %s %s failed: %s", c.fstype, src.path, dir, firstLine(out, err))
		}
		return ocf.Success
	case c.kind == bind:
		err = a.n.sys.Mount(src.path, dir, "", c.opts.Flags&(unix.MS_BIND|unix.MS_REC), "")
		if err == nil && c.opts.Flags&^(unix.MS_BIND|unix.MS_REC) != 0 {
			// Flags of a bind mount take a remount.
			err = a.n.sys.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_BIND|c.opts.Flags&^unix.MS_REC, "")
			if err != nil {
				a.n.sys.Unmount(dir, 0)
			}
		}
	default:
		err = a.n.sys.Mount(src.path, dir, c.fstype, c.opts.Flags, c.opts.Data)
	}
	if err == nil && c.opts.Propagation != 0 {
		if err = a.n.sys.Mount("", dir, "", c.opts.Propagation, ""); err != nil {
			a.n.sys.Unmount(dir, 0)
		}
	}
	switch {
	case err == nil:
		return ocf.Success
	case errors.Is(err, unix.EPERM):
		return r.Fail(ocf.ErrPerm, "not allowed to mount %s: fsmount needs root", src.path)
	case errors.Is(err, unix.ENODEV):
		return r.Fail(ocf.ErrInstalled, "the kernel does not support filesystem type %s on this node", c.fstype)
	case errors.Is(err, unix.EINVAL):
		return r.Fail(ocf.ErrGeneric, "cannot mount %s as %s: wrong type, bad option (%s) or bad superblock", src.path, c.fstype, c.options)
	case errors.Is(err, unix.EBUSY):
		return r.Fail(ocf.ErrGeneric, "cannot mount %s on %s: device or mount point busy", src.path, dir)
	}
	return r.Fail(ocf.ErrGeneric, "mounting %s on %s failed: %v", src.path, dir, err)
}

func firstLine(out string, err error) string {
	if l := strings.TrimSpace(strings.SplitN(strings.TrimSpace(out), "\n", 2)[0]); l != "" {
		return l
	}
	return err.Error()
}

func (a *agent) monitor(ctx context.Context, r *ocf.Request) ocf.Status {
	c := ocf.Config[config](r)
	t, dir, err := a.mountPoint(ctx, r, c)
	if err != nil {
		return r.Fail(ocf.ErrGeneric, "%v", err)
	}
	m := t.At(dir)
	if m == nil {
		return r.Fail(ocf.NotRunning, "%s is not mounted", dir)
	}
	src, st := a.resolveSource(ctx, r, c)
	if st != ocf.Success {
		return r.Fail(ocf.NotRunning, "%s is mounted but %s is not on this node", dir, c.device)
	}
	if !a.ours(c, src, m) {
		return r.Fail(ocf.NotRunning, "%s has %s mounted, not %s", dir, m.Source, src.path)
	}
	// A filesystem configured read-write that went read-only (an I/O
	// error with errors=remount-ro) is mounted but broken (1), not
	// stopped (7) and not healthy (0); the mount table says so at every
	// depth, without a write.
	if c.opts.Flags&unix.MS_RDONLY == 0 && readOnly(m) {
		return r.Fail(ocf.ErrGeneric, "%s is mounted read-only but configured read-write%s", dir, emergencyHint(m))
	}
	if r.Depth >= 10 && c.kind == block && src.rdev != 0 {
		if _, err := a.n.child.Run(ctx, "read", src.path, strconv.FormatUint(src.rdev, 10)); err != nil {
			return r.Fail(ocf.ErrGeneric, "cannot read %s: %v%s", src.path, err, hangHint(err, "the device hangs"))
		}
	}
	if r.Depth >= 20 {
		if !r.IsProbe() {
			res, err := a.n.child.Run(ctx, "status", m.Mountpoint, strconv.Itoa(m.ID), devOf(m), c.statusRel, a.nodeName(r))
			if err != nil {
				return r.Fail(ocf.ErrGeneric, "status file on %s: %v%s", dir, err, hangHint(err, "frozen filesystem or hung I/O"))
			}
			// A full filesystem (the status file could not be written
			// for want of space, inodes or quota, or only into root's
			// reserved blocks, while the filesystem still reads) is
			// degraded (190), not failed. A failure would recover by
			// stop and start here, then by a move, and neither frees a
			// byte: a replicated or shared filesystem is as full on the
			// other node, so the resource would go round the nodes until
			// migration-threshold banned it everywhere, and a PBX whose
			// calls still go through (only what it writes, recordings,
			// voicemail, CDRs, fails) would end stopped. Degraded shows
			// the state and its reason in crm_mon at every depth 20
			// monitor and leaves the PBX running for a human to free
			// space. A read-only remount still fails (above), as does a
			// full filesystem that no longer reads.
			if full, ok := strings.CutPrefix(res, "full "); ok {
				full, detail, _ := strings.Cut(full, "; ")
				r.Log.Warnf("%s is full (%s): %s", dir, full, detail)
				return r.Fail(ocf.Degraded, "%s is full (%s), still readable: free space; restart or move would not help", dir, full)
			}
		}
	}
	return ocf.Success
}

// hangHint explains a child that did not answer.
func hangHint(err error, why string) string {
	if errors.Is(err, errNoAnswer) {
		return " (" + why + ")"
	}
	return ""
}

func (a *agent) nodeName(r *ocf.Request) string {
	if n := r.Meta.Get("on_node"); n != "" {
		return n
	}
	h, _ := a.n.host.Hostname()
	return h
}

func (a *agent) stop(ctx context.Context, r *ocf.Request) ocf.Status {
	c := ocf.Config[config](r)
	t, dir, err := a.mountPoint(ctx, r, c)
	if err != nil {
		return r.Fail(ocf.ErrGeneric, "%v", err)
	}
	top := t.At(dir)
	if top == nil {
		return ocf.Success
	}
	if src, st := a.resolveSource(ctx, r, c); st == ocf.Success && !a.ours(c, src, top) {
		// Someone else's filesystem: this resource is not mounted.
		r.Log.Warnf("%s has %s mounted, not %s; leaving it alone", dir, top.Source, src.path)
		return ocf.Success
	}
	if c.kind == block {
		// Unmounted frozen, the superblock would stay frozen for the next
		// mount; only this resource's own filesystem is thawed.
		switch res, err := a.thawMount(ctx, top); {
		case err != nil:
			r.Log.Warnf("cannot check whether %s is frozen: %v", dir, err)
		case res == "thawed":
			r.Log.Warnf("%s was frozen: thawed it before unmounting", dir)
		}
	}
	// Submounts first, deepest first, then the mount itself.
	for _, m := range append(t.Under(dir), top) {
		if st := a.unmount(ctx, r, c, m); st != ocf.Success {
			return st
		}
	}
	t, err = a.n.table.Read()
	if err != nil {
		return r.Fail(ocf.ErrGeneric, "cannot read the mount table: %v", err)
	}
	if m := t.At(dir); m != nil {
		return r.Fail(ocf.ErrGeneric, "%s is still mounted on %s", m.Source, dir)
	}
	return ocf.Success
}

// unmount takes one mount off, signalling its holders as configured and
// retrying until the deadline (or one round with fast_stop).
func (a *agent) unmount(ctx context.Context, r *ocf.Request, c config, m *mountinfo.Info) ocf.Status {
	dir := m.Mountpoint
	umount := func(flags int) error {
		_, err := call(ctx, func() (struct{}, error) {
			return struct{}{}, a.n.sys.Unmount(dir, flags|unix.UMOUNT_NOFOLLOW)
		})
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			return nil // not mounted any more
		}
		return err
	}
	var last []holders.Holder
	for round := 0; ; round++ {
		err := umount(0)
		if err == nil {
			r.Log.Infof("unmounted %s", dir)
			return ocf.Success
		}
		if errors.Is(err, unix.EPERM) {
			return r.Fail(ocf.ErrPerm, "not allowed to unmount %s: fsmount needs root", dir)
		}
		if !errors.Is(err, unix.EBUSY) {
			break
		}
		if c.fastStop && round >= 2 || ctx.Err() != nil {
			break
		}
		sigs := c.killSigs
		if round == 0 {
			sigs = c.termSigs
		}
		if c.kill {
			found, err := a.n.holders.Find(ctx, dir)
			if err != nil {
				break
			}
			last = found
			for _, h := range found {
				r.Log.Warnf("%s is held by %s", dir, h)
			}
			for _, sig := range sigs {
				a.n.holders.Signal(found, dir, sig)
			}
		}
		// Give them signal_delay to let go, looking again every 50 ms.
		wait(ctx, c.delay, func() bool {
			found, _ := a.n.holders.Find(ctx, dir)
			return len(found) == 0
		})
	}
	// Last resort for network filesystems only: a forced, then lazy
	// unmount. A local filesystem stays mounted rather than being detached
	// while its device is still in use.
	if c.kind == network || strings.HasPrefix(m.FSType, "nfs") || strings.HasPrefix(m.FSType, "fuse") {
		if umount(unix.MNT_FORCE) == nil || umount(unix.MNT_DETACH) == nil {
			r.Log.Warnf("%s was force-unmounted", dir)
			return ocf.Success
		}
	}
	if len(last) > 0 {
		return r.Fail(ocf.ErrGeneric, "%s is still busy: held by %s", dir, last[0])
	}
	return r.Fail(ocf.ErrGeneric, "cannot unmount %s: it stays busy", dir)
}

// wait sleeps up to d (at least one 50 ms step), ending early when done
// reports true or ctx ends.
func wait(ctx context.Context, d time.Duration, done func() bool) {
	end := time.Now().Add(d)
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
		if !time.Now().Before(end) || done() {
			return
		}
	}
}
