package fencepeer

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// cibSet is one directory of CIBs recorded with the real tools of one
// Pacemaker version (the same files in each, see testdata/README.md).
type cibSet struct {
	name, dir string
	schema    string // validate-with of the CIBs crm_simulate wrote
}

var cibSets = []cibSet{
	{"pcmk2.1.5", "testdata", "pacemaker-3.9"},     // Debian 12, testdata/record.sh
	{"pcmk3.0", "testdata/pcmk3", "pacemaker-4.0"}, // Debian trixie (the test bed), testdata/record-pcmk3.sh
}

// path is a CIB file of the set.
func (s cibSet) path(name string) string { return filepath.Join(s.dir, name) }

// eachSet runs f as a subtest per set of recorded CIBs.
func eachSet(t *testing.T, f func(t *testing.T, set cibSet)) {
	for _, set := range cibSets {
		t.Run(set.name, func(t *testing.T) { f(t, set) })
	}
}

// readCIB parses a recorded CIB (a path from cibSet.path).
func readCIB(t *testing.T, path string) *CIB {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseCIB(b)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestFindClone(t *testing.T) {
	eachSet(t, func(t *testing.T, set cibSet) {
		for _, tc := range []struct {
			file, res, id, element, agent string
		}{
			{"cib-gocf-clone.xml", "r0", "drbd-r0-clone", "clone", "ocf:gocf:drbd"},
			{"cib-linbit-clone.xml", "r0", "ms-r0", "clone", "ocf:linbit:drbd"},
			{"cib-linbit-clone.xml", "r9", "ms-other", "clone", "ocf:linbit:drbd"},
			{"cib-linbit-master.xml", "r0", "ms_drbd_r0", "master", "ocf:linbit:drbd"},
			{"cib-three.xml", "drbd1", "drbd1-clone", "clone", "ocf:gocf:drbd"},
			{"cib-no-clone.xml", "r0", "", "", ""},
			{"cib-gocf-clone.xml", "r1", "", "", ""},
		} {
			found, _ := readCIB(t, set.path(tc.file)).FindClone(tc.res)
			if tc.id == "" {
				if len(found) != 0 {
					t.Errorf("%s %s: found %v, want none", tc.file, tc.res, found)
				}
				continue
			}
			if len(found) != 1 || found[0].ID != tc.id || found[0].Element != tc.element || found[0].Agent != tc.agent {
				t.Errorf("%s %s: found %+v, want %s <%s> %s", tc.file, tc.res, found, tc.id, tc.element, tc.agent)
			}
		}
		// A clone that is not promotable is named for the log, not used.
		found, skipped := readCIB(t, set.path("cib-no-clone.xml")).FindClone("r1")
		if len(found) != 0 || len(skipped) != 1 || !strings.Contains(skipped[0], "drbd-r1-clone") {
			t.Errorf("non-promotable clone: found %v, skipped %v", found, skipped)
		}
	})
}

// TestCIBSets checks that every set holds the same CIBs, recorded by the
// Pacemaker version it is named for, with the schema its crm_simulate
// upgrades to (cib-linbit-master.xml stays on pacemaker-2.10: its status
// is written with cibadmin, which leaves validate-with alone).
func TestCIBSets(t *testing.T) {
	names, err := filepath.Glob(cibSets[0].path("cib-*.xml"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no CIBs in %s: %v", cibSets[0].dir, err)
	}
	eachSet(t, func(t *testing.T, set cibSet) {
		for _, n := range names {
			name := filepath.Base(n)
			c := readCIB(t, set.path(name))
			want := set.schema
			if name == "cib-linbit-master.xml" {
				want = "pacemaker-2.10"
			}
			if c.ValidateWith != want {
				t.Errorf("%s: validate-with %q, want %q", name, c.ValidateWith, want)
			}
		}
		if set.dir == "testdata" {
			return // record.sh on the host: README.md names the version
		}
		v, err := os.ReadFile(set.path("VERSION"))
		if err != nil {
			t.Fatal(err)
		}
		if ver := strings.TrimPrefix(set.name, "pcmk"); !strings.HasPrefix(string(v), "Pacemaker "+ver) {
			t.Errorf("%s/VERSION says %q, want Pacemaker %s", set.dir, v, ver)
		}
	})
}

func TestCIBFacts(t *testing.T) {
	eachSet(t, func(t *testing.T, set cibSet) {
		c := readCIB(t, set.path("cib-gocf-clone.xml"))
		if !c.HaveQuorum || !c.StonithEnabled || !c.StartupFencing || !slices.Equal(c.Nodes, []string{"node1", "node2"}) {
			t.Errorf("cib-gocf-clone: %+v", c)
		}
		if got := c.PromotedRole(); got != "Promoted" {
			t.Errorf("%s: role %s", c.ValidateWith, got)
		}
		if got := readCIB(t, set.path("cib-linbit-master.xml")).PromotedRole(); got != "Master" {
			t.Errorf("pacemaker-2.10: role %s", got)
		}
		if c := readCIB(t, set.path("cib-three.xml")); !slices.Equal(c.Nodes, []string{"node1", "node2", "node3"}) || len(c.States) != 3 {
			t.Errorf("cib-three: nodes %v, states %v", c.Nodes, c.States)
		}
	})
	for v, want := range map[string]string{"pacemaker-4.0": "Promoted", "pacemaker-3.7": "Promoted", "pacemaker-3.6": "Master",
		"pacemaker-1.2": "Master", "pacemaker-next": "Master", "": "Master"} {
		if got := (&CIB{ValidateWith: v}).PromotedRole(); got != want {
			t.Errorf("%q: role %s, want %s", v, got, want)
		}
	}
	if _, err := ParseCIB([]byte("<nodes/>")); err == nil {
		t.Error("a document that is not a CIB parsed")
	}
}

// linbit84 and linbit9 are the constraints in the shape crm-fence-peer.sh
// and crm-fence-peer.9.sh write (ids, attribute order, one expression per
// allowed node); LINBIT's always say role="Master", gocf says Promoted
// where the schema knows it (linbit84 here).
const linbit84 = `<rsc_location rsc="drbd-r0-clone" id="drbd-fence-by-handler-r0-drbd-r0-clone">
  <rule role="Promoted" score="-INFINITY" id="drbd-fence-by-handler-r0-rule-drbd-r0-clone">
    <expression attribute="#uname" operation="ne" value="node1" id="drbd-fence-by-handler-r0-expr-drbd-r0-clone"/>
  </rule>
</rsc_location>
`

const linbit9 = `<rsc_location rsc="drbd1-clone" id="drbd-fence-by-handler-drbd1-drbd1-clone">
  <rule role="Master" score="-INFINITY" id="drbd-fence-by-handler-drbd1-rule-drbd1-clone">
    <expression attribute="#uname" operation="ne" value="node1" id="drbd-fence-by-handler-drbd1-expr-0-drbd1-clone"/>
    <expression attribute="#uname" operation="ne" value="node3" id="drbd-fence-by-handler-drbd1-expr-2-drbd1-clone"/>
  </rule>
</rsc_location>
`

func TestConstraintXML(t *testing.T) {
	if got := NewConstraint("drbd-fence-by-handler", "r0", "drbd-r0-clone", "Promoted", []string{"node1"}, nil).XML(); got != linbit84 {
		t.Errorf("8.4 shape:\n%s\nwant\n%s", got, linbit84)
	}
	got := NewConstraint("drbd-fence-by-handler", "drbd1", "drbd1-clone", "Master", []string{"node1", "node3"}, []int{0, 2}).XML()
	if got != linbit9 {
		t.Errorf("9 shape:\n%s\nwant\n%s", got, linbit9)
	}
	// A prefix that already ends in -RESOURCE is kept (LINBIT's rule).
	if id := ConstraintID("my-prefix-r0", "r0", "c"); id != "my-prefix-r0-c" {
		t.Errorf("id %s", id)
	}
	c := NewConstraint("p", "r0", `a"<b`, "Promoted", []string{"n&1"}, nil)
	if x := c.XML(); !strings.Contains(x, `rsc="a&#34;&lt;b"`) || !strings.Contains(x, `value="n&amp;1"`) {
		t.Errorf("not escaped: %s", x)
	}
	if d := NewConstraint("p", "r0", "c", "Promoted", nil, nil).DeleteXML(); d != `<rsc_location rsc="c" id="p-r0-c"/>` {
		t.Errorf("delete xml %s", d)
	}
}

func TestConstraintCompare(t *testing.T) {
	cib := func(constraint string) *CIB {
		c, err := ParseCIB([]byte(`<cib validate-with="pacemaker-3.9"><configuration><constraints>` + constraint + `</constraints></configuration></cib>`))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	have, ok := cib(linbit9).Constraint("drbd-fence-by-handler-drbd1-drbd1-clone")
	if !ok {
		t.Fatal("constraint not found")
	}
	// Same nodes in another order, other ids, Promoted for Master.
	want := NewConstraint("drbd-fence-by-handler", "drbd1", "drbd1-clone", "Promoted", []string{"node3", "node1"}, []int{7, 8})
	if !have.Equivalent(want) || !want.Equivalent(have) {
		t.Error("LINBIT's DRBD 9 constraint not equivalent to gocf's")
	}
	if have.Rejects("node1") || !have.Rejects("node2") || have.Rejects("node3") {
		t.Error("Rejects")
	}
	other := NewConstraint("drbd-fence-by-handler", "drbd1", "drbd1-clone", "Promoted", []string{"node1"}, []int{0})
	if have.Equivalent(other) {
		t.Error("different node sets compare equal")
	}
	if r := restrict(have, other); !slices.Equal(exprValues(r), []string{"node1"}) {
		t.Errorf("restrict: %v", exprValues(r))
	}
	odd, _ := cib(`<rsc_location id="x" rsc="c"><rule id="r" score="-INFINITY" boolean-op="or"><expression id="e" attribute="#uname" operation="ne" value="node1"/></rule></rsc_location>`).Constraint("x")
	if !odd.Rejects("node1") || odd.Equivalent(odd) {
		t.Error("a constraint of another shape must reject everyone and match nothing")
	}
	if _, ok := cib("").Constraint("x"); ok {
		t.Error("found a constraint in an empty section")
	}
}

func exprValues(c Constraint) []string {
	var v []string
	for _, e := range c.Exprs {
		v = append(v, e.Value)
	}
	return v
}

func TestClassifyNode(t *testing.T) {
	// The node states crm_simulate writes (the same in_ccm=true/false,
	// crmd=online/offline in 2.1.5 and 3.0: its injection code still
	// writes the pre-2.1.7 values).
	eachSet(t, func(t *testing.T, set cibSet) {
		node2 := func(file string) NodeState { return readCIB(t, set.path(file)).States["node2"] }
		for _, tc := range []struct {
			file string
			want PeerState
		}{
			{"cib-gocf-clone.xml", PeerAskController},
			{"cib-peer-fenced.xml", PeerFenced},   // fenced by crm_simulate -S
			{"cib-peer-unclean.xml", PeerPending}, // lost, not fenced yet
			{"cib-three.xml", PeerAskController},
		} {
			if got := ClassifyNode(node2(tc.file), true, true); got != tc.want {
				t.Errorf("%s: %s, want %s (%+v)", tc.file, got, tc.want, node2(tc.file))
			}
		}
	})
	// What the controller writes: since crm_feature_set 3.18.0 (Pacemaker
	// 2.1.7, so all of 3.0) in_ccm and crmd are the epoch time the node
	// became a member / its controller joined the CPG, or 0 when not
	// (controld_membership.c; unpack.c's determine_online_status_fencing
	// reads both forms); in_ccm=1 is a node pending shutdown that left the
	// CPG. testdata/live has one such CIB from a running cluster.
	for _, tc := range []struct {
		name                    string
		ns                      NodeState
		stonith, startupFencing bool
		want                    PeerState
	}{
		{"lost, stonith disabled", NodeState{Present: true, InCCM: "false", Crmd: "offline", Join: "down", Expected: "member"}, false, true, PeerUnreachable},
		{"lost and offline, stonith pending", NodeState{Present: true, InCCM: "false", Crmd: "offline", Join: "down", Expected: "member"}, true, true, PeerPending},
		{"never seen, startup fencing", NodeState{}, true, true, PeerPending},
		{"never seen, startup-fencing=false", NodeState{}, true, false, PeerUnreachable},
		{"crm_simulate fenced", NodeState{Present: true, InCCM: "false", Crmd: "offline", Join: "down", Expected: "down"}, true, true, PeerFenced},
		{"2.1.7+/3.0 online", NodeState{Present: true, InCCM: "1732951234", Crmd: "1732951240", Join: "member", Expected: "member"}, true, true, PeerAskController},
		{"2.1.7+/3.0 fenced", NodeState{Present: true, InCCM: "0", Crmd: "0", Join: "down", Expected: "down"}, true, true, PeerFenced},
		{"2.1.7+/3.0 lost, controller not noticed", NodeState{Present: true, InCCM: "0", Crmd: "1732951240", Join: "member", Expected: "member"}, true, true, PeerPending},
		{"2.1.7+/3.0 lost and offline", NodeState{Present: true, InCCM: "0", Crmd: "0", Join: "down", Expected: "member"}, true, true, PeerPending},
		{"2.1.7+/3.0 lost, stonith disabled", NodeState{Present: true, InCCM: "0", Crmd: "0", Join: "down", Expected: "member"}, false, true, PeerUnreachable},
		{"2.1.7+/3.0 controller gone, member", NodeState{Present: true, InCCM: "1732951234", Crmd: "0", Join: "down", Expected: "member"}, true, true, PeerPending},
		{"2.1.7+/3.0 pending shutdown, left the CPG", NodeState{Present: true, InCCM: "1", Crmd: "0", Join: "down", Expected: "down"}, false, true, PeerUnreachable},
	} {
		if got := ClassifyNode(tc.ns, tc.stonith, tc.startupFencing); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
	if AfterTimeout(NodeState{Present: true, Crmd: "0"}) != PeerUnreachable || AfterTimeout(NodeState{Present: true, Crmd: "1732951240"}) != PeerUnknown {
		t.Error("AfterTimeout on 2.1.7+ values")
	}
	if AfterTimeout(NodeState{Present: true, Crmd: "offline"}) != PeerUnreachable || AfterTimeout(NodeState{Present: true, Crmd: "online"}) != PeerUnknown {
		t.Error("AfterTimeout")
	}
	if !ControllerOK("Controller on node2 in state S_NOT_DC: ok\n") || !ControllerOK("Status of crmd@node2: S_IDLE (ok)") || ControllerOK("error: Could not connect to controller") {
		t.Error("ControllerOK")
	}
}

func TestDecideFence(t *testing.T) {
	upToDate := DiskSummary{Configured: true, AllUpToDate: true, AllConsistent: true}
	consistent := DiskSummary{Configured: true, AllConsistent: true}
	outdated := DiskSummary{Configured: true}
	for _, tc := range []struct {
		name  string
		in    FenceInput
		place bool
		code  int
	}{
		{"reachable, UpToDate", FenceInput{Quorum: true, Disk: upToDate, AllReachable: true}, true, ExitOutdated},
		{"reachable, Consistent", FenceInput{Quorum: true, Disk: consistent, AllReachable: true}, true, ExitOutdated},
		{"fenced, UpToDate", FenceInput{Quorum: true, Disk: upToDate, AllFenced: true}, true, ExitStonithed},
		{"fenced, Consistent", FenceInput{Quorum: true, Disk: consistent, AllFenced: true}, false, ExitUnreachable},
		{"unknown, UpToDate", FenceInput{Quorum: true, Disk: upToDate}, true, ExitUnreachable},
		{"unknown, Outdated", FenceInput{Quorum: true, Disk: outdated}, false, ExitUnreachable},
		{"unknown, Consistent, forced", FenceInput{Quorum: true, Disk: consistent, UnreachableOK: true}, true, ExitUnreachable},
		{"no quorum", FenceInput{Disk: upToDate, AllReachable: true}, false, ExitError},
		{"peers UpToDate", FenceInput{Quorum: true, Disk: DiskSummary{Configured: true, AllUpToDate: true, AllConsistent: true, PeersUpToDate: true}, AllReachable: true}, false, ExitError},
		{"not configured", FenceInput{Quorum: true, AllReachable: true}, false, ExitError},
	} {
		d := DecideFence(tc.in)
		if d.Place != tc.place || d.Code != tc.code || d.Reason == "" {
			t.Errorf("%s: %+v, want place=%v code=%d", tc.name, d, tc.place, tc.code)
		}
	}
}

func TestSummaries(t *testing.T) {
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join("..", "drbd", "testdata", p))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, tc := range []struct {
		file, res                       string
		configured, uptodate, peersGood bool
	}{
		{"drbd84/04-primary-secondary-uptodate/node1/events2_now.out", "r0", true, true, true},
		{"drbd84/03-syncing/node1/events2_now.out", "r0", true, true, false},
		{"drbd84/03-syncing/node2/events2_now.out", "r0", true, false, true},
		{"drbd84/09-survivor-after-peer-killed/node1/events2_now.out", "r0", true, true, false},
		{"drbd84/01-up-waitconnection/node1/events2_now.out", "r0", true, false, false},
		{"drbd9/events2-now-statistics-3node-centreon.txt", "drbd1", true, true, true},
		{"drbd9/events2-now-statistics-3node-centreon.txt", "r0", false, false, false},
	} {
		s := SummaryFromEvents2(read(tc.file), tc.res)
		if s.Configured != tc.configured || s.AllUpToDate != tc.uptodate || s.PeersUpToDate != tc.peersGood {
			t.Errorf("%s: %+v", tc.file, s)
		}
	}
	// /proc/drbd of DRBD 8.4 (its documented format; the test bed records
	// none yet).
	proc := `version: 8.4.11 (api:1/proto:86-101)
srcversion: 637677C4EAFCF5D1D5446B0
 0: cs:WFConnection ro:Primary/Unknown ds:UpToDate/DUnknown C r-----
    ns:0 nr:0 dw:0 dr:2120 al:0 bm:0 lo:0 pe:0 ua:0 ap:0 ep:1 wo:f oos:0
 1: cs:SyncSource ro:Primary/Secondary ds:UpToDate/Inconsistent C r-----
 2: cs:Connected ro:Secondary/Primary ds:Consistent/UpToDate C r-----
`
	if ProcDRBDVersion(proc) != 8 || ProcDRBDVersion("version: 9.2.12 (api:2/proto:86-122)\n") != 9 || ProcDRBDVersion("") != 0 {
		t.Error("ProcDRBDVersion")
	}
	s := SummaryFromProcDRBD(proc, ParseMinors("0 1"))
	if !s.Configured || !s.Primary || !s.AllUpToDate || s.PeersUpToDate || len(s.Disks) != 2 {
		t.Errorf("minors 0 1: %+v", s)
	}
	s = SummaryFromProcDRBD(proc, []int{2})
	if !s.Configured || s.Primary || s.AllUpToDate || !s.AllConsistent || !s.PeersUpToDate {
		t.Errorf("minor 2: %+v", s)
	}
	if s := SummaryFromProcDRBD(proc, []int{5}); s.Configured {
		t.Errorf("minor 5: %+v", s)
	}
}

func TestParseArgs(t *testing.T) {
	s, notes := Decl.ParseArgs(strings.Fields("--timeout=30 -d 15 --net-hickup 3 --frobnicate -p my-prefix --CTS-mode stray --suicide-on-failure-if-primary --quiet --unreachable-peer-is-outdated --fencing-attribute=site"), false)
	if s.Timeout != 30*time.Second || s.DCTimeout != 15*time.Second || s.NetHickup != 3*time.Second || s.IDPrefix != "my-prefix" ||
		!s.Quiet || s.UnreachableIsOut || s.FencingAttribute != "#uname" || s.FlockTimeout != 120*time.Second || s.LockDir != "/var/lock/drbd" {
		t.Errorf("settings %+v", s)
	}
	want := []string{"--frobnicate", "CTS-mode", "stray", "suicide-on-failure-if-primary", "unreachable-peer-is-outdated", "fencing-attribute"}
	all := strings.Join(notes, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("no note about %s:\n%s", w, all)
		}
	}
	s, notes = Decl.ParseArgs([]string{"-t", "x", "--unreachable-peer-is-outdated", "--timeout"}, true)
	if s.Timeout != 90*time.Second || !s.UnreachableIsOut || len(notes) != 2 {
		t.Errorf("%+v %q", s, notes)
	}
}

func TestManPageAndLog(t *testing.T) {
	page := Decl.ManPage("1.2.3", "2026-01-01")
	for _, w := range []string{".TH DRBD-FENCE 8", ".SH OPTIONS", `\-\-dc\-timeout`, ".SH ENVIRONMENT", "UP_TO_DATE_NODES", ".SH EXIT STATUS", "fence\\-peer"} {
		if !strings.Contains(page, w) {
			t.Errorf("man page lacks %q", w)
		}
	}
	if got := Escape("a\nb\x1b[31m\\c\u0085"); got != `a\nb\x1b[31m\\c\x85` {
		t.Errorf("Escape: %s", got)
	}
	var b strings.Builder
	l, _ := NewLogger(&b, "")
	l.Warnf("peer %s", "x\ny")
	if !strings.HasSuffix(b.String(), "WARNING: peer x\\ny\n") || strings.Count(b.String(), "\n") != 1 {
		t.Errorf("log line %q", b.String())
	}
	if _, err := NewLogger(&b, "nosuch"); err == nil {
		t.Error("unknown facility accepted")
	}
}

// TestClassifyNodeLive: the CIB of the test bed's survivor (Pacemaker 3.0.0, two VMs,
// fence_sbd) taken after it fenced its peer n1 in the seed plan's "both cables pulled":
// in_ccm="0" crmd="0" join="down" expected="down", the controller's own form.
func TestClassifyNodeLive(t *testing.T) {
	c := readCIB(t, "testdata/live/cib-pcmk3-peer-fenced.xml")
	if got := ClassifyNode(c.States["n1"], c.StonithEnabled, c.StartupFencing); got != PeerFenced {
		t.Errorf("n1: %s, want %s (%+v)", got, PeerFenced, c.States["n1"])
	}
	if got := ClassifyNode(c.States["n2"], c.StonithEnabled, c.StartupFencing); got != PeerAskController {
		t.Errorf("n2: %s, want %s (%+v)", got, PeerAskController, c.States["n2"])
	}
}
