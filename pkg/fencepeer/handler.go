package fencepeer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Handler is one run of fence-peer or unfence-peer.
type Handler struct {
	Tools  Tools
	Log    *Logger
	Getenv func(string) string
	S      Settings

	res, self, clone string
	start            time.Time
	cib              *CIB
	// hasMask: DRBD 9 passed UP_TO_DATE_NODES.
	hasMask bool
	include []string // nodes the rule allows
	ids     []int    // their DRBD node ids (DRBD 9), nil with 8.4
	exclude []string // peers without good data
	want    Constraint
	have    Constraint
	had     bool
}

// Main runs the handler as the process: args[0] (crm-fence-peer.* and
// crm-unfence-peer.* choose the command) and args[1:], the environment,
// stderr for the log; it returns the exit code.
func Main(args, environ []string, stdout, stderr io.Writer, tty bool) int {
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	getenv := func(k string) string { return env[k] }
	cmd := ""
	base := filepath.Base(args[0])
	switch {
	case strings.HasPrefix(base, "crm-fence-peer"):
		cmd = "fence-peer"
	case strings.HasPrefix(base, "crm-unfence-peer"):
		cmd = "unfence-peer"
	}
	rest := args[1:]
	if cmd == "" && len(rest) > 0 {
		cmd, rest = rest[0], rest[1:]
	}
	switch cmd {
	case "fence-peer", "unfence-peer":
	case "help", "-h", "--help":
		fmt.Fprintf(stdout, "usage: %s {fence-peer|unfence-peer} [OPTION...]\n(see drbd-fence(8))\n", Decl.Name)
		return 0
	default:
		fmt.Fprintf(stderr, "%s: want fence-peer or unfence-peer, got %q\nusage: %s {fence-peer|unfence-peer} [OPTION...]\n", Decl.Name, cmd, Decl.Name)
		return ExitError
	}
	// The drbd resource agents pass options for the handler they run.
	rest = append(rest, strings.Fields(getenv("OCF_RESKEY_unfence_extra_args"))...)
	s, notes := Decl.ParseArgs(rest, tty)
	log, err := NewLogger(stderr, s.LogFacility)
	if err != nil {
		log.Warnf("%v", err)
	}
	defer log.Close()
	for _, n := range notes {
		log.Warnf("%s", n)
	}
	h := &Handler{Tools: ExecTools(), Log: log, Getenv: getenv, S: s}
	if !s.Quiet {
		var keys []string
		for k := range env {
			if strings.HasPrefix(k, "DRBD_") || k == "UP_TO_DATE_NODES" {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		var b strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&b, "%s=%s ", k, quote(env[k]))
		}
		log.Infof("%s%s %s", b.String(), cmd, strings.Join(rest, " "))
	}
	return h.Run(context.Background(), cmd)
}

// Run does the command and returns the exit code.
func (h *Handler) Run(ctx context.Context, cmd string) int {
	h.start = h.Tools.Now()
	h.res = h.S.Resource
	if h.res == "" {
		h.res = h.Getenv("DRBD_RESOURCE")
	}
	if h.res == "" {
		h.Log.Errorf("DRBD_RESOURCE is not set (drbdadm passes it to handlers) and no --resource given")
		return ExitError
	}
	if strings.HasPrefix(h.res, "-") || strings.ContainsAny(h.res, " \t\n/") {
		h.Log.Errorf("%q is not a DRBD resource name", h.res)
		return ExitError
	}
	// A bound on the whole run, so that a hung tool cannot hold DRBD's
	// I/O forever: the waits it is made of, and a minute for the rest.
	ctx, cancel := context.WithTimeout(ctx, h.S.Timeout+h.S.DCTimeout+h.S.FlockTimeout+time.Minute)
	defer cancel()
	unlock, ok := h.lock(ctx)
	if !ok {
		return ExitError
	}
	defer unlock()
	if cmd == "fence-peer" {
		return h.fence(ctx)
	}
	return h.unfence(ctx)
}

