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
	link   string
	prefix netip.Prefix
	label  string
	brd    netip.Addr
}

// resolve finds the interface and prefix on this node. Its failures are
// node-local: the interface is missing here (ErrInstalled) or the routes
// here do not determine it (ErrArgs).
func resolve(r *ocf.Request, c config) (target, ocf.Status) {
	t := target{link: c.nic, label: c.label}
	if c.nic != "" {
		ok, err := ipaddr.LinkExists(c.nic)
		if err != nil {
			return t, r.Fail(ocf.ErrGeneric, "cannot look up interface %s: %v", c.nic, err)
		}
		if !ok {
			return t, r.Fail(ocf.ErrInstalled, "interface %s does not exist on this node", c.nic)
		}
	}
	bits := c.prefix
	if c.nic == "" || bits < 0 {
		cand, err := ipaddr.FindInterface(c.ip, c.nic)
		switch {
		case err == nil:
			t.link = cand.Link
			if bits < 0 {
				bits = cand.Prefix
			}
		case c.nic != "" && errors.Is(err, ipaddr.ErrNoRoute):
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
		t.label = t.link + ":" + c.iflabel
		if len(t.label) > ifNameMax {
			return t, r.Fail(ocf.ErrArgs, "label %s is longer than %d characters", t.label, ifNameMax)
		}
	}
	t.prefix = netip.PrefixFrom(c.ip, bits)
	t.brd = broadcastFor(c.broadcast, t.prefix)
	return t, ocf.Success
}

func validate(_ context.Context, r *ocf.Request) ocf.Status {
	c, _ := parseConfig(r) // already checked
	if _, s := resolve(r, c); s != ocf.Success {
		return s
	}
	return ocf.Success
}

// state is what monitor and start see of the address on this node.
type state int

const (
	absent  state = iota
	present       // on the right interface with the right prefix
	elsewhere
	dadFailed
)

func observe(t target) (state, ipaddr.Assigned, error) {
	found, err := ipaddr.Find(t.prefix.Addr())
	if err != nil {
		return absent, ipaddr.Assigned{}, err
	}
	st, where := absent, ipaddr.Assigned{}
	for _, a := range found {
		switch {
		case a.Link == t.link && a.Prefix == t.prefix && a.DADFailed():
			return dadFailed, a, nil
		case a.Link == t.link && a.Prefix == t.prefix:
			return present, a, nil
		default:
			st, where = elsewhere, a
		}
	}
	return st, where, nil
}

func start(ctx context.Context, r *ocf.Request) ocf.Status {
	c, _ := parseConfig(r)
	t, s := resolve(r, c)
	if s != ocf.Success {
		return s
	}
	st, where, err := observe(t)
	if err != nil {
		return r.Fail(ocf.ErrGeneric, "cannot read addresses: %v", err)
	}
	switch st {
	case present:
		r.Log.Infof("%s is already on %s", t.prefix, t.link)
		return ocf.Success
	case dadFailed:
		ipaddr.Remove(t.link, t.prefix)
		return r.Fail(ocf.ErrGeneric, "%s is on %s but duplicate address detection failed: another node uses it", t.prefix, t.link)
	case elsewhere:
		return r.Fail(ocf.ErrGeneric, "%s is already configured as %s on %s; remove it or fix nic/cidr_netmask", c.ip, where.Prefix, where.Link)
	}

	err = ipaddr.Add(ipaddr.Spec{
		Link: t.link, Prefix: t.prefix, Label: t.label, Broadcast: t.brd,
		NoDAD: c.nodad, NoPrefixRoute: c.noprefix, PreferredLft: c.prefLft,
	})
	if err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return r.Fail(ocf.ErrPerm, "not allowed to add %s to %s: vip needs root (CAP_NET_ADMIN)", t.prefix, t.link)
		}
		return r.Fail(ocf.ErrGeneric, "adding %s to %s failed: %v", t.prefix, t.link, err)
	}
	r.Log.Infof("added %s to %s", t.prefix, t.link)

	if c.ip.Is6() && !c.nodad {
		if err := ipaddr.WaitDAD(ctx, t.link, c.ip); err != nil {
			ipaddr.Remove(t.link, t.prefix) // no half-done start
			if errors.Is(err, ipaddr.ErrDuplicate) {
				return r.Fail(ocf.ErrGeneric, "%s: duplicate address detection failed on %s: another node uses this address", c.ip, t.link)
			}
			if errors.Is(err, context.DeadlineExceeded) {
				return r.Fail(ocf.ErrGeneric, "duplicate address detection for %s on %s did not finish in time (no carrier?)", c.ip, t.link)
			}
			return r.Fail(ocf.ErrGeneric, "waiting for duplicate address detection of %s: %v", c.ip, err)
		}
	}

	if c.arpCount > 0 {
		if c.arpBG {
			r.StopHelper(helperAnnounce) // an earlier series must not overlap
			_, err := r.Spawn(helperAnnounce, t.link, c.ip.String(), strconv.Itoa(c.arpCount),
				strconv.Itoa(int(c.arpInterval/time.Millisecond)), string(c.arpMode))
			if err != nil {
				r.Log.Warnf("cannot start background announcements, sending them now: %v", err)
				sendAnnouncements(ctx, r, t, c, c.arpCount)
			}
		} else {
			sendAnnouncements(ctx, r, t, c, c.arpCount)
		}
	}
	return ocf.Success
}

