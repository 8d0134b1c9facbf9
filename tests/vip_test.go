package tests

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gocf/gocf/tests/lab"
	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
)

// vipLab is a node namespace with one veth to a peer namespace that plays
// the rest of the LAN: 198.51.100.0/24 and 2001:db8:1::/64 on the link.
type vipLab struct {
	node, peer *lab.Netns
	link       *lab.Link
}

func newVipLab(t *testing.T) *vipLab {
	t.Helper()
	lab.RequireRoot(t)
	l := &vipLab{node: lab.NewNetns(t), peer: lab.NewNetns(t)}
	l.link = lab.Veth(t, l.node, l.peer)
	l.node.IP(t, "addr", "add", "198.51.100.1/24", "dev", l.link.Here)
	l.node.IP(t, "addr", "add", "2001:db8:1::1/64", "dev", l.link.Here, "nodad")
	l.peer.IP(t, "addr", "add", "198.51.100.2/24", "dev", l.link.There)
	l.peer.IP(t, "addr", "add", "2001:db8:1::2/64", "dev", l.link.There, "nodad")
	return l
}

func (l *vipLab) agent(params map[string]string) *lab.Agent {
	return &lab.Agent{Bin: agentBin("vip"), Netns: l.node, Instance: "vip-test", Params: params}
}

// addrs returns the node's `ip -o addr` lines for ip.
func (l *vipLab) addrs(t *testing.T, ip string) []string {
	t.Helper()
	var out []string
	for _, line := range strings.Split(l.node.IP(t, "-o", "addr", "show"), "\n") {
		if strings.Contains(line, " "+ip+"/") {
			out = append(out, line)
		}
	}
	return out
}

func ocfTester(t *testing.T, ns *lab.Netns, agent string, params ...string) {
	t.Helper()
	args := []string{"netns", "exec", ns.Name, "ocf-tester", "-n", "ocft"}
	for _, p := range params {
		args = append(args, "-o", p)
	}
	args = append(args, agentBin(agent))
	out, err := exec.Command("ip", args...).CombinedOutput()
	t.Logf("ocf-tester %s:\n%s", agent, out)
	if err != nil || !strings.Contains(string(out), "passed all tests") {
		t.Fatalf("ocf-tester failed on %s: %v", agent, err)
	}
}

func TestVipOCFTesterIPv4(t *testing.T) {
	l := newVipLab(t)
	ocfTester(t, l.node, "vip", "ip=198.51.100.50", "cidr_netmask=24", "nic="+l.link.Here)
}

func TestVipOCFTesterIPv6(t *testing.T) {
	l := newVipLab(t)
	ocfTester(t, l.node, "vip", "ip=2001:db8:1::50", "cidr_netmask=64", "nic="+l.link.Here)
}

func TestVipAutodetectsInterfaceAndNetmask(t *testing.T) {
	l := newVipLab(t)
	a := l.agent(map[string]string{"ip": "198.51.100.60", "arp_count": "0"})
	a.Expect(t, 0, "validate-all")
	a.Expect(t, 0, "start")
	got := l.addrs(t, "198.51.100.60")
	if len(got) != 1 || !strings.Contains(got[0], " "+l.link.Here+" ") || !strings.Contains(got[0], "198.51.100.60/24 brd 198.51.100.255") {
		t.Fatalf("want 198.51.100.60/24 brd .255 on %s, got %q", l.link.Here, got)
	}
	a.Expect(t, 0, "monitor", "OCF_RESKEY_CRM_meta_interval=10000")
	a.Expect(t, 0, "stop")
	if got := l.addrs(t, "198.51.100.60"); len(got) != 0 {
		t.Fatalf("address left after stop: %q", got)
	}
	a.Expect(t, 7, "monitor")
}

