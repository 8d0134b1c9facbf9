package testbed

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// qdeviceConf is the quorum section's device for a 2-node cluster with a
// quorum device: the partition that still reaches corosync-qnetd keeps
// quorum, the other loses it and stops its resources (no-quorum-policy).
// TLS is off: a test bed has no certificate authority. The timeout is short
// so that a cut-off node gives up quorum soon after the token is lost.
const qdeviceConf = `    device {
        votes: 1
        model: net
        timeout: 3000
        sync_timeout: 6000
        net {
            host: ` + ClientIP + `
            algorithm: ffsplit
            tls: off
        }
    }
`

// startQNetd runs corosync-qnetd from the image in the client namespace, a
// third site as an arbiter is in a real deployment. It runs in a private
// mount namespace whose /run is a tmpfs, so nothing is written to the image.
func (b *Bed) startQNetd() error {
	root := filepath.Join(b.st.ImageDir, "rootfs")
	// dpd_interval: how soon qnetd notices a client that went silent (default 10 s).
	// nsenter, unshare, sh and chroot exec in turn: the PID becomes qnetd's, with the same start time
	p, logName, err := b.startDaemon("qnetd.log", func(p *Proc) { b.st.QNetd = p },
		"nsenter", "--net=/run/netns/"+ClientNS, "unshare", "--mount", "--propagation", "private",
		"/bin/sh", "-c", `mount -t tmpfs gtbqnetd "$1/run" && exec chroot "$1" corosync-qnetd -f -d -s off -l "$2" -S dpd_interval=1000`,
		"qnetd", root, ClientIP)
	if err != nil {
		return err
	}
	if !Poll(10*time.Second, 100*time.Millisecond, func() bool {
		out, _ := b.Client(2*time.Second, "ss", "-Htln", "sport", "= :5403")
		return out != ""
	}) {
		return fmt.Errorf("corosync-qnetd does not listen on %s:5403 (see %s)", ClientIP, logName)
	}
	b.logf("corosync-qnetd pid %d on %s:5403", p.PID, ClientIP)
	return nil
}

func (b *Bed) stopQNetd() { b.stopDaemon(b.st.QNetd, "corosync-qnetd") }

// startDaemon starts argv detached (own session), its output in the data
// directory's file logName, and records it with keep (by PID and start
// time, saved in the state) before anything can fail after it.
func (b *Bed) startDaemon(logName string, keep func(*Proc), argv ...string) (Proc, string, error) {
	path := filepath.Join(b.st.DataDir, logName)
	logf, err := os.Create(path)
	if err != nil {
		return Proc{}, path, err
	}
	defer logf.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return Proc{}, path, err
	}
	go func() { _ = cmd.Wait() }()
	p := newProc(cmd.Process.Pid)
	keep(&p)
	return p, path, b.save()
}

// stopDaemon kills a daemon of startDaemon, if it still is that process.
func (b *Bed) stopDaemon(p *Proc, name string) {
	if p != nil {
		p.Signal(int(syscall.SIGKILL))
		if !waitGone(5*time.Second, *p) {
			b.logf("%s %d still alive", name, p.PID)
		}
	}
}
