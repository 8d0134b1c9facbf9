package fsmount

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestMountArgvEndsOptions(t *testing.T) {
	got := mountArgv("-server:/x", "/srv/m", "nfs4", "vers=4.2")
	want := []string{"mount", "-t", "nfs4", "-o", "vers=4.2", "--", "-server:/x", "/srv/m"}
	if !slices.Equal(got, want) {
		t.Errorf("%q, want %q", got, want)
	}
	if got := mountArgv("//s/share", "/m", "cifs", ""); !slices.Equal(got, []string{"mount", "-t", "cifs", "--", "//s/share", "/m"}) {
		t.Errorf("no options: %q", got)
	}
}

func TestConfigRefuses(t *testing.T) {
	cases := []struct {
		env    []string
		reason string
	}{
		{[]string{"OCF_RESKEY_fstype=nfs4", "OCF_RESKEY_device=-o:/x"}, "begins with '-'"},
		{[]string{"OCF_RESKEY_fstype=nfs4", "OCF_RESKEY_device=server"}, "host:/path"},
		{[]string{"OCF_RESKEY_fstype=nfs", "OCF_RESKEY_device=server:export"}, "host:/path"},
		{[]string{"OCF_RESKEY_fstype=nfs", "OCF_RESKEY_device=:/export"}, "host:/path"},
		{[]string{"OCF_RESKEY_fstype=nfs4", "OCF_RESKEY_device=server:/a b"}, "blank"},
		{[]string{"OCF_RESKEY_fstype=nfs4", "OCF_RESKEY_device=server:/a\x1bb"}, "control character"},
		{[]string{"OCF_RESKEY_fstype=cifs", "OCF_RESKEY_device=server/share"}, "//server/share"},
		{[]string{"OCF_RESKEY_fstype=cifs", "OCF_RESKEY_device=//server"}, "//server/share"},
		{[]string{"OCF_RESKEY_fstype=cifs", "OCF_RESKEY_device=//-server/share"}, "//server/share"},
		{[]string{"OCF_RESKEY_fstype=tmpfs", "OCF_RESKEY_device=-V"}, "begins with '-'"},
		{[]string{"OCF_RESKEY_fstype=fuse.sshfs", "OCF_RESKEY_device=--opt"}, "begins with '-'"},
		{[]string{"OCF_RESKEY_device=/dev/sd\nb"}, "control character"},
		{[]string{"OCF_RESKEY_directory=/etc"}, "system directory"},
		{[]string{"OCF_RESKEY_directory=/etc/../etc/"}, "system directory"},
		{[]string{"OCF_RESKEY_directory=/usr//lib/"}, "system directory"},
		{[]string{"OCF_RESKEY_directory=/proc/sys"}, "system directory"},
		{[]string{"OCF_RESKEY_directory=/srv/a\tb"}, "control character"},
		{[]string{"OCF_RESKEY_options=noatime\nro"}, "control character"},
		{[]string{"OCF_RESKEY_options=" + strings.Repeat("a,", 50000)}, "longer than"},
		{[]string{"OCF_RESKEY_fstype=ext4;x"}, "not a filesystem type"},
		{[]string{"OCF_RESKEY_fstype=" + strings.Repeat("x", 100)}, "not a filesystem type"},
		{[]string{"OCF_RESKEY_statusfile_prefix=st\x01"}, "control character"},
		{[]string{"OCF_RESKEY_force_unmount=move"}, "safe"},
		{[]string{"OCF_RESKEY_force_unmount=always"}, "not a boolean"},
	}
	for _, c := range cases {
		_, errs := prepare(t, c.env...)
		if len(errs) == 0 || !strings.Contains(errs[0].Error(), c.reason) {
			t.Errorf("%q: %v, want %q", c.env, errs, c.reason)
		}
	}
	for _, ok := range [][]string{
		{"OCF_RESKEY_fstype=nfs4", "OCF_RESKEY_device=server:/export"},
		{"OCF_RESKEY_fstype=nfs4", "OCF_RESKEY_device=[fd00::1]:/export/a"},
		{"OCF_RESKEY_fstype=nfs", "OCF_RESKEY_device=10.0.0.1:/"},
		{"OCF_RESKEY_fstype=cifs", "OCF_RESKEY_device=//server/share/sub"},
		{"OCF_RESKEY_fstype=glusterfs", "OCF_RESKEY_device=gl1:/vol"},
		{"OCF_RESKEY_directory=/var/lib/asterisk"},
		{"OCF_RESKEY_directory=/mnt/x"},
		{"OCF_RESKEY_options=" + strings.Repeat("a", 4000)},
	} {
		if _, errs := prepare(t, ok...); len(errs) > 0 {
			t.Errorf("%q refused: %v", ok, errs)
		}
	}
}

func TestForceUnmountValues(t *testing.T) {
	for v, kill := range map[string]bool{
		"true": true, "yes": true, "1": true, "TRUE": true, "on": true, "ja": true, "safe": true,
		"false": false, "no": false, "0": false, "off": false, "NO": false,
	} {
		c, errs := prepare(t, "OCF_RESKEY_force_unmount="+v)
		if len(errs) > 0 || c.kill != kill {
			t.Errorf("%s: kill %v %v", v, c.kill, errs)
		}
	}
}

