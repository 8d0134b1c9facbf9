package testbed

import (
	"strings"
	"testing"
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

func TestWithoutFencing(t *testing.T) {
	in := `primitive fence-sbd stonith:fence_sbd \
	params devices=/dev/disk/by-id/x pcmk_delay_max=5s
primitive pbx-vip ocf:gocf:vip \
	params ip=198.51.100.100 cidr_netmask=24
property cib-bootstrap-options: \
	stonith-enabled=true \
	stonith-timeout=60s \
	priority-fencing-delay=15s \
	no-quorum-policy=stop
property only-fencing: \
	stonith-enabled=true
rsc_defaults rsc-options: \
	resource-stickiness=100
`
	got := WithoutFencing(in)
	for _, gone := range []string{"fence_sbd", "stonith-enabled", "stonith-timeout", "priority-fencing-delay", "only-fencing"} {
		if strings.Contains(got, gone) {
			t.Errorf("%q left in:\n%s", gone, got)
		}
	}
	for _, kept := range []string{"primitive pbx-vip", "no-quorum-policy=stop", "resource-stickiness=100"} {
		if !strings.Contains(got, kept) {
			t.Errorf("%q missing in:\n%s", kept, got)
		}
	}
	if strings.Contains(got, "\\\n\n") || strings.HasSuffix(strings.TrimSpace(strings.Split(got, "rsc_defaults")[0]), `\`) {
		t.Errorf("a statement ends in a continuation:\n%s", got)
	}
}
