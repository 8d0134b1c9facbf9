package testbed

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestVMDRBD: two VMs, DRBD 8.4 protocol C connected between them; a file written and
// fsync'ed on the primary is read on the other node after a switch of roles.
func TestVMDRBD(t *testing.T) {
	b := newBed(t, "GOCF_TESTBED_VM", Config{Mode: "vm", Nodes: 2})
	t0 := time.Now()
	if err := b.Up(); err != nil {
		t.Fatal(err)
	}
	t.Logf("2 VMs (%s) online in the cluster after %.1fs", Accel(), time.Since(t0).Seconds())
	t1 := time.Now()
	if err := b.DRBDInit(); err != nil {
		t.Fatal(err)
	}
	t.Logf("DRBD connected, synced, ext4 made in %.1fs", time.Since(t1).Seconds())
	p, s := b.Nodes()[0], b.Nodes()[1]
	for _, n := range []string{p, s} {
		out, err := b.Exec(n, 30*time.Second, nil, "drbdadm", "cstate", "r0")
		if err != nil || strings.TrimSpace(out) != "Connected" {
			t.Fatalf("%s: cstate %q %v", n, out, err)
		}
	}
	data := fmt.Sprintf("gocf testbed %d", time.Now().UnixNano())
	out, err := b.Exec(p, 60*time.Second, []byte(data), "/bin/bash", "-c",
		"mkdir -p /mnt/r0 && mount /dev/drbd0 /mnt/r0 && dd of=/mnt/r0/proof conv=fsync status=none && umount /mnt/r0 && drbdadm secondary r0")
	if err != nil {
		t.Fatalf("write on %s: %v: %s", p, err, out)
	}
	out, err = b.Exec(s, 60*time.Second, nil, "/bin/bash", "-c",
		"drbdadm primary r0 && mkdir -p /mnt/r0 && mount /dev/drbd0 /mnt/r0 && cat /mnt/r0/proof && umount /mnt/r0")
	if err != nil {
		t.Fatalf("read on %s: %v: %s", s, err, out)
	}
	if out != data {
		t.Fatalf("read %q on %s, wrote %q on %s", out, s, data, p)
	}
	roles, _ := b.Exec(s, 30*time.Second, nil, "drbdadm", "role", "r0")
	t.Logf("file written+fsynced on %s read back on %s (roles now %s)", p, s, strings.TrimSpace(roles))
}
