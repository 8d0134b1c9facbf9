package testbed

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Fencing in ns mode: a power switch of the test bed. `fence_testbed serve` (the same binary as
// the fence agent, built from tests/testbed/cmd/fence_testbed at every ns-mode up) runs on the
// host, tracked in the state like qnetd, and listens on DataDir/fence/fence.sock; that
// directory is bind-mounted into every node at /run/gtb-fence, and the agent is installed as
// /usr/sbin/fence_testbed. The cluster has `primitive fence-bed stonith:fence_testbed` and
// stonith-enabled=true from its first start (node/init.sh).
//
// off is the bed's PowerOff; reboot is PowerOff, then a boot; on is a boot. A node that is
// already off (the bed powered it off: a power loss) stays off on reboot, as a machine
// without power does: the test that powered it off boots it.

// FenceSocketInNode is where the agent finds the bed's power switch inside a node.
const FenceSocketInNode = "/run/gtb-fence/fence.sock"

// FenceDevice is the stonith primitive's id the bed configures in ns mode.
const FenceDevice = "fence-bed"

func (b *Bed) fenceDir() string { return filepath.Join(b.st.DataDir, "fence") }

// FenceLogPath is the host's log of every request to the bed's power switch.
func (b *Bed) FenceLogPath() string { return filepath.Join(b.st.DataDir, "fence.log") }

// moduleRoot finds the gocf module: from the working directory up, else from this file.
func moduleRoot() (string, error) {
	isRoot := func(d string) bool {
		data, err := os.ReadFile(filepath.Join(d, "go.mod"))
		return err == nil && strings.HasPrefix(string(data), "module github.com/gocf/gocf\n")
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			if isRoot(d) {
				return d, nil
			}
			if d == filepath.Dir(d) {
				break
			}
		}
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		if d := filepath.Dir(filepath.Dir(filepath.Dir(file))); isRoot(d) {
			return d, nil
		}
	}
	return "", errors.New("the gocf module is not found from here: run from the repository, or set GOCF_FENCE_TESTBED to a built fence_testbed")
}

// buildFenceAgent builds fence_testbed (static) to dst, or copies $GOCF_FENCE_TESTBED.
func buildFenceAgent(dst string) error {
	if p := os.Getenv("GOCF_FENCE_TESTBED"); p != "" {
		_, err := run(30*time.Second, "install", "-m", "0755", p, dst)
		return err
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = "/usr/local/go/bin/go" // where this project's hosts have it (README)
	}
	cmd := exec.Command(goBin, "build", "-trimpath", "-o", dst, "./tests/testbed/cmd/fence_testbed")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	done := make(chan struct{})
	timer := time.AfterFunc(5*time.Minute, func() {
		select {
		case <-done:
		default:
			if cmd.Process != nil {
				_ = cmd.Process.Kill()
			}
		}
	})
	defer timer.Stop()
	out, err := cmd.CombinedOutput()
	close(done)
	if err != nil {
		return fmt.Errorf("building fence_testbed: %v: %s", err, out)
	}
	return nil
}

// startFencer builds the agent and starts the power switch server.
func (b *Bed) startFencer() error {
	if err := os.MkdirAll(b.fenceDir(), 0o700); err != nil {
		return err
	}
	bin := filepath.Join(b.st.DataDir, "fence_testbed")
	t0 := time.Now()
	if err := buildFenceAgent(bin); err != nil {
		return err
	}
	sock := filepath.Join(b.fenceDir(), "fence.sock")
	p, logName, err := b.startDaemon("fence-server.out", func(p *Proc) { b.st.Fencer = p },
		bin, "serve", "--state", b.cfg.StateDir, "--data", b.cfg.DataDir, "--cache", b.cfg.CacheDir,
		"--socket", sock, "--log", b.FenceLogPath())
	if err != nil {
		return err
	}
	if !Poll(10*time.Second, 50*time.Millisecond, func() bool {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
		}
		return err == nil
	}) {
		return fmt.Errorf("fence_testbed serve does not listen on %s (see %s)", sock, logName)
	}
	b.logf("fence_testbed serve pid %d on %s (built in %.1fs)", p.PID, sock, time.Since(t0).Seconds())
	return nil
}

