package faultplot

import (
	"fmt"
	"slices"
	"strings"
)

// Cell is one stack's result for one fault: the seconds until the PBX took
// calls again, one a run, with the calls lost; or, when the stack did not
// recover by itself, Words saying what happened ("not detected: PBX down
// until a human acts").
type Cell struct {
	Seconds []float64
	// Failed and Cut are calls over all runs: failed to set up, cut while
	// up.
	Failed, Cut int
	Words       string
}

// Row is one fault.
type Row struct {
	Fault string
	Cells []Cell // in the table's Stacks order
}

// Table is faults by stacks.
type Table struct {
	Stacks []string
	Rows   []Row
}

// Markdown renders the table: "12.3 s (3 runs; calls: 4 failed, 6 cut)"
// with the median of the runs, or the cell's words; "–" for a cell
// missing.
func (t Table) Markdown() string {
	var b strings.Builder
	b.WriteString("| fault |")
	for _, s := range t.Stacks {
		b.WriteString(" " + esc(s) + " |")
	}
	b.WriteString("\n|---|")
	b.WriteString(strings.Repeat("---|", len(t.Stacks)))
	b.WriteString("\n")
	for _, r := range t.Rows {
		b.WriteString("| " + esc(r.Fault) + " |")
		for i := range t.Stacks {
			s := "–"
			if i < len(r.Cells) {
				s = r.Cells[i].String()
			}
			b.WriteString(" " + esc(s) + " |")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// String is the cell's text.
func (c Cell) String() string {
	if c.Words != "" {
		return c.Words
	}
	if len(c.Seconds) == 0 {
		return "–"
	}
	runs := "1 run"
	if len(c.Seconds) > 1 {
		runs = fmt.Sprintf("%d runs", len(c.Seconds))
	}
	return fmt.Sprintf("%.1f s (%s; calls: %d failed, %d cut)", Median(c.Seconds), runs, c.Failed, c.Cut)
}

// Median of v (the mean of the middle two for an even count); 0 for none.
func Median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

func esc(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
}
