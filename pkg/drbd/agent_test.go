package drbd

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gocf/gocf/pkg/ocf"
	"github.com/gocf/gocf/pkg/ocf/ocftest"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestDeclaration(t *testing.T) { ocftest.Declaration(t, Agent(), *update) }

// The fakes below replay recorded outputs of the test bed: a state is the
// base name of a recording under testdata/drbd84 (or testdata/drbd9 for
// down, drbd-utils' own sample of a dump without resources). Only exit
// codes of failing commands, which were not recorded, are made up; their
// output is left empty.
const down = "drbd9/events2-utils-no-resources.txt"

func stage(dir string) string { return "drbd84/" + dir + "/events2_now" }

func recorded(t testing.TB, state string) Result {
	if strings.HasSuffix(state, ".txt") {
		return Result{Stdout: readTestdata(t, state)}
	}
	rc, err := strconv.Atoi(strings.TrimSpace(readTestdata(t, state+".rc")))
	if err != nil {
		t.Fatal(err)
	}
	return Result{Code: rc, Stdout: readTestdata(t, state+".out"), Stderr: readTestdata(t, state+".err")}
}

// kernel is the fake DRBD: its current state, and what commands do to it.
type kernel struct {
	t     testing.TB
	state string
	// broken makes events2 --now fail (the module is loaded).
	broken bool
	// stream is what `drbdsetup events2` replays; the kernel is in the
	// state of the last recording once it has been read. block keeps the
	// stream open after it, as a peer that never comes does.
	stream []string
	block  bool

	calls    []string          // drbdadm commands run
	fail     map[string]int    // drbdadm command → exit code
	next     map[string]string // drbdadm command → state after it succeeds
	versions Versions
	dumpCode int

	scores   []string // promotion calls: "set N", "delete"
	promoted []string // PromotedElsewhere
}

func newKernel(t testing.TB, state string) *kernel {
	vers := parseVersions(readTestdata(t, "drbd84/versions.txt"))
	return &kernel{t: t, state: state, fail: map[string]int{}, next: map[string]string{}, versions: vers}
}

func (k *kernel) Events2Now(ctx context.Context, res string) (Result, error) {
	if k.broken {
		return Result{Code: 1}, nil
	}
	return recorded(k.t, k.state), nil
}

func (k *kernel) Events2(ctx context.Context, res string) (io.ReadCloser, error) {
	var b bytes.Buffer
	for _, s := range k.stream {
		b.WriteString(recorded(k.t, s).Stdout)
	}
	if len(k.stream) > 0 {
		k.state = k.stream[len(k.stream)-1]
	}
	if !k.block {
		return io.NopCloser(&b), nil
	}
	pr, pw := io.Pipe()
	go pw.Write(b.Bytes()) // then nothing more until closed
	return pr, nil
}

func (k *kernel) cmd(name string) (Result, error) {
	k.calls = append(k.calls, name)
	if code := k.fail[name]; code != 0 {
		return Result{Code: code}, nil
	}
	if s, ok := k.next[name]; ok {
		k.state = s
	}
	return Result{}, nil
}

func (k *kernel) Up(_ context.Context, _ string) (Result, error)        { return k.cmd("up") }
func (k *kernel) Adjust(_ context.Context, _ string) (Result, error)    { return k.cmd("adjust") }
func (k *kernel) Primary(_ context.Context, _ string) (Result, error)   { return k.cmd("primary") }
func (k *kernel) Secondary(_ context.Context, _ string) (Result, error) { return k.cmd("secondary") }
func (k *kernel) Down(_ context.Context, _ string) (Result, error)      { return k.cmd("down") }
func (k *kernel) Outdate(_ context.Context, _ string) (Result, error)   { return k.cmd("outdate") }
func (k *kernel) LoadModule(_ context.Context) (Result, error)          { return k.cmd("modprobe") }
func (k *kernel) UnfencePeer(_ context.Context, _, _ string) (Result, error) {
	return k.cmd("unfence-peer")
}
func (k *kernel) Dump(_ context.Context, _ string) (Result, error) {
	return Result{Code: k.dumpCode}, nil
}
func (k *kernel) Versions(_ context.Context) (Versions, error) {
	if k.versions == (Versions{}) {
		return Versions{}, &exec.Error{Name: "drbdadm", Err: exec.ErrNotFound}
	}
	return k.versions, nil
}