func (b *Bed) stopFencer() { b.stopDaemon(b.st.Fencer, "fence_testbed serve") }

// FenceEvent is one request to the bed's power switch, from the fence log.
type FenceEvent struct {
	Time   time.Time
	By     string // the node whose fence agent asked
	Action string // off, on, reboot
	Node   string // the victim
	Result string // "off", "off; booted", "already off", "refused: ..."
}

// FenceLog returns the destructive requests (off, on, reboot) the power switch served.
func (b *Bed) FenceLog() []FenceEvent {
	data, err := os.ReadFile(b.FenceLogPath())
	if err != nil {
		return nil
	}
	var evs []FenceEvent
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.SplitN(l, " ", 5)
		if len(f) < 5 || (f[2] != "off" && f[2] != "on" && f[2] != "reboot") {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, f[0])
		if err != nil {
			continue
		}
		evs = append(evs, FenceEvent{Time: t, By: f[1], Action: f[2], Node: f[3], Result: f[4]})
	}
	return evs
}

// FencedSince returns the events at or after t.
func (b *Bed) FencedSince(t time.Time) []FenceEvent {
	var out []FenceEvent
	for _, e := range b.FenceLog() {
		if !e.Time.Before(t) {
			out = append(out, e)
		}
	}
	return out
}

func (e FenceEvent) String() string {
	return fmt.Sprintf("%s %s %s by %s: %s", e.Time.Format("15:04:05.000"), e.Action, e.Node, e.By, e.Result)
}

// ServeFence is the power switch server (fence_testbed serve): it runs until killed.
func ServeFence(cfg Config, socket, logPath string) error {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cfg.Log = logf
	b, err := New(cfg)
	if err != nil {
		return err
	}
	if b.st.Mode != "ns" {
		return errors.New("no ns-mode test bed is up")
	}
	_ = os.Remove(socket)
	l, err := net.Listen("unix", socket)
	if err != nil {
		return err
	}
	defer l.Close()
	if err := os.Chmod(socket, 0o600); err != nil {
		return err
	}
	s := &fenceServer{b: b, log: logf}
	for {
		c, err := l.Accept()
		if err != nil {
			return err
		}
		go s.handle(c)
	}
}

type fenceServer struct {
	mu  sync.Mutex // one power action at a time; the log too
	b   *Bed
	log io.Writer
}

func (s *fenceServer) record(by, action, node, result string) {
	fmt.Fprintf(s.log, "%s %s %s %s %s\n", time.Now().UTC().Format(time.RFC3339Nano), by, action, node, result)
}

// requester names the node a connected agent runs on (by its PID namespace) and tells
// whether that process is still alive.
func (s *fenceServer) requester(c net.Conn) (name string, pid int) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return "?", 0
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return "?", 0
	}
	var cred *syscall.Ucred
	_ = raw.Control(func(fd uintptr) { cred, _ = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED) })
	if cred == nil {
		return "?", 0
	}
	pid = int(cred.Pid)
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
	if err != nil {
		return "?", pid
	}
	for _, n := range s.b.st.Nodes {
		if p := s.b.st.Init[n]; p.Alive() {
			if x, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", p.PID)); err == nil && x == ns {
				return n, pid
			}
		}
	}
	return "host", pid
}

