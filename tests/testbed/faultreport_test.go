package testbed

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gocf/gocf/tests/sipp"
)

func TestVerdict(t *testing.T) {
	f1, _ := FaultByID(1)
	f4, _ := FaultByID(4)
	f5, _ := FaultByID(5)
	f7, _ := FaultByID(7)
	f9, _ := FaultByID(9)
	act := func(rsc, op string) AgentAction { return AgentAction{Node: "n1", Resource: rsc, Action: op} }
	on2 := func(a AgentAction) AgentAction { a.Node = "n2"; return a }
	// the restart loop of testdata/pacemaker-faults.log: vip 3 starts, asterisk 2
	loop := []AgentAction{act("pbx-asterisk", "stop"), act("pbx-vip", "start"), act("pbx-asterisk", "start"), act("pbx-vip", "start"),
		act("pbx-asterisk", "start"), act("pbx-vip", "start")}
	for _, c := range []struct {
		f        Fault
		from, to string
		acts     []AgentAction
		want     []string
	}{
		{f1, "n1", "n1", []AgentAction{act("pbx-asterisk", "stop"), act("pbx-asterisk", "start")}, nil},
		{f1, "n1", "n2", []AgentAction{act("pbx-fs", "start"), act("pbx-vip", "start"), act("pbx-asterisk", "start")},
			[]string{"moved n1 → n2 (a restart in place repairs it)"}},
		{f1, "n1", "n1", []AgentAction{act("pbx-vip", "start"), act("pbx-asterisk", "start")}, []string{"pbx-vip restarted (not needed)"}},
		{f4, "n1", "n1", loop, []string{"pbx-asterisk started 2×", "pbx-vip started 3×"}},
		{f5, "n1", "n1", loop, []string{"pbx-asterisk restarted (not needed)", "pbx-vip restarted (not needed)"}},
		{f5, "n1", "n2", []AgentAction{act("pbx-fs", "start"), act("pbx-vip", "start"), act("pbx-asterisk", "start")}, nil},
		{f7, "n1", "n1", nil, nil},
		{f7, "n1", "n1", []AgentAction{act("pbx-fs", "start")}, []string{"pbx-fs started 1×"}},
		{f7, "n1", "n2", nil, []string{"moved n1 → n2"}},
		{f9, "n1", "n2", []AgentAction{act("pbx-fs", "start"), act("pbx-vip", "start"), act("pbx-asterisk", "start")}, nil},
		{f9, "n1", "n2", []AgentAction{act("pbx-asterisk", "start"), act("pbx-asterisk", "start")}, []string{"pbx-asterisk started 2× (once is the move)"}},
		// DRBD detached under the Primary: riding it out and one move are both fine
		{Fault6DM, "n1", "n1", nil, nil},
		{Fault6DM, "n1", "n1", []AgentAction{act("pbx-drbd", "monitor"), act("pbx-asterisk", "monitor")}, nil},
		{Fault6DM, "n1", "n2", []AgentAction{act("pbx-asterisk", "stop"), act("pbx-vip", "stop"), act("pbx-fs", "stop"),
			act("pbx-drbd", "demote"), on2(act("pbx-drbd", "promote")), on2(act("pbx-fs", "start")), on2(act("pbx-vip", "start")),
			on2(act("pbx-asterisk", "start"))}, nil},
		{Fault6DM, "n1", "n1", []AgentAction{act("pbx-fs", "start"), act("pbx-vip", "start"), act("pbx-asterisk", "start")},
			[]string{"pbx-asterisk restarted on n1 (its disk still fails: repairs nothing)", "pbx-fs restarted on n1 (its disk still fails: repairs nothing)",
				"pbx-vip restarted on n1 (its disk still fails: repairs nothing)"}},
		// after the move, the detached Secondary's DRBD restarted (gocf's agent fails a
		// Secondary without its disk)
		{Fault6DM, "n1", "n2", []AgentAction{on2(act("pbx-fs", "start")), on2(act("pbx-vip", "start")), on2(act("pbx-asterisk", "start")),
			act("pbx-drbd", "stop"), act("pbx-drbd", "start")}, []string{"pbx-drbd restarted on n1 (its disk still fails: repairs nothing)"}},
		{Fault6DM, "n1", "n2", []AgentAction{on2(act("pbx-fs", "start")), on2(act("pbx-vip", "start")), on2(act("pbx-asterisk", "start")),
			on2(act("pbx-asterisk", "start"))}, []string{"pbx-asterisk started 2× (once is the move)"}},
	} {
		if got := Verdict(c.f, c.from, c.to, c.acts); !slices.Equal(got, c.want) {
			t.Errorf("fault %d %s→%s %v: %q, want %q", c.f.ID, c.from, c.to, c.acts, got, c.want)
		}
	}
}

