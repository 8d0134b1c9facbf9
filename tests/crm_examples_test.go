package tests

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/gocf/gocf/tests/lab"
)

// One example of crm-examples/: what it runs and where the service shows.
type crmExample struct {
	service string // the resource that shows where the service runs
	drbd    bool   // has the DRBD clone (promotion scores to inject)
	snippet bool   // an addition to a cluster with fencing: load fencing-sbd.crm first
	// Has priorities: the fencing of the node running it is delayed by
	// priority-fencing-delay, so that this node wins a fence race.
	priority bool
	// The PBX: migration-threshold=3 and failure-timeout=10min, so that
	// a fault a restart does not cure moves it (see TestCrmExamples).
	pbx bool
	// tiebreaker names a third node, DRBD's diskless tiebreaker: it runs
	// an unpromoted instance of the clone (scored 10, as the agent scores
	// a diskless node whose peer has the data) and never the PBX.
	tiebreaker string
}

var crmExamples = map[string]crmExample{
	"fencing-sbd": {service: "fence-sbd"},
	"vip":         {service: "pbx-vip", snippet: true},
	"vip6":        {service: "pbx-vip6", snippet: true},
	"fsmount-vip": {service: "pbx-vip", snippet: true},
	"pbx-drbd":    {service: "pbx-asterisk", drbd: true, priority: true, pbx: true},
	// Three nodes have a majority: no priority-fencing-delay.
	"pbx-drbd9-quorum": {service: "pbx-asterisk", drbd: true, pbx: true, tiebreaker: "pbx3"},
	"pbx-shared":       {service: "pbx-asterisk", priority: true, pbx: true},
	"pbx-ipv6":         {service: "pbx-asterisk", priority: true, pbx: true},
}