func TestVipAutodetectNoneOrAmbiguous(t *testing.T) {
	l := newVipLab(t)
	none := l.agent(map[string]string{"ip": "203.0.113.9"})
	r := none.Expect(t, 2, "validate-all")
	if !strings.Contains(r.ExitReasons()[0], "set nic") {
		t.Errorf("reason should tell the admin to set nic: %q", r.ExitReasons())
	}
	none.Expect(t, 2, "start")
	none.Expect(t, 7, "monitor") // a probe of an address that cannot be here

	// A second link on the same prefix makes the choice ambiguous.
	other := lab.NewNetns(t)
	l2 := lab.Veth(t, l.node, other)
	l.node.IP(t, "addr", "add", "198.51.100.200/24", "dev", l2.Here)
	amb := l.agent(map[string]string{"ip": "198.51.100.61"})
	r = amb.Expect(t, 2, "start")
	if !strings.Contains(r.ExitReasons()[0], "several interfaces") {
		t.Errorf("reason should name the ambiguity: %q", r.ExitReasons())
	}
	if got := l.addrs(t, "198.51.100.61"); len(got) != 0 {
		t.Fatalf("failed start left an address: %q", got)
	}
	// A longer prefix on one link wins over the tie.
	l.node.IP(t, "addr", "add", "198.51.100.30/26", "dev", l2.Here)
	amb.Expect(t, 0, "start", "OCF_RESKEY_arp_count=0")
	if got := l.addrs(t, "198.51.100.61"); len(got) != 1 || !strings.Contains(got[0], " "+l2.Here+" ") || !strings.Contains(got[0], "/26") {
		t.Fatalf("want 198.51.100.61/26 on %s, got %q", l2.Here, got)
	}
}

func TestVipLabelAndNetmask(t *testing.T) {
	l := newVipLab(t)
	cases := []struct {
		params map[string]string
		want   string // substring of the ip -o addr line
	}{
		{map[string]string{"iflabel": "vip1", "cidr_netmask": "25"}, "198.51.100.70/25 brd 198.51.100.127 scope global " + l.link.Here + ":vip1"},
		{map[string]string{"nic": l.link.Here + ":lbl", "cidr_netmask": "255.255.255.128"}, "198.51.100.70/25 brd 198.51.100.127 scope global " + l.link.Here + ":lbl"},
		{map[string]string{"nic": l.link.Here, "cidr_netmask": "24", "broadcast": "-"}, "198.51.100.70/24 brd 198.51.100.0 "},
		{map[string]string{"nic": l.link.Here, "cidr_netmask": "24", "broadcast": "198.51.100.254"}, "198.51.100.70/24 brd 198.51.100.254 "},
	}
	for i, c := range cases {
		c.params["ip"] = "198.51.100.70"
		c.params["arp_count"] = "0"
		a := l.agent(c.params)
		a.Expect(t, 0, "start")
		got := l.addrs(t, "198.51.100.70")
		if len(got) != 1 || !strings.Contains(got[0], c.want) {
			t.Errorf("case %d: want %q, got %q", i, c.want, got)
		}
		a.Expect(t, 0, "monitor", "OCF_RESKEY_CRM_meta_interval=10000")
		a.Expect(t, 0, "start") // idempotent
		a.Expect(t, 0, "stop")
		a.Expect(t, 0, "stop") // idempotent
	}
}

func TestVipIPv6Flags(t *testing.T) {
	l := newVipLab(t)
	a := l.agent(map[string]string{"ip": "2001:db8:1::70", "nic": l.link.Here, "cidr_netmask": "64",
		"nodad": "true", "noprefixroute": "yes", "preferred_lft": "0", "arp_count": "0"})
	a.Expect(t, 0, "start")
	got := l.addrs(t, "2001:db8:1::70")
	if len(got) != 1 || !strings.Contains(got[0], "nodad") || !strings.Contains(got[0], "noprefixroute") ||
		!strings.Contains(got[0], "preferred_lft 0sec") || !strings.Contains(got[0], "valid_lft forever") {
		t.Fatalf("flags not applied: %q", got)
	}
	a.Expect(t, 0, "stop")
}

