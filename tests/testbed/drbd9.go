package testbed

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// DRBD 9 for vm mode: LINBIT's kernel module, built from the sources in ../shared/drbd9
// (drbd-<version>.tar.gz) for the image's exact kernel, in a throwaway chroot (an overlay whose
// read-only lower layer is the image's rootfs, in a private mount and PID namespace, so that
// nothing stays mounted after an interrupt), and cached next to the image:
//
//	<cacheDir>/<image key>/drbd-<version>-<kernel>-<sha256 of the tarball, 12>/
//	    drbd.ko drbd_transport_tcp.ko  version  build.log  ok
//
// The VMs get the files through their 9p share and install them under
// /lib/modules/$(uname -r)/updates/ with depmod before the cluster starts (vmDRBDInstall).

// DefaultDRBD is the DRBD of the VMs unless Config.DRBD says otherwise: the in-tree module of
// Debian's kernel.
const DefaultDRBD = "8.4"

// ErrNoDRBDSources is returned (wrapped) when the DRBD 9 module sources are not there.
var ErrNoDRBDSources = errors.New("DRBD 9 module sources not found")

// drbdBuildDeps are the packages the build needs in the chroot besides linux-headers-<kernel>
// (the recipe of ../shared/drbd9/README.md).
var drbdBuildDeps = []string{"build-essential", "coccinelle", "make", "gcc", "flex", "bison", "bc",
	"libelf-dev", "libssl-dev", "kmod", "patch", "perl", "diffutils", "python3"}

// drbdModules are the module files the VMs get: the module and the TCP transport (not lb-tcp,
// not rdma). Their dependencies outside the kernel's own modules must be among them.
var drbdModules = []string{"drbd.ko", "drbd_transport_tcp.ko"}

// drbdBuildTimeout bounds a module build (apt ~45 s, make ~1.5 min on 2 free cores).
const drbdBuildTimeout = 30 * time.Minute

// ParseDRBDVersion parses a DRBD version as the bed takes it: "8.4" (the in-tree module),
// "9.2", "9.3" (the newest such sources) or an exact "9.2.18". It returns the numbers.
func ParseDRBDVersion(s string) ([]int, error) {
	f := strings.Split(s, ".")
	if len(f) < 2 || len(f) > 3 {
		return nil, fmt.Errorf("DRBD version %q: want 8.4, 9.2, 9.3 or an exact 9.x.y", s)
	}
	v := make([]int, len(f))
	for i, p := range f {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || strconv.Itoa(n) != p {
			return nil, fmt.Errorf("DRBD version %q: want 8.4, 9.2, 9.3 or an exact 9.x.y", s)
		}
		v[i] = n
	}
	switch {
	case v[0] == 8 && v[1] == 4 && len(v) == 2:
	case v[0] == 9:
	default:
		return nil, fmt.Errorf("DRBD version %q: want 8.4 (in-tree) or 9.x (LINBIT's module)", s)
	}
	return v, nil
}

// IsDRBD9 reports whether version asks for LINBIT's DRBD 9 module (not the in-tree 8.4).
func IsDRBD9(version string) bool {
	v, err := ParseDRBDVersion(version)
	return err == nil && v[0] == 9
}

// DRBDSourceDir is where the DRBD 9 module sources are: $GTB_DRBD9_SRC, else ../shared/drbd9
// beside the gocf repository (found from the working directory upwards; a worktree
// /work/wt-x finds /work/shared/drbd9). The error wraps ErrNoDRBDSources.
func DRBDSourceDir() (string, error) {
	if d := os.Getenv("GTB_DRBD9_SRC"); d != "" {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			return "", fmt.Errorf("%w: GTB_DRBD9_SRC=%s is no directory", ErrNoDRBDSources, d)
		}
		return d, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if data, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil &&
			strings.HasPrefix(string(data), "module github.com/gocf/gocf\n") {
			src := filepath.Join(filepath.Dir(d), "shared", "drbd9")
			if fi, err := os.Stat(src); err != nil || !fi.IsDir() {
				return "", fmt.Errorf("%w: no %s (beside the repository %s; or set GTB_DRBD9_SRC)", ErrNoDRBDSources, src, d)
			}
			return src, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("%w: not in the gocf repository (%s) and GTB_DRBD9_SRC not set", ErrNoDRBDSources, wd)
		}
	}
}

