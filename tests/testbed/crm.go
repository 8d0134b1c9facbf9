package testbed

import (
	"encoding/xml"
	"fmt"
	"sort"
	"strings"
	"time"
)

// CrmMon is the part of `crm_mon --output-as=xml` the tests use.
type CrmMon struct {
	Summary struct {
		DC struct {
			Name    string `xml:"name,attr"`
			Present bool   `xml:"present,attr"`
		} `xml:"current_dc"`
	} `xml:"summary"`
	Nodes     []MonNode     `xml:"nodes>node"`
	Resources []MonResource `xml:"resources>resource"`
	Groups    []struct {
		ID        string        `xml:"id,attr"`
		Resources []MonResource `xml:"resource"`
	} `xml:"resources>group"`
	Clones []struct {
		ID        string        `xml:"id,attr"`
		Resources []MonResource `xml:"resource"`
	} `xml:"resources>clone"`
	Failures []MonFailure `xml:"failures>failure"`
	// Degraded holds the results crm_mon lists with the failures that are not failures:
	// 190 and 191 (degraded), which Pacemaker counts as success and does not recover.
	Degraded []MonFailure `xml:"-"`
	// NodeHistory holds each node's fail counts (crm_mon's node_history section).
	NodeHistory []struct {
		Name      string `xml:"name,attr"`
		Resources []struct {
			ID        string `xml:"id,attr"`
			FailCount string `xml:"fail-count,attr"` // a number or INFINITY; empty when none
		} `xml:"resource_history"`
	} `xml:"node_history>node"`
}

// FailCounts returns the fail counts crm_mon shows, as "resource on node" to the count.
func (m *CrmMon) FailCounts() map[string]string {
	fc := map[string]string{}
	for _, n := range m.NodeHistory {
		for _, r := range n.Resources {
			if r.FailCount != "" && r.FailCount != "0" {
				fc[r.ID+" on "+n.Name] = r.FailCount
			}
		}
	}
	return fc
}

// MonFailure is a failed action in crm_mon's XML.
type MonFailure struct {
	OpKey      string `xml:"op_key,attr"`
	Node       string `xml:"node,attr"`
	ExitStatus string `xml:"exitstatus,attr"`
	ExitReason string `xml:"exitreason,attr"`
	Status     string `xml:"status,attr"`
	ExitCode   string `xml:"exitcode,attr"`
	Task       string `xml:"task,attr"`
	Interval   string `xml:"interval,attr"` // ms
	Call       string `xml:"call,attr"`
	LastChange string `xml:"last-rc-change,attr"`
}

func (f MonFailure) String() string {
	s := fmt.Sprintf("%s on %s: %s (%s)", f.OpKey, f.Node, f.ExitStatus, f.Status)
	if f.ExitReason != "" {
		s += ": " + f.ExitReason
	}
	return s
}

// MonNode is a node in crm_mon's XML.
type MonNode struct {
	Name    string `xml:"name,attr"`
	Online  bool   `xml:"online,attr"`
	Standby bool   `xml:"standby,attr"`
	Unclean bool   `xml:"unclean,attr"`
}

// MonResource is a primitive in crm_mon's XML.
type MonResource struct {
	ID      string `xml:"id,attr"`
	Agent   string `xml:"resource_agent,attr"`
	Role    string `xml:"role,attr"`
	Active  bool   `xml:"active,attr"`
	Failed  bool   `xml:"failed,attr"`
	Managed bool   `xml:"managed,attr"`
	Nodes   []struct {
		Name string `xml:"name,attr"`
	} `xml:"node"`
}

// AllResources returns every primitive, including group and clone members.
func (m *CrmMon) AllResources() []MonResource {
	rs := append([]MonResource(nil), m.Resources...)
	for _, g := range m.Groups {
		rs = append(rs, g.Resources...)
	}
	for _, c := range m.Clones {
		rs = append(rs, c.Resources...)
	}
	return rs
}

// Online returns the names of the online nodes, sorted.
func (m *CrmMon) Online() []string {
	var on []string
	for _, n := range m.Nodes {
		if n.Online {
			on = append(on, n.Name)
		}
	}
	sort.Strings(on)
	return on
}

