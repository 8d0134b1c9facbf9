package vip

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/gocf/gocf/pkg/announce"
	"github.com/gocf/gocf/pkg/ipaddr"
	"github.com/gocf/gocf/pkg/ocf"
	"golang.org/x/sys/unix"
)

// target is where the address goes on this node.
type target struct {
	link   ipaddr.Link
	prefix netip.Prefix
	label  string
	brd    netip.Addr
	route  int // prefix length of the connected route covering ip on link; -1 unknown or none
}

// agent is the declaration's actions on one way of reaching the node.
type agent struct{ node node }

// session is one action's view of the node: the configuration and one
// netlink socket.
type session struct {
	r    *ocf.Request
	c    config
	host *ipaddr.Host
	node node
}

// withSession runs fn with the node open. The configuration was checked by
// the SDK before any action runs.
func (a *agent) withSession(fn func(s *session, ctx context.Context) ocf.Status) ocf.Func {
	return func(ctx context.Context, r *ocf.Request) ocf.Status {
		c := ocf.Config[config](r)
		host, err := a.node.open()
		if err != nil {
			return r.Fail(ocf.ErrGeneric, "cannot talk to the kernel: %v", err)
		}
		defer host.Close()
		return fn(&session{r: r, c: c, host: host, node: a.node}, ctx)
	}
}

// failure is why resolve found no target.
type failure struct {
	status ocf.Status // of start and validate-all
	reason string
	look   bool // reading the node's state failed: nothing is known
	noLink bool // nic does not exist here
	// tied are the interfaces whose connected routes cover ip equally
	// well: each one start could have picked before the tie arose.
	tied []target
}

func (s *session) fail(f *failure) ocf.Status { return s.r.Fail(f.status, "%s", f.reason) }

// resolve finds the interface and prefix start would use on this node.
// Apart from a failure to look, its failures are node-local: the interface
// is missing here (ErrInstalled) or the routes here do not determine it
// (ErrArgs).
func (s *session) resolve() (target, *failure) {
	c := s.c
	t := target{label: c.label, route: -1}
	fail := func(st ocf.Status, format string, args ...any) (target, *failure) {
		return t, &failure{status: st, reason: fmt.Sprintf(format, args...)}
	}
	var only *ipaddr.Link
	if c.nic != "" {
		l, ok, err := s.host.Link(c.nic)
		if err != nil {
			return t, &failure{status: ocf.ErrGeneric, look: true, reason: fmt.Sprintf("cannot look up interface %s: %v", c.nic, err)}
		}
		if !ok {
			return t, &failure{status: ocf.ErrInstalled, noLink: true, reason: fmt.Sprintf("interface %s does not exist on this node", c.nic)}
		}
		t.link, only = l, &l
	}
	bits := c.prefix
	if c.nic == "" || bits < 0 {
		cand, err := s.host.FindInterface(c.ip, only)
		switch {
		case err == nil:
			t.link, t.route = cand.Link, cand.Prefix
			if bits < 0 {
				bits = cand.Prefix
			}
		case only != nil && errors.Is(err, ipaddr.ErrNoRoute):
			return fail(ocf.ErrArgs, "no route on %s covers %s, so its netmask is unknown: set cidr_netmask", c.nic, c.ip)
		case errors.Is(err, ipaddr.ErrNoRoute):
			return fail(ocf.ErrArgs, "no interface on this node has a connected route covering %s: set nic", c.ip)
		case errors.Is(err, ipaddr.ErrAmbiguous):
			var amb *ipaddr.AmbiguousError
			errors.As(err, &amb)
			t, f := fail(ocf.ErrArgs, "several interfaces have connected routes covering %s: set nic", c.ip)
			if bits < 0 {
				bits = amb.Prefix
			}
			for _, idx := range amb.Links {
				l := ipaddr.Link{Index: idx, Name: s.host.LinkName(idx)}
				f.tied = append(f.tied, target{link: l, prefix: netip.PrefixFrom(c.ip, bits), label: s.labelOn(l)})
			}
			return t, f
		default:
			return t, &failure{status: ocf.ErrGeneric, look: true, reason: fmt.Sprintf("cannot choose an interface for %s: %v", c.ip, err)}
		}
	}
	t.label = s.labelOn(t.link)
	t.prefix = netip.PrefixFrom(c.ip, bits)
	t.brd = broadcastFor(c.broadcast, t.prefix)
	return t, nil
}

// labelOn is the label the address gets on l.
func (s *session) labelOn(l ipaddr.Link) string {
	if s.c.label == "" && s.c.iflabel != "" {
		return l.Name + ":" + s.c.iflabel
	}
	return s.c.label
}

