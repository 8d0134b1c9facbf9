package testbed

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ns mode: each node is a process tree in its own network (gtb-nN), mount, UTS, IPC and PID
// namespaces. Its root is an overlay: the image rootfs below, DataDir/nN/upper above.

func killPID(pid, sig int) error { return syscall.Kill(pid, syscall.Signal(sig)) }

var nodeEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"HOME=/root", "LC_ALL=C.UTF-8", "TERM=dumb"}

func (b *Bed) nodeDir(n string) string { return filepath.Join(b.st.DataDir, n) }

func (b *Bed) nsUp() error {
	if b.cfg.SharedDisk {
		if err := b.makeSharedDisk(); err != nil {
			return err
		}
	}
	for _, n := range b.st.Nodes {
		if err := b.nsPrepare(n); err != nil {
			return err
		}
	}
	for _, n := range b.st.Nodes {
		if err := b.nsStart(n); err != nil {
			return err
		}
	}
	return nil
}

// makeSharedDisk: an ext4 file system on a loop device (shared storage for Filesystem).
func (b *Bed) makeSharedDisk() error {
	f := filepath.Join(b.st.DataDir, "shared.img")
	if _, err := run(30*time.Second, "truncate", "-s", "128M", f); err != nil {
		return err
	}
	if _, err := run(60*time.Second, "mkfs.ext4", "-q", "-F", "-L", "pbxdata", f); err != nil {
		return err
	}
	out, err := run(30*time.Second, "losetup", "--find", "--show", f)
	if err != nil {
		return err
	}
	b.st.Loop = strings.TrimSpace(out)
	return b.save()
}

// SharedDisk returns the loop device of the shared disk ("" if none).
func (b *Bed) SharedDisk() string { return b.st.Loop }

// nsPrepare writes the node's upper layer: init scripts, corosync.conf, agents, Asterisk.
func (b *Bed) nsPrepare(n string) error {
	d := b.nodeDir(n)
	_ = safeRemoveAll(d)
	up := filepath.Join(d, "upper")
	for _, p := range []string{filepath.Join(d, "work"), filepath.Join(d, "merged"), filepath.Join(up, "etc/gtb"),
		filepath.Join(up, "usr/local/sbin"), filepath.Join(up, "etc/corosync")} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			return err
		}
	}
	// fencing from the first start: the bed's power switch (fence.go)
	env := fmt.Sprintf("DC_DEADTIME=2s\nFENCE_DEVICE=%s\nFENCE_HOSTS=%q\n", FenceDevice, strings.Join(b.st.Nodes, " "))
	files := map[string]string{
		"usr/local/sbin/gtb-init":    mustNode("node/init.sh"),
		"usr/local/sbin/systemctl":   mustNode("node/systemctl"),
		"etc/gtb/node.env":           env,
		"etc/corosync/corosync.conf": b.corosyncConf(),
		"etc/hostname":               n + "\n",
	}
	if b.st.Asterisk {
		if err := os.MkdirAll(filepath.Join(up, "etc/asterisk"), 0o755); err != nil {
			return err
		}
		for f, c := range asteriskFiles {
			files["etc/asterisk/"+f] = c
		}
	}
	for p, c := range files {
		if err := os.WriteFile(filepath.Join(up, p), []byte(c), 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(d, "outer.sh"), []byte(mustNode("node/outer.sh")), 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(up, "usr/sbin"), 0o755); err != nil {
		return err
	}
	if _, err := run(30*time.Second, "install", "-m", "0755", filepath.Join(b.st.DataDir, "fence_testbed"),
		filepath.Join(up, "usr/sbin/fence_testbed")); err != nil {
		return err
	}
	if b.st.Agents != "" {
		dst := filepath.Join(up, "usr/lib/ocf/resource.d/gocf")
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return err
		}
		if _, err := run(60*time.Second, "cp", "-a", b.st.Agents+"/.", dst+"/"); err != nil {
			return err
		}
	}
	return nil
}

