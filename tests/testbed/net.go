package testbed

import (
	"fmt"
	"strings"
	"time"
)

// The network: namespace gtb-sw holds bridge gtbbr0 (no address, nothing in the host's own
// namespace is touched). Each ns node and the client have a veth pair: eth0 in their
// namespace, gtbvN / gtbvc in gtb-sw on the bridge. In vm mode each VM has a tap gtbtapN in
// gtb-sw (qemu runs in gtb-sw to open it).

func (b *Bed) portName(n string) string {
	if b.st.Mode == "vm" {
		return fmt.Sprintf("gtbtap%d", nodeIndex(n))
	}
	return fmt.Sprintf("gtbv%d", nodeIndex(n))
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
		{"netns", "add", ClientNS},
		{"-n", ClientNS, "link", "set", "lo", "up"},
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			return err
		}
	}
	if err := b.plugVeth(ClientNS, "gtbvc", ClientIP); err != nil {
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

// plugVeth makes a veth pair: eth0 with addr in namespace ns, port on the bridge.
func (b *Bed) plugVeth(ns, port, addr string) error {
	tmp := port + "x"
	steps := [][]string{
		{"link", "add", tmp, "netns", ns, "type", "veth", "peer", "name", port, "netns", SwitchNS},
		{"-n", ns, "link", "set", tmp, "name", NodeIface},
		{"-n", SwitchNS, "link", "set", port, "master", Bridge, "up"},
		{"-n", ns, "addr", "add", addr + "/24", "dev", NodeIface},
		{"-n", ns, "link", "set", NodeIface, "up"},
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			return err
		}
	}
	return nil
}

// plugNode (re)creates the node's port: a fresh veth (ns) or tap (vm).
func (b *Bed) plugNode(n string) error {
	if b.st.Mode == "ns" {
		return b.plugVeth(nodeNS(n), b.portName(n), NodeIP(n))
	}
	tap := b.portName(n)
	for _, s := range [][]string{
		{"-n", SwitchNS, "tuntap", "add", "dev", tap, "mode", "tap"},
		{"-n", SwitchNS, "link", "set", tap, "master", Bridge, "up"},
	} {
		if err := ip(s...); err != nil {
			return err
		}
	}
	return nil
}

// unplugNode deletes the node's port and with it every address and route on it.
func (b *Bed) unplugNode(n string) {
	_ = ip("-n", SwitchNS, "link", "del", b.portName(n))
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
