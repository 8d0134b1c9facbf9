// Package vip is the gocf virtual IP agent, a drop-in for
// ocf:heartbeat:IPaddr2: same parameter names and meanings, netlink instead
// of ip(8), announcements sent natively.
package vip

import (
	"context"
	"time"

	"github.com/gocf/gocf/pkg/announce"
	"github.com/gocf/gocf/pkg/ipaddr"
	"github.com/gocf/gocf/pkg/ocf"
)

const helperAnnounce = "announce-helper"

// node is how the actions reach this node: netlink, the wire, and the
// detached announcer. Unit tests replace it (recorded netlink, no wire).
type node struct {
	open     func() (*ipaddr.Host, error)
	announce func(context.Context, announce.Plan) (int, error)
	spawn    func(r *ocf.Request, args ...string) error
}

// Agent returns the vip agent's declaration.
func Agent() *ocf.Agent {
	return agentOn(node{open: ipaddr.Open, announce: announce.Send, spawn: spawn})
}

func spawn(r *ocf.Request, args ...string) error {
	_, err := r.Spawn(helperAnnounce, args...)
	return err
}

func agentOn(n node) *ocf.Agent {
	a := &agent{n}
	return &ocf.Agent{
		Name:    "vip",
		Version: ocf.BuildVersion,
		Short:   "Manages a virtual IPv4 or IPv6 address (drop-in for IPaddr2)",
		Long: `Adds a virtual IPv4 or IPv6 address to a network interface, removes it,
and monitors it. After adding the address it announces it to the
neighbours (gratuitous ARP for IPv4, unsolicited neighbour advertisements
for IPv6) so that traffic follows the address to this node at once.

It takes the parameters of ocf:heartbeat:IPaddr2 with the same meanings, so a
resource can switch agents by changing ocf:heartbeat:IPaddr2 to ocf:gocf:vip.
It uses netlink directly and forks no program. IPaddr2's deprecated
CLUSTERIP clone mode (and its options lvs_support, mac, clusterip_hash,
unique_clone_address) is not supported: vip cannot be cloned.`,
		Params: params,
		Actions: []ocf.Action{
			{Name: "start", Timeout: 20 * time.Second, Run: a.withSession((*session).start)},
			{Name: "stop", Timeout: 20 * time.Second, Run: a.withSession((*session).stop)},
			{Name: "monitor", Timeout: 20 * time.Second, Interval: 10 * time.Second, Run: a.withSession((*session).monitor)},
			// As IPaddr2's: is the address here (a probe: no ARP refresh).
			{Name: "status", Timeout: 20 * time.Second},
			{Name: "meta-data", Timeout: 5 * time.Second},
			{Name: "validate-all", Timeout: 20 * time.Second},
		},
		Check:    check,
		Validate: a.withSession((*session).validate),
		Helpers:  []ocf.Helper{{Name: helperAnnounce, Timeout: 10 * time.Minute, Run: a.announceHelper}},
	}
}

var params = []ocf.Param{
	{Name: "ip", Type: ocf.String, Required: true, Unique: true,
		Short: "IPv4 or IPv6 address",
		Long: `The virtual address, IPv4 in dotted quad notation (198.51.100.10) or IPv6
(2001:db8::10). Without prefix: the prefix length goes in cidr_netmask.`},
	{Name: "nic", Type: ocf.String,
		Short: "Network interface",
		Long: `The interface to add the address to. If empty, the interface whose directly
connected route covers ip with the longest prefix is chosen (as IPaddr2's
findif does); none or several such interfaces is an error. Required for an
IPv6 link-local address (fe80::/10). The deprecated form nic:label
(eth0:vip) sets the label as iflabel would.`},
	{Name: "cidr_netmask", Type: ocf.String,
		Short: "CIDR netmask",
		Long: `The prefix length of the address (24, not 255.255.255.0; a dotted IPv4 mask
is accepted too), from 1 to 32 or 128, and not shorter than that of the
connected route covering ip on the interface (which would route other
networks to it). If empty, it is taken from that route.`},
	{Name: "broadcast", Type: ocf.String,
		Short: "Broadcast address",
		Long: `IPv4 broadcast address of the address: an address, or '+' (host bits set) or
'-' (host bits cleared). If empty, '+' is used for prefixes up to /30.
Must be empty for IPv6.`},
	{Name: "iflabel", Type: ocf.String,
		Short: "Interface label",
		Long: `IPv4 only: a label for the address, appended to the interface name
(eth0:iflabel). Interface name, colon and label together may have at most
15 characters. A label given in nic takes precedence.`},
	{Name: "arp_count", Type: ocf.Integer, Reloadable: true, Default: "5", Bounds: &ocf.Range{Min: 0, Max: 1000},
		Short: "ARP/NA packet count sent at start",
		Long:  `Number of gratuitous ARP (IPv4) or unsolicited neighbour advertisement (IPv6) packets sent after the address is added. 0 sends none.`},
	{Name: "arp_interval", Type: ocf.Integer, Reloadable: true, Default: "200", Bounds: &ocf.Range{Min: 1, Max: 60000},
		Short: "ARP/NA packet interval in ms",
		Long:  `Milliseconds between two announcements.`},
	{Name: "arp_count_refresh", Type: ocf.Integer, Reloadable: true, Default: "0", Bounds: &ocf.Range{Min: 0, Max: 1000},
		Short: "ARP packet count sent during monitoring",
		Long: `IPv4 only: number of gratuitous ARP packets sent at each recurring monitor,
to heal stale ARP caches after a split brain. Probes send none.`},
	{Name: "arp_bg", Type: ocf.String, Reloadable: true,
		Short: "Send ARP/NA packets in the background",
		Long: `Whether start returns at once and a detached child of the agent sends the
announcements (true), or start sends them before returning (false). Empty
means true for IPv4 and false for IPv6, as in IPaddr2. Stop ends a
background sender that is still running.`},
	{Name: "arp_mode", Type: ocf.String, Reloadable: true, Default: "request", Choices: []string{"request", "reply"},
		Short: "ARP operation of IPv4 announcements",
		Long: `Send IPv4 announcements as ARP requests (RFC 5227 announcement) or as ARP
replies: some switches learn only from replies. This replaces IPaddr2's
send_arp_opts=-A.`},
	{Name: "nodad", Type: ocf.Boolean, Default: "false",
		Short: "Skip IPv6 duplicate address detection",
		Long: `IPv6 only: add the address without duplicate address detection. Otherwise
start waits for detection to finish and fails if another node owns the
address.`},
	{Name: "noprefixroute", Type: ocf.Boolean, Default: "false",
		Short: "Use the noprefixroute flag",
		Long:  `Add the address without the kernel's automatic prefix route (see ip-address(8)).`},
	{Name: "preferred_lft", Type: ocf.String, Default: "forever",
		Short: "Preferred lifetime of the address",
		Long: `Preferred lifetime in seconds, or forever. 0 keeps the address from being
chosen as source address of outgoing connections (RFC 4862 section 5.5.4).
The valid lifetime is always forever.`},
	{Name: "check_link_status", Type: ocf.Boolean, Reloadable: true, Default: "true",
		Short: "Fail the monitor when the link is down",
		Long: `If true, monitor reports the resource not running when the interface is
down or has no carrier, so the cluster moves the address to a node whose
link works.`},
}
