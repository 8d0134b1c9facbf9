package vip

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/gocf/gocf/pkg/ocf"
)

// dotted renders an IPv4 prefix length as a netmask.
func dotted(n int) string {
	m := ^uint32(0) << (32 - n)
	return fmt.Sprintf("%d.%d.%d.%d", byte(m>>24), byte(m>>16), byte(m>>8), byte(m))
}

// FuzzPrefixLen: an accepted cidr_netmask is a prefix length the address
// can have, /0 never, and reads the same again written either way.
func FuzzPrefixLen(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string, v6 bool) {
		ip := netip.MustParseAddr("198.51.100.10")
		if v6 {
			ip = netip.MustParseAddr("2001:db8::10")
		}
		n, err := parsePrefixLen(s, ip)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "parameter cidr_netmask: ") {
				t.Errorf("%q: error %q does not name the parameter", s, err)
			}
			return
		}
		if n < 1 || n > ip.BitLen() {
			t.Fatalf("%q accepted as /%d for %s", s, n, ip)
		}
		if back, err := parsePrefixLen(strconv.Itoa(n), ip); err != nil || back != n {
			t.Errorf("%q: /%d does not read back as %d: %d %v", s, n, n, back, err)
		}
		if ip.Is4() {
			if back, err := parsePrefixLen(dotted(n), ip); err != nil || back != n {
				t.Errorf("%q: /%d does not read back from %s: %d %v", s, n, dotted(n), back, err)
			}
		}
		if d, err := strconv.Atoi(s); err == nil && d != n {
			t.Errorf("%q read as /%d", s, n)
		}
	})
}

// FuzzConfig: whatever ip, nic (nic:label), cidr_netmask, broadcast and
// iflabel hold, the configuration check does not panic, and what it
// accepts is an address vip can add as configured.
func FuzzConfig(f *testing.F) {
	f.Fuzz(func(t *testing.T, ip, nic, mask, brd, iflabel string) {
		env := []string{"OCF_RESKEY_ip=" + ip, "OCF_RESKEY_nic=" + nic, "OCF_RESKEY_cidr_netmask=" + mask,
			"OCF_RESKEY_broadcast=" + brd, "OCF_RESKEY_iflabel=" + iflabel}
		r, errs := ocf.Prepare(Agent(), "start", env)
		if len(errs) > 0 {
			return
		}
		c := ocf.Config[config](r)
		if !c.ip.IsValid() || c.ip.Zone() != "" || c.ip.Is4In6() || c.ip.IsUnspecified() || c.ip.IsMulticast() || c.ip.IsLoopback() {
			t.Fatalf("ip %q accepted as %v", ip, c.ip)
		}
		if back, err := netip.ParseAddr(c.ip.String()); err != nil || back != c.ip {
			t.Errorf("ip %v does not read back: %v %v", c.ip, back, err)
		}
		if c.prefix != -1 && (c.prefix < 1 || c.prefix > c.ip.BitLen()) {
			t.Fatalf("cidr_netmask %q accepted as /%d for %v", mask, c.prefix, c.ip)
		}
		if c.prefix == -1 && strings.TrimSpace(mask) != "" {
			t.Errorf("cidr_netmask %q ignored", mask)
		}
		if c.nic != "" && !validIfName(c.nic) {
			t.Errorf("nic %q accepted as %q", nic, c.nic)
		}
		if c.ip.Is6() && c.ip.IsLinkLocalUnicast() && c.nic == "" {
			t.Errorf("link-local %v accepted without nic", c.ip)
		}
		if c.label != "" {
			if len(c.label) > ifNameMax || !strings.HasPrefix(c.label, c.nic+":") || len(c.label) == len(c.nic)+1 || c.ip.Is6() {
				t.Errorf("label %q (nic %q, iflabel %q) accepted as %q for %v", nic, c.nic, iflabel, c.label, c.ip)
			}
		}
		if c.ip.Is6() && (c.broadcast != "" || c.label != "" || c.iflabel != "") {
			t.Errorf("IPv6 %v with broadcast %q, label %q, iflabel %q", c.ip, c.broadcast, c.label, c.iflabel)
		}
		for bits := range c.ip.BitLen() + 1 {
			if c.prefix >= 0 && bits != c.prefix {
				continue
			}
			b := broadcastFor(c.broadcast, netip.PrefixFrom(c.ip, bits))
			if b.IsValid() && (!b.Is4() || c.ip.Is6()) {
				t.Errorf("broadcast %q for %v/%d gives %v", c.broadcast, c.ip, bits, b)
			}
			if (c.broadcast == "+" || c.broadcast == "-") && !netip.PrefixFrom(c.ip, bits).Contains(b) {
				t.Errorf("broadcast %q of %v/%d is %v, outside the network", c.broadcast, c.ip, bits, b)
			}
		}
	})
}
