package vip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gocf/gocf/pkg/announce"
	"github.com/gocf/gocf/pkg/ipaddr"
	"github.com/gocf/gocf/pkg/ipaddr/ipaddrtest"
	"github.com/gocf/gocf/pkg/ocf"
)

// The action tests run the agent through the SDK on a fake kernel that
// replays what a real one answered in a namespace (testdata/netlink,
// recorded by TestRecordNetlink): a state of the node, and the states real
// operations led to from there. Announcements and the background
// announcer are not sent: the rig notes what vip asked for.
type rig struct {
	t       *testing.T
	fake    *ipaddrtest.Fake
	dir     string
	openErr error
	// announcements asked for, and what each returns.
	plans       []announce.Plan
	announceErr error
	spawned     [][]string
	spawnErr    error
	opened      int
}

func newRig(t *testing.T, recording, state string) *rig {
	rec := ipaddrtest.Load(t, filepath.Join("testdata", "netlink", recording+".json"))
	return &rig{t: t, fake: rec.Fake(t, state), dir: t.TempDir()}
}

func (g *rig) agent() *ocf.Agent {
	return agentOn(node{
		open: func() (*ipaddr.Host, error) {
			if g.openErr != nil {
				return nil, g.openErr
			}
			g.opened++
			return ipaddr.New(g.fake.Open()), nil
		},
		announce: func(_ context.Context, p announce.Plan) (int, error) {
			g.plans = append(g.plans, p)
			if g.announceErr != nil {
				return 0, g.announceErr
			}
			return p.Count, nil
		},
		spawn: func(_ *ocf.Request, args ...string) error {
			g.spawned = append(g.spawned, args)
			return g.spawnErr
		},
	})
}

// run runs one action with params (name=value) and returns its status and
// exit reason.
func (g *rig) run(action string, params ...string) (ocf.Status, string) {
	g.t.Helper()
	env := []string{"OCF_RESOURCE_INSTANCE=vip-unit", "HA_RSCTMP=" + g.dir, "OCF_RESKEY_CRM_meta_timeout=5000"}
	for _, p := range params {
		env = append(env, "OCF_RESKEY_"+p)
	}
	var stdout, stderr bytes.Buffer
	opened, ops := g.opened, len(g.fake.Ops())
	st := ocf.Run(g.agent(), []string{"vip", action}, env, &stdout, &stderr, func(code int) { g.t.Errorf("watchdog exit %d", code) })
	var reasons []string
	for l := range strings.Lines(stderr.String()) {
		if r, ok := strings.CutPrefix(l, "ocf-exit-reason:"); ok {
			reasons = append(reasons, strings.TrimSpace(r))
		}
	}
	if len(reasons) > 1 {
		g.t.Errorf("%s: several exit reasons %q", action, reasons)
	}
	if (action == "monitor" || action == "validate-all" || action == "reload-agent" || action == "status") && len(g.fake.Ops()) != ops {
		g.t.Errorf("%s changed the node: %v", action, g.fake.Ops()[ops:])
	}
	if g.opened > opened && !g.fake.Closed() {
		g.t.Errorf("%s left the netlink socket open", action)
	}
	g.t.Logf("%s %q -> %v %q", action, params, st, reasons)
	return st, strings.Join(reasons, "")
}

// expect runs an action and checks its status and that the reason
// contains each of want.
func (g *rig) expect(want ocf.Status, action string, params []string, reason ...string) {
	g.t.Helper()
	st, r := g.run(action, params...)
	if st != want {
		g.t.Fatalf("%s %q: %v, want %v (reason %q)", action, params, st, want, r)
	}
	if want != ocf.Success && want != ocf.NotRunning && r == "" {
		g.t.Errorf("%s %q: %v without a reason", action, params, st)
	}
	for _, s := range reason {
		if !strings.Contains(r, s) {
			g.t.Errorf("%s %q: reason %q lacks %q", action, params, r, s)
		}
	}
}

