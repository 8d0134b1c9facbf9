package testbed

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// drbdRecordCmds are the status commands recorded at every stage, by file name: what the
// drbd agent runs (events2 --now), what an admin reads, and the JSON status.
var drbdRecordCmds = []struct{ name, cmd string }{
	{"events2_now", "drbdsetup events2 --now r0"},
	{"events2_now_stat", "drbdsetup events2 --now --statistics r0"},
	{"status_json", "drbdsetup status --json r0"},
	{"setup_status_vs", "drbdsetup status r0 --verbose --statistics"},
	{"adm_status", "drbdadm status r0"},
	{"role", "drbdadm role r0"},
	{"cstate", "drbdadm cstate r0"},
	{"dstate", "drbdadm dstate r0"},
}

// recDir is where a VM keeps its recordings until they are copied out (not the 9p share: the
// event stream is written for minutes).
const recDir = "/run/gtb-record"

// RecordDRBD records real DRBD outputs through a resource's life on the bed's two VMs into
// out: out/<stage>/<node>/<command>.{out,err,rc} (drbdRecordCmds), each VM's event stream as
// the drbd agent reads it (`drbdsetup events2 r0`, from n1's first `up` to the end) in
// out/events2_stream/<node>.txt, and out/versions.txt. r0 is the bed's resource
// (DRBDResource, fencing included) on fresh metadata; Pacemaker runs but has no resource.
// It ends with r0 down on both VMs. Stages: 01 n1 up alone, 02 connected Inconsistent, 03
// syncing after n1's primary --force, 04 Primary/Secondary UpToDate, 05 mounted, 06 both
// Secondary, 07 n2 Primary, 08 n1 disconnected by the admin (n2 then writes), 09 reconnected
// (resync), 10 n1's ring cable pulled (n2 Primary, fencing), 11 the cable back, resynced.
// On three VMs (the third DRBD's diskless tiebreaker) it records r0 with quorum instead
// (recorder.quorum).
func (b *Bed) RecordDRBD(out string) error {
	if b.st.Mode != "vm" || !IsDRBD9(b.DRBD()) {
		return errors.New("record-drbd needs the bed in vm mode with DRBD 9 (8.4's recordings are pkg/drbd/testdata/drbd84)")
	}
	r := &recorder{b: b}
	var err error
	if len(b.st.Nodes) == 3 {
		err = r.quorum()
	} else {
		err = r.twoNodes()
	}
	if err != nil {
		return err
	}
	return r.finish(out)
}

// recorder runs the recording's commands on the VMs.
type recorder struct{ b *Bed }

func (r *recorder) sh(n, what, script string, timeout time.Duration) error {
	if o, err := r.b.Sh(n, timeout+30*time.Second, script); err != nil {
		return fmt.Errorf("%s: %s: %v: %s", n, what, err, o)
	}
	return nil
}

// waitFor polls a drbdadm query on node n until it prints want (bounded).
func (r *recorder) waitFor(n, query, want string, timeout time.Duration) error {
	return r.sh(n, query+" = "+want, fmt.Sprintf(`for i in $(seq %d); do [ "$(%s)" = %q ] && exit 0; sleep 0.5; done; %s; exit 1`,
		int(timeout/(500*time.Millisecond)), query, want, query), timeout)
}

// record runs drbdRecordCmds on each node into recDir/stage/node.
func (r *recorder) record(stage string, nodes ...string) error {
	for _, n := range nodes {
		var sb strings.Builder
		d := recDir + "/" + stage + "/" + n
		fmt.Fprintf(&sb, "mkdir -p %s\n", d)
		for _, c := range drbdRecordCmds {
			fmt.Fprintf(&sb, "%s >%s/%s.out 2>%s/%s.err; echo $? >%s/%s.rc\n", c.cmd, d, c.name, d, c.name, d, c.name)
		}
		if err := r.sh(n, "record "+stage, sb.String(), time.Minute); err != nil {
			return err
		}
	}
	r.b.logf("recorded %s on %s", stage, strings.Join(nodes, ", "))
	return nil
}

// stream starts node n's `drbdsetup events2 r0` into recDir/events2_stream/n.txt: right after
// r0 exists there, ended by SIGTERM in finish (and bounded by timeout(1) if the run dies).
func (r *recorder) stream(n string) error {
	return r.sh(n, "events2 stream", "mkdir -p "+recDir+"/events2_stream; setsid timeout 1800 drbdsetup events2 r0 >"+recDir+"/events2_stream/"+n+".txt 2>&1 </dev/null & sleep 1", 10*time.Second)
}

// prepare writes res as r0 on every node, with fresh metadata where there is a disk.
func (r *recorder) prepare(res string, disks int) error {
	for i, n := range r.b.st.Nodes {
		md := "wipefs -q -a /dev/vdb; drbdadm create-md --force r0 </dev/null >/dev/null 2>&1; "
		if i >= disks {
			md = ""
		}
		if out, err := r.b.Exec(n, 2*time.Minute, []byte(res), "/bin/bash", "-c",
			"set -e; modprobe drbd; drbdadm down r0 2>/dev/null || true; cat > /etc/drbd.d/r0.res; "+
				md+"rm -rf "+recDir+"; mkdir -p "+recDir); err != nil {
			return fmt.Errorf("%s: prepare r0: %v: %s", n, err, out)
		}
	}
	return nil
}

