package testbed

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Fault 6 in vm mode (issue 16): real I/O errors under DRBD. With Config.DMBacking, DRBD's
// backing disk in each VM is not /dev/vdb but a device-mapper mapping over it, dm-linear
// (sector for sector the same disk: DRBD's internal metadata stays at its end). The fault
// swaps the mapping's table for an `error` target of the same size: every I/O DRBD sends to
// its disk fails with EIO, and DRBD, with its default on-io-error policy (detach, in 8.4
// and 9), drops the disk and goes on Diskless, reading and writing through its peer. The
// restore swaps the linear table back and attaches the disk again (a bitmap-based resync
// from the peer).
//
// The device-mapper tools: dmsetup is in the image as a dependency (xfsprogs →
// libdevmapper1.02.1 → dmsetup; see FAULTS-TODO.md); dm-mod is a module of the image's
// kernel (CONFIG_BLK_DEV_DM=m), with the linear and error targets built into it.

// DRBDDisk is r0's backing disk in the VMs: their second virtio disk.
const DRBDDisk = "/dev/vdb"

// The fault harness's mapping over DRBDDisk.
const (
	DMBackingName = "gtb-r0back"
	DMBackingDev  = "/dev/mapper/" + DMBackingName
)

// drbdDisk is the backing disk r0.res names on this bed.
func (b *Bed) drbdDisk() string {
	if b.st.DMBacking {
		return DMBackingDev
	}
	return DRBDDisk
}

// dmLinearTable maps the whole of DRBDDisk (sectors of 512 bytes) one to one.
func dmLinearTable(sectors int64) string {
	return fmt.Sprintf("0 %d linear %s 0", sectors, DRBDDisk)
}

// dmErrorTable fails every I/O to a device of that many sectors (the same size: DRBD must not
// see its disk shrink).
func dmErrorTable(sectors int64) string {
	return fmt.Sprintf("0 %d error", sectors)
}

// parseSectors reads `blockdev --getsz`'s output.
func parseSectors(out string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("blockdev --getsz: %q is not a size in sectors", strings.TrimSpace(out))
	}
	return n, nil
}

// dmCreateScript loads dm-mod and creates the mapping with table unless it exists (it never
// does at a boot: device-mapper tables do not survive one), and checks its device node.
func dmCreateScript(table string) string {
	name := shellQuote([]string{DMBackingName})
	return "set -e\nmodprobe dm-mod\n" +
		"dmsetup info " + name + " >/dev/null 2>&1 || dmsetup create " + name + " --table " + shellQuote([]string{table}) + "\n" +
		"udevadm settle --timeout=30 || true\n" +
		"dmsetup mknodes " + name + "\n" +
		"test -b " + DMBackingDev + "\n" +
		"dmsetup table " + name + "\n"
}

// dmSwapScript makes table the mapping's live table. load puts it in the inactive slot
// (nothing changes for I/O yet); resume then suspends the device, swaps the tables and
// resumes it. That implicit suspend flushes: it waits for the I/O in flight on the old table
// to end, which on the healthy linear table takes milliseconds (and on the error table none:
// it fails at once); its lockfs freezes nothing, as no file system sits on the mapping
// itself (ext4 is on /dev/drbd0, above DRBD). No separate `dmsetup suspend`: until the
// resume, DRBD's I/O would queue in device-mapper, and a harness that died in between would
// leave DRBD hung; --noflush (requeue the in-flight I/O onto the new table) is not needed for
// DRBD to see EIO at its next I/O.
func dmSwapScript(table string) string {
	name := shellQuote([]string{DMBackingName})
	return "set -e\n" +
		"dmsetup load " + name + " --table " + shellQuote([]string{table}) + "\n" +
		"dmsetup resume " + name + "\n" +
		"dmsetup table " + name + "\n"
}