func (k *kernel) Set(_ context.Context, score int) error {
	k.scores = append(k.scores, fmt.Sprint("set ", score))
	return nil
}
func (k *kernel) Delete(_ context.Context) error {
	k.scores = append(k.scores, "delete")
	return nil
}
func (k *kernel) PromotedElsewhere(_ context.Context) ([]string, error) { return k.promoted, nil }

// run runs one action through the SDK as Pacemaker would, on a clone with
// notify=true; env adds to or overrides that environment.
func (k *kernel) run(t *testing.T, rsctmp, action string, env ...string) (ocf.Status, string, string) {
	t.Helper()
	conf := filepath.Join(rsctmp, "drbd.conf")
	if err := os.WriteFile(conf, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"OCF_RESKEY_drbd_resource=r0", "OCF_RESKEY_drbdconf=" + conf, "HA_RSCTMP=" + rsctmp,
		"OCF_RESOURCE_INSTANCE=drbd:0", "OCF_RESKEY_CRM_meta_on_node=node1", "OCF_RESKEY_CRM_meta_clone_max=2",
		"OCF_RESKEY_CRM_meta_clone_node_max=1", "OCF_RESKEY_CRM_meta_promoted_max=1", "OCF_RESKEY_CRM_meta_notify=true",
		"OCF_RESKEY_CRM_meta_timeout=2000"}
	if action == "monitor" {
		base = append(base, "OCF_RESKEY_CRM_meta_interval=10000")
	}
	env = append(base, env...)
	proc := filepath.Join(rsctmp, "proc-drbd")
	os.WriteFile(proc, nil, 0o600)
	a := agentWith(func(config, *ocf.Request) Tools { return Tools{Drbdadm: k, Drbdsetup: k, Promotion: k} }, proc, 10*time.Millisecond)
	var stdout, stderr bytes.Buffer
	st := ocf.Run(a, []string{"drbd", action}, env, &stdout, &stderr, func(code int) { t.Errorf("watchdog exit %d", code) })
	reason := ""
	for l := range strings.Lines(stderr.String()) {
		if r, ok := strings.CutPrefix(l, "ocf-exit-reason:"); ok {
			reason = strings.TrimSpace(r)
		}
	}
	return st, reason, stderr.String()
}

func scoreCall(d ScoreDecision) []string {
	switch d.Action {
	case Set:
		return []string{fmt.Sprint("set ", d.Value)}
	case Remove:
		return []string{"delete"}
	}
	return nil
}

// TestMonitorStages runs the recurring monitor on every recorded stage,
// with and without the agent having connected the resource.
func TestMonitorStages(t *testing.T) {
	for _, st := range stages84 {
		for _, connected := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/connected=%v", st.dir, connected), func(t *testing.T) {
				k, dir := newKernel(t, stage(st.dir)), t.TempDir()
				if connected {
					os.MkdirAll(filepath.Join(dir, "gocf-drbd-drbd:0"), 0o700)
					os.WriteFile(filepath.Join(dir, "gocf-drbd-drbd:0", connectedMarker), nil, 0o600)
				}
				want := st.monitor
				if connected {
					want = st.monitorConn
				}
				got, reason, log := k.run(t, dir, "monitor")
				if got != want {
					t.Errorf("status %v, want %v; log:\n%s", got, want, log)
				}
				if !slices.Equal(k.scores, scoreCall(st.score)) {
					t.Errorf("promotion calls %q, want %q", k.scores, scoreCall(st.score))
				}
				if want.Failed() && !strings.Contains(reason, "split brain: r0 StandAlone") {
					t.Errorf("reason %q", reason)
				}
				if want.Failed() && !strings.Contains(log, "drbdadm connect --discard-my-data r0") {
					t.Errorf("the log does not say how to resolve:\n%s", log)
				}
				if len(k.calls) != 0 {
					t.Errorf("monitor ran drbdadm %q", k.calls)
				}
			})
		}
	}
}

func TestMonitorDown(t *testing.T) {
	k := newKernel(t, down)
	if st, _, _ := k.run(t, t.TempDir(), "monitor", "OCF_RESKEY_CRM_meta_interval=0"); st != ocf.NotRunning || len(k.scores) != 0 {
		t.Errorf("probe: %v, promotion calls %q", st, k.scores)
	}
	if st, _, _ := k.run(t, t.TempDir(), "monitor"); st != ocf.NotRunning || !slices.Equal(k.scores, []string{"delete"}) {
		t.Errorf("recurring: %v, promotion calls %q", st, k.scores)
	}
	// A probe that finds it running sets the score.
	k = newKernel(t, stage("06-both-secondary/node1"))
	if st, _, _ := k.run(t, t.TempDir(), "monitor", "OCF_RESKEY_CRM_meta_interval=0"); st != ocf.Success || !slices.Equal(k.scores, []string{"set 10000"}) {
		t.Errorf("probe running: %v, promotion calls %q", st, k.scores)
	}
}

