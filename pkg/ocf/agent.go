package ocf

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Func is an action: a plain function that returns an OCF status. It must
// return before ctx is done.
type Func func(ctx context.Context, r *Request) Status

// Action declares one action. An action may appear several times (monitor at
// several depths or roles); the first entry of a name that has Run is the one
// dispatched.
type Action struct {
	Name     string
	Timeout  time.Duration
	Interval time.Duration
	Depth    int
	Role     string // "", "Promoted" or "Unpromoted"
	Run      Func
}

// Agent is the one declaration an agent makes of itself.
type Agent struct {
	Name    string
	Version string
	Short   string
	Long    string
	Params  []Param
	Actions []Action
	// Check validates the configuration without looking at the node: what
	// it rejects is wrong everywhere (ErrConfigured). It runs before every
	// action but meta-data and returns the typed configuration it built,
	// which actions take with Config instead of parsing it again.
	Check func(r *Request) (any, error)
	// Validate adds the node-local checks of validate-all (ErrArgs,
	// ErrInstalled, ErrPerm ...). Optional.
	Validate Func
	// Reload applies the reloadable parameters to the running resource,
	// in reload-agent after Check and Validate passed. Optional: without
	// it reload-agent only validates, which is all it needs to do when
	// every reloadable parameter is read afresh by the actions that use it.
	Reload  Func
	Helpers []Helper
}

// ocf11Actions exist only in OCF 1.1; the 1.0 DTD rejects them.
var ocf11Actions = []string{"reload-agent"}

// reloadable tells whether some parameter may change without a restart.
func (a *Agent) reloadable() bool {
	return slices.ContainsFunc(a.Params, func(p Param) bool { return p.Reloadable })
}

// Version is an OCF API version.
type Version struct{ Major, Minor int }

// AtLeast tells whether v is maj.min or later.
func (v Version) AtLeast(maj, min int) bool {
	return v.Major > maj || (v.Major == maj && v.Minor >= min)
}

func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// callerVersion reads OCF_RA_VERSION_MAJOR/MINOR: Pacemaker 2.1 and later
// declare 1.1, Pacemaker 2.0 declared 1.0, ocf-tester declares nothing.
// Anything missing or malformed means 1.0.
func callerVersion(getenv func(string) string) Version {
	maj, err1 := strconv.Atoi(getenv("OCF_RA_VERSION_MAJOR"))
	min, err2 := strconv.Atoi(getenv("OCF_RA_VERSION_MINOR"))
	if err1 != nil || err2 != nil || maj < 1 {
		return Version{1, 0}
	}
	return Version{maj, min}
}

// Meta holds the OCF_RESKEY_CRM_meta_* attributes Pacemaker passes.
type Meta struct {
	Interval time.Duration // 0 for a probe or a one-shot action
	Timeout  time.Duration // 0 when not given
	raw      map[string]string
}

func parseMeta(environ []string) Meta {
	m := Meta{raw: map[string]string{}}
	const pfx = "OCF_RESKEY_CRM_meta_"
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(k, pfx) {
			m.raw[strings.TrimPrefix(k, pfx)] = v
		}
	}
	m.Interval = msDuration(m.raw["interval"])
	m.Timeout = msDuration(m.raw["timeout"])
	return m
}

// msDuration reads Pacemaker's millisecond numbers; junk reads as 0.
func msDuration(s string) time.Duration {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(n) * time.Millisecond
}

// Get returns a meta attribute by its name without prefix ("clone_max").
func (m Meta) Get(name string) string { return m.raw[name] }

// Int returns an integer meta attribute, or def when absent or malformed.
func (m Meta) Int(name string, def int) int {
	n, err := strconv.Atoi(strings.TrimSpace(m.raw[name]))
	if err != nil {
		return def
	}
	return n
}

// Bool returns a boolean meta attribute (false when absent).
func (m Meta) Bool(name string) bool {
	b, _ := ParseBool(m.raw[name])
	return b
}

// List returns a space-separated meta attribute (notify_start_uname …).
func (m Meta) List(name string) []string { return strings.Fields(m.raw[name]) }