// lock serialises the handler runs of one resource (LINBIT's scripts use
// the same file, so the two serialise with each other too).
func (h *Handler) lock(ctx context.Context) (func(), bool) {
	file := h.S.LockFile
	switch {
	case file == "NONE":
		return func() {}, true
	case file == "":
		file = filepath.Join(h.S.LockDir, "fence."+h.res)
	case !strings.HasPrefix(file, "/"):
		file = filepath.Join(h.S.LockDir, file)
	}
	fail := func(err error) (func(), bool) {
		h.Log.Warnf("could not lock %s: %v", file, err)
		if h.S.FlockRequired {
			return nil, false
		}
		return func() {}, true
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fail(err)
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return fail(err)
	}
	deadline := h.Tools.Now().Add(h.S.FlockTimeout)
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, true
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || !h.Tools.Now().Before(deadline) || ctx.Err() != nil {
			f.Close()
			return fail(fmt.Errorf("%w (waited %s)", err, h.S.FlockTimeout))
		}
		h.Tools.Sleep(ctx, 200*time.Millisecond)
	}
}

func (h *Handler) elapsed() time.Duration { return h.Tools.Now().Sub(h.start) }

// nodeName asks crm_node for this node's cluster name; uname -n, as LINBIT's
// scripts use, when the cluster does not answer.
func (h *Handler) nodeName(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, err := h.Tools.CrmNode.Name(ctx)
	name := strings.TrimSpace(res.Stdout)
	if err == nil && res.Code == 0 && name != "" && !strings.ContainsAny(name, " \n\t") {
		return name
	}
	u := h.Tools.Uname()
	why := res.Line()
	if err != nil {
		why = err.Error()
	}
	h.Log.Warnf("crm_node --name did not tell this node's name (%s); using uname -n: %s", why, u)
	return u
}

// queryLocal reads the local CIB copy.
func (h *Handler) queryLocal(ctx context.Context) error {
	res, err := h.Tools.Cibadmin.Query(ctx, 0)
	if err == nil && res.Code != 0 {
		err = fmt.Errorf("cibadmin --query --local: %s", res.Line())
	}
	if err != nil {
		return err
	}
	return h.setCIB(res.Stdout)
}

func (h *Handler) setCIB(out string) error {
	c, err := ParseCIB([]byte(out))
	if err != nil {
		return err
	}
	h.cib = c
	if h.clone != "" {
		h.have, h.had = c.Constraint(h.want.ID)
	}
	return nil
}

// queryDC reads the CIB from the DC, with growing per-call timeouts (1, 2,
// 2, 3, 4 ... s) until --dc-timeout has passed.
func (h *Handler) queryDC(ctx context.Context) error {
	decis := 18
	for {
		t := h.Tools.Now()
		res, err := h.Tools.Cibadmin.Query(ctx, time.Duration(decis/10)*time.Second)
		if err == nil && res.Code == 0 {
			return h.setCIB(res.Stdout)
		}
		if err == nil {
			err = fmt.Errorf("cibadmin --query: %s", res.Line())
		}
		if h.elapsed() > h.S.DCTimeout || ctx.Err() != nil {
			return fmt.Errorf("no DC answered within --dc-timeout=%s: %w", h.S.DCTimeout, err)
		}
		if h.Tools.Now().Sub(t) < time.Second {
			h.Tools.Sleep(ctx, time.Second)
		}
		decis = decis * 5 / 4
	}
}

// setup reads the CIB, finds the clone, and works out which nodes the
// constraint allows.
func (h *Handler) setup(ctx context.Context) bool {
	h.self = h.nodeName(ctx)
	if err := h.queryLocal(ctx); err != nil {
		h.Log.Errorf("cannot read the CIB: %v", err)
		return false
	}
	h.clone = h.S.MasterID
	if h.clone == "" {
		found, skipped := h.cib.FindClone(h.res)
		for _, s := range skipped {
			h.Log.Warnf("%s", s)
		}
		if len(found) == 0 {
			h.Log.Errorf("no promotable clone of ocf:gocf:drbd or ocf:linbit:drbd with drbd_resource=%s in the CIB: cannot fence DRBD resource %s (set --master-id to name it)", h.res, h.res)
			return false
		}
		if len(found) > 1 {
			h.Log.Warnf("%d clones manage DRBD resource %s; using %s", len(found), h.res, found[0].ID)
		}
		h.clone = found[0].ID
	}
	if !h.nodeLists() {
		return false
	}
	role := h.S.Role
	if role == "" {
		role = h.cib.PromotedRole()
	}
	h.want = NewConstraint(h.S.IDPrefix, h.res, h.clone, role, h.include, h.ids)
	h.have, h.had = h.cib.Constraint(h.want.ID)
	return true
}

