package drbd

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gocf/gocf/pkg/ocf"
)

// TestDRBD84Covered keeps the stage table in step with the recordings.
func TestDRBD84Covered(t *testing.T) {
	dirs, err := filepath.Glob("testdata/drbd84/*/*")
	if err != nil || len(dirs) != 15 {
		t.Fatalf("%d recordings, %v", len(dirs), err)
	}
	for _, d := range dirs {
		rel, _ := filepath.Rel("testdata/drbd84", d)
		if !slices.ContainsFunc(stages84, func(s stage84) bool { return s.dir == rel }) {
			t.Errorf("%s has no expectations", rel)
		}
	}
}

// malformed9 is how many lines of each sample must be skipped; every other
// sample must parse entirely.
var malformed9 = map[string]int{
	// `...` elides output in the User's Guide.
	"events2-stream-doc-ug9-connection-changes.txt": 1,
	// The four inputs drbd-reactor's own tests expect to be rejected.
	"events2-drbd-reactor-unit-test-lines-SYNTHETIC.txt": 4,
}

// TestDRBD9SamplesParse runs every sample, including the mangled ones:
// no panic, no unexpected skipped line, and objects that hang together.
func TestDRBD9SamplesParse(t *testing.T) {
	files, _ := filepath.Glob("testdata/drbd9/events2-*.txt")
	if len(files) < 30 {
		t.Fatalf("only %d samples", len(files))
	}
	for _, f := range files {
		name := filepath.Base(f)
		m := ParseString(readTestdata(t, "drbd9/"+name))
		if m.Malformed != malformed9[name] {
			t.Errorf("%s: %d malformed lines %q", name, m.Malformed, m.Skipped)
		}
		for _, r := range m.Resources {
			Score(r, DefaultScores)
			Monitor(m, r.Name, MonitorOptions{ExpectConnection: true})
		}
	}
}

func TestDRBD9Centreon3Nodes(t *testing.T) {
	m := ParseString(readTestdata(t, "drbd9/events2-now-statistics-3node-centreon.txt"))
	r := m.Resource("drbd1")
	if r == nil || len(r.Connections) != 2 || len(r.Devices) != 1 {
		t.Fatalf("%+v", r)
	}
	c0, c1 := r.Connection(0), r.Connection(1)
	if c0.Name != "central-2004" || c0.PeerRole != Primary || c1.Name != "poller-2004-1" || c1.PeerRole != Secondary {
		t.Errorf("connections %+v %+v", c0, c1)
	}
	if r.PeerRole() != Primary || !r.AllLocalDisksUpToDate() || !r.PeerDisksKnown() || r.Devices[0].Quorum != Yes {
		t.Error("state helpers")
	}
	if d := Score(r, DefaultScores); d.Action != Set || d.Value != 10000 {
		t.Error(d)
	}
	if got := Monitor(m, "drbd1", MonitorOptions{ExpectConnection: true}); got.Status != ocf.Success {
		t.Error(got)
	}
}

func TestDRBD9HwameistorWithoutEndMarker(t *testing.T) {
	m := ParseString(readTestdata(t, "drbd9/events2-hwameistor-primary-2node.txt"))
	r := m.Resource("scsivol")
	if m.DumpComplete || r == nil || r.Role != Primary || r.Connection(0).Name != "drbd-node1" {
		t.Fatalf("complete %v %+v", m.DumpComplete, r)
	}
	// Without `exists -` the state may be cut short: not trusted.
	if got := Monitor(m, "scsivol", MonitorOptions{}); got.Status != ocf.ErrGeneric {
		t.Error(got)
	}
}

func TestDRBD9TimestampsAndOldUtils(t *testing.T) {
	m := ParseString(readTestdata(t, "drbd9/events2-drbdtop-2019-linstor-pvc-timestamps-statistics.txt"))
	r := m.Resource("pvc-0a2826c9-7108-11e9-8f74-0026b954ca4c")
	if !m.DumpComplete || r == nil || r.Device(0).Minor != 1016 || r.Connection(2).Name != "kubelet-b" {
		t.Fatalf("%+v", r)
	}
	// 2017 utils printed no peer-node-id for an 8.4 peer.
	m = ParseString(readTestdata(t, "drbd9/events2-drbdtop-2017-test0-syncsource-no-peer-node-id-timestamps-statistics.txt"))
	r = m.Resource("test0")
	c := r.Connections[0]
	pd := c.PeerDevice(0)
	if len(r.Connections) != 1 || c.PeerNodeID != -1 || c.Name != "peer" || pd.Replication != SyncSource ||
		pd.OutOfSync != 205655500 || len(r.Resyncing()) != 1 {
		t.Errorf("%+v %+v", c, pd)
	}
}