// writeStatus must never leave the directory it was given through a link.
func TestStatusFileRefusesLinks(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := os.Symlink(outside, filepath.Join(root, ".Filesystem_status")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "a")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "plain"), nil, 0o644)
	for rel, reason := range map[string]string{
		".Filesystem_status/": "symbolic link",
		"a/b/st-":             "symbolic link",
		"plain/x":             "not a directory",
	} {
		if err := writeStatus(fd, rel, "node1"); err == nil || !strings.Contains(err.Error(), reason) {
			t.Errorf("%s: %v, want %q", rel, err, reason)
		}
	}
	if left, _ := os.ReadDir(outside); len(left) > 0 {
		t.Errorf("written through a link: %v", left)
	}
	// A plain status directory: created, written, read back and left empty.
	os.Remove(filepath.Join(root, ".Filesystem_status"))
	for range 2 {
		if err := writeStatus(fd, ".Filesystem_status/", "node1"); err != nil {
			t.Fatal(err)
		}
	}
	if left, err := os.ReadDir(filepath.Join(root, ".Filesystem_status")); err != nil || len(left) > 0 {
		t.Errorf("status directory: %v %v", left, err)
	}
	if err := writeStatus(fd, "st-", "../../x"); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{root, filepath.Dir(root), filepath.Dir(filepath.Dir(root))} {
		left, _ := filepath.Glob(filepath.Join(d, "*x."+strconv.Itoa(os.Getpid())+".*"))
		if len(left) > 0 {
			t.Errorf("status file of node ../../x left behind or outside: %v", left)
		}
	}
}

func TestShortReadFails(t *testing.T) {
	dir := t.TempDir()
	for size, ok := range map[int]bool{0: false, 1000: false, 8192: true} {
		p := filepath.Join(dir, "dev")
		os.WriteFile(p, make([]byte, size), 0o644)
		fd, err := unix.Open(p, unix.O_RDONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		err = readFirstBlock(fd)
		unix.Close(fd)
		if (err == nil) != ok {
			t.Errorf("size %d: %v", size, err)
		}
	}
}

func TestDetectFS(t *testing.T) {
	if got := detectFS(make([]byte, probeSize)); got != "" {
		t.Errorf("zeros: %q", got)
	}
	dir := t.TempDir()
	for _, c := range []struct{ typ, mkfs string }{
		{"ext2", "mkfs.ext2"}, {"ext3", "mkfs.ext3"}, {"ext4", "mkfs.ext4"}, {"xfs", "mkfs.xfs"}, {"swap", "mkswap"}, {"btrfs", "mkfs.btrfs"}, {"vfat", "mkfs.vfat"},
	} {
		if _, err := exec.LookPath(c.mkfs); err != nil {
			t.Logf("%s: not installed", c.mkfs)
			continue
		}
		img := filepath.Join(dir, c.typ+".img")
		if err := os.WriteFile(img, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		os.Truncate(img, 300<<20)
		args := []string{img}
		switch c.typ {
		case "ext2", "ext3", "ext4":
			args = []string{"-q", "-F", img}
		case "xfs", "btrfs":
			args = []string{"-q", "-f", img}
		}
		if out, err := exec.Command(c.mkfs, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v %s", c.mkfs, err, out)
		}
		b := make([]byte, probeSize)
		f, _ := os.Open(img)
		f.ReadAt(b, 0)
		f.Close()
		if got := detectFS(b); got != c.typ {
			t.Errorf("%s image: detected %q", c.typ, got)
		}
	}
}

func TestTypeMismatch(t *testing.T) {
	for _, c := range []struct {
		fstype, detected string
		mismatch         bool
	}{
		{"xfs", "ext4", true},
		{"ext4", "xfs", true},
		{"ext4", "ext2", false},
		{"ext4", "ext3", false},
		{"ext3", "ext4", true},
		{"ext2", "ext3", false},
		{"ext4", "swap", true},
		{"ext4", "", false},
		{"zfs", "ext4", false}, // not a type fsmount can recognise
		{"vfat", "vfat", false},
		{"msdos", "vfat", false},
	} {
		if got := typeMismatch(c.fstype, c.detected); got != c.mismatch {
			t.Errorf("%s on %q: mismatch %v", c.fstype, c.detected, got)
		}
	}
}

func TestKernelSupport(t *testing.T) {
	reg := []byte("nodev\tsysfs\nnodev\ttmpfs\n\text4\n\txfs\nnodev\tfuse\n\tfuseblk\n")
	aliases := []byte("alias fs-nfs4 nfsv4\nalias fs-xfs xfs\nalias fs-btrfsx other\n")
	for _, c := range []struct {
		fstype        string
		k             kernelFS
		ok, undecided bool
	}{
		{"ext4", kernelFS{registered: reg}, true, false},
		{"fuse.sshfs", kernelFS{registered: reg}, true, false},
		{"glusterfs", kernelFS{registered: reg}, true, false},
		{"ext5", kernelFS{registered: reg}, false, false},
		{"nfs4", kernelFS{registered: reg, modular: true, aliases: aliases}, true, false},
		{"btrfs", kernelFS{registered: reg, modular: true, aliases: aliases}, false, false},
		{"nfs4", kernelFS{registered: reg, modular: true}, false, true},
	} {
		ok, known := c.k.supports(c.fstype)
		if ok != c.ok || known == c.undecided {
			t.Errorf("%s: ok %v known %v", c.fstype, ok, known)
		}
	}
}
