package ocf

import (
	"context"
	"strings"
	"testing"
	"time"
)

// reloadAgentOf declares reloadable parameters and leaves reload-agent to
// the SDK; validate and reload record that they ran.
func reloadAgentOf(calls *[]string, validate, reload Status) *Agent {
	rec := func(name string, st Status) Func {
		return func(_ context.Context, r *Request) Status {
			*calls = append(*calls, name+" fast="+r.Params.String("fast"))
			if st != Success {
				return r.Fail(st, "%s failed", name)
			}
			return st
		}
	}
	return &Agent{
		Name: "rl", Version: "1", Short: "Reload demo", Long: "A reload demo.",
		Params: []Param{
			{Name: "name", Type: String, Required: true, Unique: true, Short: "Name", Long: "The name."},
			{Name: "fast", Type: Boolean, Default: "false", Reloadable: true, Short: "Fast", Long: "Go fast."},
		},
		Actions: []Action{
			{Name: "start", Timeout: 20 * time.Second, Run: rec("start", Success)},
			{Name: "stop", Timeout: 20 * time.Second, Run: rec("stop", Success)},
			{Name: "monitor", Timeout: 20 * time.Second, Interval: 10 * time.Second, Depth: 0, Run: func(_ context.Context, r *Request) Status {
				*calls = append(*calls, "monitor probe="+map[bool]string{true: "yes", false: "no"}[r.IsProbe()])
				return Status(100 + r.Depth)
			}},
			{Name: "monitor", Timeout: 20 * time.Second, Interval: 60 * time.Second, Depth: 20},
			{Name: "status", Timeout: 20 * time.Second},
		},
		Validate: rec("validate", validate),
		Reload:   rec("reload", reload),
	}
}

// The one declaration (Reloadable) gives 1.1 callers the reload-agent
// action and runs it: validate-all's checks, then the agent's Reload, with
// the new parameters; 1.0 callers see neither.
func TestReloadAgentFromDeclaration(t *testing.T) {
	var calls []string
	a := reloadAgentOf(&calls, Success, Success)
	if err := a.SelfCheck(); err != nil {
		t.Fatal(err)
	}
	md11 := string(a.MetaData(Version{1, 1}))
	md10 := string(a.MetaData(Version{1, 0}))
	if !strings.Contains(md11, `<action name="reload-agent" timeout="20s"/>`) || !strings.Contains(md11, `name="fast" unique="0" required="0" reloadable="1"`) {
		t.Errorf("1.1 meta-data lacks reload-agent or reloadable:\n%s", md11)
	}
	if strings.Contains(md10, "reload-agent") || strings.Contains(md10, "reloadable") {
		t.Errorf("1.0 meta-data has reload-agent or reloadable:\n%s", md10)
	}
	r := run(t, a, []string{"reload-agent"}, "OCF_RESKEY_name=x", "OCF_RESKEY_fast=yes")
	if r.status != Success || strings.Join(calls, ";") != "validate fast=true;reload fast=true" {
		t.Errorf("reload-agent: %v, calls %q, stderr %q", r.status, calls, r.stderr)
	}
	// Nothing was stopped or started.
	for _, c := range calls {
		if strings.HasPrefix(c, "st") {
			t.Errorf("reload-agent ran %s", c)
		}
	}
}

