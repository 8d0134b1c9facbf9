package drbd

import (
	"strings"
	"testing"

	"github.com/gocf/gocf/pkg/ocf"
)

func TestMonitor(t *testing.T) {
	standAlone := "exists connection name:r peer-node-id:1 conn-name:b connection:StandAlone role:Unknown"
	sbHelper := "call helper name:r peer-node-id:1 conn-name:b helper:split-brain"
	for _, tc := range []struct {
		name    string
		lines   []string
		expect  bool
		want    ocf.Status
		reason  string // substring of Reason ("" for none)
		warning string // substring of Warning ("" for none)
	}{
		{"down", nil, false, ocf.NotRunning, "", ""},
		{"no volumes", []string{resSecondary}, false, ocf.NotRunning, "without volumes", ""},
		{"secondary", []string{resSecondary, dev("0", "Inconsistent"), connUp}, true, ocf.Success, "", ""},
		{"primary", []string{resPrimary, dev("0", "UpToDate"), connUp}, true, ocf.RunningPromoted, "", ""},
		// Fault 8 of the fault matrix: the replication link lost, the PBX works on.
		{"primary alone", []string{resPrimary, dev("0", "UpToDate"), connDown}, true, ocf.DegradedPromoted,
			"r: writes are not replicated: peer b is Connecting", "not replicated"},
		{"primary, tiebreaker lost", []string{resPrimary, dev("0", "UpToDate"), connUp, peerDev("1", "0", "UpToDate"),
			"exists connection name:r peer-node-id:2 conn-name:c connection:Connecting role:Unknown",
			"exists peer-device name:r peer-node-id:2 conn-name:c volume:0 replication:Off peer-disk:DUnknown peer-client:yes"},
			true, ocf.RunningPromoted, "", ""},
		{"primary suspended", []string{"exists resource name:r role:Primary suspended:fencing", dev("0", "UpToDate"), connUp},
			true, ocf.RunningPromoted, "", "suspended (fencing)"},
		{"role unknown", []string{"exists resource name:r role:Unknown", dev("0", "UpToDate")}, false, ocf.ErrGeneric, "Unknown", ""},
		{"standalone by admin", []string{resSecondary, dev("0", "UpToDate"), standAlone}, false, ocf.Success, "", ""},
		{"split brain victim", []string{resSecondary, dev("0", "UpToDate"), standAlone}, true, ocf.ErrGeneric,
			"split brain: r StandAlone towards b", "towards b after a connect: split brain"},
		{"split brain helper", []string{resSecondary, dev("0", "UpToDate"), standAlone, sbHelper}, false, ocf.ErrGeneric,
			"split brain", "drbdadm connect --discard-my-data r"},
		// Degraded, not failed: failing would stop the copy in use.
		{"split brain survivor", []string{resPrimary, dev("0", "UpToDate"), standAlone}, true, ocf.DegradedPromoted,
			"split brain: r StandAlone towards b", "drbdadm connect --discard-my-data r"},
		{"secondary lost disk", []string{resSecondary, dev("0", "UpToDate"), dev("1", "Failed"), connUp}, true, ocf.ErrGeneric,
			"volume 1 is Failed", "drbdadm attach r"},
		{"diskless client", []string{resSecondary, "exists device name:r volume:0 disk:Diskless client:yes", connUp}, true,
			ocf.Success, "", ""},
		{"primary diskless, peer serves", []string{resPrimary, dev("0", "Diskless"), connUp, peerDev("1", "0", "UpToDate")},
			true, ocf.DegradedPromoted, "volume 0 is Diskless; I/O served by a peer", "drbdadm attach r"},
		{"primary diskless alone", []string{resPrimary, dev("0", "Diskless"), connDown}, true, ocf.FailedPromoted,
			"no peer has UpToDate data", "drbdadm attach r"},
		// DRBD 9 quorum: a Primary without it cannot write; a Secondary works on, unscored.
		{"primary without quorum", []string{resPrimary, "exists device name:r volume:0 disk:UpToDate client:no quorum:no",
			connDown, "exists connection name:r peer-node-id:2 conn-name:c connection:Connected role:Secondary"}, true,
			ocf.FailedPromoted, "r is Primary without quorum: its writes fail or hang (reaches c; not b Connecting)", "a node with quorum must take over"},
		{"primary suspended for quorum", []string{"exists resource name:r role:Primary suspended:quorum", dev("0", "UpToDate"), connDown}, true,
			ocf.FailedPromoted, "(no peer reachable: b Connecting)", "lost quorum while Primary"},
		{"secondary without quorum", []string{resSecondary, "exists device name:r volume:0 disk:UpToDate client:no quorum:no", connDown}, true,
			ocf.Success, "", "r has no quorum (no peer reachable: b Connecting): it cannot be promoted here"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Monitor(model(tc.lines...), "r", MonitorOptions{ExpectConnection: tc.expect})
			if got.Status != tc.want || !contains(got.Reason, tc.reason) || !contains(got.Warning, tc.warning) {
				t.Errorf("%+v, want %v %q %q", got, tc.want, tc.reason, tc.warning)
			}
			if n := len([]rune(got.Reason)); n > reasonMax {
				t.Errorf("reason of %d characters: Pacemaker keeps %d", n, reasonMax)
			}
		})
	}
}

// contains treats an empty want as "must be empty".
func contains(s, want string) bool {
	if want == "" {
		return s == ""
	}
	return strings.Contains(s, want)
}

func TestMonitorIncompleteOutput(t *testing.T) {
	m := ParseString(resPrimary + "\n" + dev("0", "UpToDate"))
	if got := Monitor(m, "r", MonitorOptions{}); got.Status != ocf.ErrGeneric || got.Reason == "" {
		t.Error(got)
	}
	if got := Monitor(ParseString(""), "r", MonitorOptions{}); got.Status != ocf.ErrGeneric {
		t.Error(got)
	}
}