// Request is one invocation of an agent.
type Request struct {
	Agent    *Agent
	Action   string
	Instance string // OCF_RESOURCE_INSTANCE
	Params   Values
	Meta     Meta
	// Depth is OCF_CHECK_LEVEL after falling back to the deepest monitor
	// depth the agent declares that is not deeper than the one asked for.
	Depth  int
	Caller Version
	Log    *Logger

	environ []string
	getenv  func(string) string
	reason  string
	config  any // what Check built
}

// Config returns the typed configuration the agent's Check built for r. A
// type that does not match is a programming error and panics (dispatch
// turns it into a generic error).
func Config[T any](r *Request) T {
	return r.config.(T)
}

// IsProbe tells whether this is a probe: a monitor with interval 0 or
// unset, or a status (a one-shot depth 0 monitor that changes nothing).
func (r *Request) IsProbe() bool {
	return (r.Action == "monitor" || r.Action == "status") && r.Meta.Interval == 0
}

// Fail records the exit reason for an administrator and returns s. Only the
// last reason is printed, as Pacemaker keeps only the last one.
func (r *Request) Fail(s Status, format string, args ...any) Status {
	r.reason = fmt.Sprintf(format, args...)
	return s
}

// Getenv reads the agent's environment (tests substitute it).
func (r *Request) Getenv(key string) string { return r.getenv(key) }

// safeName makes an instance name usable as one path component.
func safeName(s string) string {
	if s == "" {
		return "default"
	}
	return strings.Map(func(c rune) rune {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.ContainsRune("._:-", c):
			return c
		}
		return '_'
	}, s)
}

// depths lists the monitor depths the agent declares, ascending.
func (a *Agent) depths() []int {
	var d []int
	for _, act := range a.Actions {
		if act.Name == "monitor" && !slices.Contains(d, act.Depth) {
			d = append(d, act.Depth)
		}
	}
	slices.Sort(d)
	return d
}

// effectiveDepth maps a requested OCF_CHECK_LEVEL onto the deepest declared
// depth not deeper than it (0 when nothing fits).
func (a *Agent) effectiveDepth(requested int) int {
	best := 0
	for _, d := range a.depths() {
		if d <= requested {
			best = d
		}
	}
	return best
}

// action returns the dispatchable declaration of name.
func (a *Agent) action(name string) (Action, bool) {
	for _, act := range a.Actions {
		if act.Name == name && act.Run != nil {
			return act, true
		}
	}
	return Action{}, false
}

// SelfCheck reports mistakes in the declaration itself; agents' tests call it.
func (a *Agent) SelfCheck() error {
	seen := map[string]bool{}
	for _, p := range a.Params {
		if p.Name == "" || seen[p.Name] {
			return fmt.Errorf("parameter %q: empty or declared twice", p.Name)
		}
		seen[p.Name] = true
		if p.Short == "" || p.Long == "" {
			return fmt.Errorf("parameter %s: short and long descriptions are required", p.Name)
		}
		if p.Default != "" {
			if _, err := p.parse(p.Default); err != nil {
				return fmt.Errorf("default: %w", err)
			}
		}
		if p.Required && p.Default != "" {
			return fmt.Errorf("parameter %s: required with a default", p.Name)
		}
	}
	for _, act := range a.Actions {
		if act.Timeout <= 0 {
			return fmt.Errorf("action %s: no default timeout", act.Name)
		}
		if act.Role != "" && act.Role != "Promoted" && act.Role != "Unpromoted" {
			return fmt.Errorf("action %s: role %q", act.Name, act.Role)
		}
		if _, ok := a.action(act.Name); !ok && !a.sdkAction(act.Name) {
			return fmt.Errorf("action %s: declared without a function", act.Name)
		}
	}
	if _, ok := a.action("reload-agent"); ok && a.Reload != nil {
		return errors.New("reload-agent: both declared with a function and Reload set")
	}
	if slices.ContainsFunc(a.Actions, func(x Action) bool { return x.Name == "reload-agent" }) && !a.reloadable() {
		return errors.New("reload-agent declared but no parameter is reloadable")
	}
	return nil
}

// sdkAction tells whether the SDK runs name when the agent declares it
// without a function: meta-data, validate-all, reload-agent (validate, then
// Reload) and status (the depth 0 monitor as a probe).
func (a *Agent) sdkAction(name string) bool {
	switch name {
	case "meta-data", "validate-all":
		return true
	case "reload-agent":
		return a.reloadable()
	case "status":
		_, ok := a.action("monitor")
		return ok
	}
	return false
}
