package testbed

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Issue 16's fault harness: on the seed plan's PBX (SeedSetup: two nodes and a quorum device,
// Asterisk's directories on /replica), with real SIPp calls from the client namespace through
// the VIP and the SIP OPTIONS prober, each fault of Faults is injected on the active node of a
// settled cluster, for each stack of FaultStackNames, and what the stack made of it is
// measured (FaultRun); the bed is restored and settled before the next fault. faultreport.go
// renders the runs (a table, per-fault timelines), faultdetect.go reads the logs.

// Fault is one fault of the harness.
type Fault struct {
	ID    int
	Name  string // short, for files and plot labels
	Title string
	// VMOnly: the fault needs the VMs (DRBD's replication link).
	VMOnly bool
	// Quiet: the PBX should ride it out: any restart or move is unnecessary.
	Quiet bool
	// Planned: an operator's move; no call may be cut (with call_drain_timeout).
	Planned bool
	// InPlace: a restart on the same node repairs it, so a move is unnecessary.
	InPlace bool
	// MayMove: the PBX may ride it out or move once; a restart in place repairs nothing
	// (Fault6DM).
	MayMove bool
	// Needs are the resources whose (one) restart the repair takes, by the group's order;
	// starts of others, or more than one start of these, are unnecessary. nil with
	// Planned or a move: the whole group, once, on the new node.
	Needs []string
	// MinWatch is how long the fault is watched at least in ns mode (twice that in the VMs):
	// long enough for the slowest monitor that can notice it, and its recovery.
	MinWatch time.Duration
}

// The PBX's resources, the same IDs in every stack (crm-examples/pbx-*.crm).
const (
	pbxGroup = "pbx"
	pbxFS    = "pbx-fs"
	pbxVIP   = "pbx-vip"
	pbxAst   = SeedPBX
	pbxDRBD  = "pbx-drbd"
)

// Faults are issue 16's faults, in its order.
var Faults = []Fault{
	{ID: 1, Name: "kill", Title: "Asterisk SIGKILLed", InPlace: true, Needs: []string{pbxAst}, MinWatch: 30 * time.Second},
	{ID: 2, Name: "sigstop", Title: "Asterisk SIGSTOPped (frozen)", InPlace: true, Needs: []string{pbxAst}, MinWatch: 50 * time.Second},
	{ID: 3, Name: "sip-dead", Title: "SIP stack dead, process alive (pjsip endpoint identifiers unloaded)", InPlace: true,
		Needs: []string{pbxAst}, MinWatch: 60 * time.Second},
	{ID: 4, Name: "vip-del", Title: "VIP removed by hand (ip addr del)", InPlace: true, Needs: []string{pbxVIP, pbxAst}, MinWatch: 30 * time.Second},
	{ID: 5, Name: "lan", Title: "LAN cable pulled on the active node", MinWatch: 40 * time.Second},
	{ID: 6, Name: "replica-ro", Title: "/replica read-only (ext4 error with errors=remount-ro)", InPlace: true,
		Needs: []string{pbxFS, pbxVIP, pbxAst}, MinWatch: 100 * time.Second},
	{ID: 7, Name: "replica-full", Title: "/replica filled by a file", Quiet: true, MinWatch: 100 * time.Second},
	{ID: 8, Name: "ring", Title: "DRBD replication (ring) cable pulled on the active node", VMOnly: true, Quiet: true, MinWatch: 45 * time.Second},
	{ID: 9, Name: "move", Title: "planned move (crm_resource --move) with calls up", Planned: true, MinWatch: 50 * time.Second},
}

// Fault6DM is fault 6 in vm mode: the active node's disk under DRBD fails (its device-mapper
// mapping swapped to an error target, dmbacking.go), DRBD detaches it and the Primary goes on
// Diskless, its I/O served by the peer over the ring. /replica stays writable: nothing in the
// PBX breaks, so riding it out is right.
//
// A move is not unnecessary either. gocf's drbd agent reports the Primary degraded
// (OCF_RUNNING_PROMOTED_DEGRADED: "local disk volume 0 is Diskless; I/O served by a peer",
// pkg/drbd Monitor), which Pacemaker does not recover, and ocf:linbit:drbd reports it running
// promoted (8). But both lower the detached node's promotion score to adjust_master_score's
// "only remote" (10) while the peer, UpToDate with every peer's disk known, gets 10000
// (pkg/drbd Score, drbd.ocf's drbd_update_master_score): a difference stickiness (100 a
// resource) does not outweigh, so Pacemaker is expected to demote the detached Primary and
// promote the peer, moving the PBX (stop, demote, promote, start: a short outage). That is
// the agents' policy: a Diskless Primary has no local copy, its reads cross the ring, and
// a ring fault would then leave it without any data. The Heartbeat-1 style stack (no
// monitors) never updates the score and rides it out.
//
// What no stack should do: restart anything on the node the fault hit (the disk still fails;
// a restart reattaches nothing and cuts calls), or start a resource more than once (a move
// and back). That includes the DRBD instance there: after the move, gocf's agent fails the
// detached node's monitor as Unpromoted (a Secondary without its disk is OCF_ERR_GENERIC,
// where ocf:linbit:drbd answers 0), so Pacemaker is expected to restart it, and the start
// to fail on the failing disk: Verdict lists that restart. The ext4-error variant (Faults' 6, what ns mode does) stays available in
// vm mode (testbed faults --fault6 ext4) but is not the default there: under DRBD an I/O
// error never reaches ext4 (DRBD detaches and serves the I/O from the peer), so in the VMs
// the realistic "replica unusable" is this one, and the ext4 error, a file system gone bad
// above DRBD, is measured the same way in ns mode. One variant a run keeps the runs of
// fault 6 comparable; both in one run would stack two faults with different right answers.
var Fault6DM = Fault{ID: 6, Name: "replica-eio", Title: "/replica's disk fails under DRBD (device-mapper error target; DRBD detaches)",
	VMOnly: true, MayMove: true, MinWatch: 100 * time.Second}

// Fault6Ext4 is fault 6 as ns mode has it (an ext4 error), for vm mode too.
func Fault6Ext4() Fault { f, _ := FaultByID(6); return f }

// FaultByID returns the fault with that number.
func FaultByID(id int) (Fault, bool) {
	for _, f := range Faults {
		if f.ID == id {
			return f, true
		}
	}
	return Fault{}, false
}

// ParseFaults reads a fault list ("2,3,9", "1-4,9"; empty: every fault the mode has) for
// mode; the result is in the faults' order, each once. In vm mode fault 6 is Fault6DM.
func ParseFaults(list, mode string) ([]Fault, error) {
	var ids []int
	if strings.TrimSpace(list) == "" {
		for _, f := range Faults {
			if !f.VMOnly || mode == "vm" {
				ids = append(ids, f.ID)
			}
		}
	}
	for _, part := range strings.Split(list, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(strings.TrimSpace(lo))
		if err != nil {
			return nil, fmt.Errorf("fault list %q: %q is not a fault number", list, part)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(strings.TrimSpace(hi)); err != nil || b < a {
				return nil, fmt.Errorf("fault list %q: bad range %q", list, part)
			}
		}
		for id := a; id <= b; id++ {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	var fs []Fault
	for _, id := range ids {
		f, ok := FaultByID(id)
		if !ok {
			return nil, fmt.Errorf("no fault %d (1-%d)", id, len(Faults))
		}
		if f.VMOnly && mode != "vm" {
			return nil, fmt.Errorf("fault %d (%s) needs vm mode (DRBD)", f.ID, f.Title)
		}
		if f.ID == Fault6DM.ID && mode == "vm" {
			f = Fault6DM
		}
		fs = append(fs, f)
	}
	if len(fs) == 0 {
		return nil, fmt.Errorf("fault list %q names no fault", list)
	}
	return fs, nil
}

// FaultStackNames are the stacks compared, in the table's order.
var FaultStackNames = []string{"gocf", "shell", "hb1"}

// ParseStacks reads a comma-separated list of stack names (empty: all).
func ParseStacks(list string) ([]string, error) {
	if strings.TrimSpace(list) == "" {
		return slices.Clone(FaultStackNames), nil
	}
	var out []string
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if !slices.Contains(FaultStackNames, s) {
			return nil, fmt.Errorf("no stack %q (want %s)", s, strings.Join(FaultStackNames, ", "))
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// FaultStack is one PBX configuration measured.
type FaultStack struct {
	Name  string // gocf, shell, hb1
	Title string // the table's column heading
	// CRM is the crm shell configuration; @FSDEV@ is replaced by the file system's device.
	CRM string
	// Drain: the asterisk agent has call_drain_timeout (gocf), set for the planned move.
	Drain bool
}

// StackTitle is a stack's column heading.
func StackTitle(name string) string {
	switch name {
	case "gocf":
		return "gocf (crm-examples as shipped)"
	case "shell":
		return "shell agents (resource-agents, same monitors)"
	case "hb1":
		return "Heartbeat-1 style (shell agents, no monitors)"
	}
	return name
}

// GocfExample is the crm example the gocf stack runs in mode: pbx-drbd.crm (vm) or
// pbx-shared.crm (ns), read from the repository's crm-examples.
func GocfExample(mode string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	name := "pbx-shared.crm"
	if mode == "vm" {
		name = "pbx-drbd.crm"
	}
	data, err := os.ReadFile(filepath.Join(root, "crm-examples", name))
	return string(data), err
}

// NewFaultStack returns the stack called name for mode; gocfCRM is the gocf stack's
// configuration (GocfExample), from which the others take the cluster-wide part (fencing,
// defaults, properties).
func NewFaultStack(name, mode, gocfCRM string) (FaultStack, error) {
	st := FaultStack{Name: name, Title: StackTitle(name)}
	switch name {
	case "gocf":
		st.CRM, st.Drain = gocfCRM, true
	case "shell", "hb1":
		st.CRM = ShellPBX(mode, name == "shell") + clusterPart(gocfCRM)
	default:
		return st, fmt.Errorf("no stack %q", name)
	}
	return st, nil
}

// ShellPBX is the PBX of crm-examples/pbx-*.crm built of resource-agents' shell agents
// (Filesystem, IPaddr2, asterisk with monitor_sipuri; ocf:linbit:drbd in vm mode) with the
// same resource IDs, operations and intervals; without monitors (Heartbeat 1 style), only
// starts and stops. ocf:heartbeat:asterisk wants a 200 from sipsak, which Asterisk gives an
// OPTIONS without a user part (gocf's monitor URI names a user and takes the 404).
func ShellPBX(mode string, monitors bool) string {
	prim := func(id, agent, params string, ops ...string) string {
		var sb strings.Builder
		fmt.Fprintf(&sb, "primitive %s %s \\\n\tparams %s", id, agent, params)
		for _, o := range ops {
			if !monitors && strings.HasPrefix(o, "monitor") {
				continue
			}
			sb.WriteString(" \\\n\top " + o)
		}
		return sb.String() + "\n"
	}
	var sb strings.Builder
	if mode == "vm" {
		sb.WriteString(prim(pbxDRBD, "ocf:linbit:drbd", "drbd_resource=r0",
			"start timeout=240s interval=0s", "stop timeout=100s interval=0s",
			"promote timeout=90s interval=0s", "demote timeout=90s interval=0s",
			"monitor timeout=20s interval=29s role=Promoted", "monitor timeout=20s interval=31s role=Unpromoted"))
		sb.WriteString("clone pbx-drbd-clone " + pbxDRBD + " \\\n\tmeta promotable=true promoted-max=1 promoted-node-max=1 clone-max=2 clone-node-max=1 notify=true priority=10\n")
	}
	sb.WriteString(prim(pbxFS, "ocf:heartbeat:Filesystem", "device=@FSDEV@ directory=/replica fstype=ext4",
		"start timeout=60s interval=0s", "stop timeout=60s interval=0s",
		"monitor timeout=40s interval=20s", "monitor timeout=40s interval=60s OCF_CHECK_LEVEL=20"))
	sb.WriteString(prim(pbxVIP, "ocf:heartbeat:IPaddr2", "ip="+VIP+" cidr_netmask=24 nic="+NodeIface,
		"monitor timeout=20s interval=10s"))
	sb.WriteString(prim(pbxAst, "ocf:heartbeat:asterisk", `user=asterisk group=asterisk monitor_sipuri="sip:`+VIP+`:5060"`,
		"start timeout=60s interval=0s", "stop timeout=60s interval=0s",
		"monitor timeout=30s interval=10s", "monitor timeout=30s interval=30s OCF_CHECK_LEVEL=20"))
	sb.WriteString("group " + pbxGroup + " " + pbxFS + " " + pbxVIP + " " + pbxAst + " \\\n\tmeta priority=10\n")
	if mode == "vm" {
		sb.WriteString("colocation pbx-on-drbd-primary inf: pbx pbx-drbd-clone:Promoted\n")
		sb.WriteString("order pbx-after-drbd-promotion Mandatory: pbx-drbd-clone:promote pbx:start\n")
	}
	return sb.String()
}

// clusterPart keeps of a crm configuration what is not the PBX: the fence device, resource
// defaults and properties (statements starting with primitive fence-, rsc_defaults,
// property), so that every stack has the same cluster around it.
func clusterPart(crm string) string {
	var sb strings.Builder
	for _, st := range crmStatements(crm) {
		f := strings.Fields(st)
		if len(f) < 2 {
			continue
		}
		if f[0] == "primitive" && strings.HasPrefix(f[1], "fence-") || f[0] == "rsc_defaults" || f[0] == "property" {
			sb.WriteString(st + "\n")
		}
	}
	return sb.String()
}

// crmStatements splits a crm shell configuration into statements (continuation lines
// joined, comments dropped), each as written, continuations kept.
func crmStatements(crm string) []string {
	var out []string
	var cur strings.Builder
	for _, l := range strings.Split(crm, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "#") || strings.TrimSpace(l) == "" && cur.Len() == 0 {
			continue
		}
		if cur.Len() > 0 {
			cur.WriteString("\n")
		}
		cur.WriteString(l)
		if !strings.HasSuffix(strings.TrimRight(l, " \t"), "\\") {
			if s := strings.TrimSpace(cur.String()); s != "" {
				out = append(out, cur.String())
			}
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, cur.String())
	}
	return out
}

var (
	opRe       = regexp.MustCompile(`\bop\s+monitor\b([^\\\n]*)`)
	intervalRe = regexp.MustCompile(`\binterval=(\d+)(ms|s|m)?\b`)
	levelRe    = regexp.MustCompile(`\bOCF_CHECK_LEVEL=(\d+)\b`)
	drainRe    = regexp.MustCompile(`\bcall_drain_timeout=(\d+)\b`)
)

// MonitorDepths maps "resource/interval in ms" of every monitor in a crm configuration to its
// OCF_CHECK_LEVEL (0 when not given).
func MonitorDepths(crm string) map[string]int {
	m := map[string]int{}
	for _, st := range crmStatements(crm) {
		f := strings.Fields(st)
		if len(f) < 2 || f[0] != "primitive" {
			continue
		}
		for _, op := range opRe.FindAllStringSubmatch(st, -1) {
			iv := intervalRe.FindStringSubmatch(op[1])
			if iv == nil {
				continue
			}
			n, _ := strconv.Atoi(iv[1])
			switch iv[2] {
			case "", "s":
				n *= 1000
			case "m":
				n *= 60000
			}
			depth := 0
			if l := levelRe.FindStringSubmatch(op[1]); l != nil {
				depth, _ = strconv.Atoi(l[1])
			}
			m[fmt.Sprintf("%s/%d", f[1], n)] = depth
		}
	}
	return m
}

// shippedDrain is the call_drain_timeout a crm configuration gives Asterisk ("" for none).
func shippedDrain(crm string) string {
	if m := drainRe.FindStringSubmatch(crm); m != nil {
		return m[1]
	}
	return ""
}
