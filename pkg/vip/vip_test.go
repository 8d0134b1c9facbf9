package vip

import (
	"flag"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gocf/gocf/pkg/ocf"
	"github.com/gocf/gocf/pkg/ocf/ocftest"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestDeclaration(t *testing.T) { ocftest.Declaration(t, Agent(), *update) }

func prepare(t *testing.T, env ...string) (config, []error) {
	t.Helper()
	r, errs := ocf.Prepare(Agent(), "start", env)
	if len(errs) > 0 {
		return config{}, errs
	}
	c, err := parseConfig(r)
	if err != nil {
		t.Fatalf("Check passed but parseConfig failed: %v", err)
	}
	return c, nil
}

func TestParseConfig(t *testing.T) {
	c, errs := prepare(t, "OCF_RESKEY_ip=198.51.100.10")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	want := config{ip: netip.MustParseAddr("198.51.100.10"), prefix: -1, arpCount: 5, arpInterval: 200 * time.Millisecond,
		arpBG: true, arpMode: "request", prefLft: -1, checkLink: true}
	if c != want {
		t.Errorf("defaults:\n got %+v\nwant %+v", c, want)
	}
	c, _ = prepare(t, "OCF_RESKEY_ip=2001:db8::10", "OCF_RESKEY_nic=eth0", "OCF_RESKEY_cidr_netmask=64",
		"OCF_RESKEY_preferred_lft=0", "OCF_RESKEY_nodad=yes", "OCF_RESKEY_arp_mode=reply")
	if c.arpBG || c.prefix != 64 || c.prefLft != 0 || !c.nodad || c.nic != "eth0" || c.arpMode != "reply" {
		t.Errorf("IPv6: %+v", c)
	}
	c, _ = prepare(t, "OCF_RESKEY_ip=198.51.100.10", "OCF_RESKEY_nic=eth0:web", "OCF_RESKEY_iflabel=ignored", "OCF_RESKEY_arp_bg=false")
	if c.label != "eth0:web" || c.nic != "eth0" || c.arpBG {
		t.Errorf("nic:label wins over iflabel: %+v", c)
	}
	c, _ = prepare(t, "OCF_RESKEY_ip=198.51.100.10", "OCF_RESKEY_nic=eth0", "OCF_RESKEY_iflabel=web")
	if c.label != "eth0:web" {
		t.Errorf("iflabel: %+v", c)
	}
}

func TestParseConfigRejects(t *testing.T) {
	for _, env := range [][]string{
		{"OCF_RESKEY_ip=198.51.100.10/24"},
		{"OCF_RESKEY_ip=0.0.0.0"},
		{"OCF_RESKEY_ip=::"},
		{"OCF_RESKEY_ip=ff02::1"},
		{"OCF_RESKEY_ip=255.255.255.255"},
		{"OCF_RESKEY_ip=198.51.100.10", "OCF_RESKEY_cidr_netmask=-1"},
		{"OCF_RESKEY_ip=198.51.100.10", "OCF_RESKEY_cidr_netmask=0"},
		{"OCF_RESKEY_ip=198.51.100.10", "OCF_RESKEY_cidr_netmask=0.0.0.0"},
		{"OCF_RESKEY_ip=2001:db8::1", "OCF_RESKEY_cidr_netmask=0"},
		{"OCF_RESKEY_ip=fe80::1"},
		{"OCF_RESKEY_ip=fe80::1", "OCF_RESKEY_cidr_netmask=64"},
		{"OCF_RESKEY_ip=febf::1"},
		{"OCF_RESKEY_ip=2001:db8::1", "OCF_RESKEY_cidr_netmask=255.255.255.0"},
		{"OCF_RESKEY_ip=198.51.100.10", "OCF_RESKEY_nic=eth0:a", "OCF_RESKEY_iflabel=b c"},
		{"OCF_RESKEY_ip=198.51.100.10", "OCF_RESKEY_nic=eth0", "OCF_RESKEY_iflabel=0123456789ab"},
		{"OCF_RESKEY_ip=198.51.100.10", "OCF_RESKEY_broadcast=2001:db8::ff"},
		{"OCF_RESKEY_ip=198.51.100.10", "OCF_RESKEY_preferred_lft=4294967295"},
		{"OCF_RESKEY_ip=198.51.100.10", "OCF_RESKEY_CRM_meta_clone_max=3"},
	} {
		if _, errs := prepare(t, env...); len(errs) == 0 {
			t.Errorf("accepted %v", env)
		}
	}
}

func TestPrefixAndBroadcast(t *testing.T) {
	v4 := netip.MustParseAddr("198.51.100.77")
	for s, want := range map[string]int{"24": 24, "1": 1, "32": 32, "255.255.255.192": 26, "255.255.255.255": 32, "128.0.0.0": 1} {
		if got, err := parsePrefixLen(s, v4); err != nil || got != want {
			t.Errorf("%s: %d %v", s, got, err)
		}
	}
	// /0 would claim every address (IPaddr2 refuses it too).
	for _, s := range []string{"255.255.0.255", "0", "0.0.0.0", "33", "-1", "+24", "024x"} {
		if n, err := parsePrefixLen(s, v4); err == nil {
			t.Errorf("%q accepted as /%d", s, n)
		}
	}
	if _, err := parsePrefixLen("0", netip.MustParseAddr("2001:db8::1")); err == nil {
		t.Error("IPv6 /0 accepted")
	}
	p := netip.MustParsePrefix("198.51.100.77/26")
	for setting, want := range map[string]string{"": "198.51.100.127", "+": "198.51.100.127", "-": "198.51.100.64", "198.51.100.1": "198.51.100.1"} {
		if got := broadcastFor(setting, p); got.String() != want {
			t.Errorf("%q: %v, want %s", setting, got, want)
		}
	}
	if broadcastFor("", netip.MustParsePrefix("198.51.100.77/31")).IsValid() {
		t.Error("/31 has no broadcast by default")
	}
	if broadcastFor("+", netip.MustParsePrefix("198.51.100.77/1")).String() != "255.255.255.255" {
		t.Error("/1")
	}
	if broadcastFor("", netip.MustParsePrefix("2001:db8::1/64")).IsValid() {
		t.Error("IPv6 has no broadcast")
	}
}

func TestDocsMentionWhatIsLeftOut(t *testing.T) {
	if !strings.Contains(Agent().Long, "CLUSTERIP") {
		t.Error("the long description must say CLUSTERIP mode is not supported")
	}
}
