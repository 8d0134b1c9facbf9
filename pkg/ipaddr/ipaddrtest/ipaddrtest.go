// Package ipaddrtest records what the kernel's rtnetlink answers, through
// the real ipaddr.Kernel in a network namespace, and replays it: the fake
// Kernel knows only recorded states, and an operation moves it to the
// state recorded after the same operation from the same state. Anything
// not recorded fails the test instead of being made up.
package ipaddrtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"testing"

	"github.com/gocf/gocf/pkg/ipaddr"
	"golang.org/x/sys/unix"
)

// Error is an error the real Kernel returned: its text, and the errno
// under it so errors.Is works on the replay as on the original.
type Error struct {
	Errno syscall.Errno `json:",omitempty"`
	Text  string
}

func (e *Error) Error() string { return e.Text }

func (e *Error) Unwrap() error {
	if e.Errno == 0 {
		return nil
	}
	return e.Errno
}

func recorded(err error) *Error {
	if err == nil {
		return nil
	}
	e := &Error{Text: err.Error()}
	errors.As(err, &e.Errno)
	return e
}

// errOrNil keeps a nil *Error from becoming a non-nil error.
func errOrNil(e *Error) error {
	if e == nil {
		return nil
	}
	return e
}

// State is the node as the Kernel's dumps showed it. Errors, by method
// name, are what reads returned instead (a broken socket).
type State struct {
	Links   []ipaddr.LinkState
	Addrs4  []ipaddr.Addr
	Addrs6  []ipaddr.Addr
	Routes4 []ipaddr.Route
	Routes6 []ipaddr.Route
	Errors  map[string]*Error `json:",omitempty"`
}

// Op is an operation that changes the node.
type Op struct {
	Do     string       // add, del, up
	Addr   ipaddr.Addr  `json:",omitzero"`  // add
	Link   int          `json:",omitempty"` // del, up
	Prefix netip.Prefix `json:",omitzero"`  // del
}

func (o Op) String() string {
	b, _ := json.Marshal(o)
	return string(b)
}

// Transition is what an operation did from a state: its error, the state
// right after, and for an IPv6 address under duplicate address detection
// the address events that followed and the state they led to. As names
// the circumstance of an operation made otherwise than as root.
type Transition struct {
	From    string
	Op      Op
	As      string `json:",omitempty"`
	Err     *Error `json:",omitempty"`
	To      string
	Events  []ipaddr.AddrEvent `json:",omitempty"`
	Settled string             `json:",omitempty"`
}

// Recording is one scenario: a network namespace's states and the
// transitions between them.
type Recording struct {
	Comment     string
	States      map[string]State
	Transitions []Transition
}

// Load reads a recording.
func Load(t testing.TB, path string) *Recording {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r Recording
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &r
}

// Save writes a recording.
func (r *Recording) Save(path string) error {
	b, err := json.MarshalIndent(r, "", "\t")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// Fake is a Kernel replaying a recording. As selects the transitions
// recorded under that circumstance ("" as root).
type Fake struct {
	t   testing.TB
	rec *Recording
	As  string

	mu     sync.Mutex
	state  string
	ops    []Op
	closed bool
	// dad is the transition whose events a subscriber gets; sub is that
	// subscriber, fed once it has looked at the addresses.
	dad  *Transition
	sub  chan ipaddr.AddrEvent
	done <-chan struct{}
}

// Fake starts a replay in state.
func (r *Recording) Fake(t testing.TB, state string) *Fake {
	t.Helper()
	if _, ok := r.States[state]; !ok {
		t.Fatalf("no recorded state %q", state)
	}
	return &Fake{t: t, rec: r, state: state}
}

// State is the recorded state the fake is in.
func (f *Fake) State() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state
}

// Ops are the operations made so far.
func (f *Fake) Ops() []Op {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Op(nil), f.ops...)
}

// Open hands the fake out as a newly opened Kernel.
func (f *Fake) Open() ipaddr.Kernel {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = false
	return f
}

// Closed tells whether the Kernel last opened was closed.
func (f *Fake) Closed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

func (f *Fake) read(method string) (State, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		f.t.Errorf("%s after Close", method)
	}
	st := f.rec.States[f.state]
	return st, errOrNil(st.Errors[method])
}

func (f *Fake) link(method string, match func(ipaddr.LinkState) bool) (ipaddr.LinkState, bool, error) {
	st, err := f.read(method)
	if err != nil {
		return ipaddr.LinkState{}, false, err
	}
	for _, l := range st.Links {
		if match(l) {
			return l, true, nil
		}
	}
	return ipaddr.LinkState{}, false, nil
}

