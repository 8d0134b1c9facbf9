package drbd

import (
	"slices"
	"strings"
	"testing"

	"github.com/gocf/gocf/pkg/ocf"
)

// Everything but the resource and its configuration file is reloadable:
// scores are applied by reload-agent, the rest is read when used.
func TestReloadableParameters(t *testing.T) {
	var fixed []string
	for _, p := range Agent().Params {
		if !p.Reloadable {
			fixed = append(fixed, p.Name)
		}
	}
	if want := []string{"drbd_resource", "drbdconf"}; !slices.Equal(fixed, want) {
		t.Errorf("not reloadable %q, want %q", fixed, want)
	}
	// linbit's reload is offered to OCF 1.0 callers (Pacemaker 2.0 calls
	// it for parameters that are not unique); 1.1 callers get reload-agent.
	md10 := string(Agent().MetaData(ocf.Version{Major: 1, Minor: 0}))
	md11 := string(Agent().MetaData(ocf.Version{Major: 1, Minor: 1}))
	if !strings.Contains(md10, `<action name="reload" timeout="30s"/>`) || strings.Contains(md10, "reload-agent") {
		t.Errorf("1.0 meta-data:\n%s", md10)
	}
	if !strings.Contains(md11, `<action name="reload-agent"`) {
		t.Errorf("1.1 meta-data lacks reload-agent:\n%s", md11)
	}
}

// reload-agent rescores with the new adjust_master_score, as the monitor
// would, and runs no drbdadm command: DRBD is left as it is.
func TestReloadAgentRescores(t *testing.T) {
	k := newKernel(t, stage("06-both-secondary/node1"))
	if st, reason, log := k.run(t, t.TempDir(), "reload-agent", "OCF_RESKEY_adjust_master_score=0 10 1000 5000"); st != ocf.Success {
		t.Fatalf("%v %q\n%s", st, reason, log)
	}
	if !slices.Equal(k.scores, []string{"set 5000"}) || len(k.calls) != 0 {
		t.Errorf("promotion calls %q, drbdadm %q; want set 5000 and no drbdadm", k.scores, k.calls)
	}
	// A peer that is Primary: the new remove_master_score_if_peer_primary
	// removes the score at once.
	k = newKernel(t, stage("04-primary-secondary-uptodate/node2"))
	k.run(t, t.TempDir(), "reload-agent", "OCF_RESKEY_remove_master_score_if_peer_primary=true")
	if !slices.Equal(k.scores, []string{"delete"}) {
		t.Errorf("peer Primary: promotion calls %q", k.scores)
	}
}

func TestReloadAgentFailures(t *testing.T) {
	// Checks of validate-all: a module the new requirement refuses.
	k := newKernel(t, stage("06-both-secondary/node1"))
	if st, reason, _ := k.run(t, t.TempDir(), "reload-agent", "OCF_RESKEY_require_drbd_module_version_ge=9.0.0"); st != ocf.ErrInstalled || !strings.Contains(reason, "older than require_drbd_module_version_ge=9.0.0") {
		t.Errorf("%v %q", st, reason)
	}
	if st, _, _ := k.run(t, t.TempDir(), "reload-agent", "OCF_RESKEY_CRM_meta_notify=false"); st != ocf.ErrConfigured {
		t.Errorf("notify=false: %v", st)
	}
	// ... which ignore_missing_notifications, reloaded, allows.
	if st, _, _ := k.run(t, t.TempDir(), "reload-agent", "OCF_RESKEY_CRM_meta_notify=false", "OCF_RESKEY_ignore_missing_notifications=true"); st != ocf.Success {
		t.Errorf("notify=false, ignore_missing_notifications: %v", st)
	}
	if st, _, _ := k.run(t, t.TempDir(), "reload-agent", "OCF_RESKEY_adjust_master_score=10 5 1 0"); st != ocf.ErrConfigured {
		t.Errorf("decreasing scores: %v", st)
	}
	if !slices.Equal(k.scores, []string{"set 10000"}) {
		t.Errorf("promotion calls %q: only the valid reload may set a score", k.scores)
	}
	// Down: not running, the score left to stop.
	k = newKernel(t, down)
	if st, _, _ := k.run(t, t.TempDir(), "reload-agent"); st != ocf.NotRunning || len(k.scores) != 0 {
		t.Errorf("down: %v, promotion calls %q", st, k.scores)
	}
}

// reload is linbit's: adjust, then rescore; adjust failing is logged only.
func TestReload(t *testing.T) {
	k := newKernel(t, stage("06-both-secondary/node1"))
	if st, reason, _ := k.run(t, t.TempDir(), "reload", "OCF_RESKEY_adjust_master_score=0 10 1000 5000"); st != ocf.Success {
		t.Fatalf("%v %q", st, reason)
	}
	if !slices.Equal(k.calls, []string{"adjust"}) || !slices.Equal(k.scores, []string{"set 5000"}) {
		t.Errorf("drbdadm %q, promotion calls %q", k.calls, k.scores)
	}
	k.fail["adjust"] = 10
	if st, _, log := k.run(t, t.TempDir(), "reload"); st != ocf.Success || !strings.Contains(log, "drbdadm adjust r0") {
		t.Errorf("failing adjust: %v\n%s", st, log)
	}
	k = newKernel(t, down)
	if st, _, _ := k.run(t, t.TempDir(), "reload"); st != ocf.NotRunning || len(k.calls) != 0 || len(k.scores) != 0 {
		t.Errorf("down: %v, drbdadm %q, promotion calls %q", st, k.calls, k.scores)
	}
}
