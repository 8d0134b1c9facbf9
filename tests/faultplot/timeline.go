// Package faultplot renders what the fault harness measured: for one fault,
// a timeline SVG with a lane per stack (SIP OPTIONS probes answered or not,
// calls ended, failed and cut per second, and marks for the fault,
// detection and recovery); for all faults, a Markdown table.
package faultplot

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/gocf/gocf/tests/sipp"
)

// Probe is one SIP OPTIONS probe to the PBX: sent At, answered or not.
type Probe struct {
	At       time.Time
	Answered bool
}

// Event is a mark on a lane: the detection (which action: "monitor
// failed", "node fenced"), the recovery ("first OPTIONS answered", "first
// call set up").
type Event struct {
	At    time.Time
	Label string
}

// Lane is one stack's run of the fault.
type Lane struct {
	Stack  string
	Probes []Probe
	// Calls is the per-second series of a SIPp run (sipp.Result.Seconds).
	Calls  []sipp.Second
	Events []Event
}

// Timeline is one fault across the stacks. Times on the x axis are
// seconds since Fault.
type Timeline struct {
	Title string
	// Fault is when the fault was injected; FaultLabel marks it.
	Fault      time.Time
	FaultLabel string
	// From and To bound the x axis, relative to Fault (-10 s, +120 s when
	// both are zero).
	From, To time.Duration
	Lanes    []Lane
}

// Colours: answered and ended normally green, unanswered and failed red,
// cut orange, marks blue (the fault black).
var (
	colOK    = color.RGBA{R: 0x2e, G: 0x9e, B: 0x44, A: 0xff}
	colBad   = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	colCut   = color.RGBA{R: 0xff, G: 0x8c, B: 0x00, A: 0xff}
	colMark  = color.RGBA{R: 0x1f, G: 0x5f, B: 0xbf, A: 0xff}
	colFault = color.Black
	colGrid  = color.Gray{Y: 0xdd}
)

// Inside a lane of height 1 (from the top): the event labels, the probe
// strip, the calls' axis with ended calls above and lost ones below.
const (
	probeTop, probeBottom = 0.74, 0.66
	callsAxis             = 0.36
	callsSpan             = 0.26 // the busiest second's bar length
	// legendRoom is the band above the lanes that holds the legend.
	legendRoom = 0.6
)

// WriteSVG renders the timeline as an SVG of the given size.
func (tl Timeline) WriteSVG(w io.Writer, width, height vg.Length) error {
	return tl.Render(w, width, height, "svg")
}

// Render renders the timeline in one of gonum/plot's formats (svg, png,
// pdf, eps...).
func (tl Timeline) Render(w io.Writer, width, height vg.Length, format string) error {
	if len(tl.Lanes) == 0 {
		return errors.New("faultplot: no lanes")
	}
	from, to := tl.From, tl.To
	if from == 0 && to == 0 {
		from, to = -10*time.Second, 120*time.Second
	}
	if to <= from {
		return fmt.Errorf("faultplot: x range %v..%v", from, to)
	}
	p := plot.New()
	p.Title.Text = tl.Title
	p.X.Label.Text = "seconds since the fault"
	p.X.Min, p.X.Max = from.Seconds(), to.Seconds()
	n := len(tl.Lanes)
	p.Y.Min, p.Y.Max = 0, float64(n)+legendRoom
	var ticks []plot.Tick
	for i, l := range tl.Lanes {
		ticks = append(ticks, plot.Tick{Value: float64(n-i) - 0.5, Label: l.Stack})
	}
	p.Y.Tick.Marker = plot.ConstantTicks(ticks)
	p.Y.Tick.Length = 0
	p.Y.LineStyle.Width = 0
	p.X.Tick.Marker = secondTicks{}
	maxCalls := 1
	for _, l := range tl.Lanes {
		for _, s := range l.Calls {
			maxCalls = max(maxCalls, s.Successful, s.Failed+s.Cut)
		}
	}
	p.Add(&art{tl: tl, maxCalls: maxCalls})
	p.Legend.Top = true
	p.Legend.Left = false
	p.Legend.TextStyle.Font.Size = vg.Points(7)
	for _, e := range []struct {
		name string
		c    color.Color
	}{{"OPTIONS answered", colOK}, {"OPTIONS unanswered", colBad},
		{fmt.Sprintf("calls ended normally /s (full bar: %d)", maxCalls), colOK},
		{"calls failed to set up /s", colBad}, {"calls cut /s", colCut}, {"fault, detection, recovery", colMark}} {
		p.Legend.Add(e.name, box{e.c})
	}
	wt, err := p.WriterTo(width, height, format)
	if err != nil {
		return err
	}
	_, err = wt.WriteTo(w)
	return err
}

type box struct{ c color.Color }

func (b box) Thumbnail(c *draw.Canvas) {
	c.FillPolygon(b.c, []vg.Point{c.Min, {X: c.Min.X, Y: c.Max.Y}, c.Max, {X: c.Max.X, Y: c.Min.Y}})
}

