package vip

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/gocf/gocf/pkg/ipaddr"
	"github.com/gocf/gocf/pkg/ipaddr/ipaddrtest"
	"github.com/gocf/gocf/tests/lab"
	"golang.org/x/sys/unix"
)

// TestRecordNetlink records testdata/netlink/*.json, the kernel's answers
// the unit tests replay, through the real ipaddr.Kernel in network
// namespaces. Root and ip(8):
//
//	GOCF_RECORD_NETLINK=1 go test ./pkg/vip -run TestRecordNetlink -count=1
func TestRecordNetlink(t *testing.T) {
	if os.Getenv("GOCF_RECORD_NETLINK") == "" {
		t.Skip("records only with GOCF_RECORD_NETLINK=1 (root)")
	}
	lab.RequireRoot(t)
	t.Run("lan", recordLAN)
	t.Run("two", recordTwoLinks)
	t.Run("noroute", recordNoRoute)
}

// inNetns runs fn on a thread inside ns. The thread stays locked, so the
// runtime discards it afterwards and nothing else ever runs in ns.
func inNetns(ns *lab.Netns, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open("/run/netns/" + ns.Name)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// withoutNetAdmin runs fn on a thread that lacks CAP_NET_ADMIN, as an
// agent not run as root would.
func withoutNetAdmin(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // discarded afterwards, capabilities and all
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			errc <- err
			return
		}
		data[0].Effective &^= 1 << unix.CAP_NET_ADMIN
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// recording opens the real kernel in ns, waits for it to settle and
// starts a recorder in state start.
func recording(t *testing.T, ns *lab.Netns, comment, start string) (*ipaddrtest.Recorder, ipaddr.Kernel) {
	t.Helper()
	var k ipaddr.Kernel
	if err := inNetns(ns, func() (err error) { k, err = ipaddr.OpenKernel(); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)
	settle(t, k)
	rec, err := ipaddrtest.NewRecorder(k, comment, start)
	if err != nil {
		t.Fatal(err)
	}
	rec.Subscribe = func(done <-chan struct{}) (ch <-chan ipaddr.AddrEvent, err error) {
		err = inNetns(ns, func() error { ch, err = k.AddrEvents(done); return err })
		return ch, err
	}
	return rec, k
}

// settle waits until no address is tentative and every link that is up
// has carrier, so that a state does not depend on timing.
func settle(t *testing.T, k ipaddr.Kernel) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		st := ipaddrtest.Dump(k)
		busy := false
		for _, a := range append(st.Addrs4, st.Addrs6...) {
			busy = busy || a.Flags&unix.IFA_F_TENTATIVE != 0
		}
		for _, l := range st.Links {
			busy = busy || l.Flags&unix.IFF_UP != 0 && l.Flags&unix.IFF_LOOPBACK == 0 && l.OperState != 6 // IF_OPER_UP
		}
		if !busy {
			return
		}
	}
	t.Fatal("the namespace did not settle in 10 s")
}

func snapshot(t *testing.T, rec *ipaddrtest.Recorder, k ipaddr.Kernel, name string) {
	t.Helper()
	settle(t, k)
	if err := rec.Snapshot(name); err != nil {
		t.Fatal(err)
	}
}

func save(t *testing.T, rec *ipaddrtest.Recorder, name string) {
	t.Helper()
	if err := rec.Rec.Save(filepath.Join("testdata", "netlink", name+".json")); err != nil {
		t.Fatal(err)
	}
}

