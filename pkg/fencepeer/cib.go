package fencepeer

import (
	"encoding/xml"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// element is a CIB element with its attributes and children, as read.
type element struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Children []element  `xml:",any"`
}

func (e *element) attr(name string) string {
	for _, a := range e.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (e *element) child(name string) *element {
	for i := range e.Children {
		if e.Children[i].XMLName.Local == name {
			return &e.Children[i]
		}
	}
	return nil
}

// walk calls f on e and every descendant, depth first, until f says stop.
func (e *element) walk(f func(*element) bool) bool {
	if !f(e) {
		return false
	}
	for i := range e.Children {
		if !e.Children[i].walk(f) {
			return false
		}
	}
	return true
}

// NodeState is a node's <node_state> in the CIB's status section.
type NodeState struct {
	Present                     bool // a node_state exists
	InCCM, Crmd, Expected, Join string
}

// CIB is what the handler needs from `cibadmin -Q`.
type CIB struct {
	ValidateWith string
	HaveQuorum   bool
	// StonithEnabled and StartupFencing are the cluster options (both
	// default true).
	StonithEnabled, StartupFencing bool
	Nodes                          []string // names of the cluster nodes (not ping nodes)
	States                         map[string]NodeState
	root                           element
}

// ParseCIB reads the output of `cibadmin -Q`.
func ParseCIB(data []byte) (*CIB, error) {
	var root element
	if err := xml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("CIB is not XML: %w", err)
	}
	if root.XMLName.Local != "cib" {
		return nil, fmt.Errorf("CIB: root element is <%s>, want <cib>", root.XMLName.Local)
	}
	c := &CIB{root: root, ValidateWith: root.attr("validate-with"), StonithEnabled: true, StartupFencing: true,
		States: map[string]NodeState{}}
	c.HaveQuorum = root.attr("have-quorum") == "1" || root.attr("have-quorum") == "true"
	conf := root.child("configuration")
	if conf == nil {
		return nil, errors.New("CIB has no configuration section")
	}
	if cc := conf.child("crm_config"); cc != nil {
		cc.walk(func(e *element) bool {
			if e.XMLName.Local == "nvpair" {
				switch strings.ReplaceAll(e.attr("name"), "_", "-") {
				case "stonith-enabled":
					c.StonithEnabled = notFalse(e.attr("value"))
				case "startup-fencing":
					c.StartupFencing = notFalse(e.attr("value"))
				}
			}
			return true
		})
	}
	if nodes := conf.child("nodes"); nodes != nil {
		for _, n := range nodes.Children {
			if n.XMLName.Local == "node" && n.attr("type") != "ping" && n.attr("uname") != "" {
				c.Nodes = append(c.Nodes, n.attr("uname"))
			}
		}
	}
	if st := root.child("status"); st != nil {
		for _, n := range st.Children {
			if n.XMLName.Local == "node_state" && n.attr("uname") != "" {
				c.States[n.attr("uname")] = NodeState{Present: true, InCCM: n.attr("in_ccm"), Crmd: n.attr("crmd"),
					Expected: n.attr("expected"), Join: n.attr("join")}
			}
		}
	}
	return c, nil
}

// notFalse is Pacemaker's reading of a boolean option that defaults to true.
func notFalse(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "no", "n", "false", "0", "off":
		return false
	}
	return true
}

// PromotedRole is the role name the rule uses: Promoted from schema
// pacemaker-3.7 (Pacemaker 2.1) on, Master before, where Pacemaker does not
// know Promoted and a rule naming it would never apply.
func (c *CIB) PromotedRole() string {
	v, ok := strings.CutPrefix(c.ValidateWith, "pacemaker-")
	if !ok {
		return "Master"
	}
	maj, min, _ := strings.Cut(v, ".")
	a, err1 := strconv.Atoi(maj)
	b, err2 := strconv.Atoi(min)
	if err1 != nil || err2 != nil {
		return "Master"
	}
	if a > 3 || a == 3 && b >= 7 {
		return "Promoted"
	}
	return "Master"
}

// Clone is a promotable clone (or legacy master) of a drbd primitive.
type Clone struct {
	ID, Element, Primitive, Agent string
}