// diskSectors is the size of DRBDDisk on node n in sectors.
func (b *Bed) diskSectors(n string, timeout time.Duration) (int64, error) {
	out, err := b.Exec(n, timeout, nil, "blockdev", "--getsz", DRBDDisk)
	if err != nil {
		return 0, fmt.Errorf("%v: %s", err, strings.TrimSpace(out))
	}
	return parseSectors(out)
}

// vmDMBackingUp creates the mapping (linear) on VM n.
func (b *Bed) vmDMBackingUp(n string) error {
	sectors, err := b.diskSectors(n, 60*time.Second)
	if err != nil {
		return fmt.Errorf("DRBD's backing disk on %s: %w", n, err)
	}
	out, err := b.vmExec(n, 120*time.Second, nil, "/bin/bash", "-c", dmCreateScript(dmLinearTable(sectors)))
	if err != nil {
		return fmt.Errorf("%s on %s: %v: %s", DMBackingDev, n, err, strings.TrimSpace(out))
	}
	b.logf("VM %s: DRBD's backing disk is %s (%s)", n, DMBackingDev, strings.TrimSpace(out))
	return nil
}

// DMSwap makes the mapping on node n fail every I/O (fail true) or map DRBDDisk again; it
// returns the live table.
func (b *Bed) DMSwap(n string, fail bool, timeout time.Duration) (string, error) {
	if !b.st.DMBacking {
		return "", fmt.Errorf("DRBD's backing disk is %s, not a device-mapper mapping (Config.DMBacking)", b.drbdDisk())
	}
	sectors, err := b.diskSectors(n, timeout)
	if err != nil {
		return "", err
	}
	table := dmLinearTable(sectors)
	if fail {
		table = dmErrorTable(sectors)
	}
	out, err := b.Sh(n, timeout, dmSwapScript(table))
	if err != nil {
		return "", fmt.Errorf("%s to %q on %s: %v: %s", DMBackingName, table, n, err, strings.TrimSpace(out))
	}
	return strings.TrimSpace(out), nil
}

// drbdStateScript prints r0's role, disk states and connection states on one line.
const drbdStateScript = `echo "role $(drbdadm role r0 2>&1 | xargs), disk $(drbdadm dstate r0 2>&1 | xargs), connection $(drbdadm cstate r0 2>&1 | xargs)"`

// DRBDState is r0's state on node n in one line (for a run's notes).
func (b *Bed) DRBDState(n string, timeout time.Duration) string {
	out, err := b.Sh(n, timeout, drbdStateScript)
	if err != nil {
		return fmt.Sprintf("%s: %v %s", n, err, strings.TrimSpace(out))
	}
	return n + ": " + strings.TrimSpace(out)
}

