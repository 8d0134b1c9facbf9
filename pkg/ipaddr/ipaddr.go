// Package ipaddr manages IP addresses on Linux interfaces over netlink:
// choosing the interface for an address the way resource-agents' findif
// does, adding and removing addresses, and waiting for IPv6 duplicate
// address detection. One Host holds one netlink socket for all the
// requests of an action.
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

// Host is this node's network configuration, reached over one netlink socket.
type Host struct{ h *netlink.Handle }

// Open opens the netlink socket; Close it when the action is done.
func Open() (*Host, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	return &Host{h: h}, nil
}

// Close releases the socket.
func (h *Host) Close() { h.h.Close() }

// Family returns the netlink address family of ip.
func Family(ip netip.Addr) int {
	if ip.Is4() {
		return netlink.FAMILY_V4
	}
	return netlink.FAMILY_V6
}

// Link is what the agents need to know of an interface.
type Link struct {
	Name  string
	Index int
	// Up: administratively up and operationally not down (carrier
	// present, lower layer up).
	Up bool
}

func linkOf(l netlink.Link) Link {
	a := l.Attrs()
	up := a.Flags&net.FlagUp != 0
	switch a.OperState {
	case netlink.OperDown, netlink.OperLowerLayerDown, netlink.OperNotPresent:
		up = false
	}
	return Link{Name: a.Name, Index: a.Index, Up: up}
}

// Link looks an interface up by name; ok is false when there is none.
func (h *Host) Link(name string) (l Link, ok bool, err error) {
	nl, err := h.h.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return Link{}, false, nil
		}
		return Link{}, false, err
	}
	return linkOf(nl), true, nil
}

// Candidate is an interface that can carry an address, with the prefix
// length of the connected route that covers it.
type Candidate struct {
	Link   Link
	Prefix int
}

// FindInterface picks the interface whose directly connected route (no
// gateway, main table) covers ip with the longest prefix. If only is not
// nil, only routes via that interface count. Several interfaces tied on the
// longest prefix are ambiguous.
func (h *Host) FindInterface(ip netip.Addr, only *Link) (Candidate, error) {
	filter := &netlink.Route{Table: unix.RT_TABLE_MAIN}
	mask := uint64(netlink.RT_FILTER_TABLE)
	if only != nil {
		filter.LinkIndex = only.Index
		mask |= netlink.RT_FILTER_OIF
	}
	routes, err := h.h.RouteListFiltered(Family(ip), filter, mask)
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
	switch {
	case best < 0:
		return Candidate{}, ErrNoRoute
	case len(bestLinks) > 1:
		return Candidate{}, ErrAmbiguous
	case only != nil:
		return Candidate{Link: *only, Prefix: best}, nil
	}
	for idx := range bestLinks {
		l, err := h.h.LinkByIndex(idx)
		if err != nil {
			return Candidate{}, err
		}
		return Candidate{Link: linkOf(l), Prefix: best}, nil
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
	LinkIndex int
	Prefix    netip.Prefix
	Label     string
	Flags     int
}

// DADFailed tells whether another node answered for the address.
func (a Assigned) DADFailed() bool { return a.Flags&unix.IFA_F_DADFAILED != 0 }

// Find returns every assignment of ip on any interface, in one netlink dump.
func (h *Host) Find(ip netip.Addr) ([]Assigned, error) {
	addrs, err := h.h.AddrList(nil, Family(ip))
	if err != nil {
		return nil, fmt.Errorf("listing addresses: %w", err)
	}
	var out []Assigned
	for _, a := range addrs {
		if p, ok := prefixOf(a.IPNet); ok && p.Addr() == ip {
			out = append(out, Assigned{LinkIndex: a.LinkIndex, Prefix: p, Label: a.Label, Flags: a.Flags})
		}
	}
	return out, nil
}

// LinkName names an interface by index, for messages ("?" if it is gone).
func (h *Host) LinkName(index int) string {
	l, err := h.h.LinkByIndex(index)
	if err != nil {
		return "?"
	}
	return l.Attrs().Name
}

// Spec is an address to add.
type Spec struct {
	Link          Link
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

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// Add brings the link up and adds the address.
func (h *Host) Add(s Spec) error {
	l, err := h.h.LinkByIndex(s.Link.Index)
	if err != nil {
		return err
	}
	if l.Attrs().Flags&net.FlagUp == 0 {
		if err := h.h.LinkSetUp(l); err != nil {
			return fmt.Errorf("bringing %s up: %w", s.Link.Name, err)
		}
	}
	a := &netlink.Addr{IPNet: ipNet(s.Prefix), Label: s.Label}
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
	return h.h.AddrAdd(l, a)
}

// Remove deletes an assigned address. One already gone is no error.
func (h *Host) Remove(linkIndex int, p netip.Prefix) error {
	l, err := h.h.LinkByIndex(linkIndex)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil // the interface and its addresses are gone
		}
		return err
	}
	err = h.h.AddrDel(l, &netlink.Addr{IPNet: ipNet(p)})
	if err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) && !errors.Is(err, unix.ENOENT) {
		return err
	}
	return nil
}

// ErrDuplicate means IPv6 duplicate address detection found another owner.
var ErrDuplicate = errors.New("duplicate address detection failed: another node uses this address")

// WaitDAD waits until ip on link has left the tentative state. It listens
// to address events instead of polling, and ends with ctx.
func (h *Host) WaitDAD(ctx context.Context, link Link, ip netip.Addr) error {
	updates := make(chan netlink.AddrUpdate, 64)
	done := make(chan struct{})
	defer close(done)
	if err := netlink.AddrSubscribeWithOptions(updates, done, netlink.AddrSubscribeOptions{}); err != nil {
		return fmt.Errorf("subscribing to address events: %w", err)
	}
	check := func(flags int) (bool, error) {
		switch {
		case flags&unix.IFA_F_DADFAILED != 0:
			return true, ErrDuplicate
		case flags&unix.IFA_F_TENTATIVE == 0:
			return true, nil
		}
		return false, nil
	}
	// Look after subscribing, so a transition in between is not missed.
	found, err := h.Find(ip)
	if err != nil {
		return err
	}
	present := false
	for _, a := range found {
		if a.LinkIndex == link.Index {
			present = true
			if end, err := check(a.Flags); end {
				return err
			}
		}
	}
	if !present {
		return fmt.Errorf("address %s vanished from %s", ip, link.Name)
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
			if u.LinkIndex != link.Index || a.Unmap() != ip {
				continue
			}
			if !u.NewAddr {
				return fmt.Errorf("address %s was removed from %s while waiting", ip, link.Name)
			}
			if end, err := check(u.Flags); end {
				return err
			}
		}
	}
}
