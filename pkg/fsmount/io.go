package fsmount

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Everything here runs in the helper child (see child.go): it may block.

const blockSize = 4096

// fiThaw is FITHAW, _IOWR('X', 120, int), which x/sys/unix lacks.
const fiThaw = 0xc0045878

// alignedBlock is one page-aligned block, as O_DIRECT needs.
func alignedBlock() ([]byte, func(), error) {
	b, err := unix.Mmap(-1, 0, blockSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		return nil, nil, err
	}
	return b, func() { unix.Munmap(b) }, nil
}

// openDevice opens the block device dev, checking it is still the device
// number the action resolved: the name may have been replaced meanwhile.
func openDevice(dev, rdev string, flags int) (int, error) {
	want, err := strconv.ParseUint(rdev, 10, 64)
	if err != nil {
		return -1, err
	}
	fd, err := unix.Open(dev, flags|unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
	if err != nil {
		return -1, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFBLK || st.Rdev != want {
		unix.Close(fd)
		return -1, fmt.Errorf("%s is no longer the device it was", dev)
	}
	return fd, nil
}

// readDevice reads the first block of a device past the page cache, so a
// device that stopped answering is seen even while its data is cached.
func readDevice(dev, rdev string) error {
	fd, err := openDevice(dev, rdev, unix.O_DIRECT)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return readFirstBlock(fd)
}

// readFirstBlock fails on a short read too: a device that shrank to
// nothing answers every read at once, with 0 bytes.
func readFirstBlock(fd int) error {
	buf, free, err := alignedBlock()
	if err != nil {
		return err
	}
	defer free()
	n, err := unix.Pread(fd, buf, 0)
	if err != nil {
		return err
	}
	if n < blockSize {
		return fmt.Errorf("read %d of %d bytes: the device is empty or shrank", n, blockSize)
	}
	return nil
}

// probeDevice returns the type of the filesystem on dev as its superblock
// tells, or "" when it cannot be told.
func probeDevice(dev, rdev string) (string, error) {
	fd, err := openDevice(dev, rdev, 0)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	b := make([]byte, probeSize)
	n := 0
	for n < len(b) {
		m, err := unix.Pread(fd, b[n:], int64(n))
		if err != nil {
			return "", err
		}
		if m == 0 {
			break
		}
		n += m
	}
	return detectFS(b[:n]), nil
}

// openMountRoot opens the root of mount mntID at dir, following no link
// on the way, and checks that it is that mount (dev, the mount's device
// number, stands in on kernels without STATX_MNT_ID).
func openMountRoot(dir, mntID, dev string) (int, error) {
	id, err1 := strconv.ParseUint(mntID, 10, 64)
	devno, err2 := strconv.ParseUint(dev, 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return -1, err
	}
	how := unix.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS}
	fd, err := unix.Openat2(unix.AT_FDCWD, dir, &how)
	if errors.Is(err, unix.ENOSYS) { // before Linux 5.6: only the last component
		fd, err = unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	}
	if errors.Is(err, unix.ELOOP) {
		return -1, fmt.Errorf("%s: a symbolic link on the way, not followed", dir)
	}
	if err != nil {
		return -1, err
	}
	gotID, gotDev, err := mountOf(fd)
	if err == nil && (gotID != 0 && gotID != id || gotID == 0 && gotDev != devno) {
		err = fmt.Errorf("%s is no longer the mount point it was", dir)
	}
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// mountOf returns the mount id of fd (0 when the kernel does not tell) and
// its device number.
func mountOf(fd int) (uint64, uint64, error) {
	var stx unix.Statx_t
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_MNT_ID, &stx); err != nil {
		return 0, 0, err
	}
	id := uint64(0)
	if stx.Mask&unix.STATX_MNT_ID != 0 {
		id = stx.Mnt_id
	}
	return id, unix.Mkdev(stx.Dev_major, stx.Dev_minor), nil
}

// statusFile writes and reads back a status file in the mount at dir. It
// answers "" when that worked and the filesystem has room, and "full
// <usage>[; <what failed>]" when the filesystem is full but still reads:
// the write failed for want of space, inodes or quota (ENOSPC, EDQUOT)
// and the root directory still lists, or the write worked only because
// root may use the blocks reserved for it (less than userSlack is left
// for Asterisk's user). Any other failure is an error.
func statusFile(dir, mntID, dev, rel, name string) (string, error) {
	root, err := openMountRoot(dir, mntID, dev)
	if err != nil {
		return "", err
	}
	defer unix.Close(root)
	werr := writeStatus(root, rel, name)
	if werr != nil && !isFull(werr) {
		return "", werr
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(root, &st); err != nil {
		return "", errors.Join(werr, fmt.Errorf("statfs: %w", err))
	}
	if werr != nil {
		if err := readDir(root); err != nil {
			return "", fmt.Errorf("%v, and reading its root directory fails: %w", werr, err)
		}
		return "full " + usage(st) + "; " + werr.Error(), nil
	}
	if st.Blocks > 0 && st.Bavail*uint64(st.Bsize) < userSlack {
		return "full " + usage(st) + "; only root's reserved blocks are left", nil
	}
	return "", nil
}

// userSlack is the space (available to others than root) below which a
// filesystem is full: ext4 refuses a user's writes while statfs still
// shows a few blocks available (3 of 1 KiB on a 32 MiB filesystem here;
// it keeps them for the metadata of delayed allocation), so none is never
// reached.
const userSlack = 64 << 10

// isFull tells a write refused for want of space, inodes or quota.
func isFull(err error) bool { return errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT) }

// readDir reads the whole directory fd, from its start.
func readDir(fd int) error {
	if _, err := unix.Seek(fd, 0, io.SeekStart); err != nil {
		return err
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := unix.Getdents(fd, buf)
		if err != nil || n == 0 {
			return err
		}
	}
}

// usage says how full a filesystem is, for the exit reason.
func usage(st unix.Statfs_t) string {
	if st.Files > 0 && st.Ffree == 0 {
		return fmt.Sprintf("no inode free of %d", st.Files)
	}
	// As df's Use%: of what users could have, rounded up.
	used, pct := st.Blocks-st.Bfree, uint64(100)
	if used+st.Bavail > 0 {
		pct = (used*100 + used + st.Bavail - 1) / (used + st.Bavail)
	}
	bs := uint64(st.Bsize)
	return fmt.Sprintf("%d%% of %s used, %s free", pct, bytesIEC(st.Blocks*bs), bytesIEC(st.Bavail*bs))
}

// bytesIEC writes n bytes in binary units, one decimal from KiB on.
func bytesIEC(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), -1
	for v >= unit && i < 5 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTPE"[i])
}