// ops renders the operations made since the last call.
func (g *rig) ops(seen *int) []string {
	var out []string
	all := g.fake.Ops()
	for _, o := range all[*seen:] {
		switch o.Do {
		case "add":
			out = append(out, fmt.Sprintf("add %s brd %v label %q flags %#x lft %d/%d", o.Addr.Prefix, o.Addr.Broadcast, o.Addr.Label, o.Addr.Flags, o.Addr.PreferredLft, o.Addr.ValidLft))
		case "del":
			out = append(out, fmt.Sprintf("del %s dev %d", o.Prefix, o.Link))
		default:
			out = append(out, fmt.Sprintf("%s %d", o.Do, o.Link))
		}
	}
	*seen = len(all)
	return out
}

func (g *rig) wantOps(seen *int, want ...string) {
	g.t.Helper()
	if got := g.ops(seen); !slices.Equal(got, want) {
		g.t.Errorf("operations:\n got %q\nwant %q", got, want)
	}
}

func (g *rig) wantState(s string) {
	g.t.Helper()
	if got := g.fake.State(); got != s {
		g.t.Errorf("node in state %q, want %q", got, s)
	}
}

func p(s ...string) []string { return s }

const recurring = "CRM_meta_interval=10000"

func TestStartMonitorStopIPv4(t *testing.T) {
	g, seen := newRig(t, "lan", "base"), 0
	cfg := p("ip=198.51.100.60", "arp_count=2", "arp_interval=7", "arp_bg=false", "arp_count_refresh=3")
	g.expect(ocf.NotRunning, "monitor", cfg)
	g.expect(ocf.Success, "validate-all", cfg)
	g.wantOps(&seen)
	g.expect(ocf.Success, "start", cfg)
	g.wantOps(&seen, "add 198.51.100.60/24 brd 198.51.100.255 label \"\" flags 0x0 lft 0/0")
	g.wantState("base +198.51.100.60/24")
	want := announce.Plan{Interface: "lan0", Addr: netip.MustParseAddr("198.51.100.60"), Count: 2, Interval: 7 * time.Millisecond, Mode: announce.Request}
	if len(g.plans) != 1 || g.plans[0] != want {
		t.Errorf("announcements %+v, want %+v", g.plans, want)
	}
	g.expect(ocf.Success, "monitor", cfg) // a probe sends nothing
	if len(g.plans) != 1 {
		t.Errorf("a probe announced: %+v", g.plans[1:])
	}
	g.expect(ocf.Success, "monitor", append(cfg, recurring))
	if len(g.plans) != 2 || g.plans[1].Count != 3 {
		t.Errorf("recurring monitor: want a refresh of 3, got %+v", g.plans)
	}
	g.expect(ocf.Success, "start", cfg) // already there
	g.wantOps(&seen)
	g.expect(ocf.Success, "stop", cfg)
	g.wantOps(&seen, "del 198.51.100.60/24 dev 2")
	g.wantState("base")
	g.expect(ocf.Success, "stop", cfg)
	g.wantOps(&seen)
	g.expect(ocf.NotRunning, "monitor", append(cfg, recurring), "198.51.100.60/24 is not on lan0")
}

func TestStartVariants(t *testing.T) {
	for _, c := range []struct {
		params []string
		op     string
	}{
		{p("ip=198.51.100.70", "iflabel=vip1", "cidr_netmask=25"), "add 198.51.100.70/25 brd 198.51.100.127 label \"lan0:vip1\" flags 0x0 lft 0/0"},
		{p("ip=198.51.100.70", "nic=lan0:vip1", "cidr_netmask=255.255.255.128"), "add 198.51.100.70/25 brd 198.51.100.127 label \"lan0:vip1\" flags 0x0 lft 0/0"},
		{p("ip=198.51.100.70", "nic=lan0", "broadcast=-"), "add 198.51.100.70/24 brd 198.51.100.0 label \"\" flags 0x0 lft 0/0"},
		{p("ip=198.51.100.60", "cidr_netmask=32"), "add 198.51.100.60/32 brd invalid IP label \"\" flags 0x0 lft 0/0"},
		{p("ip=198.51.100.97", "cidr_netmask=28"), "add 198.51.100.97/28 brd 198.51.100.111 label \"\" flags 0x0 lft 0/0"},
		{p("ip=2001:db8:1::70", "nic=lan0", "cidr_netmask=64", "nodad=true", "noprefixroute=true", "preferred_lft=0"),
			"add 2001:db8:1::70/64 brd invalid IP label \"\" flags 0x202 lft 0/4294967295"},
		{p("ip=fe80::96", "nic=lan0", "nodad=1"), "add fe80::96/64 brd invalid IP label \"\" flags 0x2 lft 0/0"},
	} {
		t.Run(strings.Join(c.params, ","), func(t *testing.T) {
			g, seen := newRig(t, "lan", "base"), 0
			cfg := append(c.params, "arp_count=0")
			g.expect(ocf.Success, "start", cfg)
			g.wantOps(&seen, c.op)
			g.expect(ocf.Success, "monitor", append(cfg, recurring))
			g.expect(ocf.Success, "stop", cfg)
			g.wantState("base")
			if len(g.plans)+len(g.spawned) != 0 {
				t.Errorf("arp_count=0 announced: %v %v", g.plans, g.spawned)
			}
		})
	}
}

