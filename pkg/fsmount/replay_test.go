package fsmount

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gocf/gocf/pkg/holders"
	"github.com/gocf/gocf/pkg/mounts"
	"github.com/moby/sys/mountinfo"
)

// The action tests run the agent on a fake node that replays what the
// real one did in a private mount namespace on loop devices
// (testdata/recorded, written by TestRecordFsmount). A recording has named
// states of the node, each what the reads showed (the mount table, stat of
// the paths involved, the holders of each mount point, the I/O child's
// answers), and transitions: an operation (mount, umount, mkdir, signal,
// thaw, mount(8), fsck, blkid) from a state, with what it answered and the
// state it led to. The fake knows only what was recorded: anything else
// fails the test instead of being made up.

// TestMain serves the two roles a test binary plays for the recorder: the
// I/O helper child (inChild runs /proc/self/exe fs-io ...) and a process
// holding a path.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == ioHelper {
		os.Exit(int(runIOHelper(context.Background(), os.Args[2:], nil)))
	}
	if spec := os.Getenv(holdEnv); spec != "" {
		serveHold(spec)
	}
	os.Exit(m.Run())
}

// recError is an error the real node returned: its text, and the errno or
// the child's silence under it, so errors.Is works on the replay as on the
// original.
type recError struct {
	Errno    syscall.Errno `json:",omitempty"`
	NoAnswer bool          `json:",omitempty"`
	Text     string
}

func (e *recError) Error() string { return e.Text }

func (e *recError) Unwrap() error {
	switch {
	case e.NoAnswer:
		return errNoAnswer
	case e.Errno != 0:
		return e.Errno
	}
	return nil
}

func recorded(err error) *recError {
	if err == nil {
		return nil
	}
	e := &recError{Text: err.Error(), NoAnswer: errors.Is(err, errNoAnswer)}
	errors.As(err, &e.Errno)
	return e
}

// errOf keeps a nil *recError from becoming a non-nil error.
func errOf(e *recError) error {
	if e == nil {
		return nil
	}
	return e
}

// pathState is what stat(2), the link resolution and mounts.Canonical
// said of one path.
type pathState struct {
	Stat      *fileStat `json:",omitempty"`
	StatErr   *recError `json:",omitempty"`
	Link      string    `json:",omitempty"`
	LinkErr   *recError `json:",omitempty"`
	Canonical string
	CanonErr  *recError `json:",omitempty"`
}

// answer is what a call returned.
type answer struct {
	Out string    `json:",omitempty"`
	Err *recError `json:",omitempty"`
}

// nodeState is the node as the reads showed it. Mountinfo keeps the lines
// of /proc/self/mountinfo for / and below /mnt (the namespace's own);
// Holders and Child are by watched mount point and by "op args...".
type nodeState struct {
	// Hidden is what the reads cannot show and the scenario knows (a
	// frozen superblock, a damaged filesystem): two states that read the
	// same but differ so are different states.
	Hidden    string `json:",omitempty"`
	Mountinfo string
	ReadErr   *recError `json:",omitempty"`
	Paths     map[string]pathState
	Holders   map[string][]holders.Holder
	HoldErr   map[string]*recError `json:",omitempty"`
	Child     map[string]answer
	// Loops are the backing files of the loop devices mounted on the
	// watched mount points, by major:minor.
	Loops map[string]answer `json:",omitempty"`
}

// recOp is an operation that may change the node.
type recOp struct {
	Do   string // mount, umount, mkdir, signal, thaw, mount8, fsck, findfs
	Args []string
}

func (o recOp) String() string { return o.Do + " " + strings.Join(o.Args, " ") }

// transition is what an operation did from a state. As names the
// circumstance of an operation made otherwise than as root.
type transition struct {
	From string
	Op   recOp
	As   string    `json:",omitempty"`
	Code int       `json:",omitempty"` // fsck's exit code
	Out  string    `json:",omitempty"`
	Err  *recError `json:",omitempty"`
	To   string
}

