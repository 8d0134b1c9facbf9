// Package cluster holds the gocf agents' tests in a real cluster: the
// test bed's namespace nodes (Pacemaker 3.0, Corosync, Asterisk 22 from
// the trixie/sid image) and its qemu VMs (real DRBD). They run only as root
// with GOCF_TESTBED=1 (ns) or GOCF_TESTBED_VM=1 (vm); make check sets both.
package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gocf/gocf/tests/lab"
	"github.com/gocf/gocf/tests/testbed"
)

// bedFor brings up a test bed with the agents of this tree.
func bedFor(t *testing.T, env string, cfg testbed.Config) *testbed.Bed {
	t.Helper()
	dir, err := lab.BuildAgents()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	cfg.AgentsDir = dir
	b := testbed.ForTest(t, env, cfg)
	t0 := time.Now()
	if err := b.Up(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s bed with %d nodes up in %.1fs", b.Mode(), len(b.Nodes()), time.Since(t0).Seconds())
	return b
}

// agent runs a gocf agent action on node n with params and extra
// environment; it returns the exit status and the output.
func agent(t *testing.T, b *testbed.Bed, n, name, action string, params map[string]string, env ...string) (int, string) {
	t.Helper()
	argv := []string{"env", "OCF_ROOT=/usr/lib/ocf", "OCF_RESOURCE_INSTANCE=t-" + name, "OCF_RESKEY_CRM_meta_timeout=30000"}
	for k, v := range params {
		argv = append(argv, "OCF_RESKEY_"+k+"="+v)
	}
	argv = append(argv, env...)
	argv = append(argv, filepath.Join("/usr/lib/ocf/resource.d/gocf", name), action)
	// Exec returns the combined output; the status comes back on a last line.
	out, _ := b.Sh(n, 70*time.Second, shellQuote(argv)+"; echo \"rc=$?\"")
	i := strings.LastIndex(out, "rc=")
	if i < 0 {
		t.Fatalf("%s %s on %s: no status in %q", name, action, n, out)
	}
	var rc int
	fmt.Sscanf(out[i:], "rc=%d", &rc)
	t.Logf("%s: %s %s -> %d\n%s", n, name, action, rc, strings.TrimSpace(out[:i]))
	return rc, out[:i]
}

func shellQuote(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

func expect(t *testing.T, b *testbed.Bed, n, name, action string, want int, params map[string]string, env ...string) string {
	t.Helper()
	rc, out := agent(t, b, n, name, action, params, env...)
	if rc != want {
		t.Fatalf("%s %s on %s: got %d, want %d\n%s", name, action, n, rc, want, out)
	}
	return out
}
