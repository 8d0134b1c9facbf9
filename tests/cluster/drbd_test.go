package cluster

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gocf/gocf/tests/testbed"
)

// drbdBed brings up the two VMs with r0 configured, connected, UpToDate on
// both sides and down again, ready for an agent to own it. The VMs run
// drbd (a testbed.Config DRBD: "8.4", "9.2", ...).
func drbdBed(t *testing.T, drbd string) *testbed.Bed {
	t.Helper()
	b := bedFor(t, "GOCF_TESTBED_VM", testbed.Config{Mode: "vm", DRBD: drbd})
	t.Logf("DRBD in the VMs: %s", b.DRBD())
	if err := b.DRBDInit(); err != nil {
		t.Fatal(err)
	}
	if err := b.DRBDHandOver(); err != nil {
		t.Fatal(err)
	}
	return b
}

var cloneMeta = []string{"OCF_RESKEY_CRM_meta_clone_max=2", "OCF_RESKEY_CRM_meta_clone_node_max=1",
	"OCF_RESKEY_CRM_meta_promoted_max=1", "OCF_RESKEY_CRM_meta_promoted_node_max=1", "OCF_RESKEY_CRM_meta_notify=true"}

// TestDRBDOnRealDRBD: the agent on real DRBD in the VMs, alone (ocf-tester
// and the actions one by one), then as a promotable clone under Pacemaker:
// a switch of roles by moving the group, and the power-off of the Primary,
// after which the survivor is promoted with the file fsync'ed before.
//
// The DRBD is LINBIT's 9.2 (the one most Pacemaker users run; built from
// ../shared/drbd9, required under make check) unless GOCF_TESTBED_DRBD names
// another ("8.4": Debian's in-tree module, which the seed plan's VMs run).
func TestDRBDOnRealDRBD(t *testing.T) {
	drbd := os.Getenv("GOCF_TESTBED_DRBD")
	if drbd == "" {
		drbd = "9.2"
	}
	b := drbdBed(t, drbd)
	n1, n2 := b.Nodes()[0], b.Nodes()[1]
	p := map[string]string{"drbd_resource": "r0"}

	args := []string{"-n", "drbdt", "-o", "drbd_resource=r0"}
	for _, m := range cloneMeta {
		args = append(args, "-o", strings.TrimPrefix(m, "OCF_RESKEY_"))
	}
	// r0 has fencing resource-and-stonith: a Primary with its peer unknown needs the cluster's
	// fence-peer handler, which finds no clone of r0 outside Pacemaker and refuses. ocf-tester
	// runs the agent alone, so the peer is up and connected while it does.
	if out, err := b.Exec(n2, time.Minute, nil, "drbdadm", "up", "r0"); err != nil {
		t.Fatalf("drbdadm up r0 on %s: %v: %s", n2, err, out)
	}
	out, err := b.Exec(n1, 10*time.Minute, nil, append(append([]string{"ocf-tester"}, args...), "/usr/lib/ocf/resource.d/gocf/drbd")...)
	t.Logf("ocf-tester:\n%s", out)
	if err != nil || !strings.Contains(out, "passed all tests") {
		t.Fatalf("ocf-tester failed on real DRBD: %v", err)
	}
	if out, err := b.Exec(n2, time.Minute, nil, "drbdadm", "down", "r0"); err != nil {
		t.Fatalf("drbdadm down r0 on %s: %v: %s", n2, err, out)
	}

	// Both up: connected, Secondary, scored; promote one, the other sees
	// a Primary peer and cannot be promoted.
	for _, n := range []string{n1, n2} {
		expect(t, b, n, "drbd", "start", 0, p, cloneMeta...)
	}
	expect(t, b, n1, "drbd", "monitor", 0, p, append(cloneMeta, "OCF_RESKEY_CRM_meta_interval=20000")...)
	expect(t, b, n1, "drbd", "promote", 0, p, cloneMeta...)
	expect(t, b, n1, "drbd", "monitor", 8, p, append(cloneMeta, "OCF_RESKEY_CRM_meta_interval=10000")...)
	out = expect(t, b, n2, "drbd", "promote", 1, p, append(cloneMeta, "OCF_RESKEY_fail_promote_early_if_peer_primary=true")...)
	if !strings.Contains(out, "Primary") {
		t.Errorf("the reason should name the Primary peer: %s", out)
	}
	expect(t, b, n1, "drbd", "demote", 0, p, cloneMeta...)
	for _, n := range []string{n1, n2} {
		expect(t, b, n, "drbd", "stop", 0, p, cloneMeta...)
		expect(t, b, n, "drbd", "monitor", 7, p, cloneMeta...)
	}

	// Under Pacemaker: promotable clone and a filesystem on the Primary.
	err = b.CrmLoad(n1, `primitive drbd ocf:gocf:drbd params drbd_resource=r0 op monitor interval=9s role=Promoted timeout=60s op monitor interval=11s role=Unpromoted timeout=60s op start timeout=240s op stop timeout=100s op promote timeout=90s op demote timeout=90s
clone drbd-clone drbd meta promotable=true promoted-max=1 promoted-node-max=1 clone-max=2 clone-node-max=1 notify=true
primitive fs ocf:gocf:fsmount params device=/dev/drbd0 directory=/replica fstype=ext4 op monitor interval=10s timeout=60s op start timeout=120s op stop timeout=120s
colocation fs-on-primary inf: fs drbd-clone:Promoted
order fs-after-promote Mandatory: drbd-clone:promote fs:start
rsc_defaults resource-stickiness=100
`)
	if err != nil {
		t.Fatal(err)
	}
	active, err := b.WaitResource(10*time.Minute, "fs")
	if err != nil {
		t.Fatal(err)
	}
	other := n2
	if active == n2 {
		other = n1
	}
	// Switch roles: move the filesystem, DRBD follows.
	if out, err := b.Crm(active, time.Minute, "resource", "move", "fs", other); err != nil {
		t.Fatalf("crm resource move: %v %s", err, out)
	}
	if w, err := b.WaitResource(10*time.Minute, "fs", active); err != nil || w != other {
		t.Fatalf("fs did not move to %s: %q %v", other, w, err)
	}
	b.Crm(other, time.Minute, "resource", "clear", "fs")
	active, other = other, active

	stamp := fmt.Sprintf("fsynced on %s at %d", active, time.Now().UnixNano())
	if out, err := b.Sh(active, time.Minute, "printf '%s' '"+stamp+"' > /replica/witness && sync /replica/witness"); err != nil {
		t.Fatalf("write: %v %s", err, out)
	}
	if err := b.PowerOff(active); err != nil {
		t.Fatal(err)
	}
	tf := time.Now()
	if w, err := b.WaitResource(10*time.Minute, "fs", active); err != nil || w != other {
		t.Fatalf("fs not on the survivor %s: %q %v", other, w, err)
	}
	t.Logf("survivor %s promoted and mounted %.1fs after the power-off of %s", other, time.Since(tf).Seconds(), active)
	if out, err := b.Exec(other, time.Minute, nil, "cat", "/replica/witness"); err != nil || out != stamp {
		t.Fatalf("witness on %s: %q %v, want %q", other, out, err, stamp)
	}
	role, _ := b.Exec(other, time.Minute, nil, "drbdadm", "role", "r0")
	if !strings.HasPrefix(strings.TrimSpace(role), "Primary") {
		t.Fatalf("drbd role on the survivor: %q", role)
	}
}
