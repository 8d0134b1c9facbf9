package ocf

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite golden files")

// testAgent exercises every declaration feature, OCF 1.1 ones included.
func testAgent() *Agent {
	return &Agent{
		Name: "demo", Version: "1.2.3", Short: "Demo agent", Long: "A demo agent for the SDK's tests.",
		Params: []Param{
			{Name: "name", Type: String, Required: true, Unique: true, Short: "Name", Long: "The name."},
			{Name: "count", Type: Integer, Default: "3", Bounds: &Range{0, 10}, Short: "Count", Long: "How many."},
			{Name: "fast", Type: Boolean, Default: "false", Reloadable: true, Short: "Fast", Long: "Go fast."},
			{Name: "mode", Type: String, Default: "a", Choices: []string{"a", "b"}, Short: "Mode", Long: "The mode."},
		},
		Actions: []Action{
			{Name: "start", Timeout: 20 * time.Second, Run: func(context.Context, *Request) Status { return Success }},
			{Name: "stop", Timeout: 20 * time.Second, Run: func(context.Context, *Request) Status { return Success }},
			{Name: "monitor", Timeout: 20 * time.Second, Interval: 10 * time.Second, Run: monitorDepth},
			{Name: "monitor", Timeout: 30 * time.Second, Interval: 11 * time.Second, Depth: 10, Role: "Promoted"},
			{Name: "monitor", Timeout: 40 * time.Second, Interval: 60 * time.Second, Depth: 20},
			{Name: "reload-agent", Timeout: 10 * time.Second, Run: func(context.Context, *Request) Status { return Success }},
			{Name: "status", Timeout: 20 * time.Second},
			{Name: "fail", Timeout: 1 * time.Second, Run: func(_ context.Context, r *Request) Status {
				r.Fail(ErrGeneric, "first reason")
				return r.Fail(ErrInstalled, "the tool frob is not installed on this node")
			}},
			{Name: "crash", Timeout: 1 * time.Second, Run: func(context.Context, *Request) Status { panic("boom") }},
			{Name: "hang", Timeout: 1 * time.Second, Run: func(ctx context.Context, r *Request) Status {
				time.Sleep(time.Hour) // ignores ctx: only the watchdog ends it
				return Success
			}},
			{Name: "wait", Timeout: 1 * time.Second, Run: func(ctx context.Context, r *Request) Status {
				<-ctx.Done()
				return r.Fail(ErrGeneric, "gave up at the deadline")
			}},
			{Name: "config", Timeout: 1 * time.Second, Run: func(_ context.Context, r *Request) Status {
				if c := Config[string](r); c != "checked "+r.Params.String("name") {
					return r.Fail(ErrGeneric, "Config returned %q", c)
				}
				return Success
			}},
			{Name: "silent", Timeout: 1 * time.Second, Run: func(context.Context, *Request) Status { return ErrGeneric }},
			{Name: "degrade", Timeout: 1 * time.Second, Run: func(_ context.Context, r *Request) Status {
				return r.Fail(Degraded, "works, but its REST interface does not answer")
			}},
		},
		Check: func(r *Request) (any, error) {
			if r.Params.String("name") == "forbidden" {
				return nil, errString("name forbidden is reserved")
			}
			return "checked " + r.Params.String("name"), nil
		},
	}
}

type errString string

func (e errString) Error() string { return string(e) }

// monitorDepth reports the effective depth as its status, for the test.
func monitorDepth(_ context.Context, r *Request) Status {
	if r.IsProbe() {
		return NotRunning
	}
	return Status(100 + r.Depth)
}

type result struct {
	status         Status
	stdout, stderr string
	exited         int
}

func run(t *testing.T, a *Agent, args []string, env ...string) result {
	t.Helper()
	var so, se bytes.Buffer
	exited := make(chan int, 1)
	exit := func(code int) { exited <- code; select {} }
	done := make(chan Status, 1)
	go func() { done <- Run(a, append([]string{a.Name}, args...), env, &so, &se, exit) }()
	select {
	case s := <-done:
		return result{status: s, stdout: so.String(), stderr: se.String(), exited: -1}
	case code := <-exited:
		return result{stdout: so.String(), stderr: se.String(), exited: code}
	case <-time.After(10 * time.Second):
		t.Fatal("Run neither returned nor exited")
	}
	return result{}
}

func reasons(stderr string) []string {
	var out []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "ocf-exit-reason:") {
			out = append(out, l)
		}
	}
	return out
}

