// Package announce tells the neighbours of an interface that an address now
// lives there: gratuitous ARP for IPv4, unsolicited neighbour advertisements
// for IPv6, sent natively without an external program.
package announce

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"
)

// Mode selects the ARP operation of an IPv4 announcement. Some switches
// only learn from replies.
type Mode string

// ARP modes.
const (
	Request Mode = "request"
	Reply   Mode = "reply"
)

// ErrNoHardwareAddr means the interface has no link-layer address to
// announce (tun, some tunnels): there is nobody to tell.
var ErrNoHardwareAddr = errors.New("interface has no link-layer address")

// Plan is one series of announcements.
type Plan struct {
	Interface string
	Addr      netip.Addr
	Count     int
	Interval  time.Duration
	Mode      Mode // IPv4 only
}

// Send sends p.Count announcements p.Interval apart and returns how many
// went out. It stops early, with ctx's error, when ctx ends.
func Send(ctx context.Context, p Plan) (int, error) {
	if p.Count <= 0 {
		return 0, nil
	}
	ifi, err := net.InterfaceByName(p.Interface)
	if err != nil {
		return 0, err
	}
	if len(ifi.HardwareAddr) == 0 {
		return 0, ErrNoHardwareAddr
	}
	var send func() error
	if p.Addr.Is4() {
		c, frame, err := arpSender(ifi, p.Addr, p.Mode)
		if err != nil {
			return 0, err
		}
		defer c.Close()
		send = func() error {
			_, err := c.WriteTo(frame, &packet.Addr{HardwareAddr: ethernet.Broadcast})
			return err
		}
	} else {
		c, _, err := ndp.Listen(ifi, ndp.Addr(p.Addr.String()))
		if err != nil {
			return 0, fmt.Errorf("neighbour advertisement socket: %w", err)
		}
		defer c.Close()
		na := NeighborAdvertisement(p.Addr, ifi.HardwareAddr)
		send = func() error { return c.WriteTo(na, nil, netip.IPv6LinkLocalAllNodes()) }
	}
	sent := 0
	for i := 0; i < p.Count; i++ {
		if i > 0 {
			t := time.NewTimer(p.Interval)
			select {
			case <-ctx.Done():
				t.Stop()
				return sent, ctx.Err()
			case <-t.C:
			}
		}
		if err := send(); err != nil {
			return sent, err
		}
		sent++
	}
	return sent, nil
}

func arpSender(ifi *net.Interface, ip netip.Addr, mode Mode) (*packet.Conn, []byte, error) {
	fb, err := GratuitousARP(ifi.HardwareAddr, ip, mode)
	if err != nil {
		return nil, nil, err
	}
	c, err := packet.Listen(ifi, packet.Raw, int(ethernet.EtherTypeARP), nil)
	if err != nil {
		return nil, nil, fmt.Errorf("ARP socket: %w", err)
	}
	return c, fb, nil
}

// GratuitousARP builds the broadcast Ethernet frame of an ARP announcement:
// sender and target protocol address are both ip (RFC 5227). A request
// leaves the target hardware address zero; a reply names the broadcast
// address there, as iputils' arping -A does.
func GratuitousARP(hw net.HardwareAddr, ip netip.Addr, mode Mode) ([]byte, error) {
	op, target := arp.OperationRequest, net.HardwareAddr{0, 0, 0, 0, 0, 0}
	if mode == Reply {
		op, target = arp.OperationReply, ethernet.Broadcast
	}
	pkt, err := arp.NewPacket(op, hw, ip, target, ip)
	if err != nil {
		return nil, err
	}
	pb, err := pkt.MarshalBinary()
	if err != nil {
		return nil, err
	}
	f := &ethernet.Frame{Destination: ethernet.Broadcast, Source: hw, EtherType: ethernet.EtherTypeARP, Payload: pb}
	return f.MarshalBinary()
}

// NeighborAdvertisement is the unsolicited advertisement of ip at hw:
// override set so neighbours replace a cached entry of the previous owner.
func NeighborAdvertisement(ip netip.Addr, hw net.HardwareAddr) *ndp.NeighborAdvertisement {
	return &ndp.NeighborAdvertisement{
		Override:      true,
		TargetAddress: ip,
		Options:       []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: hw}},
	}
}