// kernelRec is readKernelFS's view of the recording kernel.
type kernelRec struct {
	Registered string
	Modular    bool
	Aliases    *string `json:",omitempty"` // the fs- lines of modules.alias; nil when unreadable
}

type recording struct {
	Comment     string
	Vars        map[string]string // the names a scenario used: devices, images, mount points
	Hostname    string
	Kernel      kernelRec
	States      map[string]*nodeState
	Transitions []transition
}

func loadRecording(t testing.TB, name string) *recording {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "recorded", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var r recording
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &r
}

func (r *recording) save(path string) error {
	b, err := json.MarshalIndent(r, "", "\t")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func (k kernelRec) kernelFS() kernelFS {
	fs := kernelFS{registered: []byte(k.Registered), modular: k.Modular}
	if k.Aliases != nil {
		fs.aliases = []byte(*k.Aliases)
	}
	return fs
}

// fake is a node replaying a recording. As selects the transitions
// recorded under that circumstance ("" as root, privileged).
type fake struct {
	t   testing.TB
	rec *recording
	As  string
	// kernel, when set, replaces the recorded kernel (a node without
	// modules.alias).
	kernel *kernelFS

	mu    sync.Mutex
	state string
	ops   []recOp
}

func (r *recording) fake(t testing.TB, state string) *fake {
	t.Helper()
	if _, ok := r.States[state]; !ok {
		t.Fatalf("no recorded state %q", state)
	}
	return &fake{t: t, rec: r, state: state}
}

func (f *fake) node() node {
	return node{tools: toolsMount{f}, sys: f, table: f, holders: f, child: f, host: f}
}

// State is the recorded state the fake is in.
func (f *fake) State() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state
}

// Ops are the operations made so far, rendered "do args...".
func (f *fake) Ops() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, o := range f.ops {
		out = append(out, o.String())
	}
	return out
}

func (f *fake) cur() *nodeState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rec.States[f.state]
}

func (f *fake) notRecorded(what string) error {
	f.t.Helper()
	f.t.Errorf("state %q: %s not recorded", f.State(), what)
	return errors.New("not recorded")
}

func (f *fake) apply(op recOp) transition {
	f.t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ops = append(f.ops, op)
	for _, tr := range f.rec.Transitions {
		if tr.From == f.state && tr.As == f.As && slices.Equal(tr.Op.Args, op.Args) && tr.Op.Do == op.Do {
			f.state = tr.To
			return tr
		}
	}
	f.t.Errorf("no recorded transition from %q by %s (as %q)", f.state, op, f.As)
	return transition{Err: &recError{Text: "not recorded"}, Code: -1}
}

// mountCalls

func (f *fake) Mount(source, target, fstype string, flags uintptr, data string) error {
	return errOf(f.apply(recOp{"mount", []string{source, target, fstype, "0x" + strconv.FormatUint(uint64(flags), 16), data}}).Err)
}

func (f *fake) Unmount(target string, flags int) error {
	return errOf(f.apply(recOp{"umount", []string{target, "0x" + strconv.FormatUint(uint64(flags), 16)}}).Err)
}

// mountTable

func (f *fake) Read() (mounts.Table, error) {
	st := f.cur()
	if st.ReadErr != nil {
		return nil, st.ReadErr
	}
	return mountinfo.GetMountsFromReader(strings.NewReader(st.Mountinfo), nil)
}

func (f *fake) Canonical(_ context.Context, _ mounts.Table, dir string) (string, error) {
	p, ok := f.cur().Paths[dir]
	if !ok {
		return dir, f.notRecorded("canonical " + dir)
	}
	return p.Canonical, errOf(p.CanonErr)
}

// holderSearch

func (f *fake) Find(_ context.Context, dir string) ([]holders.Holder, error) {
	st := f.cur()
	if e := st.HoldErr[dir]; e != nil {
		return nil, e
	}
	hs, ok := st.Holders[dir]
	if !ok {
		return nil, f.notRecorded("holders of " + dir)
	}
	return hs, nil
}

