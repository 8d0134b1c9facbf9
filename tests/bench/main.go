// Command bench compares gocf agents with the resource-agents shell agents
// they replace, in the same run on the same resource: whole-process CPU
// time (user+system of the agent and every child it waited for), wall
// time and peak memory, median of many runs, and the ratio.
//
// It runs as root in a network namespace of its own (re-executing itself
// there through ip netns exec), so nothing touches the host's interfaces.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

const insideEnv = "GOCF_BENCH_NETNS"

func main() {
	runs := flag.Int("runs", 25, "runs per measurement (at least 20)")
	bin := flag.String("bin", "bin", "directory of the gocf agents")
	ra := flag.String("ra", "/usr/lib/ocf/resource.d/heartbeat", "directory of the shell agents")
	flag.Parse()
	if *runs < 20 {
		*runs = 20
	}
	abs, _ := filepath.Abs(*bin)
	if os.Getenv(insideEnv) == "" {
		os.Exit(outside(abs))
	}
	os.Exit(benchVip(filepath.Join(abs, "vip"), filepath.Join(*ra, "IPaddr2"), *runs))
}

// outside sets up the namespace pair, re-runs the bench inside and tears down.
func outside(bin string) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "bench: needs root (network namespaces)")
		return 1
	}
	ns, peer := fmt.Sprintf("gocf-bench%d", os.Getpid()), fmt.Sprintf("gocf-benchp%d", os.Getpid())
	cleanup := func() {
		exec.Command("ip", "netns", "del", ns).Run()
		exec.Command("ip", "netns", "del", peer).Run()
	}
	defer cleanup()
	steps := [][]string{
		{"netns", "add", ns}, {"netns", "add", peer},
		{"link", "add", "gbench0", "netns", ns, "type", "veth", "peer", "name", "gbench1", "netns", peer},
		{"-n", ns, "link", "set", "lo", "up"}, {"-n", ns, "link", "set", "gbench0", "up"},
		{"-n", peer, "link", "set", "gbench1", "up"},
		{"-n", ns, "addr", "add", "198.51.100.1/24", "dev", "gbench0"},
		{"-n", peer, "addr", "add", "198.51.100.2/24", "dev", "gbench1"},
	}
	for _, s := range steps {
		if out, err := exec.Command("ip", s...).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "ip %s: %v\n%s", strings.Join(s, " "), err, out)
			return 1
		}
	}
	self, _ := os.Executable()
	args := append([]string{"netns", "exec", ns, self}, os.Args[1:]...)
	args = append(args, "-bin", bin)
	cmd := exec.Command("ip", args...)
	cmd.Env = append(os.Environ(), insideEnv+"=1")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return 1
	}
	return 0
}

type sample struct {
	cpu, wall time.Duration
	rssKB     int64
}

// measure runs one agent action and checks its exit code.
func measure(agent, action string, want int, env []string) (sample, error) {
	cmd := exec.Command(agent, action)
	cmd.Env = env
	t0 := time.Now()
	err := cmd.Run()
	wall := time.Since(t0)
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		return sample{}, err
	}
	if code != want {
		return sample{}, fmt.Errorf("%s %s returned %d, want %d", filepath.Base(agent), action, code, want)
	}
	ps := cmd.ProcessState
	ru := ps.SysUsage().(*syscall.Rusage)
	return sample{cpu: ps.UserTime() + ps.SystemTime(), wall: wall, rssKB: ru.Maxrss}, nil
}

func median(xs []sample, f func(sample) float64) float64 {
	v := make([]float64, len(xs))
	for i, x := range xs {
		v[i] = f(x)
	}
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

func benchVip(vip, ipaddr2 string, runs int) int {
	env := []string{
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "OCF_ROOT=/usr/lib/ocf", "OCF_RESOURCE_INSTANCE=benchvip",
		"OCF_RESKEY_ip=198.51.100.50", "OCF_RESKEY_cidr_netmask=24", "OCF_RESKEY_nic=gbench0",
		"OCF_RESKEY_CRM_meta_timeout=20000",
	}
	recurring := append(slices.Clone(env), "OCF_RESKEY_CRM_meta_interval=10000")
	agents := []struct{ name, path string }{{"gocf vip", vip}, {"IPaddr2", ipaddr2}}
	results := map[string]map[string][]sample{}
	for _, a := range agents {
		results[a.name] = map[string][]sample{}
	}
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "bench:", err); return 1 }

	// Monitor of the same started address, alternating agents so both see
	// the same machine state.
	if _, err := measure(vip, "start", 0, env); err != nil {
		return fail(err)
	}
	for i := 0; i < runs; i++ {
		for _, a := range agents {
			s, err := measure(a.path, "monitor", 0, recurring)
			if err != nil {
				return fail(err)
			}
			results[a.name]["monitor"] = append(results[a.name]["monitor"], s)
		}
	}
	if _, err := measure(vip, "stop", 0, env); err != nil {
		return fail(err)
	}
	// Start and stop, each agent its own cycle.
	for i := 0; i < runs; i++ {
		for _, a := range agents {
			for _, action := range []string{"start", "stop"} {
				s, err := measure(a.path, action, 0, env)
				if err != nil {
					return fail(err)
				}
				results[a.name][action] = append(results[a.name][action], s)
			}
		}
	}

	ms := func(s sample) float64 { return float64(s.cpu) / float64(time.Millisecond) }
	wall := func(s sample) float64 { return float64(s.wall) / float64(time.Millisecond) }
	rss := func(s sample) float64 { return float64(s.rssKB) / 1024 }
	fmt.Printf("vip against IPaddr2 (%s), median of %d runs each, same address 198.51.100.50/24 in a network namespace\n\n", filepath.Base(ipaddr2), runs)
	fmt.Println("| action | IPaddr2 CPU ms | vip CPU ms | CPU ratio | IPaddr2 wall ms | vip wall ms | wall ratio | IPaddr2 peak RSS MiB | vip peak RSS MiB |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for _, action := range []string{"monitor", "start", "stop"} {
		sh, g := results["IPaddr2"][action], results["gocf vip"][action]
		fmt.Printf("| %s | %.2f | %.2f | %.1f× | %.2f | %.2f | %.1f× | %.1f | %.1f |\n", action,
			median(sh, ms), median(g, ms), ratio(median(sh, ms), median(g, ms)),
			median(sh, wall), median(g, wall), ratio(median(sh, wall), median(g, wall)),
			median(sh, rss), median(g, rss))
	}
	return 0
}

func ratio(a, b float64) float64 {
	if b <= 0 {
		// Below the kernel's CPU accounting granularity: count as one tick.
		b = 0.001
	}
	return a / b
}
