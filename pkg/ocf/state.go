package ocf

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// stateFileMax bounds what ReadState reads: state files hold a few bytes.
const stateFileMax = 64 << 10

// StateDir returns, creating it if needed, the directory this resource
// instance may keep runtime state in: under HA_RSCTMP, which the cluster
// empties at boot. Agents run as root on paths others may be able to
// write, so the directory must be a real directory of the agent's user
// that nobody else can write; otherwise the error says what is wrong.
// Use ReadState, WriteState and RemoveState for the files in it: they do
// not follow links.
func (r *Request) StateDir() (string, error) {
	dir, fd, err := r.openStateDir()
	if err == nil {
		unix.Close(fd)
	}
	return dir, err
}

// openStateDir creates and checks the state directory and returns a
// descriptor of it: the checks hold for that descriptor, whatever later
// happens to the path.
func (r *Request) openStateDir() (string, int, error) {
	base := r.getenv("HA_RSCTMP")
	if base == "" {
		base = "/run/resource-agents"
	}
	dir := filepath.Join(base, "gocf-"+r.Agent.Name+"-"+safeName(r.Instance))
	// An existing base is the cluster's (or the admin's) and may be a link;
	// one this agent creates must be as safe as the state directory.
	if _, err := os.Lstat(base); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(base, 0o755); err != nil {
			return dir, -1, fmt.Errorf("state directory: %w", err)
		}
		var st unix.Stat_t
		if err := unix.Lstat(base, &st); err != nil {
			return dir, -1, fmt.Errorf("state directory base %s: %w", base, err)
		}
		if why := unsafeDir(&st); why != "" {
			return dir, -1, fmt.Errorf("state directory base %s %s", base, why)
		}
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return dir, -1, fmt.Errorf("state directory: %w", err)
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		var st unix.Stat_t
		if lerr := unix.Lstat(dir, &st); lerr == nil {
			if why := unsafeDir(&st); why != "" {
				return dir, -1, fmt.Errorf("state directory %s %s", dir, why)
			}
		}
		return dir, -1, fmt.Errorf("state directory %s: %w", dir, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return dir, -1, fmt.Errorf("state directory %s: %w", dir, err)
	}
	if why := unsafeDir(&st); why != "" {
		unix.Close(fd)
		return dir, -1, fmt.Errorf("state directory %s %s", dir, why)
	}
	return dir, fd, nil
}

// unsafeDir says what makes a directory unfit for root's state ("" when
// nothing): a link or another file, another owner, or others' write access
// (which would let them replace the files in it).
func unsafeDir(st *unix.Stat_t) string {
	switch {
	case st.Mode&unix.S_IFMT == unix.S_IFLNK:
		return "is a symbolic link"
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return "is not a directory"
	case int(st.Uid) != os.Geteuid():
		return fmt.Sprintf("is owned by uid %d, not %d", st.Uid, os.Geteuid())
	case st.Mode&0o022 != 0:
		return fmt.Sprintf("is writable by group or others (mode %04o)", st.Mode&0o7777)
	}
	return ""
}

// inStateDir runs fn on the state directory's descriptor after checking
// that name is one plain file name in it.
func (r *Request) inStateDir(name string, fn func(dirfd int, path string) error) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("state file name %q is not a plain file name", name)
	}
	dir, fd, err := r.openStateDir()
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return fn(fd, filepath.Join(dir, name))
}

// openState opens a state file without following a link and checks it is
// a plain file with no other name: a hard link to a file elsewhere would
// be written through as surely as a symbolic one.
func openState(dirfd int, name, path string, flags int) (*os.File, error) {
	// O_NONBLOCK: a fifo planted there must not hang the action.
	fd, err := unix.Openat(dirfd, name, flags|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0o600)
	if errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("state file %s is a symbolic link", path)
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		unix.Close(fd)
		return nil, fmt.Errorf("state file %s is not a regular file", path)
	case st.Nlink > 1:
		unix.Close(fd)
		return nil, fmt.Errorf("state file %s has %d hard links", path, st.Nlink)
	}
	return os.NewFile(uintptr(fd), path), nil
}

// WriteState replaces the content of file name in the state directory,
// creating it with mode 0600.
func (r *Request) WriteState(name string, data []byte) error {
	return r.inStateDir(name, func(dirfd int, path string) error {
		// No O_TRUNC: truncate only once the file is known to be ours.
		f, err := openState(dirfd, name, path, unix.O_WRONLY|unix.O_CREAT)
		if err != nil {
			return err
		}
		err = f.Truncate(0)
		if err == nil {
			_, err = f.Write(data)
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	})
}

// ReadState returns the content of file name in the state directory; an
// error satisfying errors.Is(err, fs.ErrNotExist) when there is none.
func (r *Request) ReadState(name string) ([]byte, error) {
	var b []byte
	err := r.inStateDir(name, func(dirfd int, path string) error {
		f, err := openState(dirfd, name, path, unix.O_RDONLY)
		if err != nil {
			return err
		}
		defer f.Close()
		b, err = io.ReadAll(io.LimitReader(f, stateFileMax+1))
		if err == nil && len(b) > stateFileMax {
			err = fmt.Errorf("state file %s is larger than %d bytes", path, stateFileMax)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}

// RemoveState removes file name from the state directory (a link itself,
// not what it points to). A missing file is no error.
func (r *Request) RemoveState(name string) error {
	return r.inStateDir(name, func(dirfd int, path string) error {
		err := unix.Unlinkat(dirfd, name, 0)
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return &fs.PathError{Op: "remove", Path: path, Err: err}
		}
		return nil
	})
}
