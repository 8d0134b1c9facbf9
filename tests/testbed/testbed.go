// Package testbed brings up small Pacemaker/Corosync clusters for gocf's tests: namespace nodes
// (ns mode) or qemu VMs (vm mode), all made from one cached Debian trixie image, on a private
// bridge with a client namespace, and injects faults (power-off, cable pull, clean shutdown).
//
// Everything it creates is named with the prefix "gtb"; its state (PIDs with their start times)
// lives in StateDir so that a later process (the CLI) can drive or tear down the same bed.
package testbed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Addresses (RFC 5737 TEST-NET-2 on the LAN, TEST-NET-3 on the ring) used on the test bed's
// own bridges.
const (
	Subnet    = "198.51.100.0/24"
	ClientIP  = "198.51.100.2"
	VIP       = "198.51.100.100"
	NodeIface = "eth0" // the node's interface on the LAN bridge, in both modes
	// The ring: a dedicated network between the nodes only (DRBD, corosync's first link).
	RingSubnet = "203.0.113.0/24"
	RingIface  = "eth1"
)

// Names of what the bed creates.
const (
	SwitchNS   = "gtb-sw"     // network namespace holding the bridge (nothing is added to the host's)
	ClientNS   = "gtb-client" // observer namespace on the bridge
	Bridge     = "gtbbr0"     // the LAN
	RingBridge = "gtbbr1"     // the ring
)

// Defaults for Config.
const (
	DefaultStateDir = "/run/gocf-testbed"
	DefaultDataDir  = "/var/tmp/gocf-testbed"
	DefaultCacheDir = "/var/cache/gocf/testbed"
)

// Config says what to bring up.
type Config struct {
	Mode      string // "ns" or "vm"
	Nodes     int    // 2 or 3 (default: ns 3, vm 2; vm 3: the third is DRBD's diskless tiebreaker)
	TokenMS   int    // corosync token, default 1000
	AgentsDir string // gocf agents copied to /usr/lib/ocf/resource.d/gocf ("" = none)
	StateDir  string
	DataDir   string
	CacheDir  string
	// FencePeer is DRBD's fence-peer handler in vm mode: "gocf" (the default) or "linbit".
	FencePeer string
	// DRBD is the DRBD of the VMs (vm mode): "8.4" (default, the kernel's in-tree module), or
	// "9.2", "9.3" (or an exact "9.2.18"): LINBIT's module built from ../shared/drbd9 for the
	// image's kernel (EnsureDRBDModule). Without the sources the bed says so and uses 8.4,
	// unless DRBDRequired (or GOCF_CHECK) makes that an error.
	DRBD         string
	DRBDRequired bool
	// DMBacking (vm mode, two nodes; the fault harness only: RunFaults): DRBD's backing disk
	// is the device-mapper mapping DMBackingDev, dm-linear over the VM's /dev/vdb, made at
	// every boot of a VM before its cluster starts, so that fault 6 can swap its table to
	// error. Off (the default), r0 is on /dev/vdb itself.
	DMBacking bool
	// Asterisk writes a minimal Asterisk config whose SIP transport binds the VIP.
	Asterisk bool
	// SharedDisk makes a loop device with an ext4 file system visible in every ns node.
	SharedDisk bool
	// QDevice replaces two_node with a quorum device: corosync-qnetd in the client namespace
	// (a third site), corosync-qdevice on every node, algorithm ffsplit.
	QDevice bool
	Log     io.Writer
}