// A recurring monitor writes a score only when it changed, or when the one
// written is older than scoreRefresh; a probe and the other actions always
// write it.
func TestMonitorScoreNotRewritten(t *testing.T) {
	dir := t.TempDir()
	calls := func(stage, action string, env ...string) []string {
		t.Helper()
		k := newKernel(t, stage)
		if st, _, log := k.run(t, dir, action, env...); st != ocf.Success && st != ocf.RunningPromoted && st != ocf.NotRunning {
			t.Fatalf("%s: %v\n%s", action, st, log)
		}
		return k.scores
	}
	secondary, primary := stage("06-both-secondary/node1"), stage("04-primary-secondary-uptodate/node1")
	for i, tc := range []struct {
		stage, action string
		env           []string
		want          []string
	}{
		{secondary, "monitor", nil, []string{"set 10000"}},
		{secondary, "monitor", nil, nil},
		{secondary, "monitor", []string{"OCF_RESKEY_CRM_meta_interval=0"}, []string{"set 10000"}},
		{secondary, "monitor", nil, nil},
		{stage("03-syncing/node2"), "monitor", nil, []string{"set 10"}},
		{stage("03-syncing/node2"), "monitor", nil, nil},
		{primary, "monitor", nil, []string{"set 10000"}},
		{primary, "monitor", nil, nil},
		{down, "monitor", nil, []string{"delete"}},
		{down, "monitor", nil, nil},
		{down, "stop", nil, []string{"delete"}},
	} {
		if got := calls(tc.stage, tc.action, tc.env...); !slices.Equal(got, tc.want) {
			t.Errorf("%d: %s on %s: promotion calls %q, want %q", i, tc.action, tc.stage, got, tc.want)
		}
	}
	// Written longer ago than scoreRefresh: written again.
	old := fmt.Appendf(nil, "set 10000\n%d\n", time.Now().Add(-scoreRefresh-time.Second).Unix())
	if err := os.WriteFile(filepath.Join(dir, "gocf-drbd-drbd:0", scoreState), old, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := calls(secondary, "monitor"); !slices.Equal(got, []string{"set 10000"}) {
		t.Errorf("after %v: promotion calls %q", scoreRefresh, got)
	}
	if got := calls(secondary, "monitor"); got != nil {
		t.Errorf("refreshed: promotion calls %q", got)
	}
}

func TestMonitorNoModule(t *testing.T) {
	k := newKernel(t, down)
	k.broken = true
	dir := t.TempDir()
	// With /proc/drbd present, a failing drbdsetup is an error ...
	if st, reason, _ := k.run(t, dir, "monitor"); st != ocf.ErrGeneric || !strings.Contains(reason, "drbdsetup events2 --now r0") {
		t.Errorf("%v %q", st, reason)
	}
	// ... without it the module is not loaded: not running.
	a := agentWith(func(config, *ocf.Request) Tools { return Tools{Drbdadm: k, Drbdsetup: k, Promotion: k} },
		filepath.Join(dir, "absent"), time.Millisecond)
	env := []string{"OCF_RESKEY_drbd_resource=r0", "HA_RSCTMP=" + dir, "OCF_RESKEY_CRM_meta_interval=0"}
	if st := ocf.Run(a, []string{"drbd", "monitor"}, env, io.Discard, io.Discard, func(int) {}); st != ocf.NotRunning {
		t.Errorf("no module: %v", st)
	}
}

func TestRemoveScoreIfPeerPrimary(t *testing.T) {
	for _, tc := range []struct {
		value    string
		promoted []string // where Pacemaker has it promoted
		want     string
	}{
		{"false", nil, "set 10000"},
		{"true", []string{"node2"}, "delete"},
		{"unexpected", nil, "delete"},
		{"unexpected", []string{"node2"}, "set 10000"},
	} {
		// node2 is Primary and UpToDate; node1 is its Secondary.
		k := newKernel(t, stage("04-primary-secondary-uptodate/node2"))
		k.promoted = tc.promoted
		k.run(t, t.TempDir(), "monitor", "OCF_RESKEY_remove_master_score_if_peer_primary="+tc.value)
		if !slices.Equal(k.scores, []string{tc.want}) {
			t.Errorf("%s, promoted on %v: %q, want %s", tc.value, tc.promoted, k.scores, tc.want)
		}
	}
	// The Primary itself keeps its score.
	k := newKernel(t, stage("04-primary-secondary-uptodate/node1"))
	k.run(t, t.TempDir(), "monitor", "OCF_RESKEY_remove_master_score_if_peer_primary=true")
	if !slices.Equal(k.scores, []string{"set 10000"}) {
		t.Errorf("primary: %q", k.scores)
	}
}

func TestPromote(t *testing.T) {
	// Secondary of both UpToDate: promoted (node1's recorded Primary state).
	k := newKernel(t, stage("06-both-secondary/node1"))
	k.next["primary"] = stage("04-primary-secondary-uptodate/node1")
	if st, reason, _ := k.run(t, t.TempDir(), "promote"); st != ocf.Success || !slices.Equal(k.calls, []string{"primary"}) ||
		!slices.Equal(k.scores, []string{"set 10000"}) {
		t.Errorf("%v %q, calls %q, scores %q", st, reason, k.calls, k.scores)
	}

	// The peer is Primary: retried until the deadline, then said so.
	k = newKernel(t, stage("04-primary-secondary-uptodate/node2"))
	k.fail["primary"] = 11
	start := time.Now()
	st, reason, _ := k.run(t, t.TempDir(), "promote", "OCF_RESKEY_CRM_meta_timeout=500")
	if st != ocf.ErrGeneric || !strings.Contains(reason, `promote gave up at its timeout: peer "peer" is Primary`) || len(k.calls) < 3 {
		t.Errorf("%v %q after %d attempts", st, reason, len(k.calls))
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("promote took %v, beyond its timeout", d)
	}

	// fail_promote_early_if_peer_primary gives up after one attempt.
	k = newKernel(t, stage("04-primary-secondary-uptodate/node2"))
	k.fail["primary"] = 11
	st, reason, _ = k.run(t, t.TempDir(), "promote", "OCF_RESKEY_fail_promote_early_if_peer_primary=true")
	if st != ocf.ErrGeneric || reason != `cannot promote r0: peer "peer" is Primary` || len(k.calls) != 1 {
		t.Errorf("%v %q after %d attempts", st, reason, len(k.calls))
	}

	// Nobody has UpToDate data: no use retrying.
	for _, s := range []string{"01-up-waitconnection/node1", "02-connected-secondary-inconsistent/node2"} {
		k = newKernel(t, stage(s))
		k.fail["primary"] = 17
		st, reason, _ = k.run(t, t.TempDir(), "promote")
		if st != ocf.ErrGeneric || !strings.Contains(reason, "cannot promote r0: no UpToDate data (local disk Inconsistent") || len(k.calls) != 1 {
			t.Errorf("%s: %v %q after %d attempts", s, st, reason, len(k.calls))
		}
	}

	// The sync target reads from its UpToDate Primary peer: the peer's role
	// is the obstacle, not the data.
	k = newKernel(t, stage("03-syncing/node2"))
	k.fail["primary"] = 11
	if _, reason, _ = k.run(t, t.TempDir(), "promote", "OCF_RESKEY_CRM_meta_timeout=300"); !strings.Contains(reason, `peer "peer" is Primary`) {
		t.Errorf("sync target: %q", reason)
	}

	k = newKernel(t, down)
	if st, reason, _ = k.run(t, t.TempDir(), "promote"); st != ocf.ErrGeneric || reason != "cannot promote r0: it is not started" {
		t.Errorf("down: %v %q", st, reason)
	}
	// Promoting the Primary changes nothing.
	k = newKernel(t, stage("09-survivor-after-peer-killed/node1"))
	if st, _, _ = k.run(t, t.TempDir(), "promote"); st != ocf.Success || len(k.calls) != 0 {
		t.Errorf("primary: %v %q", st, k.calls)
	}
}

func TestDemote(t *testing.T) {
	k := newKernel(t, stage("04-primary-secondary-uptodate/node1"))
	k.next["secondary"] = stage("06-both-secondary/node1")
	if st, _, _ := k.run(t, t.TempDir(), "demote"); st != ocf.Success || !slices.Equal(k.calls, []string{"secondary"}) ||
		!slices.Equal(k.scores, []string{"set 10000"}) {
		t.Errorf("%v, calls %q, scores %q", st, k.calls, k.scores)
	}
	// Held open: retried until the deadline.
	k = newKernel(t, stage("05-primary-mounted/node1"))
	k.fail["secondary"] = 11
	st, reason, _ := k.run(t, t.TempDir(), "demote", "OCF_RESKEY_CRM_meta_timeout=300")
	if st != ocf.ErrGeneric || !strings.Contains(reason, "demote gave up at its timeout: drbdadm secondary r0: exit code 11") || len(k.calls) < 2 {
		t.Errorf("%v %q after %d attempts", st, reason, len(k.calls))
	}
	k = newKernel(t, down)
	if st, _, _ := k.run(t, t.TempDir(), "demote"); st != ocf.NotRunning {
		t.Errorf("down: %v", st)
	}
}

func TestStart(t *testing.T) {
	// Up, then the peer comes: waiting for connection, then connected.
	k, dir := newKernel(t, down), t.TempDir()
	k.next["up"] = stage("01-up-waitconnection/node1")
	k.stream = []string{stage("01-up-waitconnection/node1"), stage("02-connected-secondary-inconsistent/node1")}
	st, reason, log := k.run(t, dir, "start")
	if st != ocf.Success || !slices.Equal(k.calls, []string{"up"}) || !slices.Equal(k.scores, []string{"delete"}) {
		t.Errorf("%v %q, calls %q, scores %q\n%s", st, reason, k.calls, k.scores, log)
	}
	if !strings.Contains(log, "connections settled") {
		t.Errorf("did not see the peer connect:\n%s", log)
	}
	// Having connected it, a StandAlone found later is a split brain.
	k.state = stage("08-node1-disconnected/node1")
	if st, reason, _ := k.run(t, dir, "monitor"); st != ocf.ErrGeneric || !strings.Contains(reason, "split brain") {
		t.Errorf("after start: %v %q", st, reason)
	}
	// After stop it is not expected any more.
	k.next["down"] = down
	if st, _, _ := k.run(t, dir, "stop"); st != ocf.Success {
		t.Errorf("stop: %v", st)
	}
	k.state = stage("08-node1-disconnected/node1")
	if st, _, _ := k.run(t, dir, "monitor"); st != ocf.Success {
		t.Errorf("after stop: %v", st)
	}

	// The peer never comes: start waits wfc_timeout, not longer, and
	// succeeds.
	k = newKernel(t, down)
	k.next["up"] = stage("01-up-waitconnection/node1")
	k.stream, k.block = []string{stage("01-up-waitconnection/node1")}, true
	begin := time.Now()
	st, reason, log = k.run(t, t.TempDir(), "start", "OCF_RESKEY_wfc_timeout=1", "OCF_RESKEY_CRM_meta_timeout=10000")
	if d := time.Since(begin); st != ocf.Success || d < time.Second || d > 3*time.Second {
		t.Errorf("%v %q after %v\n%s", st, reason, d, log)
	}

	// Found Primary (left over): adjusted and demoted, ends Secondary.
	k = newKernel(t, stage("04-primary-secondary-uptodate/node1"))
	k.next["secondary"] = stage("06-both-secondary/node1")
	k.stream = []string{stage("04-primary-secondary-uptodate/node1")}
	if st, reason, _ := k.run(t, t.TempDir(), "start"); st != ocf.Success || !slices.Equal(k.calls, []string{"adjust", "secondary"}) {
		t.Errorf("primary: %v %q, calls %q", st, reason, k.calls)
	}

	// Up fails and adjust cannot finish it either.
	k = newKernel(t, down)
	k.fail["up"], k.fail["adjust"] = 10, 10
	if st, reason, _ := k.run(t, t.TempDir(), "start"); st != ocf.ErrGeneric || reason != "drbdadm up r0: exit code 10" {
		t.Errorf("up fails: %v %q", st, reason)
	}
}

func TestStartChecks(t *testing.T) {
	for _, tc := range []struct {
		name   string
		env    []string
		change func(*kernel)
		want   ocf.Status
		reason string
	}{
		{"no notify", []string{"OCF_RESKEY_CRM_meta_notify=false"}, nil, ocf.ErrConfigured, "notify=true"},
		{"notify ignored", []string{"OCF_RESKEY_CRM_meta_notify=false", "OCF_RESKEY_ignore_missing_notifications=true"}, nil, ocf.Success, ""},
		{"clone-node-max", []string{"OCF_RESKEY_CRM_meta_clone_node_max=2"}, nil, ocf.ErrConfigured, "clone-node-max must be 1"},
		{"promoted-max on 8.4", []string{"OCF_RESKEY_CRM_meta_promoted_max=2"}, nil, ocf.ErrConfigured, "promoted-max 2 exceeds 1, the limit of DRBD 8.4.11"},
		{"master-max on 8.4", []string{"OCF_RESKEY_CRM_meta_promoted_max=", "OCF_RESKEY_CRM_meta_master_max=2"}, nil, ocf.ErrConfigured, "promoted-max 2"},
		{"clone-max on 8.4", []string{"OCF_RESKEY_CRM_meta_clone_max=3"}, nil, ocf.ErrConfigured, "clone-max 3: DRBD 8.4.11 has 2 nodes"},
		{"module too old", []string{"OCF_RESKEY_require_drbd_module_version_ge=9.0.0"}, nil, ocf.ErrInstalled,
			"DRBD module 8.4.11 is older than require_drbd_module_version_ge=9.0.0"},
		{"module too new", []string{"OCF_RESKEY_require_drbd_module_version_lt=8.4.11"}, nil, ocf.ErrInstalled, "is not older than"},
		{"not in config", nil, func(k *kernel) { k.dumpCode = 10 }, ocf.ErrInstalled, "DRBD resource r0 not usable from"},
		{"no drbdadm", nil, func(k *kernel) { k.versions = Versions{} }, ocf.ErrInstalled, "drbdadm is not installed"},
		{"no module", nil, func(k *kernel) { k.versions.Kernel = 0 }, ocf.ErrInstalled, "no DRBD kernel module"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := newKernel(t, stage("06-both-secondary/node1"))
			k.stream = []string{stage("06-both-secondary/node1")}
			if tc.change != nil {
				tc.change(k)
			}
			st, reason, _ := k.run(t, t.TempDir(), "start", tc.env...)
			if st != tc.want || !strings.Contains(reason, tc.reason) {
				t.Errorf("%v %q, want %v %q", st, reason, tc.want, tc.reason)
			}
			if st != ocf.Success && len(k.calls) != 0 {
				t.Errorf("ran %q after failing its checks", k.calls)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	k := newKernel(t, down)
	if st, reason, _ := k.run(t, t.TempDir(), "validate-all"); st != ocf.Success {
		t.Errorf("%v %q", st, reason)
	}
	if st, _, _ := k.run(t, t.TempDir(), "validate-all", "OCF_RESKEY_CRM_meta_notify=false"); st != ocf.ErrConfigured {
		t.Errorf("clone without notify: %v", st)
	}
	// Without clone meta attributes (crm_resource --validate) only the node
	// is checked.
	dir := t.TempDir()
	conf := filepath.Join(dir, "drbd.conf")
	os.WriteFile(conf, nil, 0o600)
	a := agentWith(func(config, *ocf.Request) Tools { return Tools{Drbdadm: k, Drbdsetup: k, Promotion: k} }, dir, time.Millisecond)
	env := []string{"OCF_RESKEY_drbd_resource=r0", "OCF_RESKEY_drbdconf=" + conf}
	if st := ocf.Run(a, []string{"drbd", "validate-all"}, env, io.Discard, io.Discard, func(int) {}); st != ocf.Success {
		t.Errorf("no clone meta: %v", st)
	}
	env[1] = "OCF_RESKEY_drbdconf=" + filepath.Join(dir, "missing.conf")
	if st := ocf.Run(a, []string{"drbd", "validate-all"}, env, io.Discard, io.Discard, func(int) {}); st != ocf.ErrInstalled {
		t.Errorf("missing drbdconf: %v", st)
	}
}

func TestStop(t *testing.T) {
	k := newKernel(t, stage("05-primary-mounted/node1"))
	k.next["secondary"] = stage("06-both-secondary/node1")
	k.next["down"] = down
	if st, _, _ := k.run(t, t.TempDir(), "stop"); st != ocf.Success || !slices.Equal(k.calls, []string{"secondary", "down"}) ||
		!slices.Equal(k.scores, []string{"delete"}) {
		t.Errorf("%v, calls %q, scores %q", st, k.calls, k.scores)
	}
	k = newKernel(t, down)
	if st, _, _ := k.run(t, t.TempDir(), "stop"); st != ocf.Success || len(k.calls) != 0 {
		t.Errorf("down: %v %q", st, k.calls)
	}
	// Still open by a holder: fails at the deadline, saying why.
	k = newKernel(t, stage("05-primary-mounted/node1"))
	k.fail["secondary"] = 11
	if st, reason, _ := k.run(t, t.TempDir(), "stop", "OCF_RESKEY_CRM_meta_timeout=300"); st != ocf.ErrGeneric ||
		!strings.Contains(reason, "stop gave up at its timeout: drbdadm secondary r0") {
		t.Errorf("held: %v %q", st, reason)
	}
	// stop_outdates_secondary with the other node promoted.
	k = newKernel(t, stage("07-node2-primary/node1"))
	k.next["down"] = down
	st, _, _ := k.run(t, t.TempDir(), "stop", "OCF_RESKEY_stop_outdates_secondary=true",
		"OCF_RESKEY_CRM_meta_notify_promoted_uname=node2", "OCF_RESKEY_CRM_meta_notify_stop_uname=node1")
	if st != ocf.Success || !slices.Equal(k.calls, []string{"down", "outdate"}) {
		t.Errorf("outdate: %v %q", st, k.calls)
	}
	// Not when that node is being stopped too.
	k = newKernel(t, stage("07-node2-primary/node1"))
	k.next["down"] = down
	k.run(t, t.TempDir(), "stop", "OCF_RESKEY_stop_outdates_secondary=true",
		"OCF_RESKEY_CRM_meta_notify_master_uname=node2", "OCF_RESKEY_CRM_meta_notify_stop_uname=node1 node2")
	if !slices.Equal(k.calls, []string{"down"}) {
		t.Errorf("peer stopping: %q", k.calls)
	}
}

func TestNotify(t *testing.T) {
	notify := func(typ, op string) []string {
		return []string{"OCF_RESKEY_CRM_meta_notify_type=" + typ, "OCF_RESKEY_CRM_meta_notify_operation=" + op}
	}
	// The disconnected node is adjusted when its peer starts, and rescored.
	k := newKernel(t, stage("08-node1-disconnected/node1"))
	k.next["adjust"] = stage("06-both-secondary/node1")
	if st, _, _ := k.run(t, t.TempDir(), "notify", notify("post", "start")...); st != ocf.Success ||
		!slices.Equal(k.calls, []string{"adjust"}) || !slices.Equal(k.scores, []string{"set 10000"}) {
		t.Errorf("post-start: %v, calls %q, scores %q", st, k.calls, k.scores)
	}
	k = newKernel(t, stage("08-node1-disconnected/node1"))
	if st, _, _ := k.run(t, t.TempDir(), "notify", notify("pre", "promote")...); st != ocf.Success || len(k.calls)+len(k.scores) != 0 {
		t.Errorf("pre-promote: %v, calls %q, scores %q", st, k.calls, k.scores)
	}
	// The survivor learns its peer is gone after a post-stop.
	k = newKernel(t, stage("09-survivor-after-peer-killed/node1"))
	if st, _, _ := k.run(t, t.TempDir(), "notify", notify("post", "stop")...); st != ocf.Success || !slices.Equal(k.scores, []string{"set 10000"}) {
		t.Errorf("post-stop: %v, scores %q", st, k.scores)
	}
	// Nothing fails a notification.
	k = newKernel(t, stage("06-both-secondary/node1"))
	k.fail["adjust"] = 10
	if st, _, _ := k.run(t, t.TempDir(), "notify", notify("pre", "start")...); st != ocf.Success {
		t.Errorf("failed adjust: %v", st)
	}
	k.broken = true
	if st, _, _ := k.run(t, t.TempDir(), "notify", notify("post", "demote")...); st != ocf.Success {
		t.Errorf("broken drbdsetup: %v", st)
	}
}

func TestConfigRejects(t *testing.T) {
	for _, env := range [][]string{
		{"OCF_RESKEY_drbd_resource=r0;rm"},
		{"OCF_RESKEY_drbd_resource=-c"},
		{"OCF_RESKEY_drbd_resource=r0", "OCF_RESKEY_drbdconf=drbd.conf"},
		{"OCF_RESKEY_drbd_resource=r0", "OCF_RESKEY_adjust_master_score=0 10 1000"},
		{"OCF_RESKEY_drbd_resource=r0", "OCF_RESKEY_adjust_master_score=0 1000 10 10000"},
		{"OCF_RESKEY_drbd_resource=r0", "OCF_RESKEY_remove_master_score_if_peer_primary=maybe"},
		{"OCF_RESKEY_drbd_resource=r0", "OCF_RESKEY_require_drbd_module_version_ge=9.0"},
		{"OCF_RESKEY_drbd_resource=r0", "OCF_RESKEY_require_drbd_module_version_ge=9.0.0", "OCF_RESKEY_require_drbd_module_version_lt=9.0.0"},
		{"OCF_RESKEY_drbd_resource=r0", "OCF_RESKEY_wfc_timeout=-1"},
	} {
		if _, errs := ocf.Prepare(Agent(), "start", env); len(errs) == 0 {
			t.Errorf("accepted %q", env)
		}
	}
	r, errs := ocf.Prepare(Agent(), "start", []string{"OCF_RESKEY_drbd_resource=r0", "OCF_RESKEY_remove_master_score_if_peer_primary=Unexpected"})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	c, _ := parseConfig(r)
	if c.peerPrimary != "unexpected" || c.scores != DefaultScores || c.wfc != 5*time.Second || c.conf != "/etc/drbd.conf" ||
		c.versionGE != 0x080000 || c.versionLT != 0x0a0000 {
		t.Errorf("%+v", c)
	}
}

func TestVersions(t *testing.T) {
	v := parseVersions(readTestdata(t, "drbd84/versions.txt"))
	if v.Kernel != 0x08040b || v.Utils != 0x091600 || VersionString(v.Kernel) != "8.4.11" {
		t.Errorf("%+v", v)
	}
	if n, err := ParseVersion("9.0.16"); n != 0x090010 || err != nil {
		t.Error(n, err)
	}
	for _, s := range []string{"9", "9.0", "9.0.256", "9.a.0", ""} {
		if _, err := ParseVersion(s); err == nil {
			t.Errorf("accepted %q", s)
		}
	}
}

func TestParseLocate(t *testing.T) {
	out := "resource drbd-clone is running on: node1 Promoted\nresource drbd-clone is running on: node2\n" +
		"resource drbd-clone is running on: node3 Master\n"
	if got := parseLocate(out, "node3"); !slices.Equal(got, []string{"node1"}) {
		t.Errorf("%q", got)
	}
}

func TestResultLine(t *testing.T) {
	if l := (Result{Code: 10, Stdout: "x\n", Stderr: "\n  r0: No such resource\nmore"}).Line(); l != "r0: No such resource" {
		t.Errorf("%q", l)
	}
	if !lacksPromotion(Result{Code: 64}) || lacksPromotion(Result{Code: 1, Stderr: "Error performing operation"}) {
		t.Error("lacksPromotion")
	}
	if !errors.Is(&exec.Error{Name: "x", Err: exec.ErrNotFound}, exec.ErrNotFound) {
		t.Error("ErrNotFound")
	}
}

// A resource found connected (brought up before Pacemaker, or by start)
// that turns StandAlone has hit a split brain.
func TestMonitorLearnsConnection(t *testing.T) {
	k, dir := newKernel(t, stage("08-node1-disconnected/node1")), t.TempDir()
	if st, _, _ := k.run(t, dir, "monitor"); st != ocf.Success {
		t.Errorf("StandAlone, never seen connected: %v", st)
	}
	k.state = stage("06-both-secondary/node1")
	if st, _, _ := k.run(t, dir, "monitor", "OCF_RESKEY_CRM_meta_interval=0"); st != ocf.Success {
		t.Errorf("probe: %v", st)
	}
	k.state = stage("08-node1-disconnected/node1")
	if st, reason, _ := k.run(t, dir, "monitor"); st != ocf.ErrGeneric || !strings.Contains(reason, "split brain") {
		t.Errorf("StandAlone after connected: %v %q", st, reason)
	}
}

// When drbdsetup cannot tell the state, start still brings the resource
// up and stop still takes it down: a failed stop gets the node fenced.
func TestUnreadableState(t *testing.T) {
	k := newKernel(t, down)
	k.broken = true
	if st, _, _ := k.run(t, t.TempDir(), "stop"); st != ocf.Success || !slices.Equal(k.calls, []string{"down"}) {
		t.Errorf("stop: %v %q", st, k.calls)
	}
	k = newKernel(t, down)
	k.broken = true
	k.fail["down"] = 20
	if st, reason, _ := k.run(t, t.TempDir(), "stop", "OCF_RESKEY_CRM_meta_timeout=300"); st != ocf.ErrGeneric || !strings.Contains(reason, "drbdadm down r0") {
		t.Errorf("stop, down failing: %v %q", st, reason)
	}
	k = newKernel(t, down)
	k.broken = true
	k.run(t, t.TempDir(), "start")
	if len(k.calls) == 0 || k.calls[0] != "up" {
		t.Errorf("start: %q", k.calls)
	}
}