func TestVipMonitorSeesManualRemovalAndLinkDown(t *testing.T) {
	l := newVipLab(t)
	params := map[string]string{"ip": "198.51.100.80", "nic": l.link.Here, "cidr_netmask": "24", "arp_count": "0"}
	a := l.agent(params)
	recurring := "OCF_RESKEY_CRM_meta_interval=10000"

	a.Expect(t, 0, "start")
	l.node.IP(t, "addr", "del", "198.51.100.80/24", "dev", l.link.Here)
	r := a.Expect(t, 7, "monitor", recurring)
	if len(r.ExitReasons()) != 1 || !strings.Contains(r.ExitReasons()[0], "is not on") {
		t.Errorf("recurring monitor 7 should say why: %q", r.ExitReasons())
	}

	// Same address with another prefix is not this resource.
	l.node.IP(t, "addr", "add", "198.51.100.80/25", "dev", l.link.Here)
	a.Expect(t, 7, "monitor", recurring)
	a.Expect(t, 1, "start") // refuses to stack a second prefix
	a.Expect(t, 0, "stop")  // and stop leaves what it did not add
	if got := l.addrs(t, "198.51.100.80"); len(got) != 1 || !strings.Contains(got[0], "198.51.100.80/25") {
		t.Fatalf("stop removed the /25 it did not add: %q", got)
	}
	l.node.IP(t, "addr", "del", "198.51.100.80/25", "dev", l.link.Here)

	a.Expect(t, 0, "start")
	l.node.IP(t, "link", "set", l.link.Here, "down")
	a.Expect(t, 7, "monitor", recurring)
	params["check_link_status"] = "false"
	a.Expect(t, 0, "monitor", recurring)
	params["check_link_status"] = "true"
	l.node.IP(t, "link", "set", l.link.Here, "up")
	a.Expect(t, 0, "monitor", recurring)
	// Carrier lost: the far end goes down.
	l.peer.IP(t, "link", "set", l.link.There, "down")
	a.Expect(t, 7, "monitor", recurring)
	l.peer.IP(t, "link", "set", l.link.There, "up")
	a.Expect(t, 0, "stop")
}

func TestVipMissingInterface(t *testing.T) {
	l := newVipLab(t)
	a := l.agent(map[string]string{"ip": "198.51.100.90", "nic": "nosuch0", "cidr_netmask": "24"})
	a.Expect(t, 7, "monitor")
	a.Expect(t, 7, "monitor", "OCF_RESKEY_CRM_meta_interval=10000")
	r := a.Expect(t, 5, "validate-all")
	if !strings.Contains(r.ExitReasons()[0], "nosuch0 does not exist") {
		t.Errorf("reason: %q", r.ExitReasons())
	}
	a.Expect(t, 5, "start")
	a.Expect(t, 0, "stop")
}

func TestVipDADFailure(t *testing.T) {
	l := newVipLab(t)
	l.peer.IP(t, "addr", "add", "2001:db8:1::99/64", "dev", l.link.There, "nodad")
	a := l.agent(map[string]string{"ip": "2001:db8:1::99", "nic": l.link.Here, "cidr_netmask": "64"})
	r := a.Expect(t, 1, "start")
	if !strings.Contains(r.ExitReasons()[0], "duplicate address detection failed") {
		t.Errorf("reason: %q", r.ExitReasons())
	}
	if got := l.addrs(t, "2001:db8:1::99"); len(got) != 0 {
		t.Fatalf("failed start left %q", got)
	}
	a.Expect(t, 7, "monitor")
}

