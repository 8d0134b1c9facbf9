package tests

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gocf/gocf/tests/lab"
)

// TestCrmExamples loads every crm example into a CIB with crmsh, next to the
// installed gocf package (so crmsh checks each parameter against the
// agents' meta-data), verifies it with crm_verify and simulates with
// crm_simulate where the resources run, and where they go when the node
// running them goes down.
func TestCrmExamples(t *testing.T) {
	deb, _ := packages(t)
	lower := lab.DebianChroot(t, "bookworm", "pacemaker-cli-utils", "crmsh", "resource-agents", "man-db", "iproute2", "libxml2-utils")
	root := lab.Overlay(t, lower)
	root.CopyIn(t, deb, "/tmp/gocf-agents.deb")
	root.Run(t, "dpkg", "-i", "/tmp/gocf-agents.deb")
	examples, _ := filepath.Glob(filepath.Join(lab.RepoRoot(), "crm-examples", "*.crm"))
	if len(examples) < 6 {
		t.Fatalf("found only %v", examples)
	}
	// Which resource shows where the service runs, per example.
	service := map[string]string{"vip.crm": "pbx-vip", "vip6.crm": "pbx-vip6", "fsmount-vip.crm": "pbx-vip",
		"pbx-drbd.crm": "pbx-asterisk", "pbx-shared.crm": "pbx-asterisk", "pbx-ipv6.crm": "pbx-asterisk"}
	for _, ex := range examples {
		name := filepath.Base(ex)
		t.Run(name, func(t *testing.T) {
			rsc, ok := service[name]
			if !ok {
				t.Fatalf("no expectation for %s: add it to this test", name)
			}
			root.CopyIn(t, ex, "/tmp/example.crm")
			script := `set -e
cd /tmp
rm -f cib.xml s*.xml
cibadmin --empty > cib.xml
export CIB_file=/tmp/cib.xml
crm configure node n1
crm configure node n2
crm configure property stonith-enabled=false
crm configure load update /tmp/example.crm
crm_verify -x cib.xml
crm_simulate -x cib.xml -q 1 -u n1 -u n2 -O s0.xml >/dev/null
`
			if strings.Contains(name, "drbd") {
				// What the drbd agent's monitor would set: n1 has the better data.
				script += "CIB_file=/tmp/s0.xml crm_attribute -N n1 -n master-pbx-drbd -l reboot -v 10000\n" +
					"CIB_file=/tmp/s0.xml crm_attribute -N n2 -n master-pbx-drbd -l reboot -v 1000\n"
			}
			// Quorum is stored with the nodes coming up (crm_simulate applies
			// -q only together with such a change). Probes, then starts: one
			// transition each.
			script += `crm_simulate -x s0.xml -S -O s1.xml >/dev/null
crm_simulate -x s1.xml -S -O s2.xml >/dev/null
crm_simulate -x s2.xml -S -O s3.xml >/dev/null
echo '== placed'
crm_simulate -x s3.xml
crm_simulate -x s3.xml -d n1 -S -O s4.xml >/dev/null
crm_simulate -x s4.xml -S -O s5.xml >/dev/null
echo '== after n1 down'
crm_simulate -x s5.xml
`
			out := root.Run(t, "sh", "-c", script)
			placed, after, _ := strings.Cut(out, "== after n1 down")
			on := regexp.MustCompile(`\b` + regexp.QuoteMeta(rsc) + `\s+\(ocf:gocf:\w+\):\s+Started (n\d)`)
			m1, m2 := on.FindStringSubmatch(placed), on.FindStringSubmatch(after)
			if m1 == nil || m1[1] != "n1" {
				t.Fatalf("%s not started on n1:\n%s", rsc, out)
			}
			if m2 == nil || m2[1] != "n2" {
				t.Fatalf("%s not on n2 after n1 went down:\n%s", rsc, out)
			}
			if strings.Contains(name, "drbd") && !strings.Contains(after, "Promoted: [ n2 ]") {
				t.Fatalf("DRBD not promoted on n2 after n1 went down:\n%s", after)
			}
			if os.Getenv("GOCF_VERBOSE") != "" {
				t.Log(out)
			}
		})
	}
}
