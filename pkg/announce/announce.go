// Package announce tells the neighbours of an interface that an address now
// lives there: gratuitous ARP for IPv4, unsolicited neighbour advertisements
// for IPv6, sent natively without an external program. Both go out as
// whole Ethernet frames on one AF_PACKET socket.
//
// ARP frames come from mdlayher/arp. The neighbour advertisement is built
// here rather than with mdlayher/ndp: that package pulls x/net's ICMP,
// IDNA and crypto/rand into every agent start, which measured about 0.45 ms
// of the 2.2 ms a whole vip monitor costs (see README, make bench).
package announce

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
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
	frame, etherType, err := []byte(nil), ethernet.EtherTypeARP, error(nil)
	if p.Addr.Is4() {
		frame, err = GratuitousARP(ifi.HardwareAddr, p.Addr, p.Mode)
	} else {
		frame, etherType = UnsolicitedNA(ifi.HardwareAddr, p.Addr), ethernet.EtherTypeIPv6
	}
	if err != nil {
		return 0, err
	}
	c, err := packet.Listen(ifi, packet.Raw, int(etherType), nil)
	if err != nil {
		return 0, fmt.Errorf("packet socket on %s: %w", ifi.Name, err)
	}
	defer c.Close()
	var f ethernet.Frame
	f.UnmarshalBinary(frame)
	dst := &packet.Addr{HardwareAddr: f.Destination}
	send := func() error { _, err := c.WriteTo(frame, dst); return err }
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

// GratuitousARP builds the broadcast Ethernet frame of an ARP announcement:
// sender and target protocol address are both ip (RFC 5227). A request
// leaves the target hardware address zero; a reply repeats the sender's
// there, as iputils' arping -A does: Linux takes a reply as gratuitous (and
// overrides a cached entry at once) only then.
func GratuitousARP(hw net.HardwareAddr, ip netip.Addr, mode Mode) ([]byte, error) {
	op, target := arp.OperationRequest, net.HardwareAddr{0, 0, 0, 0, 0, 0}
	if mode == Reply {
		op, target = arp.OperationReply, hw
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

// UnsolicitedNA builds the Ethernet frame of an unsolicited neighbour
// advertisement (RFC 4861 section 7.2.6) of ip at hw, sent from ip to all
// nodes: override set so neighbours replace the previous owner's entry,
// solicited and router clear, hop limit 255, target link-layer address
// option.
func UnsolicitedNA(hw net.HardwareAddr, ip netip.Addr) []byte {
	const (
		ethLen, ipLen = 14, 40
		icmpLen       = 24 + 8 // header, flags, target; option type 2
	)
	allNodes := netip.IPv6LinkLocalAllNodes()
	b := make([]byte, ethLen+ipLen+icmpLen)
	// Ethernet: IPv6 multicast maps to 33:33 and the group's low 32 bits.
	a := allNodes.As16()
	copy(b[0:6], []byte{0x33, 0x33, a[12], a[13], a[14], a[15]})
	copy(b[6:12], hw)
	binary.BigEndian.PutUint16(b[12:14], uint16(ethernet.EtherTypeIPv6))
	// IPv6 header.
	h := b[ethLen:]
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:6], icmpLen)
	h[6], h[7] = 58, 255 // next header ICMPv6, hop limit
	src := ip.As16()
	copy(h[8:24], src[:])
	copy(h[24:40], a[:])
	// ICMPv6 neighbour advertisement.
	m := h[ipLen:]
	m[0] = 136
	m[4] = 0x20 // override
	copy(m[8:24], src[:])
	m[24], m[25] = 2, 1 // target link-layer address, 8 octets
	copy(m[26:32], hw)
	binary.BigEndian.PutUint16(m[2:4], icmpChecksum(src, a, m))
	return b
}

// icmpChecksum is the ICMPv6 checksum over the IPv6 pseudo-header.
func icmpChecksum(src, dst [16]byte, msg []byte) uint16 {
	var sum uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(b[i])<<8 | uint32(b[i+1])
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
	}
	add(src[:])
	add(dst[:])
	var tail [8]byte
	binary.BigEndian.PutUint32(tail[0:4], uint32(len(msg)))
	tail[7] = 58
	add(tail[:])
	add(msg)
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}