// FindClone finds the promotable clone or <master> whose primitive is
// ocf:gocf:drbd or ocf:linbit:drbd with drbd_resource=res in any of its
// instance_attributes sets. Clones that are not promotable are named in
// skipped for the log.
func (c *CIB) FindClone(res string) (found []Clone, skipped []string) {
	conf := c.root.child("configuration")
	rscs := conf.child("resources")
	if rscs == nil {
		return nil, nil
	}
	rscs.walk(func(e *element) bool {
		kind := e.XMLName.Local
		if kind != "clone" && kind != "master" {
			return true
		}
		e.walk(func(p *element) bool {
			if p.XMLName.Local != "primitive" || p.attr("class") != "ocf" || p.attr("type") != "drbd" ||
				(p.attr("provider") != "gocf" && p.attr("provider") != "linbit") || !managesResource(p, res) {
				return true
			}
			agent := "ocf:" + p.attr("provider") + ":drbd"
			if kind == "clone" && !promotable(e) {
				skipped = append(skipped, fmt.Sprintf("clone %s of %s is not promotable", e.attr("id"), agent))
				return true
			}
			found = append(found, Clone{ID: e.attr("id"), Element: kind, Primitive: p.attr("id"), Agent: agent})
			return true
		})
		return true
	})
	return found, skipped
}

// managesResource tells whether a primitive has drbd_resource=res in one of
// its instance_attributes sets (however nested, rules included).
func managesResource(p *element, res string) bool {
	hit := false
	for i := range p.Children {
		ia := &p.Children[i]
		if ia.XMLName.Local != "instance_attributes" {
			continue
		}
		ia.walk(func(n *element) bool {
			if n.XMLName.Local == "nvpair" && n.attr("name") == "drbd_resource" && n.attr("value") == res {
				hit = true
			}
			return !hit
		})
	}
	return hit
}

// promotable reads a clone's meta attribute promotable.
func promotable(clone *element) bool {
	p := false
	for i := range clone.Children {
		m := &clone.Children[i]
		if m.XMLName.Local != "meta_attributes" {
			continue
		}
		m.walk(func(n *element) bool {
			if n.XMLName.Local == "nvpair" && n.attr("name") == "promotable" {
				p = notFalse(n.attr("value")) && n.attr("value") != ""
			}
			return true
		})
	}
	return p
}

// Expr is one expression of the constraint's rule.
type Expr struct{ ID, Attribute, Operation, Value string }

// Constraint is the rsc_location the handler places: the Promoted role is
// forbidden (-INFINITY) wherever #uname differs from every allowed node.
type Constraint struct {
	ID, Rsc, RuleID, Role, Score string
	BooleanOp                    string
	Exprs                        []Expr
	Other                        bool // the rule holds more than plain expressions
}

// ConstraintID is LINBIT's id: PREFIX-RESOURCE-CLONE (the prefix already
// ending in -RESOURCE is kept as it is).
func ConstraintID(prefix, res, clone string) string {
	return idPrefix(prefix, res) + "-" + clone
}

func idPrefix(prefix, res string) string {
	if !strings.HasSuffix(prefix, "-"+res) {
		prefix += "-" + res
	}
	return prefix
}

// NewConstraint builds the constraint allowing the Promoted role only on
// the nodes named. ids holds the DRBD node id of each allowed node (DRBD
// 9: expression ids carry it as crm-fence-peer.9.sh's do); nil gives the
// expression ids of crm-fence-peer.sh (DRBD 8.4).
func NewConstraint(prefix, res, clone, role string, allowed []string, ids []int) Constraint {
	p := idPrefix(prefix, res)
	c := Constraint{ID: p + "-" + clone, Rsc: clone, RuleID: p + "-rule-" + clone, Role: role, Score: "-INFINITY"}
	for i, n := range allowed {
		id := p + "-expr-" + clone
		if ids != nil {
			id = fmt.Sprintf("%s-expr-%d-%s", p, ids[i], clone)
		}
		c.Exprs = append(c.Exprs, Expr{ID: id, Attribute: "#uname", Operation: "ne", Value: n})
	}
	return c
}