// usable adds the checks of a target that only start and validate-all
// make: what monitor and stop look for is the address as configured.
func (s *session) usable(t target) ocf.Status {
	r, c := s.r, s.c
	if len(t.label) > ifNameMax {
		return r.Fail(ocf.ErrArgs, "label %s is longer than %d characters", t.label, ifNameMax)
	}
	if t.route < 0 && c.nic != "" {
		cand, err := s.host.FindInterface(c.ip, &t.link)
		switch {
		case err == nil:
			t.route = cand.Prefix
		case !errors.Is(err, ipaddr.ErrNoRoute):
			return r.Fail(ocf.ErrGeneric, "cannot read the routes of %s: %v", t.link.Name, err)
		}
	}
	// A shorter prefix than the link's network would add a route sending
	// neighbouring networks, which are not on this link, to it. IPaddr2's
	// findif finds no interface for it (ip route list match ip/prefix).
	if t.route >= 0 && t.prefix.Bits() < t.route {
		network := netip.PrefixFrom(c.ip, t.route).Masked()
		return r.Fail(ocf.ErrArgs, "cidr_netmask /%d is shorter than %s's network %s (it would route other networks there): use /%d or longer",
			t.prefix.Bits(), t.link.Name, network, t.route)
	}
	return ocf.Success
}

func (s *session) validate(context.Context) ocf.Status {
	t, f := s.resolve()
	if f != nil {
		return s.fail(f)
	}
	return s.usable(t)
}

// state is what monitor and start see of the address on this node.
type state int

const (
	absent  state = iota
	present       // on the right interface with the right prefix (and label)
	elsewhere
	dadFailed
)

// owns tells whether an assignment is the one this resource adds: on the
// interface start picks, with its prefix, and with its label if it has one.
func (t target) owns(a ipaddr.Assigned) bool {
	return a.LinkIndex == t.link.Index && a.Prefix == t.prefix && (t.label == "" || a.Label == t.label)
}

// where names an assignment for messages.
func (s *session) where(a ipaddr.Assigned) string {
	name := s.host.LinkName(a.LinkIndex)
	if a.Label != "" && a.Label != name {
		return fmt.Sprintf("%s on %s (label %s)", a.Prefix, name, a.Label)
	}
	return fmt.Sprintf("%s on %s", a.Prefix, name)
}

func (s *session) observe(t target) (state, ipaddr.Assigned, error) {
	found, err := s.host.Find(t.prefix.Addr())
	if err != nil {
		return absent, ipaddr.Assigned{}, err
	}
	st, where := absent, ipaddr.Assigned{}
	for _, a := range found {
		switch {
		case t.owns(a) && a.DADFailed():
			return dadFailed, a, nil
		case t.owns(a):
			return present, a, nil
		default:
			st, where = elsewhere, a
		}
	}
	return st, where, nil
}

// candidates are the assignments of the address that could be this
// resource's when the routes no longer tell where start put it: on nic if
// set, with the prefix if set.
func (s *session) candidates() ([]ipaddr.Assigned, error) {
	found, err := s.host.Find(s.c.ip)
	var out []ipaddr.Assigned
	for _, a := range found {
		if s.c.prefix >= 0 && a.Prefix.Bits() != s.c.prefix {
			continue
		}
		if s.c.nic != "" && s.host.LinkName(a.LinkIndex) != s.c.nic {
			continue
		}
		out = append(out, a)
	}
	return out, err
}

