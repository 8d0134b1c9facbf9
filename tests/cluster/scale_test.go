package cluster

import (
	"os"
	"testing"

	"github.com/gocf/gocf/tests/testbed"
)

// TestScaleNS: make check's small version of issue 17's scale runs (testbed scale): on three
// namespace nodes, 20 addresses (ocf:gocf:vip) and then 20 filesystems (ocf:gocf:fsmount, ext4
// on loop devices), each independent and then as one group, must all start on n1 and, after
// n1's power-off, all answer on the survivors (addresses: ping from the client; filesystems:
// the survivors' mount tables). GOCF_SCALE_OUT=DIR writes the runs' table, JSON and plot there.
func TestScaleNS(t *testing.T) {
	b := bedFor(t, "GOCF_TESTBED", testbed.Config{Mode: "ns", Nodes: 3})
	const n = 20
	runs, err := b.ScaleCheck(n)
	rep := &testbed.ScaleReport{Command: "go test -run " + t.Name() + " ./tests/cluster/", Mode: "ns", Nodes: 3, Runs: runs}
	if len(runs) > 0 {
		t.Log(rep.Markdown())
		if dir := os.Getenv("GOCF_SCALE_OUT"); dir != "" {
			files, werr := rep.Write(dir + "/SCALE-check.md")
			t.Logf("wrote %v: %v", files, werr)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		if r.Answered != n {
			t.Errorf("%s: %d of %d answered after the failover", r.Variant(), r.Answered, n)
		}
		t.Logf("%s: membership %.2fs after the power-off, the last of %d answering %.2fs after it; %d starts at once; went to %s",
			r.Variant(), r.Membership, n, r.AfterMembership, r.MaxConcurrent, r.Survivors)
	}
}
