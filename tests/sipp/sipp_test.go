package sipp

import (
	"encoding/xml"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The recordings in testdata (see its README): SIPp 3.6.1 running
// uac-call.xml against a fake PBX.
func TestReadDirRecordings(t *testing.T) {
	for _, c := range []struct {
		dir                                string
		attempted, successful, failed, cut int
		setUps                             int
	}{
		{"ok", 6, 6, 0, 0, 6},
		// The PBX hung up during the hold: SIPp answered its BYE.
		{"hangup", 4, 0, 0, 4, 4},
		// The PBX answered our BYE with 481.
		{"lost", 4, 0, 0, 4, 4},
		// 486 to every INVITE.
		{"busy", 4, 0, 4, 0, 0},
		// The PBX died 2.8 s in, for 3 s: the 5 calls up then were cut
		// (our BYE unanswered), 3 INVITEs went unanswered for 3 s, and 3
		// more, retransmitted, were answered late by the restarted PBX.
		{"outage", 16, 8, 3, 5, 13},
	} {
		t.Run(c.dir, func(t *testing.T) {
			r, err := ReadDir(filepath.Join("testdata", c.dir))
			if err != nil {
				t.Fatal(err)
			}
			got := []int{r.Attempted, r.Successful, r.Failed, r.Cut, r.Open, len(r.SetUps)}
			want := []int{c.attempted, c.successful, c.failed, c.cut, 0, c.setUps}
			if !slices.Equal(got, want) {
				t.Errorf("attempted, successful, failed, cut, open, set-ups = %v, want %v", got, want)
			}
			var sum Second
			for i, s := range r.Seconds {
				if i > 0 && !s.Time.After(r.Seconds[i-1].Time) {
					t.Errorf("second %d at %v, not after %v", i, s.Time, r.Seconds[i-1].Time)
				}
				if s.Successful < 0 || s.Failed < 0 || s.Cut < 0 {
					t.Errorf("second %d: %+v", i, s)
				}
				sum.Successful += s.Successful
				sum.Failed += s.Failed
				sum.Cut += s.Cut
			}
			if sum.Successful != r.Successful || sum.Failed != r.Failed || sum.Cut != r.Cut {
				t.Errorf("timeline sums %+v, totals %+v", sum, r)
			}
			end := r.Seconds[len(r.Seconds)-1].Time
			for _, s := range r.SetUps {
				if s.Time.Before(r.Start) || s.Time.After(end) || s.Duration < 0 || s.Duration > 10*time.Second {
					t.Errorf("set-up %+v outside the run %v..%v", s, r.Start, end)
				}
			}
		})
	}
}

// The outage's timeline, second by second: nothing fails before the PBX
// dies, the cuts come when the holds end (3 s) and the BYE has gone 5 s
// unanswered, after the set-up failures.
func TestOutageTimeline(t *testing.T) {
	r, err := ReadDir("testdata/outage")
	if err != nil {
		t.Fatal(err)
	}
	firstFail, firstCut := -1, -1
	for i, s := range r.Seconds {
		if s.Failed > 0 && firstFail < 0 {
			firstFail = i
		}
		if s.Cut > 0 && firstCut < 0 {
			firstCut = i
		}
	}
	if firstFail < 3 || firstCut <= firstFail {
		t.Errorf("first failure in second %d, first cut in %d:\n%+v", firstFail, firstCut, r.Seconds)
	}
	// The late answers: set-up times of 0.5 s and 1.5 s (INVITE
	// retransmissions), the others within a millisecond (loopback).
	var late []time.Duration
	for _, s := range r.SetUps {
		if s.Duration > 100*time.Millisecond {
			late = append(late, s.Duration)
		}
	}
	if !slices.Equal(late, []time.Duration{504 * time.Millisecond, 1508 * time.Millisecond, 1508 * time.Millisecond}) {
		t.Errorf("late set-ups %v", late)
	}
}

func TestParseCountsColumns(t *testing.T) {
	c, err := ParseCounts(strings.NewReader("CurrentTime;ElapsedTime;0_INVITE_Sent;6_Pause_Sessions;6_Pause_Unexp;8_200_Timeout;\n" +
		"2026-11-30\t12:52:45.079955\t1796043165.079955;00:00:05:016000;6;0;2;1;\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []CountColumn{{0, "INVITE", "Sent"}, {6, "Pause", "Sessions"}, {6, "Pause", "Unexp"}, {8, "200", "Timeout"}}
	if !slices.Equal(c.Columns, want) {
		t.Errorf("columns %+v", c.Columns)
	}
	if got := c.Rows[0].Time; !got.Equal(time.Unix(1796043165, 79955000)) {
		t.Errorf("time %v", got)
	}
	if c.Last(6, "Unexp") != 2 || c.cut()[0] != 3 {
		t.Errorf("unexp %d cut %d", c.Last(6, "Unexp"), c.cut()[0])
	}
	for _, bad := range []string{"", "Date;x\n", "CurrentTime;ElapsedTime;x_y\n", "CurrentTime;ElapsedTime;1_A_Sent;\nnot a time;0;1;\n"} {
		if _, err := ParseCounts(strings.NewReader(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestParseRTT(t *testing.T) {
	r, err := ParseRTT(strings.NewReader("Date_ms;response_time_ms;rtd_no\n504.001;0;1\n6012;1508;1\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []RTT{{504001 * time.Microsecond, 0, 1}, {6012 * time.Millisecond, 1508 * time.Millisecond, 1}}
	if !slices.Equal(r, want) {
		t.Errorf("%+v", r)
	}
	if _, err := ParseRTT(strings.NewReader("Date_ms;response_time_ms;rtd_no\n1;x;1\n")); err == nil {
		t.Error("bad line parsed")
	}
}

func TestArgs(t *testing.T) {
	c := Config{Prefix: []string{"nsenter", "--net=/run/netns/x", "--"}, Scenario: UACCall, Dir: "/d",
		Target: "198.51.100.100:5060", Service: "100", LocalIP: "198.51.100.2", LocalPort: 5061, MediaPort: 7010,
		Rate: 2, Limit: 10, Calls: 6, Hold: 3 * time.Second, Timeout: time.Minute,
		Vars: map[string]string{"b": "2", "a": "1"}}
	a, err := c.Args()
	if err != nil {
		t.Fatal(err)
	}
	want := "nsenter --net=/run/netns/x -- sipp 198.51.100.100:5060 -sf /d/uac-call.xml -i 198.51.100.2 -bind_local " +
		"-timeout 60000ms -nostdin -trace_stat -stf /d/stat.csv -fd 1 -trace_counts -trace_rtt -rtt_freq 1 -trace_err " +
		"-s 100 -p 5061 -mp 7010 -r 2 -l 10 -m 6 -d 3000ms -recv_timeout 10000ms -set a 1 -set b 2"
	if got := strings.Join(a, " "); got != want {
		t.Errorf("args\n%s\nwant\n%s", got, want)
	}
	for _, bad := range []Config{
		{Scenario: UACCall, Dir: "/d", LocalIP: "x", Calls: 1, Target: "t"},              // no Timeout
		{Scenario: "nope.xml", Dir: "/d", LocalIP: "x", Timeout: time.Second},            // unknown
		{Scenario: Register, Dir: "/d", LocalIP: "x", Timeout: time.Second, Target: "t"}, // no Calls
		{Scenario: UASAnswer, LocalIP: "x", Timeout: time.Second},                        // no Dir
	} {
		if _, err := bad.Args(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// The scenarios are well-formed XML, and uac-call.xml's pause is message 6
// (what Summarize counts cuts from).
func TestScenarios(t *testing.T) {
	for _, name := range []string{UACCall, Register, UASAnswer} {
		b, err := Scenario(name)
		if err != nil {
			t.Fatal(err)
		}
		d := xml.NewDecoder(strings.NewReader(string(b)))
		depth, n, pause := 0, 0, -1
		for {
			tok, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			switch e := tok.(type) {
			case xml.StartElement:
				if depth == 1 {
					switch e.Name.Local {
					case "send", "recv", "pause", "nop":
						if e.Name.Local == "pause" {
							pause = n
						}
						n++
					}
				}
				depth++
			case xml.EndElement:
				depth--
			}
		}
		if name == UACCall && pause != 6 {
			t.Errorf("%s: pause is message %d", name, pause)
		}
	}
}