func TestReloadAgentFailures(t *testing.T) {
	var calls []string
	// A value wrong everywhere: Check's error, nothing runs.
	a := reloadAgentOf(&calls, Success, Success)
	if r := run(t, a, []string{"reload-agent"}, "OCF_RESKEY_name=x", "OCF_RESKEY_fast=maybe"); r.status != ErrConfigured || len(calls) != 0 {
		t.Errorf("bad value: %v, calls %q", r.status, calls)
	}
	// Node-local validation fails: its status, and nothing is applied.
	a = reloadAgentOf(&calls, ErrInstalled, Success)
	r := run(t, a, []string{"reload-agent"}, "OCF_RESKEY_name=x")
	if r.status != ErrInstalled || strings.Join(calls, ";") != "validate fast=false" || len(reasons(r.stderr)) != 1 {
		t.Errorf("validate fails: %v, calls %q, stderr %q", r.status, calls, r.stderr)
	}
	calls = nil
	a = reloadAgentOf(&calls, Success, ErrGeneric)
	if r := run(t, a, []string{"reload-agent"}, "OCF_RESKEY_name=x"); r.status != ErrGeneric || len(calls) != 2 {
		t.Errorf("reload fails: %v, calls %q", r.status, calls)
	}
	// Validate only when the agent has nothing to apply.
	calls = nil
	a = reloadAgentOf(&calls, Success, Success)
	a.Reload = nil
	if r := run(t, a, []string{"reload-agent"}, "OCF_RESKEY_name=x"); r.status != Success || strings.Join(calls, ";") != "validate fast=false" {
		t.Errorf("validate-only reload: %v, calls %q", r.status, calls)
	}
	// No reloadable parameter: no reload-agent at all.
	a.Params[1].Reloadable = false
	if r := run(t, a, []string{"reload-agent"}, "OCF_RESKEY_name=x"); r.status != ErrUnimplemented {
		t.Errorf("reload-agent without reloadable parameters: %v", r.status)
	}
	if strings.Contains(string(a.MetaData(Version{1, 1})), "reload-agent") {
		t.Error("reload-agent advertised without reloadable parameters")
	}
}

func TestReloadSelfCheck(t *testing.T) {
	var calls []string
	a := reloadAgentOf(&calls, Success, Success)
	a.Actions = append(a.Actions, Action{Name: "reload-agent", Timeout: time.Second, Run: func(context.Context, *Request) Status { return Success }})
	if a.SelfCheck() == nil {
		t.Error("reload-agent with a function and Reload both accepted")
	}
	a = reloadAgentOf(&calls, Success, Success)
	a.Params[1].Reloadable = false
	a.Actions = append(a.Actions, Action{Name: "reload-agent", Timeout: time.Second})
	if a.SelfCheck() == nil {
		t.Error("reload-agent without reloadable parameters accepted")
	}
	a = reloadAgentOf(&calls, Success, Success)
	a.Actions = a.Actions[:2] // start, stop, status: no monitor for status to run
	a.Actions = append(a.Actions, Action{Name: "status", Timeout: time.Second})
	if a.SelfCheck() == nil {
		t.Error("status without a monitor accepted")
	}
}

// status is the depth 0 monitor run as a probe, whatever depth or
// interval the caller passes; a stopped resource says 7 without a reason.
func TestStatusIsDepth0Probe(t *testing.T) {
	var calls []string
	a := reloadAgentOf(&calls, Success, Success)
	r := run(t, a, []string{"status"}, "OCF_RESKEY_name=x", "OCF_CHECK_LEVEL=20", "OCF_RESKEY_CRM_meta_interval=10000")
	if r.status != 100 || strings.Join(calls, ";") != "monitor probe=yes" {
		t.Errorf("status: %v, calls %q", r.status, calls)
	}
	if r := run(t, a, []string{"monitor"}, "OCF_RESKEY_name=x", "OCF_CHECK_LEVEL=20", "OCF_RESKEY_CRM_meta_interval=10000"); r.status != 120 {
		t.Errorf("monitor depth 20: %v", r.status)
	}
	if !strings.Contains(string(a.MetaData(Version{1, 0})), `<action name="status" timeout="20s" depth="0"/>`) {
		t.Errorf("status not in 1.0 meta-data:\n%s", a.MetaData(Version{1, 0}))
	}
	st := testAgent()
	if r := run(t, st, []string{"status"}, "OCF_RESKEY_name=x"); r.status != NotRunning || len(reasons(r.stderr)) != 0 {
		t.Errorf("status of a stopped resource: %v %q", r.status, r.stderr)
	}
}
