// Command demo shows the vip agent at work without a cluster: two node
// namespaces and a client on one bridge; the address starts on node 1,
// moves to node 2 as Pacemaker would move it (stop there, start here), and
// the client follows it thanks to the gratuitous ARP. Everything lives in
// namespaces the demo creates and removes.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

const vip = "198.51.100.100"

var sw, n1, n2, client = "gocf-demo-sw", "gocf-demo-n1", "gocf-demo-n2", "gocf-demo-client"

func main() {
	bin := flag.String("bin", "bin", "directory of the gocf agents")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "demo: needs root (network namespaces)")
		os.Exit(1)
	}
	defer teardown()
	teardown()
	if err := run(*bin); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		teardown()
		os.Exit(1)
	}
}

func teardown() {
	for _, ns := range []string{n1, n2, client, sw} {
		exec.Command("ip", "netns", "del", ns).Run()
	}
}

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

func step(format string, args ...any) { fmt.Printf("\n==> "+format+"\n", args...) }

func run(bin string) error {
	step("network: nodes n1 (.11), n2 (.12) and a client (.20) on one bridge, 198.51.100.0/24")
	cmds := [][]string{{"netns", "add", sw}, {"-n", sw, "link", "add", "br0", "type", "bridge"}, {"-n", sw, "link", "set", "br0", "up"}}
	for i, ns := range []string{n1, n2, client} {
		addr := []string{"198.51.100.11/24", "198.51.100.12/24", "198.51.100.20/24"}[i]
		port := fmt.Sprintf("p%d", i)
		cmds = append(cmds, [][]string{
			{"netns", "add", ns},
			{"link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", port, "netns", sw},
			{"-n", sw, "link", "set", port, "master", "br0", "up"},
			{"-n", ns, "link", "set", "lo", "up"}, {"-n", ns, "link", "set", "eth0", "up"},
			{"-n", ns, "addr", "add", addr, "dev", "eth0"},
		}...)
	}
	for _, c := range cmds {
		if err := ip(c...); err != nil {
			return err
		}
	}

	agent := func(node, action string, env ...string) (string, int) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "ip", "netns", "exec", node, bin+"/vip", action)
		cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "OCF_RESOURCE_INSTANCE=pbx-vip",
			"OCF_RESKEY_ip=" + vip, "OCF_RESKEY_cidr_netmask=24", "OCF_RESKEY_arp_count=3",
			"OCF_RESKEY_CRM_meta_timeout=20000"}
		cmd.Env = append(cmd.Env, env...)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		fmt.Printf("    %s: vip %s -> %d %s\n", node, action, code, strings.TrimSpace(string(out)))
		return string(out), code
	}
	ping := func() bool {
		return exec.Command("ip", "netns", "exec", client, "ping", "-c1", "-W1", vip).Run() == nil
	}
	neigh := func() string {
		out, _ := exec.Command("ip", "-n", client, "neigh", "show", vip).Output()
		return strings.TrimSpace(string(out))
	}
	mac := func(ns string) string {
		out, _ := exec.Command("ip", "-n", ns, "-br", "link", "show", "eth0").Output()
		f := strings.Fields(string(out))
		if len(f) >= 3 {
			return f[2]
		}
		return "?"
	}

	step("vip validate-all and a probe on n1, as Pacemaker does first")
	agent(n1, "validate-all")
	agent(n1, "monitor", "OCF_RESKEY_CRM_meta_interval=0")
	step("start the address on n1 (MAC %s)", mac(n1))
	if _, rc := agent(n1, "start"); rc != 0 {
		return fmt.Errorf("start on n1 failed")
	}
	agent(n1, "monitor", "OCF_RESKEY_CRM_meta_interval=10000")
	if !ping() {
		return fmt.Errorf("client cannot reach %s on n1", vip)
	}
	fmt.Printf("    client reaches %s; its neighbour entry: %s\n", vip, neigh())

	step("move the address to n2 (MAC %s): stop on n1, start on n2", mac(n2))
	t0 := time.Now()
	agent(n1, "stop")
	if _, rc := agent(n2, "start"); rc != 0 {
		return fmt.Errorf("start on n2 failed")
	}
	var answered time.Duration
	for i := 0; i < 50 && answered == 0; i++ {
		if ping() {
			answered = time.Since(t0)
		}
	}
	if answered == 0 {
		return fmt.Errorf("client cannot reach %s on n2", vip)
	}
	fmt.Printf("    client reaches %s again %.0f ms after the stop began; neighbour entry: %s\n",
		vip, answered.Seconds()*1000, neigh())
	if !strings.Contains(neigh(), mac(n2)) {
		return fmt.Errorf("client's neighbour entry does not point at n2")
	}
	step("the address is gone from n1 and running on n2")
	agent(n1, "monitor", "OCF_RESKEY_CRM_meta_interval=0")
	agent(n2, "monitor", "OCF_RESKEY_CRM_meta_interval=10000")
	agent(n2, "stop")
	step("done: namespaces removed. The cluster demo (Pacemaker running the whole gocf stack) comes with the test bed.")
	return nil
}
