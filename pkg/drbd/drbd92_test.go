package drbd

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gocf/gocf/pkg/ocf"
)

// stage92 is what one node's recording of DRBD 9.2.18 at one stage must
// parse to (testdata/drbd92, recorded by `testbed record-drbd` on two VMs;
// the stages are in tests/testbed/drbdrecord.go).
type stage92 struct {
	dir       string
	role      Role
	disk      DiskState
	conn      ConnState
	peerRole  Role
	peerDisk  DiskState
	repl      ReplState
	suspended string
	score     ScoreDecision // Reason not compared
	monitor   ocf.Status    // ExpectConnection false
	// monitorConn is with ExpectConnection: only 08, an admin's
	// disconnect, differs (StandAlone looks like a split brain).
	monitorConn ocf.Status
}

var stages92 = []stage92{
	{"01-n1-up-connecting/n1", Secondary, Inconsistent, Connecting, RoleUnknown, DUnknown, ReplOff, "",
		ScoreDecision{Action: Remove}, ocf.Success, ocf.Success},
	{"02-connected-inconsistent/n1", Secondary, Inconsistent, Connected, Secondary, Inconsistent, Established, "",
		ScoreDecision{Action: Remove}, ocf.Success, ocf.Success},
	{"02-connected-inconsistent/n2", Secondary, Inconsistent, Connected, Secondary, Inconsistent, Established, "",
		ScoreDecision{Action: Remove}, ocf.Success, ocf.Success},
	{"03-syncing/n1", Primary, UpToDate, Connected, Secondary, Inconsistent, SyncSource, "",
		ScoreDecision{Action: Set, Value: 10000}, ocf.RunningPromoted, ocf.RunningPromoted},
	{"03-syncing/n2", Secondary, Inconsistent, Connected, Primary, UpToDate, SyncTarget, "",
		ScoreDecision{Action: Set, Value: 10}, ocf.Success, ocf.Success},
	{"04-primary-secondary-uptodate/n1", Primary, UpToDate, Connected, Secondary, UpToDate, Established, "",
		ScoreDecision{Action: Set, Value: 10000}, ocf.RunningPromoted, ocf.RunningPromoted},
	{"04-primary-secondary-uptodate/n2", Secondary, UpToDate, Connected, Primary, UpToDate, Established, "",
		ScoreDecision{Action: Set, Value: 10000}, ocf.Success, ocf.Success},
	{"05-primary-mounted/n1", Primary, UpToDate, Connected, Secondary, UpToDate, Established, "",
		ScoreDecision{Action: Set, Value: 10000}, ocf.RunningPromoted, ocf.RunningPromoted},
	{"05-primary-mounted/n2", Secondary, UpToDate, Connected, Primary, UpToDate, Established, "",
		ScoreDecision{Action: Set, Value: 10000}, ocf.Success, ocf.Success},
	{"06-both-secondary/n1", Secondary, UpToDate, Connected, Secondary, UpToDate, Established, "",
		ScoreDecision{Action: Set, Value: 10000}, ocf.Success, ocf.Success},
	{"06-both-secondary/n2", Secondary, UpToDate, Connected, Secondary, UpToDate, Established, "",
		ScoreDecision{Action: Set, Value: 10000}, ocf.Success, ocf.Success},
	{"07-n2-primary/n1", Secondary, UpToDate, Connected, Primary, UpToDate, Established, "",
		ScoreDecision{Action: Set, Value: 10000}, ocf.Success, ocf.Success},
	{"07-n2-primary/n2", Primary, UpToDate, Connected, Secondary, UpToDate, Established, "",
		ScoreDecision{Action: Set, Value: 10000}, ocf.RunningPromoted, ocf.RunningPromoted},
	// DRBD 9 outdates a Secondary that an admin disconnects from its
	// Primary (8.4 left it UpToDate): no score.
	{"08-n1-disconnected/n1", Secondary, Outdated, StandAlone, RoleUnknown, DUnknown, ReplOff, "",
		ScoreDecision{Action: Remove}, ocf.Success, ocf.ErrGeneric},
	{"08-n1-disconnected/n2", Primary, UpToDate, Connecting, RoleUnknown, Outdated, ReplOff, "",
		ScoreDecision{Action: Set, Value: 10000}, ocf.DegradedPromoted, ocf.DegradedPromoted},
	{"09-n1-reconnected/n1", Secondary, UpToDate, Connected, Primary, UpToDate, Established, "",
		ScoreDecision{Action: Set, Value: 10000}, ocf.Success, ocf.Success},
	{"09-n1-reconnected/n2", Primary, UpToDate, Connected, Secondary, UpToDate, Established, "",
		ScoreDecision{Action: Set, Value: 10000}, ocf.RunningPromoted, ocf.RunningPromoted},
	// The ring cut: the Primary froze its I/O (fencing resource-and-stonith)
	// and ran fence-peer; the Secondary does not know the peer's disk.
	{"10-n1-ring-cut/n1", Secondary, UpToDate, Connecting, RoleUnknown, DUnknown, ReplOff, "",
		ScoreDecision{Action: Set, Value: 1000}, ocf.Success, ocf.Success},
	{"10-n1-ring-cut/n2", Primary, UpToDate, Connecting, RoleUnknown, DUnknown, ReplOff, "fencing",
		ScoreDecision{Action: Set, Value: 10000}, ocf.DegradedPromoted, ocf.DegradedPromoted},
	{"11-ring-back/n1", Secondary, UpToDate, Connected, Primary, UpToDate, Established, "",
		ScoreDecision{Action: Set, Value: 10000}, ocf.Success, ocf.Success},
	{"11-ring-back/n2", Primary, UpToDate, Connected, Secondary, UpToDate, Established, "",
		ScoreDecision{Action: Set, Value: 10000}, ocf.RunningPromoted, ocf.RunningPromoted},
}

