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
			p.SenderIP != ip || p.TargetIP != ip || !bytes.Equal(p.SenderHardwareAddr, hw) {
			t.Errorf("%s: %+v %+v", mode, f, p)
		}
	}
}

func TestNeighborAdvertisement(t *testing.T) {
	hw := net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	ip := netip.MustParseAddr("2001:db8::5")
	b, err := ndp.MarshalMessage(NeighborAdvertisement(ip, hw))
	if err != nil {
		t.Fatal(err)
	}
	m, err := ndp.ParseMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	na := m.(*ndp.NeighborAdvertisement)
	if !na.Override || na.Solicited || na.Router || na.TargetAddress != ip || len(na.Options) != 1 {
		t.Errorf("%+v", na)
	}
}

func TestZeroCountSendsNothing(t *testing.T) {
	if n, err := Send(t.Context(), Plan{Interface: "does-not-matter", Count: 0}); n != 0 || err != nil {
		t.Errorf("%d %v", n, err)
	}
}
