package testbed

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// DRBDResource is the DRBD resource r0 on the VMs' second disk, replicating over the ring,
// with fencing as crm-examples/r0.res has it: resource-and-stonith and the fence-peer handler
// named by handler ("linbit": drbd-utils' scripts; else gocf's), in DRBD 8.4's syntax or, with
// drbd9, DRBD 9's (fencing in net, unfence-peer instead of after-resync-target).
func DRBDResource(nodes []string, handler string, drbd9 bool) string {
	return DRBDResourceOn(nodes, handler, drbd9, DRBDDisk)
}

// DRBDResourceOn is DRBDResource with disk as the backing disk (DRBDDisk, or the fault
// harness's device-mapper mapping over it, DMBackingDev). On-io-error is not set: DRBD's
// default (8.4 and 9) is detach.
func DRBDResourceOn(nodes []string, handler string, drbd9 bool, disk string) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "resource r0 {\n  protocol C;\n  device /dev/drbd0;\n  disk %s;\n  meta-disk internal;\n", disk)
	// Two Primaries apart (a cut-off node that has not stopped yet, a survivor promoted) both
	// start a new data generation; on reconnect the one that is no longer Primary gives way.
	// Fencing keeps that from happening; these stay as the examples' safety net.
	afterSB := "after-sb-0pri discard-zero-changes; after-sb-1pri discard-secondary; after-sb-2pri disconnect;"
	fence, unfence := FencePeerHandlers(handler, drbd9)
	if drbd9 {
		sb.WriteString("  disk { c-plan-ahead 0; resync-rate 100M; }\n")
		sb.WriteString("  options { auto-promote no; }\n")
		fmt.Fprintf(&sb, "  net { fencing resource-and-stonith; %s }\n", afterSB)
		fmt.Fprintf(&sb, "  handlers { fence-peer \"%s\"; unfence-peer \"%s\"; }\n", fence, unfence)
		for i, n := range nodes {
			fmt.Fprintf(&sb, "  on %s { node-id %d; address %s:7789; }\n", n, i, RingIP(n))
		}
	} else {
		sb.WriteString("  disk { c-plan-ahead 0; resync-rate 100M; fencing resource-and-stonith; }\n")
		fmt.Fprintf(&sb, "  net { %s }\n", afterSB)
		fmt.Fprintf(&sb, "  handlers { fence-peer \"%s\"; after-resync-target \"%s\"; }\n", fence, unfence)
		for _, n := range nodes {
			fmt.Fprintf(&sb, "  on %s { address %s:7789; }\n", n, RingIP(n))
		}
	}
	sb.WriteString("}\n")
	return sb.String()
}

// DRBDQuorumResource is r0 on three VMs as crm-examples/r0-quorum.res has it: the first two
// nodes with disks, the third a diskless tiebreaker, DRBD 9's quorum (majority, on-no-quorum
// io-error: LINBIT's advice with Pacemaker) instead of a fencing policy, a full mesh over the
// ring.
func DRBDQuorumResource(nodes []string) string {
	var sb strings.Builder
	sb.WriteString("resource r0 {\n  device /dev/drbd0;\n  disk /dev/vdb;\n  meta-disk internal;\n")
	sb.WriteString("  disk { c-plan-ahead 0; resync-rate 100M; }\n")
	sb.WriteString("  options { auto-promote no; quorum majority; on-no-quorum io-error; }\n")
	sb.WriteString("  net { protocol C; after-sb-0pri discard-zero-changes; after-sb-1pri discard-secondary; after-sb-2pri disconnect; }\n")
	for i, n := range nodes {
		fmt.Fprintf(&sb, "  on %s { node-id %d; address %s:7789;", n, i, RingIP(n))
		if i == 2 {
			sb.WriteString(" disk none;")
		}
		sb.WriteString(" }\n")
	}
	fmt.Fprintf(&sb, "  connection-mesh { hosts %s; }\n}\n", strings.Join(nodes, " "))
	return sb.String()
}

