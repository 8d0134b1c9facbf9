package vip

import (
	"context"
	"errors"
	"net/netip"
	"strconv"
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
}

// session is one action's view of the node: the configuration and one
// netlink socket.
type session struct {
	r    *ocf.Request
	c    config
	host *ipaddr.Host
}

// withSession runs fn with the node open. The configuration was checked by
// the SDK before any action runs.
func withSession(fn func(ctx context.Context, s *session) ocf.Status) ocf.Func {
	return func(ctx context.Context, r *ocf.Request) ocf.Status {
		c := ocf.Config[config](r)
		host, err := ipaddr.Open()
		if err != nil {
			return r.Fail(ocf.ErrGeneric, "cannot talk to the kernel: %v", err)
		}
		defer host.Close()
		return fn(ctx, &session{r: r, c: c, host: host})
	}
}

// resolve finds the interface and prefix on this node. Its failures are
// node-local: the interface is missing here (ErrInstalled) or the routes
// here do not determine it (ErrArgs).
func (s *session) resolve() (target, ocf.Status) {
	r, c := s.r, s.c
	t := target{label: c.label}
	var only *ipaddr.Link
	if c.nic != "" {
		l, ok, err := s.host.Link(c.nic)
		if err != nil {
			return t, r.Fail(ocf.ErrGeneric, "cannot look up interface %s: %v", c.nic, err)
		}
		if !ok {
			return t, r.Fail(ocf.ErrInstalled, "interface %s does not exist on this node", c.nic)
		}
		t.link, only = l, &l
	}
	bits := c.prefix
	if c.nic == "" || bits < 0 {
		cand, err := s.host.FindInterface(c.ip, only)
		switch {
		case err == nil:
			t.link = cand.Link
			if bits < 0 {
				bits = cand.Prefix
			}
		case only != nil && errors.Is(err, ipaddr.ErrNoRoute):
			return t, r.Fail(ocf.ErrArgs, "no route on %s covers %s, so its netmask is unknown: set cidr_netmask", c.nic, c.ip)
		case errors.Is(err, ipaddr.ErrNoRoute):
			return t, r.Fail(ocf.ErrArgs, "no interface on this node has a connected route covering %s: set nic", c.ip)
		case errors.Is(err, ipaddr.ErrAmbiguous):
			return t, r.Fail(ocf.ErrArgs, "several interfaces have connected routes covering %s: set nic", c.ip)
		default:
			return t, r.Fail(ocf.ErrGeneric, "cannot choose an interface for %s: %v", c.ip, err)
		}
	}
	if t.label == "" && c.iflabel != "" {
		t.label = t.link.Name + ":" + c.iflabel
		if len(t.label) > ifNameMax {
			return t, r.Fail(ocf.ErrArgs, "label %s is longer than %d characters", t.label, ifNameMax)
		}
	}
	t.prefix = netip.PrefixFrom(c.ip, bits)
	t.brd = broadcastFor(c.broadcast, t.prefix)
	return t, ocf.Success
}

var validate = withSession(func(_ context.Context, s *session) ocf.Status {
	_, st := s.resolve()
	return st
})

// state is what monitor and start see of the address on this node.
type state int

const (
	absent  state = iota
	present       // on the right interface with the right prefix
	elsewhere
	dadFailed
)

func (s *session) observe(t target) (state, ipaddr.Assigned, error) {
	found, err := s.host.Find(t.prefix.Addr())
	if err != nil {
		return absent, ipaddr.Assigned{}, err
	}
	st, where := absent, ipaddr.Assigned{}
	for _, a := range found {
		switch {
		case a.LinkIndex == t.link.Index && a.Prefix == t.prefix && a.DADFailed():
			return dadFailed, a, nil
		case a.LinkIndex == t.link.Index && a.Prefix == t.prefix:
			return present, a, nil
		default:
			st, where = elsewhere, a
		}
	}
	return st, where, nil
}

