package testbed

import (
	"encoding/xml"
	"fmt"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The pure parts of `testbed scale` (issue 17): the resources' names, addresses and crm
// configuration for N resources per stack, and the readings of the kernel's CPU accounting
// and of the CIB's operation history.

// Scale stacks and kinds.
const (
	ScaleGocf  = "gocf"
	ScaleShell = "shell"

	KindAddr = "addresses"
	KindFS   = "filesystems"

	LayoutSingle = "independent"
	LayoutGroup  = "group"
)

// ScalePrefix starts the id of everything `testbed scale` puts into the CIB.
const ScalePrefix = "scale-"

// ScaleMaxAddrs is how many scale addresses the LAN holds: 198.51.100.101–.254, then .14–.99
// (the bed uses .2 for the client, .11–.13 for the nodes and .100 for the VIP).
const ScaleMaxAddrs = 154 + 86

// ScaleAddr is the i-th (from 0) address of the scale runs, on the LAN's /24 so that the
// client reaches it directly: 198.51.100.101 up to .254, then .14 up to .99.
func ScaleAddr(i int) (string, error) {
	switch {
	case i < 0 || i >= ScaleMaxAddrs:
		return "", fmt.Errorf("scale address %d: the LAN holds %d (198.51.100.101-254, .14-99)", i, ScaleMaxAddrs)
	case i < 154:
		return fmt.Sprintf("198.51.100.%d", 101+i), nil
	}
	return fmt.Sprintf("198.51.100.%d", 14+i-154), nil
}

// ScaleID is the id of the i-th resource (from 0) of a kind: scale-a001, scale-f200.
func ScaleID(kind string, i int) string {
	k := "a"
	if kind == KindFS {
		k = "f"
	}
	return fmt.Sprintf("%s%s%03d", ScalePrefix, k, i+1)
}

// ScaleGroupID is the group's id in the group layout.
const ScaleGroupID = ScalePrefix + "g"

// ScaleMountDir is where the i-th filesystem is mounted.
func ScaleMountDir(i int) string { return fmt.Sprintf("/srv/scale/f%03d", i+1) }

// ScaleSpec is one configuration of N resources.
type ScaleSpec struct {
	Stack  string // ScaleGocf or ScaleShell
	Kind   string // KindAddr or KindFS
	N      int
	Depth  int    // filesystems: the monitor's OCF_CHECK_LEVEL (0 or 20)
	Layout string // LayoutSingle or LayoutGroup
	Node   string // where they all run (a location preference of 100)
	// Devices are the filesystems' block devices (at least N), one per resource.
	Devices []string
}

// Monitor intervals of the scale runs (issue 17): addresses every 10 s, filesystems every 20 s.
const (
	ScaleAddrInterval = 10 * time.Second
	ScaleFSInterval   = 20 * time.Second
)

// ScaleAgent is the resource agent of a stack and kind.
func ScaleAgent(stack, kind string) (string, error) {
	switch {
	case stack == ScaleGocf && kind == KindAddr:
		return "ocf:gocf:vip", nil
	case stack == ScaleGocf && kind == KindFS:
		return "ocf:gocf:fsmount", nil
	case stack == ScaleShell && kind == KindAddr:
		return "ocf:heartbeat:IPaddr2", nil
	case stack == ScaleShell && kind == KindFS:
		return "ocf:heartbeat:Filesystem", nil
	}
	return "", fmt.Errorf("scale: no agent for stack %q, kind %q", stack, kind)
}

// ScaleCRM is the crm shell configuration of s: N primitives with the same parameters and
// operations for both stacks (so that they differ only in the agent), all preferring s.Node
// with a score of 100, either each on its own or as one group.
func ScaleCRM(s ScaleSpec) (string, error) {
	agent, err := ScaleAgent(s.Stack, s.Kind)
	if err != nil {
		return "", err
	}
	if s.N < 1 {
		return "", fmt.Errorf("scale: N = %d", s.N)
	}
	if s.Kind == KindFS && len(s.Devices) < s.N {
		return "", fmt.Errorf("scale: %d filesystems but %d devices", s.N, len(s.Devices))
	}
	if s.Node == "" {
		return "", fmt.Errorf("scale: no node")
	}
	var sb strings.Builder
	var ids []string
	for i := 0; i < s.N; i++ {
		id := ScaleID(s.Kind, i)
		ids = append(ids, id)
		switch s.Kind {
		case KindAddr:
			ip, err := ScaleAddr(i)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(&sb, "primitive %s %s params ip=%s cidr_netmask=24 nic=%s op monitor interval=%ds timeout=30s op start timeout=60s interval=0s op stop timeout=60s interval=0s\n",
				id, agent, ip, NodeIface, int(ScaleAddrInterval.Seconds()))
		case KindFS:
			depth := ""
			if s.Depth > 0 {
				depth = fmt.Sprintf(" OCF_CHECK_LEVEL=%d", s.Depth)
			}
			fmt.Fprintf(&sb, "primitive %s %s params device=%s directory=%s fstype=ext4 op monitor interval=%ds timeout=40s%s op start timeout=60s interval=0s op stop timeout=60s interval=0s\n",
				id, agent, s.Devices[i], ScaleMountDir(i), int(ScaleFSInterval.Seconds()), depth)
		default:
			return "", fmt.Errorf("scale: kind %q", s.Kind)
		}
	}
	switch s.Layout {
	case LayoutGroup:
		fmt.Fprintf(&sb, "group %s %s\n", ScaleGroupID, strings.Join(ids, " "))
		fmt.Fprintf(&sb, "location %sl-g %s 100: %s\n", ScalePrefix, ScaleGroupID, s.Node)
	case LayoutSingle, "":
		for _, id := range ids {
			fmt.Fprintf(&sb, "location %sl-%s %s 100: %s\n", ScalePrefix, strings.TrimPrefix(id, ScalePrefix), id, s.Node)
		}
	default:
		return "", fmt.Errorf("scale: layout %q", s.Layout)
	}
	return sb.String(), nil
}

// ProcStat is what the scale runs read of /proc/PID/stat: the times in clock ticks.
type ProcStat struct {
	PID, PPID            int
	Comm                 string
	UTime, STime         uint64 // the process's own
	CUTime, CSTime       uint64 // its waited-for children's (and their children's)
	Start                uint64
	State                string
	Self, WithDescendant uint64 // UTime+STime, and that plus CUTime+CSTime
}

// ParseProcStat reads one /proc/PID/stat line (proc(5)); the command name may hold blanks
// and parentheses, so the fields are counted from its last ')'.
func ParseProcStat(line string) (ProcStat, error) {
	var p ProcStat
	line = strings.TrimSpace(line)
	open, end := strings.IndexByte(line, '('), strings.LastIndexByte(line, ')')
	if open < 0 || end < open {
		return p, fmt.Errorf("proc stat: no command name in %q", line)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line[:open]))
	if err != nil {
		return p, fmt.Errorf("proc stat: pid in %q", line)
	}
	p.PID, p.Comm = pid, line[open+1:end]
	f := strings.Fields(line[end+1:])
	// f[0] is field 3 (state); utime is field 14, stime 15, cutime 16, cstime 17, starttime 22
	if len(f) < 20 {
		return p, fmt.Errorf("proc stat: %d fields after the name in %q", len(f), line)
	}
	p.State = f[0]
	p.PPID, err = strconv.Atoi(f[1])
	if err != nil {
		return p, fmt.Errorf("proc stat: ppid %q", f[1])
	}
	num := func(i int) uint64 {
		v, e := strconv.ParseInt(f[i], 10, 64) // cutime and cstime are signed (long)
		if e != nil && err == nil {
			err = fmt.Errorf("proc stat: field %d %q", i+3, f[i])
		}
		if v < 0 {
			v = 0
		}
		return uint64(v)
	}
	p.UTime, p.STime, p.CUTime, p.CSTime, p.Start = num(11), num(12), num(13), num(14), num(19)
	p.Self = p.UTime + p.STime
	p.WithDescendant = p.Self + p.CUTime + p.CSTime
	return p, err
}