func TestStartAnnouncesInBackground(t *testing.T) {
	g := newRig(t, "lan", "base")
	g.expect(ocf.Success, "start", p("ip=198.51.100.60", "arp_mode=reply"))
	want := []string{"lan0", "198.51.100.60", "5", "200", "reply"}
	if len(g.spawned) != 1 || !slices.Equal(g.spawned[0], want) || len(g.plans) != 0 {
		t.Errorf("spawned %q, sent %+v; want one background series %q", g.spawned, g.plans, want)
	}
	g.expect(ocf.Success, "stop", p("ip=198.51.100.60"))

	// Without a background sender start sends them itself; a failure to
	// announce does not fail start (neighbours learn by ARP anyway).
	g.spawnErr = errors.New("fork: resource temporarily unavailable")
	g.announceErr = announce.ErrNoHardwareAddr
	g.expect(ocf.Success, "start", p("ip=198.51.100.60", "arp_count=1"))
	if len(g.plans) != 1 || g.plans[0].Count != 1 {
		t.Errorf("fallback announcements %+v", g.plans)
	}
	g.announceErr = errors.New("sendto: network is down")
	g.expect(ocf.Success, "monitor", p("ip=198.51.100.60", "arp_count_refresh=1", recurring))
	g.expect(ocf.Success, "stop", p("ip=198.51.100.60"))
}

func TestAnnounceHelper(t *testing.T) {
	g := newRig(t, "lan", "base")
	a := g.agent()
	run := func(args ...string) ocf.Status {
		return ocf.Run(a, append([]string{"vip", helperAnnounce}, args...), nil, new(bytes.Buffer), new(bytes.Buffer), func(int) {})
	}
	if st := run("lan0", "2001:db8:1::60", "3", "20", "request"); st != ocf.Success {
		t.Errorf("helper: %v", st)
	}
	want := announce.Plan{Interface: "lan0", Addr: netip.MustParseAddr("2001:db8:1::60"), Count: 3, Interval: 20 * time.Millisecond, Mode: announce.Request}
	if len(g.plans) != 1 || g.plans[0] != want {
		t.Errorf("helper sent %+v, want %+v", g.plans, want)
	}
	for _, args := range [][]string{{"lan0"}, {"lan0", "nonsense", "3", "20", "request"}, {"lan0", "2001:db8:1::60", "x", "20", "request"}} {
		if st := run(args...); st != ocf.ErrArgs {
			t.Errorf("helper %q: %v, want %v", args, st, ocf.ErrArgs)
		}
	}
	g.announceErr = errors.New("no such network interface")
	if st := run("lan0", "2001:db8:1::60", "3", "20", "request"); st != ocf.ErrGeneric {
		t.Errorf("failing helper: %v", st)
	}
}