// sendAnnouncements never fails the action: the address is up, and a
// neighbour that misses the announcement learns it by ARP/ND anyway.
func sendAnnouncements(ctx context.Context, r *ocf.Request, t target, c config, count int) {
	n, err := announce.Send(ctx, announce.Plan{
		Interface: t.link, Addr: c.ip, Count: count, Interval: c.arpInterval, Mode: c.arpMode,
	})
	switch {
	case errors.Is(err, announce.ErrNoHardwareAddr):
		r.Log.Debugf("%s has no link-layer address; nothing to announce", t.link)
	case err != nil:
		r.Log.Warnf("sent %d of %d announcements of %s on %s: %v", n, count, c.ip, t.link, err)
	default:
		r.Log.Debugf("sent %d announcements of %s on %s", n, c.ip, t.link)
	}
}

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

func stop(_ context.Context, r *ocf.Request) ocf.Status {
	c, _ := parseConfig(r)
	r.StopHelper(helperAnnounce)
	found, err := ipaddr.Find(c.ip)
	if err != nil {
		return r.Fail(ocf.ErrGeneric, "cannot read addresses: %v", err)
	}
	for _, a := range found {
		if c.nic != "" && a.Link != c.nic {
			continue // the same address on another interface is not ours
		}
		if err := ipaddr.Remove(a.Link, a.Prefix); err != nil {
			if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
				return r.Fail(ocf.ErrPerm, "not allowed to remove %s from %s: vip needs root (CAP_NET_ADMIN)", a.Prefix, a.Link)
			}
			return r.Fail(ocf.ErrGeneric, "removing %s from %s failed: %v", a.Prefix, a.Link, err)
		}
		r.Log.Infof("removed %s from %s", a.Prefix, a.Link)
	}
	// Success only when it is really gone.
	found, err = ipaddr.Find(c.ip)
	if err != nil {
		return r.Fail(ocf.ErrGeneric, "cannot read addresses: %v", err)
	}
	for _, a := range found {
		if c.nic == "" || a.Link == c.nic {
			return r.Fail(ocf.ErrGeneric, "%s is still on %s after removal", a.Prefix, a.Link)
		}
	}
	return ocf.Success
}

func monitor(ctx context.Context, r *ocf.Request) ocf.Status {
	c, _ := parseConfig(r)
	if c.nic != "" {
		ok, err := ipaddr.LinkExists(c.nic)
		if err != nil {
			return r.Fail(ocf.ErrGeneric, "cannot look up interface %s: %v", c.nic, err)
		}
		if !ok {
			return r.Fail(ocf.NotRunning, "interface %s does not exist", c.nic)
		}
	}
	t, s := resolve(r, c)
	if s != ocf.Success {
		// Without an interface or route for it, the address cannot be up.
		return r.Fail(ocf.NotRunning, "%s is not configured: no interface for it on this node", c.ip)
	}
	st, where, err := observe(t)
	if err != nil {
		return r.Fail(ocf.ErrGeneric, "cannot read addresses: %v", err)
	}
	switch st {
	case absent:
		return r.Fail(ocf.NotRunning, "%s is not on %s", t.prefix, t.link)
	case elsewhere:
		return r.Fail(ocf.NotRunning, "%s is not on %s (found %s on %s)", t.prefix, t.link, where.Prefix, where.Link)
	case dadFailed:
		return r.Fail(ocf.NotRunning, "%s on %s failed duplicate address detection: another node uses it", t.prefix, t.link)
	}
	if c.checkLink {
		up, err := ipaddr.LinkUp(t.link)
		if err != nil {
			return r.Fail(ocf.ErrGeneric, "cannot read the state of %s: %v", t.link, err)
		}
		if !up {
			return r.Fail(ocf.NotRunning, "%s is on %s but the link is down", t.prefix, t.link)
		}
	}
	if c.arpRefresh > 0 && c.ip.Is4() && !r.IsProbe() {
		sendAnnouncements(ctx, r, t, c, c.arpRefresh)
	}
	return ocf.Success
}
