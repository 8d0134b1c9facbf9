package drbd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gocf/gocf/pkg/ocf"
)

type agent struct {
	tools    func(config, *ocf.Request) Tools
	procDRBD string
	pause    time.Duration
}

// inv is one invocation: its request, configuration and tools.
type inv struct {
	*agent
	r *ocf.Request
	c config
	t Tools
}

func (a *agent) begin(r *ocf.Request) *inv {
	c := ocf.Config[config](r)
	return &inv{agent: a, r: r, c: c, t: a.tools(c, r)}
}

func (v *inv) moduleLoaded() bool {
	_, err := os.Stat(v.procDRBD)
	return err == nil
}

// state reads the kernel's state with one `drbdsetup events2 --now`. When
// it cannot, the model is nil and the status says why.
func (v *inv) state(ctx context.Context) (*Model, ocf.Status) {
	res, err := v.t.Drbdsetup.Events2Now(ctx, v.c.resource)
	switch {
	case errors.Is(err, exec.ErrNotFound):
		return nil, v.r.Fail(ocf.ErrInstalled, "drbdsetup is not installed")
	case err != nil:
		return nil, v.r.Fail(ocf.ErrGeneric, "drbdsetup events2: %v", err)
	}
	m := ParseString(res.Stdout)
	if m.Malformed > 0 {
		v.r.Log.Warnf("drbdsetup events2: skipped %d malformed lines, e.g. %q", m.Malformed, m.Skipped)
	}
	if res.Code != 0 {
		// Without the module, or for a resource the kernel does not know,
		// drbdsetup fails: that is a resource that is down.
		if !v.moduleLoaded() || unknownResource(res) {
			return &Model{DumpComplete: true}, ocf.Success
		}
		return nil, v.r.Fail(ocf.ErrGeneric, "drbdsetup events2 --now %s: %s", v.c.resource, res.Line())
	}
	return m, ocf.Success
}

func unknownResource(res Result) bool {
	out := strings.ToLower(res.Stderr + res.Stdout)
	return strings.Contains(out, "no such resource") || strings.Contains(out, "unknown resource")
}

// The marker in the state directory tells that the agent connected the
// resource: only then is StandAlone a split brain and not an admin's
// disconnect. HA_RSCTMP is emptied at boot, as the kernel's state is.
const connectedMarker = "connected"

func (v *inv) expectConnection() bool {
	_, err := v.r.ReadState(connectedMarker)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		v.r.Log.Warnf("state directory: %v", err)
	}
	return err == nil
}

func (v *inv) setExpectConnection(on bool) {
	var err error
	if on {
		err = v.r.WriteState(connectedMarker, nil)
	} else {
		err = v.r.RemoveState(connectedMarker)
	}
	if err != nil {
		v.r.Log.Warnf("state directory: %v", err)
	}
}

func (v *inv) monitorResult(m *Model) MonitorResult {
	return Monitor(m, v.c.resource, MonitorOptions{ExpectConnection: v.expectConnection()})
}

// report logs what Monitor found and returns its status with its reason.
func (v *inv) report(res MonitorResult) ocf.Status {
	if res.Warning != "" {
		v.r.Log.Warnf("%s", res.Warning)
	}
	if res.Reason == "" {
		return res.Status
	}
	return v.r.Fail(res.Status, "%s", res.Reason) // degraded results carry it too
}

// node is this node's name as Pacemaker knows it.
func (v *inv) node() string {
	if n := v.r.Meta.Get("on_node"); n != "" {
		return n
	}
	n, _ := os.Hostname()
	return n
}

// updateScore sets or removes this node's promotion score from the state.
func (v *inv) updateScore(ctx context.Context, m *Model) {
	rs := m.Resource(v.c.resource)
	d := Score(rs, v.c.scores)
	if d.Action == Set && v.peerPrimaryRemoves(ctx, rs) {
		d = remove("connected to a Primary peer with UpToDate data (remove_master_score_if_peer_primary)")
	}
	v.applyScore(ctx, d)
	if v.c.unfence && rs != nil && rs.Role == Primary && rs.AllLocalDisksUpToDate() && allPeersUpToDate(rs) {
		if res, err := v.t.Drbdadm.UnfencePeer(ctx, v.c.resource, v.c.unfenceArgs); err != nil || res.Code != 0 {
			v.r.Log.Warnf("drbdadm unfence-peer %s: %s", v.c.resource, errOrLine(res, err))
		}
	}
}