func TestDuplicateAddressDetection(t *testing.T) {
	cfg := func(ip string) []string { return p("ip="+ip, "nic=lan0", "cidr_netmask=64", "arp_count=0") }
	g, seen := newRig(t, "lan", "base"), 0
	g.expect(ocf.Success, "start", cfg("2001:db8:1::60"))
	g.wantOps(&seen, "add 2001:db8:1::60/64 brd invalid IP label \"\" flags 0x0 lft 0/0")
	g.wantState("base +2001:db8:1::60/64 settled")
	g.expect(ocf.Success, "stop", cfg("2001:db8:1::60"))

	// Another node has ::99: start fails and leaves nothing behind.
	g.expect(ocf.ErrGeneric, "start", cfg("2001:db8:1::99"), "duplicate address detection failed on lan0")
	g.wantOps(&seen, "del 2001:db8:1::60/64 dev 2", "add 2001:db8:1::99/64 brd invalid IP label \"\" flags 0x0 lft 0/0", "del 2001:db8:1::99/64 dev 2")
	g.wantState("base")

	// Detection that outlasts the action's timeout.
	start := time.Now()
	g.expect(ocf.ErrGeneric, "start", append(cfg("2001:db8:1::98"), "CRM_meta_timeout=1000"), "did not finish in time")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("start took %v with a timeout of 1 s", d)
	}
	g.wantState("base")

	// A failed detection found by monitor or start.
	g = newRig(t, "lan", "base +2001:db8:1::99/64 settled")
	g.expect(ocf.NotRunning, "monitor", append(cfg("2001:db8:1::99"), recurring), "failed duplicate address detection")
	g.expect(ocf.ErrGeneric, "start", cfg("2001:db8:1::99"), "another node uses it")
	g.wantState("base")
}

func TestLinkDownAndCarrier(t *testing.T) {
	cfg := p("ip=198.51.100.60", "nic=lan0", "cidr_netmask=24", "arp_count=0", recurring)
	for _, state := range []string{"198.51.100.60/24, lan0 down", "198.51.100.60/24, no carrier"} {
		g := newRig(t, "lan", state)
		g.expect(ocf.NotRunning, "monitor", cfg, "link is down or has no carrier")
		g.expect(ocf.Success, "monitor", append(cfg, "check_link_status=false"))
	}
	// Start brings a link that is down up before adding the address.
	g, seen := newRig(t, "lan", "lan0 down"), 0
	g.expect(ocf.Success, "start", cfg)
	g.wantOps(&seen, "up 2", "add 198.51.100.60/24 brd 198.51.100.255 label \"\" flags 0x0 lft 0/0")
}

func TestPermissionDenied(t *testing.T) {
	g := newRig(t, "lan", "base")
	g.fake.As = "no CAP_NET_ADMIN"
	g.expect(ocf.ErrPerm, "start", p("ip=198.51.100.60", "arp_count=0"), "vip needs root")
	g.wantState("base")
	g = newRig(t, "lan", "base +198.51.100.60/24")
	g.fake.As = "no CAP_NET_ADMIN"
	g.expect(ocf.ErrPerm, "stop", p("ip=198.51.100.60"), "vip needs root")
}

func TestNodeLocalErrors(t *testing.T) {
	g := newRig(t, "lan", "base")
	missing := p("ip=198.51.100.90", "nic=nosuch0", "cidr_netmask=24")
	g.expect(ocf.ErrInstalled, "validate-all", missing, "nosuch0 does not exist")
	g.expect(ocf.ErrInstalled, "start", missing)
	g.expect(ocf.NotRunning, "monitor", missing)
	g.expect(ocf.NotRunning, "monitor", append(missing, recurring), "nosuch0 does not exist")
	g.expect(ocf.Success, "stop", missing)

	// A gateway route to 203.0.113.0/24 is no connected route.
	g.expect(ocf.ErrArgs, "validate-all", p("ip=203.0.113.9"), "no interface on this node has a connected route covering 203.0.113.9: set nic")
	g.expect(ocf.ErrArgs, "start", p("ip=203.0.113.9"))
	g.expect(ocf.NotRunning, "monitor", p("ip=203.0.113.9"))
	g.expect(ocf.ErrArgs, "validate-all", p("ip=203.0.113.9", "nic=lan0"), "no route on lan0 covers 203.0.113.9", "set cidr_netmask")
	g.expect(ocf.ErrArgs, "validate-all", p("ip=2001:db8:2::9"), "set nic")
	g.expect(ocf.ErrArgs, "validate-all", p("ip=198.51.100.60", "iflabel=abcdefghijk"), "lan0:abcdefghijk is longer than 15")
	g.expect(ocf.Success, "validate-all", p("ip=198.51.100.60", "iflabel=abcdefghij"))
	g.expect(ocf.Success, "validate-all", p("ip=198.51.100.60", "nic=lan0"))

	g = newRig(t, "two", "198.51.100.62/24 on lan0, lan1 on the same network")
	g.expect(ocf.ErrArgs, "validate-all", p("ip=198.51.100.63"), "several interfaces")
	g.expect(ocf.ErrArgs, "start", p("ip=198.51.100.63"))
	g.expect(ocf.Success, "validate-all", p("ip=198.51.100.63", "nic=lan1"))

	g = newRig(t, "lan", "admin 198.51.100.67/25")
	g.expect(ocf.ErrGeneric, "start", p("ip=198.51.100.67", "cidr_netmask=24"), "already configured as 198.51.100.67/25 on lan0")
	g.expect(ocf.NotRunning, "monitor", p("ip=198.51.100.67", "cidr_netmask=24", recurring), "found 198.51.100.67/25 on lan0")

	g.openErr = errors.New("netlink: socket: too many open files")
	g.expect(ocf.ErrGeneric, "monitor", p("ip=198.51.100.67"), "cannot talk to the kernel")
}

