package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gocf/gocf/pkg/catalog"
	"github.com/gocf/gocf/tests/lab"
	"github.com/gocf/gocf/tests/testbed"
)

// packages returns the built .deb and .rpm (make package, which make check
// runs first and names in GOCF_PACKAGES).
func packages(t *testing.T) (deb, rpm string) {
	t.Helper()
	dir := os.Getenv("GOCF_PACKAGES")
	if dir == "" {
		dir = filepath.Join(lab.RepoRoot(), "dist")
	}
	debs, _ := filepath.Glob(filepath.Join(dir, "gocf-agents_*.deb"))
	rpms, _ := filepath.Glob(filepath.Join(dir, "gocf-agents-*.rpm"))
	if len(debs) != 1 || len(rpms) != 1 {
		if os.Getenv("GOCF_CHECK") != "" {
			t.Fatalf("want one .deb and one .rpm in %s (make package), found %v %v", dir, debs, rpms)
		}
		t.Skipf("no packages in %s (make package)", dir)
	}
	return debs[0], rpms[0]
}

// adminChecks installs the .deb into root and uses it as an admin would;
// withMan also renders the manual pages (the test bed's image has no man).
func adminChecks(t *testing.T, root *lab.Root, deb string, withMan bool) {
	root.CopyIn(t, deb, "/tmp/gocf-agents.deb")
	root.Run(t, "dpkg", "-i", "/tmp/gocf-agents.deb")
	for _, a := range catalog.Agents() {
		ra := "ocf:gocf:" + a.Name
		info := root.Run(t, "crm", "ra", "info", ra)
		for _, p := range a.Params {
			if !strings.Contains(info, p.Name) {
				t.Errorf("crm ra info %s does not show parameter %s:\n%s", ra, p.Name, info)
				break
			}
		}
		md := root.Run(t, "crm_resource", "--show-metadata", ra)
		if !strings.Contains(md, `<resource-agent name="`+a.Name+`"`) {
			t.Errorf("crm_resource --show-metadata %s:\n%s", ra, md)
		}
		if withMan {
			page := root.Run(t, "man", "-P", "cat", "ocf_gocf_"+a.Name)
			if !strings.Contains(page, "ocf_gocf_"+a.Name) || !strings.Contains(page, "SUPPORTED PARAMETERS") {
				t.Errorf("man ocf_gocf_%s does not render:\n%.400s", a.Name, page)
			}
		} else {
			root.Run(t, "test", "-s", "/usr/share/man/man7/ocf_gocf_"+a.Name+".7.gz")
		}
	}
	// DRBD's fence-peer handler: installed where drbd.conf names it, its
	// page renders, and it answers as LINBIT's scripts do without a
	// DRBD_RESOURCE (exit 1, the reason in the log).
	if out := root.Run(t, "sh", "-c", "/usr/lib/gocf/drbd-fence fence-peer --logfacility= --lock-file=NONE 2>&1; echo rc=$?"); !strings.Contains(out, "DRBD_RESOURCE is not set") || !strings.Contains(out, "rc=1") {
		t.Errorf("installed drbd-fence:\n%s", out)
	}
	if withMan {
		page := root.Run(t, "man", "-P", "cat", "8", "drbd-fence")
		if !strings.Contains(page, "UP_TO_DATE_NODES") || !strings.Contains(page, "EXIT STATUS") {
			t.Errorf("man 8 drbd-fence does not render:\n%.400s", page)
		}
	} else {
		root.Run(t, "test", "-s", "/usr/share/man/man8/drbd-fence.8.gz")
	}
	// ocf-tester from the installed path, on a veth in the
	// root's own network namespace.
	out := root.Run(t, "sh", "-ec", `ip link set lo up
ip link add d0 type veth peer name d1
ip link set d1 up
ip addr add 198.51.100.1/24 dev d0
ip link set d0 up
ocf-tester -n pkgvip -o ip=198.51.100.50 -o cidr_netmask=24 -o nic=d0 -o arp_count=0 /usr/lib/ocf/resource.d/gocf/vip`)
	if !strings.Contains(out, "passed all tests") {
		t.Errorf("ocf-tester on the installed vip:\n%s", out)
	}
	if doc := root.Run(t, "ls", "/usr/share/doc/gocf-agents/crm-examples"); !strings.Contains(doc, "vip.crm") {
		t.Errorf("crm examples not installed: %s", doc)
	}
}

func TestPackageOnDebian12(t *testing.T) {
	deb, _ := packages(t)
	lower := lab.DebianChroot(t, "bookworm", "pacemaker-cli-utils", "crmsh", "resource-agents", "man-db", "iproute2", "libxml2-utils")
	adminChecks(t, lab.Overlay(t, lower), deb, true)
}

// TestPackageOnTestBedImage installs the .deb into the test bed's Debian
// trixie image (Pacemaker 3.0, crmsh 5), where the cluster tests run.
func TestPackageOnTestBedImage(t *testing.T) {
	deb, _ := packages(t)
	lab.RequireRoot(t)
	img, err := testbed.EnsureImage(testbed.DefaultCacheDir, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	adminChecks(t, lab.Overlay(t, img.Rootfs), deb, false)
}

func TestRPMMetadata(t *testing.T) {
	_, rpm := packages(t)
	lab.RequireTool(t, "rpm")
	files := lab.Run(t, "rpm", "-qpl", rpm)
	for _, a := range catalog.Agents() {
		for _, f := range []string{"/usr/lib/ocf/resource.d/gocf/" + a.Name, "/usr/share/man/man7/ocf_gocf_" + a.Name + ".7.gz"} {
			if !strings.Contains(files, f+"\n") {
				t.Errorf("rpm lacks %s:\n%s", f, files)
			}
		}
	}
	for _, f := range []string{"/usr/lib/gocf/drbd-fence", "/usr/share/man/man8/drbd-fence.8.gz"} {
		if !strings.Contains(files, f+"\n") {
			t.Errorf("rpm lacks %s:\n%s", f, files)
		}
	}
	info := lab.Run(t, "rpm", "-qpi", rpm)
	for _, want := range []string{"Name        : gocf-agents", "License     : Apache-2.0", "Architecture: x86_64"} {
		if !strings.Contains(info, want) {
			t.Errorf("rpm -qpi lacks %q:\n%s", want, info)
		}
	}
	modes := lab.Run(t, "rpm", "-qp", "--qf", "[%{FILEMODES:perms} %{FILENAMES}\n]", rpm)
	if !strings.Contains(modes, "-rwxr-xr-x /usr/lib/ocf/resource.d/gocf/vip") {
		t.Errorf("agents must be mode 755:\n%s", modes)
	}
	if !strings.Contains(modes, "-rwxr-xr-x /usr/lib/gocf/drbd-fence") {
		t.Errorf("drbd-fence must be mode 755:\n%s", modes)
	}
	// Both package formats carry the same version.
	deb, _ := packages(t)
	dv, _ := exec.Command("dpkg-deb", "-f", deb, "Version").Output()
	rv := lab.Run(t, "rpm", "-qp", "--qf", "%{VERSION}-%{RELEASE}", rpm)
	if strings.TrimSpace(string(dv)) != rv {
		t.Errorf("deb version %q, rpm version %q", dv, rv)
	}
}