func TestVipStartEndsWithinTimeout(t *testing.T) {
	l := newVipLab(t)
	// DAD made to take 30 s: only the deadline can end start.
	lab.Run(t, "ip", "netns", "exec", l.node.Name, "sysctl", "-q", "-w", "net.ipv6.conf."+l.link.Here+".dad_transmits=30")
	a := l.agent(map[string]string{"ip": "2001:db8:1::98", "nic": l.link.Here, "cidr_netmask": "64"})
	r := a.Expect(t, 1, "start", "OCF_RESKEY_CRM_meta_timeout=2000")
	if !strings.Contains(r.ExitReasons()[0], "did not finish") {
		t.Errorf("reason: %q", r.ExitReasons())
	}
	if got := l.addrs(t, "2001:db8:1::98"); len(got) != 0 {
		t.Fatalf("timed-out start left %q", got)
	}
}

func TestVipRejectsBadValues(t *testing.T) {
	l := newVipLab(t)
	base := map[string]string{"ip": "198.51.100.95", "nic": l.link.Here, "cidr_netmask": "24"}
	lab.RejectsAll(t, l.agent, base, lab.BadValues{
		{"ip", "", "ip is required"},
		{"ip", "198.51.100.300", "not an IPv4 or IPv6 address"},
		{"ip", "fe80::1%eth0", "not an IPv4 or IPv6 address"},
		{"ip", "224.0.0.1", "cannot be a virtual address"},
		{"ip", "127.0.0.5", "cannot be a virtual address"},
		{"ip", "::ffff:198.51.100.1", "IPv4-mapped"},
		{"nic", "bad/name", "not an interface name"},
		{"nic", "averyveryverylongname0", "not an interface name"},
		{"nic", "eth0:", "empty label"},
		{"cidr_netmask", "33", "out of range"},
		{"cidr_netmask", "255.0.255.0", "not a prefix length"},
		{"cidr_netmask", "abc", "not a prefix length"},
		{"broadcast", "zz", "not an IPv4 address"},
		{"iflabel", "waytoolonglabel", "longer than 15"},
		{"arp_count", "many", "not an integer"},
		{"arp_count", "-1", "out of range"},
		{"arp_interval", "0", "out of range"},
		{"arp_count_refresh", "x", "not an integer"},
		{"arp_bg", "maybe", "not a boolean"},
		{"arp_mode", "both", "not one of request, reply"},
		{"nodad", "perhaps", "not a boolean"},
		{"noprefixroute", "2", "not a boolean"},
		{"preferred_lft", "soon", "neither a number of seconds nor forever"},
		{"check_link_status", "sometimes", "not a boolean"},
	})
	// IPv6-specific misuse.
	v6 := l.agent(map[string]string{"ip": "2001:db8:1::95", "nic": l.link.Here, "broadcast": "+"})
	v6.Expect(t, 6, "validate-all")
	v6 = l.agent(map[string]string{"ip": "2001:db8:1::95", "nic": l.link.Here, "iflabel": "x"})
	v6.Expect(t, 6, "validate-all")
	v6 = l.agent(map[string]string{"ip": "2001:db8:1::95", "cidr_netmask": "129"})
	v6.Expect(t, 6, "validate-all")
	// CLUSTERIP clone mode is not supported.
	l.agent(base).Expect(t, 6, "validate-all", "OCF_RESKEY_CRM_meta_clone_max=2")
	if got := l.addrs(t, "198.51.100.95"); len(got) != 0 {
		t.Fatalf("an invalid start left %q", got)
	}
}

func TestVipExitCodesAndUsage(t *testing.T) {
	a := &lab.Agent{Bin: agentBin("vip")}
	r := a.Do(t, "frobnicate")
	if r.Status != 3 || !strings.Contains(r.Stderr, "usage: vip {") {
		t.Fatalf("unknown action: %d %q", r.Status, r.Stderr)
	}
	// meta-data with an empty environment.
	cmd := exec.Command(agentBin("vip"), "meta-data")
	cmd.Env = []string{}
	out, err := cmd.Output()
	if err != nil || !bytes.Contains(out, []byte(`<resource-agent name="vip"`)) {
		t.Fatalf("meta-data with empty env: %v", err)
	}
}

// announcement is what a captured frame announced.
type announcement struct {
	arpOp    arp.Operation
	ndpOK    bool
	hopLimit byte
}

