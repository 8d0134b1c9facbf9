package drbd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gocf/gocf/pkg/ocf"
)

// stage84 is what one node's recording at one stage must parse to. The
// stages are a resource's life on two VMs: up and waiting for the peer,
// connected while both are Inconsistent, the initial sync with node1 forced
// Primary, both UpToDate, mounted, both demoted, node2 promoted, node1
// disconnected by `drbdadm disconnect`, and node1 alone after node2 was
// killed.
type stage84 struct {
	dir         string
	role        Role
	disk        DiskState
	conn        ConnState
	connName    string // "" where 8.4 dropped the network config
	peerRole    Role
	peerDisk    DiskState
	repl        ReplState
	score       ScoreDecision // Reason not compared
	monitor     ocf.Status    // ExpectConnection false
	monitorConn ocf.Status    // ExpectConnection true
}

var stages84 = []stage84{
	{"01-up-waitconnection/node1", Secondary, Inconsistent, Connecting, "peer", RoleUnknown, DUnknown, ReplOff,
		ScoreDecision{Action: Remove}, ocf.Success, ocf.Success},
	{"02-connected-secondary-inconsistent/node1", Secondary, Inconsistent, Connected, "peer", Secondary, Inconsistent, Established,
		ScoreDecision{Action: Remove}, ocf.Success, ocf.Success},
	{"02-connected-secondary-inconsistent/node2", Secondary, Inconsistent, Connected, "peer", Secondary, Inconsistent, Established,
		ScoreDecision{Action: Remove}, ocf.Success, ocf.Success},
	{"03-syncing/node1", Primary, UpToDate, Connected, "peer", Secondary, Inconsistent, SyncSource,
		ScoreDecision{Action: Set, Value: 10000}, ocf.RunningPromoted, ocf.RunningPromoted},
	// The sync target may be promoted only as a last resort: its data
	// comes from the peer.
	{"03-syncing/node2", Secondary, Inconsistent, Connected, "peer", Primary, UpToDate, SyncTarget,
		ScoreDecision{Action: Set, Value: 10}, ocf.Success, ocf.Success},
	{"04-primary-secondary-uptodate/node1", Primary, UpToDate, Connected, "peer", Secondary, UpToDate, Established,
		ScoreDecision{Action: Set, Value: 10000}, ocf.RunningPromoted, ocf.RunningPromoted},
	{"04-primary-secondary-uptodate/node2", Secondary, UpToDate, Connected, "peer", Primary, UpToDate, Established,
		ScoreDecision{Action: Set, Value: 10000}, ocf.Success, ocf.Success},
	{"05-primary-mounted/node1", Primary, UpToDate, Connected, "peer", Secondary, UpToDate, Established,
		ScoreDecision{Action: Set, Value: 10000}, ocf.RunningPromoted, ocf.RunningPromoted},
	{"06-both-secondary/node1", Secondary, UpToDate, Connected, "peer", Secondary, UpToDate, Established,
		ScoreDecision{Action: Set, Value: 10000}, ocf.Success, ocf.Success},
	{"06-both-secondary/node2", Secondary, UpToDate, Connected, "peer", Secondary, UpToDate, Established,
		ScoreDecision{Action: Set, Value: 10000}, ocf.Success, ocf.Success},
	{"07-node2-primary/node1", Secondary, UpToDate, Connected, "peer", Primary, UpToDate, Established,
		ScoreDecision{Action: Set, Value: 10000}, ocf.Success, ocf.Success},
	{"07-node2-primary/node2", Primary, UpToDate, Connected, "peer", Secondary, UpToDate, Established,
		ScoreDecision{Action: Set, Value: 10000}, ocf.RunningPromoted, ocf.RunningPromoted},
	// A disconnected Secondary does not know whether the peer wrote since:
	// the middle score. StandAlone is a failure only when the agent had
	// connected it (split brain looks the same as this admin disconnect).
	{"08-node1-disconnected/node1", Secondary, UpToDate, StandAlone, "", RoleUnknown, DUnknown, ReplOff,
		ScoreDecision{Action: Set, Value: 1000}, ocf.Success, ocf.ErrGeneric},
	{"08-node1-disconnected/node2", Primary, UpToDate, Connecting, "peer", RoleUnknown, DUnknown, ReplOff,
		ScoreDecision{Action: Set, Value: 10000}, ocf.DegradedPromoted, ocf.DegradedPromoted},
	{"09-survivor-after-peer-killed/node1", Primary, UpToDate, Connecting, "peer", RoleUnknown, DUnknown, ReplOff,
		ScoreDecision{Action: Set, Value: 10000}, ocf.DegradedPromoted, ocf.DegradedPromoted},
}

