package testbed

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

//go:embed image/build.sh image/packages.txt image/gtb-agent image/gtb-agent.service
var imageFS embed.FS

//go:embed node/outer.sh node/init.sh node/systemctl
var nodeFS embed.FS

// Image is a built test-bed image in the cache.
type Image struct {
	Dir    string // CacheDir/<key>
	Rootfs string // Dir/rootfs (lower layer of the ns nodes; never written)
	Kernel string
	Initrd string
	Qcow2  string
}

// ImageKey is the hash of the build inputs (the embedded image/ files): the cache key.
func ImageKey() string {
	h := sha256.New()
	var names []string
	_ = fs.WalkDir(imageFS, "image", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, p)
		}
		return nil
	})
	sort.Strings(names)
	for _, n := range names {
		data, _ := imageFS.ReadFile(n)
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(data))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func imageAt(dir string) *Image {
	return &Image{Dir: dir, Rootfs: filepath.Join(dir, "rootfs"), Kernel: filepath.Join(dir, "vmlinuz"),
		Initrd: filepath.Join(dir, "initrd.img"), Qcow2: filepath.Join(dir, "base.qcow2")}
}

// EnsureImage returns the cached image for the current build inputs, building it first (under
// nice -n 10, about 2-4 minutes) when it is missing.
func EnsureImage(cacheDir string, log io.Writer) (*Image, error) {
	key := ImageKey()
	dir := filepath.Join(cacheDir, key)
	if _, err := os.Stat(filepath.Join(dir, "ok")); err == nil {
		return imageAt(dir), nil
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return nil, err
	}
	src, err := os.MkdirTemp("", "gtb-image-src-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(src)
	for _, n := range []string{"build.sh", "packages.txt", "gtb-agent", "gtb-agent.service"} {
		data, _ := imageFS.ReadFile("image/" + n)
		if err := os.WriteFile(filepath.Join(src, n), data, 0o755); err != nil {
			return nil, err
		}
	}
	tmp := dir + ".building"
	if err := safeRemoveAll(tmp); err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "[gtb] building image %s (log: %s/build.log)\n", key, tmp)
	t0 := time.Now()
	mirror, err := DebianMirror()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("nice", "-n", "10", "bash", filepath.Join(src, "build.sh"), tmp)
	cmd.Env = append(os.Environ(), "GTB_MIRROR="+mirror)
	cmd.Stdout, cmd.Stderr = log, log
	// bounded: a build that takes more than 40 minutes is broken (network, mirror)
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(40 * time.Minute):
		_ = cmd.Process.Kill()
		<-done
		err = fmt.Errorf("timed out")
	}
	if err != nil {
		// build.sh unmounts its chroot mounts on exit; safeRemoveAll checks that nothing stays
		// mounted (a bind mount of /dev!) before removing the partial tree
		if rerr := safeRemoveAll(tmp); rerr != nil {
			fmt.Fprintf(log, "[gtb] %v\n", rerr)
		}
		return nil, fmt.Errorf("image build failed: %w", err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "ok"), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "[gtb] image %s built in %.0fs\n", key, time.Since(t0).Seconds())
	return imageAt(dir), nil
}

// PruneImages removes cached images other than keep. Only on request (`testbed image
// --prune`): other tools may use an image's rootfs as an overlay lower layer.
func PruneImages(cacheDir, keep string) {
	ents, err := os.ReadDir(cacheDir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if e.IsDir() && e.Name() != keep && len(e.Name()) == len(keep) {
			_ = safeRemoveAll(filepath.Join(cacheDir, e.Name()))
		}
	}
}

// mountsUnder returns the mount points (in this mount namespace) at or below dir, deepest first.
func mountsUnder(dir string) []string {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var ms []string
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			ms = append(ms, f[4])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(ms)))
	return ms
}

// safeRemoveAll unmounts whatever is mounted below dir, and removes dir only when nothing is
// mounted there any more (never recurse into a bind mount of a host directory).
func safeRemoveAll(dir string) error {
	dir = filepath.Clean(dir)
	if dir == "/" || dir == "." || dir == "" {
		return fmt.Errorf("refusing to remove %q", dir)
	}
	for _, m := range mountsUnder(dir) {
		_ = exec.Command("umount", m).Run()
	}
	if ms := mountsUnder(dir); len(ms) > 0 {
		for _, m := range ms {
			_ = exec.Command("umount", "-l", m).Run()
		}
		if ms := mountsUnder(dir); len(ms) > 0 {
			return fmt.Errorf("not removing %s: still mounted: %v", dir, ms)
		}
	}
	return os.RemoveAll(dir)
}
