package sipp

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// StatRow is one row of the -trace_stat file: with -fd 1, one a second,
// and one or two more when SIPp ends. Counts are cumulative (SIPp's (C)
// columns).
type StatRow struct {
	Time       time.Time // CurrentTime
	Created    int       // TotalCallCreated
	Current    int       // CurrentCall: open calls
	Successful int       // SuccessfulCall(C)
	Failed     int       // FailedCall(C)
	// Fields holds every column by its header name, as written.
	Fields map[string]string
}

// Stat is the -trace_stat file.
type Stat struct {
	Start time.Time // StartTime: SIPp's start, the origin of the rtt file's dates
	Rows  []StatRow
}

// ParseStat reads a -trace_stat file (semicolon-separated, a header line).
func ParseStat(r io.Reader) (*Stat, error) {
	head, rows, err := readCSV(r)
	if err != nil {
		return nil, err
	}
	st := &Stat{}
	for i, row := range rows {
		f := make(map[string]string, len(head))
		for j, h := range head {
			if j < len(row) {
				f[h] = row[j]
			}
		}
		var sr StatRow
		sr.Fields = f
		if sr.Time, err = sippTime(f["CurrentTime"]); err != nil {
			return nil, fmt.Errorf("stat row %d: %w", i+1, err)
		}
		if i == 0 {
			if st.Start, err = sippTime(f["StartTime"]); err != nil {
				return nil, fmt.Errorf("stat row %d: %w", i+1, err)
			}
		}
		for _, c := range []struct {
			name string
			v    *int
		}{{"TotalCallCreated", &sr.Created}, {"CurrentCall", &sr.Current},
			{"SuccessfulCall(C)", &sr.Successful}, {"FailedCall(C)", &sr.Failed}} {
			if *c.v, err = strconv.Atoi(f[c.name]); err != nil {
				return nil, fmt.Errorf("stat row %d: %s: %w", i+1, c.name, err)
			}
		}
		st.Rows = append(st.Rows, sr)
	}
	if len(st.Rows) == 0 {
		return nil, fmt.Errorf("stat: no rows")
	}
	return st, nil
}

// CountColumn is a -trace_counts column: "8_200_Timeout" is message 8 (the
// scenario's elements from 0), "200", kind "Timeout". Kinds: Sent, Recv,
// Retrans, Timeout, Unexp, Sessions (a pause).
type CountColumn struct {
	Index   int
	Message string
	Kind    string
}

// CountsRow is one row of the -trace_counts file, cumulative, in the
// columns' order.
type CountsRow struct {
	Time   time.Time
	Values []int
}

// Counts is the -trace_counts file: with -fd 1 a row a second, written
// with the stat file's rows.
type Counts struct {
	Columns []CountColumn
	Rows    []CountsRow
}

// ParseCounts reads a -trace_counts file.
func ParseCounts(r io.Reader) (*Counts, error) {
	head, rows, err := readCSV(r)
	if err != nil {
		return nil, err
	}
	if len(head) < 2 || head[0] != "CurrentTime" {
		return nil, fmt.Errorf("counts: unexpected header %q", head)
	}
	c := &Counts{}
	for _, h := range head[2:] {
		first, last := strings.Index(h, "_"), strings.LastIndex(h, "_")
		if first < 0 || last <= first {
			return nil, fmt.Errorf("counts: column %q", h)
		}
		n, err := strconv.Atoi(h[:first])
		if err != nil {
			return nil, fmt.Errorf("counts: column %q", h)
		}
		c.Columns = append(c.Columns, CountColumn{Index: n, Message: h[first+1 : last], Kind: h[last+1:]})
	}
	for i, row := range rows {
		if len(row) < 2+len(c.Columns) {
			return nil, fmt.Errorf("counts row %d: %d fields", i+1, len(row))
		}
		cr := CountsRow{Values: make([]int, len(c.Columns))}
		if cr.Time, err = sippTime(row[0]); err != nil {
			return nil, fmt.Errorf("counts row %d: %w", i+1, err)
		}
		for j := range c.Columns {
			if cr.Values[j], err = strconv.Atoi(row[2+j]); err != nil {
				return nil, fmt.Errorf("counts row %d: %w", i+1, err)
			}
		}
		c.Rows = append(c.Rows, cr)
	}
	return c, nil
}

