// Package ipaddr manages IP addresses on Linux interfaces over netlink:
// choosing the interface for an address the way resource-agents' findif
// does, adding and removing addresses, and waiting for IPv6 duplicate
// address detection.
package ipaddr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ErrNoRoute and ErrAmbiguous are the two ways autodetection fails.
var (
	ErrNoRoute   = errors.New("no connected route covers the address")
	ErrAmbiguous = errors.New("connected routes on several interfaces cover the address")
)

// Family returns the netlink address family of ip.
func Family(ip netip.Addr) int {
	if ip.Is4() {
		return netlink.FAMILY_V4
	}
	return netlink.FAMILY_V6
}

// Candidate is an interface that can carry an address, with the prefix
// length of the connected route that covers it.
type Candidate struct {
	Link   string
	Prefix int
}

// FindInterface picks the interface whose directly connected route (no
// gateway, main table) covers ip with the longest prefix. If onlyLink is
// set, only routes via that interface count. Several interfaces tied on the
// longest prefix are ambiguous.
func FindInterface(ip netip.Addr, onlyLink string) (Candidate, error) {
	filter := &netlink.Route{Table: unix.RT_TABLE_MAIN}
	mask := uint64(netlink.RT_FILTER_TABLE)
	if onlyLink != "" {
		l, err := netlink.LinkByName(onlyLink)
		if err != nil {
			return Candidate{}, err
		}
		filter.LinkIndex = l.Attrs().Index
		mask |= netlink.RT_FILTER_OIF
	}
	routes, err := netlink.RouteListFiltered(Family(ip), filter, mask)
	if err != nil {
		return Candidate{}, fmt.Errorf("listing routes: %w", err)
	}
	best, bestLinks := -1, map[int]bool{}
	for _, rt := range routes {
		if rt.Dst == nil || rt.Gw != nil || len(rt.MultiPath) > 0 || rt.Type != unix.RTN_UNICAST {
			continue
		}
		pfx, ok := prefixOf(rt.Dst)
		if !ok || !pfx.Contains(ip) || pfx.Bits() == 0 {
			continue
		}
		switch {
		case pfx.Bits() > best:
			best, bestLinks = pfx.Bits(), map[int]bool{rt.LinkIndex: true}
		case pfx.Bits() == best:
			bestLinks[rt.LinkIndex] = true
		}
	}
	if best < 0 {
		return Candidate{}, ErrNoRoute
	}
	if len(bestLinks) > 1 {
		return Candidate{}, ErrAmbiguous
	}
	for idx := range bestLinks {
		l, err := netlink.LinkByIndex(idx)
		if err != nil {
			return Candidate{}, err
		}
		return Candidate{Link: l.Attrs().Name, Prefix: best}, nil
	}
	panic("unreachable")
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones), true
}

// Assigned is an address found on an interface.
type Assigned struct {
	Link   string
	Prefix netip.Prefix
	Label  string
	Flags  int
}

// Tentative and DADFailed read the IPv6 duplicate address detection state.
func (a Assigned) Tentative() bool { return a.Flags&unix.IFA_F_TENTATIVE != 0 }

// DADFailed tells whether another node answered for the address.
func (a Assigned) DADFailed() bool { return a.Flags&unix.IFA_F_DADFAILED != 0 }

// Find returns every assignment of ip on any interface, in one netlink dump.
func Find(ip netip.Addr) ([]Assigned, error) {
	addrs, err := netlink.AddrList(nil, Family(ip))
	if err != nil {
		return nil, fmt.Errorf("listing addresses: %w", err)
	}
	var out []Assigned
	names := map[int]string{}
	for _, a := range addrs {
		p, ok := prefixOf(a.IPNet)
		if !ok || p.Addr() != ip {
			continue
		}
		name, ok := names[a.LinkIndex]
		if !ok {
			l, err := netlink.LinkByIndex(a.LinkIndex)
			if err != nil {
				continue // the link went away meanwhile
			}
			name = l.Attrs().Name
			names[a.LinkIndex] = name
		}
		out = append(out, Assigned{Link: name, Prefix: p, Label: a.Label, Flags: a.Flags})
	}
	return out, nil
}

// Spec is an address to add.
type Spec struct {
	Link          string
	Prefix        netip.Prefix
	Label         string     // IPv4 only
	Broadcast     netip.Addr // IPv4 only; invalid for none
	NoDAD         bool
	NoPrefixRoute bool
	// PreferredLft in seconds; negative means forever.
	PreferredLft int
}