func TestDRBD92StagesCovered(t *testing.T) {
	dirs, err := filepath.Glob("testdata/drbd92/[0-9]*/n*")
	if err != nil || len(dirs) != len(stages92) {
		t.Fatalf("%d recordings for %d stages, %v", len(dirs), len(stages92), err)
	}
	for _, d := range dirs {
		rel, _ := filepath.Rel("testdata/drbd92", d)
		if !slices.ContainsFunc(stages92, func(s stage92) bool { return s.dir == rel }) {
			t.Errorf("%s has no expectations", rel)
		}
	}
	if v := readTestdata(t, "drbd92/versions.txt"); !strings.Contains(v, "DRBD_KERNEL_VERSION=9.2.18") {
		t.Errorf("versions.txt: %s", v)
	}
}

func TestDRBD92Stages(t *testing.T) {
	for _, st := range stages92 {
		for _, cmd := range []string{"events2_now", "events2_now_stat"} {
			t.Run(st.dir+"/"+cmd, func(t *testing.T) {
				base := filepath.Join("drbd92", st.dir, cmd)
				if rc := strings.TrimSpace(readTestdata(t, base+".rc")); rc != "0" {
					t.Fatalf("recorded rc %s", rc)
				}
				m := ParseString(readTestdata(t, base+".out"))
				check92(t, m, st)
				if cmd == "events2_now_stat" {
					if r := m.Resource("r0"); r.WriteOrdering != "flush" || r.Devices[0].Size != 262100 {
						t.Errorf("write-ordering %q size %d", r.WriteOrdering, r.Devices[0].Size)
					}
				}
			})
		}
		// The same state as drbdsetup's JSON status at that moment.
		t.Run(st.dir+"/status_json", func(t *testing.T) {
			m := ParseString(readTestdata(t, filepath.Join("drbd92", st.dir, "events2_now.out")))
			checkJSON92(t, m.Resource("r0"), readTestdata(t, filepath.Join("drbd92", st.dir, "status_json.out")))
		})
	}
}