// Last is the final value of a column, 0 when absent.
func (c *Counts) Last(index int, kind string) int {
	if len(c.Rows) == 0 {
		return 0
	}
	for j, col := range c.Columns {
		if col.Index == index && col.Kind == kind {
			return c.Rows[len(c.Rows)-1].Values[j]
		}
	}
	return 0
}

// upIndex is the scenario's first pause: the call is up from there on.
// -1 when the scenario has none.
func (c *Counts) upIndex() int {
	for _, col := range c.Columns {
		if col.Message == "Pause" {
			return col.Index
		}
	}
	return -1
}

// cut is, per row, the calls lost while up: Timeout and Unexp from the
// scenario's first pause on.
func (c *Counts) cut() []int {
	up := c.upIndex()
	out := make([]int, len(c.Rows))
	if up < 0 {
		return out
	}
	for i, r := range c.Rows {
		for j, col := range c.Columns {
			if col.Index >= up && (col.Kind == "Timeout" || col.Kind == "Unexp") {
				out[i] += r.Values[j]
			}
		}
	}
	return out
}

// RTT is one line of the rtt file (-trace_rtt -rtt_freq 1): a response
// time measured, at Since after SIPp's start.
type RTT struct {
	Since time.Duration
	Time  time.Duration // the response time
	RTD   int           // which one: 1 is the set-up (INVITE to 200)
}

// ParseRTT reads the rtt file ("Date_ms;response_time_ms;rtd_no").
func ParseRTT(r io.Reader) ([]RTT, error) {
	head, rows, err := readCSV(r)
	if err != nil {
		return nil, err
	}
	if len(head) < 3 || head[0] != "Date_ms" {
		return nil, fmt.Errorf("rtt: unexpected header %q", head)
	}
	var out []RTT
	for i, row := range rows {
		if len(row) < 3 {
			return nil, fmt.Errorf("rtt row %d: %q", i+1, row)
		}
		date, err1 := strconv.ParseFloat(row[0], 64)
		rt, err2 := strconv.ParseFloat(row[1], 64)
		n, err3 := strconv.Atoi(row[2])
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, fmt.Errorf("rtt row %d: %q", i+1, row)
		}
		out = append(out, RTT{Since: msDuration(date), Time: msDuration(rt), RTD: n})
	}
	return out, nil
}

func msDuration(ms float64) time.Duration {
	return time.Duration(math.Round(ms * float64(time.Millisecond)))
}

// Second is one interval of the timeline: what ended between the previous
// row's time and Time.
type Second struct {
	Time       time.Time
	Successful int // calls that ended normally
	Failed     int // calls that failed to set up
	Cut        int // calls lost while up
}

// SetUp is one call set up (its 200 OK received).
type SetUp struct {
	Time     time.Time     // when the 200 came, wall clock
	Duration time.Duration // INVITE to 200
}

// Result is what one SIPp run did.
type Result struct {
	Start      time.Time
	Attempted  int // calls created
	Successful int // ended normally
	Failed     int // failed to set up
	Cut        int // set up, then lost while up
	Open       int // still open when SIPp ended (stopped or timed out)
	Seconds    []Second
	SetUps     []SetUp
}