// CPUSample is one reading on a node (ScaleSampleScript's output).
type CPUSample struct {
	ClkTck int
	Uptime float64 // s, the kernel's (namespaces share it)
	Load   [3]float64
	// Execd is pacemaker-execd's own time plus that of every agent it ran and waited for
	// (and theirs), in ticks; ExecdPID is its PID in the node.
	Execd    uint64
	ExecdPID int
	// Node is the sum over the node's processes (own + waited-for children's time), in ticks,
	// without the sampling shell and what it runs.
	Node  uint64
	Procs int
}

// ScaleSampleScript runs in a node (bash): the clock tick, the uptime, the load and every
// process's stat line, with no fork inside the loop (read is a builtin), so that the sample
// costs the node nothing it would count.
const ScaleSampleScript = `echo "self $$"
echo "clk $(getconf CLK_TCK)"
read -r up _ < /proc/uptime; echo "uptime $up"
read -r l1 l5 l15 _ < /proc/loadavg; echo "load $l1 $l5 $l15"
for p in /proc/[0-9]*; do read -r s < "$p/stat" 2>/dev/null && echo "stat $s"; done
echo end
`

// ParseCPUSample reads ScaleSampleScript's output. The sampling shell (self) and whatever
// runs with it (ppid self, or processes entered from outside the node: ppid 0, except the
// node's init) are left out.
func ParseCPUSample(out string) (CPUSample, error) {
	var s CPUSample
	self, ended := -1, false
	var stats []ProcStat
	for _, l := range strings.Split(out, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(l), " ")
		var err error
		switch k {
		case "self":
			self, err = strconv.Atoi(v)
		case "clk":
			s.ClkTck, err = strconv.Atoi(v)
		case "uptime":
			s.Uptime, err = strconv.ParseFloat(v, 64)
		case "load":
			f := strings.Fields(v)
			if len(f) != 3 {
				return s, fmt.Errorf("cpu sample: load %q", v)
			}
			for i := range f {
				if s.Load[i], err = strconv.ParseFloat(f[i], 64); err != nil {
					break
				}
			}
		case "stat":
			var p ProcStat
			if p, err = ParseProcStat(v); err == nil {
				stats = append(stats, p)
			}
		case "end":
			ended = true
		}
		if err != nil {
			return s, fmt.Errorf("cpu sample: %q: %w", l, err)
		}
	}
	if !ended || self < 0 || s.ClkTck <= 0 || s.Uptime <= 0 {
		return s, fmt.Errorf("cpu sample: incomplete (self %d, clk %d, uptime %v, end %v)", self, s.ClkTck, s.Uptime, ended)
	}
	for _, p := range stats {
		if p.PID == self || p.PPID == self || p.PPID == 0 && p.PID != 1 {
			continue
		}
		s.Procs++
		s.Node += p.WithDescendant
		if p.Comm == "pacemaker-execd" && (s.ExecdPID == 0 || p.PID < s.ExecdPID) {
			s.Execd, s.ExecdPID = p.WithDescendant, p.PID
		}
	}
	if s.ExecdPID == 0 {
		return s, fmt.Errorf("cpu sample: no pacemaker-execd among %d processes", s.Procs)
	}
	return s, nil
}