// forever is the kernel's infinite address lifetime.
const forever = 0xFFFFFFFF

// Add brings the link up and adds the address.
func Add(s Spec) error {
	l, err := netlink.LinkByName(s.Link)
	if err != nil {
		return err
	}
	if l.Attrs().Flags&net.FlagUp == 0 {
		if err := netlink.LinkSetUp(l); err != nil {
			return fmt.Errorf("bringing %s up: %w", s.Link, err)
		}
	}
	a := &netlink.Addr{
		IPNet: &net.IPNet{IP: s.Prefix.Addr().AsSlice(), Mask: net.CIDRMask(s.Prefix.Bits(), s.Prefix.Addr().BitLen())},
		Label: s.Label,
	}
	if s.Broadcast.IsValid() {
		a.Broadcast = s.Broadcast.AsSlice()
	}
	if s.NoDAD {
		a.Flags |= unix.IFA_F_NODAD
	}
	if s.NoPrefixRoute {
		a.Flags |= unix.IFA_F_NOPREFIXROUTE
	}
	if s.PreferredLft >= 0 {
		a.PreferedLft, a.ValidLft = s.PreferredLft, forever
	}
	return netlink.AddrAdd(l, a)
}

// Remove deletes ip/bits from link. An address already gone is no error.
func Remove(link string, p netip.Prefix) error {
	l, err := netlink.LinkByName(link)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return err
	}
	a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
	if err := netlink.AddrDel(l, a); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) && !errors.Is(err, unix.ENOENT) {
		return err
	}
	return nil
}

// ErrDuplicate means IPv6 duplicate address detection found another owner.
var ErrDuplicate = errors.New("duplicate address detection failed: another node uses this address")

// WaitDAD waits until ip on link has left the tentative state. It listens
// to address events instead of polling, and ends with ctx.
func WaitDAD(ctx context.Context, link string, ip netip.Addr) error {
	l, err := netlink.LinkByName(link)
	if err != nil {
		return err
	}
	idx := l.Attrs().Index
	updates := make(chan netlink.AddrUpdate, 64)
	done := make(chan struct{})
	defer close(done)
	if err := netlink.AddrSubscribeWithOptions(updates, done, netlink.AddrSubscribeOptions{}); err != nil {
		return fmt.Errorf("subscribing to address events: %w", err)
	}
	// Check after subscribing, so a transition in between is not missed.
	check := func(flags int) (bool, error) {
		switch {
		case flags&unix.IFA_F_DADFAILED != 0:
			return true, ErrDuplicate
		case flags&unix.IFA_F_TENTATIVE == 0:
			return true, nil
		}
		return false, nil
	}
	found, err := Find(ip)
	if err != nil {
		return err
	}
	present := false
	for _, a := range found {
		if a.Link == link {
			present = true
			if end, err := check(a.Flags); end {
				return err
			}
		}
	}
	if !present {
		return fmt.Errorf("address %s vanished from %s", ip, link)
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case u, ok := <-updates:
			if !ok {
				return errors.New("address event subscription closed")
			}
			a, _ := netip.AddrFromSlice(u.LinkAddress.IP)
			if u.LinkIndex != idx || a.Unmap() != ip {
				continue
			}
			if !u.NewAddr {
				// The kernel deletes an address whose DAD failed unless
				// accept_dad says otherwise; treat removal the same way.
				return ErrDuplicate
			}
			if end, err := check(u.Flags); end {
				return err
			}
		}
	}
}

// LinkUp tells whether link is administratively up and its operational
// state is not down (no carrier, lower layer down).
func LinkUp(link string) (bool, error) {
	l, err := netlink.LinkByName(link)
	if err != nil {
		return false, err
	}
	a := l.Attrs()
	if a.Flags&net.FlagUp == 0 {
		return false, nil
	}
	switch a.OperState {
	case netlink.OperDown, netlink.OperLowerLayerDown, netlink.OperNotPresent:
		return false, nil
	}
	return true, nil
}

// LinkExists tells whether an interface of that name exists.
func LinkExists(link string) (bool, error) {
	_, err := netlink.LinkByName(link)
	if err == nil {
		return true, nil
	}
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return false, nil
	}
	return false, err
}