// DRBDTarball finds the tarball for version in src: drbd-9.2.18.tar.gz for "9.2.18", the
// newest drbd-9.2.N.tar.gz for "9.2". It returns its path and the exact version.
func DRBDTarball(src, version string) (path, exact string, err error) {
	want, err := ParseDRBDVersion(version)
	if err != nil {
		return "", "", err
	}
	if want[0] != 9 {
		return "", "", fmt.Errorf("DRBD %s is the in-tree module: nothing to build", version)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		return "", "", fmt.Errorf("%w: %v", ErrNoDRBDSources, err)
	}
	var best []int
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || !strings.HasPrefix(name, "drbd-") || !strings.HasSuffix(name, ".tar.gz") {
			continue
		}
		v, err := ParseDRBDVersion(strings.TrimSuffix(strings.TrimPrefix(name, "drbd-"), ".tar.gz"))
		if err != nil || len(v) != 3 || !versionPrefix(want, v) {
			continue
		}
		if best == nil || compareVersions(v, best) > 0 {
			best = v
		}
	}
	if best == nil {
		return "", "", fmt.Errorf("%w: no drbd-%s*.tar.gz in %s", ErrNoDRBDSources, version, src)
	}
	exact = fmt.Sprintf("%d.%d.%d", best[0], best[1], best[2])
	return filepath.Join(src, "drbd-"+exact+".tar.gz"), exact, nil
}

func versionPrefix(prefix, v []int) bool {
	if len(prefix) > len(v) {
		return false
	}
	for i := range prefix {
		if prefix[i] != v[i] {
			return false
		}
	}
	return true
}

func compareVersions(a, b []int) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return a[i] - b[i]
		}
	}
	return len(a) - len(b)
}

// drbdModuleDir is the cache directory of a module build: one per image, kernel, DRBD version
// and tarball content.
func drbdModuleDir(cacheDir, imageKey, kver, version, sha string) string {
	if len(sha) > 12 {
		sha = sha[:12]
	}
	return filepath.Join(cacheDir, imageKey, fmt.Sprintf("drbd-%s-%s-%s", version, kver, sha))
}

// bzImageRelease reads the kernel release ("6.12.117+deb13-amd64") from a bzImage's setup
// header (boot protocol 2.00+: kernel_version at 0x20e points to the version string - 0x200).
func bzImageRelease(data []byte) (string, error) {
	if len(data) < 0x210 || string(data[0x202:0x206]) != "HdrS" {
		return "", errors.New("not a bzImage")
	}
	off := int(binary.LittleEndian.Uint16(data[0x20e:])) + 0x200
	if off <= 0x200 || off >= len(data) {
		return "", errors.New("bzImage without kernel_version")
	}
	s := data[off:]
	if i := bytes.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	f := strings.Fields(string(s))
	if len(f) == 0 {
		return "", errors.New("bzImage: empty kernel_version")
	}
	return f[0], nil
}