func check92(t *testing.T, m *Model, st stage92) {
	t.Helper()
	if m.Malformed != 0 || !m.DumpComplete || len(m.Resources) != 1 {
		t.Fatalf("malformed %d %q, complete %v, %d resources", m.Malformed, m.Skipped, m.DumpComplete, len(m.Resources))
	}
	r := m.Resource("r0")
	if r == nil || len(r.Devices) != 1 || len(r.Connections) != 1 {
		t.Fatalf("resource %+v", r)
	}
	d, c := r.Devices[0], r.Connections[0]
	pd := c.PeerDevice(0)
	if pd == nil {
		t.Fatal("no peer device for volume 0")
	}
	// DRBD 9 names the peer and gives its real node id; quorum is reported
	// (r0 has none configured, so it is always there).
	peer := map[bool]string{true: "n2", false: "n1"}[strings.HasSuffix(st.dir, "/n1")]
	if c.Name != peer || c.PeerNodeID != map[string]int{"n1": 0, "n2": 1}[peer] || d.Quorum != Yes || r.QuorumLost() {
		t.Errorf("connection %d %q, quorum %s", c.PeerNodeID, c.Name, d.Quorum)
	}
	if r.Role != st.role || d.Disk != st.disk || d.Minor != 0 || strings.Join(r.Suspended, ",") != st.suspended {
		t.Errorf("role %s disk %s minor %d suspended %v", r.Role, d.Disk, d.Minor, r.Suspended)
	}
	if c.State != st.conn || c.PeerRole != st.peerRole || pd.PeerDisk != st.peerDisk || pd.Replication != st.repl {
		t.Errorf("connection %s peer role %s peer disk %s replication %s", c.State, c.PeerRole, pd.PeerDisk, pd.Replication)
	}
	if syncing := st.repl == SyncSource || st.repl == SyncTarget; pd.HasDone != syncing || syncing && (pd.Done <= 0 || pd.Done >= 100) {
		t.Errorf("done %v %v during %s", pd.HasDone, pd.Done, st.repl)
	}
	if got := Score(r, DefaultScores); got.Action != st.score.Action || got.Value != st.score.Value || got.Reason == "" {
		t.Errorf("score %v, want %s %d", got, st.score.Action, st.score.Value)
	}
	if got := Monitor(m, "r0", MonitorOptions{}); got.Status != st.monitor {
		t.Errorf("monitor %v, want %v", got, st.monitor)
	}
	if got := Monitor(m, "r0", MonitorOptions{ExpectConnection: true}); got.Status != st.monitorConn {
		t.Errorf("monitor expecting a connection %v, want %v", got, st.monitorConn)
	}
}

// status92 is the part of `drbdsetup status --json` that events2 also shows.
type status92 []struct {
	Name          string `json:"name"`
	Role          string `json:"role"`
	Suspended     bool   `json:"suspended"`
	SuspendedFenc bool   `json:"suspended-fencing"`
	Devices       []struct {
		Volume    int    `json:"volume"`
		DiskState string `json:"disk-state"`
		Quorum    bool   `json:"quorum"`
	} `json:"devices"`
	Connections []struct {
		PeerNodeID      int    `json:"peer-node-id"`
		Name            string `json:"name"`
		ConnectionState string `json:"connection-state"`
		PeerRole        string `json:"peer-role"`
		PeerDevices     []struct {
			Volume           int    `json:"volume"`
			ReplicationState string `json:"replication-state"`
			PeerDiskState    string `json:"peer-disk-state"`
		} `json:"peer_devices"`
	} `json:"connections"`
}

func checkJSON92(t *testing.T, r *Resource, js string) {
	t.Helper()
	var s status92
	if err := json.Unmarshal([]byte(js), &s); err != nil {
		t.Fatalf("status --json: %v", err)
	}
	if len(s) != 1 || len(s[0].Devices) != 1 || len(s[0].Connections) != 1 || len(s[0].Connections[0].PeerDevices) != 1 {
		t.Fatalf("status --json: %+v", s)
	}
	j, jc := s[0], s[0].Connections[0]
	jd, jpd := j.Devices[0], jc.PeerDevices[0]
	c := r.Connections[0]
	pd := c.PeerDevice(0)
	if j.Name != r.Name || j.Role != string(r.Role) || j.Suspended != r.IOSuspended() || j.SuspendedFenc != slices.Contains(r.Suspended, "fencing") {
		t.Errorf("JSON resource %+v, events2 %s %s %v", j, r.Name, r.Role, r.Suspended)
	}
	if jd.DiskState != string(r.Devices[0].Disk) || jd.Quorum != (r.Devices[0].Quorum == Yes) {
		t.Errorf("JSON device %+v, events2 %s quorum %s", jd, r.Devices[0].Disk, r.Devices[0].Quorum)
	}
	if jc.PeerNodeID != c.PeerNodeID || jc.Name != c.Name || jc.ConnectionState != string(c.State) || jc.PeerRole != string(c.PeerRole) {
		t.Errorf("JSON connection %+v, events2 %d %s %s %s", jc, c.PeerNodeID, c.Name, c.State, c.PeerRole)
	}
	if jpd.ReplicationState != string(pd.Replication) || jpd.PeerDiskState != string(pd.PeerDisk) {
		t.Errorf("JSON peer device %+v, events2 %s %s", jpd, pd.Replication, pd.PeerDisk)
	}
}

