package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// benchStartup times every agent's depth-0 monitor against the floor, a
// no-op Go binary built as the agents are (make bench: .cache/bench/noop), all alternating in
// one run. vip and fsmount monitor a started address and a mounted
// filesystem; asterisk and drbd, which need the test bed, are probed
// (interval 0) on a node without them: their start-up and configuration
// check, without the daemon's or the kernel module's answer.
func benchStartup(bin string, runs int) int {
	loops := strings.Fields(os.Getenv("GOCF_BENCH_LOOPS"))
	if len(loops) < 1 {
		return fail(fmt.Errorf("need a loop device"))
	}
	dir, err := os.MkdirTemp("", "gocf-bench-start-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(dir)
	base := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "OCF_ROOT=/usr/lib/ocf"}
	vipEnv := append(slices.Clone(base), "OCF_RESOURCE_INSTANCE=benchvip", "OCF_RESKEY_ip=198.51.100.51",
		"OCF_RESKEY_cidr_netmask=24", "OCF_RESKEY_nic=gbench0", "OCF_RESKEY_CRM_meta_timeout=20000")
	fsEnv := append(slices.Clone(base), "OCF_RESOURCE_INSTANCE=benchfs", "OCF_RESKEY_device="+loops[0],
		"OCF_RESKEY_directory="+filepath.Join(dir, "m"), "OCF_RESKEY_fstype=ext4", "OCF_RESKEY_CRM_meta_timeout=60000")
	astEnv := append(slices.Clone(base), "OCF_RESOURCE_INSTANCE=benchast", "OCF_RESKEY_CRM_meta_timeout=60000",
		"OCF_RESKEY_CRM_meta_interval=0")
	drbdEnv := append(slices.Clone(base), "OCF_RESOURCE_INSTANCE=benchdrbd:0", "OCF_RESKEY_drbd_resource=r0",
		"OCF_RESKEY_CRM_meta_timeout=90000", "OCF_RESKEY_CRM_meta_clone_max=2", "OCF_RESKEY_CRM_meta_clone_node_max=1",
		"OCF_RESKEY_CRM_meta_promoted_max=1", "OCF_RESKEY_CRM_meta_promoted_node_max=1", "OCF_RESKEY_CRM_meta_notify=true",
		"OCF_RESKEY_CRM_meta_interval=0")
	vip, fsmount := filepath.Join(bin, "vip"), filepath.Join(bin, "fsmount")
	for _, s := range []struct {
		agent string
		env   []string
	}{{vip, vipEnv}, {fsmount, fsEnv}} {
		if _, err := measure(s.agent, "start", 0, s.env); err != nil {
			return fail(err)
		}
		defer measure(s.agent, "stop", 0, s.env)
	}
	// The probes' status depends on the node (7 here, 5 where drbdsetup is
	// missing); whatever it is, it must stay the same.
	type run struct {
		name, argv0, action string
		env                 []string
		want                int
	}
	cases := []run{
		{"no-op Go binary (floor)", filepath.Join(bin, "noop"), "", nil, 0},
		{"vip monitor", vip, "monitor", append(slices.Clip(vipEnv), "OCF_RESKEY_CRM_meta_interval=10000"), 0},
		{"fsmount monitor", fsmount, "monitor", append(slices.Clip(fsEnv), "OCF_RESKEY_CRM_meta_interval=20000"), 0},
		{"asterisk probe (no Asterisk)", filepath.Join(bin, "asterisk"), "monitor", astEnv, -1},
		{"drbd probe (no DRBD)", filepath.Join(bin, "drbd"), "monitor", drbdEnv, -1},
	}
	samples := make([][]sample, len(cases))
	for i := 0; i < runs; i++ {
		for j, c := range cases {
			argv := []string{c.argv0}
			if c.action != "" {
				argv = append(argv, c.action)
			}
			s, code, err := measureCode(argv, c.env)
			if err != nil {
				return fail(err)
			}
			if c.want < 0 {
				cases[j].want = code // the first run's status, for the others
			} else if code != c.want {
				return fail(fmt.Errorf("%s returned %d, want %d", c.name, code, c.want))
			}
			samples[j] = append(samples[j], s)
		}
	}
	ms := func(s sample) float64 { return float64(s.cpu) / float64(time.Millisecond) }
	wall := func(s sample) float64 { return float64(s.wall) / float64(time.Millisecond) }
	rss := func(s sample) float64 { return float64(s.rssKB) / 1024 }
	floor := median(samples[0], ms)
	fmt.Printf("\nstart-up against the floor, a no-op Go binary built as the agents are, median of %d runs each, alternating\n\n", runs)
	fmt.Println("| run | CPU ms | CPU ratio to the floor | wall ms | peak RSS MiB |")
	fmt.Println("|---|---|---|---|---|")
	for j, c := range cases {
		cpu := median(samples[j], ms)
		fmt.Printf("| %s | %.2f | %.2f× | %.2f | %.1f |\n", c.name, cpu, cpu/floor, median(samples[j], wall), median(samples[j], rss))
	}
	return 0
}
