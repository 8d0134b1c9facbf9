package testbed

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// vm mode: each node is a qemu VM (KVM when usable, TCG otherwise) booted from an overlay of
// the image's base.qcow2 with a second virtio disk (/dev/vdb, 256 MiB) for DRBD. qemu runs in
// namespace gtb-sw with a tap on the bridge. Commands go through a 9p share: the image's
// gtb-agent runs share/cmd/ID.sh and writes share/out/ID.out and ID.rc.

// Accel returns "kvm" when /dev/kvm is usable for a stock kernel (the CPU has vmx or svm),
// else "tcg". GTB_ACCEL overrides.
func Accel() string {
	if a := os.Getenv("GTB_ACCEL"); a != "" {
		return a
	}
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return "tcg"
	}
	f.Close()
	cpu, _ := os.ReadFile("/proc/cpuinfo")
	for _, w := range strings.Fields(string(cpu)) {
		if w == "vmx" || w == "svm" {
			return "kvm"
		}
	}
	return "tcg"
}

func (b *Bed) share(n string) string { return filepath.Join(b.nodeDir(n), "share") }

func (b *Bed) vmUp() error {
	if err := b.sbdCreateImage(); err != nil {
		return err
	}
	for _, n := range b.st.Nodes {
		if err := b.vmPrepare(n); err != nil {
			return err
		}
		if err := b.vmStart(n); err != nil {
			return err
		}
	}
	for _, n := range b.st.Nodes {
		if err := b.vmWaitReady(n, 600*time.Second); err != nil {
			return err
		}
	}
	if err := b.sbdInit(b.st.Nodes[0]); err != nil {
		return err
	}
	// start the cluster stack on all VMs at once (each start is slow under TCG)
	errs := make(chan error, len(b.st.Nodes))
	for _, n := range b.st.Nodes {
		go func(n string) { errs <- b.vmClusterStart(n) }(n)
	}
	var first error
	for range b.st.Nodes {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (b *Bed) vmPrepare(n string) error {
	d := b.nodeDir(n)
	s := b.share(n)
	for _, p := range []string{filepath.Join(s, "cmd"), filepath.Join(s, "out"), filepath.Join(s, "run")} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			return err
		}
	}
	if _, err := run(60*time.Second, "qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b",
		filepath.Join(b.st.ImageDir, "base.qcow2"), filepath.Join(d, "root.qcow2")); err != nil {
		return err
	}
	if _, err := run(10*time.Second, "truncate", "-s", "256M", filepath.Join(d, "drbd.raw")); err != nil {
		return err
	}
	env := fmt.Sprintf("NODE_NAME=%s\nNODE_IP=%s/24\n", n, NodeIP(n))
	if err := os.WriteFile(filepath.Join(s, "env"), []byte(env), 0o644); err != nil {
		return err
	}
	files := map[string]string{"corosync.conf": b.corosyncConf()}
	if b.st.Asterisk {
		for f, c := range asteriskFiles {
			files["asterisk-"+f] = c
		}
	}
	for f, c := range files {
		if err := os.WriteFile(filepath.Join(s, f), []byte(c), 0o644); err != nil {
			return err
		}
	}
	if err := b.vmCopyDRBD(s); err != nil {
		return err
	}
	if b.st.Agents != "" {
		if err := os.MkdirAll(filepath.Join(s, "agents"), 0o755); err != nil {
			return err
		}
		if _, err := run(60*time.Second, "cp", "-a", b.st.Agents+"/.", filepath.Join(s, "agents")+"/"); err != nil {
			return err
		}
	}
	return nil
}

