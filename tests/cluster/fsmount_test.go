package cluster

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gocf/gocf/tests/testbed"
)

// TestFsmountVipGroupFailover: a group of fsmount (ext4 on the shared disk)
// and vip runs on one node; after that node's power-off it runs on another
// and a file written and fsync'ed before the fault is there.
func TestFsmountVipGroupFailover(t *testing.T) {
	b := bedFor(t, "GOCF_TESTBED", testbed.Config{Mode: "ns", Nodes: 3, SharedDisk: true})
	dev := b.SharedDisk()
	err := b.CrmLoad("n1", fmt.Sprintf(`primitive fs ocf:gocf:fsmount params device=%s directory=/replica fstype=ext4 op monitor interval=5s timeout=20s op monitor interval=15s timeout=20s OCF_CHECK_LEVEL=20
primitive ip ocf:gocf:vip params ip=%s cidr_netmask=24 op monitor interval=5s timeout=20s
group g fs ip
rsc_defaults resource-stickiness=100
`, dev, testbed.VIP))
	if err != nil {
		t.Fatal(err)
	}
	active, err := b.WaitResource(60*time.Second, "ip")
	if err != nil {
		t.Fatal(err)
	}
	stamp := fmt.Sprintf("written on %s at %d", active, time.Now().UnixNano())
	// sync FILE fsyncs that file: after it returns the data is on the disk.
	if out, err := b.Sh(active, 10*time.Second, "printf '%s' '"+stamp+"' > /replica/witness && sync /replica/witness"); err != nil {
		t.Fatalf("write on %s: %v %s", active, err, out)
	}
	if err := b.PowerOff(active); err != nil {
		t.Fatal(err)
	}
	tf := time.Now()
	now, err := b.WaitResource(60*time.Second, "ip", active)
	if err != nil {
		t.Fatal(err)
	}
	if w, _ := b.WaitResource(10*time.Second, "fs", active); w != now {
		t.Fatalf("fs on %q, ip on %q", w, now)
	}
	t.Logf("group on %s %.2fs after the power-off of %s", now, time.Since(tf).Seconds(), active)
	out, err := b.Exec(now, 10*time.Second, nil, "cat", "/replica/witness")
	if err != nil || out != stamp {
		t.Fatalf("witness file on %s: %q %v, want %q", now, out, err, stamp)
	}
	if _, err := b.Client(5*time.Second, "ping", "-n", "-c", "1", "-W", "2", testbed.VIP); err != nil {
		t.Fatalf("the VIP does not answer after the failover: %v", err)
	}
	// The powered-off node comes back without the filesystem or the address.
	if err := b.Boot(active); err != nil {
		t.Fatal(err)
	}
	mounts, _ := b.Exec(active, 10*time.Second, nil, "cat", "/proc/self/mountinfo")
	if strings.Contains(mounts, " /replica ") {
		t.Fatalf("%s mounts /replica after booting", active)
	}
}