// XML renders the constraint for cibadmin, attribute order as LINBIT's.
func (c Constraint) XML() string {
	var b strings.Builder
	fmt.Fprintf(&b, "<rsc_location rsc=\"%s\" id=\"%s\">\n", esc(c.Rsc), esc(c.ID))
	fmt.Fprintf(&b, "  <rule role=\"%s\" score=\"%s\" id=\"%s\">\n", esc(c.Role), esc(c.Score), esc(c.RuleID))
	for _, e := range c.Exprs {
		fmt.Fprintf(&b, "    <expression attribute=\"%s\" operation=\"%s\" value=\"%s\" id=\"%s\"/>\n",
			esc(e.Attribute), esc(e.Operation), esc(e.Value), esc(e.ID))
	}
	b.WriteString("  </rule>\n</rsc_location>\n")
	return b.String()
}

// DeleteXML is what cibadmin --delete needs to find the constraint.
func (c Constraint) DeleteXML() string {
	return fmt.Sprintf("<rsc_location rsc=\"%s\" id=\"%s\"/>", esc(c.Rsc), esc(c.ID))
}

func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return strings.ReplaceAll(b.String(), `"`, "&#34;")
}

// Constraint returns the rsc_location with the id, if present.
func (c *CIB) Constraint(id string) (Constraint, bool) {
	var out Constraint
	found := false
	if cons := c.root.child("configuration").child("constraints"); cons != nil {
		for _, e := range cons.Children {
			if e.XMLName.Local != "rsc_location" || e.attr("id") != id {
				continue
			}
			found = true
			out = Constraint{ID: id, Rsc: e.attr("rsc")}
			for _, r := range e.Children {
				if r.XMLName.Local != "rule" {
					out.Other = true
					continue
				}
				if out.RuleID != "" {
					out.Other = true // a second rule
					continue
				}
				out.RuleID, out.Role, out.Score, out.BooleanOp = r.attr("id"), r.attr("role"), r.attr("score"), r.attr("boolean-op")
				for _, x := range r.Children {
					if x.XMLName.Local != "expression" {
						out.Other = true
						continue
					}
					out.Exprs = append(out.Exprs, Expr{ID: x.attr("id"), Attribute: x.attr("attribute"),
						Operation: x.attr("operation"), Value: x.attr("value")})
				}
			}
		}
	}
	return out, found
}

// simple tells whether the constraint has the handler's shape: one rule,
// score -INFINITY, expressions "#uname ne NODE" joined by and.
func (c Constraint) simple() bool {
	if c.Other || c.RuleID == "" || c.Score != "-INFINITY" || (c.BooleanOp != "" && c.BooleanOp != "and") {
		return false
	}
	for _, e := range c.Exprs {
		if e.Attribute != "#uname" || e.Operation != "ne" {
			return false
		}
	}
	return true
}

// Allowed lists the nodes the constraint lets be promoted, sorted; ok is
// false for a constraint of another shape.
func (c Constraint) Allowed() (nodes []string, ok bool) {
	if !c.simple() {
		return nil, false
	}
	for _, e := range c.Exprs {
		nodes = append(nodes, e.Value)
	}
	slices.Sort(nodes)
	return slices.Compact(nodes), true
}

// Rejects tells whether the constraint forbids node the Promoted role. A
// constraint of another shape rejects every node: the handler cannot tell.
func (c Constraint) Rejects(node string) bool {
	allowed, ok := c.Allowed()
	return !ok || !slices.Contains(allowed, node)
}

// normRole maps the deprecated role names onto the current ones.
func normRole(r string) string {
	switch r {
	case "Master":
		return "Promoted"
	case "Slave":
		return "Unpromoted"
	}
	return r
}

// Equivalent compares as LINBIT's scripts do, ids aside (Master and
// Promoted are the same role).
func (c Constraint) Equivalent(o Constraint) bool {
	a, ok1 := c.Allowed()
	b, ok2 := o.Allowed()
	return ok1 && ok2 && c.Rsc == o.Rsc && normRole(c.Role) == normRole(o.Role) && slices.Equal(a, b)
}