func mustNode(name string) string {
	data, err := nodeFS.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return string(data)
}

// nsStart starts the node's namespaces and init; it does not wait for the cluster.
func (b *Bed) nsStart(n string) error {
	d := b.nodeDir(n)
	logf, err := os.Create(filepath.Join(d, "init.out"))
	if err != nil {
		return err
	}
	defer logf.Close()
	argv := []string{"--net=/run/netns/" + nodeNS(n), "unshare", "--mount", "--uts", "--ipc", "--pid", "--fork",
		"--propagation", "private", "/bin/bash", filepath.Join(d, "outer.sh"), n,
		filepath.Join(b.st.ImageDir, "rootfs"), filepath.Join(d, "upper"), filepath.Join(d, "work"), filepath.Join(d, "merged")}
	if b.st.Loop != "" {
		argv = append(argv, b.st.Loop)
	}
	cmd := exec.Command("nsenter", argv...)
	cmd.Env = append(os.Environ(), "GTB_FENCE_DIR="+b.fenceDir())
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	outer := newProc(cmd.Process.Pid)
	go func() { _ = cmd.Wait() }() // reap it if it ends while we are still running
	// nsenter execs unshare, which forks the node's PID 1
	var init Proc
	Poll(10*time.Second, 20*time.Millisecond, func() bool {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", outer.PID, outer.PID))
		if err != nil {
			return false
		}
		f := strings.Fields(string(data))
		if len(f) == 0 {
			return false
		}
		pid, _ := strconv.Atoi(f[0])
		init = newProc(pid)
		return true
	})
	if init.PID == 0 {
		outer.Signal(int(syscall.SIGKILL))
		return fmt.Errorf("node %s: no init process (see %s)", n, logf.Name())
	}
	b.st.Outer[n], b.st.Init[n] = outer, init
	if err := b.save(); err != nil {
		return err
	}
	// the init has pivoted into the rootfs and started the cluster stack
	if !Poll(20*time.Second, 50*time.Millisecond, func() bool {
		_, err := os.Stat(fmt.Sprintf("/proc/%d/root/run/gtb-started", init.PID))
		return err == nil
	}) {
		out, _ := os.ReadFile(logf.Name())
		return fmt.Errorf("node %s did not start within 20s: %s", n, out)
	}
	b.logf("node %s started (init pid %d)", n, init.PID)
	return nil
}

// nsStop stops node n: clean (SIGTERM to its init: pacemaker, then corosync) with a bounded
// wait, then SIGKILL of its PID namespace. fast skips the clean part.
func (b *Bed) nsStop(n string, fast bool) {
	init, outer := b.st.Init[n], b.st.Outer[n]
	if !fast && init.Alive() {
		init.Signal(int(syscall.SIGTERM))
		if !waitGone(150*time.Second, init) {
			b.logf("node %s: clean stop timed out, killing it", n)
		}
	}
	init.Signal(int(syscall.SIGKILL)) // kills every process of the PID namespace
	outer.Signal(int(syscall.SIGKILL))
	if !waitGone(10*time.Second, init, outer) {
		b.logf("node %s: processes %d/%d still alive", n, init.PID, outer.PID)
	}
	_ = ip("-n", nodeNS(n), "addr", "flush", "dev", NodeIface)
	_ = ip("-n", nodeNS(n), "addr", "flush", "dev", RingIface)
}

func (b *Bed) nsPowerOff(n string) error {
	if !b.Running(n) {
		return fmt.Errorf("node %s is not running", n)
	}
	// link down first (the NIC is gone at once), then all processes, then the kernel state
	_ = b.cut(n, LinkAll)
	b.st.Init[n].Signal(int(syscall.SIGKILL))
	b.unplugNode(n)
	b.st.Outer[n].Signal(int(syscall.SIGKILL))
	if !waitGone(10*time.Second, b.st.Init[n], b.st.Outer[n]) {
		return fmt.Errorf("node %s: processes still alive after SIGKILL", n)
	}
	return nil
}

