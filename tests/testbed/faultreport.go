package testbed

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"gonum.org/v1/plot/vg"

	"github.com/gocf/gocf/tests/faultplot"
)

// FaultReport is what RunFaults measured: every run of every fault on every stack.
type FaultReport struct {
	Mode    string
	Command string
	Date    time.Time
	Stacks  []string
	Faults  []Fault
	Runs    []FaultRun
	// Kept says where the runs that Keep took from an earlier report come from.
	Kept []string `json:",omitempty"`
}

// Keep adds the runs of old whose fault and stack this report did not measure, with their
// faults and stacks, so that one table holds runs of several commands (a vm run takes 20
// minutes per stack). Runs from a JSON written before it held the probes have none, and Write
// leaves the timelines of their faults as they are.
func (rep *FaultReport) Keep(old *FaultReport) error {
	if old.Mode != rep.Mode {
		return fmt.Errorf("keep: a %s report in a %s one", old.Mode, rep.Mode)
	}
	type key struct {
		fault int
		stack string
	}
	measured := map[key]bool{}
	for _, r := range rep.Runs {
		measured[key{r.Fault, r.Stack}] = true
	}
	var kept []FaultRun
	for _, r := range old.Runs {
		if measured[key{r.Fault, r.Stack}] {
			continue
		}
		rep.Runs = append(rep.Runs, r)
		kept = append(kept, r)
		if !slices.Contains(rep.Stacks, r.Stack) {
			rep.Stacks = append(rep.Stacks, r.Stack)
		}
		if !slices.ContainsFunc(rep.Faults, func(f Fault) bool { return f.ID == r.Fault }) {
			i := slices.IndexFunc(old.Faults, func(f Fault) bool { return f.ID == r.Fault })
			if i < 0 {
				return fmt.Errorf("keep: run of fault %d without the fault", r.Fault)
			}
			rep.Faults = append(rep.Faults, old.Faults[i])
		}
	}
	slices.SortStableFunc(rep.Faults, func(a, b Fault) int { return a.ID - b.ID })
	// The table's columns in their usual order, whichever run measured which stack.
	rank := func(s string) int {
		if i := slices.Index(FaultStackNames, s); i >= 0 {
			return i
		}
		return len(FaultStackNames)
	}
	slices.SortStableFunc(rep.Stacks, func(a, b string) int { return rank(a) - rank(b) })
	rep.Kept = keptSources(old, kept)
	return nil
}

const keptDate = "2006-01-02 15:04 UTC"

// keptSource is a command whose runs a report holds: a line of Kept, "`command` (date, n runs)".
type keptSource struct {
	line string // the command, in backquotes
	date time.Time
	runs int
}

var keptRE = regexp.MustCompile("^(`.*`) \\((\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC), \\d+ runs?\\)$")

// keptSources counts the kept runs per command that measured them: old's own and those old
// had kept, each run going to the latest command started before its fault. Commands none of
// whose runs are left are dropped.
func keptSources(old *FaultReport, kept []FaultRun) []string {
	if len(kept) == 0 {
		return nil
	}
	srcs := []*keptSource{{line: "`" + old.Command + "`", date: old.Date.UTC().Truncate(time.Minute)}}
	var other []string
	for _, l := range old.Kept {
		m := keptRE.FindStringSubmatch(l)
		if m == nil {
			other = append(other, l)
			continue
		}
		d, err := time.Parse(keptDate, m[2])
		if err != nil {
			other = append(other, l)
			continue
		}
		srcs = append(srcs, &keptSource{line: m[1], date: d})
	}
	slices.SortStableFunc(srcs, func(a, b *keptSource) int { return b.date.Compare(a.date) })
	for _, r := range kept {
		for _, s := range srcs {
			if !s.date.After(r.Mark) {
				s.runs++
				break
			}
		}
	}
	var lines []string
	for _, s := range srcs {
		if s.runs > 0 {
			lines = append(lines, fmt.Sprintf("%s (%s, %s)", s.line, s.date.Format(keptDate), nRuns(s.runs)))
		}
	}
	return append(lines, other...)
}

