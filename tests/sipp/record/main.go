// Command record records tests/sipp/testdata/<case>/ with the real SIPp
// against a fake PBX (a SIPp UAS running testdata/fakepbx/*.xml) on
// 127.0.0.1 in an existing network namespace (see
// tests/sipp/testdata/README.md). As root, from the repository root:
//
//	go run ./tests/sipp/record -netns h16-rec [-out tests/sipp/testdata] [-fakepbx tests/sipp/testdata/fakepbx]
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/gocf/gocf/tests/sipp"
)

type phase struct {
	pbx   string        // fake PBX scenario
	after time.Duration // started this long after the UAC (0: before it)
	stop  time.Duration // SIGKILLed this long after the UAC started (0: runs out)
	flags []string
}

type recording struct {
	name   string
	calls  int
	hold   time.Duration
	phases []phase
}

var cases = []recording{
	{"ok", 6, 2 * time.Second, []phase{{pbx: "ok"}}},
	{"hangup", 4, 3 * time.Second, []phase{{pbx: "hangup"}}},
	{"lost", 4, time.Second, []phase{{pbx: "lost"}}},
	{"busy", 4, time.Second, []phase{{pbx: "busy"}}},
	// The PBX dies 2.8 s into the run and comes back 3 s later without
	// the calls it had (BYEs for them unanswered: no automatic 200).
	{"outage", 16, 3 * time.Second, []phase{{pbx: "ok", stop: 2800 * time.Millisecond},
		{pbx: "ok", after: 5800 * time.Millisecond, flags: []string{"-default_behaviors", "all,-bye"}}}},
}

func main() {
	netns := flag.String("netns", "", "network namespace to run both SIPps in (required; ip netns add NAME, lo up)")
	out := flag.String("out", "tests/sipp/testdata", "directory receiving one subdirectory per case")
	fakepbx := flag.String("fakepbx", "tests/sipp/testdata/fakepbx", "directory of the fake PBX scenarios")
	flag.Parse()
	if *netns == "" || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	prefix := []string{"nsenter", "--net=/run/netns/" + *netns, "--"}
	for _, c := range cases {
		if err := record(c, prefix, *out, *fakepbx); err != nil {
			fmt.Fprintf(os.Stderr, "record %s: %v\n", c.name, err)
			os.Exit(1)
		}
	}
}

func record(c recording, prefix []string, outDir, fakepbx string) error {
	dir, err := os.MkdirTemp("", "sipp-record-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var pbxs []*exec.Cmd
	defer func() {
		for _, p := range pbxs {
			p.Process.Kill()
			p.Wait()
		}
	}()
	startPBX := func(p phase) error {
		args := append(append([]string{}, prefix...), "sipp", "-sf", filepath.Join(fakepbx, p.pbx+".xml"),
			"-i", "127.0.0.1", "-p", "5060", "-mp", "7000", "-timeout", "40s", "-nostdin")
		cmd := exec.Command(args[0], append(args[1:], p.flags...)...)
		if err := cmd.Start(); err != nil {
			return err
		}
		pbxs = append(pbxs, cmd)
		return nil
	}
	if err := startPBX(c.phases[0]); err != nil {
		return err
	}
	time.Sleep(300 * time.Millisecond)
	p, err := sipp.Start(sipp.Config{Prefix: prefix, Scenario: sipp.UACCall, Dir: dir, Target: "127.0.0.1:5060", Service: "100",
		LocalIP: "127.0.0.1", LocalPort: 5061, MediaPort: 7010, Rate: 2, Limit: 20, Calls: c.calls,
		Hold: c.hold, RecvTimeout: 3 * time.Second, Timeout: 40 * time.Second})
	if err != nil {
		return err
	}
	fmt.Printf("%s: %q\n", c.name, p.Cmd.Args)
	// The phases' kills and starts, in order.
	t0 := time.Now()
	for i, ph := range c.phases {
		if i > 0 {
			time.Sleep(time.Until(t0.Add(ph.after)))
			if err := startPBX(ph); err != nil {
				p.Stop(time.Second)
				return err
			}
		}
		if ph.stop > 0 {
			time.Sleep(time.Until(t0.Add(ph.stop)))
			pbxs[i].Process.Kill()
		}
	}
	code, err := p.Wait(45 * time.Second)
	if err != nil {
		p.Stop(time.Second)
		return err
	}
	r, err := p.Result()
	if err != nil {
		return err
	}
	fmt.Printf("%s: exit %d: %+v\n", c.name, code, *r)
	if code > 1 {
		log, _ := os.ReadFile(filepath.Join(dir, sipp.LogFile))
		return fmt.Errorf("sipp failed (exit %d):\n%s", code, log)
	}
	out := filepath.Join(outDir, c.name)
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	n := 0
	for _, pat := range []string{sipp.StatFile, "*_counts.csv", "*_rtt.csv"} {
		m, _ := filepath.Glob(filepath.Join(dir, pat))
		for _, f := range m {
			b, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(out, filepath.Base(f)), b, 0o644); err != nil {
				return err
			}
			n++
		}
	}
	if n == 0 {
		return errors.New("SIPp wrote no trace files")
	}
	return nil
}
