package asterisk

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/gocf/gocf/pkg/ocf"
	"golang.org/x/sys/unix"
)

type config struct {
	binary, canary, confPath string
	user, group              string
	extra                    []string
	realtime                 bool
	maxfiles                 uint64
	sipURI                   string
	sipDepth                 int
	ariURL, ariUser          string
	ariPass, ariPassFile     string
	ctlSocket                string
	drain                    time.Duration
}

// Options the agent sets itself; given again in additional_parameters they
// would fight with it.
var ownedFlags = []string{"-f", "-F", "-c", "-r", "-R", "-x", "-C", "-U", "-G"}

func parseConfig(r *ocf.Request) (config, error) {
	p := r.Params
	c := config{
		binary: p.String("binary"), canary: p.String("canary_binary"), confPath: p.String("config"),
		user: p.String("user"), group: p.String("group"), extra: strings.Fields(p.String("additional_parameters")),
		realtime: p.Bool("realtime"), maxfiles: uint64(p.Int("maxfiles")), sipURI: strings.TrimSpace(p.String("monitor_sipuri")),
		sipDepth: int(p.Int("sip_check_depth")),
		ariURL:   strings.TrimSpace(p.String("ari_url")), ariUser: p.String("ari_username"),
		ariPass: p.String("ari_password"), ariPassFile: p.String("ari_password_file"),
		ctlSocket: p.String("ctl_socket"), drain: time.Duration(p.Int("call_drain_timeout")) * time.Second,
	}
	for _, f := range c.extra {
		for _, owned := range ownedFlags {
			if f == owned || (len(f) > 2 && strings.HasPrefix(f, owned) && !strings.HasPrefix(f, "--")) {
				return c, fmt.Errorf("parameter additional_parameters: %q is set by the agent (use config, user, group)", f)
			}
		}
	}
	if !filepath.IsAbs(c.confPath) {
		return c, fmt.Errorf("parameter config: %q is not an absolute path", c.confPath)
	}
	if c.ctlSocket != "" && !filepath.IsAbs(c.ctlSocket) {
		return c, fmt.Errorf("parameter ctl_socket: %q is not an absolute path", c.ctlSocket)
	}
	if c.sipURI != "" {
		var u sip.Uri
		if err := sip.ParseUri(c.sipURI, &u); err != nil || u.Host == "" {
			return c, fmt.Errorf("parameter monitor_sipuri: %q is not a SIP URI (sip:user@host:port)", c.sipURI)
		}
	}
	if c.ariURL != "" {
		u, err := url.Parse(c.ariURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return c, fmt.Errorf("parameter ari_url: %q is not an http(s) URL", redactURL(c.ariURL))
		}
		if c.ariUser == "" {
			return c, errors.New("parameter ari_username is required with ari_url")
		}
	}
	if c.ariPassFile != "" && !filepath.IsAbs(c.ariPassFile) {
		return c, fmt.Errorf("parameter ari_password_file: %q is not an absolute path", c.ariPassFile)
	}
	return c, nil
}

func check(r *ocf.Request) (any, error) { return parseConfig(r) }

// agent holds what the actions work with besides the request.
type agent struct {
	tools func() Tools
}

// node is the configuration resolved on this node.
type node struct {
	config
	bin      string // absolute path of the binary
	conf     *Conf
	uid, gid int
	t        Tools
}

func (n *node) ctl() Console { return n.t.Console(n.ctlPath()) }

func (n *node) ctlPath() string {
	if n.ctlSocket != "" {
		return n.ctlSocket
	}
	return n.conf.CtlSocket()
}

// resolve finds the binary, reads asterisk.conf and the accounts. Failures
// are node-local (ErrInstalled).
//
// Even on failure the node is usable to find a running instance: the
// binary's name and Asterisk's default paths stand in, so that stop never
// reports success while an Asterisk whose configuration became unreadable
// still runs.
func (a *agent) resolve(r *ocf.Request) (*node, ocf.Status) {
	c := ocf.Config[config](r)
	n := &node{config: c, bin: c.binary, conf: &Conf{Dirs: defaultDirs}, t: a.tools()}
	bin, err := exec.LookPath(c.binary)
	if err != nil {
		return n, r.Fail(ocf.ErrInstalled, "Asterisk binary %q not found on this node", c.binary)
	}
	n.bin = bin
	conf, err := LoadConf(c.confPath)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = fmt.Errorf("%s: %v", pe.Path, pe.Err)
		}
		return n, r.Fail(ocf.ErrInstalled, "cannot read Asterisk's configuration: %v", err)
	}
	n.conf = conf
	u, err := user.Lookup(c.user)
	if err != nil {
		return n, r.Fail(ocf.ErrInstalled, "user %q does not exist on this node", c.user)
	}
	g, err := user.LookupGroup(c.group)
	if err != nil {
		return n, r.Fail(ocf.ErrInstalled, "group %q does not exist on this node", c.group)
	}
	n.uid, _ = strconv.Atoi(u.Uid)
	n.gid, _ = strconv.Atoi(g.Gid)
	if c.realtime {
		if _, err := exec.LookPath(c.canary); err != nil {
			return n, r.Fail(ocf.ErrInstalled, "canary binary %q not found (realtime is set)", c.canary)
		}
	}
	if c.ariURL != "" && c.ariPass == "" && c.ariPassFile != "" {
		b, err := os.ReadFile(c.ariPassFile)
		if err != nil {
			return n, r.Fail(ocf.ErrInstalled, "cannot read ari_password_file: %v", err)
		}
		n.ariPass = strings.TrimRight(strings.SplitN(string(b), "\n", 2)[0], "\r")
	}
	return n, ocf.Success
}