// nRuns is "1 run" or "n runs".
func nRuns(n int) string {
	if n == 1 {
		return "1 run"
	}
	return fmt.Sprintf("%d runs", n)
}

// probed tells whether every run of fault f has its probes (runs kept from an older JSON have none).
func (rep *FaultReport) probed(f Fault) bool {
	for _, r := range rep.Runs {
		if r.Fault == f.ID && len(r.Probes) == 0 {
			return false
		}
	}
	return true
}

// RunsOf returns the runs of a fault on a stack, in order.
func (rep *FaultReport) RunsOf(fault int, stack string) []FaultRun {
	var out []FaultRun
	for _, r := range rep.Runs {
		if r.Fault == fault && r.Stack == stack {
			out = append(out, r)
		}
	}
	return out
}

// outcome of one run, for the table.
func outcome(r FaultRun) string {
	_, detected := FirstDetection(r.Detections)
	switch {
	case r.Err != "":
		return "error"
	case r.Recovered() && r.SIPBack == 0:
		return "no outage"
	case r.Recovered():
		return "recovered"
	case !detected:
		return "not detected"
	}
	return "not recovered"
}

// MedianRun is the run whose time to the answered OPTIONS is the median of the runs done
// (the lower middle of an even count; runs that did not recover count as longest). ok is
// false when no run was done.
func MedianRun(runs []FaultRun) (FaultRun, bool) {
	var done []FaultRun
	for _, r := range runs {
		if r.Err == "" {
			done = append(done, r)
		}
	}
	if len(done) == 0 {
		return FaultRun{}, false
	}
	sort.SliceStable(done, func(i, j int) bool {
		a, b := done[i], done[j]
		if a.Recovered() != b.Recovered() {
			return a.Recovered()
		}
		if a.SIPBack != b.SIPBack {
			return a.SIPBack < b.SIPBack
		}
		return a.CallBack < b.CallBack
	})
	return done[(len(done)-1)/2], true
}

func medianInt(v []int) float64 {
	f := make([]float64, len(v))
	for i, x := range v {
		f[i] = float64(x)
	}
	return faultplot.Median(f)
}