// FencePeerHandlers returns the fence-peer and unfence commands (DRBD 8.4: after-resync-target)
// of gocf's handler or, for "linbit", of drbd-utils' scripts.
func FencePeerHandlers(handler string, drbd9 bool) (fence, unfence string) {
	switch {
	case handler == "linbit" && drbd9:
		return "/usr/lib/drbd/crm-fence-peer.9.sh", "/usr/lib/drbd/crm-unfence-peer.9.sh"
	case handler == "linbit":
		return "/usr/lib/drbd/crm-fence-peer.sh", "/usr/lib/drbd/crm-unfence-peer.sh"
	}
	return "/usr/lib/gocf/drbd-fence fence-peer", "/usr/lib/gocf/drbd-fence unfence-peer"
}

// fencePeerName names the bed's DRBD fence-peer handler.
func (b *Bed) fencePeerName() string {
	if b.st.FencePeer == "linbit" {
		return "LINBIT's crm-fence-peer.sh"
	}
	return "gocf's drbd-fence"
}

// DRBDInit configures r0 on every node, connects it, makes the first node primary and makes an
// ext4 file system on it. The first node stays primary. The backing disks are new (all
// zeroes on both sides), so the initial sync is skipped (new-current-uuid --clear-bitmap).
func (b *Bed) DRBDInit() error {
	res := DRBDResourceOn(b.st.Nodes, b.st.FencePeer, IsDRBD9(b.DRBD()), b.drbdDisk())
	if len(b.st.Nodes) == 3 {
		if !IsDRBD9(b.DRBD()) {
			return errors.New("three VMs share r0 with DRBD 9 only (a diskless tiebreaker and quorum): up --drbd 9.2")
		}
		if b.st.DMBacking {
			return errors.New("the device-mapper backing disk (Config.DMBacking) is for two VMs only")
		}
		res = DRBDQuorumResource(b.st.Nodes)
	}
	for i, n := range b.st.Nodes {
		md := "drbdadm create-md --force r0 </dev/null >/dev/null 2>&1 && "
		if i == 2 {
			md = "" // the diskless tiebreaker
		}
		if _, err := b.Exec(n, 60*time.Second, []byte(res), "/bin/bash", "-c",
			"modprobe drbd && cat > /etc/drbd.d/r0.res && "+md+"drbdadm up r0 && sync"); err != nil {
			return err
		}
	}
	first := b.st.Nodes[0]
	wait := func(what string, primary bool, timeout time.Duration) error {
		var last string
		if !Poll(timeout, 500*time.Millisecond, func() bool {
			out, err := b.Sh(first, 30*time.Second, `echo "$(drbdadm cstate r0 | xargs)|$(drbdadm dstate r0 | xargs)|$(drbdadm role r0 | xargs)"`)
			last = strings.TrimSpace(out)
			if err != nil {
				return false
			}
			if what == "connect" {
				cs := strings.Fields(strings.Split(last, "|")[0])
				return len(cs) == len(b.st.Nodes)-1 && !slices.ContainsFunc(cs, func(c string) bool { return c != "Connected" })
			}
			return drbdSynced(last, primary)
		}) {
			return fmt.Errorf("DRBD %s on %s: %q", what, first, last)
		}
		return nil
	}
	if err := wait("connect", false, 120*time.Second); err != nil {
		return err
	}
	if _, err := b.Exec(first, 60*time.Second, nil, "drbdadm", "new-current-uuid", "--clear-bitmap", "r0"); err != nil {
		return err
	}
	if err := wait("sync", false, 120*time.Second); err != nil {
		return err
	}
	if _, err := b.Exec(first, 60*time.Second, nil, "drbdadm", "primary", "r0"); err != nil {
		return err
	}
	_, err := b.Exec(first, 120*time.Second, nil, "mkfs.ext4", "-q", "-F", "/dev/drbd0")
	return err
}

// DRBDHandOver demotes r0 and takes it down on every node, so that
// Pacemaker's DRBD agent finds it as a cluster would at start: configured,
// initialised, UpToDate on both sides, not running.
func (b *Bed) DRBDHandOver() error {
	if out, err := b.Exec(b.st.Nodes[0], time.Minute, nil, "drbdadm", "secondary", "r0"); err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	for _, n := range b.st.Nodes {
		if out, err := b.Exec(n, time.Minute, nil, "drbdadm", "down", "r0"); err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
	}
	return nil
}

// BaselineRun is one failover measurement.
type BaselineRun struct {
	Active string
	VIP    time.Duration // power-off to first ping answer on the VIP
	SIP    time.Duration // power-off to first SIP OPTIONS answer on the VIP
	// Detect: power-off to the survivor's corosync forming the membership without the node
	// (0 when unknown).
	Detect time.Duration
	WasDC  bool // the powered-off node was the DC: the survivors elect a new one first
	Ops    []AgentOp
}

