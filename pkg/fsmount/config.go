package fsmount

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
	"unicode"

	"github.com/gocf/gocf/pkg/holders"
	"github.com/gocf/gocf/pkg/mounts"
	"github.com/gocf/gocf/pkg/ocf"
)

// kind is how a filesystem is mounted and checked.
type kind int

const (
	block   kind = iota // a local filesystem on a block device
	bind                // a bind mount of a directory
	network             // network or FUSE: through mount(8), no device to check
	virtual             // tmpfs and friends: nothing to check
)

// Filesystems that several nodes may mount at once.
var clusterTypes = []string{"gfs2", "ocfs2", "nfs", "nfs4", "cifs", "smb3", "smbfs", "glusterfs", "ceph", "cephfs", "lustre", "beegfs", "gpfs", "afs", "9p", "virtiofs", "davfs", "sshfs", "tmpfs"}

var networkTypes = []string{"nfs", "nfs4", "cifs", "smb3", "smbfs", "glusterfs", "ceph", "cephfs", "lustre", "beegfs", "afs", "davfs", "sshfs"}

var virtualTypes = []string{"tmpfs", "ramfs", "overlay", "proc", "sysfs", "devtmpfs", "9p", "virtiofs"}

// Journaled or fsck-less types that run_fsck=auto leaves alone, as
// Filesystem does.
var noFsckTypes = []string{"ext3", "ext4", "ext4dev", "xfs", "btrfs", "jfs", "reiserfs", "reiser4", "nilfs2", "f2fs", "vfat", "fat", "exfat", "ntfs", "ntfs3", "ocfs2", "gfs2", "zfs"}

type config struct {
	device     string // as given
	dir        string // absolute, lexically clean
	fstype     string
	options    string
	opts       mounts.Options
	kind       kind
	statusRel  string // status file path relative to the mount point, without node name
	runFsck    string
	fastStop   bool
	forceClone bool
	kill       bool // force_unmount true/safe
	termSigs   []syscall.Signal
	killSigs   []syscall.Signal
	delay      time.Duration
}

// optionsMax is what mount(2) takes of an option string: one page with its
// terminating NUL; the kernel cuts the rest off silently.
const optionsMax = 4095

func parseConfig(r *ocf.Request) (config, error) {
	p := r.Params
	c := config{
		device:     strings.TrimSpace(p.String("device")),
		fstype:     strings.TrimSpace(p.String("fstype")),
		options:    strings.TrimSpace(p.String("options")),
		runFsck:    p.String("run_fsck"),
		fastStop:   p.Bool("fast_stop"),
		forceClone: p.Bool("force_clones"),
		delay:      time.Duration(p.Int("signal_delay")) * time.Second,
	}
	var err error
	if c.kill, err = parseForceUnmount(p.String("force_unmount")); err != nil {
		return c, err
	}
	dir := strings.TrimSpace(p.String("directory"))
	if err := noControl("directory", dir); err != nil {
		return c, err
	}
	if !filepath.IsAbs(dir) {
		return c, fmt.Errorf("parameter directory: %q is not an absolute path", dir)
	}
	c.dir = filepath.Clean(dir)
	if _, ok := mounts.SystemDir(c.dir); ok {
		return c, fmt.Errorf("parameter directory: %s is a system directory and cannot be managed", c.dir)
	}
	if err := noControl("device", c.device); err != nil {
		return c, err
	}
	if !validFstype(c.fstype) {
		return c, fmt.Errorf("parameter fstype: %q is not a filesystem type", c.fstype)
	}
	if err := noControl("options", c.options); err != nil {
		return c, err
	}
	if len(c.options) > optionsMax {
		return c, fmt.Errorf("parameter options: %d bytes, longer than the %d mount(2) takes", len(c.options), optionsMax)
	}
	c.opts = mounts.ParseOptions(c.options)
	switch {
	case c.opts.Bind:
		c.kind = bind
		if !filepath.IsAbs(c.device) {
			return c, fmt.Errorf("parameter device: a bind mount needs an absolute source directory, not %q", c.device)
		}
	case c.fstype == "none":
		return c, errors.New("parameter fstype: none is only for bind mounts (add bind to options)")
	case slices.Contains(networkTypes, c.fstype) || strings.HasPrefix(c.fstype, "fuse"):
		c.kind = network
		if err := checkSource(c.fstype, c.device); err != nil {
			return c, err
		}
	case slices.Contains(virtualTypes, c.fstype):
		c.kind = virtual
		if err := checkSource(c.fstype, c.device); err != nil {
			return c, err
		}
	default:
		c.kind = block
		if _, _, err := parseDeviceSpec(c.device); err != nil {
			return c, err
		}
	}
	sp := strings.TrimSpace(p.String("statusfile_prefix"))
	if err := noControl("statusfile_prefix", sp); err != nil {
		return c, err
	}
	if sp == "" || filepath.IsAbs(sp) || slices.Contains(strings.Split(sp, "/"), "..") {
		return c, fmt.Errorf("parameter statusfile_prefix: %q must be a relative path inside the mount", sp)
	}
	c.statusRel = sp
	if c.termSigs, err = holders.ParseSignals(p.String("term_signals")); err != nil || len(c.termSigs) == 0 {
		return c, fmt.Errorf("parameter term_signals: %q: %v", p.String("term_signals"), orEmpty(err))
	}
	if c.killSigs, err = holders.ParseSignals(p.String("kill_signals")); err != nil || len(c.killSigs) == 0 {
		return c, fmt.Errorf("parameter kill_signals: %q: %v", p.String("kill_signals"), orEmpty(err))
	}
	return c, nil
}

