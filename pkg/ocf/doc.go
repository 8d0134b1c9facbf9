package ocf

import (
	"fmt"
	"strings"
)

// MarkdownParams renders the parameter table of the agent for the README,
// from the same declaration as the meta-data.
func (a *Agent) MarkdownParams() string {
	var b strings.Builder
	b.WriteString("| parameter | type | default | description |\n|---|---|---|---|\n")
	for _, p := range a.Params {
		name := "`" + p.Name + "`"
		if p.Required {
			name += " (required)"
		}
		if p.Unique {
			name += " (unique)"
		}
		if p.Reloadable {
			name += " (reloadable)"
		}
		def := ""
		if p.Default != "" {
			def = "`" + p.Default + "`"
		}
		long := strings.Join(strings.Fields(paramLong(p)), " ")
		long = strings.ReplaceAll(long, "|", `\|`)
		fmt.Fprintf(&b, "| %s | %s | %s | **%s.** %s |\n", name, p.Type, def, p.Short, long)
	}
	return b.String()
}

// Prepare builds the request an action would get from environ, with the
// parameters parsed and checked, for agents' unit tests.
func Prepare(a *Agent, action string, environ []string) (*Request, []error) {
	getenv := lookupIn(environ)
	r := &Request{Agent: a, Action: action, Meta: parseMeta(environ), Caller: callerVersion(getenv),
		environ: environ, getenv: getenv, Log: newLogger(new(strings.Builder), a.Name, "", false)}
	return r, r.loadParams()
}
