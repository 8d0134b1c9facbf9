// Package fsmount is the gocf filesystem agent, a drop-in for
// ocf:heartbeat:Filesystem that never hangs on a dead mount and never
// signals a process that does not hold the mount.
package fsmount

import (
	"time"

	"github.com/gocf/gocf/pkg/ocf"
)

// Agent returns the fsmount declaration; tools are the external programs
// it runs (fsck, mount(8) for network types, blkid).
func Agent() *ocf.Agent { return agentOn(realNode(execTools{})) }

func agentOn(n node) *ocf.Agent {
	a := &agent{n: n}
	return &ocf.Agent{
		Name:    "fsmount",
		Version: ocf.BuildVersion,
		Short:   "Manages a filesystem mount (drop-in for Filesystem)",
		Long: `Mounts a filesystem on start, unmounts it on stop and monitors it. It takes
the parameters of ocf:heartbeat:Filesystem with the same meanings, so a
resource can switch agents by changing ocf:heartbeat:Filesystem to
ocf:gocf:fsmount.

Local filesystems are mounted with mount(2) directly; network and FUSE
filesystems, and the loop option, go through mount(8) and its helpers. The
monitor reads /proc/self/mountinfo and never stats into the mount, so a dead
NFS server cannot hang it, and fails a filesystem configured read-write
that the kernel made read-only after an error; depth 10 reads the device with O_DIRECT, depth
20 writes and reads back a status file of its own with O_DIRECT|O_SYNC, in a
child process it abandons at the deadline, so a frozen filesystem or a dead
device cannot hold it past its timeout. A full filesystem that still reads
(no room for the status file, or only root's reserved blocks left) is
reported as degraded (190) with the reason, not as failed: a restart or a
move would not free space, the other node sees the same filesystem. Stop unmounts
submounts deepest first, then finds the processes holding the mount by
walking /proc (cwd, root, exe, open files, memory maps, by path below the
mount point, so users of a bind mount's source are left alone), signals
them with term_signals, then kill_signals, and retries within the stop
timeout; network filesystems are force- and then lazily unmounted as a last
resort. Stop thaws a frozen filesystem before unmounting it and succeeds
only when the filesystem is unmounted. System directories (/, /etc, /usr,
/var/lib ...) are refused as mount points.`,
		Params: params,
		Actions: []ocf.Action{
			{Name: "start", Timeout: 60 * time.Second, Run: a.start},
			{Name: "stop", Timeout: 60 * time.Second, Run: a.stop},
			{Name: "monitor", Timeout: 40 * time.Second, Interval: 20 * time.Second, Run: a.monitor},
			{Name: "monitor", Timeout: 40 * time.Second, Interval: 40 * time.Second, Depth: 10},
			{Name: "monitor", Timeout: 40 * time.Second, Interval: 60 * time.Second, Depth: 20},
			{Name: "meta-data", Timeout: 5 * time.Second},
			{Name: "validate-all", Timeout: 20 * time.Second},
		},
		Check:    check,
		Validate: a.validate,
		Helpers:  []ocf.Helper{{Name: ioHelper, Timeout: ioHelperTimeout, Run: runIOHelper}},
	}
}

var params = []ocf.Param{
	{Name: "device", Type: ocf.String, Required: true,
		Short: "Block device, -U/-L, UUID=/LABEL=, or network source",
		Long: `What to mount: a block device (/dev/drbd0, /dev/disk/by-uuid/...), -U uuid or
UUID=uuid, -L label or LABEL=label, a network source (host:/export for NFS,
//server/share for CIFS; never beginning with - nor containing blanks or
control characters), or for a bind mount the source directory.`},
	{Name: "directory", Type: ocf.String, Required: true,
		Short: "Mount point",
		Long: `The absolute path to mount on. It is created, with its parents, when missing. A
symbolic link is followed. A system directory (/, /etc, /usr, /var/lib and
the like, also when reached through a link) is refused.`},
	{Name: "fstype", Type: ocf.String, Required: true,
		Short: "Filesystem type",
		Long:  `The filesystem type (ext4, xfs, nfs4, ...). For a bind mount, none.`},
	{Name: "options", Type: ocf.String,
		Short: "Mount options",
		Long: `Options as for mount -o, comma-separated. For a bind mount add bind (or
rbind) here and set fstype to none; bind,ro is handled with a remount.`},
	{Name: "statusfile_prefix", Reloadable: true, Type: ocf.String, Default: ".Filesystem_status/",
		Short: "Status file prefix",
		Long: `Relative to the mount point: the prefix of the status files that monitor
depth 20 writes, reads back and removes, one per run, named after the node,
the process and a random part. The default keeps them in one hidden
directory, as Filesystem does. A link on the way is not followed.`},
	{Name: "run_fsck", Reloadable: true, Type: ocf.String, Default: "auto", Choices: []string{"auto", "force", "no"},
		Short: "When to run fsck before mounting",
		Long: `auto: only for block filesystems without a journal (ext2 and the like);
force: always for block devices; no: never.`},
	{Name: "fast_stop", Reloadable: true, Type: ocf.Boolean, Default: "false",
		Short: "Give up stopping early",
		Long: `If true, stop sends term_signals and kill_signals once each and fails if the
filesystem is still busy; if false it keeps retrying until the stop timeout
(set an adequate timeout).`},
	{Name: "force_clones", Reloadable: true, Type: ocf.Boolean, Default: "false",
		Short: "Allow cloning a non-cluster filesystem",
		Long: `Cloning a mount of a local filesystem such as ext4 or xfs corrupts it and is
refused; set this to true only if each node mounts its own device.`},
	{Name: "force_unmount", Reloadable: true, Type: ocf.String, Default: "true",
		Short: "Signal processes that keep the filesystem busy",
		Long: `true (or yes, 1, on) or safe: signal the processes holding the mount before
retrying the unmount; fsmount's search never blocks on a dead mount, so
both behave as Filesystem's safe. false (or no, 0, off): never signal
anyone. Filesystem's move is refused: use safe.`},
	{Name: "term_signals", Reloadable: true, Type: ocf.String, Default: "TERM",
		Short: "Signals sent first to holders",
		Long:  `Signal names or numbers, separated by blanks or commas, sent first to the processes holding the mount.`},
	{Name: "kill_signals", Reloadable: true, Type: ocf.String, Default: "KILL",
		Short: "Signals sent to holders that remain",
		Long:  `Signal names or numbers sent to the processes still holding the mount signal_delay seconds after term_signals.`},
	{Name: "signal_delay", Reloadable: true, Type: ocf.Integer, Default: "1", Bounds: &ocf.Range{Min: 0, Max: 3600},
		Short: "Seconds to wait after signalling",
		Long:  `How long to wait for signalled processes to let go of the mount before the next step.`},
}
