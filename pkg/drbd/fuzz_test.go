package drbd

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary text through the parser and every decision
// built on it: none may panic, whatever drbdsetup (or a broken pipe) writes.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/drbd9/events2-*.txt")
	more, _ := filepath.Glob("testdata/drbd84/*/*/events2_now*.out")
	more92, _ := filepath.Glob("testdata/drbd92*/*/*/events2_now*.out")
	streams, _ := filepath.Glob("testdata/drbd92*/events2_stream/*.txt")
	for _, name := range slices.Concat(files, more, more92, streams) {
		rel, _ := filepath.Rel("testdata", name)
		f.Add(readTestdata(f, rel))
	}
	f.Add("exists connection name:r peer-node-id:0\n  conn-name:p\ndestroy connection name:r conn-name:p\nexists -")
	f.Fuzz(func(t *testing.T, s string) {
		m := ParseString(s)
		if m.Malformed < len(m.Skipped) || len(m.Skipped) > maxSkipped || len(m.Helpers) > maxHelpers {
			t.Fatalf("bookkeeping %d %d %d", m.Malformed, len(m.Skipped), len(m.Helpers))
		}
		for _, r := range m.Resources {
			Score(r, DefaultScores)
			Monitor(m, r.Name, MonitorOptions{ExpectConnection: true})
			r.DiskSummary()
			r.PeerRole()
			r.SomePeerUpToDate()
			r.PeerDisksKnown()
			r.Resyncing()
		}
		Monitor(m, "r0", MonitorOptions{})
	})
}

// FuzzSmallParsers covers the parsers of parameter values and tool output
// besides events2: what they accept must read back the same.
func FuzzSmallParsers(f *testing.F) {
	for _, s := range []string{"0 10 1000 10000", "8.4.11", "9.2.18", "DRBD_KERNEL_VERSION_CODE=0x08040b\nDRBDADM_VERSION_CODE=0x091600\n",
		"resource pbx-drbd is running on: n1 Promoted\nresource pbx-drbd is running on: n2 \n", "-1 -2 x 4", "255.255.256"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if sc, err := ParseScores(s); err == nil {
			if again, err := ParseScores(sc.String()); err != nil || again != sc {
				t.Fatalf("scores %q -> %v -> %v %v", s, sc, again, err)
			}
		}
		if code, err := ParseVersion(s); err == nil {
			if again, err := ParseVersion(VersionString(code)); err != nil || again != code {
				t.Fatalf("version %q -> %x -> %x %v", s, code, again, err)
			}
		}
		parseVersions(s)
		for _, n := range parseLocate(s, "n1") {
			if strings.EqualFold(n, "n1") || n == "" || strings.ContainsAny(n, " \t\n") {
				t.Fatalf("locate %q gave %q", s, n)
			}
		}
	})
}