// SummarizeCell is the table's cell for the runs of one fault on one stack: medians of the
// times to the answered OPTIONS and to the first new call over the runs that recovered, the
// calls failed and cut (medians per run), the detection, what was unnecessary, the state
// left; or words when the stack did not recover.
func SummarizeCell(f Fault, runs []FaultRun) faultplot.Cell {
	var c faultplot.Cell
	var done []FaultRun
	var errs []string
	for _, r := range runs {
		if r.Err != "" {
			errs = append(errs, r.Err)
			continue
		}
		done = append(done, r)
	}
	if len(done) == 0 {
		if len(errs) == 0 {
			c.Words = "not run"
		} else {
			c.Words = "run failed: " + errs[0]
		}
		return c
	}
	var sips, calls []float64
	var failed, cut []int
	count := map[string]int{}
	for _, r := range done {
		count[outcome(r)]++
		failed, cut = append(failed, r.Calls.Failed), append(cut, r.Calls.Cut)
		c.Failed += r.Calls.Failed
		c.Cut += r.Calls.Cut
		if r.Recovered() {
			sips = append(sips, r.SIPBack.Seconds())
			calls = append(calls, r.CallBack.Seconds())
		}
	}
	c.Seconds = sips
	n := len(done)
	runsWord := func(k int) string {
		if k == n {
			return nRuns(n)
		}
		return fmt.Sprintf("%d of %d runs", k, n)
	}
	var parts []string
	switch {
	case count["not detected"] == n:
		parts = append(parts, "not detected: PBX down until a human acts ("+runsWord(n)+")")
	case count["no outage"] == n:
		parts = append(parts, fmt.Sprintf("no OPTIONS unanswered; first new call %.1f s (%s)", faultplot.Median(calls), runsWord(n)))
	case len(sips) > 0:
		parts = append(parts, fmt.Sprintf("OPTIONS %.1f s, new call %.1f s (%s)", faultplot.Median(sips), faultplot.Median(calls), runsWord(len(sips))))
		if k := count["not detected"]; k > 0 {
			parts = append(parts, fmt.Sprintf("not detected in %s", runsWord(k)))
		}
		if k := count["not recovered"]; k > 0 {
			parts = append(parts, fmt.Sprintf("detected but not recovered in %s", runsWord(k)))
		}
	default:
		parts = append(parts, "detected, not recovered: PBX down until a human acts ("+runsWord(n)+")")
	}
	parts = append(parts, fmt.Sprintf("calls: %.0f failed, %.0f cut", medianInt(failed), medianInt(cut)))
	med, _ := MedianRun(done)
	if d, ok := FirstDetection(med.Detections); ok {
		parts = append(parts, fmt.Sprintf("detected by %s at %.1f s", d, d.At.Sub(med.Mark).Seconds()))
	}
	var unn []string
	for _, r := range done {
		for _, u := range r.Unnecessary {
			if !slices.Contains(unn, u) {
				unn = append(unn, u)
			}
		}
	}
	if len(unn) > 0 {
		parts = append(parts, "unnecessary: "+strings.Join(unn, ", "))
	}
	if len(med.FailCounts) > 0 {
		var fc []string
		for _, k := range sortedMapKeys(med.FailCounts) {
			fc = append(fc, k+" "+med.FailCounts[k])
		}
		parts = append(parts, "left: fail counts "+strings.Join(fc, ", "))
	}
	reached := 0
	for _, r := range done {
		if r.Ep200 == "reached" {
			reached++
		}
	}
	if reached < n {
		parts = append(parts, fmt.Sprintf("ep200 reached after the fault in %s", runsWord(reached)))
	}
	if len(errs) > 0 {
		parts = append(parts, fmt.Sprintf("%d run(s) failed", len(errs)))
	}
	c.Words = strings.Join(parts, "; ")
	return c
}

func sortedMapKeys(m map[string]string) []string {
	k := make([]string, 0, len(m))
	for x := range m {
		k = append(k, x)
	}
	sort.Strings(k)
	return k
}

