package mounts

import (
	"path/filepath"
	"testing"
)

func TestSystemDir(t *testing.T) {
	for _, p := range []string{"/", "/etc", "/usr/lib", "/var/lib", "/var/log", "/boot", "/proc/sys/fs", "/dev/shm", "/sys/fs/cgroup", "/usr/lib/ocf"} {
		if _, ok := SystemDir(filepath.Clean(p)); !ok {
			t.Errorf("%s allowed", p)
		}
	}
	for _, p := range []string{"/var/lib/asterisk", "/srv/x", "/mnt/x", "/home", "/opt/app", "/etc/asterisk", "/data", "/var/spool/asterisk", "/processes"} {
		if what, ok := SystemDir(p); ok {
			t.Errorf("%s refused as %s", p, what)
		}
	}
	exact, trees := SystemDirs()
	if len(exact) == 0 || len(trees) == 0 {
		t.Fatal("empty lists")
	}
	for _, p := range append(exact, trees...) {
		if p != filepath.Clean(p) || !filepath.IsAbs(p) {
			t.Errorf("%q is not an absolute clean path", p)
		}
	}
}
