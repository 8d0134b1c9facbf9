package mounts

import (
	"slices"
	"strings"
	"testing"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
)

// FuzzMountinfo: whatever /proc/self/mountinfo holds, reading it and
// looking mount points up does not panic; At(p) is a mount on p, the one
// on top; Under(p) is every mount strictly below p, deepest first.
func FuzzMountinfo(f *testing.F) {
	f.Fuzz(func(t *testing.T, text, path string) {
		infos, err := mountinfo.GetMountsFromReader(strings.NewReader(text), nil)
		if err != nil {
			return
		}
		tab := Table(infos)
		for _, p := range append([]string{path}, mountpoints(tab)...) {
			m := tab.At(p)
			if m == nil {
				if slices.ContainsFunc(tab, func(x *mountinfo.Info) bool { return x.Mountpoint == p }) {
					t.Fatalf("At(%q) found nothing, but %q is mounted", p, p)
				}
			} else if m.Mountpoint != p {
				t.Fatalf("At(%q) is the mount on %q", p, m.Mountpoint)
			} else {
				for _, x := range tab {
					if x.Mountpoint == p && x.Parent == m.ID && x != m && slices.Index(tab, x) > slices.Index(tab, m) {
						t.Fatalf("At(%q) = %d, but %d is stacked on it", p, m.ID, x.ID)
					}
				}
			}
			under := tab.Under(p)
			prefix := strings.TrimSuffix(p, "/") + "/"
			want := 0
			for _, x := range tab {
				if strings.HasPrefix(x.Mountpoint, prefix) {
					want++
				}
			}
			if len(under) != want {
				t.Fatalf("Under(%q): %d mounts, %d below it", p, len(under), want)
			}
			for i, x := range under {
				if !strings.HasPrefix(x.Mountpoint, prefix) {
					t.Fatalf("Under(%q) has %q", p, x.Mountpoint)
				}
				if i > 0 && strings.Count(x.Mountpoint, "/") > strings.Count(under[i-1].Mountpoint, "/") {
					t.Fatalf("Under(%q): %q after the shallower %q", p, x.Mountpoint, under[i-1].Mountpoint)
				}
			}
		}
	})
}

func mountpoints(t Table) []string {
	var out []string
	for _, m := range t {
		out = append(out, m.Mountpoint)
	}
	return out
}

// known are the flags ParseOptions may set.
var known uintptr = func() uintptr {
	var all uintptr
	for _, f := range generic {
		all |= f.flags
	}
	return all
}()

// FuzzParseOptions: any option string splits without panic into kernel
// flags it knows, a propagation, and filesystem data that parses again to
// itself and nothing else (no flag, fstab-only or helper option is passed
// to the filesystem).
func FuzzParseOptions(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		o := ParseOptions(s)
		if o.Flags&^known != 0 {
			t.Fatalf("%q: unknown flags %#x", s, o.Flags&^known)
		}
		if o.Bind != (o.Flags&unix.MS_BIND != 0) {
			t.Fatalf("%q: bind %v with flags %#x", s, o.Bind, o.Flags)
		}
		if o.Propagation != 0 && !slices.Contains(mapValues(propagation), o.Propagation) {
			t.Fatalf("%q: propagation %#x", s, o.Propagation)
		}
		if o.Data != "" {
			for _, d := range strings.Split(o.Data, ",") {
				if d == "" || d != strings.TrimSpace(d) {
					t.Fatalf("%q: data element %q", s, d)
				}
				if _, ok := generic[d]; ok {
					t.Fatalf("%q: flag %q passed as data", s, d)
				}
			}
		}
		if again := ParseOptions(o.Data); again != (Options{Data: o.Data}) {
			t.Fatalf("%q: data %q parses to %+v", s, o.Data, again)
		}
		// Appending the data again changes nothing but the data.
		if s2 := ParseOptions(s + ",defaults"); s2 != o {
			t.Fatalf("%q: defaults changed %+v to %+v", s, o, s2)
		}
	})
}

func mapValues(m map[string]uintptr) []uintptr {
	var out []uintptr
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
