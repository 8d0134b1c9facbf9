package testbed

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/plot/vg"

	"github.com/gocf/gocf/tests/scaleplot"
)

// ScaleReport is a `testbed scale` run: what it measured and how.
type ScaleReport struct {
	Command         string
	Date            time.Time
	Mode            string
	Nodes, Cores    int
	Window, Warmup  float64 // s
	NodeActionLimit int     // in force by default (2 × cores unless set)
	Runs            []ScaleRun
}

// stackName is what the tables and plots call a stack's agent for a kind.
func stackName(stack, kind string) string {
	a, err := ScaleAgent(stack, kind)
	if err != nil {
		return stack
	}
	a = a[strings.LastIndexByte(a, ':')+1:]
	if stack == ScaleGocf {
		return "gocf " + a
	}
	return a
}

func f2(v float64) string { return fmt.Sprintf("%.2f", v) }

// Markdown renders the report: the steady state table, the failover table, and how each
// line grows.
func (r *ScaleReport) Markdown() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "## Cost at scale (%s mode)\n\n", r.Mode)
	fmt.Fprintf(&sb, "%s, %d nodes (Pacemaker 3.0, Corosync 3.1, the bed's image), %d cores shared by all nodes; "+
		"command `%s` (as root).\n\n", r.Date.UTC().Format("2006-01-02 15:04 UTC"), r.Nodes, r.Cores, r.Command)
	fmt.Fprintf(&sb, "Steady state: the N resources on one node (location preference), measured over %.0f s, %.0f s after "+
		"the cluster settled. CPU from the kernel's accounting in the node's /proc: pacemaker-execd's utime+stime plus "+
		"cutime+cstime (every agent it ran and waited for, and their children), as CPU seconds per minute; node: every "+
		"process of the node the same way. Load: the 1-minute load average, the host's (ns nodes share its kernel). "+
		"Monitor exec-time: what the CIB records (lrm_rsc_op exec-time: the first monitor after the start; Pacemaker does "+
		"not rewrite an unchanged recurring result). Addresses monitored every 10 s, filesystems every 20 s.\n\n", r.Window, r.Warmup)
	sb.WriteString("| resources | N | stack | execd + agents CPU s/min | CPU ms per monitor | node CPU s/min | load | monitor exec-time ms: median / p95 / max (CIB, n) | DC | error |\n")
	sb.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, x := range r.sorted("steady") {
		perMon := "–"
		if x.Err == "" && x.N > 0 {
			iv := ScaleAddrInterval
			if x.Kind == KindFS {
				iv = ScaleFSInterval
			}
			monitorsPerMin := float64(x.N) * float64(time.Minute) / float64(iv)
			perMon = fmt.Sprintf("%.1f", x.ExecdCPU/monitorsPerMin*1000)
		}
		dc := ""
		if x.WasDC {
			dc = "yes"
		}
		fmt.Fprintf(&sb, "| %s | %d | %s | %s | %s | %s | %s | %.0f / %.0f / %.0f (%d) | %s | %s |\n", x.Variant(), x.N,
			stackName(x.Stack, x.Kind), f2(x.ExecdCPU), perMon, f2(x.NodeCPU), f2(x.Load), x.MonMed, x.MonP95, x.MonMax, x.Monitors,
			dc, esc(x.Err))
	}
	if fo := r.sorted("failover"); len(fo) > 0 {
		fmt.Fprintf(&sb, "\nFailover: the node carrying the N powered off (the bed's power-off); times in s from the power-off to "+
			"corosync's new membership on a survivor (its corosync.log), and from that membership to the last of the N "+
			"answering (addresses: an ICMP echo from the client namespace, every 100 ms; filesystems: the survivors' "+
			"/proc/PID/mounts, every 100 ms). Starts at once: the most starts of the N that ran at the same time on one "+
			"survivor (pacemaker-execd's log: end and execution time); Pacemaker's node-action-limit is %d by default "+
			"(2 × cores) — a failover whose concurrency sits at that limit is bound by it.\n\n", r.NodeActionLimit)
		sb.WriteString("| resources | N | stack | limits | membership after power-off | last answering after membership | answered | starts at once (limit) | start exec-time sum | longest execd queue ms | went to | DC lost | error |\n")
		sb.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, x := range fo {
			dc := ""
			if x.WasDC {
				dc = "yes"
			}
			fmt.Fprintf(&sb, "| %s | %d | %s | %s | %s | %s | %d of %d | %d (%d) | %s | %.0f | %s | %s | %s |\n", x.Kind+", "+x.Layout, x.N,
				stackName(x.Stack, x.Kind), x.Limits, f2(x.Membership), f2(x.AfterMembership), x.Answered, x.N,
				x.MaxConcurrent, x.NodeActionLimit, f2(x.StartExecSum), x.MaxQueueMS, x.Survivors, dc, esc(x.Err))
		}
	}
	sb.WriteString("\nGrowth (least squares over N; the log-log slope is 1 for cost proportional to N):\n\n")
	for _, c := range r.Charts() {
		for _, s := range c.Series {
			fmt.Fprintf(&sb, "- %s, %s: %s\n", c.Title, s.Name, scaleplot.Growth(s.Points))
		}
	}
	return sb.String()
}

