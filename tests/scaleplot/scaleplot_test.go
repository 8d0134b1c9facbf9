package scaleplot

import (
	"bytes"
	"encoding/xml"
	"io"
	"math"
	"strings"
	"testing"

	"gonum.org/v1/plot/vg"
)

func TestGrowth(t *testing.T) {
	ns := []int{1, 10, 50, 100, 200}
	line := func(a, b float64) []Point {
		var p []Point
		for _, n := range ns {
			p = append(p, Point{n, a + b*float64(n)})
		}
		return p
	}
	quad := func() []Point {
		var p []Point
		for _, n := range ns {
			p = append(p, Point{n, 0.001 * float64(n*n)})
		}
		return p
	}
	for _, c := range []struct {
		name string
		pts  []Point
		want string
	}{
		{"linear", line(0.5, 0.03), "linear"},
		{"flat", line(2, 0), "flat"},
		{"quadratic", quad(), ""}, // checked by its log-log slope
		{"one", []Point{{10, 1}}, "one point"},
	} {
		f := Growth(c.pts)
		if c.name == "quadratic" {
			if f.Exponent < 1.75 || f.Exponent > 2.25 {
				t.Errorf("quadratic: log-log slope %.2f, want ≈ 2", f.Exponent)
			}
			continue
		}
		if got := f.Name(); got != c.want {
			t.Errorf("%s: %s (%s), want %s", c.name, got, f, c.want)
		}
	}
	f := Growth(line(0.5, 0.03))
	if math.Abs(f.A-0.5) > 1e-9 || math.Abs(f.B-0.03) > 1e-9 || f.R2 < 0.999 {
		t.Errorf("fit %+v", f)
	}
	if !strings.HasPrefix(f.String(), "linear: ≈ 0.5 + 0.03·N (R² 1.00") {
		t.Errorf("String: %s", f)
	}
	// a line with a big constant and a small rise: linear, with its slope
	sub := Growth([]Point{{1, 1.0}, {10, 1.2}, {50, 2.1}, {100, 3.0}, {200, 5.1}})
	if sub.Name() != "linear" || sub.B < 0.019 || sub.B > 0.022 {
		t.Errorf("offset line: %s", sub)
	}
}

func TestChartSVG(t *testing.T) {
	c := Chart{Title: "CPU per minute on the node carrying N addresses", YLabel: "CPU s / min (execd + agents)",
		Series: []Series{
			{Name: "gocf vip", Stack: "gocf", Points: []Point{{1, 0.1}, {10, 0.4}, {50, 1.8}, {100, 3.5}, {200, 7.1}}},
			{Name: "IPaddr2", Stack: "shell", Points: []Point{{200, 60}, {1, 0.5}, {10, 3.1}, {50, 15}, {100, 30}}},
			{Name: "gocf fsmount depth 20", Stack: "gocf", Variant: 1, Points: []Point{{1, 0.1}, {200, 9}}},
			{Name: "empty", Stack: "shell", Variant: 2},
		}}
	var b bytes.Buffer
	if err := c.WriteSVG(&b, 16*vg.Centimeter, 10*vg.Centimeter); err != nil {
		t.Fatal(err)
	}
	// well-formed XML with the legend's texts
	d := xml.NewDecoder(bytes.NewReader(b.Bytes()))
	for {
		_, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
	}
	for _, s := range []string{"gocf vip", "IPaddr2", "gocf fsmount depth 20", "resources on the node (N)"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("SVG lacks %q", s)
		}
	}
	if err := (Chart{Title: "x"}).WriteSVG(io.Discard, vg.Centimeter, vg.Centimeter); err == nil {
		t.Error("a chart without points rendered")
	}
}
