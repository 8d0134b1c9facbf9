package main

import (
	"fmt"
	"slices"
)

func benchVip(vip, ipaddr2 string, runs int) int {
	env := []string{
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "OCF_ROOT=/usr/lib/ocf", "OCF_RESOURCE_INSTANCE=benchvip",
		"OCF_RESKEY_ip=198.51.100.50", "OCF_RESKEY_cidr_netmask=24", "OCF_RESKEY_nic=gbench0",
		"OCF_RESKEY_CRM_meta_timeout=20000",
	}
	recurring := append(slices.Clone(env), "OCF_RESKEY_CRM_meta_interval=10000")
	// Monitor of the same started address by both agents.
	if _, err := measure(vip, "start", 0, env); err != nil {
		return fail(err)
	}
	g, sh, order, err := compare(agentPair{vip, ipaddr2}, runs, []func(string) (string, sample, error){
		func(a string) (string, sample, error) {
			s, err := measure(a, "monitor", 0, recurring)
			return "monitor", s, err
		},
	})
	if err != nil {
		return fail(err)
	}
	if _, err := measure(vip, "stop", 0, env); err != nil {
		return fail(err)
	}
	// Start and stop, each agent its own cycle.
	g2, sh2, order2, err := compare(agentPair{vip, ipaddr2}, runs, []func(string) (string, sample, error){
		func(a string) (string, sample, error) { s, err := measure(a, "start", 0, env); return "start", s, err },
		func(a string) (string, sample, error) { s, err := measure(a, "stop", 0, env); return "stop", s, err },
	})
	if err != nil {
		return fail(err)
	}
	fmt.Printf("\nvip against IPaddr2, median of %d runs each, same address 198.51.100.50/24 in a network namespace\n\n", runs)
	header("IPaddr2", "vip")
	for _, a := range order {
		row(a, sh[a], g[a])
	}
	for _, a := range order2 {
		row(a, sh2[a], g2[a])
	}
	return 0
}