func esc(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
}

// sorted returns the runs of a test by kind, variant, N and stack.
func (r *ScaleReport) sorted(test string) []ScaleRun {
	var rs []ScaleRun
	for _, x := range r.Runs {
		if x.Test == test {
			rs = append(rs, x)
		}
	}
	slices.SortStableFunc(rs, func(a, b ScaleRun) int {
		if c := strings.Compare(a.Variant(), b.Variant()); c != 0 {
			return c
		}
		if a.N != b.N {
			return a.N - b.N
		}
		return strings.Compare(a.Stack, b.Stack)
	})
	return rs
}

// Charts are the two plots: CPU per minute against N (a line per stack and kind/depth) and
// the failover (last answering after the membership) against N (a line per stack, kind and
// layout). Failed runs are left out.
func (r *ScaleReport) Charts() []scaleplot.Chart {
	cpu := scaleplot.Chart{Title: "CPU per minute, pacemaker-execd + agents", YLabel: "CPU seconds per minute"}
	fo := scaleplot.Chart{Title: "Failover: power-off to the last of N answering, after corosync's membership", YLabel: "seconds"}
	add := func(c *scaleplot.Chart, x ScaleRun, y float64) {
		name := stackName(x.Stack, x.Kind) + " (" + x.Variant() + ")"
		for i := range c.Series {
			if c.Series[i].Name == name {
				c.Series[i].Points = append(c.Series[i].Points, scaleplot.Point{N: x.N, Y: y})
				return
			}
		}
		variants := map[string]int{}
		for _, s := range c.Series {
			if s.Stack == x.Stack {
				variants[s.Name] = len(variants)
			}
		}
		c.Series = append(c.Series, scaleplot.Series{Name: name, Stack: x.Stack, Variant: len(variants),
			Points: []scaleplot.Point{{N: x.N, Y: y}}})
	}
	for _, x := range r.sorted("steady") {
		if x.Err == "" {
			add(&cpu, x, x.ExecdCPU)
		}
	}
	for _, x := range r.sorted("failover") {
		if x.Err == "" {
			add(&fo, x, x.AfterMembership)
		}
	}
	var cs []scaleplot.Chart
	for _, c := range []scaleplot.Chart{cpu, fo} {
		if len(c.Series) > 0 {
			cs = append(cs, c)
		}
	}
	return cs
}

// ScaleFiles are the files Write makes from the table's path: FILE.md, FILE.json,
// FILE-cpu.svg and FILE-failover.svg.
func ScaleFiles(out string) (md, js, cpu, fo string) {
	base := strings.TrimSuffix(out, ".md")
	return base + ".md", base + ".json", base + "-cpu.svg", base + "-failover.svg"
}

// Write writes the table, the runs as JSON and the two plots (those with points), and
// returns the files written.
func (r *ScaleReport) Write(out string) ([]string, error) {
	md, js, cpuSVG, foSVG := ScaleFiles(out)
	if err := os.MkdirAll(filepath.Dir(md), 0o755); err != nil {
		return nil, err
	}
	var files []string
	text := r.Markdown()
	charts := r.Charts()
	for i, c := range charts {
		p := cpuSVG
		if i == 1 || !strings.HasPrefix(c.Title, "CPU") {
			p = foSVG
		}
		var b bytes.Buffer
		if err := c.WriteSVG(&b, 18*vg.Centimeter, 11*vg.Centimeter); err != nil {
			return files, err
		}
		if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
			return files, err
		}
		files = append(files, p)
		text += fmt.Sprintf("\n![%s](%s)\n", c.Title, filepath.Base(p))
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return files, err
	}
	if err := os.WriteFile(js, append(data, '\n'), 0o644); err != nil {
		return files, err
	}
	files = append(files, js)
	if err := os.WriteFile(md, []byte(text), 0o644); err != nil {
		return files, err
	}
	return append(files, md), nil
}

// LoadScaleReport reads a report's JSON (to render its table and plots again).
func LoadScaleReport(path string) (*ScaleReport, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r ScaleReport
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}