func (f *fake) Signal(hs []holders.Holder, dir string, sig syscall.Signal) int {
	args := []string{dir, strconv.Itoa(int(sig))}
	for _, h := range hs {
		args = append(args, strconv.Itoa(h.PID))
	}
	n, _ := strconv.Atoi(f.apply(recOp{"signal", args}).Out)
	return n
}

// ioChild

func (f *fake) Run(_ context.Context, op string, args ...string) (string, error) {
	if op == "thaw" {
		tr := f.apply(recOp{"thaw", args})
		return tr.Out, errOf(tr.Err)
	}
	key := op + " " + strings.Join(args, " ")
	a, ok := f.cur().Child[key]
	if !ok {
		return "", f.notRecorded("child " + key)
	}
	return a.Out, errOf(a.Err)
}

// hostInfo

func (f *fake) Privileged() bool { return f.As == "" }

func (f *fake) path(p string) (pathState, bool) {
	ps, ok := f.cur().Paths[p]
	return ps, ok
}

func (f *fake) Stat(p string) (fileStat, error) {
	ps, ok := f.path(p)
	if !ok {
		return fileStat{}, f.notRecorded("stat " + p)
	}
	if ps.StatErr != nil {
		return fileStat{}, ps.StatErr
	}
	return *ps.Stat, nil
}

func (f *fake) EvalSymlinks(p string) (string, error) {
	ps, ok := f.path(p)
	if !ok {
		return "", f.notRecorded("link " + p)
	}
	return ps.Link, errOf(ps.LinkErr)
}

func (f *fake) MkdirAll(dir string) error { return errOf(f.apply(recOp{"mkdir", []string{dir}}).Err) }

func (f *fake) KernelFS() (kernelFS, error) {
	if f.kernel != nil {
		return *f.kernel, nil
	}
	return f.rec.Kernel.kernelFS(), nil
}

func (f *fake) Hostname() (string, error) { return f.rec.Hostname, nil }

func (f *fake) LoopBacking(major, minor int) (string, error) {
	a, ok := f.cur().Loops[fmt.Sprintf("%d:%d", major, minor)]
	if !ok {
		return "", f.notRecorded(fmt.Sprintf("loop backing file of %d:%d", major, minor))
	}
	return a.Out, errOf(a.Err)
}

// Tools

func (f *fake) Fsck(_ context.Context, device, fstype string) (int, string, error) {
	tr := f.apply(recOp{"fsck", []string{device, fstype}})
	return tr.Code, tr.Out, errOf(tr.Err)
}

func (f *fake) Mount8(device, dir, fstype, options string) transition {
	return f.apply(recOp{"mount8", []string{device, dir, fstype, options}})
}

func (f *fake) FindFS(_ context.Context, tag, value string) (string, error) {
	tr := f.apply(recOp{"findfs", []string{tag, value}})
	return tr.Out, errOf(tr.Err)
}

// toolsMount adapts Tools.Mount's name clash with mountCalls.Mount.
type toolsMount struct{ *fake }

func (m toolsMount) Mount(_ context.Context, device, dir, fstype, options string) (string, error) {
	tr := m.Mount8(device, dir, fstype, options)
	return tr.Out, errOf(tr.Err)
}

// holdEnv turns a re-executed test binary into a process holding a path:
// "cwd:PATH" or "open:PATH", with ":noterm" after it to ignore SIGTERM.
const holdEnv = "GOCF_FSMOUNT_HOLD"

func serveHold(spec string) {
	how, rest, _ := strings.Cut(spec, ":")
	path, noterm := strings.CutSuffix(rest, ":noterm")
	if noterm {
		signal.Ignore(syscall.SIGTERM)
	}
	var err error
	switch how {
	case "cwd":
		err = os.Chdir(path)
	case "open":
		var f *os.File
		f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		defer f.Close()
	default:
		err = fmt.Errorf("unknown hold %q", how)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "holder:", err)
		os.Exit(2)
	}
	os.Stdout.WriteString("ready\n")
	time.Sleep(5 * time.Minute) // until killed
	os.Exit(0)
}