func parseAnnouncement(f []byte, ip netip.Addr, mac net.HardwareAddr) (announcement, bool) {
	var eth ethernet.Frame
	if err := eth.UnmarshalBinary(f); err != nil || !bytes.Equal(eth.Source, mac) {
		return announcement{}, false
	}
	switch eth.EtherType {
	case ethernet.EtherTypeARP:
		var p arp.Packet
		if err := p.UnmarshalBinary(eth.Payload); err != nil {
			return announcement{}, false
		}
		if p.SenderIP != ip || p.TargetIP != ip || !bytes.Equal(p.SenderHardwareAddr, mac) ||
			!bytes.Equal(eth.Destination, ethernet.Broadcast) {
			return announcement{}, false
		}
		return announcement{arpOp: p.Operation}, true
	case ethernet.EtherTypeIPv6:
		b := eth.Payload
		if len(b) < 40 || b[6] != 58 { // next header ICMPv6
			return announcement{}, false
		}
		src, _ := netip.AddrFromSlice(b[8:24])
		dst, _ := netip.AddrFromSlice(b[24:40])
		plen := int(binary.BigEndian.Uint16(b[4:6]))
		if src != ip || dst != netip.IPv6LinkLocalAllNodes() || len(b) < 40+plen {
			return announcement{}, false
		}
		m, err := ndp.ParseMessage(b[40 : 40+plen])
		na, ok := m.(*ndp.NeighborAdvertisement)
		if err != nil || !ok || na.TargetAddress != ip || !na.Override || na.Solicited {
			return announcement{}, false
		}
		for _, o := range na.Options {
			if lla, ok := o.(*ndp.LinkLayerAddress); ok && lla.Direction == ndp.Target && bytes.Equal(lla.Addr, mac) {
				return announcement{ndpOK: true, hopLimit: b[7]}, true
			}
		}
	}
	return announcement{}, false
}

func (l *vipLab) mac(t *testing.T) net.HardwareAddr {
	t.Helper()
	out := l.node.IP(t, "-o", "link", "show", l.link.Here)
	i := strings.Index(out, "link/ether ")
	mac, err := net.ParseMAC(strings.Fields(out[i+len("link/ether "):])[0])
	if i < 0 || err != nil {
		t.Fatalf("no MAC in %q", out)
	}
	return mac
}

func countAnnouncements(frames [][]byte, ip netip.Addr, mac net.HardwareAddr) (n int, seen []announcement) {
	for _, f := range frames {
		if a, ok := parseAnnouncement(f, ip, mac); ok {
			seen = append(seen, a)
		}
	}
	return len(seen), seen
}

