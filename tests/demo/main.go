// Command demo runs the project's main job for a newcomer: a sandbox
// cluster (the test bed's namespace nodes, or its qemu VMs with real DRBD)
// running the gocf PBX stack, shown with crm_mon, probed on its virtual
// address, then the active node is powered off and the failover timeline
// printed. Everything it starts it tears down.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gocf/gocf/tests/testbed"
)

func main() {
	bin := flag.String("bin", "bin", "directory of the gocf agents")
	drbd := flag.Bool("drbd", false, "two qemu VMs with real DRBD instead of namespace nodes")
	examples := flag.String("examples", "crm-examples", "directory of the crm examples (pbx-shared.crm, pbx-drbd.crm)")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "demo: needs root (namespaces, loop devices, qemu)")
		os.Exit(1)
	}
	abs, _ := filepath.Abs(*bin)
	example := filepath.Join(*examples, "pbx-shared.crm")
	if *drbd {
		example = filepath.Join(*examples, "pbx-drbd.crm")
	}
	crm, err := os.ReadFile(example)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
	if err := run(abs, *drbd, example, string(crm)); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func step(format string, args ...any) { fmt.Printf("\n==> "+format+"\n", args...) }

func run(bin string, drbd bool, example, crm string) (err error) {
	cfg := testbed.Config{Mode: "ns", Nodes: 3, SharedDisk: true, Asterisk: true, AgentsDir: bin, Log: os.Stderr}
	timeout := 2 * time.Minute
	if drbd {
		cfg = testbed.Config{Mode: "vm", Nodes: 2, Asterisk: true, AgentsDir: bin, Log: os.Stderr}
		timeout = 15 * time.Minute
	}
	b, err := testbed.New(cfg)
	if err != nil {
		return err
	}
	if b.Mode() != "" {
		step("taking down a test bed left over from an earlier run")
		if err := b.Down(); err != nil {
			return err
		}
	}
	defer func() {
		step("tearing the sandbox down")
		if derr := b.Down(); derr != nil && err == nil {
			err = derr
		}
	}()
	step("bringing up a %d-node sandbox cluster (%s mode); the first run builds the node image (a few minutes)", cfg.Nodes, cfg.Mode)
	t0 := time.Now()
	if err := b.Up(); err != nil {
		return err
	}
	fmt.Printf("    nodes %s online %.1fs after start\n", strings.Join(b.Nodes(), " "), time.Since(t0).Seconds())
	if drbd {
		step("DRBD r0 (protocol C) between the VMs: create, connect, sync, mkfs")
		if err := b.DRBDInit(); err != nil {
			return err
		}
		if err := b.DRBDHandOver(); err != nil {
			return err
		}
	}
	step("loading the gocf PBX stack: crm configure load update %s", example)
	fmt.Print(indent(crm))
	if drbd {
		var scaled bool
		if crm, scaled = testbed.VMTimeouts(crm); scaled {
			fmt.Printf("    (operation timeouts multiplied by 4: the VMs run under software emulation, no KVM)\n")
		}
	}
	if err := b.CrmLoad(b.Nodes()[0], crm); err != nil {
		return err
	}
	active, err := b.WaitResource(timeout, "pbx-asterisk")
	if err != nil {
		return err
	}
	step("crm_mon on %s", active)
	if out, err := b.Exec(active, time.Minute, nil, "crm_mon", "-1", "-r"); err == nil {
		fmt.Print(indent(out))
	}
	step("probing the PBX from the client: SIP OPTIONS to %s", testbed.VIP)
	sip := testbed.NewProber(b.SIPProbe(), 100*time.Millisecond, time.Second, time.Hour)
	if !testbed.Poll(timeout, 200*time.Millisecond, sip.Once) {
		return fmt.Errorf("asterisk does not answer on %s", testbed.VIP)
	}
	fmt.Printf("    Asterisk on %s answers SIP OPTIONS on %s\n", active, testbed.VIP)

	step("powering off %s, the active node (no clean shutdown: link cut, every process killed)", active)
	ping := testbed.NewProber(b.PingProbe(), 100*time.Millisecond, time.Second, time.Hour)
	ping.Start()
	sip.Start()
	defer ping.Stop()
	defer sip.Stop()
	time.Sleep(time.Second)
	if err := b.PowerOff(active); err != nil {
		return err
	}
	tf := b.LastFault()
	var vipT, sipT time.Duration
	if !testbed.Poll(timeout, 50*time.Millisecond, func() bool {
		var okv, oks bool
		vipT, okv = ping.First(tf)
		sipT, oks = sip.First(tf)
		return okv && oks
	}) {
		return fmt.Errorf("no failover within %s", timeout)
	}
	now, _ := b.WaitResource(timeout, "pbx-asterisk", active)
	step("failover timeline (from the client's point of view)")
	fmt.Printf("    t=  0.00 s  %s powered off\n", active)
	fmt.Printf("    t=%6.2f s  %s answers ping again (now on %s)\n", vipT.Seconds(), testbed.VIP, now)
	fmt.Printf("    t=%6.2f s  Asterisk answers SIP OPTIONS on %s\n", sipT.Seconds(), testbed.VIP)
	fmt.Printf("    (Heartbeat-1 in the original setup: 15-20 s; see README for the shell-agent baseline)\n")
	if out, err := b.Exec(now, time.Minute, nil, "crm_mon", "-1", "-r"); err == nil {
		step("crm_mon on %s", now)
		fmt.Print(indent(out))
	}
	return nil
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return "    " + strings.Join(lines, "\n    ") + "\n"
}
