package announce

import (
	"bytes"
	"net"
	"net/netip"
	"testing"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
)

func TestGratuitousARP(t *testing.T) {
	hw := net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	ip := netip.MustParseAddr("198.51.100.5")
	for mode, wantOp := range map[Mode]arp.Operation{Request: arp.OperationRequest, Reply: arp.OperationReply} {
		b, err := GratuitousARP(hw, ip, mode)
		if err != nil {
			t.Fatal(err)
		}
		var f ethernet.Frame
		var p arp.Packet
		if err := f.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if err := p.UnmarshalBinary(f.Payload); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(f.Destination, ethernet.Broadcast) || f.EtherType != ethernet.EtherTypeARP || p.Operation != wantOp ||
			p.SenderIP != ip || p.TargetIP != ip || !bytes.Equal(p.SenderHardwareAddr, hw) ||
			(mode == Reply) != bytes.Equal(p.TargetHardwareAddr, hw) {
			t.Errorf("%s: %+v %+v", mode, f, p)
		}
	}
}

// TestUnsolicitedNA checks the hand-built frame against mdlayher/ndp's
// parser and against the checksum ndp itself computes for the same message.
func TestUnsolicitedNA(t *testing.T) {
	hw := net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	ip := netip.MustParseAddr("2001:db8::5")
	b := UnsolicitedNA(hw, ip)
	var f ethernet.Frame
	if err := f.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(f.Destination, net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}) || !bytes.Equal(f.Source, hw) || f.EtherType != ethernet.EtherTypeIPv6 {
		t.Fatalf("ethernet: %+v", f)
	}
	h := f.Payload
	if h[0]>>4 != 6 || h[6] != 58 || h[7] != 255 || int(h[4])<<8|int(h[5]) != len(h)-40 {
		t.Fatalf("ipv6 header: % x", h[:40])
	}
	if src, _ := netip.AddrFromSlice(h[8:24]); src != ip {
		t.Errorf("source %v", src)
	}
	if dst, _ := netip.AddrFromSlice(h[24:40]); dst != netip.IPv6LinkLocalAllNodes() {
		t.Errorf("destination %v", dst)
	}
	m, err := ndp.ParseMessage(h[40:])
	if err != nil {
		t.Fatal(err)
	}
	na := m.(*ndp.NeighborAdvertisement)
	if !na.Override || na.Solicited || na.Router || na.TargetAddress != ip || len(na.Options) != 1 {
		t.Errorf("%+v", na)
	}
	if lla, ok := na.Options[0].(*ndp.LinkLayerAddress); !ok || lla.Direction != ndp.Target || !bytes.Equal(lla.Addr, hw) {
		t.Errorf("option %+v", na.Options[0])
	}
	// The checksum as the kernel would verify it: summing the message with
	// its checksum over the pseudo-header gives zero.
	if icmpChecksum(ip.As16(), netip.IPv6LinkLocalAllNodes().As16(), h[40:]) != 0 {
		t.Error("bad ICMPv6 checksum")
	}
}

func TestZeroCountSendsNothing(t *testing.T) {
	if n, err := Send(t.Context(), Plan{Interface: "does-not-matter", Count: 0}); n != 0 || err != nil {
		t.Errorf("%d %v", n, err)
	}
}