// nodeLists reads UP_TO_DATE_NODES and the node names of DRBD 9, or the
// peer of DRBD 8.4.
func (h *Handler) nodeLists() bool {
	m := h.Getenv("UP_TO_DATE_NODES")
	if m == "" {
		h.include = []string{h.self}
		peer := h.Getenv("DRBD_PEER")
		if peers := strings.Fields(h.Getenv("DRBD_PEERS")); peer == "" && len(peers) == 1 {
			peer = peers[0]
		}
		if peer == "" {
			var others []string
			for _, n := range h.cib.Nodes {
				if n != h.self {
					others = append(others, n)
				}
			}
			if len(others) == 1 {
				peer = others[0]
			}
		}
		h.exclude = []string{peer} // "" is an unknown peer
		return true
	}
	hex, ok := strings.CutPrefix(strings.ToLower(m), "0x")
	mask, err := strconv.ParseUint(hex, 16, 64)
	if !ok || err != nil {
		h.Log.Errorf("UP_TO_DATE_NODES=%s is not a 0x... hexadecimal mask", m)
		return false
	}
	my, err := strconv.Atoi(h.Getenv("DRBD_MY_NODE_ID"))
	if err != nil || my < 0 || my > 31 {
		h.Log.Errorf("DRBD_MY_NODE_ID=%q is not a node id from 0 to 31", h.Getenv("DRBD_MY_NODE_ID"))
		return false
	}
	if mask&(1<<my) == 0 {
		h.Log.Errorf("this node (id %d) is not in UP_TO_DATE_NODES=%s itself", my, m)
		return false
	}
	if n := h.Getenv("DRBD_NODE_ID_" + strconv.Itoa(my)); n != h.self {
		h.Log.Warnf("this node's id %d names %q in drbd.conf, but the cluster calls it %q", my, n, h.self)
	}
	h.hasMask = true
	h.ids = []int{}
	for i := 0; i < 32; i++ {
		n := h.Getenv("DRBD_NODE_ID_" + strconv.Itoa(i))
		if n == "" {
			continue
		}
		if mask&(1<<i) != 0 {
			h.include = append(h.include, n)
			h.ids = append(h.ids, i)
		} else {
			h.exclude = append(h.exclude, n)
		}
	}
	return true
}

