package faultplot

import (
	"bytes"
	"encoding/xml"
	"flag"
	"html"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/plot/vg"

	"github.com/gocf/gocf/tests/sipp"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// synthetic is one fault on three stacks: gocf detects it in 2 s and is
// back at 9 s; the shell agents at 21 s; the Heartbeat-1 style stack never
// notices. Probes every 100 ms, calls at 2/s.
func synthetic() Timeline {
	fault := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return fault.Add(time.Duration(s * float64(time.Second))) }
	lane := func(stack string, back float64, events ...Event) Lane {
		l := Lane{Stack: stack, Events: events}
		for s := -10.0; s < 120; s += 0.1 {
			l.Probes = append(l.Probes, Probe{At: at(s), Answered: s < 0 || s >= back})
		}
		for s := -9.0; s <= 120; s++ {
			sec := sipp.Second{Time: at(s)}
			switch {
			case s < 0 || s >= back+3:
				sec.Successful = 2
			case s < 5:
				sec.Cut, sec.Failed = 1, 1
			case s < back+3:
				sec.Failed = 2
			}
			l.Calls = append(l.Calls, sec)
		}
		return l
	}
	return Timeline{
		Title: "Fault: Asterisk SIGKILLed", Fault: fault, FaultLabel: "kill -9 asterisk",
		Lanes: []Lane{
			lane("gocf", 9, Event{at(2), "detected: monitor failed"}, Event{at(9), "first OPTIONS answered"}, Event{at(10.5), "first call set up"}),
			lane("shell agents", 21, Event{at(11), "detected: monitor failed"}, Event{at(21), "first OPTIONS answered"}),
			lane("Heartbeat-1 style", 1e9),
		},
	}
}

func TestTimelineSVG(t *testing.T) {
	var b bytes.Buffer
	if err := synthetic().WriteSVG(&b, 24*vg.Centimeter, 14*vg.Centimeter); err != nil {
		t.Fatal(err)
	}
	// Well-formed XML whose texts hold the lanes, the marks and the
	// legend.
	var texts []string
	d := xml.NewDecoder(bytes.NewReader(b.Bytes()))
	inText := false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG does not parse: %v", err)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			if e.Name.Local == "svg" && len(texts) == 0 && !inText {
				texts = append(texts, "<svg>")
			}
			inText = e.Name.Local == "text"
		case xml.CharData:
			if inText {
				texts = append(texts, html.UnescapeString(string(e)))
			}
		case xml.EndElement:
			inText = false
		}
	}
	all := strings.Join(texts, "\n")
	for _, want := range []string{"<svg>", "gocf", "shell agents", "Heartbeat-1 style", "Fault: Asterisk SIGKILLed",
		"kill -9 asterisk", "detected: monitor failed (+2.0 s)", "first OPTIONS answered (+9.0 s)",
		"first call set up (+10.5 s)", "detected: monitor failed (+11.0 s)", "OPTIONS unanswered",
		"calls cut /s", "seconds since the fault", "+120", "-10"} {
		if !strings.Contains(all, want) {
			t.Errorf("no text %q in the SVG; texts:\n%s", want, all)
		}
	}
	// GOCF_FAULTPLOT_OUT=/tmp/x writes /tmp/x.svg and /tmp/x.png to look at.
	if out := os.Getenv("GOCF_FAULTPLOT_OUT"); out != "" {
		os.WriteFile(out+".svg", b.Bytes(), 0o644)
		f, err := os.Create(out + ".png")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := synthetic().Render(f, 24*vg.Centimeter, 14*vg.Centimeter, "png"); err != nil {
			t.Fatal(err)
		}
	}
}

// A lane from a real SIPp recording (tests/sipp/testdata/outage).
func TestTimelineFromSIPp(t *testing.T) {
	r, err := sipp.ReadDir("../sipp/testdata/outage")
	if err != nil {
		t.Fatal(err)
	}
	tl := Timeline{Title: "fake PBX outage", Fault: r.Start.Add(2800 * time.Millisecond), From: -5 * time.Second, To: 15 * time.Second,
		Lanes: []Lane{{Stack: "fake PBX", Calls: r.Seconds, Events: []Event{{r.SetUps[5].Time, "first call set up"}}}}}
	var b bytes.Buffer
	if err := tl.WriteSVG(&b, 20*vg.Centimeter, 6*vg.Centimeter); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "first call set up (+3.2 s)") {
		t.Error("no mark for the first call after the outage")
	}
}

func TestTimelineErrors(t *testing.T) {
	if err := (Timeline{}).WriteSVG(io.Discard, vg.Centimeter, vg.Centimeter); err == nil {
		t.Error("no lanes accepted")
	}
	tl := synthetic()
	tl.From, tl.To = time.Second, -time.Second
	if err := tl.WriteSVG(io.Discard, vg.Centimeter, vg.Centimeter); err == nil {
		t.Error("empty x range accepted")
	}
}

func TestTableMarkdown(t *testing.T) {
	tab := Table{
		Stacks: []string{"gocf", "shell agents", "Heartbeat-1 style"},
		Rows: []Row{
			{"Asterisk SIGKILLed", []Cell{
				{Seconds: []float64{9.2, 8.7, 10.1}, Failed: 12, Cut: 9},
				{Seconds: []float64{21.5, 20.9}, Failed: 40, Cut: 9},
				{Words: "not detected: PBX down until a human acts"}}},
			{"SIP stack dead (500 to every request)", []Cell{
				{Seconds: []float64{31}, Failed: 60},
				{Words: "not detected | monitor only checks the process"}}},
			{"power-off of the active node", nil},
		},
	}
	got := tab.Markdown()
	path := "testdata/table.md"
	if *update {
		os.WriteFile(path, []byte(got), 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		v    []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := Median(c.v); got != c.want {
			t.Errorf("Median(%v) = %v, want %v", c.v, got, c.want)
		}
	}
}
