package drbd

import (
	"bufio"
	"errors"
	"io"
	"strconv"
	"strings"
)

// Limits that keep a hostile or broken stream from growing the model.
const (
	maxSkipped   = 8
	maxHelpers   = 32
	maxLineShown = 200
)

// Parser applies `drbdsetup events2` lines, from a --now dump or from a
// stream, to a Model. It never fails: a line it cannot use is counted in
// Model.Malformed and skipped.
type Parser struct {
	Model *Model
	// last is the previous usable line, so an indented continuation line
	// (the DRBD User's Guide wraps long lines) can be applied to its object.
	last *record
}

// record is one line split into verb, object and key/values.
type record struct {
	verb, object string
	keys         []kv
}

type kv struct{ k, v string }

// NewParser returns a parser with an empty model.
func NewParser() *Parser { return &Parser{Model: &Model{}} }

// Parse reads events2 output to the end. The error is the reader's only.
func Parse(r io.Reader) (*Model, error) {
	p := NewParser()
	br := bufio.NewReader(r)
	for {
		// ReadString, not a Scanner: a line longer than a buffer must be
		// skipped like any malformed line, not end the parse.
		line, err := br.ReadString('\n')
		if line != "" {
			p.Line(line)
		}
		if errors.Is(err, io.EOF) {
			return p.Model, nil
		}
		if err != nil {
			return p.Model, err
		}
	}
}

// ParseString parses a complete events2 output held in memory.
func ParseString(s string) *Model {
	m, _ := Parse(strings.NewReader(s))
	return m
}

var verbs = map[string]bool{
	"exists": true, "create": true, "change": true, "destroy": true,
	"call": true, "response": true, "rename": true,
}

// Line applies one line and tells whether it was used. Blank lines and
// marker lines (`exists -`) count as used.
func (p *Parser) Line(line string) bool {
	raw := line
	line = stripANSI(strings.TrimRight(line, "\r\n"))
	if strings.TrimSpace(line) == "" {
		return true
	}
	if line[0] == ' ' || line[0] == '\t' {
		return p.continuation(raw, strings.Fields(line))
	}
	f := strings.Fields(line)
	// A --timestamps prefix (or a sequence number in old logs) precedes the verb.
	if !verbs[f[0]] && f[0] != "-" && len(f) > 1 && (verbs[f[1]] || f[1] == "-") {
		f = f[1:]
	}
	if f[0] == "-" {
		return true
	}
	if !verbs[f[0]] || len(f) < 2 {
		return p.skip(raw)
	}
	rec := &record{verb: f[0], object: f[1]}
	if rec.object == "-" {
		if rec.verb == "exists" {
			p.Model.DumpComplete = true
		}
		return true
	}
	keys, ok := splitKeys(f[2:])
	if !ok {
		return p.skip(raw)
	}
	rec.keys = keys
	if !p.apply(rec) {
		return p.skip(raw)
	}
	p.last = rec
	return true
}

// continuation applies an indented line of key:values to the object of the
// previous line, as if that line had carried them.
func (p *Parser) continuation(raw string, f []string) bool {
	keys, ok := splitKeys(f)
	if !ok || p.last == nil {
		return p.skip(raw)
	}
	rec := &record{verb: p.last.verb, object: p.last.object,
		keys: append(append([]kv(nil), p.last.keys...), keys...)}
	if !p.apply(rec) {
		return p.skip(raw)
	}
	p.last = rec
	return true
}

// splitKeys splits tokens on their first colon only: values such as
// local:ipv4:10.0.0.1:7789 hold colons. With --diff a value reads
// old->new; the new value is kept.
func splitKeys(tokens []string) ([]kv, bool) {
	out := make([]kv, 0, len(tokens))
	for _, t := range tokens {
		k, v, ok := strings.Cut(t, ":")
		if !ok || k == "" {
			return nil, false
		}
		if i := strings.LastIndex(v, "->"); i >= 0 {
			v = v[i+2:]
		}
		out = append(out, kv{k, v})
	}
	return out, true
}

func (p *Parser) skip(raw string) bool {
	m := p.Model
	m.Malformed++
	if len(m.Skipped) < maxSkipped {
		raw = strings.TrimRight(raw, "\r\n")
		if len(raw) > maxLineShown {
			raw = raw[:maxLineShown] + "…"
		}
		m.Skipped = append(m.Skipped, raw)
	}
	return false
}

// stripANSI removes the colour escapes of `drbdsetup events2 --color`.
func stripANSI(s string) string {
	if !strings.Contains(s, "\x1b") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
				j++
			}
			i = j // skip the final byte too
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// get returns the value of key k; the last occurrence wins.
func (r *record) get(k string) (string, bool) {
	v, found := "", false
	for _, e := range r.keys {
		if e.k == k {
			v, found = e.v, true
		}
	}
	return v, found
}

// getInt returns an integer key; ok is false when it is absent or not a
// non-negative number.
func (r *record) getInt(k string) (int, bool) {
	v, found := r.get(k)
	if !found {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	return n, err == nil && n >= 0
}

// list parses suspended:/resync-suspended:, "no" or a comma list.
func list(v string) []string {
	if v == "no" || v == "" {
		return nil
	}
	return strings.Split(v, ",")
}