// TestCrmExamples loads every crm example with crmsh, and runs every pcs
// script with pcs -f, into a fresh CIB with the default cluster properties
// (fencing enabled) and two online nodes, next to the installed gocf
// package and fence-agents (so both check each parameter against the
// agents' meta-data). Loading must not warn and crm_verify must have
// nothing to say. crm_simulate must then start every primitive, fence-sbd
// included; when the node running the service shuts down everything moves
// without fencing, and when it fails it is fenced first (in the PBX
// examples after priority-fencing-delay, so it wins a fence race) and
// everything moves. In the PBX examples a fault that a restart does not
// cure (the depth 20 SIP monitor failing again and again) restarts
// Asterisk in place twice and moves the PBX at the third failure
// (migration-threshold=3); when the failures expire (failure-timeout) it
// stays where it is (stickiness). r0.res and the README's DRBD 8.4 variant must parse
// with drbdadm 9 and 8.4. The small examples (vip, vip6, fsmount-vip) are
// loaded after fencing-sbd; the others are complete.
func TestCrmExamples(t *testing.T) {
	deb, _ := packages(t)
	base := lab.DebianChroot(t, "bookworm", "pacemaker-cli-utils", "crmsh", "resource-agents", "man-db", "iproute2", "libxml2-utils")
	// pcs reads the daemons' meta-data (pacemaker), crmsh and pcs the fence
	// agent's (fence-agents ships fence_sbd); drbdadm parses r0.res.
	lower := chrootWith(t, base, "pacemaker", "fence-agents", "pcs", "drbd-utils")
	root := lab.Overlay(t, lower)
	root.CopyIn(t, deb, "/tmp/gocf-agents.deb")
	root.Run(t, "dpkg", "-i", "/tmp/gocf-agents.deb")
	dir := filepath.Join(lab.RepoRoot(), "crm-examples")
	root.CopyIn(t, filepath.Join(dir, "fencing-sbd.crm"), "/tmp/fencing-sbd.crm")
	root.CopyIn(t, filepath.Join(dir, "fencing-sbd.pcs"), "/tmp/fencing-sbd.pcs")

	for _, kind := range []string{"crm", "pcs"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*."+kind))
		var names []string
		for _, f := range files {
			names = append(names, strings.TrimSuffix(filepath.Base(f), "."+kind))
		}
		var want []string
		for n := range crmExamples {
			want = append(want, n)
		}
		sort.Strings(want)
		if strings.Join(names, " ") != strings.Join(want, " ") {
			t.Fatalf("crm-examples/*.%s are %v, this test expects %v: one .crm and one .pcs per example", kind, names, want)
		}
		for _, f := range files {
			name := filepath.Base(f)
			ex := crmExamples[strings.TrimSuffix(name, "."+kind)]
			t.Run(name, func(t *testing.T) {
				text, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				if regexp.MustCompile(`stonith-enabled\W+(false|no|0)`).Match(text) {
					t.Fatalf("%s disables fencing", name)
				}
				if ex.snippet == strings.Contains(string(text), "fence-sbd") {
					t.Fatalf("%s: only the examples that are not additions to a fenced cluster define fence-sbd", name)
				}
				root.CopyIn(t, f, "/tmp/example."+kind)
				load := "crm configure load update /tmp/example.crm\n"
				if ex.snippet {
					load = "crm configure load update /tmp/fencing-sbd.crm\n" + load
				}
				if kind == "pcs" {
					// The scripts' own way to build a CIB offline (their header).
					load = "pcs() { command pcs -f /tmp/cib.xml \"$@\"; }\n"
					if ex.snippet {
						load += ". /tmp/fencing-sbd.pcs\n"
					}
					load += ". /tmp/example.pcs\n"
				}
				simulateExample(t, root, load, ex)
			})
		}
	}

	t.Run("r0.res", func(t *testing.T) {
		// The handler r0.res names comes with the package.
		root.Run(t, "test", "-x", "/usr/lib/gocf/drbd-fence")
		// r0.res with DRBD 9's drbdadm, the README's 8.4 variant with 8.4's.
		readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
		if err != nil {
			t.Fatal(err)
		}
		_, r84, _ := strings.Cut(string(readme), "### DRBD 8.4\n")
		_, r84, _ = strings.Cut(r84, "```\n")
		r84, _, _ = strings.Cut(r84, "```")
		if !strings.HasPrefix(r84, "resource r0 {") {
			t.Fatalf("no DRBD 8.4 resource in crm-examples/README.md under \"### DRBD 8.4\": %q", r84)
		}
		f84 := filepath.Join(t.TempDir(), "r0-84.res")
		if err := os.WriteFile(f84, []byte(r84), 0o644); err != nil {
			t.Fatal(err)
		}
		root.CopyIn(t, f84, "/tmp/r0-84.res")
		root.CopyIn(t, filepath.Join(dir, "r0.res"), "/tmp/r0.res")
		for _, v := range []struct{ file, drbdadm, net, unfence string }{
			{"r0.res", "drbdadm", "net", "unfence-peer"},
			{"r0-84.res", "/lib/drbd/drbdadm-84", "disk", "after-resync-target"},
		} {
			for _, node := range []string{"pbx1", "pbx2"} {
				out := root.Run(t, "sh", "-c", `printf 'include "/tmp/`+v.file+`";\n' > /tmp/drbd.conf
unshare --uts sh -c 'hostname `+node+` && `+v.drbdadm+` -c /tmp/drbd.conf dump r0' 2>&1`)
				for _, re := range []string{`protocol\s+C;`, `(?s)` + v.net + ` \{[^}]*fencing\s+resource-and-stonith;`,
					`fence-peer\s+"/usr/lib/gocf/drbd-fence fence-peer";`, v.unfence + `\s+"/usr/lib/gocf/drbd-fence unfence-peer";`,
					`ipv4 203.0.113.1:7789;`, `ipv4 203.0.113.2:7789;`, `after-sb-0pri\s+discard-zero-changes;`,
					`after-sb-1pri\s+discard-secondary;`, `after-sb-2pri\s+disconnect;`} {
					if !regexp.MustCompile(re).MatchString(out) {
						t.Fatalf("%s dump r0 of %s on %s does not match %s:\n%s", v.drbdadm, v.file, node, re, out)
					}
				}
			}
		}
		// r0-quorum.res (pbx-drbd9-quorum.crm's), DRBD 9 only, on each of its three nodes.
		root.CopyIn(t, filepath.Join(dir, "r0-quorum.res"), "/tmp/r0-quorum.res")
		for _, node := range []string{"pbx1", "pbx2", "pbx3"} {
			out := root.Run(t, "sh", "-c", `printf 'include "/tmp/r0-quorum.res";\n' > /tmp/drbd.conf
unshare --uts sh -c 'hostname `+node+` && drbdadm -c /tmp/drbd.conf dump r0' 2>&1`)
			for _, re := range []string{`protocol\s+C;`, `quorum\s+majority;`, `on-no-quorum\s+io-error;`, `auto-promote\s+no;`,
				`ipv4 203.0.113.1:7789;`, `ipv4 203.0.113.2:7789;`, `ipv4 203.0.113.3:7789;`, `(?s)on pbx3 \{.*disk\s+none;`,
				`connection-mesh \{\s*hosts\s+pbx1 pbx2 pbx3;`} {
				if !regexp.MustCompile(re).MatchString(out) {
					t.Fatalf("drbdadm dump r0 of r0-quorum.res on %s does not match %s:\n%s", node, re, out)
				}
			}
		}
	})
}

