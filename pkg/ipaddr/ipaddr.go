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
	"maps"
	"net/netip"
	"slices"

	"golang.org/x/sys/unix"
)

// ErrNoRoute and ErrAmbiguous are the two ways autodetection fails.
var (
	ErrNoRoute   = errors.New("no connected route covers the address")
	ErrAmbiguous = errors.New("connected routes on several interfaces cover the address")
)

// AmbiguousError is ErrAmbiguous with the interfaces (by index) tied on
// the longest connected route, and its prefix length.
type AmbiguousError struct {
	Links  []int
	Prefix int
}

func (e *AmbiguousError) Error() string        { return ErrAmbiguous.Error() }
func (e *AmbiguousError) Is(target error) bool { return target == ErrAmbiguous }

// Host is this node's network configuration, reached through a Kernel.
type Host struct{ k Kernel }

// Open opens the netlink socket; Close it when the action is done.
func Open() (*Host, error) {
	k, err := OpenKernel()
	if err != nil {
		return nil, err
	}
	return New(k), nil
}

// New makes a Host on k.
func New(k Kernel) *Host { return &Host{k: k} }

// Close releases the socket.
func (h *Host) Close() { h.k.Close() }

// Family returns the netlink address family of ip.
func Family(ip netip.Addr) int {
	if ip.Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

// Link is what the agents need to know of an interface.
type Link struct {
	Name  string
	Index int
	// Up: administratively up and operationally not down (carrier
	// present, lower layer up).
	Up bool
	// AdminUp: administratively up (IFF_UP), carrier or not.
	AdminUp bool
}

// Operational states of linux/if.h (RFC 2863) that mean no traffic flows.
const (
	operNotPresent     = 1
	operDown           = 2
	operLowerLayerDown = 3
)

func linkOf(l LinkState) Link {
	up := l.Flags&unix.IFF_UP != 0
	switch l.OperState {
	case operNotPresent, operDown, operLowerLayerDown:
		up = false
	}
	return Link{Name: l.Name, Index: l.Index, Up: up, AdminUp: l.Flags&unix.IFF_UP != 0}
}

// Link looks an interface up by name; ok is false when there is none.
func (h *Host) Link(name string) (l Link, ok bool, err error) {
	s, ok, err := h.k.LinkByName(name)
	return linkOf(s), ok, err
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
	routes, err := h.k.Routes(Family(ip))
	if err != nil {
		return Candidate{}, fmt.Errorf("listing routes: %w", err)
	}
	best, bestLinks := -1, map[int]bool{}
	for _, rt := range routes {
		if !rt.Dst.IsValid() || rt.Gw.IsValid() || rt.Multipath || rt.Type != unix.RTN_UNICAST ||
			rt.Table != unix.RT_TABLE_MAIN || (only != nil && rt.LinkIndex != only.Index) {
			continue
		}
		if !rt.Dst.Contains(ip) || rt.Dst.Bits() == 0 {
			continue
		}
		switch {
		case rt.Dst.Bits() > best:
			best, bestLinks = rt.Dst.Bits(), map[int]bool{rt.LinkIndex: true}
		case rt.Dst.Bits() == best:
			bestLinks[rt.LinkIndex] = true
		}
	}
	switch {
	case best < 0:
		return Candidate{}, ErrNoRoute
	case len(bestLinks) > 1:
		return Candidate{}, &AmbiguousError{Links: slices.Sorted(maps.Keys(bestLinks)), Prefix: best}
	case only != nil:
		return Candidate{Link: *only, Prefix: best}, nil
	}
	for idx := range bestLinks {
		l, ok, err := h.k.LinkByIndex(idx)
		switch {
		case err != nil:
			return Candidate{}, fmt.Errorf("looking up interface %d: %w", idx, err)
		case !ok: // gone since the route dump
			return Candidate{}, ErrNoRoute
		}
		return Candidate{Link: linkOf(l), Prefix: best}, nil
	}
	panic("unreachable")
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
	addrs, err := h.k.Addrs(Family(ip))
	if err != nil {
		return nil, fmt.Errorf("listing addresses: %w", err)
	}
	var out []Assigned
	for _, a := range addrs {
		if a.Prefix.Addr() == ip {
			out = append(out, Assigned{LinkIndex: a.LinkIndex, Prefix: a.Prefix, Label: a.Label, Flags: a.Flags})
		}
	}
	return out, nil
}

// LinkName names an interface by index, for messages ("?" if it is gone).
func (h *Host) LinkName(index int) string {
	l, ok, err := h.k.LinkByIndex(index)
	if err != nil || !ok {
		return "?"
	}
	return l.Name
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

// Add brings the link up and adds the address.
func (h *Host) Add(s Spec) error {
	l, ok, err := h.k.LinkByIndex(s.Link.Index)
	switch {
	case err != nil:
		return err
	case !ok:
		return fmt.Errorf("interface %s is gone", s.Link.Name)
	}
	if l.Flags&unix.IFF_UP == 0 {
		if err := h.k.LinkSetUp(l.Index); err != nil {
			return fmt.Errorf("bringing %s up: %w", s.Link.Name, err)
		}
	}
	a := Addr{LinkIndex: l.Index, Prefix: s.Prefix, Label: s.Label, Broadcast: s.Broadcast}
	if s.NoDAD {
		a.Flags |= unix.IFA_F_NODAD
	}
	if s.NoPrefixRoute {
		a.Flags |= unix.IFA_F_NOPREFIXROUTE
	}
	if s.PreferredLft >= 0 {
		a.PreferredLft, a.ValidLft = uint32(s.PreferredLft), forever
	}
	return h.k.AddrAdd(a)
}

// Remove deletes an assigned address. One already gone, or on an
// interface that is gone, is no error.
func (h *Host) Remove(linkIndex int, p netip.Prefix) error {
	err := h.k.AddrDel(linkIndex, p)
	if errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return err
}

// ErrDuplicate means IPv6 duplicate address detection found another owner.
var ErrDuplicate = errors.New("duplicate address detection failed: another node uses this address")

// WaitDAD waits until ip on link has left the tentative state. It listens
// to address events instead of polling, and ends with ctx.
func (h *Host) WaitDAD(ctx context.Context, link Link, ip netip.Addr) error {
	done := make(chan struct{})
	defer close(done)
	updates, err := h.k.AddrEvents(done)
	if err != nil {
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
			if u.LinkIndex != link.Index || u.Prefix.Addr() != ip {
				continue
			}
			if !u.New {
				return fmt.Errorf("address %s was removed from %s while waiting", ip, link.Name)
			}
			if end, err := check(u.Flags); end {
				return err
			}
		}
	}
}
