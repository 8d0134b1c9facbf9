// Package scaleplot renders what `testbed scale` measured: a quantity (CPU
// seconds per minute, failover seconds) against the number of resources N,
// one line per stack and variant, and names how each line grows.
package scaleplot

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Point is one measurement: Y at N resources.
type Point struct {
	N int
	Y float64
}

// Series is one line: a stack ("gocf", "shell") in one variant ("addresses",
// "filesystems depth 20", "group"). Lines of one stack share a colour; the
// variant picks the dash pattern and glyph.
type Series struct {
	Name    string // the legend's text
	Stack   string
	Variant int // 0, 1, 2, ...: solid, dashed, dotted, ...
	Points  []Point
}

// Chart is one plot: Y against N.
type Chart struct {
	Title, YLabel string
	Series        []Series
}

// Stack colours: gocf blue, the shell agents orange, anything else grey.
var stackColours = map[string]color.Color{
	"gocf":  color.RGBA{R: 0x1f, G: 0x5f, B: 0xbf, A: 0xff},
	"shell": color.RGBA{R: 0xe0, G: 0x6c, B: 0x00, A: 0xff},
}

var dashes = [][]vg.Length{nil, {vg.Points(6), vg.Points(3)}, {vg.Points(2), vg.Points(2)}, {vg.Points(8), vg.Points(2), vg.Points(2), vg.Points(2)}}

// WriteSVG renders the chart as an SVG of the given size.
func (c Chart) WriteSVG(w io.Writer, width, height vg.Length) error {
	return c.Render(w, width, height, "svg")
}

// Render renders the chart in one of gonum/plot's formats (svg, png, pdf).
func (c Chart) Render(w io.Writer, width, height vg.Length, format string) error {
	p := plot.New()
	p.Title.Text = c.Title
	p.X.Label.Text = "resources on the node (N)"
	p.Y.Label.Text = c.YLabel
	p.Y.Min = 0
	p.Add(plotter.NewGrid())
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.TextStyle.Font.Size = vg.Points(8)
	lines := 0
	maxN, maxY := 0, 0.0
	for _, s := range c.Series {
		pts := sorted(s.Points)
		if len(pts) == 0 {
			continue
		}
		xys := make(plotter.XYs, len(pts))
		for i, pt := range pts {
			xys[i].X, xys[i].Y = float64(pt.N), pt.Y
			maxN, maxY = max(maxN, pt.N), math.Max(maxY, pt.Y)
		}
		l, sc, err := plotter.NewLinePoints(xys)
		if err != nil {
			return fmt.Errorf("scaleplot: series %q: %w", s.Name, err)
		}
		clr, ok := stackColours[s.Stack]
		if !ok {
			clr = color.Gray{Y: 0x60}
		}
		l.Color, l.Width = clr, vg.Points(1.5)
		l.Dashes = dashes[s.Variant%len(dashes)]
		sc.Color = clr
		sc.Shape = []draw.GlyphDrawer{draw.CircleGlyph{}, draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.CrossGlyph{}}[s.Variant%4]
		sc.Radius = vg.Points(2.5)
		p.Add(l, sc)
		p.Legend.Add(s.Name, l, sc)
		lines++
	}
	if lines == 0 {
		return errors.New("scaleplot: no points")
	}
	p.X.Min, p.X.Max = 0, float64(maxN)*1.05
	if maxN == 0 {
		p.X.Max = 1
	}
	if maxY <= 0 {
		maxY = 1
	}
	p.Y.Max = maxY * 1.3 // room for the legend
	wt, err := p.WriterTo(width, height, format)
	if err != nil {
		return err
	}
	_, err = wt.WriteTo(w)
	return err
}

func sorted(pts []Point) []Point {
	s := append([]Point(nil), pts...)
	sort.SliceStable(s, func(i, j int) bool { return s[i].N < s[j].N })
	return s
}

// Fit is how a series grows: the least-squares line Y ≈ A + B·N with its R²,
// and the slope of log(Y) against log(N) (1: proportional, 0: flat).
type Fit struct {
	A, B, R2 float64
	Exponent float64 // NaN when fewer than two points with N, Y > 0
	Points   int
}

// Growth fits pts.
func Growth(pts []Point) Fit {
	f := Fit{Exponent: math.NaN(), Points: len(pts)}
	if len(pts) < 2 {
		if len(pts) == 1 {
			f.A = pts[0].Y
		}
		return f
	}
	var sx, sy, sxx, sxy float64
	n := float64(len(pts))
	for _, p := range pts {
		x := float64(p.N)
		sx, sy, sxx, sxy = sx+x, sy+p.Y, sxx+x*x, sxy+x*p.Y
	}
	den := n*sxx - sx*sx
	if den == 0 {
		f.A = sy / n
		return f
	}
	f.B = (n*sxy - sx*sy) / den
	f.A = (sy - f.B*sx) / n
	if math.Abs(f.A) < 1e-9*(1+math.Abs(sy/n)) {
		f.A = 0 // rounding noise of a line through the origin
	}
	mean := sy / n
	var ssTot, ssRes float64
	for _, p := range pts {
		d := p.Y - mean
		r := p.Y - (f.A + f.B*float64(p.N))
		ssTot, ssRes = ssTot+d*d, ssRes+r*r
	}
	f.R2 = 1
	if ssTot > 0 {
		f.R2 = 1 - ssRes/ssTot
	}
	var lx, ly []float64
	for _, p := range pts {
		if p.N > 0 && p.Y > 0 {
			lx, ly = append(lx, math.Log(float64(p.N))), append(ly, math.Log(p.Y))
		}
	}
	if len(lx) >= 2 {
		var mx, my float64
		for i := range lx {
			mx, my = mx+lx[i], my+ly[i]
		}
		mx, my = mx/float64(len(lx)), my/float64(len(lx))
		var num, d float64
		for i := range lx {
			num += (lx[i] - mx) * (ly[i] - my)
			d += (lx[i] - mx) * (lx[i] - mx)
		}
		if d > 0 {
			f.Exponent = num / d
		}
	}
	return f
}

// Name says in words how the series grows: "linear" when a line fits well
// (R² ≥ 0.95) and rises, otherwise from the log-log slope.
func (f Fit) Name() string {
	switch {
	case f.Points < 2:
		return "one point"
	case math.Abs(f.B)*1000 < math.Abs(f.A)+1e-9 || f.B <= 0 && f.R2 < 0.5:
		return "flat"
	case f.R2 >= 0.95 && f.B > 0:
		return "linear"
	case math.IsNaN(f.Exponent):
		return "unclear"
	case f.Exponent < 0.3:
		return "flat"
	case f.Exponent < 0.8:
		return "sublinear"
	case f.Exponent < 1.25:
		return "about linear"
	case f.Exponent < 1.75:
		return "superlinear"
	}
	return "quadratic or worse"
}

// String: "linear: ≈ 0.12 + 0.0345·N (R² 0.99, log-log slope 0.87)".
func (f Fit) String() string {
	if f.Points < 2 {
		return f.Name()
	}
	s := fmt.Sprintf("%s: ≈ %.3g + %.3g·N (R² %.2f", f.Name(), f.A, f.B, f.R2)
	if !math.IsNaN(f.Exponent) {
		s += fmt.Sprintf(", log-log slope %.2f", f.Exponent)
	}
	return s + ")"
}
