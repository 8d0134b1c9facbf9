package ipaddr

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Kernel is the seam between the address logic of this package and the
// kernel: the rtnetlink requests it makes, in plain values. Open uses the
// real one; tests replay recordings of it (see pkg/ipaddr/ipaddrtest).
type Kernel interface {
	// LinkByName and LinkByIndex report ok false when there is no such
	// interface.
	LinkByName(name string) (l LinkState, ok bool, err error)
	LinkByIndex(index int) (l LinkState, ok bool, err error)
	// Routes dumps the main routing table of a family.
	Routes(family int) ([]Route, error)
	// Addrs dumps the addresses of a family on every interface.
	Addrs(family int) ([]Addr, error)
	AddrAdd(a Addr) error
	AddrDel(linkIndex int, p netip.Prefix) error
	LinkSetUp(index int) error
	// AddrEvents delivers address changes until done is closed.
	AddrEvents(done <-chan struct{}) (<-chan AddrEvent, error)
	Close()
}

// LinkState is an interface as a link dump shows it.
type LinkState struct {
	Name      string
	Index     int
	Flags     uint32 // IFF_*
	OperState uint8  // IF_OPER_*
}

// Route is one route of a dump. Dst is invalid for a default route.
type Route struct {
	Dst       netip.Prefix `json:",omitzero"`
	Gw        netip.Addr   `json:",omitzero"`
	LinkIndex int
	Table     int
	Type      int
	Scope     int
	Multipath bool `json:",omitempty"`
}

// Addr is an address as dumped, or as added: PreferredLft and ValidLft in
// seconds, 0xFFFFFFFF forever (both 0 when adding: forever, unset).
type Addr struct {
	LinkIndex    int
	Prefix       netip.Prefix
	Label        string     `json:",omitempty"`
	Broadcast    netip.Addr `json:",omitzero"`
	Flags        int
	PreferredLft uint32
	ValidLft     uint32
}

// AddrEvent is an address added (or changed) or removed.
type AddrEvent struct {
	Addr
	New bool
}

// netlinkKernel is the real Kernel: one rtnetlink socket.
type netlinkKernel struct{ h *netlink.Handle }

// OpenKernel opens a netlink socket in the calling thread's network
// namespace.
func OpenKernel() (Kernel, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	return netlinkKernel{h}, nil
}

func (k netlinkKernel) Close() { k.h.Close() }

func linkState(l netlink.Link) LinkState {
	a := l.Attrs()
	return LinkState{Name: a.Name, Index: a.Index, Flags: a.RawFlags, OperState: uint8(a.OperState)}
}

func (k netlinkKernel) LinkByName(name string) (LinkState, bool, error) {
	return foundLink(k.h.LinkByName(name))
}

func (k netlinkKernel) LinkByIndex(index int) (LinkState, bool, error) {
	return foundLink(k.h.LinkByIndex(index))
}

func foundLink(l netlink.Link, err error) (LinkState, bool, error) {
	var nf netlink.LinkNotFoundError
	switch {
	case errors.As(err, &nf):
		return LinkState{}, false, nil
	case err != nil:
		return LinkState{}, false, err
	}
	return linkState(l), true, nil
}

func (k netlinkKernel) Routes(family int) ([]Route, error) {
	rs, err := k.h.RouteListFiltered(family, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, err
	}
	out := make([]Route, 0, len(rs))
	for _, r := range rs {
		o := Route{LinkIndex: r.LinkIndex, Table: r.Table, Type: r.Type, Scope: int(r.Scope), Multipath: len(r.MultiPath) > 0}
		if r.Dst != nil {
			o.Dst, _ = prefixOf(r.Dst)
		}
		if gw, ok := netip.AddrFromSlice(r.Gw); ok {
			o.Gw = gw.Unmap()
		}
		out = append(out, o)
	}
	return out, nil
}

func (k netlinkKernel) Addrs(family int) ([]Addr, error) {
	as, err := k.h.AddrList(nil, family)
	if err != nil {
		return nil, err
	}
	out := make([]Addr, 0, len(as))
	for _, a := range as {
		p, ok := prefixOf(a.IPNet)
		if !ok {
			continue
		}
		o := Addr{LinkIndex: a.LinkIndex, Prefix: p, Label: a.Label, Flags: a.Flags,
			PreferredLft: uint32(a.PreferedLft), ValidLft: uint32(a.ValidLft)}
		if b, ok := netip.AddrFromSlice(a.Broadcast); ok {
			o.Broadcast = b.Unmap()
		}
		out = append(out, o)
	}
	return out, nil
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func (k netlinkKernel) AddrAdd(a Addr) error {
	na := &netlink.Addr{IPNet: ipNet(a.Prefix), Label: a.Label, Flags: a.Flags, LinkIndex: a.LinkIndex,
		PreferedLft: int(a.PreferredLft), ValidLft: int(a.ValidLft)}
	if a.Broadcast.IsValid() {
		na.Broadcast = a.Broadcast.AsSlice()
	}
	return k.h.AddrAdd(nil, na)
}

func (k netlinkKernel) AddrDel(linkIndex int, p netip.Prefix) error {
	return k.h.AddrDel(nil, &netlink.Addr{IPNet: ipNet(p), LinkIndex: linkIndex})
}

func (k netlinkKernel) LinkSetUp(index int) error {
	return k.h.LinkSetUp(&netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: index}})
}

func (k netlinkKernel) AddrEvents(done <-chan struct{}) (<-chan AddrEvent, error) {
	updates := make(chan netlink.AddrUpdate, 64)
	if err := netlink.AddrSubscribeWithOptions(updates, done, netlink.AddrSubscribeOptions{}); err != nil {
		return nil, err
	}
	out := make(chan AddrEvent)
	go func() {
		defer close(out)
		for u := range updates {
			p, ok := prefixOf(&u.LinkAddress)
			if !ok {
				continue
			}
			ev := AddrEvent{Addr: Addr{LinkIndex: u.LinkIndex, Prefix: p, Flags: u.Flags,
				PreferredLft: uint32(u.PreferedLft), ValidLft: uint32(u.ValidLft)}, New: u.NewAddr}
			select {
			case out <- ev:
			case <-done:
				return
			}
		}
	}()
	return out, nil
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones), true
}