// Table is faults by stacks.
func (rep *FaultReport) Table() faultplot.Table {
	t := faultplot.Table{}
	for _, s := range rep.Stacks {
		t.Stacks = append(t.Stacks, StackTitle(s))
	}
	for _, f := range rep.Faults {
		row := faultplot.Row{Fault: fmt.Sprintf("%d. %s", f.ID, f.Title)}
		for _, s := range rep.Stacks {
			row.Cells = append(row.Cells, SummarizeCell(f, rep.RunsOf(f.ID, s)))
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// svgName is the timeline file of a fault, relative to the table's directory.
func (rep *FaultReport) svgName(f Fault) string {
	return filepath.Join("faults", fmt.Sprintf("%s-%d-%s.svg", rep.Mode, f.ID, f.Name))
}

// Markdown is the table with what it means and how it was made.
func (rep *FaultReport) Markdown() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "## Faults, %s mode, %s\n\n", rep.Mode, rep.Date.UTC().Format("2006-01-02 15:04 UTC"))
	if rep.Command != "" {
		fmt.Fprintf(&sb, "Command: `%s` (as root); %d cores, accel %s.", rep.Command, runtime.NumCPU(), accelName(rep.Mode))
		if len(rep.Kept) > 0 {
			fmt.Fprintf(&sb, " Runs kept from %s.", strings.Join(rep.Kept, "; "))
		}
		sb.WriteString("\n\n")
	}
	sb.WriteString("The seed plan's PBX (two nodes, a quorum device, Asterisk's directories on /replica), " +
		"SIPp calling extension 100 through the VIP from the client namespace, SIP OPTIONS every 100 ms; each fault hits " +
		"the node running the PBX in a settled cluster. Per cell, medians over the runs: the fault to the first OPTIONS " +
		"answered after the last unanswered one, and to the first new call set up after the last failed one; calls " +
		"failed to set up and cut while up (per run); the first failed action logged (resource, action, depth, exit code, " +
		"reason) and when; restarts and moves the fault did not need; fail counts left; whether ep200, registered before " +
		"the fault, was reached through extension 200 afterwards. Every run: the `-runs.md` file beside this one.\n\n")
	sb.WriteString(rep.Table().Markdown())
	sb.WriteString("\nTimelines (a lane per stack, the median run):")
	for _, f := range rep.Faults {
		fmt.Fprintf(&sb, " [%d](%s)", f.ID, filepath.ToSlash(rep.svgName(f)))
	}
	sb.WriteString(".\n")
	return sb.String()
}

func accelName(mode string) string {
	if mode == "vm" {
		return Accel()
	}
	return "native (namespaces)"
}

// RunsMarkdown lists every run.
func (rep *FaultReport) RunsMarkdown() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "## Fault runs, %s mode, %s\n\n", rep.Mode, rep.Date.UTC().Format("2006-01-02 15:04 UTC"))
	if rep.Command != "" {
		fmt.Fprintf(&sb, "Command: `%s`.\n", rep.Command)
	}
	if len(rep.Kept) > 0 {
		fmt.Fprintf(&sb, "Runs kept from %s.\n", strings.Join(rep.Kept, "; "))
	}
	secs := func(d time.Duration, ok bool) string {
		if !ok {
			return "never"
		}
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	for _, f := range rep.Faults {
		for _, st := range rep.Stacks {
			for _, r := range rep.RunsOf(f.ID, st) {
				fmt.Fprintf(&sb, "\n### fault %d (%s), %s, run %d\n\n", f.ID, f.Title, st, r.Run)
				if r.Err != "" {
					fmt.Fprintf(&sb, "- **error**: %s\n", r.Err)
				}
				fmt.Fprintf(&sb, "- fault: %s on %s at %s (took %.2f s); watched %.1f s; PBX on %s → %s\n",
					r.Injected, r.Active, r.Mark.UTC().Format("15:04:05.000"), r.InjectTook.Seconds(), r.Watched.Seconds(), r.Active, orNone(r.After))
				fmt.Fprintf(&sb, "- outcome: %s; OPTIONS answered again after %s (outage %.2f s); first new call after %s\n",
					outcome(r), secs(r.SIPBack, r.SIPOK), r.SIPOutage.Seconds(), secs(r.CallBack, r.CallOK))
				fmt.Fprintf(&sb, "- calls: %d attempted, %d successful, %d failed, %d cut, %d open; ep200: %s\n",
					r.Calls.Attempted, r.Calls.Successful, r.Calls.Failed, r.Calls.Cut, r.Calls.Open, r.Ep200)
				if len(r.Detections) == 0 {
					sb.WriteString("- detected: nothing logged\n")
				}
				for _, d := range r.Detections {
					fmt.Fprintf(&sb, "- detected at %+.2f s on %s: %s\n", d.At.Sub(r.Mark).Seconds(), d.Node, d)
				}
				if len(r.Actions) > 0 {
					var a []string
					for _, x := range r.Actions {
						a = append(a, fmt.Sprintf("%s %s on %s (+%.1f s)", x.Resource, x.Action, x.Node, x.End.Seconds()))
					}
					fmt.Fprintf(&sb, "- actions: %s\n", strings.Join(a, ", "))
				}
				if len(r.Unnecessary) > 0 {
					fmt.Fprintf(&sb, "- unnecessary: %s\n", strings.Join(r.Unnecessary, ", "))
				}
				if len(r.Failures) > 0 {
					fmt.Fprintf(&sb, "- failed actions left: %s\n", strings.Join(r.Failures, "; "))
				}
				if len(r.FailCounts) > 0 {
					var fc []string
					for _, k := range sortedMapKeys(r.FailCounts) {
						fc = append(fc, k+": "+r.FailCounts[k])
					}
					fmt.Fprintf(&sb, "- fail counts left: %s\n", strings.Join(fc, ", "))
				}
				if len(r.Notes) > 0 {
					fmt.Fprintf(&sb, "- notes: %s\n", strings.Join(r.Notes, "; "))
				}
				if len(r.Restore) > 0 {
					fmt.Fprintf(&sb, "- restore: %s\n", strings.Join(r.Restore, "; "))
				}
			}
		}
	}
	return sb.String()
}