// ImageKernel is the release of the kernel the VMs boot (the image's vmlinuz), checked to have
// its modules in the rootfs.
func ImageKernel(img *Image) (string, error) {
	f, err := os.Open(img.Kernel)
	if err != nil {
		return "", err
	}
	defer f.Close()
	hdr := make([]byte, 64<<10)
	n, _ := io.ReadFull(f, hdr)
	kver, err := bzImageRelease(hdr[:n])
	if err != nil {
		return "", fmt.Errorf("%s: %v", img.Kernel, err)
	}
	if _, err := os.Stat(filepath.Join(img.Rootfs, "lib", "modules", kver, "modules.dep")); err != nil {
		return "", fmt.Errorf("image kernel %s has no modules in %s: %v", kver, img.Rootfs, err)
	}
	return kver, nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// DRBDModuleVersion is the exact DRBD version of a module directory made by EnsureDRBDModule.
func DRBDModuleVersion(dir string) string {
	data, _ := os.ReadFile(filepath.Join(dir, "version"))
	return strings.TrimSpace(string(data))
}

// EnsureDRBDModule returns the directory of LINBIT's DRBD module (drbd.ko,
// drbd_transport_tcp.ko; see DRBDModuleVersion) of version ("9.2", "9.3" or exact "9.2.18")
// for img's kernel, building it first when it is not cached (2-5 minutes on 2 cores: apt in
// the chroot, then make -j2 under nice). The sources come from DRBDSourceDir; when they are
// missing the error wraps ErrNoDRBDSources.
func EnsureDRBDModule(img *Image, version, cacheDir string, log io.Writer) (string, error) {
	src, err := DRBDSourceDir()
	if err != nil {
		return "", err
	}
	tarball, exact, err := DRBDTarball(src, version)
	if err != nil {
		return "", err
	}
	kver, err := ImageKernel(img)
	if err != nil {
		return "", err
	}
	sha, err := fileSHA256(tarball)
	if err != nil {
		return "", err
	}
	dir := drbdModuleDir(cacheDir, filepath.Base(img.Dir), kver, exact, sha)
	if _, err := os.Stat(filepath.Join(dir, "ok")); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	// one build at a time (two beds or tests started together)
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	defer func() { _ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) }()
	if _, err := os.Stat(filepath.Join(dir, "ok")); err == nil {
		return dir, nil
	}

	tmp := dir + ".building"
	if err := safeRemoveAll(tmp); err != nil {
		return "", err
	}
	work := filepath.Join(tmp, "work")
	for _, d := range []string{"upper", "work", "root"} {
		if err := os.MkdirAll(filepath.Join(work, d), 0o755); err != nil {
			return "", err
		}
	}
	defer func() { _ = safeRemoveAll(work) }()
	script := filepath.Join(tmp, "build-drbd.sh")
	if err := os.WriteFile(script, []byte(drbdBuildScript), 0o755); err != nil {
		return "", err
	}
	logFile, err := os.Create(filepath.Join(tmp, "build.log"))
	if err != nil {
		return "", err
	}
	defer logFile.Close()
	fmt.Fprintf(log, "[gtb] building DRBD %s (%s) for kernel %s of image %s (log: %s/build.log)\n",
		exact, filepath.Base(tarball), kver, filepath.Base(img.Dir), tmp)
	t0 := time.Now()
	// a private mount namespace (every mount of the build goes with its last process, also on
	// a kill) and a PID namespace (--kill-child: killing unshare kills the whole build)
	ctx, cancel := context.WithTimeout(context.Background(), drbdBuildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "nice", "-n", "10", "unshare", "--mount", "--propagation", "private",
		"--pid", "--fork", "--kill-child", "--", "bash", script,
		work, img.Rootfs, tarball, exact, kver, tmp, strings.Join(drbdBuildDeps, " "), strings.Join(drbdModules, " "))
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.Stdout = io.MultiWriter(logFile, prefixWriter{w: log, prefix: "[gtb drbd] "})
	cmd.Stderr = cmd.Stdout
	cmd.WaitDelay = 10 * time.Second
	// the build dies with this process too (a go test timeout, a SIGKILL); Pdeathsig is tied
	// to the thread that started it, kept alive by the lock
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	runtime.LockOSThread()
	err = cmd.Run()
	runtime.UnlockOSThread()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %v", drbdBuildTimeout)
	}
	if err == nil {
		err = checkDRBDModules(tmp, exact, kver, img.Rootfs)
	}
	if err != nil {
		failed := dir + ".failed.log"
		data, _ := os.ReadFile(filepath.Join(tmp, "build.log"))
		_ = os.WriteFile(failed, data, 0o644)
		if rerr := safeRemoveAll(tmp); rerr != nil {
			fmt.Fprintf(log, "[gtb] %v\n", rerr)
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > 8 {
			lines = lines[len(lines)-8:]
		}
		return "", fmt.Errorf("DRBD %s module build failed: %w (log: %s; its end:\n%s)", exact, err, failed, strings.Join(lines, "\n"))
	}
	if err := safeRemoveAll(work); err != nil {
		return "", err
	}
	_ = os.Remove(script)
	if err := os.WriteFile(filepath.Join(tmp, "version"), []byte(exact+"\n"), 0o644); err != nil {
		return "", err
	}
	ok := fmt.Sprintf("version=%s\nkernel=%s\nimage=%s\ntarball=%s\nsha256=%s\nbuilt=%s\nseconds=%.0f\n",
		exact, kver, filepath.Base(img.Dir), filepath.Base(tarball), sha,
		time.Now().UTC().Format(time.RFC3339), time.Since(t0).Seconds())
	if err := os.WriteFile(filepath.Join(tmp, "ok"), []byte(ok), 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", err
	}
	_ = os.Remove(dir + ".failed.log")
	fmt.Fprintf(log, "[gtb] DRBD %s for %s built in %.0fs: %s\n", exact, kver, time.Since(t0).Seconds(), dir)
	return dir, nil
}