func (s *session) start(ctx context.Context) ocf.Status {
	r, c := s.r, s.c
	t, f := s.resolve()
	if f != nil {
		return s.fail(f)
	}
	found, where, err := s.observe(t)
	if err != nil {
		return r.Fail(ocf.ErrGeneric, "cannot read addresses: %v", err)
	}
	switch found {
	case present:
		r.Log.Infof("%s is already on %s", t.prefix, t.link.Name)
		return ocf.Success
	case dadFailed:
		s.host.Remove(t.link.Index, t.prefix)
		return r.Fail(ocf.ErrGeneric, "%s is on %s but failed duplicate address detection: another node uses it", t.prefix, t.link.Name)
	case elsewhere:
		return r.Fail(ocf.ErrGeneric, "%s is already configured as %s; remove it or fix nic/cidr_netmask/iflabel", c.ip, s.where(where))
	}
	// Checked after looking, so that a copy of the address, whose own
	// route would also fail this check, is reported as what it is.
	if st := s.usable(t); st != ocf.Success {
		return st
	}

	err = s.host.Add(ipaddr.Spec{
		Link: t.link, Prefix: t.prefix, Label: t.label, Broadcast: t.brd,
		NoDAD: c.nodad, NoPrefixRoute: c.noprefix, PreferredLft: c.prefLft,
	})
	if err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return r.Fail(ocf.ErrPerm, "not allowed to add %s to %s: vip needs root (CAP_NET_ADMIN)", t.prefix, t.link.Name)
		}
		return r.Fail(ocf.ErrGeneric, "adding %s to %s failed: %v", t.prefix, t.link.Name, err)
	}
	r.Log.Infof("added %s to %s", t.prefix, t.link.Name)

	// As the monitor would fail at once on a dead link, so does start:
	// otherwise Pacemaker restarts the address on the node whose cable is
	// out, monitor failure after monitor failure, instead of moving it.
	if c.checkLink {
		wait := carrierWait // a link start just set up may need autonegotiation
		if t.link.AdminUp {
			wait = 0 // up before: no carrier means the cable is out
		}
		if err := s.waitCarrier(ctx, t.link.Name, wait); err != nil {
			s.host.Remove(t.link.Index, t.prefix) // no half-done start
			return r.Fail(ocf.ErrGeneric, "%s: %v (check_link_status)", t.link.Name, err)
		}
	}

	if c.ip.Is6() && !c.nodad {
		if err := s.host.WaitDAD(ctx, t.link, c.ip); err != nil {
			s.host.Remove(t.link.Index, t.prefix) // no half-done start
			switch {
			case errors.Is(err, ipaddr.ErrDuplicate):
				return r.Fail(ocf.ErrGeneric, "%s: duplicate address detection failed on %s: another node uses this address", c.ip, t.link.Name)
			case errors.Is(err, context.DeadlineExceeded):
				return r.Fail(ocf.ErrGeneric, "duplicate address detection for %s on %s did not finish in time (no carrier?)", c.ip, t.link.Name)
			}
			return r.Fail(ocf.ErrGeneric, "waiting for duplicate address detection of %s: %v", c.ip, err)
		}
	}

	if c.arpCount > 0 {
		if c.arpBG {
			r.StopHelper(helperAnnounce) // an earlier series must not overlap
			err := s.node.spawn(r, t.link.Name, c.ip.String(), strconv.Itoa(c.arpCount),
				strconv.Itoa(int(c.arpInterval/time.Millisecond)), string(c.arpMode))
			if err != nil {
				r.Log.Warnf("cannot start background announcements, sending them now: %v", err)
				s.announce(ctx, t, c.arpCount)
			}
		} else {
			s.announce(ctx, t, c.arpCount)
		}
	}
	return ocf.Success
}

// announce never fails the action: the address is up, and a neighbour that
// misses the announcement learns it by ARP/ND anyway.
func (s *session) announce(ctx context.Context, t target, count int) {
	n, err := s.node.announce(ctx, announce.Plan{
		Interface: t.link.Name, Addr: s.c.ip, Count: count, Interval: s.c.arpInterval, Mode: s.c.arpMode,
	})
	switch {
	case errors.Is(err, announce.ErrNoHardwareAddr):
		s.r.Log.Debugf("%s has no link-layer address; nothing to announce", t.link.Name)
	case err != nil:
		s.r.Log.Warnf("sent %d of %d announcements of %s on %s: %v", n, count, s.c.ip, t.link.Name, err)
	default:
		s.r.Log.Debugf("sent %d announcements of %s on %s", n, s.c.ip, t.link.Name)
	}
}

// announceHelper is the detached child start spawns when arp_bg is set.
func (a *agent) announceHelper(ctx context.Context, args []string, log *ocf.Logger) ocf.Status {
	if len(args) != 5 {
		return ocf.ErrArgs
	}
	ip, err1 := netip.ParseAddr(args[1])
	count, err2 := strconv.Atoi(args[2])
	ms, err3 := strconv.Atoi(args[3])
	if err := errors.Join(err1, err2, err3); err != nil {
		log.Errorf("announce helper: %v", err)
		return ocf.ErrArgs
	}
	_, err := a.node.announce(ctx, announce.Plan{
		Interface: args[0], Addr: ip, Count: count,
		Interval: time.Duration(ms) * time.Millisecond, Mode: announce.Mode(args[4]),
	})
	if err != nil {
		return ocf.ErrGeneric
	}
	return ocf.Success
}

// stop removes only what start would have added, on the interface start
// picks (or, on a tie, could have picked before it): a copy of the address
// elsewhere (an administrator's /32 on lo, another prefix or label) is not
// this resource's, even after a failed start.
func (s *session) stop(context.Context) ocf.Status {
	r := s.r
	r.StopHelper(helperAnnounce)
	t, f := s.resolve()
	switch {
	case f == nil:
		return s.remove(t)
	case f.look:
		return s.fail(f)
	case f.noLink:
		return ocf.Success // the interface is gone, and its addresses with it
	}
	for _, t := range f.tied {
		if st := s.remove(t); st != ocf.Success {
			return st
		}
	}
	// Otherwise start would pick no interface, so it added nothing.
	// IPaddr2's stop succeeds here too.
	left, err := s.candidates()
	if err != nil {
		return r.Fail(ocf.ErrGeneric, "cannot read addresses: %v", err)
	}
	for _, a := range left {
		r.Log.Warnf("%s; leaving %s alone", f.reason, s.where(a))
	}
	return ocf.Success
}