func (b *Bed) nsBoot(n string) error {
	if _, err := run(5*time.Second, "ip", "-n", nodeNS(n), "link", "show", NodeIface); err != nil {
		if err := b.plugNode(n); err != nil {
			return err
		}
	} else {
		// after a clean shutdown: fresh addresses, links up
		for _, l := range [][3]string{{NodeIface, NodeIP(n), LinkLAN}, {RingIface, RingIP(n), LinkRing}} {
			_ = ip("-n", nodeNS(n), "addr", "flush", "dev", l[0])
			_ = ip("-n", nodeNS(n), "addr", "add", l[1]+"/24", "dev", l[0])
			_ = ip("-n", SwitchNS, "link", "set", b.port(n, l[2]), "up")
		}
	}
	// the writable layer survives (a disk); /run and /tmp are fresh tmpfs
	return b.nsStart(n)
}

func (b *Bed) nsExec(n string, timeout time.Duration, stdin []byte, argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	args := append([]string{"-t", strconv.Itoa(b.st.Init[n].PID), "-a"}, argv...)
	cmd := exec.CommandContext(ctx, "nsenter", args...)
	cmd.Env = nodeEnv
	cmd.WaitDelay = 2 * time.Second
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return string(out), fmt.Errorf("%s on %s: timed out after %v", strings.Join(argv, " "), n, timeout)
	}
	if err != nil {
		return string(out), fmt.Errorf("%s on %s: %w", strings.Join(argv, " "), n, err)
	}
	return string(out), nil
}

// NodeLog returns the last lines of a log file of node n (for failure reports).
func (b *Bed) NodeLog(n, path string, lines int) string {
	if b.st.Mode == "vm" {
		out, err := b.Exec(n, 30*time.Second, nil, "tail", "-n", strconv.Itoa(lines), "/"+path)
		if err != nil {
			return err.Error() + ": " + out
		}
		return out
	}
	f, err := os.Open(filepath.Join(b.nodeDir(n), "upper", path))
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var ring []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		ring = append(ring, sc.Text())
		if len(ring) > lines {
			ring = ring[1:]
		}
	}
	return strings.Join(ring, "\n")
}

// nodeLogs are the files SaveLogs keeps of every node.
var nodeLogs = []string{"var/log/pacemaker/pacemaker.log", "var/log/corosync/corosync.log", "var/log/corosync/qdevice.log", "var/log/gtb-init.log"}

// SaveLogs copies every node's cluster logs (and, in vm mode, its kernel
// log and console) to dir, so a failed test can be read after teardown.
func (b *Bed) SaveLogs(dir string) error {
	_ = os.RemoveAll(dir)
	for _, n := range b.st.Nodes {
		d := filepath.Join(dir, n)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		save := func(name, data string) { _ = os.WriteFile(filepath.Join(d, name), []byte(data), 0o644) }
		if b.st.Mode == "vm" {
			if data, err := os.ReadFile(filepath.Join(b.nodeDir(n), "console.log")); err == nil {
				save("console.log", string(data))
			}
			if !b.Running(n) {
				continue
			}
			out, _ := b.Exec(n, time.Minute, nil, "journalctl", "-b", "--no-pager", "-o", "short-precise")
			save("journal.log", out)
			for _, p := range nodeLogs {
				out, _ := b.Exec(n, time.Minute, nil, "cat", "/"+p)
				save(filepath.Base(p), out)
			}
			continue
		}
		for _, p := range nodeLogs {
			if data, err := os.ReadFile(filepath.Join(b.nodeDir(n), "upper", p)); err == nil {
				save(filepath.Base(p), string(data))
			}
		}
	}
	for _, f := range []string{"qnetd.log", "fence.log", "fence-server.out"} {
		if data, err := os.ReadFile(filepath.Join(b.st.DataDir, f)); err == nil {
			_ = os.WriteFile(filepath.Join(dir, f), data, 0o644)
		}
	}
	return nil
}
