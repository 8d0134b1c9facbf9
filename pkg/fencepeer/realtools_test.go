package fencepeer

// Tests of the built drbd-fence binary against a copy of a recorded CIB,
// with the host's real cibadmin on it (CIB_file). The tools that need a
// running cluster or DRBD are fakes first on PATH: crm_node prints
// $FAKE_NODE, crmadmin answers as a reachable controller when $FAKE_CRMADMIN
// is "ok" and as an unreachable one otherwise, drbdsetup prints the
// recorded events2 output $FAKE_EVENTS2 (from pkg/drbd/testdata). This
// host has no /proc/drbd, so the handler asks drbdsetup.
//
// The tests run on each set of recorded CIBs, but the host's cibadmin
// (Debian 12: Pacemaker 2.1.5, crm_feature_set 3.16.1, schemas up to
// pacemaker-3.9) cannot work on the Pacemaker 3.0 set: it refuses to load
// the pacemaker-4.0 CIBs (exit 78, "Update does not conform to the
// configured schema") and to write to cib-linbit-master.xml, which it can
// read (pacemaker-2.10) but whose crm_feature_set is 3.20.0 (exit 76,
// "Call failed: Protocol not supported"). newBed skips such CIBs, so on
// Debian 12 the pcmk3.0 subtests skip; TestHandlerRecordedCIBs runs the
// handler on the 3.0 set with a fake cibadmin instead. On a host with
// Pacemaker 3.0's tools both sets run.

import (
	"bytes"
	"cmp"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

func buildBinary(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("cibadmin"); err != nil {
		t.Skip("cibadmin not installed (pacemaker-cli-utils)")
	}
	if _, err := os.Stat("/proc/drbd"); err == nil {
		t.Skip("the DRBD module is loaded: the handler would read /proc/drbd, not the fakes")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "drbd-fence-test")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "drbd-fence")
		cmd := exec.Command("go", "build", "-o", binary, "../../agents/drbd-fence")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = err
			binary = string(out)
		}
	})
	if buildErr != nil {
		t.Fatalf("go build: %v\n%s", buildErr, binary)
	}
	return binary
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binary != "" && buildErr == nil {
		os.RemoveAll(filepath.Dir(binary))
	}
	os.Exit(code)
}

// bed is one CIB file with the fakes.
type bed struct {
	t        *testing.T
	bin, cib string
	fakes    string
	lockDir  string
	env      map[string]string
}

