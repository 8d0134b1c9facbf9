package mounts

import (
	"slices"
	"strings"
)

// systemDirs are the directories a managed filesystem must never be
// mounted on: a mount over one hides what the node itself runs on (its
// programs, libraries, configuration, package and cluster state, logs). Only
// the directory itself is refused; a subdirectory such as /var/lib/asterisk
// or /etc/asterisk is an ordinary mount point.
var systemDirs = []string{
	"/", "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32",
	"/proc", "/root", "/run", "/sbin", "/sys", "/tmp", "/usr", "/var",
	"/etc/corosync", "/etc/pacemaker", "/etc/systemd",
	"/lib/modules", "/run/lock", "/run/user",
	"/usr/bin", "/usr/include", "/usr/lib", "/usr/lib32", "/usr/lib64", "/usr/libexec",
	"/usr/libx32", "/usr/local", "/usr/local/bin", "/usr/local/lib", "/usr/local/sbin",
	"/usr/sbin", "/usr/share", "/usr/lib/modules", "/usr/lib/ocf",
	"/var/cache", "/var/lib", "/var/lock", "/var/log", "/var/run", "/var/spool", "/var/tmp",
	"/var/lib/apt", "/var/lib/corosync", "/var/lib/dpkg", "/var/lib/pacemaker",
	"/var/lib/pcsd", "/var/lib/rpm", "/var/lib/systemd",
	"/var/log/cluster", "/var/log/pacemaker",
}

// systemTrees are refused with everything below them: the kernel's and
// the boot loader's, where no cluster filesystem belongs.
var systemTrees = []string{"/boot", "/dev", "/proc", "/sys"}

// SystemDir tells whether path (absolute and clean) is a system directory
// or lies in a system tree, and names the entry that matched.
func SystemDir(path string) (string, bool) {
	if slices.Contains(systemDirs, path) {
		return path, true
	}
	for _, t := range systemTrees {
		if strings.HasPrefix(path, t+"/") {
			return t, true
		}
	}
	return "", false
}

// SystemDirs returns the refused directories and the refused trees.
func SystemDirs() (dirs, trees []string) {
	return slices.Clone(systemDirs), slices.Clone(systemTrees)
}
