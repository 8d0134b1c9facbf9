// Command testbed drives gocf's cluster test bed (see tests/testbed/README.md).
//
//	testbed [global flags] image [--drbd 9.2|9.3]
//	testbed [global flags] up [--mode ns|vm] [--nodes N] [--agents DIR] [--token MS] [--asterisk] [--shared-disk] [--drbd 8.4|9.2|9.3]
//	testbed [global flags] down | status
//	testbed [global flags] exec NODE CMD... | crm NODE ARGS...
//	testbed [global flags] power-off NODE | cable NODE [lan|ring|all] down|up | shutdown NODE | boot NODE
//	testbed [global flags] baseline [--mode ns|vm] [--runs N] [--out FILE]
//	testbed [global flags] faults [--mode ns|vm] [--stack gocf,shell,hb1] [--runs N] [--faults 1,2,..] [--out FILE] [--fault6 dm|ext4] [--keep JSON]
//	testbed [global flags] scale [--mode ns] [--max N] [--ns 1,10,..] [--kinds addresses,filesystems] [--out FILE] [--replot FILE.json]
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/gocf/gocf/tests/testbed"
)

func usage() {
	fmt.Fprint(os.Stderr, `usage: testbed [--state DIR] [--data DIR] [--cache DIR] [-q] COMMAND [ARGS]
commands:
  image [--key|--prune]         build the image if its inputs changed; print its directory
                                (--key: only print the hash of the build inputs;
                                 --prune: remove cached images of other inputs)
  image --drbd 9.2|9.3          also build LINBIT's DRBD module for the image's kernel; print its directory
  up [--mode ns|vm] [--nodes N] [--agents DIR] [--token MS] [--asterisk] [--shared-disk]
     [--drbd 8.4|9.2|9.3]       vm mode: the DRBD of the VMs (default 8.4, the in-tree module)
  down                          stop everything, remove all, check nothing is left
  status                        nodes and crm_mon
  exec NODE CMD...              run a command on a node
  crm NODE ARGS...              run crmsh on a node
  power-off NODE                power loss: link down, every process and kernel state gone
  cable NODE [lan|ring|all] down|up
                                pull / plug the node's LAN (eth0), ring (eth1) or both
                                cables at the bridges (default all)
  shutdown NODE                 clean stop: pacemaker, then corosync, then the node
  boot NODE                     power on again and wait until online
  failover [--mode ns|vm] [--runs N] [--out FILE]
                                the shell-agent stack and the gocf stack in the same harness, with ratios
  seedplan [--mode vm|ns] [--tests 2.2,..] [--drbd 9.2] [--out FILE]
                                the seed's test plan (table IV, 2.1-2.8) on the PBX of crm-examples/
  quorum [--drbd 9.2|9.3] [--tests Q1,..] [--out FILE]
                                three VMs (a diskless DRBD tiebreaker), DRBD 9 quorum, the PBX of
                                crm-examples/pbx-drbd9-quorum.crm: cable pulls on each node
  record-drbd DIR               on a vm bed with DRBD 9 (up --mode vm --drbd 9.2 [--nodes 3]): record
                                DRBD's outputs through a resource's life (3 nodes: with quorum) into DIR
  faults [--mode ns|vm] [--stack gocf,shell,hb1] [--runs N] [--faults 1,2,..] [--out FILE] [--hold D] [--fault6 dm|ext4] [--keep JSON]
                                issue 16's faults on the seed plan's PBX with SIPp calls, per stack (a bed each);
                                writes FILE (table, default tests/testbed/FAULTS-MODE.md), FILE-runs.md, FILE.json
                                and faults/MODE-N-NAME.svg beside it (vm: fault 6 is I/O errors under DRBD,
                                --fault6 ext4 makes it ns mode's ext4 error)
  scale [--mode ns] [--max 200] [--ns 1,10,50,100,200] [--kinds addresses,filesystems] [--depths 0,20]
        [--window 2m] [--warmup 30s] [--no-failover] [--layouts independent,group]
        [--batch-limit N] [--node-action-limit N] [--out FILE] [--replot FILE.json]
                                issue 17: N addresses / filesystems on one of 3 ns nodes, gocf and the shell
                                agents alternating per N: CPU per minute of pacemaker-execd and its agents,
                                the monitors' exec-time, failover to the last of the N; writes FILE (default
                                tests/testbed/SCALE-ns.md), FILE.json, FILE-cpu.svg, FILE-failover.svg
                                (--replot: only render them again from a run's JSON, no bed)
  baseline [--mode ns|vm] [--runs N] [--out FILE] [--crm FILE --watch RSC [--name S]]
                                failover timings of the shell-agent stack, or of the crm
                                configuration in FILE (brings its own bed up and down)
`)
	os.Exit(2)
}