func readTestdata(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDRBD84Stages(t *testing.T) {
	for _, st := range stages84 {
		for _, cmd := range []string{"events2_now", "events2_now_stat"} {
			t.Run(st.dir+"/"+cmd, func(t *testing.T) {
				base := filepath.Join("drbd84", st.dir, cmd)
				if rc := strings.TrimSpace(readTestdata(t, base+".rc")); rc != "0" {
					t.Fatalf("recorded rc %s", rc)
				}
				m := ParseString(readTestdata(t, base+".out"))
				check84(t, m, st, cmd == "events2_now_stat")
			})
		}
	}
}

func check84(t *testing.T, m *Model, st stage84, stats bool) {
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
	if r.Role != st.role || r.IOSuspended() || d.Disk != st.disk || d.Minor != 0 {
		t.Errorf("role %s suspended %v disk %s minor %d", r.Role, r.Suspended, d.Disk, d.Minor)
	}
	// drbd-utils 9 fakes the 8.4 peer as node 0; 8.4 has no quorum.
	if c.PeerNodeID != 0 || c.Name != st.connName || c.State != st.conn || c.PeerRole != st.peerRole {
		t.Errorf("connection %d %q %s peer role %s", c.PeerNodeID, c.Name, c.State, c.PeerRole)
	}
	if r.PeerRole() != st.peerRole || c.Connected() != (st.conn == Connected) || d.Quorum != Unset || r.QuorumLost() {
		t.Errorf("PeerRole %s Connected %v quorum %s", r.PeerRole(), c.Connected(), d.Quorum)
	}
	if pd.PeerDisk != st.peerDisk || pd.Replication != st.repl || pd.ResyncSuspended != nil {
		t.Errorf("peer disk %s replication %s resync-suspended %v", pd.PeerDisk, pd.Replication, pd.ResyncSuspended)
	}
	// 8.4 prints no done: in events2, not even during the sync.
	if pd.HasDone {
		t.Errorf("done %v", pd.Done)
	}
	if stats && (r.WriteOrdering != "flush" || d.Size != 262100 || c.Congested != No) {
		t.Errorf("write-ordering %q size %d congested %s", r.WriteOrdering, d.Size, c.Congested)
	}
	if got := Score(r, DefaultScores); got.Action != st.score.Action || got.Value != st.score.Value || got.Reason == "" {
		t.Errorf("score %v, want %s %d", got, st.score.Action, st.score.Value)
	}
	if got := Monitor(m, "r0", MonitorOptions{}); got.Status != st.monitor {
		t.Errorf("monitor %v, want %v", got, st.monitor)
	}
	got := Monitor(m, "r0", MonitorOptions{ExpectConnection: true})
	if got.Status != st.monitorConn {
		t.Errorf("monitor expecting a connection %v, want %v", got, st.monitorConn)
	}
	if got.Status.Failed() && (!strings.Contains(got.Reason, "split brain") || !strings.Contains(got.Warning, "drbdadm connect --discard-my-data r0")) {
		t.Errorf("split brain reason %q, log %q", got.Reason, got.Warning)
	}
	if Monitor(m, "r1", MonitorOptions{}).Status != ocf.NotRunning {
		t.Error("another resource is not running")
	}
}
