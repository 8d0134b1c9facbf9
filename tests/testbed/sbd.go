package testbed

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Fencing in vm mode is what the crm examples configure: SBD. One raw image, attached to both
// VMs as a virtio disk with the serial gtb-sbd (/dev/disk/by-id/virtio-gtb-sbd), holds the SBD
// header and the nodes' slots; sbd runs in each VM with the softdog watchdog of the VM's own
// kernel (never the host's), and the cluster's fence-sbd device (fence_sbd) writes "reset"
// into the victim's slot. With -no-reboot, the reset ends the victim's qemu: a fenced VM is a
// VM whose qemu exited without the bed having killed it.

// SBDDevice is the shared disk as the VMs see it.
const SBDDevice = "/dev/disk/by-id/virtio-gtb-sbd"

// SBD timeouts under TCG, written into the disk's header at creation. sbd tickles the
// watchdog from a loop that also reads the disk and asks Pacemaker; in a TCG VM sharing two
// host cores with another VM a fork takes ~65 ms and stalls of a few seconds were seen under
// load (corosync's own token is widened for the same reason), so the 5 s watchdog of the
// examples could reset a healthy VM. 10 s leaves room for such a stall; msgwait is twice the
// watchdog timeout as sbd requires. A fence is confirmed msgwait after the message is written.
const (
	sbdWatchdogTimeout = 10 * time.Second
	sbdMsgwait         = 20 * time.Second
)

func (b *Bed) sbdImage() string { return filepath.Join(b.st.DataDir, "sbd.raw") }

// sbdQemuArgs attaches the shared SBD disk: both qemu processes open the same file, so image
// locking is off and the device declares its write sharing; no host cache between them. Its
// PCI slot comes after the -drive if=virtio disks, which keep the names vda and vdb.
func (b *Bed) sbdQemuArgs() []string {
	return []string{
		"-drive", "file=" + b.sbdImage() + ",if=none,id=sbd,format=raw,cache=none,file.locking=off",
		"-device", "virtio-blk-pci,drive=sbd,serial=gtb-sbd,share-rw=on,addr=0x10",
	}
}

// sbdCreateImage makes the SBD disk file (once per bed; a fenced VM boots onto the same disk).
func (b *Bed) sbdCreateImage() error {
	if _, err := os.Stat(b.sbdImage()); err == nil {
		return nil
	}
	_, err := run(10*time.Second, "truncate", "-s", "8M", b.sbdImage())
	return err
}

// sbdInit writes the SBD header from node n unless the disk has one.
func (b *Bed) sbdInit(n string) error {
	script := fmt.Sprintf(`set -e
for _ in $(seq 100); do [ -e %[1]s ] && break; sleep 0.1; done
sbd -d %[1]s dump >/dev/null 2>&1 || sbd -d %[1]s -1 %[2]d -4 %[3]d create
sbd -d %[1]s dump`, SBDDevice, int(sbdWatchdogTimeout.Seconds()), int(sbdMsgwait.Seconds()))
	out, err := b.vmExec(n, 120*time.Second, nil, "/bin/bash", "-c", script)
	if err != nil {
		return fmt.Errorf("sbd create on %s: %v: %s", n, err, out)
	}
	return nil
}

// sbdNodeScript configures sbd in a VM (run inside the VM by vmClusterStart, before corosync:
// sbd.service is RequiredBy corosync, so starting corosync starts it). softdog is loaded by
// the VM's kernel; this script never runs on the host. The watchdog is what makes the fence
// certain: sbd answers a "reset" message by syncing first, and a cut-off DRBD Primary with
// resource-and-stonith has its I/O frozen, so that sync never returns (seen); softdog then
// resets the VM a watchdog timeout later, within msgwait.
const sbdNodeScript = `[ -f /gtb/env ] || { echo "not a test-bed VM: no softdog here" >&2; exit 1; }
modprobe softdog
wd=
for w in /sys/class/watchdog/watchdog*; do
  if [ "$(cat "$w/identity")" = "Software Watchdog" ]; then wd=/dev/${w##*/}; fi
done
[ -n "$wd" ] || { echo "softdog did not register a watchdog" >&2; exit 1; }
for _ in $(seq 100); do [ -e ` + SBDDevice + ` ] && break; sleep 0.1; done
cat > /etc/default/sbd <<EOF
SBD_DEVICE=` + SBDDevice + `
SBD_PACEMAKER=yes
SBD_STARTMODE=always
SBD_DELAY_START=no
SBD_WATCHDOG_DEV=$wd
SBD_TIMEOUT_ACTION=flush,reboot
SBD_MOVE_TO_ROOT_CGROUP=auto
SBD_SYNC_RESOURCE_STARTUP=yes
SBD_OPTS=
EOF
systemctl enable sbd >/dev/null 2>&1
`

