package fsmount

import (
	"flag"
	"testing"

	"github.com/gocf/gocf/pkg/ocf"
	"github.com/gocf/gocf/pkg/ocf/ocftest"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestDeclaration(t *testing.T) { ocftest.Declaration(t, Agent(), *update) }

func prepare(t *testing.T, env ...string) (config, []error) {
	t.Helper()
	base := []string{"OCF_RESKEY_device=/dev/sdb1", "OCF_RESKEY_directory=/srv/data", "OCF_RESKEY_fstype=ext4"}
	r, errs := ocf.Prepare(Agent(), "start", append(base, env...))
	if len(errs) > 0 {
		return config{}, errs
	}
	c, err := parseConfig(r)
	if err != nil {
		t.Fatalf("Check passed, parseConfig failed: %v", err)
	}
	return c, nil
}

func TestConfigKinds(t *testing.T) {
	cases := []struct {
		env  []string
		kind kind
		fsck bool
	}{
		{nil, block, false},
		{[]string{"OCF_RESKEY_fstype=ext2"}, block, true},
		{[]string{"OCF_RESKEY_fstype=xfs", "OCF_RESKEY_run_fsck=force"}, block, true},
		{[]string{"OCF_RESKEY_fstype=ext2", "OCF_RESKEY_run_fsck=no"}, block, false},
		{[]string{"OCF_RESKEY_fstype=nfs4", "OCF_RESKEY_device=server:/export"}, network, false},
		{[]string{"OCF_RESKEY_fstype=fuse.sshfs", "OCF_RESKEY_device=u@h:/x"}, network, false},
		{[]string{"OCF_RESKEY_fstype=tmpfs", "OCF_RESKEY_device=tmpfs"}, virtual, false},
		{[]string{"OCF_RESKEY_fstype=none", "OCF_RESKEY_device=/data", "OCF_RESKEY_options=rbind"}, bind, false},
	}
	for _, c := range cases {
		got, errs := prepare(t, c.env...)
		if len(errs) > 0 {
			t.Errorf("%v: %v", c.env, errs)
			continue
		}
		if got.kind != c.kind || got.needsFsck() != c.fsck {
			t.Errorf("%v: kind %v fsck %v", c.env, got.kind, got.needsFsck())
		}
	}
	c, _ := prepare(t, "OCF_RESKEY_directory=/srv//data/", "OCF_RESKEY_term_signals=TERM INT", "OCF_RESKEY_kill_signals=9", "OCF_RESKEY_force_unmount=false")
	if c.dir != "/srv/data" || len(c.termSigs) != 2 || c.killSigs[0] != 9 || c.kill {
		t.Errorf("%+v", c)
	}
}

func TestDeviceSpec(t *testing.T) {
	for in, want := range map[string][2]string{
		"-U 1234-ab":   {"UUID", "1234-ab"},
		"-Ldata":       {"LABEL", "data"},
		"UUID=1234-ab": {"UUID", "1234-ab"},
		"LABEL=data":   {"LABEL", "data"},
		"/dev//drbd0":  {"", "/dev/drbd0"},
	} {
		tag, v, err := parseDeviceSpec(in)
		if err != nil || tag != want[0] || v != want[1] {
			t.Errorf("%q: %q %q %v", in, tag, v, err)
		}
	}
	for _, bad := range []string{"", "sdb", "UUID=", "-L", "LABEL=a/b"} {
		if _, _, err := parseDeviceSpec(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