// TestDRBD92Streams: each VM's `drbdsetup events2 r0` (what the agent
// reads while it waits) from n1's first `up` to the end: the initial sync
// (n1 the source), the role switch, the admin's disconnect, the resync (n2
// the source, of what it wrote meanwhile), the ring cut with
// the fence-peer handler (it found no Pacemaker clone of r0 and failed, so
// I/O stayed frozen until the peer came back) and, on n2, n1 going down.
func TestDRBD92Streams(t *testing.T) {
	for _, tc := range []struct {
		node              string
		role              Role
		conn              ConnState
		peerDisk          DiskState
		helpers           []string // calls, in order
		suspendedSometime bool
	}{
		{"n1", Secondary, Connected, UpToDate,
			[]string{"before-resync-source", "unfence-peer", "disconnected", "before-resync-target", "after-resync-target", "disconnected", "unfence-peer"}, false},
		{"n2", Primary, Connecting, Outdated,
			[]string{"before-resync-target", "after-resync-target", "disconnected", "before-resync-source", "unfence-peer", "disconnected", "fence-peer", "unfence-peer", "disconnected"}, true},
	} {
		t.Run(tc.node, func(t *testing.T) {
			s := readTestdata(t, "drbd92/events2_stream/"+tc.node+".txt")
			m := ParseString(s)
			if m.Malformed != 0 || !m.DumpComplete {
				t.Fatalf("malformed %d %q, complete %v", m.Malformed, m.Skipped, m.DumpComplete)
			}
			r := m.Resource("r0")
			c := r.Connections[0]
			if r.Role != tc.role || c.State != tc.conn || c.PeerDevice(0).PeerDisk != tc.peerDisk || r.IOSuspended() {
				t.Errorf("at the end: role %s connection %s peer disk %s suspended %v", r.Role, c.State, c.PeerDevice(0).PeerDisk, r.Suspended)
			}
			var calls []string
			for _, h := range m.Helpers {
				if h.Verb == "call" {
					calls = append(calls, h.Helper)
				}
			}
			if !slices.Equal(calls, tc.helpers) {
				t.Errorf("helpers called %v, want %v", calls, tc.helpers)
			}
			if tc.suspendedSometime != strings.Contains(s, "suspended:fencing") {
				t.Errorf("suspended:fencing seen: %v", !tc.suspendedSometime)
			}
			for _, want := range []string{"replication:SyncSource", "replication:SyncTarget"} {
				if !strings.Contains(s, want) {
					t.Errorf("no %s in the stream", want)
				}
			}
		})
	}
}

