package cluster

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gocf/gocf/tests/testbed"
)

// TestFaultsNS: make check's short version of issue 16's fault harness (testbed faults):
// faults 2 (Asterisk frozen), 3 (SIP stack dead in a live Asterisk) and 9 (a planned move
// with calls up) once each, on the gocf stack (crm-examples/pbx-shared.crm) in namespace
// nodes with a quorum device, SIPp calling through the VIP from the client namespace. Each
// fault must be recovered from (OPTIONS answered again, a new call set up) and noticed by the
// agent that should (2: pbx-asterisk's monitor; 3: its depth 20 SIP check); the planned move,
// with call_drain_timeout longer than the calls, must cut no call.
func TestFaultsNS(t *testing.T) {
	b := bedFor(t, "GOCF_TESTBED", testbed.Config{Mode: "ns", Nodes: 2, QDevice: true, Asterisk: true, SharedDisk: true})
	gocf, err := testbed.GocfExample("ns")
	if err != nil {
		t.Fatal(err)
	}
	st, err := testbed.NewFaultStack("gocf", "ns", gocf)
	if err != nil {
		t.Fatal(err)
	}
	faults, err := testbed.ParseFaults("2,3,9", "ns")
	if err != nil {
		t.Fatal(err)
	}
	// shorter calls than the harness's 20 s: the drain (hold + 10 s) stays within half of
	// the stop's 60 s timeout
	fc := testbed.FaultConfig{Faults: faults, Stacks: []string{"gocf"}, Runs: 1, Hold: 10 * time.Second, Pre: 12 * time.Second,
		WorkDir: t.TempDir()}
	s, err := b.FaultSetup(st, fc)
	if err != nil {
		t.Fatal(err)
	}
	rep := &testbed.FaultReport{Mode: "ns", Stacks: fc.Stacks, Faults: faults, Command: "go test -run " + t.Name() + " ./tests/cluster/",
		Date: time.Now()}
	defer func() {
		if len(rep.Runs) > 0 {
			t.Log(rep.Markdown())
			t.Log(rep.RunsMarkdown())
			if dir := os.Getenv("GOCF_FAULTS_OUT"); dir != "" {
				files, err := rep.Write(dir + "/FAULTS-check.md")
				t.Logf("wrote %v: %v", files, err)
			}
		}
	}()
	for _, f := range faults {
		r := s.Run(f, 1)
		rep.Runs = append(rep.Runs, r)
		if r.Err != "" {
			t.Fatalf("fault %d: %s", f.ID, r.Err)
		}
		if !r.SIPOK {
			t.Errorf("fault %d (%s): the PBX did not answer SIP OPTIONS again within %.0f s", f.ID, f.Title, r.Watched.Seconds())
		}
		if !r.CallOK {
			t.Errorf("fault %d (%s): no new call was set up after it", f.ID, f.Title)
		}
		switch f.ID {
		case 2, 3:
			d, ok := testbed.FirstDetection(r.Detections)
			switch {
			case !ok || !d.Failed:
				t.Errorf("fault %d: no failed action logged", f.ID)
			case d.Resource != "pbx-asterisk" || d.Action != "monitor":
				t.Errorf("fault %d: first noticed by %v, not pbx-asterisk's monitor", f.ID, d)
			case f.ID == 2 && (d.RC != 1 || !strings.Contains(d.Reason, "is stopped")):
				// Seen in /proc by the next monitor, not waited out until its timeout.
				t.Errorf("fault 2: noticed by %v, not as a stopped process", d)
			case f.ID == 3 && d.Depth != 20:
				t.Errorf("fault 3: noticed by %v, not the depth 20 SIP check", d)
			}
		case 9:
			if r.Calls.Cut != 0 {
				t.Errorf("planned move: %d calls cut (%+v)", r.Calls.Cut, r.Calls)
			}
			if r.After == r.Active || r.After == "" {
				t.Errorf("planned move: the PBX is on %q, it was on %s", r.After, r.Active)
			}
		}
		t.Logf("fault %d: %s", f.ID, summary(r))
	}
}

func summary(r testbed.FaultRun) string {
	var d []string
	for _, x := range r.Detections {
		d = append(d, fmt.Sprintf("%+.1fs %s", x.At.Sub(r.Mark).Seconds(), x))
	}
	return fmt.Sprintf("%s on %s → %s; OPTIONS back %.2fs, new call %.2fs; calls %+v; ep200 %s; detections: %s; unnecessary: %v",
		r.Injected, r.Active, r.After, r.SIPBack.Seconds(), r.CallBack.Seconds(), r.Calls, r.Ep200, strings.Join(d, "; "), r.Unnecessary)
}