// scoreState remembers the last score written and when: a recurring monitor
// does not write the same score again within scoreRefresh (one crm_attribute
// process fewer per monitor). Every other action writes it, a probe too, so
// that a restarted Pacemaker, whose node attributes start empty, has it at
// once; a score changed behind the agent's back is set again within
// scoreRefresh.
const (
	scoreState   = "promotion-score"
	scoreRefresh = 5 * time.Minute
)

func (v *inv) applyScore(ctx context.Context, d ScoreDecision) {
	if d.Action != Set && d.Action != Remove {
		return
	}
	written := d.Action.String()
	if d.Action == Set {
		written += " " + strconv.Itoa(d.Value)
	}
	recurring := v.r.Action == "monitor" && !v.r.IsProbe()
	if recurring && v.scoreWritten(written) {
		v.r.Log.Debugf("promotion score: %v (written already)", d)
		return
	}
	var err error
	if d.Action == Set {
		err = v.t.Promotion.Set(ctx, d.Value)
	} else {
		err = v.t.Promotion.Delete(ctx)
	}
	v.r.Log.Debugf("promotion score: %v", d)
	if err != nil {
		// The state is what the action reports; a score that could not be
		// written is retried by the next monitor.
		v.r.Log.Warnf("cannot %s the promotion score (%v): %v", d.Action, d, err)
		err = v.r.RemoveState(scoreState)
	} else {
		err = v.r.WriteState(scoreState, fmt.Appendf(nil, "%s\n%d\n", written, time.Now().Unix()))
	}
	if err != nil {
		v.r.Log.Warnf("state directory: %v", err)
	}
}

// scoreWritten tells whether written is the score this instance wrote last,
// less than scoreRefresh ago.
func (v *inv) scoreWritten(written string) bool {
	b, err := v.r.ReadState(scoreState)
	if err != nil {
		return false
	}
	last, when, ok := strings.Cut(strings.TrimSpace(string(b)), "\n")
	t, perr := strconv.ParseInt(when, 10, 64)
	age := time.Since(time.Unix(t, 0))
	return ok && perr == nil && last == written && age >= 0 && age < scoreRefresh
}

// peerPrimaryRemoves applies remove_master_score_if_peer_primary to a
// Secondary connected to a healthy Primary.
func (v *inv) peerPrimaryRemoves(ctx context.Context, rs *Resource) bool {
	if rs == nil || v.c.peerPrimary == "false" || rs.Role == Primary || rs.PeerRole() != Primary || !rs.SomePeerUpToDate() {
		return false
	}
	if v.c.peerPrimary == "true" {
		return true
	}
	// unexpected: a Primary Pacemaker does not know of, with one promoted
	// instance allowed, points at a split cluster.
	if meta(v.r, "promoted_max", "master_max", 1) != 1 {
		return false
	}
	nodes, err := v.t.Promotion.PromotedElsewhere(ctx)
	if err != nil {
		v.r.Log.Warnf("crm_resource --locate: %v", err)
		return false
	}
	return len(nodes) == 0
}

func allPeersUpToDate(rs *Resource) bool {
	for _, c := range rs.Connections {
		if !c.Connected() || !c.allPeerDisks(rs.Devices, func(d DiskState) bool { return d == UpToDate }) {
			return false
		}
	}
	return len(rs.Connections) > 0
}

func errOrLine(res Result, err error) string {
	if err != nil {
		return err.Error()
	}
	return res.Line()
}

