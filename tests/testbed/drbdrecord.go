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
func (b *Bed) RecordDRBD(out string) error {
	if b.st.Mode != "vm" || len(b.st.Nodes) != 2 || !IsDRBD9(b.DRBD()) {
		return errors.New("record-drbd needs the bed in vm mode with 2 nodes and DRBD 9 (8.4's recordings are pkg/drbd/testdata/drbd84)")
	}
	n1, n2 := b.st.Nodes[0], b.st.Nodes[1]
	res := DRBDResource(b.st.Nodes, b.st.FencePeer, IsDRBD9(b.DRBD()))
	for _, n := range b.st.Nodes {
		if out, err := b.Exec(n, 2*time.Minute, []byte(res), "/bin/bash", "-c",
			"set -e; modprobe drbd; drbdadm down r0 2>/dev/null || true; cat > /etc/drbd.d/r0.res; "+
				"wipefs -q -a /dev/vdb; drbdadm create-md --force r0 </dev/null >/dev/null 2>&1; rm -rf "+recDir+"; mkdir -p "+recDir); err != nil {
			return fmt.Errorf("%s: prepare r0: %v: %s", n, err, out)
		}
	}
	sh := func(n, what, script string, timeout time.Duration) error {
		if o, err := b.Sh(n, timeout+30*time.Second, script); err != nil {
			return fmt.Errorf("%s: %s: %v: %s", n, what, err, o)
		}
		return nil
	}
	// waitFor polls a drbdadm query on node n until it prints want (bounded).
	waitFor := func(n, query, want string, timeout time.Duration) error {
		return sh(n, query+" = "+want, fmt.Sprintf(`for i in $(seq %d); do [ "$(%s)" = %q ] && exit 0; sleep 0.5; done; %s; exit 1`,
			int(timeout/(500*time.Millisecond)), query, want, query), timeout)
	}
	record := func(stage string, nodes ...string) error {
		for _, n := range nodes {
			var sb strings.Builder
			d := recDir + "/" + stage + "/" + n
			fmt.Fprintf(&sb, "mkdir -p %s\n", d)
			for _, c := range drbdRecordCmds {
				fmt.Fprintf(&sb, "%s >%s/%s.out 2>%s/%s.err; echo $? >%s/%s.rc\n", c.cmd, d, c.name, d, c.name, d, c.name)
			}
			if err := sh(n, "record "+stage, sb.String(), time.Minute); err != nil {
				return err
			}
		}
		b.logf("recorded %s on %s", stage, strings.Join(nodes, ", "))
		return nil
	}
	// The stream: started right after r0 exists on each node, ended by SIGTERM at the end
	// (and bounded by timeout(1) if this run dies first).
	stream := func(n string) error {
		return sh(n, "events2 stream", "mkdir -p "+recDir+"/events2_stream; setsid timeout 1800 drbdsetup events2 r0 >"+recDir+"/events2_stream/"+n+".txt 2>&1 </dev/null & sleep 1", 10*time.Second)
	}
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
	for _, n := range b.st.Nodes {
		// The stream ends; r0 goes down (n2 demoted first).
		if err := sh(n, "end", "pkill -TERM -f '^drbdsetup events2 r0$'; sleep 1; drbdadm secondary r0; drbdadm down r0", time.Minute); err != nil {
			return err
		}
	}
	if err := sh(n1, "versions", "{ uname -r; drbdadm --version; head -1 /proc/drbd; } >"+recDir+"/versions.txt 2>&1", time.Minute); err != nil {
		return err
	}
	// Out through the share: a tar of the VM's directory, unpacked on the host.
	for _, n := range b.st.Nodes {
		if err := sh(n, "copy out", "tar -C "+recDir+" -cf /gtb/record.tar .", time.Minute); err != nil {
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
