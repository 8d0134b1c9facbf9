package drbd

import (
	"strings"
	"testing"
)

// model parses events2 lines of resource r and adds the end marker.
func model(lines ...string) *Model {
	return ParseString(strings.Join(lines, "\n") + "\nexists -\n")
}

const (
	resSecondary = "exists resource name:r role:Secondary suspended:no"
	resPrimary   = "exists resource name:r role:Primary suspended:no"
	connUp       = "exists connection name:r peer-node-id:1 conn-name:b connection:Connected role:Secondary"
	connDown     = "exists connection name:r peer-node-id:1 conn-name:b connection:Connecting role:Unknown"
	connUp2      = "exists connection name:r peer-node-id:2 conn-name:c connection:Connected role:Secondary"
)

func dev(vol, disk string) string {
	return "exists device name:r volume:" + vol + " minor:" + vol + " disk:" + disk
}

func peerDev(id, vol, disk string) string {
	return "exists peer-device name:r peer-node-id:" + id + " volume:" + vol + " replication:Established peer-disk:" + disk
}

func TestScore(t *testing.T) {
	custom := Scores{Consistent: 5, RemoteUpToDate: 20, PeerUnknown: 300, UpToDate: 4000}
	for _, tc := range []struct {
		name   string
		lines  []string
		scores Scores
		want   ScoreDecision
	}{
		{"not configured", nil, DefaultScores, ScoreDecision{Action: Remove}},
		{"no volumes", []string{resSecondary}, DefaultScores, ScoreDecision{Action: Remove}},
		{"primary uptodate", []string{resPrimary, dev("0", "UpToDate"), connDown}, DefaultScores, ScoreDecision{Set, 10000, ""}},
		{"secondary peers known", []string{resSecondary, dev("0", "UpToDate"), connUp, peerDev("1", "0", "Outdated")},
			DefaultScores, ScoreDecision{Set, 10000, ""}},
		{"secondary no peers", []string{resSecondary, dev("0", "UpToDate")}, custom, ScoreDecision{Set, 4000, ""}},
		{"one of two peers unknown", []string{resSecondary, dev("0", "UpToDate"), connUp, peerDev("1", "0", "UpToDate"),
			connUp2, peerDev("2", "0", "DUnknown")}, DefaultScores, ScoreDecision{Set, 1000, ""}},
		{"peer device missing", []string{resSecondary, dev("0", "UpToDate"), dev("1", "UpToDate"), connUp,
			peerDev("1", "0", "UpToDate")}, custom, ScoreDecision{Set, 300, ""}},
		{"remote uptodate", []string{resSecondary, dev("0", "UpToDate"), dev("1", "Inconsistent"), connUp,
			peerDev("1", "0", "UpToDate"), peerDev("1", "1", "UpToDate")}, DefaultScores, ScoreDecision{Set, 10, ""}},
		// Two peers each UpToDate on one volume: no single peer can serve all.
		{"remote split over peers", []string{resSecondary, dev("0", "Outdated"), dev("1", "Outdated"), connUp,
			peerDev("1", "0", "UpToDate"), peerDev("1", "1", "Outdated"), connUp2, peerDev("2", "0", "Outdated"),
			peerDev("2", "1", "UpToDate")}, DefaultScores, ScoreDecision{Action: Remove}},
		{"remote uptodate but not connected", []string{resSecondary, dev("0", "Diskless"), connDown,
			peerDev("1", "0", "UpToDate")}, DefaultScores, ScoreDecision{Action: Remove}},
		{"consistent default", []string{resSecondary, dev("0", "Consistent")}, DefaultScores, ScoreDecision{Action: Remove}},
		{"consistent custom", []string{resSecondary, dev("0", "Consistent"), dev("1", "UpToDate")}, custom, ScoreDecision{Set, 5, ""}},
		{"outdated", []string{resSecondary, dev("0", "Outdated"), connDown}, DefaultScores, ScoreDecision{Action: Remove}},
		{"attaching", []string{resPrimary, dev("0", "UpToDate"), dev("1", "Attaching")}, DefaultScores, ScoreDecision{Action: Keep}},
		{"negotiating", []string{resSecondary, dev("0", "Negotiating")}, DefaultScores, ScoreDecision{Action: Keep}},
		{"quorum lost", []string{resPrimary, "exists device name:r volume:0 disk:UpToDate quorum:no"}, DefaultScores,
			ScoreDecision{Action: Remove}},
		{"suspended for quorum", []string{"exists resource name:r role:Primary suspended:fencing,quorum", dev("0", "UpToDate")},
			DefaultScores, ScoreDecision{Action: Remove}},
		{"disabled high score", []string{resPrimary, dev("0", "UpToDate")}, Scores{UpToDate: -1}, ScoreDecision{Action: Remove}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Score(model(tc.lines...).Resource("r"), tc.scores)
			if got.Action != tc.want.Action || got.Value != tc.want.Value || got.Reason == "" {
				t.Errorf("%v, want %s %d", got, tc.want.Action, tc.want.Value)
			}
		})
	}
}

func TestParseScores(t *testing.T) {
	s, err := ParseScores(" 0 10\t1000 10000 ")
	if err != nil || s != DefaultScores || s.String() != "0 10 1000 10000" {
		t.Errorf("%v %v", s, err)
	}
	for _, bad := range []string{"", "1 2 3", "1 2 3 4 5", "1 2 x 4", "1 2 3.5 4"} {
		if _, err := ParseScores(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestScoreDecisionString(t *testing.T) {
	for d, want := range map[ScoreDecision]string{
		{Set, 10, "why"}:   "set 10: why",
		{Remove, 0, "why"}: "remove: why",
		{Keep, 0, "why"}:   "keep: why",
	} {
		if d.String() != want {
			t.Errorf("%q", d.String())
		}
	}
}