func (c *Config) defaults() {
	if c.Mode == "" {
		c.Mode = "ns"
	}
	if c.Nodes == 0 {
		if c.Mode == "vm" {
			c.Nodes = 2
		} else {
			c.Nodes = 3
		}
	}
	if c.TokenMS == 0 {
		c.TokenMS = 1000
	}
	if c.StateDir == "" {
		c.StateDir = DefaultStateDir
	}
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.CacheDir == "" {
		c.CacheDir = DefaultCacheDir
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	if c.DRBD == "" {
		c.DRBD = DefaultDRBD
	}
}

// Proc identifies a process the bed started: PID plus its start time (clock ticks since boot,
// /proc/PID/stat field 22), so that a recycled PID is never signalled.
type Proc struct {
	PID   int    `json:"pid"`
	Start uint64 `json:"start"`
}

// State is persisted as JSON in StateDir/state.json.
type State struct {
	Mode     string          `json:"mode"`
	Nodes    []string        `json:"nodes"`
	TokenMS  int             `json:"token_ms"`
	ImageDir string          `json:"image_dir"`
	DataDir  string          `json:"data_dir"`
	Loop     string          `json:"loop,omitempty"`
	Outer    map[string]Proc `json:"outer"` // ns: the unshare process; vm: qemu
	Init     map[string]Proc `json:"init"`  // ns: PID 1 of the node's PID namespace
	Agents   string          `json:"agents,omitempty"`
	Asterisk bool            `json:"asterisk,omitempty"`
	QNetd    *Proc           `json:"qnetd,omitempty"`
	Fencer   *Proc           `json:"fencer,omitempty"` // ns: fence_testbed serve, the power switch
	// FencePeer: DRBD's fence-peer handler (vm): "gocf" or "linbit"
	FencePeer string `json:"fence_peer,omitempty"`

	// DRBD is the DRBD version of the VMs; DRBDModules the cached LINBIT module (9.x only)
	DRBD        string `json:"drbd,omitempty"`
	DRBDModules string `json:"drbd_modules,omitempty"`
	// DMBacking: DRBD's backing disk is DMBackingDev (Config.DMBacking), made at each boot
	DMBacking bool `json:"dm_backing,omitempty"`
}

// Bed is a test bed, up or down.
type Bed struct {
	stTime     time.Time // modification time of the state file last read or written
	fault      time.Time
	poweredOff map[string]bool // by PowerOff or Shutdown, until Boot
	cfg        Config
	st         State
	image      *Image
}

// New returns a Bed for cfg; it loads an existing state from cfg.StateDir if there is one.
func New(cfg Config) (*Bed, error) {
	cfg.defaults()
	b := &Bed{cfg: cfg}
	data, err := os.ReadFile(b.statePath())
	if err == nil {
		if err := json.Unmarshal(data, &b.st); err != nil {
			return nil, fmt.Errorf("state %s: %w", b.statePath(), err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return b, nil
}

// newIdle is New for the commands that bring up and take down their own bed:
// a bed already up belongs to someone else and is left alone.
func newIdle(cfg Config) (*Bed, error) {
	b, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if b.st.Mode != "" {
		return nil, errors.New("a test bed is up: run down first")
	}
	return b, nil
}

func (b *Bed) statePath() string { return filepath.Join(b.cfg.StateDir, "state.json") }

func (b *Bed) save() error {
	if err := os.MkdirAll(b.cfg.StateDir, 0o755); err != nil {
		return err
	}
	data, err := json.MarshalIndent(&b.st, "", "  ")
	if err != nil {
		return err
	}
	tmp := b.statePath() + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, b.statePath()); err != nil {
		return err
	}
	if fi, err := os.Stat(b.statePath()); err == nil {
		b.stTime = fi.ModTime()
	}
	return nil
}

// refresh reads the state again when another process (the power switch, which boots a
// fenced node) has written it since.
func (b *Bed) refresh() {
	fi, err := os.Stat(b.statePath())
	if err != nil || fi.ModTime().Equal(b.stTime) || b.st.Mode == "" {
		return
	}
	data, err := os.ReadFile(b.statePath())
	if err != nil {
		return
	}
	var st State
	if json.Unmarshal(data, &st) != nil || st.Mode != b.st.Mode {
		return
	}
	b.st, b.stTime = st, fi.ModTime()
}

// State returns a copy of the current state.
func (b *Bed) State() State { return b.st }

// Nodes returns the node names (n1, n2, ...).
func (b *Bed) Nodes() []string { return append([]string(nil), b.st.Nodes...) }

// Mode returns "ns" or "vm" ("" when down).
func (b *Bed) Mode() string { return b.st.Mode }

func (b *Bed) logf(format string, args ...any) {
	fmt.Fprintf(b.cfg.Log, "[gtb %s] %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// NodeName normalises "1", "n1" and "gtb-n1" to "n1" and checks it is a node of the bed.
func (b *Bed) NodeName(s string) (string, error) {
	s = strings.TrimPrefix(s, "gtb-")
	if _, err := strconv.Atoi(s); err == nil {
		s = "n" + s
	}
	for _, n := range b.st.Nodes {
		if n == s {
			return s, nil
		}
	}
	return "", fmt.Errorf("no node %q (nodes: %v)", s, b.st.Nodes)
}

func nodeIndex(n string) int { i, _ := strconv.Atoi(strings.TrimPrefix(n, "n")); return i }

// NodeIP is the node's fixed address on the bridge.
func NodeIP(n string) string { return fmt.Sprintf("198.51.100.%d", 10+nodeIndex(n)) }

// RingIP is the node's fixed address on the ring (203.0.113.11-13: .9 and .10 appear in unit
// tests and docs).
func RingIP(n string) string { return fmt.Sprintf("203.0.113.%d", 10+nodeIndex(n)) }

func nodeNS(n string) string { return "gtb-" + n }

// run executes argv with a time limit and returns its combined output.
func run(timeout time.Duration, argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.WaitDelay = 2 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("timed out after %v", timeout)
		}
		return string(out), fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// procStart reads the start time of pid; ok is false when there is no such process.
func procStart(pid int) (uint64, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 || f[0] == "Z" {
		return 0, false
	}
	v, err := strconv.ParseUint(f[19], 10, 64)
	return v, err == nil
}

func newProc(pid int) Proc { st, _ := procStart(pid); return Proc{PID: pid, Start: st} }

// Alive reports whether p is still the process that was recorded.
func (p Proc) Alive() bool {
	if p.PID <= 0 {
		return false
	}
	st, ok := procStart(p.PID)
	return ok && st == p.Start
}

// Signal sends sig to p if it is still the recorded process.
func (p Proc) Signal(sig int) {
	if p.Alive() {
		_ = killPID(p.PID, sig)
	}
}

// waitGone waits up to d until none of procs is alive.
func waitGone(d time.Duration, procs ...Proc) bool {
	deadline := time.Now().Add(d)
	for {
		alive := false
		for _, p := range procs {
			if p.Alive() {
				alive = true
			}
		}
		if !alive {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Poll calls f every interval until it returns true or timeout passes.
func Poll(timeout, interval time.Duration, f func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if f() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(interval)
	}
}

// Up builds (or reuses) the image and brings up the network and all nodes, then waits until
// every node is online in crm_mon.
func (b *Bed) Up() error {
	if b.st.Mode != "" {
		return fmt.Errorf("a test bed (%s mode) is already up: run down first", b.st.Mode)
	}
	if b.cfg.Mode != "ns" && b.cfg.Mode != "vm" {
		return fmt.Errorf("mode %q: want ns or vm", b.cfg.Mode)
	}
	if b.cfg.Nodes < 2 || b.cfg.Nodes > 3 {
		return fmt.Errorf("%d nodes: the bed takes 2 or 3", b.cfg.Nodes)
	}
	img, err := EnsureImage(b.cfg.CacheDir, b.cfg.Log)
	if err != nil {
		return err
	}
	b.image = img
	b.st = State{Mode: b.cfg.Mode, TokenMS: b.cfg.TokenMS, ImageDir: img.Dir, DataDir: b.cfg.DataDir,
		Outer: map[string]Proc{}, Init: map[string]Proc{}, Asterisk: b.cfg.Asterisk, FencePeer: b.cfg.FencePeer,
		DMBacking: b.cfg.DMBacking && b.cfg.Mode == "vm"}
	if err := b.drbdSetup(img); err != nil {
		return err
	}
	if b.cfg.AgentsDir != "" {
		if fi, err := os.Stat(b.cfg.AgentsDir); err == nil && fi.IsDir() {
			b.st.Agents, _ = filepath.Abs(b.cfg.AgentsDir)
		} else {
			b.logf("agents dir %s not found: no gocf agents installed", b.cfg.AgentsDir)
		}
	}
	for i := 1; i <= b.cfg.Nodes; i++ {
		b.st.Nodes = append(b.st.Nodes, fmt.Sprintf("n%d", i))
	}
	if err := safeRemoveAll(b.cfg.DataDir); err != nil {
		return err
	}
	if err := os.MkdirAll(b.cfg.DataDir, 0o755); err != nil {
		return err
	}
	if err := b.save(); err != nil {
		return err
	}
	t0 := time.Now()
	if err := b.netUp(); err != nil {
		return err
	}
	if b.st.Mode == "ns" {
		if err := b.startFencer(); err != nil {
			return err
		}
	}
	if b.cfg.QDevice {
		if err := b.startQNetd(); err != nil {
			return err
		}
	}
	var upErr error
	if b.st.Mode == "ns" {
		upErr = b.nsUp()
	} else {
		upErr = b.vmUp()
	}
	if upErr != nil {
		return upErr
	}
	timeout := 60 * time.Second
	if b.st.Mode == "vm" {
		timeout = 300 * time.Second
	}
	if err := b.WaitOnline(timeout, b.st.Nodes...); err != nil {
		return err
	}
	b.logf("cluster of %d %s nodes online after %.1fs", len(b.st.Nodes), b.st.Mode, time.Since(t0).Seconds())
	return nil
}

// Down stops every node (clean shutdown first, bounded, then SIGKILL), removes namespaces,
// taps, bridge, loop device and data, and checks that nothing is left.
func (b *Bed) Down() error {
	if b.st.Mode == "" {
		// nothing recorded; still remove leftovers named gtb-* (e.g. after a crashed up)
		b.netDown()
		return b.Leftovers()
	}
	b.refresh()
	b.stopFencer() // first: it must not boot a node while the bed goes down
	fast := true
	for _, n := range b.st.Nodes {
		if b.st.Mode == "vm" {
			b.vmKill(n)
		} else {
			b.nsStop(n, fast)
		}
	}
	b.stopQNetd()
	if b.st.Loop != "" {
		if _, err := run(10*time.Second, "losetup", "-d", b.st.Loop); err != nil {
			b.logf("%v", err)
		}
	}
	b.netDown()
	if err := safeRemoveAll(b.st.DataDir); err != nil {
		b.logf("%v", err)
	}
	left := b.Leftovers() // while the state still names the processes
	b.st = State{}
	_ = os.Remove(b.statePath())
	return left
}

// Leftovers lists anything of a test bed still present; nil when clean.
func (b *Bed) Leftovers() error {
	var left []string
	if out, err := run(10*time.Second, "ip", "netns", "list"); err == nil {
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "gtb-") {
				left = append(left, "netns "+strings.Fields(l)[0])
			}
		}
	}
	if out, err := run(10*time.Second, "ip", "-o", "link", "show"); err == nil {
		for _, l := range strings.Split(out, "\n") {
			f := strings.Fields(l)
			if len(f) > 1 && strings.HasPrefix(f[1], "gtb") {
				left = append(left, "link "+strings.TrimSuffix(f[1], ":"))
			}
		}
	}
	if data, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if strings.Contains(l, "gtb") || strings.Contains(l, b.cfg.DataDir) {
				left = append(left, "mount "+l)
			}
		}
	}
	if out, err := run(10*time.Second, "losetup", "-a"); err == nil {
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, b.cfg.DataDir) {
				left = append(left, "loop "+l)
			}
		}
	}
	for _, p := range b.st.Outer {
		if p.Alive() {
			left = append(left, fmt.Sprintf("process %d", p.PID))
		}
	}
	for _, p := range b.st.Init {
		if p.Alive() {
			left = append(left, fmt.Sprintf("process %d", p.PID))
		}
	}
	if p := b.st.QNetd; p != nil && p.Alive() {
		left = append(left, fmt.Sprintf("qnetd process %d", p.PID))
	}
	if p := b.st.Fencer; p != nil && p.Alive() {
		left = append(left, fmt.Sprintf("fence_testbed serve process %d", p.PID))
	}
	if len(left) > 0 {
		return fmt.Errorf("test bed leftovers: %s", strings.Join(left, "; "))
	}
	return nil
}

// Running reports whether node n is powered on.
func (b *Bed) Running(n string) bool {
	b.refresh()
	if b.st.Mode == "vm" {
		return b.st.Outer[n].Alive()
	}
	return b.st.Init[n].Alive()
}

// Exec runs argv on node n (stdin may be nil) with a time limit; it returns stdout+stderr.
func (b *Bed) Exec(n string, timeout time.Duration, stdin []byte, argv ...string) (string, error) {
	if !b.Running(n) {
		if b.st.Mode == "vm" && !b.poweredOff[n] {
			return "", fmt.Errorf("VM %s is not running (not powered off by the bed); its console:\n%s", n, b.consoleTail(n, 25))
		}
		return "", fmt.Errorf("node %s is not running", n)
	}
	if b.st.Mode == "vm" {
		return b.vmExec(n, timeout, stdin, argv...)
	}
	return b.nsExec(n, timeout, stdin, argv...)
}

// Sh runs a shell script on node n.
func (b *Bed) Sh(n string, timeout time.Duration, script string) (string, error) {
	return b.Exec(n, timeout, nil, "/bin/bash", "-c", script)
}

// Crm runs crmsh on node n.
func (b *Bed) Crm(n string, timeout time.Duration, args ...string) (string, error) {
	return b.Exec(n, timeout, nil, append([]string{"crm"}, args...)...)
}

// AnyRunning returns a running node other than those in except.
func (b *Bed) AnyRunning(except ...string) (string, error) {
	for _, n := range b.st.Nodes {
		skip := false
		for _, e := range except {
			skip = skip || e == n
		}
		if !skip && b.Running(n) {
			return n, nil
		}
	}
	return "", errors.New("no running node")
}

// PowerOff is a power loss of node n: its link goes down, all its processes die at once and
// its kernel state (addresses, routes, sockets; the VM) goes with them.
func (b *Bed) PowerOff(n string) error {
	b.markOff(n, true)
	if b.st.Mode == "vm" {
		return b.vmPowerOff(n)
	}
	return b.nsPowerOff(n)
}

func (b *Bed) markOff(n string, off bool) {
	if b.poweredOff == nil {
		b.poweredOff = map[string]bool{}
	}
	b.poweredOff[n] = off
}

// consoleTail is the end of a VM's serial console (why a VM died).
func (b *Bed) consoleTail(n string, lines int) string {
	data, err := os.ReadFile(filepath.Join(b.nodeDir(n), "console.log"))
	if err != nil {
		return err.Error()
	}
	l := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// LastFault is when the last PowerOff or Cable cut the node's link (the instant a failover
// measurement starts from).
func (b *Bed) LastFault() time.Time { return b.fault }

// cut takes the node's ports (LinkLAN, LinkRing or LinkAll) at the bridges down (in vm mode
// the guest's NICs lose carrier too, as with a real cable) and records the time.
func (b *Bed) cut(n, which string) error {
	ls, err := links(which)
	if err != nil {
		return err
	}
	for _, l := range ls {
		if e := ip("-n", SwitchNS, "link", "set", b.port(n, l), "down"); e != nil && err == nil {
			err = e
		}
		if b.st.Mode == "vm" && b.st.Outer[n].Alive() {
			if e := b.vmSetLink(n, l, false); e != nil && err == nil {
				err = e
			}
		}
	}
	b.fault = time.Now()
	return err
}

// Cable pulls (up=false) or plugs (up=true) both of the node's cables at the bridges.
func (b *Bed) Cable(n string, up bool) error { return b.CableLink(n, LinkAll, up) }

// CableLink pulls (up=false) or plugs (up=true) one of the node's cables: LinkLAN (eth0),
// LinkRing (eth1) or LinkAll.
func (b *Bed) CableLink(n, which string, up bool) error {
	if !up {
		return b.cut(n, which)
	}
	ls, err := links(which)
	if err != nil {
		return err
	}
	for _, l := range ls {
		if err := ip("-n", SwitchNS, "link", "set", b.port(n, l), "up"); err != nil {
			return err
		}
		if b.st.Mode == "vm" && b.st.Outer[n].Alive() {
			if err := b.vmSetLink(n, l, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// Shutdown stops node n cleanly: pacemaker (which stops or moves its resources), then
// corosync, then the node itself.
func (b *Bed) Shutdown(n string) error {
	b.markOff(n, true)
	if b.st.Mode == "vm" {
		return b.vmShutdown(n)
	}
	b.nsStop(n, false)
	return nil
}

// Boot powers node n on again and waits until it is online in the cluster.
func (b *Bed) Boot(n string) error {
	if b.Running(n) {
		return fmt.Errorf("node %s is running", n)
	}
	b.markOff(n, false)
	var err error
	if b.st.Mode == "vm" {
		err = b.vmBoot(n)
	} else {
		err = b.nsBoot(n)
	}
	if err != nil {
		return err
	}
	timeout := 60 * time.Second
	if b.st.Mode == "vm" {
		timeout = 300 * time.Second
	}
	return b.WaitOnline(timeout, n)
}

// ClientCmd returns argv run in the client namespace with the image's tools (ping, sipsak):
// the network namespace is entered and the root is the image's rootfs (read only use).
func (b *Bed) ClientCmd(argv ...string) []string {
	root := filepath.Join(b.st.ImageDir, "rootfs")
	return append([]string{"nsenter", "--net=/run/netns/" + ClientNS, "chroot", root}, argv...)
}

// Client runs argv in the client namespace.
func (b *Bed) Client(timeout time.Duration, argv ...string) (string, error) {
	return run(timeout, b.ClientCmd(argv...)...)
}

func (b *Bed) corosyncConf() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, `totem {
    version: 2
    cluster_name: gtb
    transport: knet
    token: %d
    crypto_cipher: none
    crypto_hash: none
    # two knet links, one at a time (passive): the ring (link 0) while it is up, else the LAN
    link_mode: passive
    interface {
        linknumber: 0
        knet_link_priority: 20
    }
    interface {
        linknumber: 1
        knet_link_priority: 10
    }
}
logging {
    to_stderr: no
    to_syslog: no
    to_logfile: yes
    logfile: /var/log/corosync/corosync.log
    timestamp: hires
}
quorum {
    provider: corosync_votequorum
`, b.st.TokenMS)
	switch {
	case b.st.QNetd != nil:
		sb.WriteString(qdeviceConf)
	case len(b.st.Nodes) == 2:
		sb.WriteString("    two_node: 1\n")
	}
	sb.WriteString("}\nnodelist {\n")
	// link 0 on the ring, link 1 on the LAN
	for _, n := range b.st.Nodes {
		fmt.Fprintf(&sb, "    node {\n        name: %s\n        nodeid: %d\n        ring0_addr: %s\n        ring1_addr: %s\n    }\n",
			n, nodeIndex(n), RingIP(n), NodeIP(n))
	}
	sb.WriteString("}\n")
	return sb.String()
}

// AsteriskModules is the modules.conf of a minimal Asterisk with SIP
// (pjsip), a registrar, calls between endpoints (RTP, SDP, Dial, bridges)
// and a dialplan; tests that need more append load lines.
const AsteriskModules = `[modules]
autoload=no
load => res_sorcery_config.so
load => res_sorcery_memory.so
load => res_sorcery_astdb.so
load => res_pjproject.so
load => res_pjsip.so
load => res_pjsip_pubsub.so
load => res_pjsip_session.so
load => chan_pjsip.so
load => res_pjsip_endpoint_identifier_anonymous.so
load => res_pjsip_endpoint_identifier_ip.so
load => res_pjsip_endpoint_identifier_user.so
load => res_pjsip_registrar.so
load => res_pjsip_sdp_rtp.so
load => res_rtp_asterisk.so
load => app_dial.so
load => bridge_simple.so
load => bridge_native_rtp.so
load => pbx_config.so
`

// What the bed's Asterisk offers the fault harness's calls (tests/sipp).
const (
	// HoldExtension answers and keeps the call up until the caller hangs
	// up (at most an hour); anyone may call it (anonymous endpoint).
	HoldExtension = "100"
	// EndpointUser is an endpoint that registers without authentication:
	// one contact (a new REGISTER replaces it), kept in astdb
	// (/var/lib/asterisk), so a restarted Asterisk still knows it.
	EndpointUser = "ep200"
	// EndpointExtension calls EndpointUser's registered contact.
	EndpointExtension = "200"
	// AsteriskContext is the endpoints' dialplan context.
	AsteriskContext = "default"
)

// asteriskFiles is a minimal Asterisk: few modules (fast start), the SIP transport bound to
// the VIP (a transport on 0.0.0.0 answers a request to the VIP from the node's own address,
// which SIP clients drop), anonymous endpoint so OPTIONS from the client are answered, the
// endpoint EndpointUser and the extensions above. direct_media=no: Asterisk stays in the
// media path (no re-INVITE of a caller that holds a call).
var asteriskFiles = map[string]string{
	"modules.conf": AsteriskModules,
	"pjsip.conf": `[global]
type=global
endpoint_identifier_order=ip,username,anonymous

[transport-udp]
type=transport
protocol=udp
bind=` + VIP + `:5060

[anonymous]
type=endpoint
context=` + AsteriskContext + `
disallow=all
allow=ulaw
direct_media=no

[` + EndpointUser + `]
type=endpoint
context=` + AsteriskContext + `
disallow=all
allow=ulaw
direct_media=no
aors=` + EndpointUser + `

[` + EndpointUser + `]
type=aor
max_contacts=1
remove_existing=yes
`,
	"extensions.conf": `[` + AsteriskContext + `]
exten => ` + HoldExtension + `,1,Answer()
 same => n,Wait(3600)
 same => n,Hangup()
exten => ` + EndpointExtension + `,1,Dial(PJSIP/` + EndpointUser + `,30)
 same => n,Hangup()
`,
}

// AsteriskConfig is the bed's Asterisk configuration, written over a copy
// of the image's /etc/asterisk: file name to content.
func AsteriskConfig() map[string]string { return maps.Clone(asteriskFiles) }