// simulateExample makes a fresh CIB with two nodes and default properties,
// runs load (crmsh or pcs commands) in it and checks the result.
func simulateExample(t *testing.T, root *lab.Root, load string, ex crmExample) {
	t.Helper()
	// The nodes are up and the cluster quorate before the configuration
	// is loaded, as on a new cluster (without status crm_verify would
	// schedule the fencing of nodes it knows nothing about).
	third := ""
	if ex.tiebreaker != "" {
		third = "CIB_file=/tmp/empty.xml cibadmin -C -o nodes -X '<node id=\"3\" uname=\"" + ex.tiebreaker + "\"/>'\n"
	}
	script := `set -e
cd /tmp
rm -f *.xml
cibadmin --empty > empty.xml
CIB_file=/tmp/empty.xml cibadmin -C -o nodes -X '<node id="1" uname="n1"/>'
CIB_file=/tmp/empty.xml cibadmin -C -o nodes -X '<node id="2" uname="n2"/>'
` + third + `crm_simulate -x empty.xml -q 1 -u n1 -u n2 ` + map[bool]string{true: "-u " + ex.tiebreaker, false: ""}[third != ""] + ` -O cib.xml >/dev/null
export CIB_file=/tmp/cib.xml
echo '== load'
{
` + load + `
} 2>&1
echo '== verify'
crm_verify -V -x cib.xml 2>&1 || echo "crm_verify: exit $?"
echo '== end'
unset CIB_file
cp cib.xml s0.xml
`
	if ex.drbd {
		// What the drbd agent's monitor would set: n1 has the better data.
		script += "CIB_file=/tmp/s0.xml crm_attribute -N n1 -n master-pbx-drbd -l reboot -v 10000\n" +
			"CIB_file=/tmp/s0.xml crm_attribute -N n2 -n master-pbx-drbd -l reboot -v 1000\n"
		if ex.tiebreaker != "" {
			script += "CIB_file=/tmp/s0.xml crm_attribute -N " + ex.tiebreaker + " -n master-pbx-drbd -l reboot -v 10\n"
		}
	}
	// Probes, then starts, then promotion: one transition each; the
	// fourth must have nothing to do.
	script += `crm_simulate -x s0.xml -S -O s1.xml >/dev/null
crm_simulate -x s1.xml -S -O s2.xml >/dev/null
crm_simulate -x s2.xml -S -O s3.xml >/dev/null
echo '== placed'
CIB_file=/tmp/s3.xml crm_mon -1 -r --output-as=xml
echo '== idle'
crm_simulate -x s3.xml -S | sed -n '/^Transition Summary/,/^Revised/p'
echo '== cib'
cat cib.xml
`
	sec := runSections(t, root, script, "simulation")
	part := sec.part
	for _, l := range strings.Split(part("load"), "\n") {
		if regexp.MustCompile(`(?i)warning|error|deprecat`).MatchString(l) && !pcsChrootNoise[l] {
			t.Errorf("loading the example: %s", l)
		}
	}
	if v := strings.TrimSpace(part("verify")); v != "" {
		t.Fatalf("crm_verify is not clean:\n%s", v)
	}
	// Every primitive of the configuration, from the CIB.
	var cib struct {
		Primitives []struct {
			ID    string `xml:"id,attr"`
			Class string `xml:"class,attr"`
		} `xml:"configuration>resources>primitive"`
		Groups []struct {
			Primitives []struct {
				ID string `xml:"id,attr"`
			} `xml:"primitive"`
		} `xml:"configuration>resources>group"`
		Clones []struct {
			Primitives []struct {
				ID string `xml:"id,attr"`
			} `xml:"primitive"`
			Groups []struct {
				Primitives []struct {
					ID string `xml:"id,attr"`
				} `xml:"primitive"`
			} `xml:"group"`
		} `xml:"configuration>resources>clone"`
		Props []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"configuration>crm_config>cluster_property_set>nvpair"`
	}
	if err := xml.Unmarshal([]byte(part("cib")), &cib); err != nil {
		t.Fatalf("cib.xml: %v", err)
	}
	var prims []string
	stonith := 0
	for _, p := range cib.Primitives {
		prims = append(prims, p.ID)
		if p.Class == "stonith" {
			stonith++
			if p.ID != "fence-sbd" {
				t.Errorf("fencing device %s: the examples name it fence-sbd", p.ID)
			}
		}
	}
	for _, g := range cib.Groups {
		for _, p := range g.Primitives {
			prims = append(prims, p.ID)
		}
	}
	cloned := map[string]bool{}
	for _, c := range cib.Clones {
		for _, p := range c.Primitives {
			prims = append(prims, p.ID)
			cloned[p.ID] = true
		}
		for _, g := range c.Groups {
			for _, p := range g.Primitives {
				prims = append(prims, p.ID)
				cloned[p.ID] = true
			}
		}
	}
	if stonith != 1 {
		t.Errorf("want one fencing device (fence-sbd), found %d", stonith)
	}
	for _, p := range cib.Props {
		if p.Name == "stonith-enabled" && p.Value != "true" {
			t.Errorf("stonith-enabled=%s", p.Value)
		}
	}

	placed := crmMonResources(t, part("placed"))
	for _, id := range prims {
		rs := placed[id]
		if len(rs) == 0 {
			t.Errorf("%s is not running after start-up", id)
		}
		for _, r := range rs {
			if r.Active != "true" || r.Failed == "true" || !(r.Role == "Started" || r.Role == "Promoted" || r.Role == "Unpromoted") {
				t.Errorf("%s after start-up: role %s active %s failed %s on %v", id, r.Role, r.Active, r.Failed, r.Nodes)
			}
		}
	}
	// The node running the service (where resources go first is up to
	// the scheduler's balancing, but the DRBD example's promotion scores
	// put it on n1), and the other one.
	on := placed.nodes(ex.service, "Started")
	if len(on) != 1 {
		t.Fatalf("%s started on %v, want one node", ex.service, on)
	}
	active, other := on[0], map[string]string{"n1": "n2", "n2": "n1"}[on[0]]
	if ex.drbd {
		if active != "n1" {
			t.Errorf("%s started on %s, want n1 (higher promotion score)", ex.service, active)
		}
		if on := placed.nodes("pbx-drbd", "Promoted"); strings.Join(on, " ") != "n1" {
			t.Errorf("DRBD promoted on %v, want n1", on)
		}
		if on := placed.nodes("pbx-drbd", "Unpromoted"); strings.Join(on, " ") != strings.TrimSpace("n2 "+ex.tiebreaker) {
			t.Errorf("DRBD unpromoted on %v, want n2 %s", on, ex.tiebreaker)
		}
	}
	if idle := part("idle"); regexp.MustCompile(`\* (Start|Stop|Promote|Demote|Move|Recover|Fenc)`).MatchString(idle) {
		t.Errorf("the cluster is not settled after start-up:\n%s", idle)
	}
	if t.Failed() {
		t.FailNow()
	}

	if ex.pbx {
		checkMigration(t, root, active, other, prims, cloned, ex)
	}

	// The node running the service shuts down cleanly: everything goes to
	// the other node, no fencing. It fails (crash, power, cable; what
	// corosync tells the controller, as crm_simulate's --node-fail leaves
	// the node online): it is fenced before its resources move.
	id := map[string]string{"n1": "1", "n2": "2"}[active]
	sec.out += root.Run(t, "sh", "-c", `set -e
cd /tmp
echo '== shutdown'
crm_simulate -x s3.xml -d `+active+` -S -O d4.xml
crm_simulate -x d4.xml -S -O d5.xml >/dev/null
echo '== after shutdown'
CIB_file=/tmp/d5.xml crm_mon -1 -r --output-as=xml
cp s3.xml f4.xml
CIB_file=/tmp/f4.xml cibadmin -M -o status -X '<node_state id="`+id+`" uname="`+active+`" in_ccm="false" crmd="offline" join="down"/>'
echo '== failure'
crm_simulate -x f4.xml -S -G f-graph.xml -O f5.xml
crm_simulate -x f5.xml -S -O f6.xml >/dev/null
echo '== after failure'
CIB_file=/tmp/f6.xml crm_mon -1 -r --output-as=xml
echo '== graph'
cat f-graph.xml
`)
	fence := regexp.MustCompile(`(?m)^\s*\* Fencing ` + active + ` \(reboot\)`)
	if f := part("shutdown"); strings.Contains(f, "Fencing") {
		t.Errorf("%s fenced after a clean shutdown:\n%s", active, f)
	}
	if f := part("failure"); !fence.MatchString(f) {
		t.Errorf("%s not fenced after it failed:\n%s", active, f)
	}
	if ex.priority {
		// Seen from the other node, which has no majority either: the
		// fencing of the node with the PBX waits priority-fencing-delay.
		op := regexp.MustCompile(`operation_key="stonith-` + active + `-reboot"[^>]*>\s*<attributes ([^>]*)>`).FindStringSubmatch(part("graph"))
		if op == nil || !strings.Contains(op[1], `CRM_meta_priority_fencing_delay="15"`) {
			t.Errorf("the fencing of %s, which runs the PBX, is not delayed by priority-fencing-delay: %v", active, op)
		}
	}
	for _, how := range []string{"shutdown", "failure"} {
		after := crmMonResources(t, part("after "+how))
		for _, id := range prims {
			running := 0
			for _, r := range after[id] {
				if r.Active != "true" {
					if !cloned[id] || r.Role != "Stopped" {
						t.Errorf("%s after the %s of %s: role %s, not active", id, how, active, r.Role)
					}
					continue
				}
				running++
				if cloned[id] && ex.tiebreaker != "" && strings.Join(r.Nodes, " ") == ex.tiebreaker && r.Role == "Unpromoted" {
					continue // the tiebreaker's instance stays where it is
				}
				if r.Failed == "true" || strings.Join(r.Nodes, " ") != other {
					t.Errorf("%s after the %s of %s: role %s failed %s on %v, want running on %s", id, how, active, r.Role, r.Failed, r.Nodes, other)
				}
			}
			if running == 0 {
				t.Errorf("%s not running after the %s of %s", id, how, active)
			}
		}
		if on := after.nodes(ex.service, "Started"); strings.Join(on, " ") != other {
			t.Errorf("%s on %v after the %s of %s, want %s", ex.service, on, how, active, other)
		}
		if ex.drbd {
			if on := after.nodes("pbx-drbd", "Promoted"); strings.Join(on, " ") != other {
				t.Errorf("DRBD promoted on %v after the %s of %s, want %s", on, how, active, other)
			}
		}
	}
}

// checkMigration injects failures of Asterisk's depth 20 (SIP) monitor on
// the node running the PBX, one transition each, as a SIP stack that a
// restart does not cure would give: the first two recover Asterisk in
// place, the third moves the whole PBX (and DRBD's promotion) to the other
// node. Eleven minutes later the failures have expired and nothing moves
// back.
func checkMigration(t *testing.T, root *lab.Root, active, other string, prims []string, cloned map[string]bool, ex crmExample) {
	t.Helper()
	drbdScores := ""
	if ex.drbd {
		// What the drbd agent's monitors set once the pair is connected
		// and UpToDate on both sides (adjust_master_score's 10000): the
		// test's start-up scores favour n1 for good.
		drbdScores = "CIB_file=/tmp/m3.xml crm_attribute -N n1 -n master-pbx-drbd -l reboot -v 10000\n" +
			"CIB_file=/tmp/m3.xml crm_attribute -N n2 -n master-pbx-drbd -l reboot -v 10000\n"
		if ex.tiebreaker != "" {
			drbdScores += "CIB_file=/tmp/m3.xml crm_attribute -N " + ex.tiebreaker + " -n master-pbx-drbd -l reboot -v 10\n"
		}
	}
	script := `set -e
cd /tmp
cp s3.xml m0.xml
for i in 1 2 3; do
	echo "== failure $i"
	crm_simulate -x m$((i-1)).xml -i pbx-asterisk_monitor_30000@` + active + `=1 -S -O m$i-a.xml | sed -n '/^Transition Summary/,/^Executing/p'
	crm_simulate -x m$i-a.xml -S -O m$i.xml >/dev/null
	echo "== after failure $i"
	CIB_file=/tmp/m$i.xml crm_mon -1 -r --output-as=xml
done
` + drbdScores + `echo '== expired'
crm_simulate -x m3.xml -t "$(date -u -d '+11 min' '+%Y-%m-%d %H:%M:%SZ')" -S | sed -n '/^Transition Summary/,/^Executing/p'
for m in 5 11; do
	echo "== scores after $m min"
	crm_simulate -x m3.xml -t "$(date -u -d "+$m min" '+%Y-%m-%d %H:%M:%SZ')" -s | grep 'group.*: pbx-asterisk allocation score on ` + active + `:' || true
done
`
	part := runSections(t, root, script, "failures of the SIP monitor").part
	for i, want := range []string{active, active, other} {
		n := strconv.Itoa(i + 1)
		summary := part("failure " + n)
		if want == active && !regexp.MustCompile(`\* Recover\s+pbx-asterisk\s+\(\s*`+active+`\s*\)`).MatchString(summary) {
			t.Errorf("failure %s: want Asterisk recovered on %s:\n%s", n, active, summary)
		}
		after := crmMonResources(t, part("after failure "+n))
		for _, id := range prims {
			if cloned[id] || id == "fence-sbd" {
				continue
			}
			if on := after.nodes(id, "Started"); strings.Join(on, " ") != want {
				t.Errorf("after failure %s of the SIP monitor: %s on %v, want %s", n, id, on, want)
			}
		}
		if ex.drbd {
			if on := after.nodes("pbx-drbd", "Promoted"); strings.Join(on, " ") != want {
				t.Errorf("after failure %s: DRBD promoted on %v, want %s", n, on, want)
			}
		}
	}
	// The failures keep Asterisk off the node for failure-timeout, then
	// no longer (the group's score: the member's own stays -INFINITY
	// while it is colocated with the address on the other node).
	if sc := part("scores after 5 min"); !strings.Contains(sc, "-INFINITY") {
		t.Errorf("5 minutes after the failures, Asterisk may run on %s again:\n%s", active, sc)
	}
	if sc := part("scores after 11 min"); strings.TrimSpace(sc) == "" || strings.Contains(sc, "-INFINITY") {
		t.Errorf("11 minutes after the failures, Asterisk is still kept off %s:\n%s", active, sc)
	}
	if expired := part("expired"); regexp.MustCompile(`\* (Start|Stop|Promote|Demote|Move|Recover|Migrate)`).MatchString(expired) {
		t.Errorf("once the failures expired, the PBX does not stay on %s:\n%s", other, expired)
	}
}

// What pcs says in any chroot and for any defaults: not about the example.
var pcsChrootNoise = map[string]bool{
	"Warning: Unable to detect init system. All actions related to system services will be skipped.": true,
	"Warning: Defaults do not apply to resources which override them with their own defined values":  true,
}

type monResource struct {
	ID     string `xml:"id,attr"`
	Role   string `xml:"role,attr"`
	Active string `xml:"active,attr"`
	Failed string `xml:"failed,attr"`
	Nodes  []string
	Node   []struct {
		Name string `xml:"name,attr"`
	} `xml:"node"`
}

type monResources map[string][]monResource

// nodes lists the nodes where instances of id have role.
func (m monResources) nodes(id, role string) []string {
	var on []string
	for _, r := range m[id] {
		if r.Role == role {
			on = append(on, r.Nodes...)
		}
	}
	sort.Strings(on)
	return on
}

// crmMonResources reads crm_mon's XML: every primitive instance, whether
// at the top, in a group or in a clone, by its id (clone instances share it,
// without the :N suffix).
func crmMonResources(t *testing.T, doc string) monResources {
	t.Helper()
	type group struct {
		Resources []monResource `xml:"resource"`
	}
	var mon struct {
		Resources []monResource `xml:"resources>resource"`
		Groups    []group       `xml:"resources>group"`
		Clones    []struct {
			Resources []monResource `xml:"resource"`
			Groups    []group       `xml:"group"`
		} `xml:"resources>clone"`
	}
	if err := xml.Unmarshal([]byte(doc), &mon); err != nil {
		t.Fatalf("crm_mon XML: %v\n%s", err, doc)
	}
	all := append([]monResource{}, mon.Resources...)
	for _, g := range mon.Groups {
		all = append(all, g.Resources...)
	}
	for _, c := range mon.Clones {
		all = append(all, c.Resources...)
		for _, g := range c.Groups {
			all = append(all, g.Resources...)
		}
	}
	m := monResources{}
	for _, r := range all {
		for _, n := range r.Node {
			r.Nodes = append(r.Nodes, n.Name)
		}
		id, _, _ := strings.Cut(r.ID, ":")
		m[id] = append(m[id], r)
	}
	return m
}

// chrootWith returns base with more Debian packages installed by apt-get
// in a copy, cached next to it (debootstrap --include cannot configure
// pcs's and fence-agents' Python dependencies in its own order). Service
// starts are refused while installing.
func chrootWith(t *testing.T, base string, packages ...string) string {
	t.Helper()
	sum := sha256.Sum256([]byte(base + " " + strings.Join(packages, ",")))
	dir := filepath.Join("/var/cache/gocf/chroots", filepath.Base(filepath.Dir(base))+"+"+hex.EncodeToString(sum[:6]))
	root := filepath.Join(dir, "root")
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
		return root
	}
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	lab.Run(t, "cp", "-a", base, root)
	lab.Run(t, "cp", "/etc/resolv.conf", filepath.Join(root, "etc/resolv.conf"))
	policy := filepath.Join(root, "usr/sbin/policy-rc.d")
	if err := os.WriteFile(policy, []byte("#!/bin/sh\nexit 101\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	ns := lab.NewMountNS(t)
	ns.Run(t, "mount", "-t", "proc", "proc", filepath.Join(root, "proc"))
	p := ns.Prefix()
	cmd := exec.Command(p[0], append(p[1:], "chroot", root, "sh", "-c",
		"apt-get update -qq && apt-get install -y -qq --no-install-recommends "+strings.Join(packages, " "))...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "HOME=/root", "DEBIAN_FRONTEND=noninteractive"}
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		t.Fatalf("apt-get install %v in a copy of %s: %v\n%s", packages, base, err, out)
	}
	ns.Run(t, "umount", filepath.Join(root, "proc"))
	os.Remove(policy)
	lab.Run(t, "sh", "-c", "rm -rf "+root+"/var/lib/apt/lists/* "+root+"/var/cache/apt/archives/*.deb")
	if err := os.WriteFile(filepath.Join(dir, ".complete"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// sections is a script's output in "== name" sections (more may be appended to out).
type sections struct {
	t   *testing.T
	out string
}

// part is the section after the "== name" line.
func (s *sections) part(name string) string {
	_, p, ok := strings.Cut(s.out, "== "+name+"\n")
	if !ok {
		s.t.Fatalf("no %q in:\n%s", name, s.out)
	}
	p, _, _ = strings.Cut("\n"+p, "\n== ")
	return p
}

// runSections runs script in root; the output is logged when the test fails (or with
// GOCF_VERBOSE).
func runSections(t *testing.T, root *lab.Root, script, what string) *sections {
	t.Helper()
	s := &sections{t: t, out: root.Run(t, "sh", "-c", script)}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("GOCF_VERBOSE") != "" {
			t.Logf("%s:\n%s", what, s.out)
		}
	})
	return s
}