func (s *fenceServer) handle(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	line, err := bufio.NewReader(io.LimitReader(c, 4096)).ReadString('\n')
	if err != nil {
		return
	}
	f := strings.Fields(line)
	if len(f) == 0 {
		return
	}
	action, plug := f[0], ""
	if len(f) > 1 {
		plug = f[1]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.b
	b.refresh()
	by, pid := s.requester(c)
	reply := func(format string, args ...any) { fmt.Fprintf(c, format+"\n", args...) }
	switch action {
	case "monitor":
		reply("OK")
		return
	case "list", "list-status":
		var parts []string
		nodes := b.Nodes()
		sort.Strings(nodes)
		for _, n := range nodes {
			st := "off"
			if b.Running(n) {
				st = "on"
			}
			parts = append(parts, n+":"+st)
		}
		reply("OK %s", strings.Join(parts, " "))
		return
	}
	n, err := b.NodeName(plug)
	if err != nil {
		reply("ERR %v", err)
		s.record(by, action, plug, "refused: no such node")
		return
	}
	switch action {
	case "status":
		if b.Running(n) {
			reply("OK on")
		} else {
			reply("OK off")
		}
	case "off", "reboot":
		// A request of an agent whose node was powered off meanwhile (both nodes fenced each
		// other at once) never reaches a real switch: refuse it.
		if pid > 0 && by != "host" {
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
				reply("ERR the requesting node is gone")
				s.record(by, action, n, "refused: the requesting node is gone")
				return
			}
		}
		if !b.Running(n) {
			reply("OK")
			s.record(by, action, n, "already off")
			return
		}
		t0 := time.Now()
		if err := b.PowerOff(n); err != nil {
			reply("ERR %v", err)
			s.record(by, action, n, "refused: "+err.Error())
			return
		}
		res := fmt.Sprintf("off (%.2fs)", time.Since(t0).Seconds())
		reply("OK")
		s.record(by, action, n, res)
		if action == "off" {
			return
		}
		// the victim is off and that is confirmed: power it on again
		if err := b.nsBoot(n); err != nil {
			s.record(by, "boot", n, "failed: "+err.Error())
			return
		}
		s.record(by, "boot", n, "booted")
	case "on":
		if b.Running(n) {
			reply("OK")
			s.record(by, action, n, "already on")
			return
		}
		if err := b.nsBoot(n); err != nil {
			reply("ERR %v", err)
			s.record(by, action, n, "boot failed: "+err.Error())
			return
		}
		reply("OK")
		s.record(by, action, n, "booted")
	default:
		reply("ERR unknown action %q", action)
	}
}

// sbdDevice is the fence device of the crm examples (fence_sbd on a shared disk), which ns
// nodes cannot run: the bed's own device replaces it there.
const sbdDevice = "fence-sbd"

// WithBedFencing returns a crm configuration for an ns-mode bed: the statements that define
// or refer to the examples' fence-sbd device (its primitive, its constraints) are dropped, and
// so is a stonith-watchdog-timeout (there is no sbd in a namespace node), since the bed's
// fence-bed device is configured already. A configuration without them is returned as is.
func WithBedFencing(crm string) string { return dropFencing(crm, "stonith-watchdog-timeout") }

// dropFencing drops the statements about fence-sbd and the named cluster properties.
func dropFencing(crm string, props ...string) string {
	var out []string
	lines := strings.Split(crm, "\n")
	for i := 0; i < len(lines); i++ {
		// a statement and its continuation lines (ending in a backslash)
		j := i
		for j < len(lines)-1 && strings.HasSuffix(strings.TrimRight(lines[j], " \t"), `\`) {
			j++
		}
		stmt := lines[i : j+1]
		i = j
		words := strings.Fields(strings.NewReplacer(`\`, " ", ":", " ", "=", " ", `"`, " ", "(", " ", ")", " ").Replace(strings.Join(stmt, " ")))
		if len(words) > 0 && !strings.HasPrefix(words[0], "#") && contains(words, sbdDevice) {
			continue
		}
		var kept []string
		for _, l := range stmt {
			dropped := false
			for _, p := range props {
				re := regexp.MustCompile(`\s*\b` + regexp.QuoteMeta(p) + `=("[^"]*"|\S+)`)
				if re.MatchString(l) {
					l, dropped = re.ReplaceAllString(l, ""), true
				}
			}
			if dropped && strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(l), `\`)) == "" {
				continue
			}
			kept = append(kept, l)
		}
		// a property statement left with no value
		if len(kept) > 0 && len(kept) < len(stmt) {
			last := strings.TrimRight(kept[len(kept)-1], " \t")
			kept[len(kept)-1] = strings.TrimSuffix(last, `\`)
			if f := strings.Fields(strings.Join(kept, " ")); len(f) <= 2 && len(f) > 0 && f[0] == "property" {
				continue
			}
		}
		out = append(out, kept...)
	}
	return strings.Join(out, "\n")
}