// adm runs a drbdadm command and returns "" on success, else what went wrong.
func (v *inv) adm(ctx context.Context, name string, fn func(context.Context, string) (Result, error)) string {
	res, err := fn(ctx, v.c.resource)
	if err == nil && res.Code == 0 {
		v.r.Log.Debugf("drbdadm %s %s: ok", name, v.c.resource)
		return ""
	}
	msg := fmt.Sprintf("drbdadm %s %s: %s", name, v.c.resource, errOrLine(res, err))
	v.r.Log.Warnf("%s", msg)
	if err == nil && res.Stderr+res.Stdout != "" {
		v.r.Log.Infof("drbdadm %s output: %s", name, strings.TrimSpace(res.Stderr+"\n"+res.Stdout))
	}
	return msg
}

// retry runs step until it is done or ctx ends, pausing between attempts.
// step returns its status when done, else why it is not done yet.
func (v *inv) retry(ctx context.Context, what string, step func() (ocf.Status, bool, string)) ocf.Status {
	last := ""
	for i := 0; ; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(v.pause):
			}
		}
		if ctx.Err() != nil {
			return v.r.Fail(ocf.ErrGeneric, "%s gave up at its timeout: %s", what, last)
		}
		st, done, why := step()
		if done {
			return st
		}
		last = why
	}
}

// monitor reports the state and updates the promotion score, except for
// a probe that finds the resource stopped (as ocf:linbit:drbd): probes run
// on every node, also where it never ran, and stop removed the score.
func (a *agent) monitor(ctx context.Context, r *ocf.Request) ocf.Status {
	v := a.begin(r)
	m, st := v.state(ctx)
	if st != ocf.Success {
		return st
	}
	expect := v.expectConnection()
	res := Monitor(m, v.c.resource, MonitorOptions{ExpectConnection: expect})
	if res.Status != ocf.NotRunning || !r.IsProbe() {
		v.updateScore(ctx, m)
	}
	if rs := m.Resource(v.c.resource); !expect && rs != nil && slices.ContainsFunc(rs.Connections, (*Connection).Connected) {
		// Connected with its network configuration, brought up by
		// start or before Pacemaker ran (drbd.service): from now on
		// StandAlone is what the agent did not ask for.
		v.setExpectConnection(true)
	}
	return v.report(res)
}

// rescore is reload-agent's work after validate-all's checks passed (the
// module against the version requirements, the resource in drbdconf, the
// clone's meta attributes with ignore_missing_notifications): the
// promotion score is set again from the state with the new
// adjust_master_score and remove_master_score_if_peer_primary, as the next
// monitor would. The other reloadable parameters are read by the actions
// that use them. DRBD itself is left as it is.
func (a *agent) rescore(ctx context.Context, r *ocf.Request) ocf.Status {
	v := a.begin(r)
	m, st := v.state(ctx)
	if st != ocf.Success {
		return st
	}
	if res := v.monitorResult(m); res.Status == ocf.NotRunning {
		return r.Fail(ocf.NotRunning, "DRBD resource %s is not up", v.c.resource)
	}
	v.updateScore(ctx, m)
	return ocf.Success
}

// reload is ocf:linbit:drbd's: drbdadm adjust applies changes of drbdconf
// to a resource that is up (its failure is logged, as linbit's), then the
// promotion score is set again.
func (a *agent) reload(ctx context.Context, r *ocf.Request) ocf.Status {
	v := a.begin(r)
	if st := v.checkSetup(ctx, false); st != ocf.Success {
		return st
	}
	m, st := v.state(ctx)
	if st != ocf.Success {
		return st
	}
	if res := v.monitorResult(m); res.Status == ocf.NotRunning {
		return r.Fail(ocf.NotRunning, "DRBD resource %s is not up", v.c.resource)
	}
	v.adm(ctx, "adjust", v.t.Drbdadm.Adjust)
	if m, st = v.state(ctx); st != ocf.Success {
		return st
	}
	v.updateScore(ctx, m)
	return ocf.Success
}

func (a *agent) validate(ctx context.Context, r *ocf.Request) ocf.Status {
	return a.begin(r).checkSetup(ctx, false)
}

// Compiled when used (start and validate-all), not at every start-up.
var (
	hostSection = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?m)^\s*on\s+[^\s{]+\s*\{`) })
	twoPrimary  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?m)^\s*allow-two-primaries(\s+yes)?\s*;`) })
)