// writeStatus writes a block naming this node, this run and the time to a
// file of this run's own under rel (relative to the directory root, the
// mount's root) with O_DIRECT|O_SYNC, syncs it, reads it back and removes
// it. Every directory on the way is opened relative to the one before
// without following a link and must be on the same mount, so whoever may
// write to the filesystem cannot send the writes elsewhere; the file is
// created exclusively under a name nobody can guess. Filesystems without
// O_DIRECT (tmpfs, some network ones) get O_SYNC alone.
func writeStatus(root int, rel, name string) error {
	rootID, rootDev, err := mountOf(root)
	if err != nil {
		return err
	}
	dirPart, prefix := path.Split(rel)
	cur, shown := root, "."
	defer func() {
		if cur != root {
			unix.Close(cur)
		}
	}()
	for _, comp := range strings.Split(dirPart, "/") {
		if comp == "" || comp == "." {
			continue
		}
		shown = path.Join(shown, comp)
		next, err := openDirAt(cur, comp)
		if errors.Is(err, unix.ENOENT) {
			if err := unix.Mkdirat(cur, comp, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
				return fmt.Errorf("cannot create %s: %w", shown, explain(err))
			}
			next, err = openDirAt(cur, comp)
		}
		if err != nil {
			var st unix.Stat_t
			switch {
			case unix.Fstatat(cur, comp, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK:
				return fmt.Errorf("%s is a symbolic link, not followed", shown)
			case errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP):
				return fmt.Errorf("%s is not a directory", shown)
			}
			return fmt.Errorf("%s: %w", shown, explain(err))
		}
		if cur != root {
			unix.Close(cur)
		}
		cur = next
		if id, dev, err := mountOf(cur); err != nil || id != rootID || id == 0 && dev != rootDev {
			return fmt.Errorf("%s is not on the monitored filesystem", shown)
		}
	}
	file := prefix + runName(name)
	shown = path.Join(shown, file)
	flags := unix.O_RDWR | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_SYNC | unix.O_CLOEXEC
	fd, err := unix.Openat(cur, file, flags|unix.O_DIRECT, 0o600)
	if errors.Is(err, unix.EINVAL) {
		// The kernel may have created the file before refusing O_DIRECT.
		fd, err = unix.Openat(cur, file, flags&^unix.O_EXCL, 0o600)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", shown, explain(err))
	}
	defer unix.Unlinkat(cur, file, 0)
	defer unix.Close(fd)
	buf, free, err := alignedBlock()
	if err != nil {
		return err
	}
	defer free()
	clear(buf)
	copy(buf, fmt.Sprintf("%s %s\n", file, time.Now().UTC().Format(time.RFC3339Nano)))
	want := bytes.Clone(buf)
	if n, err := unix.Pwrite(fd, buf, 0); err != nil || n != blockSize {
		return fmt.Errorf("writing %s: %w", shown, orShort(explain(err), n))
	}
	if err := unix.Fsync(fd); err != nil {
		return fmt.Errorf("syncing %s: %w", shown, explain(err))
	}
	clear(buf)
	if n, err := unix.Pread(fd, buf, 0); err != nil || n != blockSize {
		return fmt.Errorf("reading %s back: %v", shown, orShort(err, n))
	}
	if !bytes.Equal(buf, want) {
		return fmt.Errorf("%s read back something else than was written", shown)
	}
	return nil
}

func openDirAt(dirfd int, name string) (int, error) {
	return unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
}

// runName is the status file name of this run: the node, made one safe
// path component, then the pid and a random part, so that overlapping
// monitors never share a file.
func runName(node string) string {
	node = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '_'
	}, node)
	if len(node) > 64 {
		node = node[:64]
	}
	rnd := make([]byte, 6)
	rand.Read(rnd)
	return node + "." + strconv.Itoa(os.Getpid()) + "." + hex.EncodeToString(rnd)
}

func orShort(err error, n int) error {
	if err != nil {
		return err
	}
	return fmt.Errorf("%d of %d bytes", n, blockSize)
}

// thaw thaws the filesystem mounted at dir. Whether a filesystem is frozen
// cannot be asked; FITHAW answers EINVAL when it was not.
func thaw(dir, mntID, dev string) (string, error) {
	fd, err := openMountRoot(dir, mntID, dev)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	err = unix.IoctlSetInt(fd, fiThaw, 0)
	switch {
	case err == nil:
		return "thawed", nil
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOTTY), errors.Is(err, unix.EOPNOTSUPP):
		return "not frozen", nil
	}
	return "", err
}

func explain(err error) error {
	if errors.Is(err, unix.EROFS) {
		return errors.New("the filesystem is read-only")
	}
	return err
}