func orNone(s string) string {
	if s == "" {
		return "(stopped)"
	}
	return s
}

// Timeline is the plot of a fault: a lane per stack, its median run. ok is false when no
// stack has a run of it.
func (rep *FaultReport) Timeline(f Fault) (faultplot.Timeline, bool) {
	tl := faultplot.Timeline{Title: fmt.Sprintf("Fault %d: %s (%s mode)", f.ID, f.Title, rep.Mode), FaultLabel: f.Name,
		From: -20 * time.Second, To: 60 * time.Second}
	for _, st := range rep.Stacks {
		r, ok := MedianRun(rep.RunsOf(f.ID, st))
		if !ok {
			continue
		}
		if tl.Fault.IsZero() {
			tl.Fault = r.Mark
		}
		// each lane on its own clock: its fault at the common x = 0
		shift := tl.Fault.Sub(r.Mark)
		at := func(t time.Time) time.Time { return t.Add(shift) }
		l := faultplot.Lane{Stack: st}
		for _, p := range r.Probes {
			l.Probes = append(l.Probes, faultplot.Probe{At: at(p.At), Answered: p.OK})
		}
		for _, s := range r.Seconds {
			s.Time = at(s.Time)
			l.Calls = append(l.Calls, s)
		}
		if d, ok := FirstDetection(r.Detections); ok {
			l.Events = append(l.Events, faultplot.Event{At: at(d.At), Label: "detected: " + d.Resource + " " + d.Action})
		}
		if r.SIPOK && r.SIPBack > 0 {
			l.Events = append(l.Events, faultplot.Event{At: at(r.Mark.Add(r.SIPBack)), Label: "OPTIONS answered"})
		}
		if r.CallOK {
			l.Events = append(l.Events, faultplot.Event{At: at(r.Mark.Add(r.CallBack)), Label: "first new call"})
		}
		if end := r.Watched + 10*time.Second; end > tl.To {
			tl.To = end
		}
		tl.Lanes = append(tl.Lanes, l)
	}
	return tl, len(tl.Lanes) > 0
}

// Write writes the table to out (overwritten), every run beside it (out without .md,
// "-runs.md"), the runs as JSON (".json") and a timeline SVG per fault
// under faults/ beside it. It returns the files written.
func (rep *FaultReport) Write(out string) ([]string, error) {
	base := strings.TrimSuffix(out, ".md")
	dir := filepath.Dir(out)
	var files []string
	write := func(path string, data []byte) error {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return err
		}
		files = append(files, path)
		return nil
	}
	if err := write(out, []byte(rep.Markdown())); err != nil {
		return files, err
	}
	if err := write(base+"-runs.md", []byte(rep.RunsMarkdown())); err != nil {
		return files, err
	}
	js, err := json.MarshalIndent(rep, "", " ")
	if err != nil {
		return files, err
	}
	if err := write(base+".json", append(js, '\n')); err != nil {
		return files, err
	}
	for _, f := range rep.Faults {
		tl, ok := rep.Timeline(f)
		if !ok || !rep.probed(f) {
			continue
		}
		var b bytes.Buffer
		if err := tl.WriteSVG(&b, 24*vg.Centimeter, vg.Length(4+3*len(tl.Lanes))*vg.Centimeter); err != nil {
			return files, fmt.Errorf("timeline of fault %d: %w", f.ID, err)
		}
		if err := write(filepath.Join(dir, rep.svgName(f)), b.Bytes()); err != nil {
			return files, err
		}
	}
	return files, nil
}