// checkSetup checks what start needs and validate-all reports: the DRBD
// version against the requirements, the resource in the configuration,
// and the clone's meta attributes (always for start; for validate-all when
// Pacemaker passes them).
func (v *inv) checkSetup(ctx context.Context, start bool) ocf.Status {
	r, c := v.r, v.c
	ver, err := v.t.Drbdadm.Versions(ctx)
	switch {
	case errors.Is(err, exec.ErrNotFound):
		return r.Fail(ocf.ErrInstalled, "drbdadm is not installed")
	case err != nil:
		return r.Fail(ocf.ErrGeneric, "drbdadm --version: %v", err)
	case ver.Kernel == 0:
		return r.Fail(ocf.ErrInstalled, "no DRBD kernel module found")
	case c.versionGE != 0 && ver.Kernel < c.versionGE:
		return r.Fail(ocf.ErrInstalled, "DRBD module %s is older than require_drbd_module_version_ge=%s",
			VersionString(ver.Kernel), VersionString(c.versionGE))
	case c.versionLT != 0 && ver.Kernel >= c.versionLT:
		return r.Fail(ocf.ErrInstalled, "DRBD module %s is not older than require_drbd_module_version_lt=%s",
			VersionString(ver.Kernel), VersionString(c.versionLT))
	}
	f, err := os.Open(c.conf)
	if err != nil {
		return r.Fail(ocf.ErrInstalled, "cannot read drbdconf: %v", err)
	}
	f.Close()
	dump, err := v.t.Drbdadm.Dump(ctx, c.resource)
	if err != nil {
		return r.Fail(ocf.ErrGeneric, "drbdadm dump %s: %v", c.resource, err)
	}
	if dump.Code != 0 {
		// Node-local: another node's configuration may define it.
		return r.Fail(ocf.ErrInstalled, "DRBD resource %s not usable from %s: %s", c.resource, c.conf, dump.Line())
	}
	if !start && r.Meta.Get("clone_max") == "" {
		return ocf.Success
	}
	if n := r.Meta.Int("clone_node_max", 1); n != 1 {
		return r.Fail(ocf.ErrConfigured, "clone-node-max must be 1, not %d", n)
	}
	if n := meta(r, "promoted_node_max", "master_node_max", 1); n != 1 {
		return r.Fail(ocf.ErrConfigured, "promoted-node-max must be 1, not %d", n)
	}
	pm := meta(r, "promoted_max", "master_max", 1)
	limit := 1
	if n := r.Meta.Int("clone_max", 2); ver.Kernel < 0x090000 && n > 2 {
		return r.Fail(ocf.ErrConfigured, "clone-max %d: DRBD %s has 2 nodes per resource", n, VersionString(ver.Kernel))
	}
	if ver.Kernel >= 0x090000 {
		// Every node of the resource may be Primary with DRBD 9.
		if limit = len(hostSection().FindAllString(dump.Stdout, -1)); limit == 0 {
			limit = max(pm, 1) // unknown: leave it to DRBD
		}
	}
	if pm > limit {
		return r.Fail(ocf.ErrConfigured, "promoted-max %d exceeds %d, the limit of DRBD %s for %s",
			pm, limit, VersionString(ver.Kernel), c.resource)
	}
	if pm > 1 && !twoPrimary().MatchString(dump.Stdout) {
		return r.Fail(ocf.ErrConfigured, "promoted-max %d needs allow-two-primaries in DRBD resource %s", pm, c.resource)
	}
	if !c.ignoreNotify && !r.Meta.Bool("notify") {
		return r.Fail(ocf.ErrConfigured, "the clone needs notify=true (or set ignore_missing_notifications=true)")
	}
	return ocf.Success
}

