package mounts

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseOptions(t *testing.T) {
	o := ParseOptions("defaults,ro,noatime,nodev,_netdev,x-systemd.automount,errors=remount-ro,data=ordered")
	if o.Flags != unix.MS_RDONLY|unix.MS_NOATIME|unix.MS_NODEV || o.Data != "errors=remount-ro,data=ordered" || o.Bind || o.Helper {
		t.Errorf("%+v", o)
	}
	o = ParseOptions("rbind,ro,rslave")
	if !o.Bind || o.Flags != unix.MS_BIND|unix.MS_REC|unix.MS_RDONLY || o.Propagation != unix.MS_SLAVE|unix.MS_REC {
		t.Errorf("%+v", o)
	}
	if o = ParseOptions("ro,rw,loop"); o.Flags != 0 || !o.Helper {
		t.Errorf("later option wins, loop needs mount(8): %+v", o)
	}
}

func TestTableOrder(t *testing.T) {
	tab := Table{
		{ID: 1, Parent: 0, Mountpoint: "/"},
		{ID: 2, Parent: 1, Mountpoint: "/srv"},
		{ID: 3, Parent: 2, Mountpoint: "/srv/a"},
		{ID: 4, Parent: 3, Mountpoint: "/srv/a/b"},
		{ID: 5, Parent: 2, Mountpoint: "/srv/c"},
		{ID: 6, Parent: 5, Mountpoint: "/srv/c"}, // stacked over 5
		{ID: 7, Parent: 1, Mountpoint: "/srvx"},
	}
	if m := tab.At("/srv/c"); m == nil || m.ID != 6 {
		t.Errorf("At: %+v", m)
	}
	if tab.At("/nowhere") != nil {
		t.Error("At found nothing's mount")
	}
	var ids []int
	for _, m := range tab.Under("/srv") {
		ids = append(ids, m.ID)
	}
	want := []int{4, 6, 5, 3}
	if len(ids) != len(want) {
		t.Fatalf("Under: %v", ids)
	}
	for i := range want {
		if ids[i] != want[i] {
			t.Fatalf("Under order %v, want %v", ids, want)
		}
	}
}

func TestCanonical(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	os.Mkdir(real, 0o755)
	os.Symlink(real, filepath.Join(dir, "link"))
	ctx := context.Background()
	for in, want := range map[string]string{
		filepath.Join(dir, "link"):            real,
		filepath.Join(dir, "link", "new/sub"): filepath.Join(real, "new/sub"),
		filepath.Join(dir, "missing/x"):       filepath.Join(dir, "missing/x"),
	} {
		if got, err := Canonical(ctx, nil, in); err != nil || got != want {
			t.Errorf("%s: %s %v, want %s", in, got, err, want)
		}
	}
	// A path mounted as written is taken from the table without resolving.
	tab := Table{{ID: 9, Mountpoint: filepath.Join(dir, "link")}}
	if got, _ := Canonical(ctx, tab, filepath.Join(dir, "link")); got != filepath.Join(dir, "link") {
		t.Errorf("table form: %s", got)
	}
}
