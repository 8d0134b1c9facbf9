package fsmount

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

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

func parseConfig(r *ocf.Request) (config, error) {
	p := r.Params
	c := config{
		device:     strings.TrimSpace(p.String("device")),
		fstype:     strings.TrimSpace(p.String("fstype")),
		options:    strings.TrimSpace(p.String("options")),
		runFsck:    p.String("run_fsck"),
		fastStop:   p.Bool("fast_stop"),
		forceClone: p.Bool("force_clones"),
		kill:       p.String("force_unmount") != "false",
		delay:      time.Duration(p.Int("signal_delay")) * time.Second,
	}
	dir := strings.TrimSpace(p.String("directory"))
	if !filepath.IsAbs(dir) {
		return c, fmt.Errorf("parameter directory: %q is not an absolute path", dir)
	}
	c.dir = filepath.Clean(dir)
	if c.dir == "/" {
		return c, errors.New("parameter directory: / cannot be managed")
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
	case slices.Contains(virtualTypes, c.fstype):
		c.kind = virtual
	default:
		c.kind = block
		if _, _, err := parseDeviceSpec(c.device); err != nil {
			return c, err
		}
	}
	if strings.ContainsAny(c.fstype, " \t/,") {
		return c, fmt.Errorf("parameter fstype: %q is not a filesystem type", c.fstype)
	}
	sp := strings.TrimSpace(p.String("statusfile_prefix"))
	if sp == "" || filepath.IsAbs(sp) || slices.Contains(strings.Split(sp, "/"), "..") {
		return c, fmt.Errorf("parameter statusfile_prefix: %q must be a relative path inside the mount", sp)
	}
	c.statusRel = sp
	var err error
	if c.termSigs, err = holders.ParseSignals(p.String("term_signals")); err != nil || len(c.termSigs) == 0 {
		return c, fmt.Errorf("parameter term_signals: %q: %v", p.String("term_signals"), orEmpty(err))
	}
	if c.killSigs, err = holders.ParseSignals(p.String("kill_signals")); err != nil || len(c.killSigs) == 0 {
		return c, fmt.Errorf("parameter kill_signals: %q: %v", p.String("kill_signals"), orEmpty(err))
	}
	return c, nil
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