// Where returns the nodes on which resource id is active and settled: role
// Started, Promoted or Unpromoted. A pending start shows as active with role
// Starting (record-pending), and does not count yet.
func (m *CrmMon) Where(id string) []string {
	var ns []string
	for _, r := range m.AllResources() {
		if r.ID == id && r.Active && (r.Role == "Started" || r.Role == "Promoted" || r.Role == "Unpromoted") {
			for _, n := range r.Nodes {
				ns = append(ns, n.Name)
			}
		}
	}
	return ns
}

// ParseCrmMon parses crm_mon's XML output.
func ParseCrmMon(data []byte) (*CrmMon, error) {
	var m CrmMon
	if err := xml.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	var failed []MonFailure
	for _, f := range m.Failures {
		if f.ExitCode == "190" || f.ExitCode == "191" {
			m.Degraded = append(m.Degraded, f)
		} else {
			failed = append(failed, f)
		}
	}
	m.Failures = failed
	return &m, nil
}

// Mon runs crm_mon on node n and parses it.
func (b *Bed) Mon(n string) (*CrmMon, error) {
	out, err := b.Exec(n, 30*time.Second, nil, "crm_mon", "-1", "--output-as=xml")
	if err != nil {
		return nil, err
	}
	// the XML document starts at "<?xml" or "<pacemaker-result"
	if i := strings.Index(out, "<"); i > 0 {
		out = out[i:]
	}
	return ParseCrmMon([]byte(out))
}

// WaitOnline waits until the given nodes are all online, as seen from each of them.
func (b *Bed) WaitOnline(timeout time.Duration, nodes ...string) error {
	var last string
	ok := Poll(timeout, 250*time.Millisecond, func() bool {
		for _, v := range nodes {
			m, err := b.Mon(v)
			if err != nil {
				last = err.Error()
				return false
			}
			on := m.Online()
			for _, n := range b.st.Nodes {
				want := b.Running(n)
				if contains(on, n) != want {
					last = fmt.Sprintf("%s sees online %v", v, on)
					return false
				}
			}
		}
		return true
	})
	if !ok {
		return fmt.Errorf("nodes %v not online within %v: %s", nodes, timeout, last)
	}
	return nil
}

// WaitResource waits until resource id is active on exactly one node, other than any of
// notOn, and returns that node.
func (b *Bed) WaitResource(timeout time.Duration, id string, notOn ...string) (string, error) {
	var where []string
	var last string
	ok := Poll(timeout, 250*time.Millisecond, func() bool {
		v, err := b.AnyRunning(notOn...)
		if err != nil {
			last = err.Error()
			return false
		}
		m, err := b.Mon(v)
		if err != nil {
			last = err.Error()
			return false
		}
		where = m.Where(id)
		return len(where) == 1 && !contains(notOn, where[0])
	})
	if !ok {
		return "", fmt.Errorf("resource %s not active on one node (not %v) within %v: on %v %s", id, notOn, timeout, where, last)
	}
	return where[0], nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Status is a one-screen summary of the bed.
func (b *Bed) Status() string {
	if b.st.Mode == "" {
		return "test bed: down\n"
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "test bed: %s mode, image %s, token %d ms\n", b.st.Mode, b.st.ImageDir, b.st.TokenMS)
	for _, n := range b.st.Nodes {
		state := "off"
		if b.Running(n) {
			state = "running"
		}
		pid := b.st.Init[n].PID
		if b.st.Mode == "vm" {
			pid = b.st.Outer[n].PID
		}
		fmt.Fprintf(&sb, "  %-3s %-15s %-15s %-8s pid %d\n", n, NodeIP(n), RingIP(n), state, pid)
	}
	if p := b.st.Fencer; p != nil {
		state := "dead"
		if p.Alive() {
			state = "running"
		}
		fmt.Fprintf(&sb, "  power switch (fence_testbed serve) pid %d %s; log %s\n", p.PID, state, b.FenceLogPath())
	}
	if v, err := b.AnyRunning(); err == nil {
		out, _ := b.Exec(v, 30*time.Second, nil, "crm_mon", "-1", "-r")
		sb.WriteString(out)
	}
	return sb.String()
}