func (f *Fake) LinkByName(name string) (ipaddr.LinkState, bool, error) {
	return f.link("LinkByName", func(l ipaddr.LinkState) bool { return l.Name == name })
}

func (f *Fake) LinkByIndex(index int) (ipaddr.LinkState, bool, error) {
	return f.link("LinkByIndex", func(l ipaddr.LinkState) bool { return l.Index == index })
}

func (f *Fake) Routes(family int) ([]ipaddr.Route, error) {
	st, err := f.read("Routes")
	if family == unix.AF_INET {
		return st.Routes4, err
	}
	return st.Routes6, err
}

func (f *Fake) Addrs(family int) ([]ipaddr.Addr, error) {
	st, err := f.read("Addrs")
	f.mu.Lock()
	if f.sub != nil && f.dad != nil {
		go feed(f, f.dad, f.sub, f.done)
		f.dad, f.sub = nil, nil
	}
	f.mu.Unlock()
	if family == unix.AF_INET {
		return st.Addrs4, err
	}
	return st.Addrs6, err
}

// feed delivers the recorded events; the fake is in the settled state
// before the last one arrives, as the kernel's dump would be.
func feed(f *Fake, tr *Transition, ch chan ipaddr.AddrEvent, done <-chan struct{}) {
	for i, ev := range tr.Events {
		if i == len(tr.Events)-1 {
			f.mu.Lock()
			f.state = tr.Settled
			f.mu.Unlock()
		}
		select {
		case ch <- ev:
		case <-done:
			return
		}
	}
}

func (f *Fake) AddrEvents(done <-chan struct{}) (<-chan ipaddr.AddrEvent, error) {
	if _, err := f.read("AddrEvents"); err != nil {
		return nil, err
	}
	ch := make(chan ipaddr.AddrEvent)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sub, f.done = ch, done
	return ch, nil
}

func (f *Fake) apply(op Op) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops = append(f.ops, op)
	for i, tr := range f.rec.Transitions {
		if tr.From == f.state && tr.As == f.As && tr.Op.String() == op.String() {
			f.state, f.dad = tr.To, nil
			if len(tr.Events) > 0 {
				f.dad = &f.rec.Transitions[i]
			}
			return errOrNil(tr.Err)
		}
	}
	f.t.Errorf("no recorded transition from %q by %s (as %q)", f.state, op, f.As)
	return &Error{Text: "not recorded"}
}

func (f *Fake) AddrAdd(a ipaddr.Addr) error { return f.apply(Op{Do: "add", Addr: a}) }

func (f *Fake) AddrDel(index int, p netip.Prefix) error {
	return f.apply(Op{Do: "del", Link: index, Prefix: p})
}

func (f *Fake) LinkSetUp(index int) error { return f.apply(Op{Do: "up", Link: index}) }

func (f *Fake) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
}

// Recorder is a Kernel that passes everything to a real one and records
// it: each state the dumps show, and each operation with its error and the
// state after it. A state is named by the caller (Snapshot) or after the
// operation that led to it ("base +198.51.100.60/24"); a state that looks
// like one recorded before is that state.
type Recorder struct {
	k   ipaddr.Kernel
	Rec Recording
	cur string
	// Via, when set, runs the operations (in a thread without
	// CAP_NET_ADMIN, for one); As names that circumstance.
	Via func(fn func() error) error
	As  string
	// Subscribe, when set, replaces k's AddrEvents (to subscribe inside
	// the namespace).
	Subscribe func(done <-chan struct{}) (<-chan ipaddr.AddrEvent, error)

	mu     sync.Mutex
	events []ipaddr.AddrEvent
}

// NewRecorder records k, starting in a state named start.
func NewRecorder(k ipaddr.Kernel, comment, start string) (*Recorder, error) {
	r := &Recorder{k: k, Rec: Recording{Comment: comment, States: map[string]State{}}}
	return r, r.Snapshot(start)
}

// Dump reads every dump of k; errors are kept in the state.
func Dump(k ipaddr.Kernel) State {
	st := State{Errors: map[string]*Error{}}
	var err error
	keep := func(method string, err error) {
		if err != nil {
			st.Errors[method] = recorded(err)
		}
	}
	st.Links, err = links(k)
	keep("LinkByIndex", err)
	_, _, err = k.LinkByName("lo")
	keep("LinkByName", err)
	st.Addrs4, err = k.Addrs(unix.AF_INET)
	keep("Addrs", err)
	st.Addrs6, _ = k.Addrs(unix.AF_INET6)
	st.Routes4, err = k.Routes(unix.AF_INET)
	keep("Routes", err)
	st.Routes6, _ = k.Routes(unix.AF_INET6)
	if len(st.Errors) == 0 {
		st.Errors = nil
	}
	return st
}