func (a *agent) validate(_ context.Context, r *ocf.Request) ocf.Status {
	_, st := a.resolve(r)
	return st
}

// reload is reload-agent's work after validate-all's checks passed. The
// reloadable parameters change nothing in Asterisk: the SIP and ARI
// settings are read by the next monitor, call_drain_timeout by stop. Two
// of them say where the agent finds this instance, so a running Asterisk
// must be found there before they take over: its control socket must
// answer at ctl_socket, and in realtime mode its canary must run under
// canary_binary. Otherwise reload fails (1) and Pacemaker recovers the
// resource, rather than the next monitor or stop missing it.
func (a *agent) reload(ctx context.Context, r *ocf.Request) ocf.Status {
	n, st := a.resolve(r)
	if st != ocf.Success {
		return st
	}
	pid := n.running()
	if pid == 0 {
		return r.Fail(ocf.NotRunning, "Asterisk is not running")
	}
	if _, _, err := n.ctl().Command(ctx, "core show channels count"); err != nil {
		return r.Fail(ocf.ErrGeneric, "Asterisk (pid %d) does not answer on %s: %v", pid, n.ctlPath(), err)
	}
	if n.realtime && len(n.canaries()) == 0 {
		return r.Fail(ocf.ErrGeneric, "Asterisk (pid %d) runs in realtime mode but no canary %s of it runs", pid, n.canary)
	}
	r.Log.Infof("Asterisk (pid %d) keeps running; the new monitor and stop settings apply from the next monitor and stop", pid)
	return ocf.Success
}

// bounded gives a sub-step at most d of what remains of ctx.
func bounded(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d)
}

// halfLeft is half of the time ctx has left (10 s without a deadline).
func halfLeft(ctx context.Context) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return time.Until(dl) / 2
	}
	return 10 * time.Second
}

// running returns the pid of this instance's Asterisk, or 0.
func (n *node) running() int { return n.t.Proc.Running(n.conf.RunDir(), n.bin) }

func (n *node) canaries() []int { return n.t.Proc.Canaries(n.conf.RunDir(), n.canary) }

func (a *agent) start(ctx context.Context, r *ocf.Request) ocf.Status {
	n, st := a.resolve(r)
	if st != ocf.Success {
		return st
	}
	if pid := n.running(); pid != 0 {
		r.Log.Infof("Asterisk is already running (pid %d)", pid)
		return n.ready(ctx, r, pid, nil, nil)
	}
	for _, pid := range n.canaries() {
		n.t.Proc.Signal(pid, unix.SIGKILL) // a stale canary of this instance
	}
	for _, dir := range []string{n.conf.RunDir(), n.conf.LogDir(), filepath.Join(n.conf.LogDir(), "cdr-csv"), filepath.Join(n.conf.LogDir(), "cdr-custom")} {
		if err := ownedDir(dir, n.uid, n.gid); err != nil {
			return r.Fail(ocf.ErrPerm, "cannot prepare Asterisk's directories: %v", err)
		}
	}
	// Watch for the control socket before Asterisk can create it.
	created, stopWatch, err := watchCreate(n.ctlPath())
	if err != nil {
		return r.Fail(ocf.ErrGeneric, "cannot watch %s: %v", filepath.Dir(n.ctlPath()), err)
	}
	defer stopWatch()

	args := []string{"-f", "-U", n.user, "-G", n.group, "-C", n.confPath}
	args = append(args, n.extra...)
	if n.realtime {
		args = append(args, "-p")
	}
	pid, exited, err := n.t.Proc.Start(n.bin, args, n.maxfiles)
	if errors.Is(err, os.ErrPermission) {
		return r.Fail(ocf.ErrPerm, "cannot start %s: %v", n.bin, err)
	}
	if err != nil {
		return r.Fail(ocf.ErrGeneric, "cannot start %s: %v", n.bin, err)
	}
	r.Log.Infof("started %s (pid %d)", n.bin, pid)
	return n.ready(ctx, r, pid, created, exited)
}

