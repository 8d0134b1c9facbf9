package asterisk

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// ownedDir makes dir exist and belong to uid:gid, as root among strangers:
// the Asterisk user owns its run and log directories and may plant links
// in them. The path is walked one directory at a time without following
// links; a link is followed only where no one but root could have made it
// (a directory of root's that neither others nor gid can write), which
// admits an administrator's /var/log/asterisk -> /replica/log but nothing
// inside a directory the Asterisk user owns. Missing directories are made
// 0755, root's; only dir itself is given away, by its descriptor.
func ownedDir(dir string, uid, gid int) error {
	fd, err := walkDir(dir, gid)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if int(st.Uid) != uid || int(st.Gid) != gid {
		return unix.Fchown(fd, uid, gid)
	}
	return nil
}

// walkDir opens dir (absolute), making what is missing; see ownedDir.
func walkDir(dir string, gid int) (int, error) {
	if !filepath.IsAbs(dir) {
		return -1, fmt.Errorf("%s is not an absolute path", dir)
	}
	const flags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Open("/", flags, 0)
	if err != nil {
		return -1, err
	}
	todo := strings.Split(dir, "/")
	walked, links := "/", 0
	for len(todo) > 0 {
		name := todo[0]
		todo = todo[1:]
		if name == "" || name == "." {
			continue
		}
		next, err := unix.Openat(fd, name, flags, 0)
		if errors.Is(err, unix.ENOENT) {
			if err = unix.Mkdirat(fd, name, 0o755); err == nil || errors.Is(err, unix.EEXIST) {
				next, err = unix.Openat(fd, name, flags, 0)
			}
		}
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
			var st unix.Stat_t
			if unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
				path := filepath.Join(walked, name)
				if links++; links > 40 {
					err = unix.ELOOP
				} else if !rootOnly(fd, gid) {
					err = fmt.Errorf("%s is a symbolic link the Asterisk user may have made; not followed", path)
				} else {
					var target string
					if target, err = readlinkat(fd, name); err == nil {
						if filepath.IsAbs(target) {
							unix.Close(fd)
							if fd, err = unix.Open("/", flags, 0); err != nil {
								return -1, err
							}
							walked = "/"
						}
						todo = append(strings.Split(target, "/"), todo...)
						continue
					}
				}
			}
		}
		if err != nil {
			unix.Close(fd)
			if errors.Is(err, unix.ENOTDIR) {
				return -1, fmt.Errorf("%s is not a directory", filepath.Join(walked, name))
			}
			return -1, err
		}
		unix.Close(fd)
		fd, walked = next, filepath.Join(walked, name)
	}
	return fd, nil
}

// rootOnly tells whether only root can change the entries of directory fd.
func rootOnly(fd, gid int) bool {
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return false
	}
	return st.Uid == 0 && st.Mode&0o002 == 0 && (st.Mode&0o020 == 0 || int(st.Gid) != gid)
}

func readlinkat(fd int, name string) (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(fd, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}
