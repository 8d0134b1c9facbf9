package testbed

import (
	"fmt"
	"strings"
	"time"
)

// The network: namespace gtb-sw holds two bridges (no address, nothing in the host's own
// namespace is touched): gtbbr0, the LAN (198.51.100.0/24: clients, the VIP, one corosync
// link), and gtbbr1, the ring (203.0.113.0/24: nodes only; DRBD's replication and corosync's
// preferred link, as a back-to-back cable between two PBX servers). Each ns node has two veth
// pairs: eth0 in its namespace with gtbvN in gtb-sw on the LAN, eth1 with gtbrN on the ring;
// the client has one (gtbvc, LAN). In vm mode each VM has two taps in gtb-sw, gtbtapN (LAN)
// and gtbrtapN (ring) (qemu runs in gtb-sw to open them).

// Links a cable pull can hit.
const (
	LinkLAN  = "lan"
	LinkRing = "ring"
	LinkAll  = "all"
)

func (b *Bed) portName(n string) string { return b.port(n, LinkLAN) }

// port is the bridge-side name of node n's link (LinkLAN or LinkRing).
func (b *Bed) port(n, link string) string {
	switch {
	case b.st.Mode == "vm" && link == LinkRing:
		return fmt.Sprintf("gtbrtap%d", nodeIndex(n))
	case b.st.Mode == "vm":
		return fmt.Sprintf("gtbtap%d", nodeIndex(n))
	case link == LinkRing:
		return fmt.Sprintf("gtbr%d", nodeIndex(n))
	}
	return fmt.Sprintf("gtbv%d", nodeIndex(n))
}

// links returns the links a cable name stands for.
func links(which string) ([]string, error) {
	switch which {
	case LinkLAN, LinkRing:
		return []string{which}, nil
	case LinkAll, "":
		return []string{LinkLAN, LinkRing}, nil
	}
	return nil, fmt.Errorf("cable %q: want lan, ring or all", which)
}

func ip(args ...string) error {
	_, err := run(15*time.Second, append([]string{"ip"}, args...)...)
	return err
}

func (b *Bed) netUp() error {
	steps := [][]string{
		{"netns", "add", SwitchNS},
		{"-n", SwitchNS, "link", "set", "lo", "up"},
		{"-n", SwitchNS, "link", "add", Bridge, "type", "bridge", "forward_delay", "0"},
		{"-n", SwitchNS, "link", "set", Bridge, "up"},
		{"-n", SwitchNS, "link", "add", RingBridge, "type", "bridge", "forward_delay", "0"},
		{"-n", SwitchNS, "link", "set", RingBridge, "up"},
		{"netns", "add", ClientNS},
		{"-n", ClientNS, "link", "set", "lo", "up"},
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			return err
		}
	}
	if err := b.plugVeth(ClientNS, "gtbvc", NodeIface, Bridge, ClientIP); err != nil {
		return err
	}
	for _, n := range b.st.Nodes {
		if b.st.Mode == "ns" {
			if err := ip("netns", "add", nodeNS(n)); err != nil {
				return err
			}
			if err := ip("-n", nodeNS(n), "link", "set", "lo", "up"); err != nil {
				return err
			}
		}
		if err := b.plugNode(n); err != nil {
			return err
		}
	}
	return nil
}

// plugVeth makes a veth pair: iface with addr in namespace ns, port on bridge.
func (b *Bed) plugVeth(ns, port, iface, bridge, addr string) error {
	tmp := port + "x"
	steps := [][]string{
		{"link", "add", tmp, "netns", ns, "type", "veth", "peer", "name", port, "netns", SwitchNS},
		{"-n", ns, "link", "set", tmp, "name", iface},
		{"-n", SwitchNS, "link", "set", port, "master", bridge, "up"},
		{"-n", ns, "addr", "add", addr + "/24", "dev", iface},
		{"-n", ns, "link", "set", iface, "up"},
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			return err
		}
	}
	return nil
}

// plugNode (re)creates the node's two ports: fresh veths (ns) or taps (vm).
func (b *Bed) plugNode(n string) error {
	if b.st.Mode == "ns" {
		if err := b.plugVeth(nodeNS(n), b.port(n, LinkLAN), NodeIface, Bridge, NodeIP(n)); err != nil {
			return err
		}
		return b.plugVeth(nodeNS(n), b.port(n, LinkRing), RingIface, RingBridge, RingIP(n))
	}
	for link, br := range map[string]string{LinkLAN: Bridge, LinkRing: RingBridge} {
		tap := b.port(n, link)
		for _, s := range [][]string{
			{"-n", SwitchNS, "tuntap", "add", "dev", tap, "mode", "tap"},
			{"-n", SwitchNS, "link", "set", tap, "master", br, "up"},
		} {
			if err := ip(s...); err != nil {
				return err
			}
		}
	}
	return nil
}

// unplugNode deletes the node's ports and with them every address and route on them.
func (b *Bed) unplugNode(n string) {
	_ = ip("-n", SwitchNS, "link", "del", b.port(n, LinkLAN))
	_ = ip("-n", SwitchNS, "link", "del", b.port(n, LinkRing))
}

func (b *Bed) netDown() {
	out, _ := run(10*time.Second, "ip", "netns", "list")
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) > 0 && strings.HasPrefix(f[0], "gtb-") {
			// deleting a namespace destroys its veths, taps and bridge
			if err := ip("netns", "del", f[0]); err != nil {
				b.logf("%v", err)
			}
		}
	}
}