// ready waits until Asterisk pid says it is fully booted: the control
// socket appearing is an inotify event, "core waitfullybooted" answers when
// booting is over; no fixed polling interval. exited reports an early death.
func (n *node) ready(ctx context.Context, r *ocf.Request, pid int, created <-chan struct{}, exited <-chan Exit) ocf.Status {
	died := func(e Exit) ocf.Status {
		return r.Fail(ocf.ErrGeneric, "Asterisk %s while starting; see %s", e, filepath.Join(n.conf.LogDir(), "messages"))
	}
	ctl := n.ctl()
	for {
		_, out, err := ctl.Command(ctx, "core waitfullybooted")
		if err == nil && strings.Contains(out, "fully booted") {
			break
		}
		if ctx.Err() != nil {
			return r.Fail(ocf.ErrGeneric, "Asterisk (pid %d) was not fully booted within the start timeout", pid)
		}
		// Not there yet: wait for the socket to be (re)created, or for
		// Asterisk to die, instead of retrying blindly.
		select {
		case <-created:
			created = nil
		case e := <-exited:
			return died(e)
		case <-ctx.Done():
		case <-time.After(time.Second): // a socket created before the watch
		}
	}
	if n.sipURI != "" {
		// Until an answer that says the SIP stack takes calls: none, or
		// one that cannot (5xx, see SIPAnswer.TakesCalls), is waited out.
		var last *SIPAnswer
		for {
			sctx, cancel := bounded(ctx, 2*time.Second)
			ans, err := n.t.SIP(sctx, n.sipURI)
			cancel()
			if err == nil && ans.TakesCalls() {
				break
			}
			if err == nil {
				last = &ans
			}
			select {
			case e := <-exited:
				return died(e)
			case <-ctx.Done():
				if last != nil {
					return r.Fail(ocf.ErrGeneric, "SIP cannot take calls at the start timeout: %s answered %s", n.sipURI, last.Status())
				}
				return r.Fail(ocf.ErrGeneric, "Asterisk booted but %s did not answer SIP OPTIONS within the start timeout", n.sipURI)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	r.Log.Infof("Asterisk (pid %d) is fully booted", pid)
	return ocf.Success
}

// watchCreate reports, once, the creation of path (inotify on its
// directory); the returned func stops watching.
func watchCreate(path string) (<-chan struct{}, func(), error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		return nil, nil, err
	}
	if _, err := unix.InotifyAddWatch(fd, filepath.Dir(path), unix.IN_CREATE|unix.IN_MOVED_TO); err != nil {
		unix.Close(fd)
		return nil, nil, err
	}
	ch := make(chan struct{})
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := unix.Read(fd, buf)
			if err != nil || n <= 0 {
				return
			}
			for off := 0; off+unix.SizeofInotifyEvent <= n; {
				ev := (*unix.InotifyEvent)(unsafePointer(buf[off:]))
				name := strings.TrimRight(string(buf[off+unix.SizeofInotifyEvent:off+unix.SizeofInotifyEvent+int(ev.Len)]), "\x00")
				if name == filepath.Base(path) {
					close(ch)
					return
				}
				off += unix.SizeofInotifyEvent + int(ev.Len)
			}
		}
	}()
	return ch, func() { unix.Close(fd) }, nil
}