func TestSelfCheck(t *testing.T) {
	if err := testAgent().SelfCheck(); err != nil {
		t.Fatal(err)
	}
	bad := testAgent()
	bad.Params = append(bad.Params, Param{Name: "count", Short: "x", Long: "y"})
	if bad.SelfCheck() == nil {
		t.Error("duplicate parameter accepted")
	}
	bad = testAgent()
	bad.Params[1].Default = "eleven"
	if bad.SelfCheck() == nil {
		t.Error("default of the wrong type accepted")
	}
}

func TestDispatchErrors(t *testing.T) {
	a := testAgent()
	// Every failure, these included, gives Pacemaker one exit reason.
	oneReason := func(what string, r result, want string) {
		t.Helper()
		if got := reasons(r.stderr); len(got) != 1 || got[0] != "ocf-exit-reason:"+want {
			t.Errorf("%s: reasons %q, want %q", what, got, want)
		}
	}
	r := run(t, a, []string{"frobnicate"})
	if r.status != ErrUnimplemented || !strings.Contains(r.stderr, "usage: demo {start|stop|monitor|reload-agent|") {
		t.Errorf("unknown action: %v %q", r.status, r.stderr)
	}
	oneReason("unknown action", r, `unknown action "frobnicate"`)
	r = run(t, a, []string{"x\nocf-exit-reason:forged"})
	oneReason("unknown action with a newline", r, `unknown action "x\nocf-exit-reason:forged"`)
	r = run(t, a, nil)
	if r.status != ErrArgs || !strings.Contains(r.stderr, "usage:") {
		t.Errorf("no action: %v %q", r.status, r.stderr)
	}
	oneReason("no action", r, "no action given")
	for _, arg := range []string{"usage", "help", "--help", "-h"} {
		if r := run(t, a, []string{arg}); r.status != Success || !strings.HasPrefix(r.stdout, "usage: demo {") {
			t.Errorf("%s: %v %q", arg, r.status, r.stdout)
		}
	}
	if r := run(t, a, []string{"--bogus"}); r.status != ErrArgs || !strings.Contains(r.stderr, "usage:") {
		t.Errorf("--bogus: %v %q", r.status, r.stderr)
	} else {
		oneReason("--bogus", r, "flag provided but not defined: -bogus")
	}
	r = run(t, a, []string{"--bo\ngus"})
	oneReason("--bo\\ngus", r, `flag provided but not defined: -bo\ngus`)
	// Declared in meta-data only: dispatching reaches nothing to run.
	b := testAgent()
	b.Actions = b.Actions[:1]
	if r := run(t, b, []string{"monitor"}, "OCF_RESKEY_name=x"); r.status != ErrUnimplemented {
		t.Errorf("undeclared monitor: %v", r.status)
	}
}

// The action gets what Check built, not a second parse.
func TestConfigFromCheck(t *testing.T) {
	if r := run(t, testAgent(), []string{"config"}, "OCF_RESKEY_name=x"); r.status != Success {
		t.Errorf("config: %v %q", r.status, r.stderr)
	}
}

func TestMetaDataWithEmptyEnvironment(t *testing.T) {
	r := run(t, testAgent(), []string{"meta-data"})
	if r.status != Success || !strings.HasPrefix(r.stdout, "<?xml") || r.stderr != "" {
		t.Fatalf("meta-data: %v %q %q", r.status, r.stdout, r.stderr)
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; run go test -update and review the diff\n%s", name, got)
	}
}

func TestMetaDataVersions(t *testing.T) {
	r10 := run(t, testAgent(), []string{"meta-data"}) // ocf-tester declares nothing
	r20 := run(t, testAgent(), []string{"meta-data"}, "OCF_RA_VERSION_MAJOR=1", "OCF_RA_VERSION_MINOR=0")
	r11 := run(t, testAgent(), []string{"meta-data"}, "OCF_RA_VERSION_MAJOR=1", "OCF_RA_VERSION_MINOR=1")
	if r10.stdout != r20.stdout {
		t.Error("no version and 1.0 must give the same meta-data")
	}
	golden(t, "demo-1.0.xml", []byte(r10.stdout))
	golden(t, "demo-1.1.xml", []byte(r11.stdout))
	for _, s := range []string{"reloadable", "reload-agent", "<version>1.1</version>"} {
		if strings.Contains(r10.stdout, s) {
			t.Errorf("1.0 meta-data contains %q", s)
		}
		if !strings.Contains(r11.stdout, s) {
			t.Errorf("1.1 meta-data lacks %q", s)
		}
	}
	if !strings.Contains(r10.stdout, `<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">`) {
		t.Error("no DOCTYPE: ocf-tester's xmllint --valid needs it")
	}
}

