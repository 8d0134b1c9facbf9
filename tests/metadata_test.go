package tests

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gocf/gocf/pkg/catalog"
	"github.com/gocf/gocf/tests/lab"
)

const raDir = "/usr/share/resource-agents"

func metaData(t *testing.T, agent string, env ...string) []byte {
	t.Helper()
	cmd := exec.Command(agentBin(agent), "meta-data")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s meta-data: %v", agent, err)
	}
	return out
}

// xmllint validates doc as the named validator does and returns its verdict.
func xmllint(t *testing.T, doc []byte, args ...string) error {
	t.Helper()
	cmd := exec.Command("xmllint", append(append([]string{"--noout"}, args...), "-")...)
	cmd.Dir = raDir // where ocf-tester runs it: the DOCTYPE resolves ra-api-1.dtd here
	cmd.Stdin = bytes.NewReader(doc)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Logf("xmllint %s:\n%s", strings.Join(args, " "), out)
	}
	return err
}

func ocf11RNG(t *testing.T) string {
	p := os.Getenv("GOCF_OCF11_RNG")
	if p == "" {
		p = filepath.Join(lab.RepoRoot(), ".cache/pcs/usr/share/pcs/data/ocf-1.1.rng")
	}
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("GOCF_CHECK") != "" {
			t.Fatalf("OCF 1.1 schema missing at %s (make deps)", p)
		}
		t.Skipf("OCF 1.1 schema missing at %s (make deps)", p)
	}
	return p
}

func TestMetaDataValidators(t *testing.T) {
	lab.RequireTool(t, "xmllint")
	rng11 := ocf11RNG(t)
	for _, a := range catalog.Agents() {
		t.Run(a.Name, func(t *testing.T) {
			v10 := metaData(t, a.Name) // as ocf-tester and Pacemaker 2.0 call it
			v11 := metaData(t, a.Name, "OCF_RA_VERSION_MAJOR=1", "OCF_RA_VERSION_MINOR=1")
			if err := xmllint(t, v10, "--valid"); err != nil {
				t.Errorf("1.0 meta-data fails ra-api-1.dtd: %v", err)
			}
			if err := xmllint(t, v10, "--relaxng", raDir+"/metadata.rng"); err != nil {
				t.Errorf("1.0 meta-data fails metadata.rng: %v", err)
			}
			if err := xmllint(t, v10, "--relaxng", rng11); err != nil {
				t.Errorf("1.0 meta-data fails the OCF 1.1 schema: %v", err)
			}
			if err := xmllint(t, v11, "--relaxng", rng11); err != nil {
				t.Errorf("1.1 meta-data fails the OCF 1.1 schema: %v", err)
			}
		})
	}
}

// TestValidatorsCanFail proves the validators above are live: the 1.0 DTD
// rejects the OCF 1.1 reloadable attribute, which is why it is shown only
// to 1.1 callers, and the schemas reject a parameter without content.
func TestValidatorsCanFail(t *testing.T) {
	lab.RequireTool(t, "xmllint")
	rng11 := ocf11RNG(t)
	v10 := metaData(t, "vip")
	reloadable := bytes.Replace(v10, []byte(`<parameter name="nic"`), []byte(`<parameter name="nic" reloadable="1"`), 1)
	if xmllint(t, reloadable, "--valid") == nil {
		t.Error("ra-api-1.dtd accepted reloadable")
	}
	badType := bytes.Replace(v10, []byte(`type="integer"`), []byte(`type="float"`), 1)
	if xmllint(t, badType, "--valid") == nil || xmllint(t, badType, "--relaxng", raDir+"/metadata.rng") == nil ||
		xmllint(t, badType, "--relaxng", rng11) == nil {
		t.Error("a validator accepted content type float")
	}
}

func TestMetaDataAsNobody(t *testing.T) {
	lab.RequireRoot(t)
	for _, a := range catalog.Agents() {
		out, err := exec.Command("su", "nobody", "-s", "/bin/sh", "-c", agentBin(a.Name)+" meta-data").Output()
		if err != nil || !bytes.Contains(out, []byte(`<resource-agent name="`+a.Name+`"`)) {
			t.Errorf("%s meta-data as nobody: %v", a.Name, err)
		}
	}
}

// TestReloadAdvertised checks what README.md claims of the installed
// binaries: 1.1 callers get reloadable parameters and reload-agent from
// every agent (each declares some parameter reloadable), 1.0 callers
// neither; status where the replaced agent has it.
func TestReloadAdvertised(t *testing.T) {
	wantStatus := map[string]bool{"vip": true, "asterisk": true}
	for _, a := range catalog.Agents() {
		reloadable := false
		for _, p := range a.Params {
			reloadable = reloadable || p.Reloadable
		}
		if !reloadable {
			t.Errorf("%s declares no reloadable parameter", a.Name)
		}
		v10 := string(metaData(t, a.Name))
		v11 := string(metaData(t, a.Name, "OCF_RA_VERSION_MAJOR=1", "OCF_RA_VERSION_MINOR=1"))
		if strings.Contains(v10, "reload-agent") || strings.Contains(v10, "reloadable") {
			t.Errorf("%s: 1.0 meta-data has OCF 1.1's reload-agent or reloadable", a.Name)
		}
		if got := strings.Contains(v11, `<action name="reload-agent"`) && strings.Contains(v11, `reloadable="1"`); got != reloadable {
			t.Errorf("%s: 1.1 meta-data has reload-agent and reloadable parameters: %v, want %v", a.Name, got, reloadable)
		}
		if got := strings.Contains(v10, `<action name="status"`); got != wantStatus[a.Name] {
			t.Errorf("%s: status declared %v, want %v", a.Name, got, wantStatus[a.Name])
		}
	}
}