// newBed copies a recorded CIB (a path from cibSet.path); it skips the
// test when the host's cibadmin cannot work on it (hostCanWrite).
func newBed(t *testing.T, cib string) *bed {
	t.Helper()
	bin := buildBinary(t)
	data, err := os.ReadFile(cib)
	if err != nil {
		t.Fatal(err)
	}
	if why := hostCanWrite(t, data); why != "" {
		t.Skipf("%s: %s", cib, why)
	}
	b := &bed{t: t, bin: bin, env: map[string]string{}}
	dir := t.TempDir()
	b.cib = filepath.Join(dir, "cib.xml")
	if err := os.WriteFile(b.cib, data, 0o600); err != nil {
		t.Fatal(err)
	}
	b.fakes = filepath.Join(dir, "bin")
	b.lockDir = filepath.Join(dir, "lock")
	os.Mkdir(b.fakes, 0o755)
	for name, script := range map[string]string{
		"crm_node": "#!/bin/sh\necho \"$FAKE_NODE\"\n",
		"crmadmin": "#!/bin/sh\nif [ \"$FAKE_CRMADMIN\" = ok ]; then echo \"Controller on $4 in state S_NOT_DC: ok\"; exit 0; fi\n" +
			"echo 'error: Could not connect to controller: Connection refused' >&2; exit 102\n",
		"drbdsetup": "#!/bin/sh\n[ \"$1 $2 $3\" = \"events2 --now $DRBD_RESOURCE\" ] || exit 20\nexec cat \"$FAKE_EVENTS2\"\n",
	} {
		if err := os.WriteFile(filepath.Join(b.fakes, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b.env["FAKE_NODE"] = "node1"
	b.env["FAKE_CRMADMIN"] = "ok"
	b.env["DRBD_RESOURCE"] = "r0"
	b.env["DRBD_MINOR"] = "0"
	b.env["DRBD_PEER"] = "node2"
	return b
}

var (
	hostOnce                 sync.Once
	hostFeatures, hostSchema string
)

// hostCanWrite tells why the host's cibadmin cannot work on the CIB, or "":
// it refuses to load a CIB whose validate-with it has no schema for (exit
// 78, "Update does not conform to the configured schema") and to write one
// of a newer crm_feature_set (exit 76, "Protocol not supported").
func hostCanWrite(t *testing.T, cib []byte) string {
	t.Helper()
	hostOnce.Do(func() {
		// An empty CIB carries the tools' feature set and newest schema.
		out, err := exec.Command("cibadmin", "--empty").Output()
		if err != nil {
			return
		}
		hostFeatures, hostSchema = rootAttr(out, "crm_feature_set"), rootAttr(out, "validate-with")
	})
	if hostFeatures == "" {
		t.Fatal("cibadmin --empty: no crm_feature_set")
	}
	if fs := rootAttr(cib, "crm_feature_set"); compareVersions(fs, hostFeatures) > 0 {
		return fmt.Sprintf("crm_feature_set %s is newer than the host's cibadmin's (%s, newest schema %s)", fs, hostFeatures, hostSchema)
	}
	if v := rootAttr(cib, "validate-with"); compareVersions(strings.TrimPrefix(v, "pacemaker-"), strings.TrimPrefix(hostSchema, "pacemaker-")) > 0 {
		return fmt.Sprintf("the host's cibadmin has no schema %s (newest %s)", v, hostSchema)
	}
	return ""
}

// rootAttr is an attribute of a CIB's root element.
func rootAttr(cib []byte, name string) string {
	d := xml.NewDecoder(bytes.NewReader(cib))
	for {
		tok, err := d.Token()
		if err != nil {
			return ""
		}
		if se, ok := tok.(xml.StartElement); ok {
			for _, a := range se.Attr {
				if a.Name.Local == name {
					return a.Value
				}
			}
			return ""
		}
	}
}

// compareVersions compares dotted numbers as Pacemaker's compare_version.
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if c := cmp.Compare(x, y); c != 0 {
			return c
		}
	}
	return 0
}

func (b *bed) events(rel string) {
	b.env["FAKE_EVENTS2"] = filepath.Join("..", "drbd", "testdata", rel)
}

// run runs drbd-fence and returns its exit code and log.
func (b *bed) run(args ...string) (int, string) {
	b.t.Helper()
	cmd := exec.Command(b.bin, append(args, "--lock-dir="+b.lockDir, "--logfacility=", "--timeout=1", "--dc-timeout=1")...)
	cmd.Env = []string{"PATH=" + b.fakes + ":" + os.Getenv("PATH"), "CIB_file=" + b.cib}
	for k, v := range b.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		b.t.Fatal(err)
	}
	return code, out.String()
}