// disks reads DRBD's state: /proc/drbd with 8.4 (drbdsetup must not run
// in an 8.4 fence-peer handler), drbdsetup events2 with 9.
func (h *Handler) disks(ctx context.Context) (DiskSummary, bool) {
	proc, perr := h.Tools.ProcDRBD()
	ver := 0
	if perr == nil {
		ver = ProcDRBDVersion(proc)
	}
	gen9 := h.hasMask || ver >= 9 || (perr != nil && h.Getenv("DRBD_MY_NODE_ID") != "")
	if !gen9 && ver == 8 {
		if minors := ParseMinors(h.Getenv("DRBD_MINOR")); len(minors) > 0 {
			return SummaryFromProcDRBD(proc, minors), false
		}
		h.Log.Warnf("DRBD_MINOR is not set; asking drbdsetup instead of /proc/drbd")
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := h.Tools.Drbdsetup.Events2Now(ctx, h.res)
	if err == nil && res.Code != 0 {
		err = errors.New(res.Line())
	}
	if err != nil {
		h.Log.Warnf("drbdsetup events2 --now %s: %v", h.res, err)
		return DiskSummary{}, gen9
	}
	return SummaryFromEvents2(res.Stdout, h.res), gen9
}

// write places c: creates it, or replaces the constraint of the same id;
// retried while the CIB answers "old data" (a concurrent update).
func (h *Handler) write(ctx context.Context, c Constraint, replace bool) error {
	for {
		var res Result
		var err error
		if replace {
			res, err = h.Tools.Cibadmin.Replace(ctx, c.XML())
		} else {
			res, err = h.Tools.Cibadmin.Create(ctx, c.XML())
		}
		if err != nil {
			return err
		}
		switch res.Code {
		case 0:
			return nil
		case 103, 205: // CRM_EX_OLD (Pacemaker 2+), pcmk_err_old_data (1.1)
			if h.elapsed() < h.S.Timeout && ctx.Err() == nil {
				h.Tools.Sleep(ctx, time.Second)
				continue
			}
		}
		return fmt.Errorf("cibadmin exit code %d: %s", res.Code, res.Line())
	}
}

func (h *Handler) remove(ctx context.Context) error {
	res, err := h.Tools.Cibadmin.Delete(ctx, h.want.DeleteXML())
	if err == nil && res.Code != 0 {
		err = fmt.Errorf("cibadmin --delete exit code %d: %s", res.Code, res.Line())
	}
	return err
}

// peers waits for Pacemaker's verdict on every excluded peer.
func (h *Handler) peers(ctx context.Context) (allReachable, allFenced bool) {
	if err := h.queryDC(ctx); err != nil {
		h.Log.Warnf("%v", err)
		return false, false
	}
	allReachable, allFenced = true, true
	for _, p := range h.exclude {
		if p != "" && h.had && h.have.Rejects(p) {
			// Already excluded: what's done is done.
			continue
		}
		st := h.peerState(ctx, p)
		h.Log.Infof("peer %s: %s", orUnknown(p), st)
		allReachable = allReachable && st == PeerReachable
		allFenced = allFenced && st == PeerFenced
	}
	return allReachable, allFenced
}

func orUnknown(p string) string {
	if p == "" {
		return "(unknown)"
	}
	return p
}

func (h *Handler) peerState(ctx context.Context, peer string) PeerState {
	if peer == "" {
		if left := h.S.Timeout - h.elapsed(); left > 0 {
			h.Log.Warnf("the DRBD peer is unknown (no DRBD_PEER, and not a two-node cluster); waiting the full --timeout (%s) for fencing", left.Round(time.Second))
			h.Tools.Sleep(ctx, left)
		}
		return PeerUnknown
	}
	for {
		ns := h.cib.States[peer]
		switch st := ClassifyNode(ns, h.cib.StonithEnabled, h.cib.StartupFencing); st {
		case PeerFenced, PeerUnreachable:
			return st
		case PeerAskController:
			res, err := h.Tools.Crmadmin.Status(ctx, peer, 4*time.Second)
			if err == nil && res.Code == 0 && ControllerOK(res.Stdout) {
				return PeerReachable
			}
		}
		if h.elapsed() >= h.S.Timeout || ctx.Err() != nil {
			return AfterTimeout(ns)
		}
		h.Tools.Sleep(ctx, 2*time.Second)
		if err := h.queryDC(ctx); err != nil {
			h.Log.Warnf("%v", err)
			return PeerDCUnreachable
		}
	}
}

func (h *Handler) fence(ctx context.Context) int {
	if !h.setup(ctx) {
		return ExitError
	}
	code := h.fenceDecide(ctx)
	if code == ExitInconsistent || code == ExitOutdated || code == ExitStonithed {
		// The peers may have come back meanwhile.
		if d, _ := h.disks(ctx); d.PeersUpToDate {
			h.Log.Warnf("all peer disks are UpToDate again: removing the constraint %s", h.want.ID)
			if err := h.remove(ctx); err != nil {
				h.Log.Errorf("could not remove %s: %v", h.want.ID, err)
				return code
			}
			return ExitError
		}
	}
	return code
}

func (h *Handler) fenceDecide(ctx context.Context) int {
	target := h.want
	if h.had {
		if h.have.Equivalent(h.want) {
			h.Log.Infof("a suitable constraint is already in place: %s", h.want.ID)
			return ExitOutdated
		}
		if h.have.Rejects(h.self) {
			h.Log.Errorf("constraint %s already exists and forbids this node (%s) the Promoted role: %s", h.want.ID, h.self, strings.Join(strings.Fields(xmlOf(h.have)), " "))
			h.Log.Errorf("DATA INTEGRITY at RISK: could not place the fencing constraint")
			return ExitError
		}
		target = restrict(h.have, h.want)
	}
	reach, fenced := h.peers(ctx)
	for reach && h.elapsed() < h.S.NetHickup && ctx.Err() == nil {
		// Maybe the replication link comes back by itself.
		h.Tools.Sleep(ctx, h.S.NetHickup-h.elapsed())
		reach, fenced = h.peers(ctx)
	}
	disk, _ := h.disks(ctx)
	d := DecideFence(FenceInput{Quorum: h.cib.HaveQuorum, Disk: disk, AllReachable: reach, AllFenced: fenced, UnreachableOK: h.S.UnreachableIsOut})
	if !d.Place {
		h.Log.Warnf("%s", d.Reason)
		return d.Code
	}
	replace := h.had
	if _, exists := h.cib.Constraint(target.ID); exists {
		replace = true
	}
	if err := h.write(ctx, target, replace); err != nil {
		h.Log.Errorf("could not place %s: %v", target.ID, err)
		// Raced with another handler or an admin?
		if qerr := h.queryDC(ctx); qerr == nil && h.had && h.have.Equivalent(h.want) {
			h.Log.Infof("a suitable constraint is in place now: %s", h.want.ID)
			return ExitOutdated
		}
		h.Log.Errorf("DATA INTEGRITY at RISK: could not place the fencing constraint")
		return ExitError
	}
	h.Log.Infof("%s: %s (exit code %d)", d.Reason, target.ID, d.Code)
	return d.Code
}

// restrict narrows an existing constraint further: the nodes both it and
// the new one allow.
func restrict(have, want Constraint) Constraint {
	allowed, ok := have.Allowed()
	if !ok {
		return want
	}
	out := want
	out.Exprs = nil
	for _, e := range want.Exprs {
		if slices.Contains(allowed, e.Value) {
			out.Exprs = append(out.Exprs, e)
		}
	}
	return out
}

func xmlOf(c Constraint) string { return c.XML() }

func (h *Handler) unfence(ctx context.Context) int {
	if !h.setup(ctx) {
		return ExitError
	}
	if !h.had {
		if h.hasMask && len(h.exclude) > 0 {
			h.Log.Warnf("no constraint %s in place, but %s not UpToDate per UP_TO_DATE_NODES", h.want.ID, strings.Join(h.exclude, " "))
		} else if !h.S.Quiet {
			h.Log.Infof("no constraint %s in place, nothing to do", h.want.ID)
		}
		return 0
	}
	if h.S.OwnerMatch && h.have.Rejects(h.self) {
		h.Log.Warnf("constraint %s forbids this node (--unfence-only-if-owner-match): leaving it in place", h.want.ID)
		return 0
	}
	disk, gen9 := h.disks(ctx)
	if disk.AllUpToDate && disk.PeersUpToDate && disk.Configured {
		if err := h.remove(ctx); err != nil {
			h.Log.Errorf("could not remove constraint %s: %v", h.want.ID, err)
			return ExitError
		}
		h.Log.Infof("all disks are UpToDate (%s): removed constraint %s", disk, h.want.ID)
		return 0
	}
	whose := "the local disk(s)"
	if disk.AllUpToDate {
		whose = "the peer disk(s)"
	}
	if !gen9 {
		h.Log.Warnf("%s not all UpToDate (%s): leaving constraint %s in place", whose, disk, h.want.ID)
		return ExitError
	}
	if h.hasMask && !h.have.Equivalent(h.want) {
		// Some peers are UpToDate again: allow those.
		if err := h.write(ctx, h.want, true); err != nil {
			h.Log.Warnf("could not update constraint %s (%v): leaving it in place", h.want.ID, err)
			return 0
		}
		h.Log.Infof("%s not all UpToDate (%s): constraint %s now allows %s", whose, disk, h.want.ID, strings.Join(h.include, " "))
		return 0
	}
	h.Log.Infof("%s not all UpToDate (%s): leaving constraint %s in place", whose, disk, h.want.ID)
	return 0
}