func (a *agent) monitor(ctx context.Context, r *ocf.Request) ocf.Status {
	n, st := a.resolve(r)
	pid := n.running()
	if pid == 0 {
		// Also the answer when the configuration lives on storage that
		// is not mounted here yet.
		return r.Fail(ocf.NotRunning, "Asterisk is not running")
	}
	if st != ocf.Success {
		return st // running, but this node cannot reach its configuration
	}
	if n.t.Proc.Stopped(pid) {
		// SIGSTOP, a debugger, a job-control stop: certain, and worth not
		// waiting out the timeout for. Stop continues it before TERM.
		return r.Fail(ocf.ErrGeneric, "Asterisk (pid %d) is stopped (SIGSTOP or a tracer): it answers nothing until continued", pid)
	}
	// A hung (deadlocked) Asterisk is declared so after half of the time
	// left, not at the timeout, so that the failure comes with its reason.
	wait := halfLeft(ctx)
	cctx, cancel := context.WithTimeout(ctx, wait)
	b, out, err := n.ctl().Command(cctx, "core show channels count")
	cancel()
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return r.Fail(ocf.ErrGeneric, "Asterisk (pid %d) is hung: no answer on its control socket within %v (half the monitor's timeout)", pid, wait.Round(100*time.Millisecond))
	}
	if err != nil {
		return r.Fail(ocf.ErrGeneric, "Asterisk (pid %d) does not answer on its control socket: %v", pid, err)
	}
	ch, err := parseChannels(out)
	if err != nil {
		return r.Fail(ocf.ErrGeneric, "Asterisk (pid %d) gave an unexpected answer: %.60q", pid, out)
	}
	r.Log.Debugf("Asterisk (pid %d): %d active channels, %d active calls", pid, ch.Channels, ch.Calls)
	if b.PID != pid {
		r.Log.Warnf("the control socket is answered by pid %d, the pid file says %d", b.PID, pid)
	}
	if n.realtime && len(n.canaries()) == 0 {
		return r.Fail(ocf.ErrGeneric, "Asterisk runs in realtime mode but its canary does not")
	}
	status := ocf.Success
	if r.Depth >= 10 && n.ariURL != "" {
		if _, err := n.t.ARI(ctx, n.ariURL, n.ariUser, n.ariPass); err != nil {
			// Calls still work; applications on ARI do not.
			status = r.Fail(ocf.Degraded, "Asterisk takes calls but its REST interface fails: %v", err)
		}
	}
	if r.Depth >= n.sipDepth && n.sipURI != "" {
		ans, err := n.t.SIP(ctx, n.sipURI)
		if err != nil {
			return r.Fail(ocf.ErrGeneric, "no SIP answer from %s: %v", n.sipURI, err)
		}
		if !ans.TakesCalls() {
			// The process and its control socket live, its SIP stack
			// does not: a restart, or else a move, is the cure.
			return r.Fail(ocf.ErrGeneric, "SIP cannot take calls: %s answered OPTIONS with %s", n.sipURI, ans.Status())
		}
		r.Log.Debugf("SIP OPTIONS %s: %s", n.sipURI, ans.Status())
	}
	return status
}

func (a *agent) stop(ctx context.Context, r *ocf.Request) ocf.Status {
	n, st := a.resolve(r)
	if st != ocf.Success {
		r.Log.Warnf("looking for Asterisk by its default paths")
	}
	pid := n.running()
	if pid != 0 {
		n.terminate(ctx, r, pid)
	}
	for _, c := range n.canaries() {
		n.t.Proc.Signal(c, unix.SIGKILL)
	}
	if pid != 0 && n.t.Proc.Alive(pid, n.bin) {
		return r.Fail(ocf.ErrGeneric, "Asterisk (pid %d) is still running after TERM and KILL", pid)
	}
	// A pid file that survived its process would mislead the next probe.
	os.Remove(filepath.Join(n.conf.RunDir(), "asterisk.pid"))
	return ocf.Success
}

// terminate stops Asterisk as gently as the time allows: drain calls, core
// stop now, TERM, KILL. Each step gets part of what remains of ctx, keeping
// enough for the next.
func (n *node) terminate(ctx context.Context, r *ocf.Request, pid int) {
	ctl := n.ctl()
	remaining := func() time.Duration {
		dl, ok := ctx.Deadline()
		if !ok {
			return 20 * time.Second
		}
		return time.Until(dl)
	}
	wait := func(d time.Duration) bool {
		wctx, cancel := bounded(ctx, d)
		defer cancel()
		return n.t.Proc.Wait(wctx, pid, n.bin) == nil
	}
	answering := true
	if n.drain > 0 {
		cctx, cancel := bounded(ctx, time.Second)
		_, out, err := ctl.Command(cctx, "core show channels count")
		cancel()
		if ch, perr := parseChannels(out); err == nil && perr == nil && ch.Calls >= 0 {
			r.Log.Infof("Asterisk has %d active calls", ch.Calls)
		}
		sctx, cancel := bounded(ctx, time.Second)
		_, err = ctl.Send(sctx, "core stop gracefully")
		cancel()
		answering = err == nil
		if answering {
			r.Log.Infof("Asterisk refuses new calls; waiting up to %s for active calls to end", n.drain)
			if wait(min(n.drain, remaining()/2)) {
				r.Log.Infof("Asterisk stopped after its calls ended")
				return
			}
		}
	}
	if answering {
		sctx, cancel := bounded(ctx, time.Second)
		_, err := ctl.Send(sctx, "core stop now")
		cancel()
		if err == nil && wait(min(10*time.Second, remaining()/2)) {
			r.Log.Infof("Asterisk stopped")
			return
		}
	}
	// A frozen Asterisk gets CONT so it can act on TERM.
	n.t.Proc.Signal(pid, syscall.SIGTERM)
	n.t.Proc.Signal(pid, syscall.SIGCONT)
	if wait(min(5*time.Second, remaining()/2)) {
		r.Log.Warnf("Asterisk stopped on SIGTERM")
		return
	}
	// What remains of this instance is its session (started with setsid).
	n.t.Proc.KillSession(pid)
	wait(remaining())
	r.Log.Warnf("Asterisk killed")
}