// fakeRun is a run of fault f on stack st: OPTIONS back after sipBack (0: never lost; <0:
// never back), a new call 1.5 s later, a detection at det (0: none).
func fakeRun(f Fault, st string, run int, sipBack, det time.Duration, failed, cut int) FaultRun {
	mark := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC).Add(time.Duration(run) * time.Hour)
	r := FaultRun{Mode: "ns", Stack: st, Fault: f.ID, Run: run, Active: "n1", After: "n1", Mark: mark, Watched: 60 * time.Second,
		Calls: Calls{Attempted: 100, Successful: 100 - failed - cut, Failed: failed, Cut: cut}, Ep200: "reached",
		FailCounts: map[string]string{}}
	if sipBack >= 0 {
		r.SIPOK, r.SIPBack, r.CallOK, r.CallBack = true, sipBack, true, sipBack+1500*time.Millisecond
	} else {
		r.After, r.Ep200 = "", "not tried: the PBX does not answer"
	}
	if det > 0 {
		r.Detections = []Detection{{At: mark.Add(det), Node: "n1", Resource: "pbx-asterisk", Action: "monitor", Interval: 10 * time.Second,
			RC: 7, Result: "Not running", Failed: true}}
	}
	for s := -20.0; s < 60; s += 0.1 {
		at := mark.Add(time.Duration(s * float64(time.Second)))
		r.Probes = append(r.Probes, ProbeResult{At: at, OK: s < 0 || sipBack >= 0 && at.Sub(mark) >= sipBack})
	}
	for s := -19.0; s <= 60; s++ {
		r.Seconds = append(r.Seconds, sipp.Second{Time: mark.Add(time.Duration(s) * time.Second), Successful: 2})
	}
	return r
}