func (a *agent) start(ctx context.Context, r *ocf.Request) ocf.Status {
	v := a.begin(r)
	if st := v.checkSetup(ctx, true); st != ocf.Success {
		return st
	}
	m, st := v.state(ctx)
	switch st {
	case ocf.Success:
	case ocf.ErrGeneric:
		r.Log.Warnf("cannot read the state of %s; bringing it up", v.c.resource)
		m = &Model{DumpComplete: true}
	default:
		return st
	}
	if rs := m.Resource(v.c.resource); rs == nil || len(rs.Devices) == 0 {
		if !v.moduleLoaded() {
			if res, err := v.t.Drbdadm.LoadModule(ctx); err != nil || res.Code != 0 {
				return r.Fail(ocf.ErrInstalled, "cannot load the drbd kernel module: %s", errOrLine(res, err))
			}
		}
		if msg := v.adm(ctx, "up", v.t.Drbdadm.Up); msg != "" {
			// A half-done up (attach failed, resource created) is
			// finished by adjust, as ocf:linbit:drbd retries its attach.
			if v.adm(ctx, "adjust", v.t.Drbdadm.Adjust) != "" {
				return r.Fail(ocf.ErrGeneric, "%s", msg)
			}
		}
	} else {
		// Running already: apply configuration changes; failure to do so
		// does not stop it from running.
		v.adm(ctx, "adjust", v.t.Drbdadm.Adjust)
	}
	v.setExpectConnection(true)
	if v.c.wfc > 0 {
		v.waitForPeers(ctx)
	}
	if m, st = v.state(ctx); st != ocf.Success {
		return st
	}
	if rs := m.Resource(v.c.resource); rs != nil && rs.Role == Primary {
		// Started means unpromoted; Pacemaker promotes where it wants.
		r.Log.Warnf("%s is Primary already; demoting", v.c.resource)
		if msg := v.adm(ctx, "secondary", v.t.Drbdadm.Secondary); msg != "" {
			return r.Fail(ocf.ErrGeneric, "%s is Primary and cannot be demoted: %s", v.c.resource, msg)
		}
		if m, st = v.state(ctx); st != ocf.Success {
			return st
		}
	}
	v.updateScore(ctx, m)
	switch res := v.monitorResult(m); res.Status {
	case ocf.Success:
		if res.Warning != "" {
			r.Log.Warnf("%s", res.Warning)
		}
		return ocf.Success
	case ocf.NotRunning:
		return r.Fail(ocf.ErrGeneric, "DRBD resource %s is not up after drbdadm up", v.c.resource)
	case ocf.RunningPromoted, ocf.DegradedPromoted:
		return r.Fail(ocf.ErrGeneric, "DRBD resource %s is still Primary", v.c.resource)
	default:
		return v.report(res) // a split brain found on connecting
	}
}

// waitForPeers follows `drbdsetup events2` until every connection has
// settled (connected, or StandAlone, which no waiting mends) and no disk is
// attaching, at most wfc_timeout. Not connecting in time is no failure: the
// peer may be down, and the promotion score says what the data is worth.
func (v *inv) waitForPeers(ctx context.Context) {
	wctx, cancel := context.WithTimeout(ctx, v.c.wfc)
	defer cancel()
	ok, err := v.watch(wctx, func(rs *Resource) bool {
		if rs == nil || len(rs.Devices) == 0 || rs.LocalDiskTransient() {
			return false
		}
		for _, c := range rs.Connections {
			if !c.Connected() && c.State != StandAlone {
				return false
			}
		}
		return true
	})
	switch {
	case err != nil:
		v.r.Log.Warnf("waiting for the peers of %s: %v", v.c.resource, err)
	case ok:
		v.r.Log.Infof("%s: connections settled", v.c.resource)
	default:
		v.r.Log.Infof("%s: not every peer connected within wfc_timeout %s; starting without", v.c.resource, v.c.wfc)
	}
}

// watch applies the events2 stream to a model until cond holds for the
// resource after the initial dump (true), ctx ends (false, nil) or the
// stream fails.
func (v *inv) watch(ctx context.Context, cond func(*Resource) bool) (bool, error) {
	s, err := v.t.Drbdsetup.Events2(ctx, v.c.resource)
	if err != nil {
		return false, err
	}
	defer s.Close()
	// Closing the stream is what unblocks a read at the deadline.
	defer context.AfterFunc(ctx, func() { s.Close() })()
	p := NewParser()
	br := bufio.NewReader(s)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			p.Line(line)
			if p.Model.DumpComplete && cond(p.Model.Resource(v.c.resource)) {
				return true, nil
			}
		}
		if ctx.Err() != nil {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("drbdsetup events2 ended: %v", err)
		}
	}
}