// checkDRBDModules checks the built modules with modinfo: the DRBD version, a vermagic for
// kver, and dependencies that are either among them or modules of the image's kernel.
func checkDRBDModules(dir, version, kver, rootfs string) error {
	have := map[string]bool{}
	for _, m := range drbdModules {
		have[modName(m)] = true
	}
	kernelMods, err := kernelModuleNames(filepath.Join(rootfs, "lib", "modules", kver, "modules.dep"))
	if err != nil {
		return err
	}
	for _, m := range drbdModules {
		f := filepath.Join(dir, m)
		info, err := Modinfo(f)
		if err != nil {
			return err
		}
		if err := info.Check(version, kver); err != nil {
			return fmt.Errorf("%s: %v", m, err)
		}
		for _, d := range info.Depends {
			if !have[modName(d)] && !kernelMods[modName(d)] {
				return fmt.Errorf("%s depends on %s, which is neither built nor a module of %s", m, d, kver)
			}
		}
	}
	return nil
}

// ModInfo is what the bed checks of a module file.
type ModInfo struct {
	Version, Vermagic string
	Depends           []string
}

// Modinfo reads what modinfo(8) shows of a module file (uncompressed .ko): its ELF section
// .modinfo, NUL-separated key=value strings. (The host needs no kmod; the build also logs the
// image's modinfo.)
func Modinfo(path string) (ModInfo, error) {
	f, err := elf.Open(path)
	if err != nil {
		return ModInfo{}, err
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return ModInfo{}, fmt.Errorf("%s: no .modinfo section", path)
	}
	data, err := sec.Data()
	if err != nil {
		return ModInfo{}, fmt.Errorf("%s: %v", path, err)
	}
	return parseModinfo(string(data)), nil
}

// parseModinfo parses key=value strings separated by NULs (a .modinfo section) or newlines.
func parseModinfo(s string) ModInfo {
	var mi ModInfo
	for _, l := range strings.FieldsFunc(s, func(r rune) bool { return r == 0 || r == '\n' }) {
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.TrimSpace(k) {
		case "version":
			mi.Version = v
		case "vermagic":
			mi.Vermagic = v
		case "depends":
			for _, d := range strings.Split(v, ",") {
				if d = strings.TrimSpace(d); d != "" {
					mi.Depends = append(mi.Depends, d)
				}
			}
		}
	}
	return mi
}

// Check says whether the module is version (its version field starts with it: LINBIT's are
// exactly "9.2.18") built for kernel release kver (vermagic's first word).
func (mi ModInfo) Check(version, kver string) error {
	if mi.Version != version && !strings.HasPrefix(mi.Version, version+"-") {
		return fmt.Errorf("version %q, want %s", mi.Version, version)
	}
	if f := strings.Fields(mi.Vermagic); len(f) == 0 || f[0] != kver {
		return fmt.Errorf("vermagic %q, want kernel %s", mi.Vermagic, kver)
	}
	return nil
}

// modName normalises a module file or name to the kernel's module name.
func modName(s string) string {
	s = filepath.Base(s)
	if i := strings.Index(s, ".ko"); i >= 0 {
		s = s[:i]
	}
	return strings.ReplaceAll(s, "-", "_")
}

// kernelModuleNames are the module names listed in a modules.dep.
func kernelModuleNames(modulesDep string) (map[string]bool, error) {
	f, err := os.Open(modulesDep)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if m, _, ok := strings.Cut(sc.Text(), ":"); ok {
			names[modName(m)] = true
		}
	}
	return names, sc.Err()
}

// prefixWriter writes each line to w with a prefix.
type prefixWriter struct {
	w      io.Writer
	prefix string
}

func (p prefixWriter) Write(b []byte) (int, error) {
	for _, l := range strings.SplitAfter(string(b), "\n") {
		if l != "" {
			fmt.Fprint(p.w, p.prefix+l)
		}
	}
	return len(b), nil
}

