package testbed

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestWithBedFencing(t *testing.T) {
	in := `# a comment about fence-sbd stays
primitive fence-sbd stonith:fence_sbd \
	params devices=/dev/disk/by-partlabel/sbd \
	op monitor interval=60s
primitive pbx-vip ocf:gocf:vip \
	params ip=198.51.100.100 cidr_netmask=24 \
	op monitor timeout=20s interval=10s
location l-fence fence-sbd -inf: n3
group pbx pbx-vip
property cib-bootstrap-options: \
	stonith-enabled=true \
	stonith-watchdog-timeout=10s \
	no-quorum-policy=stop
property other: \
	stonith-watchdog-timeout=0
`
	got := WithBedFencing(in)
	for _, gone := range []string{"fence_sbd", "l-fence", "stonith-watchdog-timeout", "property other"} {
		if strings.Contains(got, gone) {
			t.Errorf("%q left in:\n%s", gone, got)
		}
	}
	for _, kept := range []string{"# a comment about fence-sbd stays", "primitive pbx-vip", "op monitor timeout=20s interval=10s",
		"group pbx pbx-vip", "stonith-enabled=true", "no-quorum-policy=stop"} {
		if !strings.Contains(got, kept) {
			t.Errorf("%q missing in:\n%s", kept, got)
		}
	}
	plain := "primitive a ocf:gocf:vip params ip=198.51.100.100\n"
	if WithBedFencing(plain) != plain {
		t.Errorf("a configuration without fence-sbd changed: %q", WithBedFencing(plain))
	}
}

func TestWithVMFencing(t *testing.T) {
	in := `primitive fence-sbd stonith:fence_sbd \
	params devices=/dev/disk/by-id/scsi-36001405e3 pcmk_delay_max=5s \
	op monitor timeout=30s interval=600s
primitive pbx-fs ocf:gocf:fsmount \
	params device=/dev/drbd0 devices=/dev/other
property cib-bootstrap-options: \
	stonith-enabled=true \
	stonith-timeout=60s
`
	got := WithVMFencing(in)
	want := strings.Replace(in, "/dev/disk/by-id/scsi-36001405e3", SBDDevice, 1)
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

// TestParseFencePeerRuns reads DRBD 8.4's kernel log of a survivor that promoted with its peer
// cut off (recorded in the bed's VMs, gocf's drbd-fence as the handler).
func TestParseFencePeerRuns(t *testing.T) {
	data, err := os.ReadFile("testdata/dmesg-fence-peer-drbd84.txt")
	if err != nil {
		t.Fatal(err)
	}
	runs := ParseFencePeerRuns(string(data), 443)
	if len(runs) != 1 {
		t.Fatalf("runs: %+v", runs)
	}
	r := runs[0]
	if r.Exit != 7 || r.Said != "peer was stonithed" || r.Start != 537.457728 || r.End != 544.575096 {
		t.Errorf("run: %+v", r)
	}
	if got := ParseFencePeerRuns(string(data), 600); len(got) != 0 {
		t.Errorf("runs after the log: %+v", got)
	}
}

func TestFenceConfirmedInLog(t *testing.T) {
	since := time.Date(2026, 11, 30, 10, 28, 6, 0, time.Local)
	log := `Nov 30 10:27:59.100 n1 pacemaker-controld  [703] (tengine_stonith_notify) notice: Peer n2 was terminated (reboot) by n1 on behalf of pacemaker-controld.703@n1: OK | event=1
Nov 30 10:28:51.250 n1 pacemaker-controld  [703] (tengine_stonith_notify) notice: Peer n3 was terminated (reboot) by n1 on behalf of pacemaker-controld.703@n1: OK | event=2
Nov 30 10:28:52.375 n1 pacemaker-controld  [703] (tengine_stonith_notify) notice: Peer n2 was terminated (reboot) by n1 on behalf of pacemaker-controld.703@n1: OK | event=3
`
	got, ok := fenceConfirmedInLog(log, "n2", since)
	if want := time.Date(2026, 11, 30, 10, 28, 52, 375e6, time.Local); !ok || !got.Equal(want) {
		t.Errorf("got %v %v, want %v", got, ok, want)
	}
	if _, ok := fenceConfirmedInLog(log, "n4", since); ok {
		t.Error("n4 was never fenced")
	}
}