// finish ends the streams, takes r0 down, and copies every VM's recordings into out.
func (r *recorder) finish(out string) error {
	b := r.b
	for _, n := range b.st.Nodes {
		// The stream ends; r0 goes down (a Primary demoted first).
		if err := r.sh(n, "end", "pkill -TERM -f '^drbdsetup events2 r0$'; sleep 1; drbdadm secondary r0; drbdadm down r0", time.Minute); err != nil {
			return err
		}
	}
	if err := r.sh(b.st.Nodes[0], "versions", "{ uname -r; drbdadm --version; head -1 /proc/drbd; } >"+recDir+"/versions.txt 2>&1", time.Minute); err != nil {
		return err
	}
	// Out through the share: a tar of the VM's directory, unpacked on the host.
	for _, n := range b.st.Nodes {
		if err := r.sh(n, "copy out", "tar -C "+recDir+" -cf /gtb/record.tar .", time.Minute); err != nil {
			return err
		}
		if err := os.MkdirAll(out, 0o755); err != nil {
			return err
		}
		if _, err := run(time.Minute, "tar", "-C", out, "-xf", filepath.Join(b.share(n), "record.tar")); err != nil {
			return err
		}
		os.Remove(filepath.Join(b.share(n), "record.tar"))
	}
	return nil
}

// twoNodes is the 11 stages of RecordDRBD on two VMs.
func (r *recorder) twoNodes() error {
	b := r.b
	n1, n2 := b.st.Nodes[0], b.st.Nodes[1]
	if err := r.prepare(DRBDResource(b.st.Nodes, b.st.FencePeer, true), 2); err != nil {
		return err
	}
	sh, waitFor, record, stream := r.sh, r.waitFor, r.record, r.stream
	steps := []struct {
		what string
		do   func() error
	}{
		{"01-n1-up-connecting", func() error {
			if err := sh(n1, "up", "drbdadm up r0", time.Minute); err != nil {
				return err
			}
			if err := stream(n1); err != nil {
				return err
			}
			return record("01-n1-up-connecting", n1)
		}},
		{"02-connected-inconsistent", func() error {
			if err := sh(n2, "up", "drbdadm up r0", time.Minute); err != nil {
				return err
			}
			if err := stream(n2); err != nil {
				return err
			}
			if err := waitFor(n1, "drbdadm cstate r0", "Connected", 2*time.Minute); err != nil {
				return err
			}
			return record("02-connected-inconsistent", n1, n2)
		}},
		{"03-syncing", func() error {
			// Slow enough to be caught syncing: the 256 MiB at 4 MiB/s take a minute. The
			// SyncTarget (n2, whose peer is node 0) paces the resync.
			if err := sh(n2, "resync rate", "drbdsetup peer-device-options r0 0 0 --c-plan-ahead=0 --resync-rate=4M", time.Minute); err != nil {
				return err
			}
			if err := sh(n1, "primary --force", "drbdadm primary --force r0", time.Minute); err != nil {
				return err
			}
			time.Sleep(2 * time.Second)
			return record("03-syncing", n1, n2)
		}},
		{"04-primary-secondary-uptodate", func() error {
			if err := sh(n2, "resync rate", "drbdadm adjust r0", time.Minute); err != nil {
				return err
			}
			if err := waitFor(n1, "drbdadm dstate r0", "UpToDate/UpToDate", 5*time.Minute); err != nil {
				return err
			}
			return record("04-primary-secondary-uptodate", n1, n2)
		}},
		{"05-primary-mounted", func() error {
			if err := sh(n1, "mkfs and mount", "mkfs.ext4 -q -F /dev/drbd0 && mkdir -p /mnt/r0 && mount /dev/drbd0 /mnt/r0", 2*time.Minute); err != nil {
				return err
			}
			return record("05-primary-mounted", n1, n2)
		}},
		{"06-both-secondary", func() error {
			if err := sh(n1, "umount, secondary", "umount /mnt/r0 && drbdadm secondary r0", time.Minute); err != nil {
				return err
			}
			return record("06-both-secondary", n1, n2)
		}},
		{"07-n2-primary", func() error {
			if err := sh(n2, "primary", "drbdadm primary r0", time.Minute); err != nil {
				return err
			}
			return record("07-n2-primary", n1, n2)
		}},
		{"08-n1-disconnected", func() error {
			if err := sh(n1, "disconnect", "drbdadm disconnect r0", time.Minute); err != nil {
				return err
			}
			if err := record("08-n1-disconnected", n1, n2); err != nil {
				return err
			}
			// Writes n1 misses: the reconnect resyncs them.
			return sh(n2, "write", "dd if=/dev/urandom of=/dev/drbd0 bs=1M count=16 oflag=direct status=none", time.Minute)
		}},
		{"09-n1-reconnected", func() error {
			if err := sh(n1, "connect", "drbdadm connect r0", time.Minute); err != nil {
				return err
			}
			if err := waitFor(n1, "drbdadm cstate r0", "Connected", 2*time.Minute); err != nil {
				return err
			}
			if err := record("09-n1-reconnected", n1, n2); err != nil {
				return err
			}
			return waitFor(n1, "drbdadm dstate r0", "UpToDate/UpToDate", 5*time.Minute)
		}},
		{"10-n1-ring-cut", func() error {
			if err := b.CableLink(n1, LinkRing, false); err != nil {
				return err
			}
			if err := sh(n2, "wait disconnect", `for i in $(seq 120); do [ "$(drbdadm cstate r0)" != Connected ] && exit 0; sleep 0.5; done; exit 1`, time.Minute); err != nil {
				return err
			}
			time.Sleep(3 * time.Second)
			return record("10-n1-ring-cut", n1, n2)
		}},
		{"11-ring-back", func() error {
			if err := b.CableLink(n1, LinkRing, true); err != nil {
				return err
			}
			if err := waitFor(n2, "drbdadm cstate r0", "Connected", 3*time.Minute); err != nil {
				return err
			}
			if err := waitFor(n2, "drbdadm dstate r0", "UpToDate/UpToDate", 5*time.Minute); err != nil {
				return err
			}
			return record("11-ring-back", n1, n2)
		}},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			return fmt.Errorf("stage %s: %w", s.what, err)
		}
	}
	return nil
}

