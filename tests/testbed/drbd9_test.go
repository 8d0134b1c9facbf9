package testbed

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDRBDParseVersion(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []int
		nine bool
	}{
		{"8.4", []int{8, 4}, false},
		{"9.2", []int{9, 2}, true},
		{"9.3", []int{9, 3}, true},
		{"9.2.18", []int{9, 2, 18}, true},
		{"9", nil, false},
		{"8.3", nil, false},
		{"8.4.11", nil, false},
		{"10.0", nil, false},
		{"9.2.x", nil, false},
		{"9.02", nil, false},
		{"9.-1", nil, false},
		{"9.2.18.1", nil, false},
		{"", nil, false},
	} {
		got, err := ParseDRBDVersion(c.in)
		if (err == nil) != (c.want != nil) || !slices.Equal(got, c.want) {
			t.Errorf("ParseDRBDVersion(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
		if IsDRBD9(c.in) != c.nine {
			t.Errorf("IsDRBD9(%q) = %v", c.in, !c.nine)
		}
	}
}

func TestDRBDTarball(t *testing.T) {
	src := t.TempDir()
	for _, f := range []string{"drbd-9.2.9.tar.gz", "drbd-9.2.18.tar.gz", "drbd-9.3.3.tar.gz",
		"drbd-9.3.3.tar.gz.sha256", "drbd-utils-9.22.0.tar.gz", "README.md"} {
		if err := os.WriteFile(filepath.Join(src, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ in, exact string }{
		{"9.2", "9.2.18"}, // numeric order, not lexical
		{"9.2.9", "9.2.9"},
		{"9.3", "9.3.3"},
		{"9.3.3", "9.3.3"},
	} {
		path, exact, err := DRBDTarball(src, c.in)
		if err != nil || exact != c.exact || path != filepath.Join(src, "drbd-"+c.exact+".tar.gz") {
			t.Errorf("DRBDTarball(%q) = %s, %s, %v; want %s", c.in, path, exact, err, c.exact)
		}
	}
	for _, in := range []string{"9.4", "9.2.17"} {
		if _, _, err := DRBDTarball(src, in); !errors.Is(err, ErrNoDRBDSources) {
			t.Errorf("DRBDTarball(%q): %v, want ErrNoDRBDSources", in, err)
		}
	}
	if _, _, err := DRBDTarball(src, "8.4"); err == nil || errors.Is(err, ErrNoDRBDSources) {
		t.Errorf("DRBDTarball(8.4): %v, want an error other than missing sources", err)
	}
	if _, _, err := DRBDTarball(filepath.Join(src, "nope"), "9.2"); !errors.Is(err, ErrNoDRBDSources) {
		t.Errorf("missing directory: %v, want ErrNoDRBDSources", err)
	}
}

func TestDRBDSourceDir(t *testing.T) {
	d := t.TempDir()
	t.Setenv("GTB_DRBD9_SRC", d)
	if got, err := DRBDSourceDir(); err != nil || got != d {
		t.Errorf("DRBDSourceDir with GTB_DRBD9_SRC=%s: %s, %v", d, got, err)
	}
	t.Setenv("GTB_DRBD9_SRC", filepath.Join(d, "missing"))
	if _, err := DRBDSourceDir(); !errors.Is(err, ErrNoDRBDSources) {
		t.Errorf("missing GTB_DRBD9_SRC: %v, want ErrNoDRBDSources", err)
	}
	// from the package directory: ../shared/drbd9 beside the repository root
	t.Setenv("GTB_DRBD9_SRC", "")
	got, err := DRBDSourceDir()
	if err == nil {
		if !strings.HasSuffix(got, string(filepath.Separator)+filepath.Join("shared", "drbd9")) {
			t.Errorf("DRBDSourceDir() = %s", got)
		}
	} else if !errors.Is(err, ErrNoDRBDSources) || !strings.Contains(err.Error(), "shared/drbd9") {
		t.Errorf("DRBDSourceDir() without sources: %v", err)
	}
}

func TestDRBDModuleDir(t *testing.T) {
	sha := "83e1be46f11d8acd9e8adddcde4845afd444067eb"
	got := drbdModuleDir("/var/cache/gocf/testbed", "3fce64d4beba821d", "6.12.117+deb13-amd64", "9.2.18", sha)
	want := "/var/cache/gocf/testbed/3fce64d4beba821d/drbd-9.2.18-6.12.117+deb13-amd64-83e1be46f11d"
	if got != want {
		t.Errorf("drbdModuleDir = %s, want %s", got, want)
	}
	// every input is in the key
	for _, other := range []string{
		drbdModuleDir("/var/cache/gocf/testbed", "0000000000000000", "6.12.117+deb13-amd64", "9.2.18", sha),
		drbdModuleDir("/var/cache/gocf/testbed", "3fce64d4beba821d", "6.12.118+deb13-amd64", "9.2.18", sha),
		drbdModuleDir("/var/cache/gocf/testbed", "3fce64d4beba821d", "6.12.117+deb13-amd64", "9.3.3", sha),
		drbdModuleDir("/var/cache/gocf/testbed", "3fce64d4beba821d", "6.12.117+deb13-amd64", "9.2.18", "0"+sha),
	} {
		if other == want {
			t.Errorf("%s: same key for other inputs", other)
		}
	}
}

func TestDRBDBzImageRelease(t *testing.T) {
	hdr := make([]byte, 0x4000)
	copy(hdr[0x202:], "HdrS")
	ver := "6.12.117+deb13-amd64 (debian-kernel@lists.debian.org) #1 SMP PREEMPT_DYNAMIC Debian 6.12.117-1"
	binary.LittleEndian.PutUint16(hdr[0x20e:], 0x3000-0x200)
	copy(hdr[0x3000:], ver+"\x00garbage")
	if got, err := bzImageRelease(hdr); err != nil || got != "6.12.117+deb13-amd64" {
		t.Errorf("bzImageRelease = %q, %v", got, err)
	}
	if _, err := bzImageRelease(make([]byte, 0x4000)); err == nil {
		t.Error("no HdrS: no error")
	}
	if _, err := bzImageRelease(hdr[:0x100]); err == nil {
		t.Error("short: no error")
	}
	// the cached image's kernel, when there is one
	if dirs, _ := filepath.Glob(filepath.Join(DefaultCacheDir, ImageKey(), "ok")); len(dirs) == 1 {
		img := imageAt(filepath.Dir(dirs[0]))
		kver, err := ImageKernel(img)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("image %s: kernel %s", ImageKey(), kver)
	}
}

func TestDRBDModinfo(t *testing.T) {
	// as in a .modinfo section
	out := "alias=block-major-147-*\x00license=GPL\x00version=9.2.18\x00" +
		"description=drbd - Distributed Replicated Block Device v9.2.18\x00depends=lru_cache,libcrc32c\x00" +
		"retpoline=Y\x00name=drbd\x00vermagic=6.12.117+deb13-amd64 SMP preempt mod_unload modversions \x00parm=enable_faults:int\x00"
	mi := parseModinfo(out)
	if mi.Version != "9.2.18" || mi.Vermagic != "6.12.117+deb13-amd64 SMP preempt mod_unload modversions" ||
		strings.Join(mi.Depends, ",") != "lru_cache,libcrc32c" {
		t.Fatalf("parseModinfo: %+v", mi)
	}
	if err := mi.Check("9.2.18", "6.12.117+deb13-amd64"); err != nil {
		t.Error(err)
	}
	if err := mi.Check("9.2.1", "6.12.117+deb13-amd64"); err == nil {
		t.Error("9.2.18 passed as 9.2.1")
	}
	if err := mi.Check("9.2.18", "6.12.117+deb13-amd6"); err == nil {
		t.Error("vermagic of another kernel passed")
	}
	if n := modName("kernel/lib/lru-cache.ko.xz"); n != "lru_cache" {
		t.Errorf("modName = %s", n)
	}
}

// TestDRBDSetup: without sources the bed falls back to 8.4, unless they are required.
func TestDRBDSetup(t *testing.T) {
	t.Setenv("GTB_DRBD9_SRC", t.TempDir()) // no tarballs
	t.Setenv("GOCF_CHECK", "")
	img := &Image{}
	b := &Bed{cfg: Config{Mode: "vm", DRBD: "9.2", Log: io.Discard}}
	if err := b.drbdSetup(img); err != nil || b.DRBD() != "8.4" || b.st.DRBDModules != "" {
		t.Errorf("missing sources: %v, DRBD %s %q; want 8.4", err, b.DRBD(), b.st.DRBDModules)
	}
	b.cfg.DRBDRequired = true
	if err := b.drbdSetup(img); !errors.Is(err, ErrNoDRBDSources) {
		t.Errorf("missing sources, required: %v", err)
	}
	b.cfg.DRBDRequired = false
	t.Setenv("GOCF_CHECK", "1")
	if err := b.drbdSetup(img); !errors.Is(err, ErrNoDRBDSources) {
		t.Errorf("missing sources under GOCF_CHECK: %v", err)
	}
	b = &Bed{cfg: Config{Mode: "ns", DRBD: "9.2"}}
	if err := b.drbdSetup(img); err == nil {
		t.Error("DRBD 9 in ns mode: no error")
	}
	b = &Bed{cfg: Config{Mode: "vm", DRBD: "8.3"}}
	if err := b.drbdSetup(img); err == nil {
		t.Error("DRBD 8.3: no error")
	}
	b = &Bed{cfg: Config{Mode: "vm", DRBD: "8.4"}}
	if err := b.drbdSetup(img); err != nil || b.DRBD() != "8.4" {
		t.Errorf("DRBD 8.4: %v %s", err, b.DRBD())
	}
}

func TestDRBDInstallScript(t *testing.T) {
	cmd := exec.Command("bash", "-n")
	cmd.Stdin = strings.NewReader(vmDRBDInstallScript("9.2.18"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("vm install script: %v: %s", err, out)
	}
	cmd = exec.Command("bash", "-n")
	cmd.Stdin = strings.NewReader(drbdBuildScript)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("build script: %v: %s", err, out)
	}
}

// TestDRBDModuleBuild builds (or finds in the cache) LINBIT's DRBD module for the cached
// image's kernel and checks it with modinfo. GOCF_TESTBED_VM=1 and root, like the vm tests
// (the first run builds the image too); no bed is brought up. GOCF_TESTBED_DRBD picks the
// version (default 9.2). Under GOCF_CHECK missing sources fail the test.
func TestDRBDModuleBuild(t *testing.T) {
	// Not in make check yet: the DRBD 9 sources live outside the repository (../shared/drbd9)
	// and the DRBD 9 tests of the agent that would need them are still to come.
	const env = "GOCF_TESTBED_DRBD9"
	if os.Getenv(env) != "1" {
		t.Skipf("set %s=1 (as root) to build the DRBD 9 module for the test bed's image", env)
	}
	if os.Geteuid() != 0 {
		t.Fatal("the DRBD module build needs root")
	}
	version := os.Getenv("GOCF_TESTBED_DRBD")
	if version == "" {
		version = "9.2"
	}
	log := testLog{t}
	img, err := EnsureImage(DefaultCacheDir, log)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	dir, err := EnsureDRBDModule(img, version, DefaultCacheDir, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("DRBD module %s in %s (%.0fs)", DRBDModuleVersion(dir), dir, time.Since(t0).Seconds())
	kver, err := ImageKernel(img)
	if err != nil {
		t.Fatal(err)
	}
	exact := DRBDModuleVersion(dir)
	if !strings.HasPrefix(exact, version) {
		t.Fatalf("version file says %q, asked for %s", exact, version)
	}
	for _, m := range drbdModules {
		mi, err := Modinfo(filepath.Join(dir, m))
		if err != nil {
			t.Fatal(err)
		}
		if err := mi.Check(exact, kver); err != nil {
			t.Errorf("%s: %v", m, err)
		}
		t.Logf("%s: version %s, vermagic %s, depends %v", m, mi.Version, mi.Vermagic, mi.Depends)
	}
	if dep, err := os.ReadFile(filepath.Join(dir, "depmod", "modules.dep")); err != nil ||
		!strings.Contains(string(dep), "\nupdates/drbd9/drbd.ko: ") {
		t.Errorf("depmod index for the VMs: no updates/drbd9/drbd.ko (%v)", err)
	}
	// cached: a second call finds it at once
	t1 := time.Now()
	if again, err := EnsureDRBDModule(img, version, DefaultCacheDir, log); err != nil || again != dir || time.Since(t1) > 10*time.Second {
		t.Errorf("second call: %s, %v after %v", again, err, time.Since(t1))
	}
}

// TestDRBDCopy: the files a VM's share gets (vmPrepare).
func TestDRBDCopy(t *testing.T) {
	mods, share := t.TempDir(), t.TempDir()
	for _, f := range []string{"drbd.ko", "drbd_transport_tcp.ko", "build.log", "ok", "version",
		"depmod/modules.dep", "depmod/modules.dep.bin", "depmod/base.sha256"} {
		_ = os.MkdirAll(filepath.Dir(filepath.Join(mods, f)), 0o755)
		if err := os.WriteFile(filepath.Join(mods, f), []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b := &Bed{}
	if err := b.vmCopyDRBD(share); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(share); len(ents) != 0 {
		t.Errorf("DRBD 8.4: share has %d entries", len(ents))
	}
	b.st.DRBDModules = mods
	if err := b.vmCopyDRBD(share); err != nil {
		t.Fatal(err)
	}
	var got []string
	_ = filepath.Walk(share, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			rel, _ := filepath.Rel(filepath.Join(share, "drbd9"), p)
			got = append(got, rel)
		}
		return nil
	})
	want := []string{"depmod/base.sha256", "depmod/modules.dep", "depmod/modules.dep.bin", "drbd.ko", "drbd_transport_tcp.ko"}
	if !slices.Equal(got, want) {
		t.Errorf("share/drbd9: %v, want %v", got, want)
	}
}
