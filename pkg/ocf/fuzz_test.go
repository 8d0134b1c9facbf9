package ocf

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzAgent is testAgent without what only the watchdog ends (hang, wait)
// and with a monitor that returns OCF codes, not depths.
func fuzzAgent() *Agent {
	a := testAgent()
	a.Actions = slices.DeleteFunc(a.Actions, func(act Action) bool { return act.Name == "hang" || act.Name == "wait" })
	for i := range a.Actions {
		if a.Actions[i].Run != nil && a.Actions[i].Name == "monitor" {
			a.Actions[i].Run = func(_ context.Context, r *Request) Status {
				r.Log.Infof("monitor of %s at depth %d", r.Params.String("name"), r.Depth)
				if r.IsProbe() {
					return NotRunning
				}
				return Success
			}
		}
	}
	return a
}

// FuzzRun feeds any action name, parameter values and environment to Run:
// no panic escapes, the status is an OCF code, and stderr holds only the
// agent's own lines (log, usage), escaped, with exactly one exit reason
// for a failure and never more than one.
func FuzzRun(f *testing.F) {
	// Seeds: testdata/fuzz/FuzzRun.
	f.Fuzz(func(t *testing.T, action, name, count, fast, mode, instance, level, interval, key, value string, debug bool) {
		if strings.Contains(key, "OCF_EXIT_REASON_PREFIX") {
			return // another prefix makes other lines reasons
		}
		env := []string{"OCF_RESKEY_name=" + name, "OCF_RESKEY_count=" + count, "OCF_RESKEY_fast=" + fast,
			"OCF_RESKEY_mode=" + mode, "OCF_RESOURCE_INSTANCE=" + instance, "OCF_CHECK_LEVEL=" + level,
			"OCF_RESKEY_CRM_meta_interval=" + interval, key + "=" + value}
		if debug {
			env = append(env, "HA_debug=1")
		}
		// Last, so nothing fuzzed lets an action run into the watchdog.
		env = append(env, "OCF_RESKEY_CRM_meta_timeout=5000")
		a := fuzzAgent()
		var stdout, stderr bytes.Buffer
		exit := func(code int) { t.Errorf("watchdog exit %d", code) }
		var st Status
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("panic escaped Run: %v", p)
				}
			}()
			st = Run(a, []string{a.Name, action}, env, &stdout, &stderr, exit)
		}()
		if _, ok := statusNames[st]; !ok {
			t.Fatalf("status %d is no OCF code", st)
		}
		reasons := 0
		for l := range strings.Lines(stderr.String()) {
			l, ok := strings.CutSuffix(l, "\n")
			if !ok {
				t.Errorf("unterminated line %q", l)
			}
			if strings.HasPrefix(l, "ocf-exit-reason:") {
				reasons++
			} else if !strings.HasPrefix(l, a.Name) && !strings.HasPrefix(l, "usage: ") {
				t.Errorf("foreign line %q", l)
			}
			if i := strings.IndexFunc(l, needsEscape); i >= 0 || !utf8.ValidString(l) {
				t.Errorf("unescaped line %q", l)
			}
		}
		switch {
		case reasons > 1:
			t.Errorf("%d exit reasons:\n%s", reasons, stderr.String())
		case reasons == 0 && st.Failed() && st != NotRunning:
			t.Errorf("%v without exit reason:\n%s", st, stderr.String())
		}
	})
}