// CPUWindow is what was spent between two samples of one node.
type CPUWindow struct {
	Seconds float64 // the window, by the kernel's uptime
	// ExecdPerMin and NodePerMin are CPU seconds per minute: pacemaker-execd with its agents,
	// and every process of the node.
	ExecdPerMin, NodePerMin float64
}

// Window computes the CPU spent from a to b; pacemaker-execd must be the same process.
func Window(a, b CPUSample) (CPUWindow, error) {
	var w CPUWindow
	if a.ExecdPID != b.ExecdPID {
		return w, fmt.Errorf("pacemaker-execd restarted in the window (pid %d, then %d)", a.ExecdPID, b.ExecdPID)
	}
	if a.ClkTck != b.ClkTck || a.ClkTck <= 0 {
		return w, fmt.Errorf("clock ticks %d, %d", a.ClkTck, b.ClkTck)
	}
	w.Seconds = b.Uptime - a.Uptime
	if w.Seconds <= 0 {
		return w, fmt.Errorf("window of %.2f s", w.Seconds)
	}
	perMin := func(x, y uint64) float64 {
		if y < x {
			return 0 // a process gone with its children's time: counted as nothing
		}
		return float64(y-x) / float64(a.ClkTck) / w.Seconds * 60
	}
	w.ExecdPerMin, w.NodePerMin = perMin(a.Execd, b.Execd), perMin(a.Node, b.Node)
	return w, nil
}