func TestSummarizeCell(t *testing.T) {
	f1, _ := FaultByID(1)
	f7, _ := FaultByID(7)
	runs := []FaultRun{fakeRun(f1, "gocf", 1, 12*time.Second, 9*time.Second, 10, 40), fakeRun(f1, "gocf", 2, 10*time.Second, 8*time.Second, 8, 38),
		fakeRun(f1, "gocf", 3, 30*time.Second, 25*time.Second, 30, 41)}
	runs[1].FailCounts["pbx-asterisk on n1"] = "1"
	if m, _ := MedianRun(runs); m.Run != 1 {
		t.Errorf("median run %d, want 1", m.Run)
	}
	c := SummarizeCell(f1, runs)
	want := "OPTIONS 12.0 s, new call 13.5 s (3 runs); calls: 10 failed, 40 cut; detected by pbx-asterisk monitor (depth 0, every 10s) → 7 not running at 9.0 s"
	if c.Words != want || len(c.Seconds) != 3 || c.Failed != 48 || c.Cut != 119 {
		t.Errorf("cell %q %+v\nwant %q", c.Words, c, want)
	}
	// the median run (2 of 4, lower middle) leaves a fail count; one run's ep200 not reached
	runs = append(runs, fakeRun(f1, "gocf", 4, 11*time.Second, 8*time.Second, 9, 39))
	runs[3].Ep200 = "not reached (1 failed, 0 cut)"
	runs[1].FailCounts["pbx-asterisk on n1"] = "1"
	if m, _ := MedianRun(runs); m.Run != 4 {
		t.Errorf("median of 4: run %d, want 4 (11 s)", m.Run)
	}
	runs[3].FailCounts["pbx-asterisk on n1"] = "1"
	c = SummarizeCell(f1, runs)
	for _, w := range []string{"OPTIONS 11.5 s, new call 13.0 s (4 runs)", "calls: 10 failed, 40 cut",
		"left: fail counts pbx-asterisk on n1 1", "ep200 reached after the fault in 3 of 4 runs"} {
		if !strings.Contains(c.Words, w) {
			t.Errorf("cell %q: no %q", c.Words, w)
		}
	}
	hb := []FaultRun{fakeRun(f1, "hb1", 1, -1, 0, 60, 40), fakeRun(f1, "hb1", 2, -1, 0, 62, 40)}
	if c := SummarizeCell(f1, hb); !strings.HasPrefix(c.Words, "not detected: PBX down until a human acts (2 runs); calls: 61 failed, 40 cut") ||
		!strings.Contains(c.Words, "ep200 reached after the fault in 0 of 2 runs") {
		t.Errorf("hb1: %q", c.Words)
	}
	mixed := []FaultRun{fakeRun(f1, "shell", 1, 20*time.Second, 15*time.Second, 1, 1), fakeRun(f1, "shell", 2, -1, 0, 1, 1),
		fakeRun(f1, "shell", 3, -1, 14*time.Second, 1, 1)}
	if c := SummarizeCell(f1, mixed); !strings.HasPrefix(c.Words, "OPTIONS 20.0 s, new call 21.5 s (1 of 3 runs); not detected in 1 of 3 runs; detected but not recovered in 1 of 3 runs") {
		t.Errorf("mixed: %q", c.Words)
	}
	quiet := []FaultRun{fakeRun(f7, "gocf", 1, 0, 0, 0, 0)}
	if c := SummarizeCell(f7, quiet); !strings.HasPrefix(c.Words, "no OPTIONS unanswered; first new call 1.5 s (1 run); calls: 0 failed, 0 cut") {
		t.Errorf("quiet: %q", c.Words)
	}
	bad := fakeRun(f1, "gocf", 1, 0, 0, 0, 0)
	bad.Err = "restore: boom"
	if c := SummarizeCell(f1, []FaultRun{bad}); c.Words != "run failed: restore: boom" {
		t.Errorf("error: %q", c.Words)
	}
	if c := SummarizeCell(f1, nil); c.Words != "not run" {
		t.Errorf("none: %q", c.Words)
	}
}

func TestFaultReportFiles(t *testing.T) {
	f1, _ := FaultByID(1)
	f9, _ := FaultByID(9)
	rep := &FaultReport{Mode: "ns", Command: "testbed faults --mode ns", Date: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC),
		Stacks: []string{"gocf", "hb1"}, Faults: []Fault{f1, f9}}
	for i := 1; i <= 3; i++ {
		rep.Runs = append(rep.Runs, fakeRun(f1, "gocf", i, time.Duration(8+i)*time.Second, 7*time.Second, 5, 20),
			fakeRun(f1, "hb1", i, -1, 0, 60, 40))
	}
	rep.Runs = append(rep.Runs, fakeRun(f9, "gocf", 1, 0, 0, 3, 0))
	rep.Runs[len(rep.Runs)-1].Notes = []string{"a note", "another"}
	tab := rep.Table()
	if len(tab.Rows) != 2 || len(tab.Stacks) != 2 || tab.Rows[1].Cells[1].Words != "not run" {
		t.Fatalf("table %+v", tab)
	}
	md := rep.Markdown()
	for _, w := range []string{"## Faults, ns mode, 2026-11-30 12:00 UTC", "| 1. Asterisk SIGKILLed | OPTIONS 10.0 s, new call 11.5 s (3 runs)",
		"| Heartbeat-1 style (shell agents, no monitors) |", "not detected: PBX down until a human acts (3 runs)", "[9](faults/ns-9-move.svg)"} {
		if !strings.Contains(md, w) {
			t.Errorf("no %q in\n%s", w, md)
		}
	}
	runs := rep.RunsMarkdown()
	if strings.Count(runs, "\n### fault ") != 7 || !strings.Contains(runs, "OPTIONS answered again after never") ||
		strings.Count(runs, "- notes: ") != 1 || !strings.Contains(runs, "- notes: a note; another\n") {
		t.Errorf("runs:\n%s", runs)
	}
	tl, ok := rep.Timeline(f1)
	if !ok || len(tl.Lanes) != 2 || tl.Lanes[0].Stack != "gocf" || len(tl.Lanes[0].Events) != 3 || len(tl.Lanes[1].Events) != 0 || tl.To != 70*time.Second {
		t.Fatalf("timeline %+v", tl)
	}
	// each lane's fault at x = 0: the runs were an hour apart
	if d := tl.Lanes[1].Probes[200].At.Sub(tl.Fault); d != 0 {
		t.Errorf("hb1's lane is off by %v", d)
	}
	dir := t.TempDir()
	files, err := rep.Write(filepath.Join(dir, "FAULTS-ns.md"))
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"FAULTS-ns.md", "FAULTS-ns-runs.md", "FAULTS-ns.json", "faults/ns-1-kill.svg", "faults/ns-9-move.svg"}
	if len(files) != len(names) {
		t.Errorf("files %v", files)
	}
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		switch filepath.Ext(n) {
		case ".svg":
			d := xml.NewDecoder(bytes.NewReader(data))
			for {
				if _, err := d.Token(); err == io.EOF {
					break
				} else if err != nil {
					t.Fatalf("%s: %v", n, err)
				}
			}
		case ".json":
			var back FaultReport
			if err := json.Unmarshal(data, &back); err != nil || len(back.Runs) != 7 || len(back.Runs[0].Seconds) == 0 ||
				len(back.Runs[0].Probes) != len(rep.Runs[0].Probes) || len(back.Runs[0].Probes) == 0 {
				t.Errorf("json: %v, %d runs", err, len(back.Runs))
			}
		}
	}
}

