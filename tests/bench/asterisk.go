package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/gocf/gocf/tests/testbed"
)

// benchAsterisk compares the asterisk agents on the same Asterisk 22, in a
// node of the test bed: monitor cost, and start-to-ready time (from the
// start action's launch until it returns success). Agents run through
// nsenter into the node; its own cost, measured with /bin/true, is shown
// and subtracted.
func benchAsterisk(bin string, runs int) int {
	b, err := bedUp(testbed.Config{Mode: "ns", Nodes: 2, AgentsDir: bin})
	if err != nil {
		return fail(err)
	}
	defer b.Down()
	pid := b.State().Init["n1"].PID
	env := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "OCF_ROOT=/usr/lib/ocf", "OCF_RESOURCE_INSTANCE=benchast",
		"OCF_RESKEY_CRM_meta_timeout=60000", "OCF_RESKEY_user=asterisk", "OCF_RESKEY_group=asterisk"}
	recurring := append(append([]string(nil), env...), "OCF_RESKEY_CRM_meta_interval=10000")
	in := func(agent, action string, want int, e []string) (sample, error) {
		argv := []string{"nsenter", "-t", strconv.Itoa(pid), "-a", "--", "/usr/bin/env", "-i"}
		return measureArgv(append(append(argv, e...), agent, action), nil, want)
	}
	gocf, shell := "/usr/lib/ocf/resource.d/gocf/asterisk", "/usr/lib/ocf/resource.d/heartbeat/asterisk"
	var floor []sample
	for i := 0; i < runs; i++ {
		s, err := measureArgv([]string{"nsenter", "-t", strconv.Itoa(pid), "-a", "--", "/bin/true"}, nil, 0)
		if err != nil {
			return fail(err)
		}
		floor = append(floor, s)
	}
	if _, err := in(gocf, "start", 0, env); err != nil {
		return fail(err)
	}
	mon := map[string][]sample{}
	for i := 0; i < runs; i++ {
		for _, a := range []string{gocf, shell} {
			s, err := in(a, "monitor", 0, recurring)
			if err != nil {
				return fail(err)
			}
			mon[a] = append(mon[a], s)
		}
	}
	ready := map[string][]sample{}
	for i := 0; i < 5; i++ {
		for _, a := range []string{gocf, shell} {
			if _, err := in(gocf, "stop", 0, env); err != nil {
				return fail(err)
			}
			s, err := in(a, "start", 0, env)
			if err != nil {
				return fail(err)
			}
			ready[a] = append(ready[a], s)
		}
	}
	in(gocf, "stop", 0, env)
	fl := median(floor, func(s sample) float64 { return float64(s.cpu) / float64(time.Millisecond) })
	fmt.Printf("\nasterisk against ocf:heartbeat:asterisk on the same Asterisk 22 in a test bed node, median of %d runs (start: 5 runs);"+
		" nsenter into the node costs %.2f ms CPU, subtracted in the \"net\" columns\n\n", runs, fl)
	fmt.Println("| action | shell CPU ms | gocf CPU ms | net CPU ratio | shell wall ms | gocf wall ms | wall ratio |")
	fmt.Println("|---|---|---|---|---|---|---|")
	cpu := func(s sample) float64 { return float64(s.cpu) / float64(time.Millisecond) }
	wall := func(s sample) float64 { return float64(s.wall) / float64(time.Millisecond) }
	for _, r := range []struct {
		name string
		m    map[string][]sample
	}{{"monitor", mon}, {"start to ready", ready}} {
		sc, gc := median(r.m[shell], cpu), median(r.m[gocf], cpu)
		sw, gw := median(r.m[shell], wall), median(r.m[gocf], wall)
		fmt.Printf("| %s | %.2f | %.2f | %.1f× | %.1f | %.1f | %.1f× |\n", r.name, sc, gc, ratio(sc-fl, gc-fl), sw, gw, ratio(sw, gw))
	}
	return 0
}