// secondTicks: a major tick every 10 s (every 30 s beyond 200 s), minor
// ones every 5 s.
type secondTicks struct{}

func (secondTicks) Ticks(min, max float64) []plot.Tick {
	step := 10.0
	if max-min > 200 {
		step = 30
	}
	var t []plot.Tick
	for v := math.Ceil(min/(step/2)) * (step / 2); v <= max; v += step / 2 {
		label := ""
		if math.Mod(math.Abs(v), step) < 1e-9 {
			label = fmt.Sprintf("%+.0f", v)
			if v == 0 {
				label = "0"
			}
		}
		t = append(t, plot.Tick{Value: v, Label: label})
	}
	return t
}

// art draws the lanes.
type art struct {
	tl       Timeline
	maxCalls int
}

func (a *art) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	n := len(a.tl.Lanes)
	x := func(t time.Time) float64 { return t.Sub(a.tl.Fault).Seconds() }
	in := func(v float64) bool { return v >= p.X.Min && v <= p.X.Max }
	rect := func(clr color.Color, x0, x1, y0, y1 float64) {
		x0, x1 = math.Max(x0, p.X.Min), math.Min(x1, p.X.Max)
		if x1 <= x0 {
			return
		}
		c.FillPolygon(clr, []vg.Point{{X: trX(x0), Y: trY(y0)}, {X: trX(x0), Y: trY(y1)},
			{X: trX(x1), Y: trY(y1)}, {X: trX(x1), Y: trY(y0)}})
	}
	label := p.X.Tick.Label
	label.Font = font.From(label.Font, vg.Points(7))
	label.XAlign, label.YAlign = draw.XLeft, draw.YTop
	thin := draw.LineStyle{Color: colGrid, Width: vg.Points(0.5)}
	for i, l := range a.tl.Lanes {
		base := float64(n - 1 - i) // the lane spans base..base+1
		if i > 0 {
			c.StrokeLine2(thin, trX(p.X.Min), trY(base+1), trX(p.X.Max), trY(base+1))
		}
		c.StrokeLine2(thin, trX(p.X.Min), trY(base+callsAxis), trX(p.X.Max), trY(base+callsAxis))
		// Probes: each covers the time to the next one (100 ms when the
		// next is more than 1 s away: a gap in the probing stays blank);
		// runs of one state are drawn as one bar.
		for j := 0; j < len(l.Probes); {
			k, end := j, time.Time{}
			for {
				end = l.Probes[k].At.Add(100 * time.Millisecond)
				if k+1 < len(l.Probes) && l.Probes[k+1].At.After(l.Probes[k].At) && l.Probes[k+1].At.Sub(l.Probes[k].At) <= time.Second {
					end = l.Probes[k+1].At
					if l.Probes[k+1].Answered == l.Probes[j].Answered {
						k++
						continue
					}
				}
				break
			}
			clr := color.Color(colBad)
			if l.Probes[j].Answered {
				clr = colOK
			}
			rect(clr, x(l.Probes[j].At), x(end), base+probeBottom, base+probeTop)
			j = k + 1
		}
		// Calls: a bar per second ending at the row's time.
		unit := callsSpan / float64(a.maxCalls)
		for _, s := range l.Calls {
			x1 := x(s.Time)
			x0 := x1 - 0.8
			if s.Successful > 0 {
				rect(colOK, x0, x1, base+callsAxis, base+callsAxis+unit*float64(s.Successful))
			}
			y := base + callsAxis
			if s.Failed > 0 {
				rect(colBad, x0, x1, y-unit*float64(s.Failed), y)
				y -= unit * float64(s.Failed)
			}
			if s.Cut > 0 {
				rect(colCut, x0, x1, y-unit*float64(s.Cut), y)
			}
		}
		// Events: a line across the lane, labels stacked from the top.
		mark := draw.LineStyle{Color: colMark, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(3), vg.Points(2)}}
		for k, e := range l.Events {
			ex := x(e.At)
			if !in(ex) {
				continue
			}
			c.StrokeLine2(mark, trX(ex), trY(base), trX(ex), trY(base+1))
			sty := label
			sty.Color = colMark
			yl := base + 0.98 - 0.07*float64(k%3)
			c.FillText(sty, vg.Point{X: trX(ex) + vg.Points(2), Y: trY(yl)}, fmt.Sprintf("%s (%+.1f s)", e.Label, ex))
		}
	}
	// The fault, across every lane.
	if in(0) {
		c.StrokeLine2(draw.LineStyle{Color: colFault, Width: vg.Points(1.5)}, trX(0), trY(0), trX(0), trY(float64(n)))
		if a.tl.FaultLabel != "" {
			sty := label
			sty.Color = colFault
			sty.XAlign = draw.XRight
			c.FillText(sty, vg.Point{X: trX(0) - vg.Points(2), Y: trY(float64(n) - 0.02)}, a.tl.FaultLabel)
		}
	}
}
