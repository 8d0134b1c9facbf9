package vip

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/gocf/gocf/pkg/announce"
	"github.com/gocf/gocf/pkg/ocf"
)

// ifNameMax is IFNAMSIZ without the terminating NUL; labels share it.
const ifNameMax = 15

// config is the instance configuration, checked without looking at the node.
type config struct {
	ip          netip.Addr
	nic         string // "" to autodetect
	label       string // full label (eth0:x); computed later when nic is autodetected
	iflabel     string
	prefix      int // -1: from the connected route
	broadcast   string
	arpCount    int
	arpInterval time.Duration
	arpRefresh  int
	arpBG       bool
	arpMode     announce.Mode
	nodad       bool
	noprefix    bool
	prefLft     int // -1: forever
	checkLink   bool
}

// validIfName follows the kernel's dev_valid_name.
func validIfName(s string) bool {
	return s != "" && s != "." && s != ".." && len(s) <= ifNameMax && !strings.ContainsAny(s, "/: \t\n")
}

func parseConfig(r *ocf.Request) (config, error) {
	p := r.Params
	c := config{
		prefix:      -1,
		broadcast:   p.String("broadcast"),
		iflabel:     p.String("iflabel"),
		arpCount:    int(p.Int("arp_count")),
		arpInterval: time.Duration(p.Int("arp_interval")) * time.Millisecond,
		arpRefresh:  int(p.Int("arp_count_refresh")),
		arpMode:     announce.Mode(p.String("arp_mode")),
		nodad:       p.Bool("nodad"),
		noprefix:    p.Bool("noprefixroute"),
		checkLink:   p.Bool("check_link_status"),
	}
	ip, err := netip.ParseAddr(strings.TrimSpace(p.String("ip")))
	if err != nil || ip.Zone() != "" {
		return c, fmt.Errorf("parameter ip: %q is not an IPv4 or IPv6 address", p.String("ip"))
	}
	if ip.Is4In6() {
		return c, fmt.Errorf("parameter ip: %s is an IPv4-mapped IPv6 address; give the IPv4 address", ip)
	}
	if ip.IsUnspecified() || ip.IsMulticast() || ip.IsLoopback() || ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return c, fmt.Errorf("parameter ip: %s cannot be a virtual address (unspecified, multicast, loopback or broadcast)", ip)
	}
	c.ip = ip

	if nic := p.String("nic"); nic != "" {
		base, label, hasLabel := strings.Cut(nic, ":")
		if !validIfName(base) {
			return c, fmt.Errorf("parameter nic: %q is not an interface name", nic)
		}
		c.nic = base
		if hasLabel {
			if label == "" {
				return c, fmt.Errorf("parameter nic: %q has an empty label", nic)
			}
			c.label = nic
		}
	}
	// Every link has fe80::/64: only nic can say which one is meant.
	if ip.Is6() && ip.IsLinkLocalUnicast() && c.nic == "" {
		return c, fmt.Errorf("parameter ip: %s is a link-local address, which exists on every link: set nic", ip)
	}
	if c.label == "" && c.iflabel != "" && c.nic != "" {
		c.label = c.nic + ":" + c.iflabel
	}
	if c.label != "" || c.iflabel != "" {
		if ip.Is6() {
			return c, errors.New("labels (iflabel, nic:label) exist only for IPv4 addresses")
		}
		if len(c.label) > ifNameMax {
			return c, fmt.Errorf("label %q is longer than %d characters", c.label, ifNameMax)
		}
		if strings.ContainsAny(c.iflabel, " \t/") {
			return c, fmt.Errorf("parameter iflabel: %q contains blanks or slashes", c.iflabel)
		}
	}

	if m := strings.TrimSpace(p.String("cidr_netmask")); m != "" {
		c.prefix, err = parsePrefixLen(m, ip)
		if err != nil {
			return c, err
		}
	}

	switch b := c.broadcast; {
	case b == "":
	case ip.Is6():
		return c, errors.New("parameter broadcast: IPv6 has no broadcast address; leave it empty")
	case b == "+" || b == "-":
	default:
		if a, err := netip.ParseAddr(b); err != nil || !a.Is4() {
			return c, fmt.Errorf("parameter broadcast: %q is not an IPv4 address, '+' or '-'", b)
		}
	}

	switch bg := p.String("arp_bg"); bg {
	case "":
		c.arpBG = ip.Is4()
	default:
		v, ok := ocf.ParseBool(bg)
		if !ok {
			return c, fmt.Errorf("parameter arp_bg: %q is not a boolean", bg)
		}
		c.arpBG = v
	}

	switch lft := strings.TrimSpace(p.String("preferred_lft")); lft {
	case "", "forever":
		c.prefLft = -1
	default:
		n, err := strconv.ParseUint(lft, 10, 32)
		if err != nil || n >= 0xFFFFFFFF {
			return c, fmt.Errorf("parameter preferred_lft: %q is neither a number of seconds nor forever", lft)
		}
		c.prefLft = int(n)
	}
	return c, nil
}

// parsePrefixLen reads "24" or, for IPv4, "255.255.255.0". A /0 address
// would claim every address as on-link; IPaddr2 refuses it too.
func parsePrefixLen(s string, ip netip.Addr) (int, error) {
	outOfRange := func(n int) error {
		return fmt.Errorf("parameter cidr_netmask: %s is /%d, out of range 1..%d", s, n, ip.BitLen())
	}
	if s != "" && strings.Trim(s, "0123456789") == "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > ip.BitLen() {
			return 0, fmt.Errorf("parameter cidr_netmask: %s is out of range 1..%d", s, ip.BitLen())
		}
		return n, nil
	}
	if m, err := netip.ParseAddr(s); err == nil && m.Is4() && ip.Is4() {
		b := m.As4()
		v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		ones := 0
		for v&0x80000000 != 0 {
			ones++
			v <<= 1
		}
		switch {
		case v != 0:
		case ones == 0:
			return 0, outOfRange(0)
		default:
			return ones, nil
		}
	}
	return 0, fmt.Errorf("parameter cidr_netmask: %q is not a prefix length", s)
}

// broadcastFor computes the broadcast address for prefix from the setting.
func broadcastFor(setting string, prefix netip.Prefix) netip.Addr {
	if !prefix.Addr().Is4() {
		return netip.Addr{}
	}
	if setting == "" {
		if prefix.Bits() > 30 {
			return netip.Addr{}
		}
		setting = "+"
	}
	if setting != "+" && setting != "-" {
		a, _ := netip.ParseAddr(setting)
		return a
	}
	b := prefix.Masked().Addr().As4()
	if setting == "+" {
		host := ^uint32(0) >> prefix.Bits()
		v := (uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])) | host
		b = [4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
	}
	return netip.AddrFrom4(b)
}

// check is the agent's configuration check, run before every action.
func check(r *ocf.Request) (any, error) {
	if r.Meta.Int("clone_max", 1) > 1 {
		return nil, errors.New("vip cannot be cloned: IPaddr2's CLUSTERIP clone mode is deprecated and not supported")
	}
	return parseConfig(r)
}
