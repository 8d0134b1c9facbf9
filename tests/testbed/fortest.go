package testbed

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ForTest returns a test bed for a test gated by env (GOCF_TESTBED for ns
// mode, GOCF_TESTBED_VM for vm mode) and root; it is not up yet. A bed left
// up by an interrupted run (a go test timeout skips t.Cleanup) is ours, by
// its state file, and is taken down first. When the test ends the bed is
// always torn down and the teardown is checked to leave nothing behind.
// Under GOCF_CHECK (make check) a missing gate fails instead of skipping.
func ForTest(t testing.TB, env string, cfg Config) *Bed {
	t.Helper()
	if os.Getenv(env) != "1" {
		if os.Getenv("GOCF_CHECK") != "" {
			t.Fatalf("%s=1 is needed: GOCF_CHECK forbids skipping", env)
		}
		t.Skipf("set %s=1 (as root) to run the cluster test bed", env)
	}
	if os.Geteuid() != 0 {
		t.Fatal("the test bed needs root")
	}
	cfg.Log = testLog{t}
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if b.Mode() != "" {
		t.Logf("taking down a test bed left up (%s mode)", b.Mode())
		if err := b.Down(); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			if n, err := b.AnyRunning(); err == nil {
				out, _ := b.Exec(n, time.Minute, nil, "crm_mon", "-1", "-r", "-f", "--show-detail")
				t.Logf("crm_mon on %s:\n%s", n, out)
			}
			dir := filepath.Join(os.TempDir(), "gocf-testbed-logs", strings.ReplaceAll(t.Name(), "/", "_"))
			if err := b.SaveLogs(dir); err != nil {
				t.Logf("saving node logs: %v", err)
			} else {
				t.Logf("node logs saved in %s", dir)
			}
		}
		t0 := time.Now()
		if err := b.Down(); err != nil {
			t.Errorf("teardown: %v", err)
		}
		t.Logf("teardown %.1fs", time.Since(t0).Seconds())
	})
	return b
}

type testLog struct{ t testing.TB }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