// vmCIBSeed is the fencing a fresh VM cluster starts with: the examples' fence-sbd device on
// the bed's shared disk and stonith-enabled=true (examples loaded later replace the device).
func vmCIBSeed() string {
	return fmt.Sprintf(`  CIB_file=$C crm_attribute -t crm_config -n stonith-enabled -v true
  CIB_file=$C crm_attribute -t crm_config -n stonith-timeout -v %ds
  CIB_file=$C cibadmin -C -o resources -X '<primitive id="%s" class="stonith" type="fence_sbd"><instance_attributes id="%[2]s-ia"><nvpair id="%[2]s-ia-devices" name="devices" value="%s"/></instance_attributes></primitive>'
`, int(3*sbdMsgwait.Seconds()), sbdDevice, SBDDevice)
}

var sbdDevicesParam = regexp.MustCompile(`\bdevices=("[^"]*"|\S+)`)

// WithVMFencing returns a crm configuration for a vm-mode bed: the examples' fence-sbd device
// is kept, pointed at the bed's shared disk.
func WithVMFencing(crm string) string {
	var out []string
	in := false
	for _, l := range strings.Split(crm, "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && !strings.HasPrefix(l, " ") && !strings.HasPrefix(l, "\t") {
			in = f[0] == "primitive" && f[1] == sbdDevice
		}
		if in {
			l = sbdDevicesParam.ReplaceAllString(l, "devices="+SBDDevice)
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// qmp sends one command to node n's qemu monitor (QMP) and returns its error, if any.
func (b *Bed) qmp(n, command string, args map[string]any) error {
	c, err := net.DialTimeout("unix", filepath.Join(b.nodeDir(n), "qmp.sock"), 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	enc := json.NewEncoder(c)
	// the greeting, then capabilities negotiation, then the command; events may come between
	read := func() error {
		for {
			line, err := r.ReadBytes('\n')
			if err != nil {
				return err
			}
			var m struct {
				Return *json.RawMessage `json:"return"`
				Error  *struct {
					Desc string `json:"desc"`
				} `json:"error"`
				QMP *json.RawMessage `json:"QMP"`
			}
			if json.Unmarshal(line, &m) != nil {
				continue
			}
			switch {
			case m.Error != nil:
				return fmt.Errorf("qmp %s on %s: %s", command, n, m.Error.Desc)
			case m.Return != nil, m.QMP != nil:
				return nil
			}
		}
	}
	if err := read(); err != nil {
		return err
	}
	for _, cmd := range []map[string]any{{"execute": "qmp_capabilities"}, {"execute": command, "arguments": args}} {
		if err := enc.Encode(cmd); err != nil {
			return err
		}
		if err := read(); err != nil {
			return err
		}
	}
	return nil
}

// vmSetLink sets the carrier of node n's NIC on link (LinkLAN or LinkRing) as the guest sees
// it: a cable pulled at the bridge alone leaves the guest's virtio NIC with carrier.
func (b *Bed) vmSetLink(n, link string, up bool) error {
	id := map[string]string{LinkLAN: "n0", LinkRing: "n1"}[link]
	return b.qmp(n, "set_link", map[string]any{"name": id, "up": up})
}

// watchExit polls node n's qemu (vm mode) for at most limit and returns a function that
// reports when it was first seen gone (zero while it runs).
func (b *Bed) watchExit(n string, limit time.Duration) func() time.Time {
	p := b.st.Outer[n]
	var mu sync.Mutex
	var at time.Time
	go func() {
		deadline := time.Now().Add(limit)
		for time.Now().Before(deadline) {
			if !p.Alive() {
				mu.Lock()
				at = time.Now()
				mu.Unlock()
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return at
	}
}