func main() {
	g := flag.NewFlagSet("testbed", flag.ExitOnError)
	g.Usage = usage
	var cfg testbed.Config
	quiet := g.Bool("q", false, "quiet: no progress log on stderr")
	g.StringVar(&cfg.StateDir, "state", testbed.DefaultStateDir, "state directory")
	g.StringVar(&cfg.DataDir, "data", testbed.DefaultDataDir, "node data directory (overlays, disks)")
	g.StringVar(&cfg.CacheDir, "cache", testbed.DefaultCacheDir, "image cache")
	_ = g.Parse(os.Args[1:])
	if g.NArg() == 0 {
		usage()
	}
	if !*quiet {
		cfg.Log = os.Stderr
	}
	cmd, args := g.Arg(0), g.Args()[1:]
	if err := runCmd(cfg, cmd, args); err != nil {
		fmt.Fprintln(os.Stderr, "testbed:", err)
		var ee exitErr
		if errors.As(err, &ee) {
			os.Exit(int(ee))
		}
		os.Exit(1)
	}
}

type exitErr int

func (e exitErr) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func runCmd(cfg testbed.Config, cmd string, args []string) error {
	switch cmd {
	case "image":
		if len(args) == 1 && args[0] == "--key" {
			fmt.Println(testbed.ImageKey())
			return nil
		}
		drbd, args := drbdFlag(args)
		img, err := testbed.EnsureImage(cfg.CacheDir, cfg.Log)
		if err != nil {
			return err
		}
		if testbed.IsDRBD9(drbd) {
			dir, err := testbed.EnsureDRBDModule(img, drbd, cfg.CacheDir, cfg.Log)
			if err != nil {
				return err
			}
			fmt.Println(dir)
		} else if drbd != "" && drbd != testbed.DefaultDRBD {
			_, err := testbed.ParseDRBDVersion(drbd)
			return err
		}
		if len(args) == 1 && args[0] == "--prune" {
			testbed.PruneImages(cfg.CacheDir, testbed.ImageKey())
		}
		fmt.Println(img.Dir)
		return nil
	case "up":
		f := flag.NewFlagSet("up", flag.ExitOnError)
		f.StringVar(&cfg.Mode, "mode", "ns", "ns or vm")
		f.IntVar(&cfg.Nodes, "nodes", 0, "number of nodes, 2 or 3 (default: ns 3, vm 2; vm 3: DRBD 9 with a diskless tiebreaker)")
		f.StringVar(&cfg.AgentsDir, "agents", defaultAgents(), "directory of gocf agents to install (default: bin/ when run from the repository root)")
		f.IntVar(&cfg.TokenMS, "token", 1000, "corosync token (ms)")
		f.BoolVar(&cfg.Asterisk, "asterisk", false, "install a minimal Asterisk config bound to the VIP")
		f.BoolVar(&cfg.SharedDisk, "shared-disk", false, "ns: ext4 on a loop device visible in every node")
		f.BoolVar(&cfg.QDevice, "qdevice", false, "a quorum device (corosync-qnetd in the client namespace) instead of two_node")
		f.StringVar(&cfg.FencePeer, "fence-peer", "gocf", "vm: DRBD's fence-peer handler, gocf or linbit")
		f.StringVar(&cfg.DRBD, "drbd", testbed.DefaultDRBD, "vm mode: DRBD 8.4 (in-tree), 9.2 or 9.3 (LINBIT's, built from ../shared/drbd9 or $GTB_DRBD9_SRC)")
		_ = f.Parse(args)
		b, err := testbed.New(cfg)
		if err != nil {
			return err
		}
		t0 := time.Now()
		if err := b.Up(); err != nil {
			return err
		}
		fmt.Printf("up: %s mode, %d nodes, %.1fs\n", b.Mode(), len(b.Nodes()), time.Since(t0).Seconds())
		if d := b.SharedDisk(); d != "" {
			fmt.Printf("shared disk: %s\n", d)
		}
		if b.Mode() == "vm" {
			fmt.Printf("drbd: %s\n", b.DRBD())
		}
		return nil
	case "failover":
		f := flag.NewFlagSet("failover", flag.ExitOnError)
		f.StringVar(&cfg.Mode, "mode", "ns", "ns or vm")
		f.StringVar(&cfg.AgentsDir, "agents", defaultAgents(), "directory of the gocf agents to measure")
		runs := f.Int("runs", 0, "runs per stack (default ns 5, vm 3)")
		out := f.String("out", "", "append the result to this Markdown file")
		_ = f.Parse(args)
		if *runs == 0 {
			*runs = 5
			if cfg.Mode == "vm" {
				*runs = 3
			}
		}
		md, err := testbed.Compare(cfg, *runs, fmt.Sprintf("testbed failover --mode %s --runs %d", cfg.Mode, *runs))
		fmt.Print(md)
		if err == nil && *out != "" {
			err = appendFile(*out, md)
		}
		return err
	case "seedplan":
		f := flag.NewFlagSet("seedplan", flag.ExitOnError)
		f.StringVar(&cfg.Mode, "mode", "vm", "vm (DRBD, pbx-drbd.crm) or ns (shared disk, pbx-shared.crm)")
		f.StringVar(&cfg.AgentsDir, "agents", defaultAgents(), "directory of the gocf agents")
		crmFile := f.String("crm", "", "crm configuration (default crm-examples/pbx-drbd.crm or pbx-shared.crm)")
		out := f.String("out", "", "append the result table to this Markdown file")
		only := f.String("tests", "", "run only these tests (e.g. 2.2,2.3a)")
		f.StringVar(&cfg.FencePeer, "fence-peer", "gocf", "vm: DRBD's fence-peer handler, gocf or linbit")
		f.StringVar(&cfg.DRBD, "drbd", testbed.DefaultDRBD, "vm mode: DRBD 8.4 (in-tree), 9.2 or 9.3 (LINBIT's)")
		_ = f.Parse(args)
		if *crmFile == "" {
			*crmFile = "crm-examples/pbx-drbd.crm"
			if cfg.Mode == "ns" {
				*crmFile = "crm-examples/pbx-shared.crm"
			}
		}
		crm, err := os.ReadFile(*crmFile)
		if err != nil {
			return err
		}
		tests, err := testbed.RunSeedPlan(cfg, string(crm), *only)
		if len(tests) > 0 {
			command := "testbed seedplan --mode " + cfg.Mode
			if *only != "" {
				command += " --tests " + *only
			}
			if cfg.FencePeer != "gocf" {
				command += " --fence-peer " + cfg.FencePeer
			}
			if cfg.DRBD != testbed.DefaultDRBD {
				command += " --drbd " + cfg.DRBD
			}
			md := testbed.SeedMarkdown(cfg.Mode, tests, command)
			fmt.Print(md)
			if *out != "" {
				if werr := appendFile(*out, md); werr != nil {
					return werr
				}
			}
		}
		return err
	case "quorum":
		f := flag.NewFlagSet("quorum", flag.ExitOnError)
		f.StringVar(&cfg.AgentsDir, "agents", defaultAgents(), "directory of the gocf agents")
		drbd := f.String("drbd", "9.2", "DRBD 9 of the VMs (9.2 or 9.3)")
		crmFile := f.String("crm", "crm-examples/"+testbed.QuorumCrm, "crm configuration (its tiebreaker named pbx3)")
		out := f.String("out", "", "append the result table to this Markdown file")
		only := f.String("tests", "", "run only these tests (e.g. Q1,Q3)")
		_ = f.Parse(args)
		crm, err := os.ReadFile(*crmFile)
		if err != nil {
			return err
		}
		tests, err := testbed.RunQuorumPlan(cfg, *drbd, string(crm), *only)
		if len(tests) > 0 {
			command := "testbed quorum --drbd " + *drbd
			if *only != "" {
				command += " --tests " + *only
			}
			md := testbed.QuorumMarkdown(*drbd, tests, command)
			fmt.Print(md)
			if *out != "" {
				if werr := appendFile(*out, md); werr != nil {
					return werr
				}
			}
		}
		return err
	case "faults":
		f := flag.NewFlagSet("faults", flag.ExitOnError)
		f.StringVar(&cfg.Mode, "mode", "ns", "ns (shared disk, pbx-shared.crm) or vm (DRBD, pbx-drbd.crm)")
		f.StringVar(&cfg.AgentsDir, "agents", defaultAgents(), "directory of the gocf agents")
		f.StringVar(&cfg.FencePeer, "fence-peer", "gocf", "vm: DRBD's fence-peer handler, gocf or linbit")
		stacks := f.String("stack", "gocf,shell,hb1", "stacks to compare, in the table's order")
		runs := f.Int("runs", 0, "runs per fault and stack (default ns 3, vm 1)")
		only := f.String("faults", "", "faults to run, e.g. 1,2,9 or 1-4 (default: all of the mode)")
		fault6 := f.String("fault6", "dm", "vm mode: fault 6 as I/O errors under DRBD's disk (dm: a device-mapper error target) or as an ext4 error on /dev/drbd0 (ext4, as in ns mode)")
		out := f.String("out", "", "the table's Markdown file (default tests/testbed/FAULTS-MODE.md); the runs, JSON and SVGs go beside it")
		hold := f.Duration("hold", 20*time.Second, "how long each call is held")
		work := f.String("work", "", "directory for SIPp's files (default: a new temporary directory)")
		keep := f.String("keep", "", "the JSON of an earlier run (e.g. tests/testbed/FAULTS-vm.json): its runs of faults and stacks this run does not measure go into the table too")
		_ = f.Parse(args)
		var old *testbed.FaultReport
		if *keep != "" {
			data, err := os.ReadFile(*keep)
			if err != nil {
				return err
			}
			old = &testbed.FaultReport{}
			if err := json.Unmarshal(data, old); err != nil {
				return fmt.Errorf("%s: %w", *keep, err)
			}
		}
		fs, err := testbed.ParseFaults(*only, cfg.Mode)
		if err != nil {
			return err
		}
		sts, err := testbed.ParseStacks(*stacks)
		if err != nil {
			return err
		}
		if *runs == 0 {
			*runs = 3
			if cfg.Mode == "vm" {
				*runs = 1
			}
		}
		if *out == "" {
			*out = "tests/testbed/FAULTS-" + cfg.Mode + ".md"
		}
		command := fmt.Sprintf("testbed faults --mode %s --stack %s --runs %d", cfg.Mode, strings.Join(sts, ","), *runs)
		if *only != "" {
			command += " --faults " + *only
		}
		switch *fault6 {
		case "dm":
		case "ext4":
			for i := range fs {
				if fs[i].ID == 6 {
					fs[i] = testbed.Fault6Ext4()
				}
			}
			command += " --fault6 ext4"
		default:
			return fmt.Errorf("--fault6 %q: want dm or ext4", *fault6)
		}
		fc := testbed.FaultConfig{Faults: fs, Stacks: sts, Runs: *runs, Hold: *hold, WorkDir: *work,
			Progress: func(r testbed.FaultRun) {
				fmt.Fprintf(os.Stderr, "faults: %s fault %d run %d: OPTIONS back %v (%v), new call %v (%v), calls %+v %s\n",
					r.Stack, r.Fault, r.Run, r.SIPBack, r.SIPOK, r.CallBack, r.CallOK, r.Calls, r.Err)
			}}
		t0 := time.Now()
		rep, err := testbed.RunFaults(cfg, fc)
		if rep != nil && len(rep.Runs) > 0 {
			rep.Command, rep.Date = command, t0
			if old != nil {
				if kerr := rep.Keep(old); kerr != nil && err == nil {
					err = kerr
				}
			}
			files, werr := rep.Write(*out)
			fmt.Print(rep.Markdown())
			for _, p := range files {
				fmt.Println("wrote", p)
			}
			if werr != nil && err == nil {
				err = werr
			}
		}
		return err
	case "scale":
		return scaleCmd(cfg, args)
	case "baseline":
		f := flag.NewFlagSet("baseline", flag.ExitOnError)
		f.StringVar(&cfg.Mode, "mode", "ns", "ns or vm")
		runs := f.Int("runs", 0, "runs (default ns 5, vm 3)")
		out := f.String("out", "", "append the result table to this Markdown file")
		crmFile := f.String("crm", "", "measure this crm configuration instead of the shell-agent stack (@FSDEV@, @VIP@, @IFACE@ are replaced)")
		watch := f.String("watch", "", "with --crm: the resource that marks the active node")
		name := f.String("name", "", "with --crm: the stack's name in the table")
		_ = f.Parse(args)
		var st *testbed.Stack
		if *crmFile != "" {
			data, err := os.ReadFile(*crmFile)
			if err != nil {
				return err
			}
			if *watch == "" {
				return errors.New("baseline --crm needs --watch RESOURCE")
			}
			st = &testbed.Stack{Name: *name, CRM: string(data), Watch: *watch}
			if st.Name == "" {
				st.Name = *crmFile
			}
		}
		if *runs == 0 {
			*runs = 5
			if cfg.Mode == "vm" {
				*runs = 3
			}
		}
		res, err := testbed.Baseline(cfg, *runs, st)
		if res != nil && len(res.Runs) > 0 {
			command := "testbed baseline --mode " + cfg.Mode + fmt.Sprintf(" --runs %d", *runs)
			if st != nil {
				command += fmt.Sprintf(" --crm %s --watch %s", *crmFile, *watch)
			}
			md := res.Markdown(command)
			fmt.Print(md)
			if *out != "" {
				if werr := appendFile(*out, md); werr != nil {
					return werr
				}
			}
		}
		return err
	}
	b, err := testbed.New(cfg)
	if err != nil {
		return err
	}
	node := func() (string, error) {
		if len(args) == 0 {
			return "", fmt.Errorf("%s: missing NODE", cmd)
		}
		return b.NodeName(args[0])
	}
	switch cmd {
	case "down":
		t0 := time.Now()
		err := b.Down()
		fmt.Printf("down: %.1fs\n", time.Since(t0).Seconds())
		return err
	case "status":
		fmt.Print(b.Status())
		return nil
	case "exec", "crm":
		n, err := node()
		if err != nil {
			return err
		}
		argv := args[1:]
		if cmd == "crm" {
			argv = append([]string{"crm"}, argv...)
		}
		if len(argv) == 0 {
			return errors.New("exec: missing command")
		}
		var stdin []byte
		if fi, err := os.Stdin.Stat(); err == nil && fi.Mode()&(os.ModeCharDevice|os.ModeDevice) == 0 {
			// a pipe or file on stdin is passed to the command
			if stdin, err = io.ReadAll(io.LimitReader(os.Stdin, 64<<20)); err != nil {
				return err
			}
		}
		out, err := b.Exec(n, 10*time.Minute, stdin, argv...)
		fmt.Print(out)
		if err != nil {
			if i := strings.LastIndex(err.Error(), "exit status "); i >= 0 {
				var rc int
				fmt.Sscanf(err.Error()[i:], "exit status %d", &rc)
				if rc > 0 {
					return exitErr(rc)
				}
			}
		}
		return err
	case "power-off", "shutdown", "boot":
		n, err := node()
		if err != nil {
			return err
		}
		t0 := time.Now()
		switch cmd {
		case "power-off":
			err = b.PowerOff(n)
		case "shutdown":
			err = b.Shutdown(n)
		default:
			err = b.Boot(n)
		}
		fmt.Printf("%s %s: %.1fs\n", cmd, n, time.Since(t0).Seconds())
		return err
	case "cable":
		n, err := node()
		if err != nil {
			return err
		}
		which, state := testbed.LinkAll, ""
		switch len(args) {
		case 2:
			state = args[1]
		case 3:
			which, state = args[1], args[2]
		}
		if state != "up" && state != "down" || (which != testbed.LinkAll && which != testbed.LinkLAN && which != testbed.LinkRing) {
			return errors.New("usage: cable NODE [lan|ring|all] down|up")
		}
		return b.CableLink(n, which, state == "up")
	case "record-drbd":
		if len(args) != 1 {
			return errors.New("usage: record-drbd DIR")
		}
		t0 := time.Now()
		if err := b.RecordDRBD(args[0]); err != nil {
			return err
		}
		fmt.Printf("recorded into %s in %.1fs\n", args[0], time.Since(t0).Seconds())
		return nil
	}
	usage()
	return nil
}

func appendFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteString(s)
	return err
}

// defaultAgents is ./bin when the working directory is the gocf repository root, else none.
func defaultAgents() string {
	data, err := os.ReadFile("go.mod")
	if err == nil && strings.HasPrefix(string(data), "module github.com/gocf/gocf\n") {
		return "bin"
	}
	return ""
}

// drbdFlag takes "--drbd V" or "--drbd=V" out of args.
func drbdFlag(args []string) (string, []string) {
	var v string
	var rest []string
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--drbd" && i+1 < len(args):
			v = args[i+1]
			i++
		case strings.HasPrefix(a, "--drbd="):
			v = strings.TrimPrefix(a, "--drbd=")
		default:
			rest = append(rest, a)
		}
	}
	return v, rest
}

// scaleCmd is `testbed scale` (issue 17).
func scaleCmd(cfg testbed.Config, args []string) error {
	f := flag.NewFlagSet("scale", flag.ExitOnError)
	f.StringVar(&cfg.Mode, "mode", "ns", "ns (the only mode)")
	f.StringVar(&cfg.AgentsDir, "agents", defaultAgents(), "directory of the gocf agents")
	maxN := f.Int("max", 200, "largest N (caps --ns)")
	nsList := f.String("ns", "1,10,50,100,200", "resource counts")
	kinds := f.String("kinds", "addresses,filesystems", "what to scale: addresses, filesystems")
	depths := f.String("depths", "0,20", "filesystems' monitor depths (OCF_CHECK_LEVEL) for the steady state")
	window := f.Duration("window", 2*time.Minute, "the steady state's measured window")
	warmup := f.Duration("warmup", 30*time.Second, "wait after the cluster settled, before the window")
	noFailover := f.Bool("no-failover", false, "steady state only")
	layouts := f.String("layouts", "independent,group", "failover layouts: independent, group")
	batch := f.Int("batch-limit", 0, "also fail the independent resources over with batch-limit raised to this")
	nal := f.Int("node-action-limit", 0, "also fail the independent resources over with node-action-limit raised to this")
	out := f.String("out", "tests/testbed/SCALE-ns.md", "the table's Markdown file; FILE.json and the SVGs go beside it")
	replot := f.String("replot", "", "render the table and plots again from this JSON of a run (no bed)")
	_ = f.Parse(args)
	if *replot != "" {
		rep, err := testbed.LoadScaleReport(*replot)
		if err != nil {
			return err
		}
		return writeScale(rep, *out)
	}
	ns, err := testbed.ParseNs(*nsList, *maxN)
	if err != nil {
		return err
	}
	sc := testbed.ScaleConfig{Ns: ns, Window: *window, Warmup: *warmup, Failover: !*noFailover,
		BatchLimit: *batch, NodeActionLimit: *nal,
		Progress: func(r testbed.ScaleRun) {
			fmt.Fprintf(os.Stderr, "scale: %s %s %s N=%d: execd %.2f s/min, failover %.2f s after membership (%d answered), took %.0fs %s\n",
				r.Test, r.Stack, r.Variant(), r.N, r.ExecdCPU, r.AfterMembership, r.Answered, r.Took, r.Err)
		}}
	if sc.Kinds, err = oneOf("kind", *kinds, testbed.KindAddr, testbed.KindFS); err != nil {
		return err
	}
	for _, d := range strings.Split(*depths, ",") {
		var v int
		if _, err := fmt.Sscanf(strings.TrimSpace(d), "%d", &v); err != nil || (v != 0 && v != 10 && v != 20) {
			return fmt.Errorf("scale: depth %q: want 0, 10 or 20", d)
		}
		sc.Depths = append(sc.Depths, v)
	}
	if sc.Layouts, err = oneOf("layout", *layouts, testbed.LayoutSingle, testbed.LayoutGroup); err != nil {
		return err
	}
	command := fmt.Sprintf("testbed scale --mode %s --max %d --ns %s --kinds %s --depths %s --window %s --warmup %s",
		cfg.Mode, *maxN, *nsList, *kinds, *depths, *window, *warmup)
	if *noFailover {
		command += " --no-failover"
	} else {
		command += " --layouts " + *layouts
	}
	if *batch > 0 {
		command += fmt.Sprintf(" --batch-limit %d", *batch)
	}
	if *nal > 0 {
		command += fmt.Sprintf(" --node-action-limit %d", *nal)
	}
	t0 := time.Now()
	rep, err := testbed.RunScale(cfg, sc)
	if rep != nil && len(rep.Runs) > 0 {
		rep.Command, rep.Date = command, t0
		if werr := writeScale(rep, *out); werr != nil && err == nil {
			err = werr
		}
	}
	return err
}

func writeScale(rep *testbed.ScaleReport, out string) error {
	files, err := rep.Write(out)
	fmt.Print(rep.Markdown())
	for _, p := range files {
		fmt.Println("wrote", p)
	}
	return err
}

// oneOf splits a comma-separated flag value whose items must each be one of allowed.
func oneOf(what, list string, allowed ...string) ([]string, error) {
	var out []string
	for _, v := range strings.Split(list, ",") {
		v = strings.TrimSpace(v)
		if !slices.Contains(allowed, v) {
			return nil, fmt.Errorf("scale: %s %q: want one of %s", what, v, strings.Join(allowed, ", "))
		}
		out = append(out, v)
	}
	return out, nil
}