func (a *agent) stop(ctx context.Context, r *ocf.Request) ocf.Status {
	v := a.begin(r)
	v.setExpectConnection(false)
	wasPrimary := false
	st := v.retry(ctx, "stop", func() (ocf.Status, bool, string) {
		m, st := v.state(ctx)
		switch st {
		case ocf.Success:
		case ocf.ErrGeneric:
			// State unreadable: down takes down whatever is configured,
			// and a stop that fails gets this node fenced.
			if msg := v.adm(ctx, "down", v.t.Drbdadm.Down); msg != "" {
				return 0, false, msg
			}
			return ocf.Success, true, ""
		default:
			if !v.moduleLoaded() {
				return ocf.Success, true, "" // no tools, no module: nothing runs
			}
			return st, true, ""
		}
		rs := m.Resource(v.c.resource)
		if rs == nil {
			return ocf.Success, true, ""
		}
		if rs.Role == Primary {
			wasPrimary = true
			if msg := v.adm(ctx, "secondary", v.t.Drbdadm.Secondary); msg != "" {
				return 0, false, msg
			}
		}
		if msg := v.adm(ctx, "down", v.t.Drbdadm.Down); msg != "" {
			return 0, false, msg
		}
		if m, st = v.state(ctx); st == ocf.Success && m.Resource(v.c.resource) == nil {
			return ocf.Success, true, ""
		}
		return 0, false, "still configured after drbdadm down"
	})
	if st != ocf.Success {
		return st
	}
	v.outdateSelf(ctx, wasPrimary)
	// A stale score would let Pacemaker pick this node to promote.
	v.applyScore(ctx, remove("stopped"))
	return ocf.Success
}

// outdateSelf is stop_outdates_secondary: with another node promoted (and
// not being stopped) by the notification variables, the data here is
// marked Outdated so that it cannot be promoted by mistake later.
func (v *inv) outdateSelf(ctx context.Context, primaryHere bool) {
	if !v.c.stopOutdates || primaryHere {
		return
	}
	self, stopping := v.node(), unames(v.r, "stop", "stop")
	for _, n := range unames(v.r, "promoted", "master") {
		if strings.EqualFold(n, self) || slices.Contains(stopping, n) {
			continue
		}
		v.r.Log.Infof("outdating %s: %s is promoted", v.c.resource, n)
		v.adm(ctx, "outdate", v.t.Drbdadm.Outdate)
		v.applyScore(ctx, remove("outdated"))
		return
	}
}

func (a *agent) promote(ctx context.Context, r *ocf.Request) ocf.Status {
	v := a.begin(r)
	logged := ""
	return v.retry(ctx, "promote", func() (ocf.Status, bool, string) {
		m, st := v.state(ctx)
		if st != ocf.Success {
			return st, st != ocf.ErrGeneric, "cannot read the state"
		}
		rs := m.Resource(v.c.resource)
		switch {
		case rs == nil || len(rs.Devices) == 0:
			return r.Fail(ocf.ErrGeneric, "cannot promote %s: it is not started", v.c.resource), true, ""
		case rs.Role == Primary:
			v.updateScore(ctx, m)
			return ocf.Success, true, ""
		}
		res, err := v.t.Drbdadm.Primary(ctx, v.c.resource)
		if err == nil && res.Code == 0 {
			if m, st = v.state(ctx); st == ocf.Success && isRole(m, v.c.resource, Primary) {
				v.updateScore(ctx, m)
				return ocf.Success, true, ""
			}
			return 0, false, "drbdadm primary succeeded but the role is not Primary"
		}
		msg := fmt.Sprintf("drbdadm primary: %s", errOrLine(res, err))
		if msg != logged { // once, not once a second
			v.r.Log.Warnf("%s", msg)
			if out := strings.TrimSpace(res.Stderr + "\n" + res.Stdout); out != "" {
				v.r.Log.Infof("drbdadm primary output: %s", out)
			}
			logged = msg
		}
		if m, st = v.state(ctx); st == ocf.Success {
			rs = m.Resource(v.c.resource)
		}
		switch {
		case rs == nil:
		case !rs.AllLocalDisksUpToDate() && !rs.SomePeerUpToDate() && (res.Code == 17 || !rs.AllLocalDisksConsistent()):
			// DRBD refuses until the data changes: no use retrying.
			// (17: no UpToDate data, or Consistent data and the peer
			// could not be fenced.)
			return r.Fail(ocf.ErrGeneric, "cannot promote %s: no UpToDate data (local disk %s, no connected peer UpToDate)",
				v.c.resource, rs.DiskSummary()), true, ""
		case rs.PeerRole() == Primary:
			if v.c.failPromoteEarly {
				return r.Fail(ocf.ErrGeneric, "cannot promote %s: %s", v.c.resource, peerPrimary(rs)), true, ""
			}
			return 0, false, peerPrimary(rs)
		}
		if res.Code == 17 {
			return r.Fail(ocf.ErrGeneric, "cannot promote %s: no access to UpToDate data (%s)", v.c.resource, res.Line()), true, ""
		}
		return 0, false, msg
	})
}

