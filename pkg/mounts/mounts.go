// Package mounts reads the mount table and mounts and unmounts
// filesystems, without ever stat'ing into a mount that may be dead: the
// table comes from /proc/self/mountinfo, and every path resolution that
// could touch a filesystem runs under a deadline.
package mounts

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/sys/mountinfo"
)

// Table is a snapshot of this mount namespace's mounts.
type Table []*mountinfo.Info

// Read takes the snapshot. It reads /proc/self/mountinfo itself: no
// thread of an agent changes its mount namespace, and mountinfo.GetMounts
// locks an OS thread to read /proc/thread-self, whose first lock starts a
// thread (a tenth of fsmount's monitor).
func Read() (Table, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return mountinfo.GetMountsFromReader(f, nil)
}

// At returns the mount on top at path (the last one mounted there), or nil.
func (t Table) At(path string) *mountinfo.Info {
	var top *mountinfo.Info
	for _, m := range t {
		if m.Mountpoint == path {
			// Later entries stack over earlier ones; a child mount on the
			// same point has the earlier one as parent.
			if top == nil || m.Parent == top.ID {
				top = m
			}
		}
	}
	return top
}

// Under returns the mounts strictly below path, deepest first, the order
// they must be unmounted in.
func (t Table) Under(path string) []*mountinfo.Info {
	prefix := strings.TrimSuffix(path, "/") + "/"
	var out []*mountinfo.Info
	for _, m := range t {
		if strings.HasPrefix(m.Mountpoint, prefix) {
			out = append(out, m)
		}
	}
	// Deeper paths first; on the same path, the later (upper) mount first.
	slices.SortStableFunc(out, func(a, b *mountinfo.Info) int {
		da, db := strings.Count(a.Mountpoint, "/"), strings.Count(b.Mountpoint, "/")
		if da != db {
			return db - da
		}
		return slices.Index(t, b) - slices.Index(t, a)
	})
	return out
}

// Canonical returns the absolute, symlink-free form of path as the mount
// table spells it. The lexical form is tried first against the table, so a
// mount point that is already mounted is found without any filesystem
// access; otherwise symlinks are resolved under ctx, because resolving
// through a dead network mount blocks (resource-agents #1204, #1325, #1337).
// When resolution cannot finish, the lexical form is returned with the error.
func Canonical(ctx context.Context, t Table, path string) (string, error) {
	p, err := filepath.Abs(path)
	if err != nil {
		return path, err
	}
	if t.At(p) != nil {
		return p, nil
	}
	type res struct {
		p   string
		err error
	}
	ch := make(chan res, 1)
	go func() {
		r, err := resolve(p)
		ch <- res{r, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return p, r.err
		}
		return r.p, nil
	case <-ctx.Done():
		return p, ctx.Err()
	}
}

// resolve evaluates symlinks of the longest existing prefix of p and keeps
// the rest, so a mount point that does not exist yet still canonicalises.
func resolve(p string) (string, error) {
	rest := ""
	for cur := p; ; {
		r, err := filepath.EvalSymlinks(cur)
		if err == nil {
			return filepath.Join(r, rest), nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return p, err
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return p, nil
		}
		rest = filepath.Join(filepath.Base(cur), rest)
		cur = parent
	}
}