// quorum records r0 on three VMs as DRBDQuorumResource has it (n3 the diskless tiebreaker):
// q01 n1 Primary with two peers, q02 n2's ring cut (n2 a Secondary without quorum, n1 keeps
// it with n3), q03 n1's ring cut (n1 a Primary without quorum: on-no-quorum io-error), q04
// everything back and in sync.
func (r *recorder) quorum() error {
	b := r.b
	n1, n2, n3 := b.st.Nodes[0], b.st.Nodes[1], b.st.Nodes[2]
	if err := r.prepare(DRBDQuorumResource(b.st.Nodes), 2); err != nil {
		return err
	}
	all := []string{n1, n2, n3}
	for _, n := range all {
		if err := r.sh(n, "up", "drbdadm up r0", time.Minute); err != nil {
			return err
		}
	}
	if err := r.stream(n1); err != nil {
		return err
	}
	connected := func(n string) error {
		return r.waitFor(n, "drbdadm cstate r0 | sort -u | xargs", "Connected", 3*time.Minute)
	}
	// every disk UpToDate, or the tiebreaker's Diskless, whatever drbdadm's layout
	synced := func(n string) error {
		return r.waitFor(n, "drbdadm dstate r0 | tr '/ ' '\\n\\n' | grep -vx -e UpToDate -e Diskless -e '' | wc -l", "0", 3*time.Minute)
	}
	if err := connected(n1); err != nil {
		return err
	}
	if err := r.sh(n1, "initial data", "drbdadm new-current-uuid --clear-bitmap r0 && drbdadm primary r0", time.Minute); err != nil {
		return err
	}
	if err := synced(n1); err != nil {
		return err
	}
	if err := r.record("q01-n1-primary-two-peers", all...); err != nil {
		return err
	}
	cut := func(n string, stage string) error {
		if err := b.CableLink(n, LinkRing, false); err != nil {
			return err
		}
		if err := r.sh(n, "wait disconnect", `for i in $(seq 120); do drbdadm cstate r0 | grep -qx Connected || exit 0; sleep 0.5; done; exit 1`, time.Minute); err != nil {
			return err
		}
		time.Sleep(3 * time.Second)
		if err := r.record(stage, all...); err != nil {
			return err
		}
		if err := b.CableLink(n, LinkRing, true); err != nil {
			return err
		}
		return connected(n)
	}
	if err := cut(n2, "q02-n2-ring-cut"); err != nil {
		return err
	}
	// A write without quorum fails at once (on-no-quorum io-error): recorded after it.
	if err := b.CableLink(n1, LinkRing, false); err != nil {
		return err
	}
	if err := r.sh(n1, "wait disconnect", `for i in $(seq 120); do drbdadm cstate r0 | grep -qx Connected || exit 0; sleep 0.5; done; exit 1`, time.Minute); err != nil {
		return err
	}
	time.Sleep(3 * time.Second)
	if err := r.sh(n1, "write without quorum", "mkdir -p "+recDir+"/q03-n1-ring-cut; dd if=/dev/zero of=/dev/drbd0 bs=4k count=1 oflag=direct >"+recDir+"/q03-n1-ring-cut/write.txt 2>&1; echo \"dd: exit $?\" >>"+recDir+"/q03-n1-ring-cut/write.txt", time.Minute); err != nil {
		return err
	}
	if err := r.record("q03-n1-ring-cut", all...); err != nil {
		return err
	}
	if err := b.CableLink(n1, LinkRing, true); err != nil {
		return err
	}
	if err := connected(n1); err != nil {
		return err
	}
	if err := synced(n1); err != nil {
		return err
	}
	return r.record("q04-back", all...)
}