// validFstype tells whether s looks like a filesystem type name (ext4,
// fuse.sshfs, nfs4, ntfs-3g): nothing mount(8) could read as an option or a
// list. As ^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$, without a package-level
// regexp: compiling that one took a third of fsmount's start-up.
func validFstype(s string) bool {
	return len(s) <= 64 && asciiWord(s, "", "._+-")
}

// asciiWord tells whether s is a letter or digit (or one of first), then
// letters, digits and bytes of rest.
func asciiWord(s, first, rest string) bool {
	alnum := func(b byte) bool { return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' }
	if s == "" || !alnum(s[0]) && strings.IndexByte(first, s[0]) < 0 {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !alnum(s[i]) && strings.IndexByte(rest, s[i]) < 0 {
			return false
		}
	}
	return true
}

// noControl refuses control characters: they reach logs, exit reasons and
// mount(8)'s arguments.
func noControl(param, v string) error {
	if i := strings.IndexFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }); i >= 0 {
		return fmt.Errorf("parameter %s: %q contains a control character", param, v)
	}
	return nil
}

// checkSource checks the source of a network or virtual filesystem, which
// reaches mount(8) or mount(2) as given: never option-like, no blanks, and
// the shape its type needs.
func checkSource(fstype, dev string) error {
	switch {
	case dev == "":
		return errors.New("parameter device: empty")
	case strings.HasPrefix(dev, "-"):
		return fmt.Errorf("parameter device: %q begins with '-'", dev)
	case strings.IndexFunc(dev, unicode.IsSpace) >= 0:
		return fmt.Errorf("parameter device: %q contains a blank", dev)
	}
	switch fstype {
	case "nfs", "nfs4":
		host, _, ok := strings.Cut(dev, ":/")
		if !ok || !validHost(host) {
			return fmt.Errorf("parameter device: %q is not host:/path", dev)
		}
	case "cifs", "smb3", "smbfs":
		server, share, ok := strings.Cut(strings.TrimPrefix(dev, "//"), "/")
		if !strings.HasPrefix(dev, "//") || !ok || !validHost(server) || strings.Trim(share, "/") == "" {
			return fmt.Errorf("parameter device: %q is not //server/share", dev)
		}
	}
	return nil
}

// validHost accepts a host name, an IPv4 address or a bracketed IPv6 one.
func validHost(h string) bool {
	v6 := strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]")
	if v6 {
		h = h[1 : len(h)-1]
	}
	return asciiWord(h, "_:", "._:%-") && strings.Contains(h, ":") == v6
}

// parseForceUnmount reads force_unmount as Filesystem does: its booleans
// (ocf_is_true's spellings, ja included) and safe, which is what fsmount
// always does when it signals. resource-agents 4.18's move is refused: a
// mount moved aside vanishes from the mount point while still mounted, so
// if the stop then fails, probes here report it stopped and another node
// may mount the same filesystem.
func parseForceUnmount(v string) (bool, error) {
	v = strings.TrimSpace(v)
	if b, ok := ocf.ParseBool(v); ok {
		return b, nil
	}
	switch strings.ToLower(v) {
	case "safe", "ja":
		return true, nil
	case "move":
		return false, errors.New("parameter force_unmount: move is not supported; use safe (true does the same in fsmount)")
	}
	return false, fmt.Errorf("parameter force_unmount: %q is not a boolean (true, false, yes, no, 1, 0) or safe", v)
}

func orEmpty(err error) error {
	if err == nil {
		return errors.New("no signal given")
	}
	return err
}

// parseDeviceSpec splits "-U x", "UUID=x", "-L x", "LABEL=x" into a tag and
// a value; a path comes back with an empty tag.
func parseDeviceSpec(dev string) (tag, value string, err error) {
	switch {
	case strings.HasPrefix(dev, "-U"):
		tag, value = "UUID", strings.TrimSpace(dev[2:])
	case strings.HasPrefix(dev, "-L"):
		tag, value = "LABEL", strings.TrimSpace(dev[2:])
	case strings.HasPrefix(dev, "UUID="):
		tag, value = "UUID", dev[5:]
	case strings.HasPrefix(dev, "LABEL="):
		tag, value = "LABEL", dev[6:]
	case strings.HasPrefix(dev, "/"):
		return "", filepath.Clean(dev), nil
	default:
		return "", "", fmt.Errorf("parameter device: %q is neither a device path nor -U/-L/UUID=/LABEL=", dev)
	}
	if value == "" || strings.ContainsAny(value, "/ ") {
		return "", "", fmt.Errorf("parameter device: %q has no usable %s", dev, tag)
	}
	return tag, value, nil
}

// cloneMax > 1 means a clone; only cluster filesystems may be cloned.
func check(r *ocf.Request) (any, error) {
	c, err := parseConfig(r)
	if err != nil {
		return nil, err
	}
	if r.Meta.Int("clone_max", 1) > 1 && !c.forceClone && !slices.Contains(clusterTypes, c.fstype) && c.kind != bind {
		return nil, fmt.Errorf("%s is not a cluster filesystem: cloning it would corrupt it (set force_clones only if every node mounts its own device)", c.fstype)
	}
	return c, nil
}

// needsFsck applies run_fsck.
func (c config) needsFsck() bool {
	if c.kind != block {
		return false
	}
	switch c.runFsck {
	case "force":
		return true
	case "auto":
		return !slices.Contains(noFsckTypes, c.fstype)
	}
	return false
}