// Summarize combines the three files. Cut is, from the counts, every
// Timeout and Unexp at or after the scenario's first pause (uac-call.xml:
// the hold, the BYE and its answer); Failed is SIPp's failed calls less
// those. A scenario without a pause has no cut calls. counts and rtts may
// be nil.
func Summarize(st *Stat, counts *Counts, rtts []RTT) *Result {
	last := st.Rows[len(st.Rows)-1]
	r := &Result{Start: st.Start, Attempted: last.Created, Successful: last.Successful, Open: last.Current}
	var cut []int
	if counts != nil && len(counts.Rows) > 0 {
		cut = counts.cut()
		r.Cut = cut[len(cut)-1]
	}
	r.Failed = last.Failed - r.Cut
	// The counts rows are written with the stat rows; should they differ
	// in number, a stat row takes the cut count of the last counts row not
	// after it.
	cutAt := func(t time.Time) int {
		if counts == nil {
			return 0
		}
		n := 0
		for i, cr := range counts.Rows {
			if cr.Time.After(t.Add(50 * time.Millisecond)) {
				break
			}
			n = cut[i]
		}
		return n
	}
	var prev StatRow
	prevCut := 0
	for _, row := range st.Rows {
		c := cutAt(row.Time)
		s := Second{Time: row.Time, Successful: row.Successful - prev.Successful, Cut: c - prevCut}
		s.Failed = row.Failed - prev.Failed - s.Cut
		// SIPp's final rows repeat the last one: keep a row per time.
		if n := len(r.Seconds); n > 0 && !s.Time.After(r.Seconds[n-1].Time.Add(10*time.Millisecond)) {
			p := &r.Seconds[n-1]
			p.Successful += s.Successful
			p.Failed += s.Failed
			p.Cut += s.Cut
			p.Time = s.Time
		} else {
			r.Seconds = append(r.Seconds, s)
		}
		prev, prevCut = row, c
	}
	for _, x := range rtts {
		if x.RTD == 1 {
			r.SetUps = append(r.SetUps, SetUp{Time: st.Start.Add(x.Since), Duration: x.Time})
		}
	}
	return r
}

// ReadDir reads the stat, counts and rtt files of the one run in dir and
// summarizes them. The counts and rtt files are named after the scenario
// and SIPp's PID; a run that made no response-time measure has no rtt
// file.
func ReadDir(dir string) (*Result, error) {
	st, err := readFile(filepath.Join(dir, StatFile), ParseStat)
	if err != nil {
		return nil, err
	}
	var counts *Counts
	if p, err := one(dir, "_counts.csv"); err != nil {
		return nil, err
	} else if p != "" {
		if counts, err = readFile(p, ParseCounts); err != nil {
			return nil, err
		}
	}
	var rtts []RTT
	if p, err := one(dir, "_rtt.csv"); err != nil {
		return nil, err
	} else if p != "" {
		if rtts, err = readFile(p, ParseRTT); err != nil {
			return nil, err
		}
	}
	return Summarize(st, counts, rtts), nil
}

func one(dir, suffix string) (string, error) {
	m, err := filepath.Glob(filepath.Join(dir, "*_*"+suffix))
	if err != nil {
		return "", err
	}
	switch len(m) {
	case 0:
		return "", nil
	case 1:
		return m[0], nil
	}
	return "", fmt.Errorf("sipp: %d files *%s in %s: one run per directory", len(m), suffix, dir)
}

func readFile[T any](path string, parse func(io.Reader) (T, error)) (T, error) {
	f, err := os.Open(path)
	if err != nil {
		var zero T
		return zero, err
	}
	defer f.Close()
	v, err := parse(f)
	if err != nil {
		return v, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// readCSV splits SIPp's semicolon-separated lines (a trailing ";" is
// dropped).
func readCSV(r io.Reader) (head []string, rows [][]string, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Split(strings.TrimSuffix(line, ";"), ";")
		if head == nil {
			head = f
			continue
		}
		rows = append(rows, f)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, err
	}
	if head == nil {
		return nil, nil, fmt.Errorf("empty file")
	}
	return head, rows, nil
}

// sippTime reads SIPp's time stamps: "2026-11-30\t12:52:59.445853\t1796043179.445853"
// (date, time, seconds since the epoch); the last field is used.
func sippTime(s string) (time.Time, error) {
	f := strings.Fields(s)
	if len(f) == 0 {
		return time.Time{}, fmt.Errorf("empty time stamp")
	}
	whole, frac, _ := strings.Cut(f[len(f)-1], ".")
	sec, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("time stamp %q: %w", s, err)
	}
	frac = (frac + "000000000")[:9]
	ns, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("time stamp %q: %w", s, err)
	}
	return time.Unix(sec, ns), nil
}

func sortedKeys(m map[string]string) []string {
	k := make([]string, 0, len(m))
	for x := range m {
		k = append(k, x)
	}
	slices.Sort(k)
	return k
}
