package fsmount

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

const blockSize = 4096

// alignedBlock is one page-aligned block, as O_DIRECT needs.
func alignedBlock() ([]byte, func(), error) {
	b, err := unix.Mmap(-1, 0, blockSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		return nil, nil, err
	}
	return b, func() { unix.Munmap(b) }, nil
}

// readDirect reads the first block of a device past the page cache, so a
// device that stopped answering is seen even while its data is cached.
func readDirect(ctx context.Context, dev string) error {
	_, err := call(ctx, func() (struct{}, error) {
		buf, free, err := alignedBlock()
		if err != nil {
			return struct{}{}, err
		}
		defer free()
		fd, err := unix.Open(dev, unix.O_RDONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
		if err != nil {
			return struct{}{}, err
		}
		defer unix.Close(fd)
		_, err = unix.Pread(fd, buf, 0)
		return struct{}{}, err
	})
	return err
}

// statusFile writes a block naming this node and the time to path with
// O_DIRECT|O_SYNC and reads it back. Filesystems without O_DIRECT (tmpfs,
// some network ones) get O_SYNC alone.
func statusFile(ctx context.Context, path string) error {
	_, err := call(ctx, func() (struct{}, error) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return struct{}{}, explain(err)
		}
		buf, free, err := alignedBlock()
		if err != nil {
			return struct{}{}, err
		}
		defer free()
		clear(buf)
		copy(buf, fmt.Sprintf("%s %s\n", filepath.Base(path), time.Now().UTC().Format(time.RFC3339Nano)))
		want := bytes.Clone(buf)
		flags := unix.O_RDWR | unix.O_CREAT | unix.O_SYNC | unix.O_CLOEXEC
		fd, err := unix.Open(path, flags|unix.O_DIRECT, 0o644)
		if errors.Is(err, unix.EINVAL) {
			fd, err = unix.Open(path, flags, 0o644)
		}
		if err != nil {
			return struct{}{}, explain(err)
		}
		defer unix.Close(fd)
		if _, err := unix.Pwrite(fd, buf, 0); err != nil {
			return struct{}{}, explain(err)
		}
		clear(buf)
		if _, err := unix.Pread(fd, buf, 0); err != nil {
			return struct{}{}, explain(err)
		}
		if !bytes.Equal(buf, want) {
			return struct{}{}, errors.New("read back something else than was written")
		}
		return struct{}{}, nil
	})
	return err
}

func explain(err error) error {
	if errors.Is(err, unix.EROFS) {
		return errors.New("the filesystem is read-only")
	}
	return err
}