// Keep: a new run of fault 8 on shell and hb1 replaces the old hb1 one and keeps gocf's and
// fault 6's; the columns stay in their usual order; a timeline with a kept run (no probes) is
// not redrawn; the table says which commands the kept runs come from.
func TestFaultReportKeep(t *testing.T) {
	f6, _ := FaultByID(6)
	f8, _ := FaultByID(8)
	at := func(day, h, m int) time.Time { return time.Date(2026, 11, day, h, m, 30, 0, time.UTC) }
	// Old measured gocf and hb1 at 17:29 and had kept two runs of a command of the day before.
	old := &FaultReport{Mode: "vm", Command: "testbed faults --mode vm --stack gocf,hb1 --faults 6,8",
		Date: at(30, 17, 29), Stacks: []string{"gocf", "hb1"}, Faults: []Fault{f6, f8},
		Runs: []FaultRun{{Fault: 6, Stack: "gocf", Run: 1, Mark: at(30, 17, 35)}, {Fault: 8, Stack: "gocf", Run: 1, Mark: at(30, 17, 50)},
			{Fault: 8, Stack: "hb1", Run: 1, Mark: at(29, 10, 5)}, {Fault: 6, Stack: "hb1", Run: 1, Mark: at(29, 10, 20)}},
		Kept: []string{"`testbed faults --mode vm --stack hb1` (2026-11-29 10:00 UTC, 2 runs)"}}
	probe := []ProbeResult{{At: time.Now(), OK: true}}
	rep := &FaultReport{Mode: "vm", Command: "testbed faults --mode vm --stack shell,hb1 --faults 8", Date: at(30, 21, 39),
		Stacks: []string{"shell", "hb1"}, Faults: []Fault{f8},
		Runs: []FaultRun{{Fault: 8, Stack: "shell", Run: 1, Mark: at(30, 21, 45), Probes: probe},
			{Fault: 8, Stack: "hb1", Run: 1, Mark: at(30, 21, 50), Probes: probe}}}
	if !rep.probed(f8) {
		t.Fatal("fault 8 unprobed before keeping")
	}
	if err := rep.Keep(old); err != nil {
		t.Fatal(err)
	}
	if len(rep.Faults) != 2 || rep.Faults[0].ID != 6 || rep.Faults[1].ID != 8 || len(rep.Runs) != 5 {
		t.Fatalf("faults %v, kept %v", rep.Faults, rep.Kept)
	}
	if !slices.Equal(rep.Stacks, []string{"gocf", "shell", "hb1"}) {
		t.Errorf("stacks %v, want gocf, shell, hb1", rep.Stacks)
	}
	if h := rep.RunsOf(8, "hb1"); len(h) != 1 || len(h[0].Probes) != 1 {
		t.Errorf("fault 8 on hb1: %+v", h)
	}
	if len(rep.RunsOf(8, "gocf")) != 1 || len(rep.RunsOf(6, "gocf")) != 1 || rep.probed(rep.Faults[0]) || rep.probed(rep.Faults[1]) {
		t.Errorf("kept fault 8 gocf %d, fault 6 gocf %d runs; probed 6 %v, 8 %v", len(rep.RunsOf(8, "gocf")), len(rep.RunsOf(6, "gocf")),
			rep.probed(rep.Faults[0]), rep.probed(rep.Faults[1]))
	}
	// Each kept run counts for the command that measured it; hb1's fault 8 of the day before
	// is replaced, its fault 6 stays.
	want := "Runs kept from `testbed faults --mode vm --stack gocf,hb1 --faults 6,8` (2026-11-30 17:29 UTC, 2 runs); " +
		"`testbed faults --mode vm --stack hb1` (2026-11-29 10:00 UTC, 1 run)."
	if md := rep.Markdown(); !strings.Contains(md, want) {
		t.Errorf("the table does not say where the kept runs come from (want %q):\n%s", want, md)
	}
	// Kept again with nothing left of the day before: its command is dropped.
	again := &FaultReport{Mode: "vm", Command: "testbed faults --mode vm --stack hb1 --faults 6", Date: at(30, 22, 6), Stacks: []string{"hb1"},
		Faults: []Fault{f6}, Runs: []FaultRun{{Fault: 6, Stack: "hb1", Run: 1, Mark: at(30, 22, 12)}}}
	if err := again.Keep(rep); err != nil {
		t.Fatal(err)
	}
	if len(again.Kept) != 2 || again.Kept[0] != "`testbed faults --mode vm --stack shell,hb1 --faults 8` (2026-11-30 21:39 UTC, 2 runs)" ||
		again.Kept[1] != "`testbed faults --mode vm --stack gocf,hb1 --faults 6,8` (2026-11-30 17:29 UTC, 2 runs)" {
		t.Errorf("kept again: %q", again.Kept)
	}
	if err := rep.Keep(&FaultReport{Mode: "ns"}); err == nil {
		t.Error("an ns report kept in a vm one")
	}
}