func TestVipAnnouncementsOnTheWire(t *testing.T) {
	l := newVipLab(t)
	mac := l.mac(t)
	cases := []struct {
		ip, mode, bg string
		count        int
	}{
		{"198.51.100.110", "request", "false", 3},
		{"198.51.100.111", "reply", "false", 4},
		{"198.51.100.112", "request", "", 3}, // IPv4 default: background
		{"2001:db8:1::110", "", "", 3},       // IPv6 default: foreground
		{"2001:db8:1::111", "", "true", 2},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s-%s-bg=%s", c.ip, c.mode, c.bg), func(t *testing.T) {
			ip := netip.MustParseAddr(c.ip)
			capt := lab.StartCapture(t, l.peer, l.link.There)
			p := map[string]string{"ip": c.ip, "nic": l.link.Here, "arp_count": fmt.Sprint(c.count), "arp_interval": "50"}
			if c.mode != "" {
				p["arp_mode"] = c.mode
			}
			if c.bg != "" {
				p["arp_bg"] = c.bg
			}
			// The peer still believes a previous owner has the address: the
			// announcement must make its kernel switch to this node.
			l.peer.IP(t, "neigh", "replace", c.ip, "lladdr", "02:00:5e:00:53:99", "dev", l.link.There, "nud", "stale")
			a := l.agent(p)
			a.Expect(t, 0, "start")
			capt.Wait(5*time.Second, func(f [][]byte) bool {
				n, _ := countAnnouncements(f, ip, mac)
				return n >= c.count
			})
			// Let any extra (wrong) frame arrive before counting exactly.
			time.Sleep(200 * time.Millisecond)
			frames := capt.Frames()
			n, seen := countAnnouncements(frames, ip, mac)
			if n != c.count {
				t.Fatalf("want %d announcements, got %d (of %d frames)", c.count, n, len(frames))
			}
			for _, s := range seen {
				switch {
				case ip.Is6() && (!s.ndpOK || s.hopLimit != 255):
					t.Errorf("bad neighbour advertisement: %+v", s)
				case ip.Is4() && c.mode == "reply" && s.arpOp != arp.OperationReply:
					t.Errorf("want ARP reply, got %v", s.arpOp)
				case ip.Is4() && c.mode != "reply" && s.arpOp != arp.OperationRequest:
					t.Errorf("want ARP request, got %v", s.arpOp)
				}
			}
			if neigh := l.peer.IP(t, "neigh", "show", c.ip, "dev", l.link.There); !strings.Contains(neigh, mac.String()) {
				t.Errorf("the peer's kernel did not take the announcement: %q", neigh)
			}
			a.Expect(t, 0, "stop")
		})
	}
}

func TestVipMonitorRefreshAndQuietProbe(t *testing.T) {
	l := newVipLab(t)
	mac := l.mac(t)
	ip := netip.MustParseAddr("198.51.100.120")
	a := l.agent(map[string]string{"ip": ip.String(), "nic": l.link.Here, "arp_count": "0", "arp_count_refresh": "2", "arp_interval": "20"})
	a.Expect(t, 0, "start")
	capt := lab.StartCapture(t, l.peer, l.link.There)
	a.Expect(t, 0, "monitor") // probe: changes and sends nothing
	time.Sleep(300 * time.Millisecond)
	if n, _ := countAnnouncements(capt.Frames(), ip, mac); n != 0 {
		t.Fatalf("a probe sent %d announcements", n)
	}
	a.Expect(t, 0, "monitor", "OCF_RESKEY_CRM_meta_interval=10000")
	frames := capt.Wait(3*time.Second, func(f [][]byte) bool { n, _ := countAnnouncements(f, ip, mac); return n >= 2 })
	if n, _ := countAnnouncements(frames, ip, mac); n != 2 {
		t.Fatalf("recurring monitor: want 2 refresh announcements, got %d", n)
	}
	a.Expect(t, 0, "stop")
}