// Item 7: a monitor answers "not running" only when the address is known
// to be absent. When vip cannot look, or the routes no longer tell where
// the address would be while it is up here, the answer is a failure with
// a reason: "not running" would let Pacemaker start it on a second node.
func TestMonitorDoesNotGuess(t *testing.T) {
	g := newRig(t, "lan", "no file descriptors")
	for _, cfg := range [][]string{p("ip=198.51.100.60"), p("ip=198.51.100.60", "nic=lan0"), p("ip=198.51.100.60", "nic=lan0", "cidr_netmask=24")} {
		g.expect(ocf.ErrGeneric, "monitor", cfg, "too many open files")
		g.expect(ocf.ErrGeneric, "monitor", append(cfg, recurring), "too many open files")
		g.expect(ocf.ErrGeneric, "validate-all", cfg, "too many open files")
		g.expect(ocf.ErrGeneric, "start", cfg, "too many open files")
		g.expect(ocf.ErrGeneric, "stop", cfg, "too many open files")
	}

	g = newRig(t, "two", "198.51.100.62/24 on lan0, lan1 on the same network")
	g.expect(ocf.ErrGeneric, "monitor", p("ip=198.51.100.62"), "198.51.100.62/24 on lan0 is up", "set nic")
	g.expect(ocf.ErrGeneric, "monitor", p("ip=198.51.100.62", recurring), "198.51.100.62/24 on lan0 is up")
	g.expect(ocf.NotRunning, "monitor", p("ip=198.51.100.63")) // on no interface
	g.expect(ocf.Success, "monitor", p("ip=198.51.100.62", "nic=lan0"))
	// Pacemaker's recovery: each tied interface is one start could have
	// picked, so stop removes the address there, and only as configured.
	seen := 0
	g.expect(ocf.Success, "stop", p("ip=198.51.100.62", "cidr_netmask=25"))
	g.expect(ocf.Success, "stop", p("ip=198.51.100.62", "iflabel=x"))
	g.expect(ocf.Success, "stop", p("ip=198.51.100.63"))
	g.wantOps(&seen)
	g.expect(ocf.Success, "stop", p("ip=198.51.100.62"))
	g.wantOps(&seen, "del 198.51.100.62/24 dev 2")
	g.expect(ocf.NotRunning, "monitor", p("ip=198.51.100.62"))

	g = newRig(t, "noroute", "198.51.100.64/32 without a connected route")
	g.expect(ocf.ErrGeneric, "monitor", p("ip=198.51.100.64", "cidr_netmask=32"), "198.51.100.64/32 on lan0 is up")
	g.expect(ocf.ErrGeneric, "monitor", p("ip=198.51.100.64", "nic=lan0"), "198.51.100.64/32 on lan0 is up", "set cidr_netmask")
	g.expect(ocf.Success, "monitor", p("ip=198.51.100.64", "nic=lan0", "cidr_netmask=32"))
	g.expect(ocf.NotRunning, "monitor", p("ip=198.51.100.65", "cidr_netmask=32"))
	g.expect(ocf.NotRunning, "monitor", p("ip=198.51.100.65", "nic=lan0"))
}