// The drbd-utils test suite prints the same final state in every format.
func TestDRBD9UtilsFormats(t *testing.T) {
	for _, f := range []string{"", "-diff", "-full", "-statistics", "-timestamps-sanitized", "-color-catv"} {
		t.Run(f, func(t *testing.T) {
			s := readTestdata(t, "drbd9/events2-utils-all-create-change"+f+".txt")
			// Undo `cat -v` to get the bytes --color really writes.
			s = strings.ReplaceAll(s, "^[", "\x1b")
			m := ParseString(s)
			r := m.Resource("some-resource")
			if m.Malformed != 0 || r == nil || r.Role != Primary || r.MayPromote != No || r.PromotionScore != 10102 {
				t.Fatalf("%d %q %+v", m.Malformed, m.Skipped, r)
			}
			d, c := r.Device(0), r.Connection(1)
			if d.Disk != UpToDate || d.BackingDev != "/dev/sda" || d.Minor != 1000 || d.Quorum != Yes || d.Open != No {
				t.Errorf("device %+v", d)
			}
			if c.Name != "some-peer" || c.State != Connected || c.PeerRole != Secondary {
				t.Errorf("connection %+v", c)
			}
			if pd := c.PeerDevice(0); pd.PeerDisk != UpToDate || pd.Replication != Established || pd.PeerClient != No {
				t.Errorf("peer device %+v", pd)
			}
			if len(c.Paths) != 1 || c.Paths[0].Local != "ipv4:1.2.3.4:7789" || c.Paths[0].Peer != "ipv4:5.6.7.8:7790" ||
				c.Paths[0].Established != Yes {
				t.Errorf("paths %+v", c.Paths)
			}
		})
	}
}

func TestDRBD9UtilsEdgeCases(t *testing.T) {
	parse := func(name string) (*Model, *Resource) {
		m := ParseString(readTestdata(t, "drbd9/events2-utils-"+name+".txt"))
		return m, m.Resource("some-resource")
	}
	if m, r := parse("all-create-destroy"); r != nil || len(m.Resources) != 0 {
		t.Error("destroy left", r)
	}
	if m, r := parse("device-create-destroy"); r != nil || len(m.Resources) != 0 {
		t.Error("destroy left", r)
	}
	if m, _ := parse("no-resources"); !m.DumpComplete || len(m.Resources) != 0 {
		t.Error("no-resources")
	}
	if m, r := parse("change-before-exists"); r.Role != Primary || r.Device(0).Disk != UpToDate || !m.DumpComplete {
		t.Error("change after the dump not merged", r)
	}
	if _, r := parse("out-of-order"); len(r.Devices) != 2 || r.Device(1).Minor != 1001 {
		t.Error("out of order", r.Devices)
	}
	if _, r := parse("first-out-of-order"); len(r.Devices) != 2 || r.Devices[0].Volume != 1 {
		t.Error("first out of order", r.Devices)
	}
	// A partial change line keeps what it does not name.
	_, r := parse("may-promote-peer-role")
	if c := r.Connection(1); c.State != Connected || c.PeerRole != Primary || r.PeerRole() != Primary {
		t.Errorf("%+v", c)
	}
	_, r = parse("may-promote-quorum")
	if !r.QuorumLost() || Score(r, DefaultScores).Action != Remove {
		t.Error("quorum lost still scored")
	}
	for _, n := range []string{"may-promote-peer-data", "promotion-score-inconsistent"} {
		if _, r := parse(n); Score(r, DefaultScores) != (ScoreDecision{Set, 10, Score(r, DefaultScores).Reason}) {
			t.Errorf("%s: %v", n, Score(r, DefaultScores))
		}
	}
	_, r = parse("sync-statistics")
	if pd := r.Connection(1).PeerDevice(0); !pd.HasDone || pd.Done != 37.5 || pd.OutOfSync != 2500 || pd.Keys["eta"] != "10" {
		t.Errorf("%+v", pd)
	}
	m, _ := parse("all-create-helper")
	if len(m.Helpers) != 2 || m.Helpers[1] != (HelperEvent{"response", "some-resource", "before-resync-target", 1, 0, 1, true}) {
		t.Errorf("%+v", m.Helpers)
	}
}

func TestDRBD9WrappedAndSynthetic(t *testing.T) {
	m := ParseString(readTestdata(t, "drbd9/events2-statistics-now-doc-ug9-2volumes-wrapped.txt"))
	r := m.Resource("r0")
	c := r.Connection(1)
	if c.PeerRole != Secondary || r.Device(1).Size != 104854364 || c.PeerDevice(1).Keys["sent"] != "6634548" {
		t.Errorf("continuation lines lost: %+v", c)
	}
	m = ParseString(readTestdata(t, "drbd9/events2-drbd-reactor-unit-test-lines-SYNTHETIC.txt"))
	r = m.Resource("foo")
	if r.Keys["xxx"] != "bla" || !slices.Equal(r.Suspended, []string{"yes"}) || r.Device(1).Keys["blocked"] != "no" || r.Device(1).Open != Yes || r.Device(1).Client != Yes {
		t.Errorf("%+v", r)
	}
	if r.Connection(3) == nil || r.Connection(3).Paths[0].Established != Yes || r.Connection(1).Congested != Yes {
		t.Error("path on a connection not seen before")
	}
}