// lanNode makes the node of most scenarios: lan0, a veth to a peer that is
// the rest of 198.51.100.0/24 and 2001:db8:1::/64.
func lanNode(t *testing.T) (node, peer *lab.Netns, there string) {
	node, peer = lab.NewNetns(t), lab.NewNetns(t)
	l := lab.Veth(t, node, peer)
	node.IP(t, "link", "set", l.Here, "down")
	node.IP(t, "link", "set", l.Here, "name", "lan0")
	node.IP(t, "link", "set", "lan0", "up")
	node.IP(t, "addr", "add", "198.51.100.1/24", "dev", "lan0")
	node.IP(t, "addr", "add", "2001:db8:1::1/64", "dev", "lan0", "nodad")
	peer.IP(t, "addr", "add", "198.51.100.2/24", "dev", l.There)
	peer.IP(t, "addr", "add", "2001:db8:1::2/64", "dev", l.There, "nodad")
	return node, peer, l.There
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func recordLAN(t *testing.T) {
	node, peer, there := lanNode(t)
	// Routes via a gateway are no connected routes: autodetection skips them.
	node.IP(t, "route", "add", "default", "via", "198.51.100.2")
	node.IP(t, "route", "add", "203.0.113.0/24", "via", "198.51.100.2")
	node.IP(t, "route", "add", "2001:db8:2::/64", "via", "2001:db8:1::2")
	// Another node holds 2001:db8:1::99.
	peer.IP(t, "addr", "add", "2001:db8:1::99/64", "dev", there, "nodad")

	rec, k := recording(t, node, "lan0 (198.51.100.1/24, 2001:db8:1::1/64) to a peer (198.51.100.2, 2001:db8:1::2 and ::99); "+
		"default and 203.0.113.0/24 via 198.51.100.2, 2001:db8:2::/64 via 2001:db8:1::2", "base")
	h := ipaddr.New(rec)
	lan0, ok, err := h.Link("lan0")
	if err != nil || !ok {
		t.Fatal("no lan0", err)
	}
	ctx := context.Background()
	p := netip.MustParsePrefix
	a := netip.MustParseAddr
	addDel := func(s ipaddr.Spec) {
		t.Helper()
		s.Link = lan0
		must(t, h.Add(s))
		settle(t, k)
		must(t, h.Remove(lan0.Index, s.Prefix))
		if rec.Current() != "base" {
			t.Fatalf("back in %q, not base", rec.Current())
		}
	}
	v4 := ipaddr.Spec{Prefix: p("198.51.100.60/24"), Broadcast: a("198.51.100.255"), PreferredLft: -1}
	addDel(v4)
	addDel(ipaddr.Spec{Prefix: p("198.51.100.60/32"), PreferredLft: -1})
	addDel(ipaddr.Spec{Prefix: p("198.51.100.97/28"), Broadcast: a("198.51.100.111"), PreferredLft: -1})
	addDel(ipaddr.Spec{Prefix: p("198.51.100.70/25"), Label: "lan0:vip1", Broadcast: a("198.51.100.127"), PreferredLft: -1})
	addDel(ipaddr.Spec{Prefix: p("198.51.100.70/24"), Broadcast: a("198.51.100.0"), PreferredLft: -1})
	addDel(ipaddr.Spec{Prefix: p("2001:db8:1::70/64"), NoDAD: true, NoPrefixRoute: true, PreferredLft: 0})
	addDel(ipaddr.Spec{Prefix: p("fe80::96/64"), NoDAD: true, PreferredLft: -1})

	// Duplicate address detection: passes, fails, takes too long.
	dad := func(prefix string, timeout time.Duration) error {
		t.Helper()
		must(t, h.Add(ipaddr.Spec{Link: lan0, Prefix: p(prefix), PreferredLft: -1}))
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		err := h.WaitDAD(ctx, lan0, p(prefix).Addr())
		rec.Settle()
		return err
	}
	must(t, dad("2001:db8:1::60/64", 10*time.Second))
	must(t, h.Remove(lan0.Index, p("2001:db8:1::60/64")))
	if err := dad("2001:db8:1::99/64", 10*time.Second); !errors.Is(err, ipaddr.ErrDuplicate) {
		t.Fatalf("DAD of ::99: %v", err)
	}
	must(t, h.Remove(lan0.Index, p("2001:db8:1::99/64")))
	lab.Run(t, "ip", "netns", "exec", node.Name, "sysctl", "-q", "-w", "net.ipv6.conf.lan0.dad_transmits=30")
	if err := dad("2001:db8:1::98/64", 2*time.Second); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow DAD of ::98: %v", err)
	}
	must(t, h.Remove(lan0.Index, p("2001:db8:1::98/64")))
	lab.Run(t, "ip", "netns", "exec", node.Name, "sysctl", "-q", "-w", "net.ipv6.conf.lan0.dad_transmits=1")

	// What the kernel says to removing what is not there, and to an
	// agent without CAP_NET_ADMIN.
	if err := rec.AddrDel(lan0.Index, v4.Prefix); !errors.Is(err, unix.EADDRNOTAVAIL) {
		t.Fatalf("removing an absent address: %v", err)
	}
	if err := rec.AddrDel(99, v4.Prefix); !errors.Is(err, unix.ENODEV) {
		t.Fatalf("removing from a missing interface: %v", err)
	}
	rec.Via, rec.As = withoutNetAdmin, "no CAP_NET_ADMIN"
	if err := h.Add(ipaddr.Spec{Link: lan0, Prefix: v4.Prefix, Broadcast: v4.Broadcast, PreferredLft: -1}); !errors.Is(err, unix.EPERM) {
		t.Fatalf("adding without CAP_NET_ADMIN: %v", err)
	}
	rec.Via, rec.As = nil, ""
	v4.Link = lan0
	must(t, h.Add(v4))
	rec.Via, rec.As = withoutNetAdmin, "no CAP_NET_ADMIN"
	if err := h.Remove(lan0.Index, v4.Prefix); !errors.Is(err, unix.EPERM) {
		t.Fatalf("removing without CAP_NET_ADMIN: %v", err)
	}
	rec.Via, rec.As = nil, ""
	must(t, h.Remove(lan0.Index, v4.Prefix))

	// Copies of addresses an administrator made: on lo, with another
	// prefix or label on lan0.
	node.IP(t, "addr", "add", "198.51.100.66/32", "dev", "lo")
	node.IP(t, "addr", "add", "203.0.113.66/32", "dev", "lo")
	snapshot(t, rec, k, "admin /32s on lo")
	node.IP(t, "addr", "del", "198.51.100.66/32", "dev", "lo")
	node.IP(t, "addr", "del", "203.0.113.66/32", "dev", "lo")
	snapshot(t, rec, k, "base")
	node.IP(t, "addr", "add", "198.51.100.67/25", "dev", "lan0")
	snapshot(t, rec, k, "admin 198.51.100.67/25")
	node.IP(t, "addr", "del", "198.51.100.67/25", "dev", "lan0")
	node.IP(t, "addr", "add", "198.51.100.67/24", "dev", "lan0", "label", "lan0:adm")
	snapshot(t, rec, k, "admin 198.51.100.67/24 lan0:adm")
	must(t, h.Remove(lan0.Index, p("198.51.100.67/24")))

	// The link goes down under the address, then loses its carrier. Down
	// drops lan0's IPv6 addresses, so this comes last.
	must(t, h.Add(v4))
	node.IP(t, "link", "set", "lan0", "down")
	snapshot(t, rec, k, "198.51.100.60/24, lan0 down")
	node.IP(t, "link", "set", "lan0", "up")
	peer.IP(t, "link", "set", there, "down")
	// No carrier: settle would wait for it in vain.
	time.Sleep(500 * time.Millisecond)
	must(t, rec.Snapshot("198.51.100.60/24, no carrier"))
	peer.IP(t, "link", "set", there, "up")
	node.IP(t, "addr", "del", "198.51.100.60/24", "dev", "lan0")
	node.IP(t, "link", "set", "lan0", "down")
	snapshot(t, rec, k, "lan0 down")
	// Adding to a link that is down brings it up first.
	lan0.Up = false
	must(t, h.Add(ipaddr.Spec{Link: lan0, Prefix: v4.Prefix, Broadcast: v4.Broadcast, PreferredLft: -1}))

	// A failure to look: no file descriptor left for a netlink socket.
	k.Close() // the handle now opens a socket per request
	var lim unix.Rlimit
	must(t, unix.Getrlimit(unix.RLIMIT_NOFILE, &lim))
	low := lim
	low.Cur = 3
	must(t, unix.Setrlimit(unix.RLIMIT_NOFILE, &low))
	err = rec.SnapshotBroken("no file descriptors")
	unix.Setrlimit(unix.RLIMIT_NOFILE, &lim)
	must(t, err)
	save(t, rec, "lan")
}

