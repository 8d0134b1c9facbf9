package fsmount

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// probeSize covers every signature detectFS looks for (btrfs and
// reiserfs sit past 64 KiB).
const probeSize = 68 << 10

// signature is a magic string at an offset, as libblkid knows them.
type signature struct {
	typ   string
	off   int
	magic string
}

var signatures = []signature{
	{"xfs", 0, "XFSB"},
	{"btrfs", 0x10040, "_BHRfS_M"},
	{"crypto_LUKS", 0, "LUKS\xba\xbe"},
	{"squashfs", 0, "hsqs"},
	{"jfs", 0x8000, "JFS1"},
	{"iso9660", 0x8001, "CD001"},
	{"ntfs", 3, "NTFS    "},
	{"exfat", 3, "EXFAT   "},
	{"reiserfs", 0x10034, "ReIsErFs"},
	{"reiserfs", 0x10034, "ReIsEr2Fs"},
	{"reiserfs", 0x10034, "ReIsEr3Fs"},
	{"f2fs", 0x400, "\x10\x20\xf5\xf2"},
	{"nilfs2", 0x406, "\x34\x34"},
	{"gfs2", 0x10000, "\x01\x16\x19\x70\x00\x00\x00\x01"},
	{"ocfs2", 0x400, "OCFSV2"},
	{"ocfs2", 0x800, "OCFSV2"},
	{"ocfs2", 0x1000, "OCFSV2"},
	{"ocfs2", 0x2000, "OCFSV2"},
	{"LVM2_member", 0x218, "LVM2 001"},
	{"LVM2_member", 0x18, "LVM2 001"},
	{"swap", 0xff6, "SWAPSPACE2"},
	{"swap", 0xff6, "SWAP-SPACE"},
	{"swap", 0x1ff6, "SWAPSPACE2"},
	{"swap", 0x3ff6, "SWAPSPACE2"},
	{"swap", 0xfff6, "SWAPSPACE2"},
	{"swap", 0xfff6, "SWAP-SPACE"},
}

// detectFS names what the first probeSize bytes of a device hold, or ""
// when that is nothing it knows or more than one thing (a signature left
// over from an earlier filesystem must not decide).
func detectFS(b []byte) string {
	var found []string
	add := func(t string) {
		if len(found) == 0 || found[len(found)-1] != t {
			found = append(found, t)
		}
	}
	at := func(off int, magic string) bool {
		return off+len(magic) <= len(b) && string(b[off:off+len(magic)]) == magic
	}
	for _, s := range signatures {
		if at(s.off, s.magic) {
			add(s.typ)
		}
	}
	if t := extType(b); t != "" {
		add(t)
	}
	if len(b) >= 512 && b[510] == 0x55 && b[511] == 0xaa && (b[0] == 0xeb || b[0] == 0xe9) &&
		(at(54, "FAT12   ") || at(54, "FAT16   ") || at(54, "FAT     ") || at(82, "FAT32   ")) {
		add("vfat")
	}
	if len(found) != 1 {
		return ""
	}
	return found[0]
}

// extType tells ext2, ext3 and ext4 apart as the kernel would mount them:
// a feature ext3 lacks makes ext4, a journal without one ext3.
func extType(b []byte) string {
	const sb = 1024
	if len(b) < sb+104 || binary.LittleEndian.Uint16(b[sb+56:]) != 0xef53 {
		return ""
	}
	compat := binary.LittleEndian.Uint32(b[sb+92:])
	incompat := binary.LittleEndian.Uint32(b[sb+96:])
	roCompat := binary.LittleEndian.Uint32(b[sb+100:])
	const (
		hasJournal   = 0x4
		journalDev   = 0x8
		ext3Incompat = 0x2 | 0x4 | 0x8 | 0x10 // filetype, recover, journal_dev, meta_bg
		ext3ROCompat = 0x1 | 0x2 | 0x4        // sparse_super, large_file, btree_dir
	)
	switch {
	case incompat&journalDev != 0:
		return "jbd"
	case incompat&^ext3Incompat != 0 || roCompat&^ext3ROCompat != 0:
		return "ext4"
	case compat&hasJournal != 0:
		return "ext3"
	}
	return "ext2"
}

// families groups the fstype values that mount the same on-disk formats:
// what each configured type accepts of what detectFS finds.
var families = map[string][]string{
	"ext4":     {"ext2", "ext3", "ext4"},
	"ext4dev":  {"ext2", "ext3", "ext4"},
	"ext3":     {"ext2", "ext3"},
	"ext2":     {"ext2", "ext3"},
	"xfs":      {"xfs"},
	"btrfs":    {"btrfs"},
	"vfat":     {"vfat"},
	"msdos":    {"vfat"},
	"fat":      {"vfat"},
	"exfat":    {"exfat"},
	"ntfs":     {"ntfs"},
	"ntfs3":    {"ntfs"},
	"f2fs":     {"f2fs"},
	"jfs":      {"jfs"},
	"reiserfs": {"reiserfs"},
	"nilfs2":   {"nilfs2"},
	"squashfs": {"squashfs"},
	"iso9660":  {"iso9660"},
	"gfs2":     {"gfs2"},
	"ocfs2":    {"ocfs2"},
}

// typeMismatch tells whether a device holding detected cannot be mounted
// as fstype. Types fsmount cannot recognise, and devices it cannot read a
// known signature from, never mismatch: that is left to mount(2).
func typeMismatch(fstype, detected string) bool {
	accepts, known := families[fstype]
	if !known || detected == "" {
		return false
	}
	for _, t := range accepts {
		if t == detected {
			return false
		}
	}
	return true
}

// kernelFS is what the kernel can mount: the registered filesystem types,
// and the aliases of its modules (nil when they could not be read) if it
// loads modules at all.
type kernelFS struct {
	registered []byte // /proc/filesystems
	modular    bool
	aliases    []byte // modules.alias
}

func readKernelFS() (kernelFS, error) {
	var k kernelFS
	var err error
	if k.registered, err = os.ReadFile("/proc/filesystems"); err != nil {
		return k, err
	}
	if _, err := os.Stat("/proc/modules"); err == nil {
		k.modular = true
		var u unix.Utsname
		if unix.Uname(&u) == nil {
			rel := unix.ByteSliceToString(u.Release[:])
			for _, dir := range []string{"/lib/modules/", "/usr/lib/modules/"} {
				if b, err := os.ReadFile(dir + rel + "/modules.alias"); err == nil {
					k.aliases = b
					break
				}
			}
		}
	}
	return k, nil
}

// supports tells whether the kernel can mount fstype: registered, or a
// module declares it (alias fs-<type>, which mount(2) asks modprobe for).
// known is false when a modular kernel's aliases could not be read.
func (k kernelFS) supports(fstype string) (ok, known bool) {
	t := kernelType(fstype)
	sc := bufio.NewScanner(bytes.NewReader(k.registered))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) > 0 && f[len(f)-1] == t {
			return true, true
		}
	}
	if !k.modular {
		return false, true
	}
	if k.aliases == nil {
		return false, false
	}
	sc = bufio.NewScanner(bytes.NewReader(k.aliases))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 3 && f[0] == "alias" && f[1] == "fs-"+t {
			return true, true
		}
	}
	return false, true
}

// kernelType is the kernel's filesystem type behind an fstype value:
// FUSE-based types all need fuse.
func kernelType(fstype string) string {
	switch {
	case strings.HasPrefix(fstype, "fuse.") || fstype == "glusterfs" || fstype == "davfs" || fstype == "sshfs":
		return "fuse"
	case fstype == "cephfs":
		return "ceph"
	}
	return fstype
}
