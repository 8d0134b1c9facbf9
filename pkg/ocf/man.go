package ocf

import (
	"fmt"
	"github.com/gocf/gocf/pkg/roff"
	"slices"
	"strings"
)

// ManPage renders the agent's manual page, ocf_<provider>_<name>(7), in
// man(7) roff, from the same declaration as the meta-data. date is the
// page's date (YYYY-MM-DD), kept stable by the caller for reproducible
// packages.
func (a *Agent) ManPage(provider, date string) string {
	var b strings.Builder
	page := "ocf_" + provider + "_" + a.Name
	fmt.Fprintf(&b, ".TH %s 7 %q %q \"OCF resource agents\"\n", strings.ToUpper(page), date, provider+" "+a.Version)
	b.WriteString(".SH NAME\n")
	fmt.Fprintf(&b, "%s \\- %s\n", page, roff.Escape(a.Short))
	b.WriteString(".SH SYNOPSIS\n")
	fmt.Fprintf(&b, ".B %s\n%s\n", a.Name, roff.Escape("["+strings.Join(a.actionNames(), " | ")+"]"))
	b.WriteString(".SH DESCRIPTION\n")
	roff.Paragraphs(&b, a.Long)
	b.WriteString(".SH SUPPORTED PARAMETERS\n")
	for _, p := range a.Params {
		var flags []string
		if p.Required {
			flags = append(flags, "required")
		}
		if p.Unique {
			flags = append(flags, "unique")
		}
		if p.Reloadable {
			flags = append(flags, "reloadable")
		}
		head := "\\fB" + roff.Escape(p.Name) + "\\fR"
		if len(flags) > 0 {
			head += " (" + strings.Join(flags, ", ") + ")"
		}
		fmt.Fprintf(&b, ".TP\n%s\n%s.\n", head, roff.Escape(p.Short))
		roff.Paragraphs(&b, paramLong(p))
		def := "none"
		if p.Default != "" {
			def = p.Default
		}
		fmt.Fprintf(&b, "Type: %s. Default: %s.\n", p.Type, roff.Escape(def))
	}
	b.WriteString(".SH SUPPORTED ACTIONS\n")
	for _, act := range a.metaActions() {
		line := act.Name + " timeout=" + FormatDuration(act.Timeout)
		if act.Interval > 0 {
			line += " interval=" + FormatDuration(act.Interval)
		}
		if act.Name == "monitor" || act.Name == "status" {
			line += fmt.Sprintf(" depth=%d", act.Depth)
		}
		if act.Role != "" {
			line += " role=" + act.Role
		}
		fmt.Fprintf(&b, ".IP \\(bu 2\n%s\n", roff.Escape(line))
	}
	b.WriteString(".SH EXAMPLE CRM SHELL\n.nf\n")
	prim := "p_" + a.Name
	fmt.Fprintf(&b, "primitive %s ocf:%s:%s", roff.Escape(prim), provider, a.Name)
	var req []string
	for _, p := range a.Params {
		if p.Required {
			req = append(req, p.Name+"=...")
		}
	}
	if len(req) > 0 {
		fmt.Fprintf(&b, " \\e\n    params %s", roff.Escape(strings.Join(req, " ")))
	}
	promotable := a.promotable()
	for _, op := range a.exampleMonitors(promotable) {
		fmt.Fprintf(&b, " \\e\n    op monitor %s", roff.Escape(op))
	}
	if promotable {
		meta := "promotable=true"
		if _, ok := a.action("notify"); ok {
			meta += " notify=true"
		}
		fmt.Fprintf(&b, "\n%s \\e\n    meta %s", roff.Escape("clone "+prim+"-clone "+prim), meta)
	}
	b.WriteString("\n.fi\n")
	if promotable {
		fmt.Fprintf(&b, ".PP\n%s\n", roff.Escape("Pacemaker 2.0 names the roles Master and Slave (role=Master, role=Slave); "+
			"its crmsh may show the promotable clone as ms "+prim+"-clone "+prim+"."))
	}
	b.WriteString(".SH SEE ALSO\n")
	b.WriteString("The gocf README; the OCF Resource Agent API; Pacemaker Explained.\n")
	return b.String()
}

// promotable tells whether the agent declares a Promoted role: Pacemaker
// then runs it as a promotable clone.
func (a *Agent) promotable() bool {
	return slices.ContainsFunc(a.Actions, func(act Action) bool { return act.Role == "Promoted" })
}

// exampleMonitors returns the monitor operations of the man page's example:
// the depth-0 monitors for a plain primitive; for a promotable one, a
// monitor per role (the shallowest declared for the role, else the
// shallowest without role), as Pacemaker monitors each role separately.
func (a *Agent) exampleMonitors(promotable bool) []string {
	op := func(act Action, role string) string {
		s := ""
		if role != "" {
			s = "role=" + role + " "
		}
		s += "interval=" + FormatDuration(act.Interval) + " timeout=" + FormatDuration(act.Timeout)
		if act.Depth > 0 {
			s += fmt.Sprintf(" OCF_CHECK_LEVEL=%d", act.Depth)
		}
		return s
	}
	var ops []string
	if !promotable {
		for _, act := range a.Actions {
			if act.Name == "monitor" && act.Depth == 0 {
				ops = append(ops, op(act, act.Role))
			}
		}
		return ops
	}
	shallowest := func(role string) int {
		best := -1
		for i, act := range a.Actions {
			if act.Name == "monitor" && act.Role == role && (best < 0 || act.Depth < a.Actions[best].Depth) {
				best = i
			}
		}
		return best
	}
	picked := -1
	for _, role := range []string{"Promoted", "Unpromoted"} {
		i := shallowest(role)
		if i < 0 {
			if i = shallowest(""); i < 0 {
				continue
			}
		}
		// Two ops of one interval would clash: one without role then.
		if i == picked {
			return []string{op(a.Actions[i], "")}
		}
		picked = i
		ops = append(ops, op(a.Actions[i], role))
	}
	return ops
}