// OpTime is one recorded operation of the CIB's status section (lrm_rsc_op).
type OpTime struct {
	Rsc, Node, Op     string
	Interval          time.Duration
	RC                int
	Exec, Queue       time.Duration
	LastRCChange, Key string
}

type cibStatus struct {
	Nodes []struct {
		Uname     string `xml:"uname,attr"`
		Resources []struct {
			ID  string `xml:"id,attr"`
			Ops []struct {
				ID       string `xml:"id,attr"`
				Key      string `xml:"operation_key,attr"`
				Op       string `xml:"operation,attr"`
				Interval string `xml:"interval,attr"`
				RC       string `xml:"rc-code,attr"`
				Exec     string `xml:"exec-time,attr"`
				Queue    string `xml:"queue-time,attr"`
				Change   string `xml:"last-rc-change,attr"`
			} `xml:"lrm_rsc_op"`
		} `xml:"lrm>lrm_resources>lrm_resource"`
	} `xml:"status>node_state"`
}

// ParseOpTimes reads the recurring operations (interval > 0) recorded in a CIB
// (`cibadmin -Q`) for the resources whose id starts with prefix, on node (all nodes when
// ""). Pacemaker records a recurring monitor's result when it changes, so a monitor's
// exec-time is that of its first run after the start (or of the last change).
func ParseOpTimes(cib []byte, node, prefix string) ([]OpTime, error) {
	var c cibStatus
	if err := xml.Unmarshal(cib, &c); err != nil {
		return nil, err
	}
	var ops []OpTime
	for _, n := range c.Nodes {
		if node != "" && n.Uname != node {
			continue
		}
		for _, r := range n.Resources {
			if !strings.HasPrefix(r.ID, prefix) {
				continue
			}
			for _, o := range r.Ops {
				ms, _ := strconv.Atoi(o.Interval)
				if ms <= 0 {
					continue
				}
				rc, _ := strconv.Atoi(o.RC)
				ex, _ := strconv.Atoi(o.Exec)
				q, _ := strconv.Atoi(o.Queue)
				ops = append(ops, OpTime{Rsc: r.ID, Node: n.Uname, Op: o.Op, Interval: time.Duration(ms) * time.Millisecond,
					RC: rc, Exec: time.Duration(ex) * time.Millisecond, Queue: time.Duration(q) * time.Millisecond,
					LastRCChange: o.Change, Key: o.Key})
			}
		}
	}
	sort.Slice(ops, func(i, j int) bool {
		return ops[i].Rsc < ops[j].Rsc || ops[i].Rsc == ops[j].Rsc && ops[i].Key < ops[j].Key
	})
	return ops, nil
}

