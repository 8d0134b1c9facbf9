// Package lab is the scaffolding of gocf's real-component tests: the agent
// binaries built into a place every user can read (ocf-tester runs
// meta-data as nobody), network namespaces joined by veth pairs, agents
// run inside them, and frames captured on the far end of a link.
package lab

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// RequireRoot skips a test that needs root, unless GOCF_CHECK is set
// (make check sets it): there a missing privilege is a failure, not a skip.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "needs root")
	}
}

// RequireTool does the same for an external program.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		skipOrFail(t, name+" is not installed (make deps)")
	}
	return p
}

func skipOrFail(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("GOCF_CHECK") != "" {
		t.Fatalf("%s, and GOCF_CHECK forbids skipping", why)
	}
	t.Skip(why)
}

// RepoRoot is the top of the source tree.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// BuildAgents builds every agent into a fresh world-readable directory and
// returns it. Call it from TestMain; remove the directory afterwards.
func BuildAgents() (string, error) {
	dir, err := os.MkdirTemp("", "gocf-agents-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	cmd := exec.Command("go", "build", "-trimpath", "-tags", "urfave_cli_no_docs", "-o", dir+"/", "./agents/...")
	cmd.Dir = RepoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return dir, nil
}

// Run runs a command with a time bound and returns its combined output.
func Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

var nsSeq atomic.Int32

// Netns is a network namespace the test created.
type Netns struct{ Name string }

// NewNetns creates a namespace with lo up, deleted when the test ends.
func NewNetns(t testing.TB) *Netns {
	t.Helper()
	name := fmt.Sprintf("gocf-t%d-%d", os.Getpid(), nsSeq.Add(1))
	Run(t, "ip", "netns", "add", name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	Run(t, "ip", "-n", name, "link", "set", "lo", "up")
	return &Netns{Name: name}
}

// IP runs ip(8) inside the namespace.
func (n *Netns) IP(t testing.TB, args ...string) string {
	t.Helper()
	return Run(t, "ip", append([]string{"-n", n.Name}, args...)...)
}

// Link is a veth pair between two namespaces: Here in A, There in B.
type Link struct {
	A, B        *Netns
	Here, There string
}

// Veth joins a and b with a veth pair, both ends up. Disable DAD on the
// far end so addresses there are usable at once.
func Veth(t testing.TB, a, b *Netns) *Link {
	t.Helper()
	n := nsSeq.Add(1)
	here, there := fmt.Sprintf("gv%da", n), fmt.Sprintf("gv%db", n)
	Run(t, "ip", "link", "add", here, "netns", a.Name, "type", "veth", "peer", "name", there, "netns", b.Name)
	a.IP(t, "link", "set", here, "up")
	b.IP(t, "link", "set", there, "up")
	return &Link{A: a, B: b, Here: here, There: there}
}

// Result is the outcome of one agent action.
type Result struct {
	Status int
	Stdout string
	Stderr string
}

// ExitReasons returns the ocf-exit-reason lines of stderr.
func (r Result) ExitReasons() []string {
	var out []string
	for _, l := range strings.Split(r.Stderr, "\n") {
		if s, ok := strings.CutPrefix(l, "ocf-exit-reason:"); ok {
			out = append(out, s)
		}
	}
	return out
}

// Agent runs an agent binary inside namespace ns with an OCF environment
// built from params (OCF_RESKEY_ prefixed) and extra raw variables.
type Agent struct {
	Bin      string
	Netns    *Netns
	MountNS  *MountNS
	Instance string
	Params   map[string]string
	Env      []string
	// Enter, when set, is the command prefix that puts the agent where it
	// runs (nsenter into a chroot's namespaces); Bin is a path there.
	Enter []string
}

// Do runs one action, bounded in time.
func (a *Agent) Do(t testing.TB, action string, env ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := []string{a.Bin, action}
	if a.Netns != nil {
		args = append([]string{"ip", "netns", "exec", a.Netns.Name}, args...)
	}
	if a.MountNS != nil {
		args = append(a.MountNS.Prefix(), args...)
	}
	if a.Enter != nil {
		args = append(slices.Clone(a.Enter), args...)
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "OCF_ROOT=/usr/lib/ocf", "OCF_RESOURCE_INSTANCE=" + a.Instance}
	for k, v := range a.Params {
		cmd.Env = append(cmd.Env, "OCF_RESKEY_"+k+"="+v)
	}
	cmd.Env = append(append(cmd.Env, a.Env...), env...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	res := Result{Stdout: so.String(), Stderr: se.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.Status = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %s: %v", a.Bin, action, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("%s %s did not finish within 60s", a.Bin, action)
	}
	t.Logf("%s %s -> %d\n%s", filepath.Base(a.Bin), action, res.Status, strings.TrimSpace(res.Stderr))
	return res
}

// Expect runs an action and fails the test unless it returns want.
func (a *Agent) Expect(t testing.TB, want int, action string, env ...string) Result {
	t.Helper()
	r := a.Do(t, action, env...)
	if r.Status != want {
		t.Fatalf("%s %s: got %d, want %d\nstderr: %s", filepath.Base(a.Bin), action, r.Status, want, r.Stderr)
	}
	if want != 0 && want != 7 && len(r.ExitReasons()) != 1 {
		t.Fatalf("%s %s: want exactly one ocf-exit-reason line, got %q", filepath.Base(a.Bin), action, r.ExitReasons())
	}
	return r
}

// BadValues lists wrong parameter values: {parameter, value, what the exit
// reason must say}.
type BadValues [][3]string

// RejectsAll checks that each bad value, set over base, makes validate-all
// and start answer 6 with a reason naming the problem, a probe answer 7 and
// stop succeed: nothing of an invalid configuration can run.
func RejectsAll(t *testing.T, agent func(params map[string]string) *Agent, base map[string]string, bad BadValues) {
	t.Helper()
	for _, b := range bad {
		key, value, reason := b[0], b[1], b[2]
		p := map[string]string{}
		for k, v := range base {
			p[k] = v
		}
		p[key] = value
		a := agent(p)
		for _, action := range []string{"validate-all", "start"} {
			r := a.Expect(t, 6, action)
			if !strings.Contains(r.ExitReasons()[0], reason) {
				t.Errorf("%s=%q %s: reason %q lacks %q", key, value, action, r.ExitReasons()[0], reason)
			}
		}
		a.Expect(t, 7, "monitor")
		a.Expect(t, 0, "stop")
	}
}
