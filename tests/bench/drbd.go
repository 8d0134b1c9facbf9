package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gocf/gocf/tests/testbed"
)

// drbdScript runs one agent action `n` times inside a VM and prints, on its
// last line, the processes forked (from the kernel's last pid), the CPU of
// everything it ran (bash's times for its children) and the wall time.
const drbdScript = `
agent=$1; action=$2; n=$3; shift 3
export OCF_ROOT=/usr/lib/ocf OCF_RESOURCE_INSTANCE=benchdrbd:0 OCF_RESKEY_drbd_resource=r0 OCF_RESKEY_CRM_meta_timeout=90000 \
  OCF_RESKEY_CRM_meta_clone_max=2 OCF_RESKEY_CRM_meta_clone_node_max=1 OCF_RESKEY_CRM_meta_promoted_max=1 \
  OCF_RESKEY_CRM_meta_promoted_node_max=1 OCF_RESKEY_CRM_meta_notify=true "$@"
p0=$(cut -d' ' -f5 /proc/loadavg); t0=$(date +%s%N)
for i in $(seq "$n"); do "$agent" "$action" >/dev/null 2>&1; done
t1=$(date +%s%N); p1=$(cut -d' ' -f5 /proc/loadavg)
times > /tmp/times.raw # not in a pipeline: a subshell would report its own children
echo "RESULT $((p1 - p0)) $(( (t1 - t0) / 1000000 )) $(tail -1 /tmp/times.raw | sed 's/m/ /g; s/s//g')"
`

// benchDRBD compares the drbd agents on real DRBD (drbd: 8.4, 9.2, ...) in
// the test bed's VMs: monitor cost (processes started, CPU, wall) on a
// connected Secondary, and the time of a promotion, with the peer connected
// and Secondary.
func benchDRBD(bin, drbd string, runs int) int {
	b, err := bedUp(testbed.Config{Mode: "vm", AgentsDir: bin, DRBD: drbd, DRBDRequired: drbd != testbed.DefaultDRBD})
	if err != nil {
		return fail(err)
	}
	defer b.Down()
	if err := b.DRBDInit(); err != nil {
		return fail(err)
	}
	n1 := b.Nodes()[0]
	if _, err := b.Exec(n1, time.Minute, nil, "drbdadm", "secondary", "r0"); err != nil {
		return fail(err)
	}
	gocf, linbit := "/usr/lib/ocf/resource.d/gocf/drbd", "/usr/lib/ocf/resource.d/linbit/drbd"
	// run returns forks, wall ms and CPU s per call.
	run := func(agent, action string, n int, env ...string) (forks, wallMS, cpuMS float64, err error) {
		argv := append([]string{"/bin/bash", "-c", drbdScript, "bench", agent, action, strconv.Itoa(n)}, env...)
		out, err := b.Exec(n1, 30*time.Minute, nil, argv...)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("%s %s: %v %s", agent, action, err, out)
		}
		i := strings.LastIndex(out, "RESULT ")
		f := strings.Fields(out[i+len("RESULT "):])
		if i < 0 || len(f) < 6 {
			return 0, 0, 0, fmt.Errorf("no result in %q", out)
		}
		num := func(s string) float64 { v, _ := strconv.ParseFloat(s, 64); return v }
		// times: children user "Xm Y.YYY" and system "Xm Y.YYY", made "X Y.YYY X Y.YYY".
		cpu := (num(f[2])*60+num(f[3]))*1000 + (num(f[4])*60+num(f[5]))*1000
		return num(f[0]) / float64(n), num(f[1]) / float64(n), cpu / float64(n), nil
	}
	fmt.Printf("\ndrbd against ocf:linbit:drbd on DRBD %s in the test bed's VMs (%s), r0 connected, Secondary\n\n", b.DRBD(), testbed.Accel())
	fmt.Println("| action | linbit processes | gocf processes | linbit CPU ms | gocf CPU ms | CPU ratio | linbit wall ms | gocf wall ms | wall ratio |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	mon := "OCF_RESKEY_CRM_meta_interval=20000"
	lp, lw, lc, err := run(linbit, "monitor", runs, mon)
	if err != nil {
		return fail(err)
	}
	gp, gw, gc, err := run(gocf, "monitor", runs, mon)
	if err != nil {
		return fail(err)
	}
	fmt.Printf("| monitor (mean of %d) | %.1f | %.1f | %.1f | %.1f | %.1f× | %.0f | %.0f | %.1f× |\n", runs, lp, gp, lc, gc, ratio(lc, gc), lw, gw, ratio(lw, gw))
	var promote = map[string][]float64{}
	for i := 0; i < 3; i++ {
		for _, a := range []string{linbit, gocf} {
			_, w, _, err := run(a, "promote", 1)
			if err != nil {
				return fail(err)
			}
			promote[a] = append(promote[a], w)
			if _, _, _, err := run(gocf, "demote", 1); err != nil {
				return fail(err)
			}
		}
	}
	lm, gm := medianF(promote[linbit]), medianF(promote[gocf])
	fmt.Printf("| promote (median of 3) | | | | | | %.0f | %.0f | %.1f× |\n", lm, gm, ratio(lm, gm))
	return 0
}

func medianF(v []float64) float64 {
	s := append([]float64(nil), v...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}