// A prefix IPaddr2 refuses is refused: /0 everywhere (6); one shorter than
// the connected route covering ip would route other networks to this link,
// which is wrong on this node (2). A link-local address needs nic (6).
func TestVipRefusesPrefixes(t *testing.T) {
	l := newVipLab(t)
	for _, m := range []string{"0", "0.0.0.0"} {
		a := l.agent(map[string]string{"ip": "198.51.100.96", "nic": l.link.Here, "cidr_netmask": m, "arp_count": "0"})
		for _, action := range []string{"validate-all", "start"} {
			if r := a.Expect(t, 6, action); !strings.Contains(r.ExitReasons()[0], "out of range 1..32") {
				t.Errorf("cidr_netmask=%s %s: reason %q", m, action, r.ExitReasons())
			}
		}
	}
	for _, c := range []struct{ ip, nic, mask, route string }{
		{"198.51.100.96", "", "16", "198.51.100.0/24"},
		{"198.51.100.96", l.link.Here, "255.255.0.0", "198.51.100.0/24"},
		{"2001:db8:1::96", "", "48", "2001:db8:1::/64"},
		{"2001:db8:1::96", l.link.Here, "48", "2001:db8:1::/64"},
	} {
		a := l.agent(map[string]string{"ip": c.ip, "nic": c.nic, "cidr_netmask": c.mask, "arp_count": "0", "nodad": "true"})
		for _, action := range []string{"validate-all", "start"} {
			if r := a.Expect(t, 2, action); !strings.Contains(r.ExitReasons()[0], c.route) {
				t.Errorf("%s/%s nic=%q %s: reason %q lacks %s", c.ip, c.mask, c.nic, action, r.ExitReasons(), c.route)
			}
		}
		a.Expect(t, 7, "monitor")
		a.Expect(t, 0, "stop")
		if got := l.addrs(t, c.ip); len(got) != 0 {
			t.Fatalf("a refused start left %q", got)
		}
	}
	// As long as the route's, or longer, is what IPaddr2 takes.
	for _, mask := range []string{"24", "28", "32"} {
		a := l.agent(map[string]string{"ip": "198.51.100.97", "cidr_netmask": mask, "arp_count": "0"})
		a.Expect(t, 0, "start")
		a.Expect(t, 0, "stop")
	}

	ll := l.agent(map[string]string{"ip": "fe80::96", "cidr_netmask": "64", "nodad": "true", "arp_count": "0"})
	for _, action := range []string{"validate-all", "start"} {
		if r := ll.Expect(t, 6, action); !strings.Contains(r.ExitReasons()[0], "link-local") {
			t.Errorf("link-local without nic %s: reason %q", action, r.ExitReasons())
		}
	}
	ll.Params["nic"] = l.link.Here
	ll.Expect(t, 0, "start")
	ll.Expect(t, 0, "monitor")
	ll.Expect(t, 0, "stop")
}

// Stop removes only what start would have added: an administrator's copy
// of the address elsewhere (a /32 on lo) stays, and stop succeeds.
func TestVipStopLeavesOtherAssignments(t *testing.T) {
	l := newVipLab(t)
	for _, ip := range []string{"198.51.100.66", "203.0.113.66"} { // with and without a connected route
		l.node.IP(t, "addr", "add", ip+"/32", "dev", "lo")
		a := l.agent(map[string]string{"ip": ip, "arp_count": "0"})
		// Without a route vip cannot tell whether the /32 is its own.
		mon, st := 7, 1 // not on the interface start picks; already on lo
		if strings.HasPrefix(ip, "203.") {
			mon, st = 1, 2 // no route
		}
		a.Expect(t, mon, "monitor", "OCF_RESKEY_CRM_meta_interval=10000")
		a.Expect(t, st, "start")
		a.Expect(t, 0, "stop") // Pacemaker's recovery after the failed start
		if got := l.addrs(t, ip); len(got) != 1 || !strings.Contains(got[0], " lo ") {
			t.Fatalf("stop touched the address on lo: %q", got)
		}
	}

	// On the interface start picks, only the address with this resource's
	// prefix and label is its.
	l.node.IP(t, "addr", "add", "198.51.100.67/25", "dev", l.link.Here)
	a := l.agent(map[string]string{"ip": "198.51.100.67", "cidr_netmask": "24", "arp_count": "0"})
	a.Expect(t, 0, "stop")
	if got := l.addrs(t, "198.51.100.67"); len(got) != 1 {
		t.Fatalf("stop removed another prefix: %q", got)
	}
	l.node.IP(t, "addr", "del", "198.51.100.67/25", "dev", l.link.Here)
	l.node.IP(t, "addr", "add", "198.51.100.67/24", "dev", l.link.Here, "label", l.link.Here+":adm")
	a.Params["iflabel"] = "vip"
	a.Expect(t, 7, "monitor", "OCF_RESKEY_CRM_meta_interval=10000")
	a.Expect(t, 1, "start")
	a.Expect(t, 0, "stop")
	if got := l.addrs(t, "198.51.100.67"); len(got) != 1 || !strings.Contains(got[0], l.link.Here+":adm") {
		t.Fatalf("stop removed an address with another label: %q", got)
	}
	a.Params["iflabel"] = "adm"
	a.Expect(t, 0, "monitor", "OCF_RESKEY_CRM_meta_interval=10000")
	a.Expect(t, 0, "stop")
	if got := l.addrs(t, "198.51.100.67"); len(got) != 0 {
		t.Fatalf("stop left %q", got)
	}
}