func (b *Bed) vmStart(n string) error {
	d := b.nodeDir(n)
	s := b.share(n)
	// a fresh command channel for each boot
	for _, d := range []string{"cmd", "out", "run"} {
		_ = os.RemoveAll(filepath.Join(s, d))
		_ = os.MkdirAll(filepath.Join(s, d), 0o755)
	}
	accel := []string{"-accel", "kvm", "-cpu", "host"}
	if Accel() == "tcg" {
		accel = []string{"-accel", "tcg,tb-size=512", "-cpu", "max"}
	}
	mac := fmt.Sprintf("52:54:00:67:74:%02x", nodeIndex(n))
	ringMAC := fmt.Sprintf("52:54:00:67:75:%02x", nodeIndex(n))
	argv := []string{"--net=/run/netns/" + SwitchNS, "nice", "-n", "10", "qemu-system-x86_64",
		"-name", "gtb-" + n, "-machine", "q35", "-nodefaults", "-vga", "none"}
	argv = append(argv, accel...)
	argv = append(argv, "-smp", "1", "-m", "1024",
		"-kernel", filepath.Join(b.st.ImageDir, "vmlinuz"), "-initrd", filepath.Join(b.st.ImageDir, "initrd.img"),
		"-append", "root=/dev/vda rw console=ttyS0 net.ifnames=0 panic=-1 quiet",
		"-drive", "file="+filepath.Join(d, "root.qcow2")+",if=virtio,format=qcow2,cache=unsafe",
		"-drive", "file="+filepath.Join(d, "drbd.raw")+",if=virtio,format=raw,cache=writeback",
	)
	argv = append(argv, b.sbdQemuArgs()...)
	argv = append(argv,
		"-netdev", "tap,id=n0,ifname="+b.portName(n)+",script=no,downscript=no",
		"-device", "virtio-net-pci,netdev=n0,mac="+mac,
		"-netdev", "tap,id=n1,ifname="+b.port(n, LinkRing)+",script=no,downscript=no",
		"-device", "virtio-net-pci,netdev=n1,mac="+ringMAC,
		"-virtfs", "local,path="+s+",mount_tag=gtb,security_model=none,id=gtb",
		"-display", "none", "-serial", "file:"+filepath.Join(d, "console.log"),
		"-monitor", "none", "-qmp", "unix:"+filepath.Join(d, "qmp.sock")+",server=on,wait=off", "-no-reboot")
	_ = os.Remove(filepath.Join(d, "qmp.sock"))
	logf, err := os.Create(filepath.Join(d, "qemu.out"))
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command("nsenter", argv...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	// nsenter and nice exec, so the PID is qemu's once the exec chain is done
	time.Sleep(300 * time.Millisecond)
	b.st.Outer[n] = newProc(cmd.Process.Pid)
	b.logf("node %s: qemu pid %d (%s)", n, cmd.Process.Pid, Accel())
	return b.save()
}

func (b *Bed) vmWaitReady(n string, timeout time.Duration) error {
	f := filepath.Join(b.share(n), "out", "ready")
	t0 := time.Now()
	if !Poll(timeout, 200*time.Millisecond, func() bool {
		_, err := os.Stat(f)
		return err == nil || !b.st.Outer[n].Alive()
	}) || !b.st.Outer[n].Alive() {
		return fmt.Errorf("VM %s not ready within %v (console: %s)", n, timeout, filepath.Join(b.nodeDir(n), "console.log"))
	}
	b.logf("VM %s ready after %.1fs", n, time.Since(t0).Seconds())
	return nil
}

// vmClusterStart installs the cluster configuration and starts corosync and pacemaker (systemd).
func (b *Bed) vmClusterStart(n string) error {
	if err := b.vmDRBDInstall(n); err != nil {
		return err
	}
	// before Pacemaker starts: its DRBD agent attaches r0's disk at start
	if b.st.DMBacking {
		if err := b.vmDMBackingUp(n); err != nil {
			return err
		}
	}
	// eth1, the ring (the image's gtb-agent configures eth0 only; the second NIC comes up here)
	script := `set -e
for _ in $(seq 100); do [ -e /sys/class/net/` + RingIface + ` ] && break; sleep 0.1; done
ip link set ` + RingIface + ` up
ip addr replace ` + RingIP(n) + `/24 dev ` + RingIface + `
install -m 644 /gtb/corosync.conf /etc/corosync/corosync.conf
# DRBD's fence-peer handler where the package installs it
if [ -f /gtb/agents/drbd-fence ]; then install -D -m 755 /gtb/agents/drbd-fence /usr/lib/gocf/drbd-fence; fi
` + sbdNodeScript + `
# (not when /etc/asterisk has moved to the replicated file system)
if [ -f /gtb/asterisk-pjsip.conf ] && [ ! -L /etc/asterisk ]; then
  for f in /gtb/asterisk-*.conf; do
    install -o asterisk -g asterisk -m 640 "$f" /etc/asterisk/"${f#/gtb/asterisk-}"
  done
fi
C=/var/lib/pacemaker/cib/cib.xml
if [ ! -f $C ]; then
  cibadmin --empty > $C
` + vmCIBSeed() + `  CIB_file=$C crm_attribute -t crm_config -n dc-deadtime -v 5s
  chown hacluster:haclient $C; chmod 600 $C
fi
systemctl start corosync
if grep -q 'model: *net' /etc/corosync/corosync.conf; then systemctl start corosync-qdevice; fi
systemctl start pacemaker
`
	_, err := b.vmExec(n, 300*time.Second, nil, "/bin/bash", "-c", script)
	return err
}

var vmCmdSeq atomic.Int64

// shellQuote quotes argv for bash.
func shellQuote(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

func (b *Bed) vmExec(n string, timeout time.Duration, stdin []byte, argv ...string) (string, error) {
	s := b.share(n)
	id := fmt.Sprintf("%d-%d-%d", time.Now().UnixNano(), os.Getpid(), vmCmdSeq.Add(1))
	script := shellQuote(argv)
	if stdin != nil {
		if err := os.WriteFile(filepath.Join(s, "cmd", id+".in"), stdin, 0o644); err != nil {
			return "", err
		}
		script += " < /gtb/cmd/" + id + ".in"
	}
	tmp := filepath.Join(s, "cmd", id+".tmp")
	if err := os.WriteFile(tmp, []byte(script+"\n"), 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, filepath.Join(s, "cmd", id+".sh")); err != nil {
		return "", err
	}
	rcf := filepath.Join(s, "out", id+".rc")
	if !Poll(timeout, 50*time.Millisecond, func() bool {
		_, err := os.Stat(rcf)
		return err == nil || !b.st.Outer[n].Alive()
	}) {
		return "", fmt.Errorf("%s on %s: timed out after %v", strings.Join(argv, " "), n, timeout)
	}
	rcData, err := os.ReadFile(rcf)
	out, _ := os.ReadFile(filepath.Join(s, "out", id+".out"))
	// the agent moved cmd/ID.sh away; out/ is the host's to clean
	for _, f := range []string{filepath.Join(s, "cmd", id+".in"), filepath.Join(s, "out", id+".out"), rcf} {
		_ = os.Remove(f)
	}
	if err != nil {
		return string(out), fmt.Errorf("%s on %s: VM is gone", strings.Join(argv, " "), n)
	}
	rc, _ := strconv.Atoi(strings.TrimSpace(string(rcData)))
	if rc != 0 {
		return string(out), fmt.Errorf("%s on %s: exit status %d", strings.Join(argv, " "), n, rc)
	}
	return string(out), nil
}

func (b *Bed) vmKill(n string) {
	p := b.st.Outer[n]
	p.Signal(int(syscall.SIGKILL))
	if !waitGone(10*time.Second, p) {
		b.logf("VM %s: qemu %d still alive", n, p.PID)
	}
}

func (b *Bed) vmPowerOff(n string) error {
	if !b.Running(n) {
		return fmt.Errorf("node %s is not running", n)
	}
	_ = b.cut(n, LinkAll)
	b.vmKill(n)
	b.unplugNode(n)
	return nil
}

func (b *Bed) vmShutdown(n string) error {
	if !b.Running(n) {
		return fmt.Errorf("node %s is not running", n)
	}
	_, err := b.vmExec(n, 300*time.Second, nil, "/bin/bash", "-c",
		"systemctl stop pacemaker && systemctl stop corosync")
	// poweroff: the agent dies with the VM, so do not wait for its answer
	_, _ = b.vmExec(n, 3*time.Second, nil, "/bin/bash", "-c", "(sleep 0.5; systemctl poweroff) >/dev/null 2>&1 &")
	if !waitGone(180*time.Second, b.st.Outer[n]) {
		b.logf("VM %s did not power off within 180s: killing it", n)
		b.vmKill(n)
	}
	b.unplugNode(n)
	return err
}

func (b *Bed) vmBoot(n string) error {
	if _, err := run(5*time.Second, "ip", "-n", SwitchNS, "link", "show", b.portName(n)); err != nil {
		b.unplugNode(n)
		if err := b.plugNode(n); err != nil {
			return err
		}
	}
	if err := b.vmStart(n); err != nil {
		return err
	}
	if err := b.vmWaitReady(n, 600*time.Second); err != nil {
		return err
	}
	return b.vmClusterStart(n)
}