// links finds the interfaces by index: a test namespace's are few and low.
func links(k ipaddr.Kernel) ([]ipaddr.LinkState, error) {
	var out []ipaddr.LinkState
	for i := 1; i < 64; i++ {
		l, ok, err := k.LinkByIndex(i)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, l)
		}
	}
	return out, nil
}

func same(a, b State) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// Snapshot records the current state as name; a name recorded before must
// look the same again.
func (r *Recorder) Snapshot(name string) error {
	st := Dump(r.k)
	if old, ok := r.Rec.States[name]; ok && !same(old, st) {
		a, _ := json.Marshal(old)
		b, _ := json.Marshal(st)
		return fmt.Errorf("state %s differs from its first recording:\n%s\n%s", name, a, b)
	}
	r.Rec.States[name], r.cur = st, name
	return nil
}

// SnapshotBroken records the current state as name, every read of which
// must fail.
func (r *Recorder) SnapshotBroken(name string) error {
	st := Dump(r.k)
	if _, err := r.k.AddrEvents(make(chan struct{})); err != nil {
		st.Errors["AddrEvents"] = recorded(err)
	}
	for _, m := range []string{"LinkByIndex", "LinkByName", "Addrs", "Routes", "AddrEvents"} {
		if st.Errors[m] == nil {
			return fmt.Errorf("%s did not fail", m)
		}
	}
	r.Rec.States[name], r.cur = st, name
	return nil
}

// Current is the name of the state the recorder is in.
func (r *Recorder) Current() string { return r.cur }

// arrive names the state after an operation.
func (r *Recorder) arrive(label string) string {
	st := Dump(r.k)
	for name, old := range r.Rec.States {
		if same(old, st) {
			r.cur = name
			return name
		}
	}
	name := r.cur + " " + label
	r.Rec.States[name], r.cur = st, name
	return name
}

func (r *Recorder) do(op Op, label string, fn func() error) error {
	var err error
	if r.Via != nil {
		err = r.Via(fn)
	} else {
		err = fn()
	}
	from := r.cur
	to := r.arrive(label)
	r.Rec.Transitions = append(r.Rec.Transitions, Transition{From: from, Op: op, As: r.As, Err: recorded(err), To: to})
	r.mu.Lock()
	r.events = nil
	r.mu.Unlock()
	return err
}

// Settle records the state the address events seen since the last
// operation led to, with those events, on that operation.
func (r *Recorder) Settle() {
	r.mu.Lock()
	defer r.mu.Unlock()
	tr := &r.Rec.Transitions[len(r.Rec.Transitions)-1]
	tr.Events, tr.Settled = r.events, r.arrive("settled")
	r.events = nil
}

func (r *Recorder) LinkByName(name string) (ipaddr.LinkState, bool, error) {
	return r.k.LinkByName(name)
}

func (r *Recorder) LinkByIndex(index int) (ipaddr.LinkState, bool, error) {
	return r.k.LinkByIndex(index)
}

func (r *Recorder) Routes(family int) ([]ipaddr.Route, error) { return r.k.Routes(family) }

func (r *Recorder) Addrs(family int) ([]ipaddr.Addr, error) { return r.k.Addrs(family) }

func (r *Recorder) AddrAdd(a ipaddr.Addr) error {
	return r.do(Op{Do: "add", Addr: a}, "+"+a.Prefix.String(), func() error { return r.k.AddrAdd(a) })
}

func (r *Recorder) AddrDel(index int, p netip.Prefix) error {
	return r.do(Op{Do: "del", Link: index, Prefix: p}, "-"+p.String(), func() error { return r.k.AddrDel(index, p) })
}

func (r *Recorder) LinkSetUp(index int) error {
	return r.do(Op{Do: "up", Link: index}, fmt.Sprintf("+up(%d)", index), func() error { return r.k.LinkSetUp(index) })
}

func (r *Recorder) AddrEvents(done <-chan struct{}) (<-chan ipaddr.AddrEvent, error) {
	sub := r.k.AddrEvents
	if r.Subscribe != nil {
		sub = r.Subscribe
	}
	in, err := sub(done)
	if err != nil {
		return nil, err
	}
	out := make(chan ipaddr.AddrEvent)
	go func() {
		defer close(out)
		for ev := range in {
			// Kept before it is handed over, so that it is there once the
			// receiver has acted on it.
			r.mu.Lock()
			r.events = append(r.events, ev)
			r.mu.Unlock()
			select {
			case out <- ev:
			case <-done:
				return
			}
		}
	}()
	return out, nil
}

// Close does not close the recorded kernel: the recording goes on.
func (r *Recorder) Close() {}