// A probe says "not running" only when the address is known to be absent;
// when the routes no longer tell where this resource put it and it is
// there, "not running" would let Pacemaker start it on a second node.
func TestVipProbeDoesNotGuessNotRunning(t *testing.T) {
	l := newVipLab(t)
	a := l.agent(map[string]string{"ip": "198.51.100.62", "arp_count": "0"})
	a.Expect(t, 0, "start")
	other := lab.NewNetns(t)
	l2 := lab.Veth(t, l.node, other)
	l.node.IP(t, "addr", "add", "198.51.100.201/24", "dev", l2.Here)
	for _, env := range [][]string{nil, {"OCF_RESKEY_CRM_meta_interval=10000"}} {
		r := a.Expect(t, 1, "monitor", env...)
		if !strings.Contains(r.ExitReasons()[0], "198.51.100.62/24 on "+l.link.Here+" is up") {
			t.Errorf("reason should say where the address is: %q", r.ExitReasons())
		}
	}
	// Absent from every interface: known not running, ambiguity or not.
	l.agent(map[string]string{"ip": "198.51.100.63"}).Expect(t, 7, "monitor")
	// Recovery: stop removes it from the interface start picked, one of
	// the tied ones.
	a.Expect(t, 0, "stop")
	if got := l.addrs(t, "198.51.100.62"); len(got) != 0 {
		t.Fatalf("stop left %q", got)
	}
	a.Expect(t, 7, "monitor")

	// A /32 started on the interface of 198.51.100.0/24, whose network
	// address is then removed: no route covers it any more, yet it is up.
	l = newVipLab(t)
	a = l.agent(map[string]string{"ip": "198.51.100.64", "cidr_netmask": "32", "arp_count": "0"})
	a.Expect(t, 0, "start")
	l.node.IP(t, "addr", "del", "198.51.100.1/24", "dev", l.link.Here)
	if got := l.addrs(t, "198.51.100.64"); len(got) != 1 {
		t.Fatalf("want the /32 still up, got %q", got)
	}
	a.Expect(t, 1, "monitor")
	l.agent(map[string]string{"ip": "198.51.100.65", "cidr_netmask": "32"}).Expect(t, 7, "monitor")
}

// TestVipStartRefusesDeadLink: with check_link_status, start on a link
// without carrier (the cable pulled) fails and leaves nothing, as the
// monitor would fail at once; Pacemaker then moves the address instead of
// restarting it on the cut-off node again and again.
func TestVipStartRefusesDeadLink(t *testing.T) {
	l := newVipLab(t)
	params := map[string]string{"ip": "198.51.100.81", "nic": l.link.Here, "cidr_netmask": "24", "arp_count": "0"}
	a := l.agent(params)
	l.peer.IP(t, "link", "set", l.link.There, "down")
	r := a.Expect(t, 1, "start")
	if len(r.ExitReasons()) != 1 || !strings.Contains(r.ExitReasons()[0], "no carrier") {
		t.Errorf("start on a dead link should say so: %q", r.ExitReasons())
	}
	if got := l.addrs(t, "198.51.100.81"); len(got) != 0 {
		t.Errorf("failed start left %q", got)
	}
	a.Expect(t, 0, "stop")
	params["check_link_status"] = "false"
	a.Expect(t, 0, "start")
	a.Expect(t, 0, "stop")
	params["check_link_status"] = "true"
	l.peer.IP(t, "link", "set", l.link.There, "up")
	a.Expect(t, 0, "start")
	a.Expect(t, 0, "monitor", "OCF_RESKEY_CRM_meta_interval=10000")
	a.Expect(t, 0, "stop")
}