func (r BaselineRun) node() string {
	if r.WasDC {
		return r.Active + " (DC)"
	}
	return r.Active
}

// BaselineResult is a series of runs.
type BaselineResult struct {
	Mode, Accel string
	Nodes       int
	TokenMS     int
	UpTime      time.Duration
	Runs        []BaselineRun
	Stack       string
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Markdown renders the result as a table with the command that produced it.
func (r *BaselineResult) Markdown(command string) string {
	var sb strings.Builder
	var vips, sips []time.Duration
	fmt.Fprintf(&sb, "\n### %s mode: %s\n\n", r.Mode, r.Stack)
	fencing := "no fencing"
	if r.Mode == "ns" {
		fencing = "fencing by the bed's power switch (fence_testbed; a powered-off node is confirmed off at once)"
	}
	fmt.Fprintf(&sb, "%s, %d nodes, corosync token %d ms, %s, accel %s, %d cores; cluster up in %.1f s.\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), r.Nodes, r.TokenMS, fencing, r.Accel, runtime.NumCPU(), r.UpTime.Seconds())
	fmt.Fprintf(&sb, "Command: `%s` (as root).\n\n", command)
	var dets, avs, ass []time.Duration
	sb.WriteString("| run | active node powered off | corosync membership without it (s) | VIP answers ping (s) | SIP OPTIONS answered on VIP (s) | VIP after membership (s) | SIP after membership (s) |\n|---|---|---|---|---|---|---|\n")
	secs := func(d time.Duration, known bool) string {
		if !known {
			return "–"
		}
		return fmt.Sprintf("%.2f", d.Seconds())
	}
	for i, x := range r.Runs {
		known := x.Detect != 0 // the survivor's logs could not be read
		fmt.Fprintf(&sb, "| %d | %s | %s | %.2f | %.2f | %s | %s |\n", i+1, x.node(), secs(x.Detect, known), x.VIP.Seconds(), x.SIP.Seconds(),
			secs(x.VIP-x.Detect, known), secs(x.SIP-x.Detect, known))
		vips, sips = append(vips, x.VIP), append(sips, x.SIP)
		if known {
			dets, avs, ass = append(dets, x.Detect), append(avs, x.VIP-x.Detect), append(ass, x.SIP-x.Detect)
		}
	}
	fmt.Fprintf(&sb, "| **median** (%d runs) | | **%s** | **%.2f** | **%.2f** | **%s** | **%s** |\n", len(r.Runs),
		secs(median(dets), len(dets) > 0), median(vips).Seconds(), median(sips).Seconds(), secs(median(avs), len(avs) > 0), secs(median(ass), len(ass) > 0))
	if r.Mode == "vm" {
		sb.WriteString("\nIn the VMs the membership time is read on the survivor's clock, set against the host's with one `date` " +
			"through the bed's command channel (uncertain by half its round trip).\n")
	}
	sb.WriteString("\nThe survivor's agent actions after the new membership (pacemaker-execd's execution times in s; " +
		"when each ended, in s after the membership):\n\n")
	for i, x := range r.Runs {
		fmt.Fprintf(&sb, "%d. %s\n", i+1, opsSummary(x.Ops))
	}
	return sb.String()
}

// Stack replaces the resource configuration of Baseline, so that another stack (the gocf
// agents) is measured in the same harness.
type Stack struct {
	Name string // for the table heading
	// CRM is a crm shell configuration (loaded with `crm configure load update`); these words
	// are replaced: @FSDEV@ (shared block device: loop device in ns mode, /dev/drbd0 in vm
	// mode), @VIP@, @IFACE@. DRBD r0 is set up (and down again, for Pacemaker) in vm mode.
	CRM string
	// Watch is the resource whose node is the active node (the last of the group).
	Watch string
}

// Baseline brings up a bed with the shell-agent stack (or st, if not nil), measures `runs`
// failovers after a power-off of the active node, and tears the bed down.
func Baseline(cfg Config, runs int, st *Stack) (res *BaselineResult, err error) {
	cfg.defaults()
	cfg.Asterisk = true
	cfg.SharedDisk = cfg.Mode == "ns"
	b, err := newIdle(cfg)
	if err != nil {
		return nil, err
	}
	defer func() {
		if derr := b.Down(); derr != nil && err == nil {
			err = derr
		}
	}()
	t0 := time.Now()
	if err := b.Up(); err != nil {
		return nil, err
	}
	res = &BaselineResult{Mode: cfg.Mode, Nodes: len(b.st.Nodes), TokenMS: b.st.TokenMS, UpTime: time.Since(t0), Accel: "native (namespaces)"}
	fsDev, timeout := b.st.Loop, 90*time.Second
	crm := ""
	if cfg.Mode == "vm" {
		res.Accel = Accel()
		timeout = 600 * time.Second
		if err := b.DRBDInit(); err != nil {
			return nil, err
		}
		if err := b.DRBDHandOver(); err != nil {
			return nil, err
		}
		fsDev = "/dev/drbd0"
		crm = `primitive p_drbd ocf:linbit:drbd params drbd_resource=r0 op monitor interval=29s role=Promoted timeout=60s op monitor interval=31s role=Unpromoted timeout=60s op start timeout=240s op stop timeout=100s
clone ms_drbd p_drbd meta promotable=true promoted-max=1 promoted-node-max=1 clone-max=2 clone-node-max=1 notify=true
colocation c_base_with_drbd inf: g_base ms_drbd:Promoted
order o_drbd_then_base Mandatory: ms_drbd:promote g_base:start
`
		res.Stack = "ocf:linbit:drbd (promotable) + group Filesystem + IPaddr2 + asterisk"
	} else {
		res.Stack = "group Filesystem (ext4 on a shared loop device) + IPaddr2 + asterisk"
	}
	// monitor timeouts are generous: under TCG on a busy host a fork costs ~65 ms
	crm = fmt.Sprintf(`primitive p_fs ocf:heartbeat:Filesystem params device=%s directory=/srv/gtb fstype=ext4 op monitor interval=10s timeout=60s op start timeout=60s op stop timeout=60s
primitive p_vip ocf:heartbeat:IPaddr2 params ip=%s cidr_netmask=24 nic=%s op monitor interval=10s timeout=60s
primitive p_ast ocf:heartbeat:asterisk params user=asterisk group=asterisk op monitor interval=10s timeout=60s op start timeout=120s
group g_base p_fs p_vip p_ast
rsc_defaults rsc-options: resource-stickiness=100
`, fsDev, VIP, NodeIface) + crm
	watch := "p_ast"
	if st != nil {
		res.Stack, watch = st.Name, st.Watch
		crm = strings.NewReplacer("@FSDEV@", fsDev, "@VIP@", VIP, "@IFACE@", NodeIface).Replace(st.CRM)
	}
	if err := b.CrmLoad(b.st.Nodes[0], crm); err != nil {
		return res, err
	}
	ping := NewProber(b.PingProbe(), 100*time.Millisecond, time.Second, time.Hour)
	sip := NewProber(b.SIPProbe(), 100*time.Millisecond, time.Second, time.Hour)
	for i := 0; i < runs; i++ {
		active, err := b.WaitResource(timeout, watch)
		if err != nil {
			return res, err
		}
		if err := b.WaitSettled(active, timeout); err != nil {
			return res, fmt.Errorf("run %d: %w", i+1, err)
		}
		if cfg.Mode == "vm" {
			if err := b.WaitDRBDSynced(active, timeout, 5*time.Minute); err != nil {
				return res, fmt.Errorf("run %d: %w", i+1, err)
			}
		}
		if !Poll(timeout, 200*time.Millisecond, sip.Once) {
			return res, fmt.Errorf("run %d: SIP on the VIP does not answer before the fault", i+1)
		}
		wasDC := false
		if m, err := b.Mon(active); err == nil {
			wasDC = m.Summary.DC.Name == active
		}
		ping.Start()
		sip.Start()
		time.Sleep(time.Second)
		if err := b.PowerOff(active); err != nil {
			return res, err
		}
		tf := b.LastFault()
		var r BaselineRun
		ok := Poll(timeout, 50*time.Millisecond, func() bool {
			v, okv := ping.First(tf)
			s, oks := sip.First(tf)
			r = BaselineRun{Active: active, VIP: v, SIP: s, WasDC: wasDC}
			return okv && oks
		})
		ping.Stop()
		sip.Stop()
		ping = NewProber(b.PingProbe(), 100*time.Millisecond, time.Second, time.Hour)
		sip = NewProber(b.SIPProbe(), 100*time.Millisecond, time.Second, time.Hour)
		if !ok {
			return res, fmt.Errorf("run %d: no failover within %v (ping %v, sip %v)", i+1, timeout, r.VIP, r.SIP)
		}
		if v, err := b.AnyRunning(active); err == nil {
			// the start's log line may follow the first answer by a little
			Poll(timeout/10, time.Second, func() bool {
				var ok bool
				r.Detect, r.Ops, ok = b.timeline(v, tf)
				return ok && slices.ContainsFunc(r.Ops, func(o AgentOp) bool { return o.Rsc == watch && o.Op == "start" })
			})
		}
		res.Runs = append(res.Runs, r)
		b.logf("run %d: %s powered off; VIP %.2fs, SIP %.2fs", i+1, active, r.VIP.Seconds(), r.SIP.Seconds())
		if i == runs-1 {
			break // the bed goes down anyway
		}
		if err := b.Boot(active); err != nil {
			return res, err
		}
	}
	return res, nil
}

// WaitDRBDSynced waits until r0 on the active node is Primary and Connected to every peer,
// UpToDate on both sides (a diskless tiebreaker counts as it is); each check is bounded by cmd.
func (b *Bed) WaitDRBDSynced(active string, timeout, cmd time.Duration) error {
	var last string
	if !Poll(timeout, time.Second, func() bool {
		out, err := b.Sh(active, cmd, `echo "$(drbdadm cstate r0 | xargs)|$(drbdadm dstate r0 | xargs)|$(drbdadm role r0 | xargs)"`)
		last = strings.TrimSpace(out)
		return err == nil && drbdSynced(last, true)
	}) {
		return fmt.Errorf("DRBD on %s did not get back to Primary, Connected and UpToDate with every peer: %q", active, last)
	}
	return nil
}

// drbdSynced reads "CSTATES|DSTATES|ROLE" (drbdadm's outputs, lines joined by blanks; 8.4
// prints "UpToDate/UpToDate" and "Primary/Secondary", 9 a line per peer and the local role
// alone): every connection Connected, the local disk UpToDate, every disk UpToDate or
// intentionally Diskless, and, if primary, the local role Primary.
func drbdSynced(s string, primary bool) bool {
	f := strings.Split(s, "|")
	if len(f) != 3 {
		return false
	}
	cs, ds := strings.Fields(f[0]), strings.FieldsFunc(f[1], func(r rune) bool { return r == '/' || r == ' ' })
	if len(cs) == 0 || len(ds) < 2 || ds[0] != "UpToDate" {
		return false
	}
	for _, c := range cs {
		if c != "Connected" {
			return false
		}
	}
	for _, d := range ds {
		if d != "UpToDate" && d != "Diskless" {
			return false
		}
	}
	return !primary || strings.HasPrefix(f[2], "Primary")
}

// WaitSettled waits until Pacemaker has nothing left to do (crm_resource
// --wait): a node that just joined has started its clone instances, so a
// fault does not hit a cluster still busy with the last one.
func (b *Bed) WaitSettled(n string, timeout time.Duration) error {
	secs := strconv.Itoa(int(timeout.Seconds()))
	if out, err := b.Exec(n, timeout+time.Minute, nil, "crm_resource", "--wait", "--timeout", secs+"s"); err != nil {
		return fmt.Errorf("cluster not settled: %v: %s", err, out)
	}
	return nil
}

// CrmLoad loads a crm shell configuration (update) on node n. In ns mode the examples'
// fence-sbd device gives way to the bed's fence-bed (WithBedFencing); in vm mode it stays,
// on the bed's shared SBD disk (WithVMFencing).
func (b *Bed) CrmLoad(n, config string) error {
	switch {
	case b.st.Mode == "ns" && b.st.Fencer != nil:
		config = WithBedFencing(config)
	case b.st.Mode == "vm":
		config = WithVMFencing(config)
	}
	out, err := b.Exec(n, 120*time.Second, []byte(config), "/bin/bash", "-c",
		"cat > /tmp/gtb.crm && crm -F configure load update /tmp/gtb.crm")
	if err != nil {
		return fmt.Errorf("crm configure load: %v: %s", err, out)
	}
	return nil
}