func recordTwoLinks(t *testing.T) {
	node, _, _ := lanNode(t)
	other := lab.NewNetns(t)
	l2 := lab.Veth(t, node, other)
	node.IP(t, "link", "set", l2.Here, "down")
	node.IP(t, "link", "set", l2.Here, "name", "lan1")
	node.IP(t, "link", "set", "lan1", "up")
	other.IP(t, "addr", "add", "198.51.100.202/24", "dev", l2.There)
	node.IP(t, "addr", "add", "198.51.100.62/24", "dev", "lan0")
	node.IP(t, "addr", "add", "198.51.100.201/24", "dev", "lan1")
	rec, _ := recording(t, node, "lan0 and lan1 both on 198.51.100.0/24 (.1 and .201); 198.51.100.62/24 on lan0",
		"198.51.100.62/24 on lan0, lan1 on the same network")
	h := ipaddr.New(rec)
	lan0, _, err := h.Link("lan0")
	must(t, err)
	must(t, h.Remove(lan0.Index, netip.MustParsePrefix("198.51.100.62/24")))
	save(t, rec, "two")
}

func recordNoRoute(t *testing.T) {
	node, _, _ := lanNode(t)
	node.IP(t, "addr", "add", "198.51.100.64/32", "dev", "lan0")
	node.IP(t, "addr", "del", "198.51.100.1/24", "dev", "lan0")
	rec, _ := recording(t, node, "lan0 with 198.51.100.64/32 whose network address 198.51.100.1/24 was removed", "198.51.100.64/32 without a connected route")
	save(t, rec, "noroute")
}