// cibadmin runs the real cibadmin on the bed's CIB.
func (b *bed) cibadmin(args ...string) string {
	b.t.Helper()
	cmd := exec.Command("cibadmin", args...)
	cmd.Env = append(os.Environ(), "CIB_file="+b.cib)
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.t.Fatalf("cibadmin %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func (b *bed) constraint(id string) (Constraint, bool) {
	b.t.Helper()
	c, err := ParseCIB([]byte(b.cibadmin("--query")))
	if err != nil {
		b.t.Fatal(err)
	}
	return c.Constraint(id)
}

func (b *bed) want(code int, wantLog string, args ...string) string {
	b.t.Helper()
	got, log := b.run(args...)
	if got != code || !strings.Contains(log, wantLog) {
		b.t.Errorf("drbd-fence %v: exit code %d, want %d; log lacks %q?\n%s", args, got, code, wantLog, log)
	}
	return log
}

const id84 = "drbd-fence-by-handler-r0-drbd-r0-clone"

func TestRealFenceIdempotentUnfence(t *testing.T) {
	eachSet(t, func(t *testing.T, set cibSet) {
		b := newBed(t, set.path("cib-gocf-clone.xml"))
		b.events("drbd84/09-survivor-after-peer-killed/node1/events2_now.out")
		b.want(ExitOutdated, "peers are reachable", "fence-peer")
		c, ok := b.constraint(id84)
		if !ok || c.XML() != linbit84 {
			t.Fatalf("constraint after fence-peer:\n%s\nwant\n%s", c.XML(), linbit84)
		}
		before := b.cibadmin("--query", "--scope", "constraints")
		b.want(ExitOutdated, "already in place", "fence-peer")
		if after := b.cibadmin("--query", "--scope", "constraints"); after != before {
			t.Errorf("second fence-peer changed the constraints:\n%s\nwas\n%s", after, before)
		}
		// DRBD 8.4: resync running, the peer not UpToDate yet: stays, exit 1.
		b.events("drbd84/03-syncing/node1/events2_now.out")
		b.want(ExitError, "leaving constraint "+id84+" in place", "unfence-peer")
		if _, ok := b.constraint(id84); !ok {
			t.Fatal("unfence-peer removed the constraint during the resync")
		}
		b.events("drbd84/04-primary-secondary-uptodate/node1/events2_now.out")
		b.want(0, "removed constraint "+id84, "unfence-peer")
		if _, ok := b.constraint(id84); ok {
			t.Fatal("constraint still there")
		}
		b.want(0, "nothing to do", "unfence-peer")
	})
}

func TestRealFencePeerStates(t *testing.T) {
	eachSet(t, func(t *testing.T, set cibSet) {
		// Fenced by the cluster (crm_simulate ran the fencing): 7.
		b := newBed(t, set.path("cib-peer-fenced.xml"))
		b.events("drbd84/09-survivor-after-peer-killed/node1/events2_now.out")
		b.want(ExitStonithed, "fenced by the cluster", "fence-peer")
		if _, ok := b.constraint(id84); !ok {
			t.Error("no constraint after exit 7")
		}
		// Lost, not fenced within --timeout, local disk UpToDate: placed, 5.
		b = newBed(t, set.path("cib-peer-unclean.xml"))
		b.events("drbd84/09-survivor-after-peer-killed/node1/events2_now.out")
		b.want(ExitUnreachable, "placed the constraint anyway", "fence-peer")
		// Same, but the local disk is not UpToDate: nothing placed, 5.
		b = newBed(t, set.path("cib-peer-unclean.xml"))
		b.events("drbd84/01-up-waitconnection/node1/events2_now.out")
		b.want(ExitUnreachable, "did not place", "fence-peer")
		if _, ok := b.constraint(id84); ok {
			t.Error("constraint placed without good local data")
		}
		// Peer reachable but the peer disk is UpToDate again: nothing, 1.
		b = newBed(t, set.path("cib-gocf-clone.xml"))
		b.events("drbd84/04-primary-secondary-uptodate/node1/events2_now.out")
		b.want(ExitError, "all peer disks are UpToDate", "fence-peer")
	})
}

func TestRealLinbitClone(t *testing.T) {
	eachSet(t, func(t *testing.T, set cibSet) {
		b := newBed(t, set.path("cib-linbit-clone.xml"))
		b.events("drbd84/09-survivor-after-peer-killed/node1/events2_now.out")
		b.want(ExitOutdated, "placed the constraint", "fence-peer")
		if c, ok := b.constraint("drbd-fence-by-handler-r0-ms-r0"); !ok || c.Rsc != "ms-r0" || c.Role != "Promoted" {
			t.Errorf("linbit clone: %+v %v", c, ok)
		}
		if _, ok := b.constraint("drbd-fence-by-handler-r9-ms-other"); ok {
			t.Error("fenced the other clone")
		}
	})
}

func TestRealLinbitMaster(t *testing.T) {
	eachSet(t, func(t *testing.T, set cibSet) {
		// A CIB still on pacemaker-2.10 with <master>: role Master.
		b := newBed(t, set.path("cib-linbit-master.xml"))
		b.events("drbd84/09-survivor-after-peer-killed/node1/events2_now.out")
		b.want(ExitOutdated, "placed the constraint", "fence-peer")
		if c, ok := b.constraint("drbd-fence-by-handler-r0-ms_drbd_r0"); !ok || c.Role != "Master" {
			t.Errorf("master: %+v %v", c, ok)
		}
		b.events("drbd84/04-primary-secondary-uptodate/node1/events2_now.out")
		b.want(0, "removed constraint", "unfence-peer")
	})
}

func TestRealNoClone(t *testing.T) {
	eachSet(t, func(t *testing.T, set cibSet) {
		b := newBed(t, set.path("cib-no-clone.xml"))
		b.events("drbd84/09-survivor-after-peer-killed/node1/events2_now.out")
		// LINBIT's scripts exit 1 when fence_peer_init finds no clone.
		b.want(ExitError, "no promotable clone of ocf:gocf:drbd or ocf:linbit:drbd with drbd_resource=r0", "fence-peer")
		// r1 has a clone, but not a promotable one: named in the log.
		b.env["DRBD_RESOURCE"] = "r1"
		b.want(ExitError, "drbd-r1-clone of ocf:gocf:drbd is not promotable", "fence-peer")
		b.env["DRBD_RESOURCE"] = "r0"
		b.want(ExitError, "no promotable clone", "unfence-peer")
		// No DRBD_RESOURCE at all: exit 1, as LINBIT's.
		delete(b.env, "DRBD_RESOURCE")
		b.want(ExitError, "DRBD_RESOURCE is not set", "fence-peer")
		// Not a command.
		b.want(ExitError, "want fence-peer or unfence-peer", "outdate-peer")
	})
}

// linbitDRBD9 sets the environment DRBD 9 passes for node3 (id 2) of
// cib-three.xml, with UpToDate data on the nodes of mask.
func linbitDRBD9(b *bed, mask string) {
	delete(b.env, "DRBD_PEER")
	delete(b.env, "DRBD_MINOR")
	for k, v := range map[string]string{"DRBD_RESOURCE": "drbd1", "UP_TO_DATE_NODES": mask, "DRBD_MY_NODE_ID": "2",
		"DRBD_NODE_ID_0": "node1", "DRBD_NODE_ID_1": "node2", "DRBD_NODE_ID_2": "node3", "DRBD_PEER_NODE_ID": "1", "FAKE_NODE": "node3"} {
		b.env[k] = v
	}
}

func TestRealInteropWithLinbit(t *testing.T) {
	eachSet(t, func(t *testing.T, set cibSet) {
		const id9 = "drbd-fence-by-handler-drbd1-drbd1-clone"
		// LINBIT's DRBD 9 constraint (role Master, its expression ids), placed
		// as its script does (cibadmin on the constraints section).
		b := newBed(t, set.path("cib-three.xml"))
		linbitDRBD9(b, "0x5")
		b.cibadmin("--create", "--scope", "constraints", "--xml-text", linbit9)
		// gocf's fence-peer sees the same constraint: nothing to change, 4.
		b.events("drbd9/events2-now-statistics-3node-centreon.txt")
		before := b.cibadmin("--query", "--scope", "constraints")
		code, log := b.run("fence-peer")
		if !strings.Contains(log, "already in place") {
			t.Errorf("fence-peer over LINBIT's constraint (exit %d):\n%s", code, log)
		}
		// All peers are UpToDate in this recording: the double check after
		// fencing removes the constraint again, as LINBIT's does.
		if code != ExitError || strings.Contains(b.cibadmin("--query", "--scope", "constraints"), id9) {
			t.Errorf("exit %d; constraints:\n%s\nbefore:\n%s", code, b.cibadmin("--query", "--scope", "constraints"), before)
		}
		// gocf's unfence-peer removes LINBIT's constraint once all disks are
		// UpToDate (the 3-node recording).
		b.cibadmin("--create", "--scope", "constraints", "--xml-text", linbit9)
		b.want(0, "removed constraint "+id9, "unfence-peer")
		if _, ok := b.constraint(id9); ok {
			t.Error("LINBIT's constraint survived unfence-peer")
		}

		// gocf's constraint is the one LINBIT's script looks for: its id, and
		// LINBIT's remove_constraint (cibadmin -D -X '<rsc_location rsc= id=/>')
		// deletes it.
		b = newBed(t, set.path("cib-gocf-clone.xml"))
		b.events("drbd84/09-survivor-after-peer-killed/node1/events2_now.out")
		linbitDRBD9(b, "0x1")
		b.env["DRBD_RESOURCE"], b.env["DRBD_MY_NODE_ID"], b.env["FAKE_NODE"] = "r0", "0", "node1"
		b.env["DRBD_NODE_ID_2"] = ""
		b.want(ExitOutdated, "placed the constraint", "fence-peer")
		c, ok := b.constraint(id84)
		want := NewConstraint("drbd-fence-by-handler", "r0", "drbd-r0-clone", "Master", []string{"node1"}, []int{0})
		if !ok || !c.Equivalent(want) || c.Exprs[0].ID != "drbd-fence-by-handler-r0-expr-0-drbd-r0-clone" || c.RuleID != want.RuleID {
			t.Fatalf("DRBD 9 constraint %+v, want the shape of\n%s", c, want.XML())
		}
		b.cibadmin("--delete", "--xml-text", `<rsc_location rsc="drbd-r0-clone" id="`+id84+`"/>`)
		if _, ok := b.constraint(id84); ok {
			t.Error("LINBIT's remove_constraint did not remove gocf's constraint")
		}
	})
}

func TestRealDRBD9Narrowing(t *testing.T) {
	eachSet(t, func(t *testing.T, set cibSet) {
		b := newBed(t, set.path("cib-three.xml"))
		// node3 fences node2 (mask node1+node3), node2 reachable, its disk
		// unknown: allowed node1 and node3.
		linbitDRBD9(b, "0x5")
		b.events("drbd84/09-survivor-after-peer-killed/node1/events2_now.out")
		b.env["DRBD_RESOURCE"] = "r0"
		b.cibadmin("--create", "--scope", "resources", "--xml-text", `<clone id="drbd-r0-clone"><primitive id="p-r0" class="ocf" provider="gocf" type="drbd"><instance_attributes id="p-r0-ia"><nvpair id="p-r0-res" name="drbd_resource" value="r0"/></instance_attributes></primitive><meta_attributes id="c-r0-meta"><nvpair id="c-r0-prom" name="promotable" value="true"/></meta_attributes></clone>`)
		b.want(ExitOutdated, "placed the constraint", "fence-peer")
		c, _ := b.constraint("drbd-fence-by-handler-r0-drbd-r0-clone")
		if got, _ := c.Allowed(); strings.Join(got, " ") != "node1 node3" {
			t.Fatalf("allowed %v", got)
		}
		// Then node1 is lost too (mask node3 only): the constraint narrows.
		b.env["UP_TO_DATE_NODES"] = "0x4"
		b.want(ExitOutdated, "placed the constraint", "fence-peer")
		c, _ = b.constraint("drbd-fence-by-handler-r0-drbd-r0-clone")
		if got, _ := c.Allowed(); strings.Join(got, " ") != "node3" {
			t.Fatalf("allowed %v after narrowing", got)
		}
		// unfence-peer while a peer is still not UpToDate (DRBD 9): left in
		// place, exit 0, widened to the nodes now UpToDate.
		b.env["UP_TO_DATE_NODES"] = "0x5"
		b.events("drbd84/03-syncing/node1/events2_now.out")
		b.want(0, "now allows node1 node3", "unfence-peer")
	})
}