// drbdBuildScript runs as PID 1 of its own PID and mount namespaces (unshare), under nice:
// an overlay of the image's rootfs (read-only lower layer) as a throwaway chroot, apt-get of the
// build dependencies and the headers of the image's kernel there, LINBIT's make with
// SPAAS=false (the local spatch, no online service), the modules copied to $OUT. Only the
// progress goes to stdout; apt and make write to $OUT/build.log.
const drbdBuildScript = `#!/bin/bash
set -euo pipefail
W=$1 ROOTFS=$2 TARBALL=$3 VER=$4 KVER=$5 OUT=$6 DEPS=$7 MODS=$8
R=$W/root LOG=$OUT/build.log
t0=$(date +%s)
ts() { echo "[$(( $(date +%s) - t0 ))s] $*"; }
mount -t overlay drbd9-build -o "lowerdir=$ROOTFS,upperdir=$W/upper,workdir=$W/work" "$R"
mount -t proc proc "$R/proc"
mount -t sysfs sys "$R/sys"
mount --rbind /dev "$R/dev"
mount -t tmpfs tmpfs "$R/tmp"
cp -L /etc/resolv.conf "$R/etc/resolv.conf" 2>/dev/null || true
CH="chroot $R env DEBIAN_FRONTEND=noninteractive LC_ALL=C"
# the image's sources: trixie, and sid pinned low (asterisk); the image's libc6 is sid's (asterisk
# needs it), so libc6-dev must be of the same version, from sid; the rest from trixie
ts "apt-get update ($(sed -n 's/^URIs: *//p' "$R/etc/apt/sources.list.d/debian.sources" | sort -u | paste -sd' '))"
$CH apt-get update >>"$LOG" 2>&1
LIBC=$($CH dpkg-query -W -f='${Version}' libc6)
ts "apt-get install linux-headers-$KVER libc6-dev=$LIBC $DEPS"
# shellcheck disable=SC2086
if ! $CH apt-get install -y --no-install-recommends "linux-headers-$KVER" "libc6-dev=$LIBC" "libc-dev-bin=$LIBC" $DEPS >>"$LOG" 2>&1; then
  echo "apt-get install failed (see $LOG); if linux-headers-$KVER is no longer on the mirror, the image's kernel is outdated: rebuild the image"
  exit 1
fi
ts "unpack $(basename "$TARBALL")"
tar -xzf "$TARBALL" -C "$R/usr/src"
ts "make -C drbd KDIR=/lib/modules/$KVER/build SPAAS=false -j2"
$CH make -C "/usr/src/drbd-$VER/drbd" KDIR="/lib/modules/$KVER/build" SPAAS=false -j2 >>"$LOG" 2>&1
B=$R/usr/src/drbd-$VER/drbd/build-$KVER
for m in $MODS; do
  f=$(find "$B" -name "$m" | head -1)
  [ -n "$f" ] || { echo "no $m in $B"; exit 1; }
  # without debug info (15 MB -> about 1 MB; the modules are not signed)
  cp "$f" "$R/tmp/$m"
  $CH strip --strip-debug "/tmp/$m"
  $CH modinfo "/tmp/$m" | grep -E '^(version|vermagic|depends|name):'
  install -m 644 "$R/tmp/$m" "$OUT/$m"
done
# depmod here, at the host's speed, on the same module tree as the VMs' (their disk is made from
# this rootfs): under TCG it takes a minute (xz-compressed modules); the VMs copy the index
# when their modules.dep is the image's (base.sha256), else run depmod -a themselves
ts "depmod -a $KVER (for the VMs)"
M=$R/lib/modules/$KVER
mkdir -p "$OUT/depmod" "$M/updates/drbd9"
sha256sum < "$M/modules.dep" | cut -d' ' -f1 > "$OUT/depmod/base.sha256"
for m in $MODS; do install -m 644 "$OUT/$m" "$M/updates/drbd9/$m"; done
$CH depmod -a "$KVER"
cp "$M"/modules.* "$OUT/depmod/"
grep -q '^updates/drbd9/drbd.ko:' "$OUT/depmod/modules.dep"
ts "done: $(cd "$OUT" && ls ./*.ko | tr '\n' ' ')"
`

// drbdSetup resolves Config.DRBD for Up: in vm mode with 9.x it builds (or finds) the module
// and records it in the state; without the sources it falls back to 8.4 with a message, or
// fails when they are required (Config.DRBDRequired, or GOCF_CHECK set).
func (b *Bed) drbdSetup(img *Image) error {
	b.st.DRBD = DefaultDRBD
	if _, err := ParseDRBDVersion(b.cfg.DRBD); err != nil {
		return err
	}
	if !IsDRBD9(b.cfg.DRBD) {
		return nil
	}
	if b.cfg.Mode != "vm" {
		return fmt.Errorf("DRBD %s: only in vm mode (ns nodes share the host's kernel)", b.cfg.DRBD)
	}
	dir, err := EnsureDRBDModule(img, b.cfg.DRBD, b.cfg.CacheDir, b.cfg.Log)
	if errors.Is(err, ErrNoDRBDSources) && !b.cfg.DRBDRequired && os.Getenv("GOCF_CHECK") == "" {
		b.logf("DRBD %s requested, but %v: the VMs run DRBD %s (the in-tree module)", b.cfg.DRBD, err, DefaultDRBD)
		return nil
	}
	if err != nil {
		return err
	}
	b.st.DRBD, b.st.DRBDModules = DRBDModuleVersion(dir), dir
	return nil
}

