package ocf

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Type is the content type of a parameter, as OCF meta-data knows it.
type Type int

// Parameter types. OCF knows exactly these three.
const (
	String Type = iota
	Integer
	Boolean
)

func (t Type) String() string {
	switch t {
	case Integer:
		return "integer"
	case Boolean:
		return "boolean"
	}
	return "string"
}

// Range bounds an integer parameter, both ends included.
type Range struct{ Min, Max int64 }

// Param declares one instance parameter. Everything about a parameter
// (parsing, validation, meta-data, documentation) is derived from this.
type Param struct {
	Name     string
	Type     Type
	Default  string
	Required bool
	// Unique marks a parameter whose value must differ between resources
	// of this agent (OCF 1.0 "unique").
	Unique bool
	// Reloadable parameters may change without a restart: their new value
	// takes effect without touching the running resource, or the agent's
	// Reload applies it in place. One such parameter gives the agent
	// reload-agent (Agent.Reload). OCF 1.1 only: shown to callers that
	// declare OCF 1.1; Pacemaker then calls reload-agent when only
	// reloadable parameters changed and restarts on any other change.
	Reloadable bool
	Short      string
	Long       string
	// Choices restricts a string parameter to these values.
	Choices []string
	// Bounds restricts an integer parameter.
	Bounds *Range
}

// parse checks a raw value against the declaration and returns it in its
// canonical form ("true"/"false" for booleans, decimal for integers).
func (p *Param) parse(raw string) (string, error) {
	switch p.Type {
	case Integer:
		n, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
		if err != nil {
			return "", fmt.Errorf("parameter %s: %q is not an integer", p.Name, raw)
		}
		if p.Bounds != nil && (n < p.Bounds.Min || n > p.Bounds.Max) {
			return "", fmt.Errorf("parameter %s: %d is out of range %d..%d", p.Name, n, p.Bounds.Min, p.Bounds.Max)
		}
		return strconv.FormatInt(n, 10), nil
	case Boolean:
		b, ok := ParseBool(raw)
		if !ok {
			return "", fmt.Errorf("parameter %s: %q is not a boolean (use true or false)", p.Name, raw)
		}
		return strconv.FormatBool(b), nil
	}
	if len(p.Choices) > 0 && !slices.Contains(p.Choices, raw) {
		return "", fmt.Errorf("parameter %s: %q is not one of %s", p.Name, raw, strings.Join(p.Choices, ", "))
	}
	return raw, nil
}

// ParseBool accepts the spellings resource-agents' ocf_is_true does.
func ParseBool(s string) (value, ok bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "yes", "on", "y":
		return true, true
	case "0", "false", "no", "off", "n":
		return false, true
	}
	return false, false
}

// Values holds the parsed instance parameters of one invocation.
type Values struct {
	decl map[string]*Param
	val  map[string]string // canonical values, defaults filled in
	set  map[string]bool   // given in the environment (non-empty)
}

// String returns the value of a parameter (its default when not set).
func (v Values) String(name string) string { return v.val[name] }

// Int returns the value of an integer parameter.
func (v Values) Int(name string) int64 {
	n, _ := strconv.ParseInt(v.val[name], 10, 64)
	return n
}

// Bool returns the value of a boolean parameter.
func (v Values) Bool(name string) bool {
	b, _ := ParseBool(v.val[name])
	return b
}

// IsSet tells whether the parameter was given a non-empty value.
func (v Values) IsSet(name string) bool { return v.set[name] }

// parseParams reads OCF_RESKEY_<name> for every declared parameter.
// Pacemaker passes an unset parameter as absent; an empty value counts as
// unset too, as in the shell agents' ${OCF_RESKEY_x:-default}.
func parseParams(params []Param, getenv func(string) string) (Values, []error) {
	v := Values{decl: map[string]*Param{}, val: map[string]string{}, set: map[string]bool{}}
	var errs []error
	for i := range params {
		p := &params[i]
		v.decl[p.Name] = p
		raw := getenv("OCF_RESKEY_" + p.Name)
		if raw == "" {
			if p.Required {
				errs = append(errs, fmt.Errorf("parameter %s is required", p.Name))
			}
			v.val[p.Name] = p.Default
			if p.Default != "" {
				if c, err := p.parse(p.Default); err == nil {
					v.val[p.Name] = c
				}
			}
			continue
		}
		c, err := p.parse(raw)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		v.val[p.Name] = c
		v.set[p.Name] = true
	}
	return v, errs
}