func TestConfigurationErrors(t *testing.T) {
	a := testAgent()
	cases := []struct {
		action string
		env    []string
		want   Status
		reason string
	}{
		{"start", nil, ErrConfigured, "parameter name is required"},
		{"start", []string{"OCF_RESKEY_name=x", "OCF_RESKEY_count=11"}, ErrConfigured, "out of range 0..10"},
		// Several errors: one line, readable (not an escaped newline).
		{"start", []string{"OCF_RESKEY_count=11"}, ErrConfigured, "parameter name is required; parameter count: 11 is out of range"},
		{"start", []string{"OCF_RESKEY_name=x", "OCF_RESKEY_count=two"}, ErrConfigured, "not an integer"},
		{"start", []string{"OCF_RESKEY_name=x", "OCF_RESKEY_fast=quick"}, ErrConfigured, "not a boolean"},
		{"start", []string{"OCF_RESKEY_name=x", "OCF_RESKEY_mode=c"}, ErrConfigured, "not one of a, b"},
		{"validate-all", []string{"OCF_RESKEY_name=forbidden"}, ErrConfigured, "reserved"},
		{"stop", nil, Success, ""},
		{"monitor", nil, NotRunning, ""}, // a probe
		{"monitor", []string{"OCF_RESKEY_CRM_meta_interval=10000"}, ErrConfigured, "required"},
		{"validate-all", []string{"OCF_RESKEY_name=x", "OCF_RESKEY_fast=YES", "OCF_RESKEY_count= 7 "}, Success, ""},
	}
	for _, c := range cases {
		r := run(t, a, []string{c.action}, c.env...)
		got := reasons(r.stderr)
		if r.status != c.want {
			t.Errorf("%s %v: got %v, want %v", c.action, c.env, r.status, c.want)
		}
		if c.reason == "" && len(got) != 0 {
			t.Errorf("%s %v: unexpected exit reason %q", c.action, c.env, got)
		}
		if c.reason != "" && (len(got) != 1 || !strings.Contains(got[0], c.reason)) {
			t.Errorf("%s %v: want one reason with %q, got %q", c.action, c.env, c.reason, got)
		}
	}
}

func TestExitReason(t *testing.T) {
	a := testAgent()
	r := run(t, a, []string{"fail"}, "OCF_RESKEY_name=x")
	if r.status != ErrInstalled {
		t.Fatalf("status %v", r.status)
	}
	if got := reasons(r.stderr); len(got) != 1 || got[0] != "ocf-exit-reason:the tool frob is not installed on this node" {
		t.Errorf("want only the last reason, got %q", got)
	}
	r = run(t, a, []string{"fail"}, "OCF_RESKEY_name=x", "OCF_EXIT_REASON_PREFIX=REASON=")
	if !strings.Contains(r.stderr, "\nREASON=the tool frob") {
		t.Errorf("prefix not honoured: %q", r.stderr)
	}
	r = run(t, a, []string{"silent"}, "OCF_RESKEY_name=x")
	if got := reasons(r.stderr); len(got) != 1 || !strings.Contains(got[0], "silent failed (OCF_ERR_GENERIC)") {
		t.Errorf("a failure without reason still needs one: %q", got)
	}
	r = run(t, a, []string{"degrade"}, "OCF_RESKEY_name=x")
	if got := reasons(r.stderr); r.status != Degraded || len(got) != 1 || !strings.Contains(got[0], "REST interface") {
		t.Errorf("a degraded state tells the admin why: %v %q", r.status, got)
	}
	long := strings.Repeat("x", 300)
	var buf bytes.Buffer
	writeReason(&buf, func(string) string { return "" }, "line one\n"+long)
	line := strings.TrimSuffix(buf.String(), "\n")
	if strings.Contains(line, "\n") || len([]rune(strings.TrimPrefix(line, "ocf-exit-reason:"))) != exitReasonMax {
		t.Errorf("reason not one line of %d runes: %q", exitReasonMax, line)
	}
}