// localDisk is the local disk state in `drbdadm dstate r0`'s output (8.4: "Diskless/UpToDate";
// 9: the local state on the first line, a peer's on each next one).
func localDisk(dstate string) string {
	f := strings.FieldsFunc(dstate, func(r rune) bool { return r == '/' || r == ' ' || r == '\n' || r == '\t' })
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// detached: a local disk state after an I/O error with on-io-error detach (Failed while
// DRBD lets go of the disk, then Diskless).
func detached(disk string) bool { return disk == "Diskless" || disk == "Failed" || disk == "Detaching" }

// waitLocalDisk waits until r0's local disk on n satisfies ok; it returns the last state.
func (b *Bed) waitLocalDisk(n string, timeout, cmd time.Duration, ok func(string) bool) (string, bool) {
	var last string
	done := Poll(timeout, 500*time.Millisecond, func() bool {
		out, err := b.Exec(n, cmd, nil, "drbdadm", "dstate", "r0")
		last = strings.TrimSpace(out)
		return err == nil && ok(localDisk(out))
	})
	return last, done
}

// injectDiskErrors is Fault6DM on node n: the mapping under DRBD swapped to error, then a
// write to /replica, flushed, so that DRBD meets the error at once (Asterisk's own writes
// would, a little later), and DRBD's detach awaited. The write itself should succeed: DRBD
// completes it once the peer has it (protocol C). What DRBD did goes into r's notes; the
// inject's "took" includes the wait for the detach.
func (s *FaultSession) injectDiskErrors(r *FaultRun, n string) (string, error) {
	b := s.b
	table, err := b.DMSwap(n, true, s.cmd)
	if err != nil {
		return "", err
	}
	swapped := time.Now()
	done := fmt.Sprintf("dmsetup load %s --table '%s' and resume on %s", DMBackingName, table, n)
	if out, err := b.Sh(n, s.cmd, "date +%s.%N > /replica/.gtb-fault-6 && sync -f /replica"); err != nil {
		r.Notes = append(r.Notes, fmt.Sprintf("the write to /replica after the swap failed (the error was passed up): %v %s", err, strings.TrimSpace(out)))
	}
	last, ok := b.waitLocalDisk(n, 60*time.Second*s.scale, s.cmd, detached)
	if ok {
		r.Notes = append(r.Notes, fmt.Sprintf("DRBD's disk on %s %s %.1f s after the swap (at most: the check goes through the bed's command channel)",
			n, localDisk(last), time.Since(swapped).Seconds()))
	}
	r.Notes = append(r.Notes, "DRBD after the I/O error: "+b.DRBDState(n, s.cmd))
	if k, err := b.Sh(n, s.cmd, `dmesg | grep -E 'drbd.*([Ee]rror|[Dd]etach|Diskless|Failed)' | tail -n 5 || true`); err == nil && strings.TrimSpace(k) != "" {
		r.Notes = append(r.Notes, "kernel: "+strings.Join(strings.Split(strings.TrimSpace(k), "\n"), " | "))
	}
	if !ok {
		return done, fmt.Errorf("DRBD on %s did not detach its failing disk: dstate %q", n, last)
	}
	return done + "; write to /replica, sync; DRBD detached the disk", nil
}

// restoreDisk undoes Fault6DM on node n: the linear table back, the disk attached again
// (drbdadm attach; a bitmap-based resync from the peer of what was written meanwhile), and
// waits until it is UpToDate. A node that is down (fenced) gets the linear mapping at its
// boot, and Pacemaker's DRBD start attaches the disk; so does a node whose r0 Pacemaker
// stopped.
func (s *FaultSession) restoreDisk(n string, note func(string, ...any)) error {
	b := s.b
	if !b.Running(n) {
		note("%s is down: its mapping is linear again at its boot", n)
		return nil
	}
	note("before the reattach: %s", b.DRBDState(n, s.cmd))
	table, err := b.DMSwap(n, false, s.cmd)
	if err != nil {
		return err
	}
	note("%s on %s back to %q", DMBackingName, n, table)
	if out, err := b.Exec(n, s.cmd, nil, "drbdadm", "attach", "r0"); err != nil {
		note("drbdadm attach r0 on %s: %v %s", n, err, strings.TrimSpace(out))
	} else {
		note("drbdadm attach r0 on %s", n)
	}
	if out, err := b.Exec(n, s.cmd, nil, "drbdadm", "dstate", "r0"); err != nil {
		note("r0 is not up on %s (%s): Pacemaker's start attaches the disk", n, strings.TrimSpace(out))
		return nil
	}
	return s.waitDiskUpToDate(n, note)
}

// waitDiskUpToDate waits until r0's local disk on n is UpToDate.
func (s *FaultSession) waitDiskUpToDate(n string, note func(string, ...any)) error {
	t0 := time.Now()
	last, ok := s.b.waitLocalDisk(n, s.timeout, s.cmd, func(d string) bool { return d == "UpToDate" })
	if !ok {
		return fmt.Errorf("DRBD's disk on %s is not UpToDate again: %q", n, last)
	}
	note("DRBD's disk on %s UpToDate (%.1f s)", n, time.Since(t0).Seconds())
	return nil
}