// TestDRBD92Quorum replays DRBD 9.2.18 with quorum on three VMs
// (testdata/drbd92q, `testbed up --mode vm --nodes 3 --drbd 9.2` and
// `testbed record-drbd`): n1 Primary, n2 with the other disk, n3 the
// diskless tiebreaker; then n2's replication cut (n2 loses quorum), then
// n1's (the Primary loses it: its write failed with EIO, write.txt).
func TestDRBD92Quorum(t *testing.T) {
	for _, tc := range []struct {
		dir       string
		role      Role
		disk      DiskState
		quorum    Tristate
		connected int // peers Connected
		score     ScoreDecision
		monitor   ocf.Status
		reason    string // in the monitor's Reason, or its Warning when it succeeds
	}{
		{"q01-n1-primary-two-peers/n1", Primary, UpToDate, Yes, 2, ScoreDecision{Action: Set, Value: 10000}, ocf.RunningPromoted, ""},
		{"q01-n1-primary-two-peers/n2", Secondary, UpToDate, Yes, 2, ScoreDecision{Action: Set, Value: 10000}, ocf.Success, ""},
		// The tiebreaker is scored like any node whose peer has the data: the
		// crm example's location rule keeps it unpromoted.
		{"q01-n1-primary-two-peers/n3", Secondary, Diskless, Yes, 2, ScoreDecision{Action: Set, Value: 10}, ocf.Success, ""},
		{"q02-n2-ring-cut/n1", Primary, UpToDate, Yes, 1, ScoreDecision{Action: Set, Value: 10000}, ocf.DegradedPromoted, "not replicated: peer n2 is Connecting"},
		{"q02-n2-ring-cut/n2", Secondary, UpToDate, No, 0, ScoreDecision{Action: Remove}, ocf.Success,
			"r0 has no quorum (no peer reachable: n3 Connecting, n1 Connecting)"},
		{"q02-n2-ring-cut/n3", Secondary, Diskless, Yes, 1, ScoreDecision{Action: Set, Value: 10}, ocf.Success, ""},
		{"q03-n1-ring-cut/n1", Primary, UpToDate, No, 0, ScoreDecision{Action: Remove}, ocf.FailedPromoted,
			"r0 is Primary without quorum: its writes fail or hang (no peer reachable: n3 Connecting, n2 Connecting)"},
		{"q03-n1-ring-cut/n2", Secondary, UpToDate, Yes, 1, ScoreDecision{Action: Set, Value: 1000}, ocf.Success, ""},
		{"q03-n1-ring-cut/n3", Secondary, Diskless, Yes, 1, ScoreDecision{Action: Set, Value: 10}, ocf.Success, ""},
		{"q04-back/n1", Primary, UpToDate, Yes, 2, ScoreDecision{Action: Set, Value: 10000}, ocf.RunningPromoted, ""},
		{"q04-back/n2", Secondary, UpToDate, Yes, 2, ScoreDecision{Action: Set, Value: 10000}, ocf.Success, ""},
		{"q04-back/n3", Secondary, Diskless, Yes, 2, ScoreDecision{Action: Set, Value: 10}, ocf.Success, ""},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			base := filepath.Join("drbd92q", tc.dir)
			m := ParseString(readTestdata(t, base+"/events2_now.out"))
			r := m.Resource("r0")
			if m.Malformed != 0 || !m.DumpComplete || r == nil || len(r.Devices) != 1 || len(r.Connections) != 2 {
				t.Fatalf("malformed %d, complete %v, resource %+v", m.Malformed, m.DumpComplete, r)
			}
			d := r.Devices[0]
			connected := 0
			for _, c := range r.Connections {
				if c.Connected() {
					connected++
				}
			}
			if r.Role != tc.role || d.Disk != tc.disk || d.Quorum != tc.quorum || r.QuorumLost() != (tc.quorum == No) ||
				connected != tc.connected || (d.Client == Yes) != (tc.disk == Diskless) {
				t.Errorf("role %s disk %s client %s quorum %s, %d connected", r.Role, d.Disk, d.Client, d.Quorum, connected)
			}
			if got := Score(r, DefaultScores); got.Action != tc.score.Action || got.Value != tc.score.Value {
				t.Errorf("score %v, want %s %d", got, tc.score.Action, tc.score.Value)
			}
			got := Monitor(m, "r0", MonitorOptions{ExpectConnection: true})
			text := got.Reason
			if got.Status == ocf.Success || got.Status == ocf.RunningPromoted {
				text = got.Warning
			}
			if got.Status != tc.monitor || !contains(text, tc.reason) {
				t.Errorf("monitor %+v, want %v with %q", got, tc.monitor, tc.reason)
			}
			// drbdsetup's JSON status says the same, peer by peer.
			var s status92
			if err := json.Unmarshal([]byte(readTestdata(t, base+"/status_json.out")), &s); err != nil || len(s) != 1 {
				t.Fatalf("status --json: %v", err)
			}
			if s[0].Role != string(r.Role) || len(s[0].Devices) != 1 || s[0].Devices[0].Quorum != (d.Quorum == Yes) ||
				s[0].Devices[0].DiskState != string(d.Disk) || len(s[0].Connections) != 2 {
				t.Fatalf("JSON %+v", s[0])
			}
			for _, jc := range s[0].Connections {
				c := r.Connection(jc.PeerNodeID)
				if c == nil || jc.Name != c.Name || jc.ConnectionState != string(c.State) || jc.PeerRole != string(c.PeerRole) ||
					len(jc.PeerDevices) != 1 || jc.PeerDevices[0].PeerDiskState != string(c.PeerDevice(0).PeerDisk) ||
					jc.PeerDevices[0].ReplicationState != string(c.PeerDevice(0).Replication) {
					t.Errorf("JSON connection %+v, events2 %+v", jc, c)
				}
			}
		})
	}
	if w := readTestdata(t, "drbd92q/q03-n1-ring-cut/write.txt"); !strings.Contains(w, "Input/output error") {
		t.Errorf("the write without quorum did not fail with EIO: %s", w)
	}
	// n1's stream: quorum lost and regained as Primary.
	s := readTestdata(t, "drbd92q/events2_stream/n1.txt")
	m := ParseString(s)
	if m.Malformed != 0 || !strings.Contains(s, "quorum:no") || m.Resource("r0").QuorumLost() {
		t.Errorf("stream: malformed %d, quorum lost at the end %v", m.Malformed, m.Resource("r0").QuorumLost())
	}
}
