package ocf

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"
)

// Defaults for the actions the SDK provides itself.
const (
	metaDataTimeout = 5 * time.Second
	validateTimeout = 20 * time.Second
	reloadTimeout   = 20 * time.Second
)

// metaActions returns the declared actions plus meta-data and validate-all
// when the agent did not declare them, and reload-agent when some
// parameter is reloadable.
func (a *Agent) metaActions() []Action {
	acts := slices.Clone(a.Actions)
	has := func(n string) bool {
		return slices.ContainsFunc(acts, func(x Action) bool { return x.Name == n })
	}
	if !has("reload-agent") && a.reloadable() {
		acts = append(acts, Action{Name: "reload-agent", Timeout: reloadTimeout})
	}
	if !has("meta-data") {
		acts = append(acts, Action{Name: "meta-data", Timeout: metaDataTimeout})
	}
	if !has("validate-all") {
		acts = append(acts, Action{Name: "validate-all", Timeout: validateTimeout})
	}
	return acts
}

// MetaData renders the agent's meta-data for a caller of OCF version v.
// OCF 1.0 output validates against resource-agents' ra-api-1.dtd and
// metadata.rng; a 1.1 caller additionally sees reloadable parameters and
// 1.1-only actions, which the 1.0 DTD rejects.
func (a *Agent) MetaData(v Version) []byte {
	ocf11 := v.AtLeast(1, 1)
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0"`)
	doc.CreateDirective(`DOCTYPE resource-agent SYSTEM "ra-api-1.dtd"`)
	ra := doc.CreateElement("resource-agent")
	ra.CreateAttr("name", a.Name)
	ra.CreateAttr("version", a.Version)
	if ocf11 {
		ra.CreateElement("version").SetText("1.1")
	} else {
		ra.CreateElement("version").SetText("1.0")
	}
	desc(ra, "longdesc", a.Long)
	desc(ra, "shortdesc", a.Short)

	params := ra.CreateElement("parameters")
	for _, p := range a.Params {
		pe := params.CreateElement("parameter")
		pe.CreateAttr("name", p.Name)
		pe.CreateAttr("unique", boolAttr(p.Unique))
		pe.CreateAttr("required", boolAttr(p.Required))
		if ocf11 && p.Reloadable {
			pe.CreateAttr("reloadable", "1")
		}
		desc(pe, "longdesc", paramLong(p))
		desc(pe, "shortdesc", p.Short)
		c := pe.CreateElement("content")
		c.CreateAttr("type", p.Type.String())
		if p.Default != "" {
			c.CreateAttr("default", p.Default)
		}
	}

	actions := ra.CreateElement("actions")
	for _, act := range a.metaActions() {
		if !ocf11 && slices.Contains(ocf11Actions, act.Name) {
			continue
		}
		ae := actions.CreateElement("action")
		ae.CreateAttr("name", act.Name)
		ae.CreateAttr("timeout", FormatDuration(act.Timeout))
		if act.Interval > 0 {
			ae.CreateAttr("interval", FormatDuration(act.Interval))
		}
		if act.Name == "monitor" || act.Name == "status" {
			ae.CreateAttr("depth", strconv.Itoa(act.Depth))
		}
		if act.Role != "" {
			ae.CreateAttr("role", act.Role)
		}
	}
	doc.Indent(2)
	out, _ := doc.WriteToBytes() // writing to memory cannot fail
	return out
}

func desc(parent *etree.Element, tag, text string) {
	e := parent.CreateElement(tag)
	e.CreateAttr("lang", "en")
	e.SetText(strings.TrimSpace(text))
}

// paramLong is the long description with the allowed values appended, so
// the constraint is documented where the declaration states it.
func paramLong(p Param) string {
	s := strings.TrimSpace(p.Long)
	switch {
	case len(p.Choices) > 0:
		s += "\nAllowed values: " + strings.Join(p.Choices, ", ") + "."
	case p.Bounds != nil:
		s += fmt.Sprintf("\nAllowed range: %d to %d.", p.Bounds.Min, p.Bounds.Max)
	}
	return s
}

func boolAttr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// FormatDuration writes a duration the way Pacemaker reads it ("20s", "500ms").
func FormatDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dms", d/time.Millisecond)
}