// Item 8: stop removes only what start would have added.
func TestStopLeavesOtherAssignments(t *testing.T) {
	g, seen := newRig(t, "lan", "admin /32s on lo"), 0
	for _, ip := range []string{"198.51.100.66", "203.0.113.66"} {
		g.expect(ocf.Success, "stop", p("ip="+ip))
		g.expect(ocf.Success, "stop", p("ip="+ip, "cidr_netmask=32"))
		g.wantOps(&seen)
	}
	g.expect(ocf.ErrGeneric, "start", p("ip=198.51.100.66", "arp_count=0"), "already configured as 198.51.100.66/32 on lo")
	g.wantOps(&seen)

	g = newRig(t, "lan", "admin 198.51.100.67/25")
	g.expect(ocf.Success, "stop", p("ip=198.51.100.67", "cidr_netmask=24"))
	g.expect(ocf.Success, "stop", p("ip=198.51.100.67", "nic=lan0", "cidr_netmask=24"))
	g.wantOps(&seen)

	g, seen = newRig(t, "lan", "admin 198.51.100.67/24 lan0:adm"), 0
	other := p("ip=198.51.100.67", "iflabel=vip", "arp_count=0")
	g.expect(ocf.NotRunning, "monitor", append(other, recurring), "lan0:adm")
	g.expect(ocf.ErrGeneric, "start", other, "lan0:adm")
	g.expect(ocf.Success, "stop", other)
	g.wantOps(&seen)
	ours := p("ip=198.51.100.67", "iflabel=adm")
	g.expect(ocf.Success, "monitor", append(ours, recurring))
	g.expect(ocf.Success, "stop", ours)
	g.wantOps(&seen, "del 198.51.100.67/24 dev 2")
	g.wantState("base")
}

// Item 14: prefixes IPaddr2 refuses.
func TestRefusedPrefixes(t *testing.T) {
	g, seen := newRig(t, "lan", "base"), 0
	for _, cfg := range [][]string{
		p("ip=198.51.100.96", "cidr_netmask=16"),
		p("ip=198.51.100.96", "nic=lan0", "cidr_netmask=255.255.0.0"),
		p("ip=2001:db8:1::96", "cidr_netmask=48"),
		p("ip=2001:db8:1::96", "nic=lan0", "cidr_netmask=48"),
	} {
		net := "198.51.100.0/24"
		if strings.Contains(cfg[0], ":") {
			net = "2001:db8:1::/64"
		}
		g.expect(ocf.ErrArgs, "validate-all", cfg, "lan0's network "+net, "use /")
		g.expect(ocf.ErrArgs, "start", cfg, net)
		g.expect(ocf.NotRunning, "monitor", cfg)
		g.expect(ocf.Success, "stop", cfg)
	}
	g.wantOps(&seen)
	// No route on the interface to compare with: the admin's prefix stands.
	g.expect(ocf.Success, "validate-all", p("ip=203.0.113.5", "nic=lan0", "cidr_netmask=16"))

	for _, cfg := range [][]string{
		p("ip=198.51.100.96", "nic=lan0", "cidr_netmask=0"),
		p("ip=198.51.100.96", "cidr_netmask=0.0.0.0"),
		p("ip=2001:db8:1::96", "cidr_netmask=0"),
	} {
		g.expect(ocf.ErrConfigured, "validate-all", cfg, "out of range 1..")
		g.expect(ocf.ErrConfigured, "start", cfg, "out of range 1..")
	}
	g.expect(ocf.ErrConfigured, "validate-all", p("ip=fe80::96"), "link-local", "set nic")
	g.expect(ocf.ErrConfigured, "start", p("ip=fe80::96", "cidr_netmask=64"), "link-local")
	g.wantOps(&seen)
}

func TestCloningRefused(t *testing.T) {
	g := newRig(t, "lan", "base")
	g.expect(ocf.ErrConfigured, "validate-all", p("ip=198.51.100.60", "CRM_meta_clone_max=2"), "cannot be cloned")
}
