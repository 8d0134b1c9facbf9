package drbd

import (
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

func TestParseRules(t *testing.T) {
	m := ParseString(strings.Join([]string{
		// keys in any order, unknown keys kept
		"exists resource role:Secondary future-key:x:y name:r suspended:no",
		"exists connection name:r peer-node-id:2 conn-name:b connection:Connected role:Secondary",
		"exists device name:r volume:0 minor:3 disk:UpToDate quorum:yes",
		"exists peer-device name:r peer-node-id:2 conn-name:b volume:0 replication:Established peer-disk:UpToDate",
		"exists path name:r peer-node-id:2 conn-name:b local:ipv6:[fe80::1]:7789 peer:ipv6:[fe80::2]:7789 established:yes",
		"exists -",
		// change carries only what changed: merged, nothing else lost
		"change resource name:r suspended:user,quorum",
		"change connection name:r peer-node-id:2 conn-name:b role:Primary",
		"2026-11-26T10:39:49.123456+00:00 change device name:r volume:0 minor:3 disk:Outdated",
		"change path name:r peer-node-id:2 conn-name:b local:ipv6:[fe80::1]:7789 peer:ipv6:[fe80::2]:7789 established:no",
	}, "\n"))
	r := m.Resource("r")
	if m.Malformed != 0 || !m.DumpComplete || r == nil {
		t.Fatalf("%d %q", m.Malformed, m.Skipped)
	}
	if r.Role != Secondary || r.Keys["future-key"] != "x:y" || !slices.Equal(r.Suspended, []string{"user", "quorum"}) || !r.QuorumLost() {
		t.Errorf("resource %+v", r)
	}
	c := r.Connection(2)
	if c.State != Connected || c.PeerRole != Primary || c.PeerDevice(0).PeerDisk != UpToDate {
		t.Errorf("connection %+v", c)
	}
	if d := r.Device(0); d.Disk != Outdated || d.Quorum != Yes || d.Minor != 3 {
		t.Errorf("device %+v", d)
	}
	if p := c.Paths[0]; len(c.Paths) != 1 || p.Local != "ipv6:[fe80::1]:7789" || p.Established != No {
		t.Errorf("paths %+v", c.Paths)
	}
}

func TestParseMalformed(t *testing.T) {
	bad := []string{
		"bogus",
		"exists",
		"exists resource",                // no name
		"exists resource name:r role",    // token without colon
		"exists resource name:r :x",      // empty key
		"exists gadget name:r",           // unknown object
		"explode resource name:r",        // unknown verb
		"exists device name:r volume:x",  // volume not a number
		"exists device name:r volume:-1", // nor negative
		"exists connection name:r",       // no peer identity
		"exists connection name:r peer-node-id:x conn-name:p",
		"exists peer-device name:r peer-node-id:1",
		"exists path name:r peer-node-id:1 local:ipv4:1.2.3.4:1",
		"call helper name:r",            // no helper name
		"call resource name:r helper:x", // call is for helpers only
		"rename resource name:r",        // no new name
		"   role:Primary",               // continuation of nothing
	}
	m := ParseString(strings.Join(bad, "\n") + "\n\n- skipped 3\nexists -\n")
	if m.Malformed != len(bad) || len(m.Skipped) != maxSkipped || !m.DumpComplete {
		t.Errorf("malformed %d of %d, skipped %q", m.Malformed, len(bad), m.Skipped)
	}
	// A skipped line creates nothing.
	if len(m.Resources) != 0 {
		t.Errorf("resources %+v", m.Resources[0])
	}
}

func TestParseStreamOps(t *testing.T) {
	p := NewParser()
	for _, l := range []string{
		// a peer device before its connection and resource (out of order)
		"change peer-device name:r conn-name:peer volume:0 replication:SyncTarget peer-disk:UpToDate done:12.50",
		"exists connection name:r peer-node-id:0 conn-name:peer connection:Connected",
		"change peer-device name:r peer-node-id:0 volume:0 replication:Established",
		"create device name:r volume:1 minor:1 disk:Diskless",
		"destroy device name:r volume:7",
		"destroy connection name:other peer-node-id:1",
		"call helper name:r peer-node-id:0 conn-name:peer helper:split-brain",
		"rename resource name:r new_name:s",
	} {
		if !p.Line(l) {
			t.Fatalf("skipped %q", l)
		}
	}
	m := p.Model
	r := m.Resource("s")
	if r == nil || m.Resource("r") != nil || m.Resource("other") != nil || len(r.Connections) != 1 {
		t.Fatalf("%+v", m.Resources)
	}
	// Found by conn-name first, then by the id the later line brought.
	pd := r.Connection(0).PeerDevice(0)
	if pd.Replication != Established || pd.HasDone || pd.PeerDisk != UpToDate {
		t.Errorf("%+v", pd)
	}
	if !m.HelperCalled("r", "split-brain") || m.HelperCalled("r", "fence-peer") {
		t.Error("helper calls")
	}
	p.Line("destroy connection name:s peer-node-id:0 conn-name:peer")
	p.Line("destroy resource name:s")
	if len(m.Resources) != 0 {
		t.Error("not destroyed")
	}
}

func TestParseReader(t *testing.T) {
	long := "exists resource name:r " + strings.Repeat("k:v ", 100000) + "no-colon"
	m, err := Parse(strings.NewReader(long + "\nexists resource name:q role:Primary\r\nexists -"))
	if err != nil || m.Resource("q").Role != Primary || !m.DumpComplete || len(m.Skipped[0]) > maxLineShown+4 {
		t.Errorf("%v %+v", err, m)
	}
	if _, err := Parse(iotest.ErrReader(iotest.ErrTimeout)); err == nil {
		t.Error("reader error lost")
	}
}

func TestStripANSI(t *testing.T) {
	for in, want := range map[string]string{
		"disk:\x1b[1;31mDiskless\x1b[0m": "disk:Diskless",
		"a\x1b[":                         "a",
		"\x1b":                           "\x1b",
		"plain":                          "plain",
	} {
		if got := stripANSI(in); got != want {
			t.Errorf("%q: %q", in, got)
		}
	}
}
