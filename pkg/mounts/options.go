package mounts

import (
	"strings"

	"golang.org/x/sys/unix"
)

// Options is a mount option string split the way mount(8) does before it
// calls mount(2): flags for the kernel's generic options, the rest as the
// filesystem's data string.
type Options struct {
	Flags uintptr
	Data  string
	Bind  bool // bind or rbind
	// Propagation to apply after mounting (MS_SHARED, MS_PRIVATE ...), 0 for none.
	Propagation uintptr
	// Helper is set when an option needs mount(8) (loop, user-space options).
	Helper bool
}

type flagOpt struct {
	set   bool
	flags uintptr
}

var generic = map[string]flagOpt{
	"ro": {true, unix.MS_RDONLY}, "rw": {false, unix.MS_RDONLY},
	"nosuid": {true, unix.MS_NOSUID}, "suid": {false, unix.MS_NOSUID},
	"nodev": {true, unix.MS_NODEV}, "dev": {false, unix.MS_NODEV},
	"noexec": {true, unix.MS_NOEXEC}, "exec": {false, unix.MS_NOEXEC},
	"sync": {true, unix.MS_SYNCHRONOUS}, "async": {false, unix.MS_SYNCHRONOUS},
	"dirsync": {true, unix.MS_DIRSYNC},
	"mand":    {true, unix.MS_MANDLOCK}, "nomand": {false, unix.MS_MANDLOCK},
	"noatime": {true, unix.MS_NOATIME}, "atime": {false, unix.MS_NOATIME},
	"nodiratime": {true, unix.MS_NODIRATIME}, "diratime": {false, unix.MS_NODIRATIME},
	"relatime": {true, unix.MS_RELATIME}, "norelatime": {false, unix.MS_RELATIME},
	"strictatime": {true, unix.MS_STRICTATIME}, "nostrictatime": {false, unix.MS_STRICTATIME},
	"lazytime": {true, unix.MS_LAZYTIME}, "nolazytime": {false, unix.MS_LAZYTIME},
	"silent": {true, unix.MS_SILENT}, "loud": {false, unix.MS_SILENT},
	"bind": {true, unix.MS_BIND}, "rbind": {true, unix.MS_BIND | unix.MS_REC},
}

var propagation = map[string]uintptr{
	"shared": unix.MS_SHARED, "rshared": unix.MS_SHARED | unix.MS_REC,
	"slave": unix.MS_SLAVE, "rslave": unix.MS_SLAVE | unix.MS_REC,
	"private": unix.MS_PRIVATE, "rprivate": unix.MS_PRIVATE | unix.MS_REC,
	"unbindable": unix.MS_UNBINDABLE, "runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// ParseOptions splits a comma-separated option string.
func ParseOptions(s string) Options {
	var o Options
	var data []string
	for _, opt := range strings.Split(s, ",") {
		opt = strings.TrimSpace(opt)
		switch {
		case opt == "" || opt == "defaults" || opt == "auto" || opt == "noauto" || opt == "_netdev" ||
			opt == "nofail" || opt == "user" || opt == "nouser" || opt == "users" || opt == "owner" ||
			opt == "group" || strings.HasPrefix(opt, "x-") || strings.HasPrefix(opt, "comment="):
			// fstab-only options: nothing for the kernel.
		case opt == "loop" || strings.HasPrefix(opt, "loop=") || strings.HasPrefix(opt, "offset=") ||
			strings.HasPrefix(opt, "sizelimit=") || strings.HasPrefix(opt, "helper="):
			o.Helper = true
		default:
			if f, ok := generic[opt]; ok {
				if f.set {
					o.Flags |= f.flags
				} else {
					o.Flags &^= f.flags
				}
				if f.flags&unix.MS_BIND != 0 {
					o.Bind = true
				}
			} else if p, ok := propagation[opt]; ok {
				o.Propagation = p
			} else {
				data = append(data, opt)
			}
		}
	}
	o.Data = strings.Join(data, ",")
	return o
}
