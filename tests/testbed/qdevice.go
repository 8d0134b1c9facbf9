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
	logf, err := os.Create(filepath.Join(b.st.DataDir, "qnetd.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	// dpd_interval: how soon qnetd notices a client that went silent (default 10 s)
	cmd := exec.Command("nsenter", "--net=/run/netns/"+ClientNS, "unshare", "--mount", "--propagation", "private",
		"/bin/sh", "-c", `mount -t tmpfs gtbqnetd "$1/run" && exec chroot "$1" corosync-qnetd -f -d -s off -l "$2" -S dpd_interval=1000`,
		"qnetd", root, ClientIP)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	// nsenter, unshare, sh and chroot exec in turn: the PID becomes qnetd's, with the same start time
	p := newProc(cmd.Process.Pid)
	b.st.QNetd = &p
	if err := b.save(); err != nil {
		return err
	}
	if !Poll(10*time.Second, 100*time.Millisecond, func() bool {
		out, _ := b.Client(2*time.Second, "ss", "-Htln", "sport", "= :5403")
		return out != ""
	}) {
		return fmt.Errorf("corosync-qnetd does not listen on %s:5403 (see %s)", ClientIP, logf.Name())
	}
	b.logf("corosync-qnetd pid %d on %s:5403", p.PID, ClientIP)
	return nil
}

func (b *Bed) stopQNetd() {
	if p := b.st.QNetd; p != nil {
		p.Signal(int(syscall.SIGKILL))
		if !waitGone(5*time.Second, *p) {
			b.logf("corosync-qnetd %d still alive", p.PID)
		}
	}
}
