package sipp

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestRecord records testdata/<case>/ with the real SIPp against a fake PBX
// (a SIPp UAS running testdata/fakepbx/*.xml) on 127.0.0.1 in an existing
// network namespace: GOCF_SIPP_RECORD=1 GOCF_SIPP_NETNS=<name> (see
// testdata/README.md). Skipped otherwise.
func TestRecord(t *testing.T) {
	ns := os.Getenv("GOCF_SIPP_NETNS")
	if os.Getenv("GOCF_SIPP_RECORD") == "" || ns == "" {
		t.Skip("records testdata only with GOCF_SIPP_RECORD=1 GOCF_SIPP_NETNS=<netns>")
	}
	prefix := []string{"nsenter", "--net=/run/netns/" + ns, "--"}
	type phase struct {
		pbx   string        // fake PBX scenario
		after time.Duration // started this long after the UAC (0: before it)
		stop  time.Duration // SIGKILLed this long after the UAC started (0: runs out)
		flags []string
	}
	cases := []struct {
		name   string
		calls  int
		hold   time.Duration
		phases []phase
	}{
		{"ok", 6, 2 * time.Second, []phase{{pbx: "ok"}}},
		{"hangup", 4, 3 * time.Second, []phase{{pbx: "hangup"}}},
		{"lost", 4, time.Second, []phase{{pbx: "lost"}}},
		{"busy", 4, time.Second, []phase{{pbx: "busy"}}},
		// The PBX dies 2.8 s into the run and comes back 3 s later without
		// the calls it had (BYEs for them unanswered: no automatic 200).
		{"outage", 16, 3 * time.Second, []phase{{pbx: "ok", stop: 2800 * time.Millisecond},
			{pbx: "ok", after: 5800 * time.Millisecond, flags: []string{"-default_behaviors", "all,-bye"}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			var pbxs []*exec.Cmd
			startPBX := func(p phase) {
				args := append(append([]string{}, prefix...), "sipp", "-sf", filepath.Join("testdata/fakepbx", p.pbx+".xml"),
					"-i", "127.0.0.1", "-p", "5060", "-mp", "7000", "-timeout", "40s", "-nostdin")
				cmd := exec.Command(args[0], append(args[1:], p.flags...)...)
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				pbxs = append(pbxs, cmd)
			}
			defer func() {
				for _, p := range pbxs {
					p.Process.Kill()
					p.Wait()
				}
			}()
			startPBX(c.phases[0])
			time.Sleep(300 * time.Millisecond)
			p, err := Start(Config{Prefix: prefix, Scenario: UACCall, Dir: dir, Target: "127.0.0.1:5060", Service: "100",
				LocalIP: "127.0.0.1", LocalPort: 5061, MediaPort: 7010, Rate: 2, Limit: 20, Calls: c.calls,
				Hold: c.hold, RecvTimeout: 3 * time.Second, Timeout: 40 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%q", p.Cmd.Args)
			// The phases' kills and starts, in order, on this goroutine.
			t0 := time.Now()
			for i, ph := range c.phases {
				if i > 0 {
					time.Sleep(time.Until(t0.Add(ph.after)))
					startPBX(ph)
				}
				if ph.stop > 0 {
					time.Sleep(time.Until(t0.Add(ph.stop)))
					pbxs[i].Process.Kill()
				}
			}
			code, err := p.Wait(45 * time.Second)
			if err != nil {
				p.Stop(time.Second)
				t.Fatal(err)
			}
			r, err := p.Result()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("exit %d: %+v", code, *r)
			if code > 1 {
				log, _ := os.ReadFile(filepath.Join(dir, LogFile))
				t.Fatalf("sipp failed:\n%s", log)
			}
			out := filepath.Join("testdata", c.name)
			os.RemoveAll(out)
			os.MkdirAll(out, 0o755)
			for _, pat := range []string{StatFile, "*_counts.csv", "*_rtt.csv"} {
				m, _ := filepath.Glob(filepath.Join(dir, pat))
				for _, f := range m {
					b, err := os.ReadFile(f)
					if err != nil {
						t.Fatal(err)
					}
					os.WriteFile(filepath.Join(out, filepath.Base(f)), b, 0o644)
				}
			}
		})
	}
}