// remove removes the address t owns and succeeds only when it is gone.
func (s *session) remove(t target) ocf.Status {
	r := s.r
	found, err := s.host.Find(t.prefix.Addr())
	if err != nil {
		return r.Fail(ocf.ErrGeneric, "cannot read addresses: %v", err)
	}
	for _, a := range found {
		if !t.owns(a) {
			r.Log.Infof("%s is not this resource's; left alone", s.where(a))
			continue
		}
		if err := s.host.Remove(a.LinkIndex, a.Prefix); err != nil {
			if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
				return r.Fail(ocf.ErrPerm, "not allowed to remove %s from %s: vip needs root (CAP_NET_ADMIN)", a.Prefix, t.link.Name)
			}
			return r.Fail(ocf.ErrGeneric, "removing %s from %s failed: %v", a.Prefix, t.link.Name, err)
		}
		r.Log.Infof("removed %s from %s", a.Prefix, t.link.Name)
	}
	if found, err = s.host.Find(t.prefix.Addr()); err != nil {
		return r.Fail(ocf.ErrGeneric, "cannot read addresses: %v", err)
	}
	for _, a := range found {
		if t.owns(a) {
			return r.Fail(ocf.ErrGeneric, "%s is still on %s after removal", a.Prefix, t.link.Name)
		}
	}
	return ocf.Success
}

// monitor answers "not running" only when the address is known to be
// absent: a failure to look, or an address that is here while the routes
// no longer tell where start put it, is a failure, since "not running"
// would let Pacemaker start the address on a second node.
func (s *session) monitor(ctx context.Context) ocf.Status {
	r, c := s.r, s.c
	t, f := s.resolve()
	switch {
	case f == nil:
	case f.look:
		return s.fail(f)
	case f.noLink:
		return r.Fail(ocf.NotRunning, "%s", f.reason)
	default:
		maybe, err := s.candidates()
		switch {
		case err != nil:
			return r.Fail(ocf.ErrGeneric, "cannot read addresses: %v", err)
		case len(maybe) == 0:
			return r.Fail(ocf.NotRunning, "%s is on no interface (%s)", c.ip, f.reason)
		}
		return r.Fail(ocf.ErrGeneric, "%s but %s", s.isUp(maybe), f.reason)
	}
	found, where, err := s.observe(t)
	if err != nil {
		return r.Fail(ocf.ErrGeneric, "cannot read addresses: %v", err)
	}
	switch found {
	case absent:
		return r.Fail(ocf.NotRunning, "%s is not on %s", t.prefix, t.link.Name)
	case elsewhere:
		return r.Fail(ocf.NotRunning, "%s is not on %s (found %s)", t.prefix, t.link.Name, s.where(where))
	case dadFailed:
		return r.Fail(ocf.NotRunning, "%s on %s failed duplicate address detection: another node uses it", t.prefix, t.link.Name)
	}
	if c.checkLink && !t.link.Up {
		return r.Fail(ocf.NotRunning, "%s is on %s but the link is down or has no carrier", t.prefix, t.link.Name)
	}
	if c.arpRefresh > 0 && c.ip.Is4() && !r.IsProbe() {
		s.announce(ctx, t, c.arpRefresh)
	}
	return ocf.Success
}

// isUp says where the address is: "198.51.100.62/24 on lan0 is up".
func (s *session) isUp(as []ipaddr.Assigned) string {
	w := make([]string, len(as))
	for i, a := range as {
		w[i] = s.where(a)
	}
	if len(w) > 1 {
		return strings.Join(w, " and ") + " are up"
	}
	return w[0] + " is up"
}

// carrierWait is how long start gives a link it just set up to report a
// carrier: veths and bridges at once, a real NIC after autonegotiation.
const carrierWait = 5 * time.Second

// waitCarrier waits, within wait and ctx, for the link to be up with a
// carrier; with wait 0 it looks once.
func (s *session) waitCarrier(ctx context.Context, name string, wait time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for {
		l, ok, err := s.host.Link(name)
		switch {
		case err != nil:
			return err
		case !ok:
			return errors.New("the interface is gone")
		case l.Up:
			return nil
		}
		select {
		case <-ctx.Done():
			if wait == 0 {
				return errors.New("no carrier (link down)")
			}
			return fmt.Errorf("no carrier (link down) within %s", ocf.FormatDuration(wait))
		case <-time.After(100 * time.Millisecond):
		}
	}
}