var start = withSession(func(ctx context.Context, s *session) ocf.Status {
	r, c := s.r, s.c
	t, st := s.resolve()
	if st != ocf.Success {
		return st
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
		return r.Fail(ocf.ErrGeneric, "%s is already configured as %s on %s; remove it or fix nic/cidr_netmask",
			c.ip, where.Prefix, s.host.LinkName(where.LinkIndex))
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
			_, err := r.Spawn(helperAnnounce, t.link.Name, c.ip.String(), strconv.Itoa(c.arpCount),
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
})

// announce never fails the action: the address is up, and a neighbour that
// misses the announcement learns it by ARP/ND anyway.
func (s *session) announce(ctx context.Context, t target, count int) {
	n, err := announce.Send(ctx, announce.Plan{
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
func announceHelper(ctx context.Context, args []string, log *ocf.Logger) ocf.Status {
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
	_, err := announce.Send(ctx, announce.Plan{
		Interface: args[0], Addr: ip, Count: count,
		Interval: time.Duration(ms) * time.Millisecond, Mode: announce.Mode(args[4]),
	})
	if err != nil {
		return ocf.ErrGeneric
	}
	return ocf.Success
}

// ours tells whether an assignment of the address belongs to this resource:
// with nic set, only on that interface.
func (s *session) ours(a ipaddr.Assigned, nic *ipaddr.Link) bool {
	return s.c.nic == "" || (nic != nil && a.LinkIndex == nic.Index)
}

var stop = withSession(func(_ context.Context, s *session) ocf.Status {
	r, c := s.r, s.c
	r.StopHelper(helperAnnounce)
	var nic *ipaddr.Link
	if c.nic != "" {
		l, ok, err := s.host.Link(c.nic)
		if err != nil {
			return r.Fail(ocf.ErrGeneric, "cannot look up interface %s: %v", c.nic, err)
		}
		if !ok {
			return ocf.Success // the interface is gone, and its addresses with it
		}
		nic = &l
	}
	found, err := s.host.Find(c.ip)
	if err != nil {
		return r.Fail(ocf.ErrGeneric, "cannot read addresses: %v", err)
	}
	for _, a := range found {
		if !s.ours(a, nic) {
			continue
		}
		if err := s.host.Remove(a.LinkIndex, a.Prefix); err != nil {
			name := s.host.LinkName(a.LinkIndex)
			if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
				return r.Fail(ocf.ErrPerm, "not allowed to remove %s from %s: vip needs root (CAP_NET_ADMIN)", a.Prefix, name)
			}
			return r.Fail(ocf.ErrGeneric, "removing %s from %s failed: %v", a.Prefix, name, err)
		}
		r.Log.Infof("removed %s from %s", a.Prefix, s.host.LinkName(a.LinkIndex))
	}
	// Success only when it is really gone.
	if found, err = s.host.Find(c.ip); err != nil {
		return r.Fail(ocf.ErrGeneric, "cannot read addresses: %v", err)
	}
	for _, a := range found {
		if s.ours(a, nic) {
			return r.Fail(ocf.ErrGeneric, "%s is still on %s after removal", a.Prefix, s.host.LinkName(a.LinkIndex))
		}
	}
	return ocf.Success
})

var monitor = withSession(func(ctx context.Context, s *session) ocf.Status {
	r, c := s.r, s.c
	t, st := s.resolve()
	if st != ocf.Success {
		// Without the interface, or a route that picks one, the address
		// cannot be up here: not running, whatever resolve said.
		return ocf.NotRunning
	}
	found, where, err := s.observe(t)
	if err != nil {
		return r.Fail(ocf.ErrGeneric, "cannot read addresses: %v", err)
	}
	switch found {
	case absent:
		return r.Fail(ocf.NotRunning, "%s is not on %s", t.prefix, t.link.Name)
	case elsewhere:
		return r.Fail(ocf.NotRunning, "%s is not on %s (found %s on %s)", t.prefix, t.link.Name, where.Prefix, s.host.LinkName(where.LinkIndex))
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
})
