package vip

import (
	"slices"
	"strings"
	"testing"

	"github.com/gocf/gocf/pkg/ocf"
)

// Only what start's announcements and the monitor read is reloadable:
// everything that shapes the address on the interface needs a restart.
func TestReloadableParameters(t *testing.T) {
	var got []string
	for _, p := range Agent().Params {
		if p.Reloadable {
			got = append(got, p.Name)
		}
	}
	want := []string{"arp_count", "arp_interval", "arp_count_refresh", "arp_bg", "arp_mode", "check_link_status"}
	if !slices.Equal(got, want) {
		t.Errorf("reloadable %q, want %q", got, want)
	}
	md := string(Agent().MetaData(ocf.Version{Major: 1, Minor: 1}))
	if !strings.Contains(md, `<action name="reload-agent"`) || !strings.Contains(md, `<action name="status"`) {
		t.Errorf("1.1 meta-data lacks reload-agent or status:\n%s", md)
	}
}

// reload-agent takes new announcement and monitor settings for a running
// address without touching it: no netlink change, no announcement; the
// next monitor uses them.
func TestReloadAgent(t *testing.T) {
	g, seen := newRig(t, "lan", "base"), 0
	cfg := p("ip=198.51.100.60", "arp_count=2", "arp_bg=false")
	g.expect(ocf.Success, "start", cfg)
	g.wantOps(&seen, "add 198.51.100.60/24 brd 198.51.100.255 label \"\" flags 0x0 lft 0/0")
	sent := len(g.plans)
	changed := p("ip=198.51.100.60", "arp_count=7", "arp_interval=50", "arp_bg=true", "arp_mode=reply", "arp_count_refresh=2", "check_link_status=false")
	g.expect(ocf.Success, "reload-agent", changed)
	g.wantOps(&seen)
	g.wantState("base +198.51.100.60/24")
	if len(g.plans) != sent || len(g.spawned) != 0 {
		t.Errorf("reload-agent announced: %+v %q", g.plans[sent:], g.spawned)
	}
	g.expect(ocf.Success, "monitor", append(changed, recurring))
	if len(g.plans) != sent+1 || g.plans[sent].Count != 2 {
		t.Errorf("the monitor after the reload: want a refresh of 2, got %+v", g.plans[sent:])
	}
	// status is IPaddr2's: here or not, without a refresh.
	g.expect(ocf.Success, "status", append(changed, recurring))
	if len(g.plans) != sent+1 {
		t.Errorf("status announced: %+v", g.plans[sent+1:])
	}
	// The same checks as validate-all: wrong everywhere, wrong here.
	g.expect(ocf.ErrConfigured, "reload-agent", p("ip=198.51.100.60", "arp_mode=both"), "arp_mode")
	g.expect(ocf.ErrInstalled, "reload-agent", p("ip=198.51.100.60", "nic=eth9"), "eth9 does not exist")
	g.wantOps(&seen)
	g.expect(ocf.Success, "stop", cfg)
	g.expect(ocf.NotRunning, "status", cfg)
}