// DRBD is the DRBD version the VMs run: "8.4" (in-tree) or the exact version of LINBIT's module.
func (b *Bed) DRBD() string {
	if b.st.DRBD == "" {
		return DefaultDRBD
	}
	return b.st.DRBD
}

// vmCopyDRBD puts the DRBD 9 module files into the VM's share (share/drbd9).
func (b *Bed) vmCopyDRBD(share string) error {
	if b.st.DRBDModules == "" {
		return nil
	}
	d := filepath.Join(share, "drbd9")
	if err := os.MkdirAll(d, 0o755); err != nil {
		return err
	}
	files := append([]string(nil), drbdModules...)
	// depmod's index for the image's tree (drbdBuildScript; older builds have none)
	if idx, _ := filepath.Glob(filepath.Join(b.st.DRBDModules, "depmod", "*")); len(idx) > 0 {
		if err := os.MkdirAll(filepath.Join(d, "depmod"), 0o755); err != nil {
			return err
		}
		for _, f := range idx {
			files = append(files, filepath.Join("depmod", filepath.Base(f)))
		}
	}
	for _, m := range files {
		data, err := os.ReadFile(filepath.Join(b.st.DRBDModules, m))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(d, m), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// vmDRBDInstallScript installs the DRBD 9 modules of /gtb/drbd9 under updates/ (modprobe
// prefers them to the in-tree drbd), loads drbd and checks /proc/drbd says want. Without
// modules it only reports the in-tree module's version.
func vmDRBDInstallScript(want string) string {
	return `set -e
if [ ! -d /gtb/drbd9 ]; then echo "DRBD $(modinfo -F version drbd) (in-tree, not loaded yet)"; exit 0; fi
K=$(uname -r)
V=$(modinfo -F vermagic /gtb/drbd9/drbd.ko | cut -d' ' -f1)
[ "$K" = "$V" ] || { echo "kernel $K: the module is built for $V"; exit 1; }
mkdir -p /lib/modules/$K/updates/drbd9
install -m 644 /gtb/drbd9/*.ko /lib/modules/$K/updates/drbd9/
X=/gtb/drbd9/depmod
same() { for f in $X/modules.*; do cmp -s "$f" "/lib/modules/$K/${f##*/}" || return 1; done; }
if [ -f $X/modules.dep ] && same; then
  : # installed at an earlier boot of this VM
elif [ -f $X/base.sha256 ] && [ "$(sha256sum < /lib/modules/$K/modules.dep | cut -d' ' -f1)" = "$(cat $X/base.sha256)" ]; then
  cp $X/modules.* /lib/modules/$K/ # depmod -a of the build, on the image's module tree
else
  depmod -a $K
fi
loaded() { sed -n '1s/^version: \([^ ]*\).*/\1/p' /proc/drbd 2>/dev/null; }
if grep -q '^drbd ' /proc/modules && [ "$(loaded)" != "` + want + `" ]; then
  rmmod drbd_transport_tcp 2>/dev/null || true; rmmod drbd
fi
modprobe drbd
head -1 /proc/drbd
[ "$(loaded)" = "` + want + `" ] || { echo "loaded DRBD is not ` + want + `"; exit 1; }
`
}

// vmDRBDInstall runs vmDRBDInstallScript on VM n (before its cluster starts) and logs which
// DRBD it runs.
func (b *Bed) vmDRBDInstall(n string) error {
	out, err := b.vmExec(n, 300*time.Second, nil, "/bin/bash", "-c", vmDRBDInstallScript(b.DRBD()))
	out = strings.TrimSpace(out)
	if err != nil {
		return fmt.Errorf("DRBD %s on %s: %v: %s", b.DRBD(), n, err, out)
	}
	b.logf("VM %s: %s", n, out)
	return nil
}