// Quantiles returns the median, the 95th percentile (nearest rank) and the maximum.
func Quantiles(ds []time.Duration) (med, p95, mx time.Duration) {
	if len(ds) == 0 {
		return 0, 0, 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := (95*len(s) + 99) / 100 // ceil(0.95 n)
	return median(s), s[rank-1], s[len(s)-1]
}

// ScaleOp is an action pacemaker-execd logged as finished (start, stop, ...).
type ScaleOp struct {
	Rsc, Op     string
	RC          int
	At          time.Time // the end, by the log
	Exec, Queue time.Duration
}

// scaleFinishedRe: "scale-a001 start (call 35, PID 2145) exited with status 0 (execution time
// 312ms after being queued 2ms)".
var scaleFinishedRe = regexp.MustCompile(`\(log_finished\)\s+\w+: (\S+) (\w+) \(call \d+, PID \d+\) exited with status (-?\d+) \(execution time ([0-9hms.]+)(?: after being queued ([0-9hms.]+))?`)

// ParseFinishedOps reads the non-monitor actions of the resources with prefix that
// pacemaker-execd logged as finished at or after since.
func ParseFinishedOps(log string, since time.Time, prefix string) []ScaleOp {
	var ops []ScaleOp
	for _, l := range strings.Split(log, "\n") {
		m := scaleFinishedRe.FindStringSubmatch(l)
		if m == nil || m[2] == "monitor" || !strings.HasPrefix(m[1], prefix) {
			continue
		}
		t, ok := logTime(l, since)
		if !ok {
			continue
		}
		o := ScaleOp{Rsc: m[1], Op: m[2], At: t}
		o.RC, _ = strconv.Atoi(m[3])
		o.Exec, _ = time.ParseDuration(m[4])
		if m[5] != "" {
			o.Queue, _ = time.ParseDuration(m[5])
		}
		ops = append(ops, o)
	}
	return ops
}

// MaxConcurrent is the most actions of ops running at the same time (each from its end
// minus its execution time to its end).
func MaxConcurrent(ops []ScaleOp) int {
	type ev struct {
		t time.Time
		d int
	}
	var evs []ev
	for _, o := range ops {
		evs = append(evs, ev{o.At.Add(-o.Exec), 1}, ev{o.At, -1})
	}
	sort.Slice(evs, func(i, j int) bool {
		if evs[i].t.Equal(evs[j].t) {
			return evs[i].d < evs[j].d // an end before a start at the same instant
		}
		return evs[i].t.Before(evs[j].t)
	})
	cur, most := 0, 0
	for _, e := range evs {
		cur += e.d
		most = max(most, cur)
	}
	return most
}

// parseMounts returns the mount points of a /proc/PID/mounts.
func parseMounts(data string) map[string]bool {
	m := map[string]bool{}
	for _, l := range strings.Split(data, "\n") {
		if f := strings.Fields(l); len(f) >= 2 {
			m[f[1]] = true
		}
	}
	return m
}

// scaleAddrs returns the first n scale addresses.
func scaleAddrs(n int) ([]netip.Addr, error) {
	var as []netip.Addr
	for i := 0; i < n; i++ {
		s, err := ScaleAddr(i)
		if err != nil {
			return nil, err
		}
		as = append(as, netip.MustParseAddr(s))
	}
	return as, nil
}

// ParseNs reads a list of resource counts ("1,10,50") capped by max (0: no cap); counts above
// max are dropped, and max is added when the list had one above it.
func ParseNs(list string, maxN int) ([]int, error) {
	var ns []int
	capped := false
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("resource count %q: want a number ≥ 1", f)
		}
		if maxN > 0 && n > maxN {
			capped = true
			continue
		}
		ns = append(ns, n)
	}
	if capped && (len(ns) == 0 || ns[len(ns)-1] != maxN) {
		ns = append(ns, maxN)
	}
	sort.Ints(ns)
	out := ns[:0]
	for i, n := range ns {
		if i == 0 || n != ns[i-1] {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no resource counts in %q", list)
	}
	return out, nil
}
