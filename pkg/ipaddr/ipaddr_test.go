package ipaddr_test

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/gocf/gocf/pkg/ipaddr"
	"github.com/gocf/gocf/pkg/ipaddr/ipaddrtest"
	"golang.org/x/sys/unix"
)

// The recordings are vip's (pkg/vip/testdata/netlink, see
// TestRecordNetlink there): a node with lan0 on 198.51.100.0/24 and
// 2001:db8:1::/64, and gateway routes autodetection must skip.
func host(t *testing.T, recording, state string) (*ipaddr.Host, *ipaddrtest.Fake) {
	f := ipaddrtest.Load(t, "../vip/testdata/netlink/"+recording+".json").Fake(t, state)
	return ipaddr.New(f.Open()), f
}

func TestFindInterface(t *testing.T) {
	h, _ := host(t, "lan", "base")
	for ip, want := range map[string]string{"198.51.100.7": "lan0/24", "2001:db8:1::7": "lan0/64", "fe80::7": "lan0/64"} {
		c, err := h.FindInterface(netip.MustParseAddr(ip), nil)
		if err != nil || c.Link.Name+"/"+strconv.Itoa(c.Prefix) != want || !c.Link.Up {
			t.Errorf("%s: %+v %v, want %s", ip, c, err, want)
		}
	}
	// Default and 203.0.113.0/24 go via a gateway: no connected route.
	for _, ip := range []string{"203.0.113.7", "192.0.2.7", "2001:db8:2::7"} {
		if _, err := h.FindInterface(netip.MustParseAddr(ip), nil); !errors.Is(err, ipaddr.ErrNoRoute) {
			t.Errorf("%s: %v, want ErrNoRoute", ip, err)
		}
	}
	lo, ok, err := h.Link("lo")
	if err != nil || !ok || lo.Index != 1 {
		t.Fatalf("lo: %+v %v %v", lo, ok, err)
	}
	if _, err := h.FindInterface(netip.MustParseAddr("198.51.100.7"), &lo); !errors.Is(err, ipaddr.ErrNoRoute) {
		t.Errorf("only lo: %v", err)
	}
	h, _ = host(t, "two", "198.51.100.62/24 on lan0, lan1 on the same network")
	if _, err := h.FindInterface(netip.MustParseAddr("198.51.100.7"), nil); !errors.Is(err, ipaddr.ErrAmbiguous) {
		t.Errorf("two links: %v", err)
	}
	h, _ = host(t, "lan", "no file descriptors")
	if _, err := h.FindInterface(netip.MustParseAddr("198.51.100.7"), nil); !errors.Is(err, unix.EMFILE) {
		t.Errorf("broken: %v", err)
	}
}

func TestRemoveWhatIsGone(t *testing.T) {
	h, f := host(t, "lan", "base")
	v4 := netip.MustParsePrefix("198.51.100.60/24")
	// The kernel says EADDRNOTAVAIL and ENODEV: both mean it is gone.
	if err := h.Remove(2, v4); err != nil {
		t.Errorf("absent address: %v", err)
	}
	if err := h.Remove(99, v4); err != nil {
		t.Errorf("missing interface: %v", err)
	}
	f.As = "no CAP_NET_ADMIN"
	if err := h.Add(ipaddr.Spec{Link: ipaddr.Link{Name: "lan0", Index: 2}, Prefix: v4, Broadcast: netip.MustParseAddr("198.51.100.255"), PreferredLft: -1}); !errors.Is(err, unix.EPERM) {
		t.Errorf("add without CAP_NET_ADMIN: %v", err)
	}
	if h.LinkName(99) != "?" || h.LinkName(2) != "lan0" {
		t.Error("LinkName")
	}
}

func TestWaitDAD(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	lan0 := ipaddr.Link{Name: "lan0", Index: 2}
	h, f := host(t, "lan", "base")
	add := func(ip string) {
		if err := h.Add(ipaddr.Spec{Link: lan0, Prefix: netip.MustParsePrefix(ip + "/64"), PreferredLft: -1}); err != nil {
			t.Fatal(err)
		}
	}
	add("2001:db8:1::60")
	if err := h.WaitDAD(ctx, lan0, netip.MustParseAddr("2001:db8:1::60")); err != nil || f.State() != "base +2001:db8:1::60/64 settled" {
		t.Errorf("DAD: %v, in state %q", err, f.State())
	}
	// Already settled: no event needed.
	if err := h.WaitDAD(ctx, lan0, netip.MustParseAddr("2001:db8:1::60")); err != nil {
		t.Errorf("DAD again: %v", err)
	}
	if err := h.WaitDAD(ctx, lan0, netip.MustParseAddr("2001:db8:1::61")); err == nil {
		t.Error("DAD of an address that is not there")
	}
	h, f = host(t, "lan", "base")
	add("2001:db8:1::99")
	if err := h.WaitDAD(ctx, lan0, netip.MustParseAddr("2001:db8:1::99")); !errors.Is(err, ipaddr.ErrDuplicate) {
		t.Errorf("DAD of a duplicate: %v", err)
	}
	if f.State() != "base +2001:db8:1::99/64 settled" {
		t.Errorf("state %q", f.State())
	}
	h, _ = host(t, "lan", "no file descriptors")
	if err := h.WaitDAD(ctx, lan0, netip.MustParseAddr("2001:db8:1::99")); !errors.Is(err, unix.EMFILE) {
		t.Errorf("broken: %v", err)
	}
}