// A run's probes survive its JSON (as milliseconds from the fault), so a kept run still draws
// its lane; a JSON whose probe times and results disagree is refused.
func TestFaultRunJSONProbes(t *testing.T) {
	mark := time.Date(2026, 11, 30, 22, 12, 22, 410456924, time.UTC)
	r := FaultRun{Fault: 6, Stack: "hb1", Mark: mark, SIPBack: 3 * time.Second,
		Probes: []ProbeResult{{At: mark.Add(-1500 * time.Millisecond), OK: true}, {At: mark.Add(100 * time.Millisecond), OK: false},
			{At: mark.Add(2900 * time.Millisecond), OK: true}}}
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"ProbeMS":"-1500 100 2900","ProbeOK":"101"`) {
		t.Errorf("probes in the JSON: %s", data)
	}
	var back FaultRun
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back.Fault != 6 || back.Stack != "hb1" || !back.Mark.Equal(mark) || back.SIPBack != 3*time.Second || len(back.Probes) != 3 {
		t.Fatalf("back: %+v", back)
	}
	for i, p := range back.Probes {
		if !p.At.Equal(r.Probes[i].At) || p.OK != r.Probes[i].OK {
			t.Errorf("probe %d: %+v, want %+v", i, p, r.Probes[i])
		}
	}
	if err := json.Unmarshal([]byte(`{"Fault":6,"ProbeMS":"1 2","ProbeOK":"1"}`), &back); err == nil {
		t.Error("2 probe times with 1 result accepted")
	}
	if err := json.Unmarshal([]byte(`{"Fault":6,"ProbeMS":"1 x","ProbeOK":"11"}`), &back); err == nil {
		t.Error("a probe time x accepted")
	}
}
