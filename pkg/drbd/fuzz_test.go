package drbd

import (
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary text through the parser and every decision
// built on it: none may panic, whatever drbdsetup (or a broken pipe) writes.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/drbd9/events2-*.txt")
	more, _ := filepath.Glob("testdata/drbd84/*/*/events2_now*.out")
	for _, name := range append(files, more...) {
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