// Control characters in what is logged or reported are escaped: data with
// a newline (a file name, say) cannot add a line, least of all an exit
// reason, nor can an escape sequence act on a terminal showing the log.
func TestNoForgedLines(t *testing.T) {
	const evil = "f\nocf-exit-reason:forged\r\x1b[2J\x00\t\x7f\u0085\u2028\xff."
	const escaped = `f\nocf-exit-reason:forged\r\x1b[2J\x00\t\x7f\u0085\u2028\xff.`
	a := testAgent()
	a.Actions = append(a.Actions, Action{Name: "forge", Timeout: time.Second, Run: func(_ context.Context, r *Request) Status {
		r.Log.Infof("opening %s", evil)
		r.Log.Warnf("%s", evil)
		return r.Fail(ErrGeneric, "cannot open %s", evil)
	}})
	r := run(t, a, []string{"forge"}, "OCF_RESKEY_name=x", "OCF_RESOURCE_INSTANCE=i\nocf-exit-reason:tag", "HA_debug=1")
	if got := reasons(r.stderr); len(got) != 1 || got[0] != "ocf-exit-reason:cannot open "+escaped {
		t.Errorf("reasons %q", got)
	}
	for l := range strings.Lines(r.stderr) {
		l = strings.TrimSuffix(l, "\n")
		if !strings.HasPrefix(l, `demo(i\nocf-exit-reason:tag)[`) && !strings.HasPrefix(l, "ocf-exit-reason:") {
			t.Errorf("line %q", l)
		}
		if i := strings.IndexFunc(l, needsEscape); i >= 0 || !utf8.ValidString(l) {
			t.Errorf("unescaped character at %d: %q", i, l)
		}
	}
	if !strings.Contains(r.stderr, "INFO: opening "+escaped+"\n") {
		t.Errorf("log line not escaped as expected:\n%s", r.stderr)
	}
	// A panic's stack stays readable: one log line per line.
	r = run(t, a, []string{"crash"}, "OCF_RESKEY_name=x")
	if n := strings.Count(r.stderr, "ERROR: "); n < 5 {
		t.Errorf("stack in %d lines:\n%s", n, r.stderr)
	}
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"":                     "",
		"plain text, üñí 😀":    "plain text, üñí 😀",
		`back\slash "q"`:       `back\slash "q"`,
		"a\nb\rc\td\x1b[0m":    `a\nb\rc\td\x1b[0m`,
		"\x00\x7f\u0080\u009f": `\x00\x7f\u0080\u009f`,
		"\u2028\u2029":         `\u2028\u2029`,
		"bad \xff\xfe utf8":    `bad \xff\xfe utf8`,
	} {
		if got := escape(in); got != want {
			t.Errorf("escape(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPanicIsGenericError(t *testing.T) {
	r := run(t, testAgent(), []string{"crash"}, "OCF_RESKEY_name=x")
	if r.status != ErrGeneric || !strings.Contains(r.stderr, "ocf-exit-reason:internal error in demo crash: boom") {
		t.Errorf("panic: %v %q", r.status, r.stderr)
	}
}

func TestDeadlines(t *testing.T) {
	a := testAgent()
	// The context ends before the timeout, leaving the action time to clean up.
	start := time.Now()
	r := run(t, a, []string{"wait"}, "OCF_RESKEY_name=x", "OCF_RESKEY_CRM_meta_timeout=600")
	if r.status != ErrGeneric || !strings.Contains(r.stderr, "gave up at the deadline") {
		t.Errorf("wait: %v %q", r.status, r.stderr)
	}
	if el := time.Since(start); el >= 600*time.Millisecond {
		t.Errorf("the action's context outlived the timeout: %v", el)
	}
	// An action that ignores its context is ended by the watchdog.
	r = run(t, a, []string{"hang"}, "OCF_RESKEY_name=x", "OCF_RESKEY_CRM_meta_timeout=500")
	if r.exited != int(ErrGeneric) || !strings.Contains(r.stderr, "ocf-exit-reason:hang did not finish within its timeout of 500ms") {
		t.Errorf("hang: exited %d %q", r.exited, r.stderr)
	}
}

func TestDepthProbeAndMeta(t *testing.T) {
	a := testAgent()
	for level, want := range map[string]Status{"": 100, "0": 100, "5": 100, "10": 110, "15": 110, "20": 120, "99": 120, "junk": 100} {
		r := run(t, a, []string{"monitor"}, "OCF_RESKEY_name=x", "OCF_RESKEY_CRM_meta_interval=1000", "OCF_CHECK_LEVEL="+level)
		if r.status != want {
			t.Errorf("OCF_CHECK_LEVEL=%q: depth status %v, want %v", level, r.status, want)
		}
	}
	if r := run(t, a, []string{"monitor"}, "OCF_RESKEY_name=x", "OCF_RESKEY_CRM_meta_interval=0"); r.status != NotRunning {
		t.Errorf("interval 0 is a probe: %v", r.status)
	}
	m := parseMeta([]string{"OCF_RESKEY_CRM_meta_interval=15000", "OCF_RESKEY_CRM_meta_timeout=20000",
		"OCF_RESKEY_CRM_meta_clone_max=2", "OCF_RESKEY_CRM_meta_notify=true",
		"OCF_RESKEY_CRM_meta_notify_start_uname=n1 n2 ", "OCF_RESKEY_CRM_meta_on_node=n1", "OCF_RESKEY_other=x"})
	if m.Interval != 15*time.Second || m.Timeout != 20*time.Second || m.Int("clone_max", 1) != 2 || !m.Bool("notify") ||
		len(m.List("notify_start_uname")) != 2 || m.Get("on_node") != "n1" || m.Get("other") != "" || m.Int("clone", -1) != -1 {
		t.Errorf("meta parsed wrong: %+v", m)
	}
}

func TestCallerVersion(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, c := range []struct {
		maj, min string
		want     Version
	}{{"", "", Version{1, 0}}, {"1", "0", Version{1, 0}}, {"1", "1", Version{1, 1}}, {"2", "0", Version{2, 0}}, {"x", "1", Version{1, 0}}} {
		got := callerVersion(env(map[string]string{"OCF_RA_VERSION_MAJOR": c.maj, "OCF_RA_VERSION_MINOR": c.min}))
		if got != c.want {
			t.Errorf("%s.%s: got %v", c.maj, c.min, got)
		}
	}
	if !(Version{1, 1}).AtLeast(1, 1) || (Version{1, 0}).AtLeast(1, 1) || !(Version{2, 0}).AtLeast(1, 1) {
		t.Error("AtLeast")
	}
}

func TestStateDir(t *testing.T) {
	base := t.TempDir()
	r := &Request{Agent: testAgent(), Instance: "vip:0/x", getenv: func(k string) string {
		if k == "HA_RSCTMP" {
			return base
		}
		return ""
	}}
	dir, err := r.StateDir()
	if err != nil || dir != filepath.Join(base, "gocf-demo-vip:0_x") {
		t.Fatalf("state dir %q %v", dir, err)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatal("state dir not created")
	}
}

func TestParseBoolAndFormat(t *testing.T) {
	for s, want := range map[string]bool{"yes": true, "True": true, "1": true, "on": true, "no": false, "FALSE": false, "0": false, "off": false} {
		if got, ok := ParseBool(s); !ok || got != want {
			t.Errorf("ParseBool(%q)", s)
		}
	}
	if _, ok := ParseBool("maybe"); ok {
		t.Error("maybe is no boolean")
	}
	if FormatDuration(20*time.Second) != "20s" || FormatDuration(1500*time.Millisecond) != "1500ms" || FormatDuration(2*time.Minute) != "120s" {
		t.Error("FormatDuration")
	}
	if ErrConfigured.String() != "OCF_ERR_CONFIGURED" || Status(42).String() != "OCF status 42" {
		t.Error("Status.String")
	}
}

func TestManPage(t *testing.T) {
	a := testAgent()
	page := a.ManPage("gocf", "2026-01-02")
	golden(t, "demo.7", []byte(page))
	for _, want := range []string{`.TH OCF_GOCF_DEMO 7 "2026-01-02" "gocf 1.2.3"`, ".SH SUPPORTED PARAMETERS", `\fBname\fR (required, unique)`,
		"Allowed values: a, b.", "Type: integer. Default: 3.", `monitor timeout=30s interval=11s depth=10 role=Promoted`,
		`primitive p_demo ocf:gocf:demo \e`} {
		if !strings.Contains(page, want) {
			t.Errorf("man page lacks %q", want)
		}
	}
	// An agent with a Promoted role is shown as a promotable clone, with a
	// monitor per role.
	example := page[strings.Index(page, ".SH EXAMPLE CRM SHELL"):]
	for _, want := range []string{
		"    op monitor role=Promoted interval=11s timeout=30s OCF_CHECK_LEVEL=10 \\e\n",
		"    op monitor role=Unpromoted interval=10s timeout=20s\n",
		"clone p_demo\\-clone p_demo \\e\n    meta promotable=true\n",
		"role=Master",
	} {
		if !strings.Contains(example, want) {
			t.Errorf("example lacks %q:\n%s", want, example)
		}
	}
	a.Actions = slices.DeleteFunc(a.Actions, func(act Action) bool { return act.Role != "" })
	a.Actions = append(a.Actions, Action{Name: "notify", Timeout: time.Second, Run: monitorDepth})
	example = a.ManPage("gocf", "2026-01-02")
	if example = example[strings.Index(example, ".SH EXAMPLE CRM SHELL"):]; strings.Contains(example, "role=") || strings.Contains(example, "clone") ||
		!strings.Contains(example, "    op monitor interval=10s timeout=20s\n") {
		t.Errorf("an agent without roles is a plain primitive:\n%s", example)
	}
	if strings.Contains(page, "\n.\n") || strings.Contains(page, "\n'") {
		t.Error("a text line would read as a roff request")
	}
}