func isRole(m *Model, name string, role Role) bool {
	rs := m.Resource(name)
	return rs != nil && rs.Role == role
}

func peerPrimary(rs *Resource) string {
	for _, c := range rs.Connections {
		if c.PeerRole == Primary {
			return fmt.Sprintf("peer %q is Primary", c.Peer())
		}
	}
	return "a peer is Primary"
}

func (a *agent) demote(ctx context.Context, r *ocf.Request) ocf.Status {
	v := a.begin(r)
	return v.retry(ctx, "demote", func() (ocf.Status, bool, string) {
		m, st := v.state(ctx)
		if st != ocf.Success {
			return st, st != ocf.ErrGeneric, "cannot read the state"
		}
		rs := m.Resource(v.c.resource)
		switch {
		case rs == nil || len(rs.Devices) == 0:
			return r.Fail(ocf.NotRunning, "cannot demote %s: it is not started", v.c.resource), true, ""
		case rs.Role != Primary:
			v.updateScore(ctx, m)
			return ocf.Success, true, ""
		}
		if msg := v.adm(ctx, "secondary", v.t.Drbdadm.Secondary); msg != "" {
			// Mostly the device is still open: a holder not stopped yet.
			return 0, false, msg
		}
		if m, st = v.state(ctx); st == ocf.Success && isRole(m, v.c.resource, Secondary) {
			v.updateScore(ctx, m)
			return ocf.Success, true, ""
		}
		return 0, false, "drbdadm secondary succeeded but the role is still Primary"
	})
}

// notify never fails: a notification reports what happened, and failing
// it would only make Pacemaker recover what may be fine.
func (a *agent) notify(ctx context.Context, r *ocf.Request) ocf.Status {
	v := a.begin(r)
	typ, op := r.Meta.Get("notify_type"), r.Meta.Get("notify_operation")
	r.Log.Debugf("notify %s-%s: start %v stop %v promote %v demote %v promoted %v unpromoted %v", typ, op,
		unames(r, "start", "start"), unames(r, "stop", "stop"), unames(r, "promote", "promote"),
		unames(r, "demote", "demote"), unames(r, "promoted", "master"), unames(r, "unpromoted", "slave"))
	m, st := v.state(ctx)
	if st != ocf.Success {
		return ocf.Success
	}
	rs := m.Resource(v.c.resource)
	if rs == nil {
		return ocf.Success
	}
	if op == "start" {
		// A peer (re)starting may need this node's network configuration
		// back (StandAlone after a failure); with it in place adjust does
		// nothing.
		v.adm(ctx, "adjust", v.t.Drbdadm.Adjust)
		if typ == "post" {
			if m, st = v.state(ctx); st != ocf.Success {
				return ocf.Success
			}
			rs = m.Resource(v.c.resource)
		}
	}
	if typ != "post" {
		return ocf.Success
	}
	// After a change is the time to recheck the score.
	v.updateScore(ctx, m)
	if rs != nil && !rs.PeerDisksKnown() {
		v.outdateSelf(ctx, rs.Role == Primary)
	}
	return ocf.Success
}
