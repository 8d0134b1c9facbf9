// Command bench compares gocf agents with the resource-agents shell agents
// they replace, in the same run on the same resource: whole-process CPU
// time (user+system of the agent and every child it waited for), wall
// time and peak memory, median of many runs, and the ratio.
//
// It runs as root in a network namespace and a private mount namespace of
// its own (re-executing itself there), so nothing touches the host's
// interfaces or mounts.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

const insideEnv = "GOCF_BENCH_INSIDE"

func main() {
	runs := flag.Int("runs", 25, "runs per measurement (at least 20)")
	bin := flag.String("bin", "bin", "directory of the gocf agents")
	ra := flag.String("ra", "/usr/lib/ocf/resource.d/heartbeat", "directory of the shell agents")
	noop := flag.String("noop", ".cache/bench/noop", "the floor: a no-op Go binary built as the agents are (make bench builds it)")
	only := flag.String("only", "", "run only these parts, comma-separated (vip, fsmount, startup, asterisk, drbd)")
	drbd := flag.String("drbd", "8.4", "the DRBD of the drbd part's VMs: 8.4 (in-tree) or 9.2, 9.3 (LINBIT's, from ../shared/drbd9)")
	flag.Parse()
	*runs = max(*runs, 20)
	abs, _ := filepath.Abs(*bin)
	parts := strings.Split(*only, ",")
	part := func(name string) bool { return *only == "" || slices.Contains(parts, name) }
	if os.Getenv(insideEnv) == "" {
		rc := 0
		if part("vip") || part("fsmount") || part("startup") {
			rc = outside(abs, *noop)
		}
		// Asterisk runs only in a test bed node, DRBD only in its VMs.
		if part("asterisk") {
			rc |= benchAsterisk(abs, *runs)
		}
		if part("drbd") {
			rc |= benchDRBD(abs, *drbd, *runs)
		}
		os.Exit(rc)
	}
	rc := 0
	if part("vip") {
		rc |= benchVip(filepath.Join(abs, "vip"), filepath.Join(*ra, "IPaddr2"), *runs)
	}
	if part("fsmount") {
		rc |= benchFsmount(filepath.Join(abs, "fsmount"), filepath.Join(*ra, "Filesystem"), *runs)
	}
	if part("startup") {
		rc |= benchStartup(abs, *runs)
	}
	os.Exit(rc)
}

// outside sets up the namespaces, re-runs the bench inside and tears down.
func outside(bin, noop string) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "bench: needs root (network and mount namespaces, loop devices)")
		return 1
	}
	ns, peer := fmt.Sprintf("gocf-bench%d", os.Getpid()), fmt.Sprintf("gocf-benchp%d", os.Getpid())
	defer func() {
		exec.Command("ip", "netns", "del", ns).Run()
		exec.Command("ip", "netns", "del", peer).Run()
	}()
	steps := [][]string{
		{"netns", "add", ns}, {"netns", "add", peer},
		{"link", "add", "gbench0", "netns", ns, "type", "veth", "peer", "name", "gbench1", "netns", peer},
		{"-n", ns, "link", "set", "lo", "up"}, {"-n", ns, "link", "set", "gbench0", "up"},
		{"-n", peer, "link", "set", "gbench1", "up"},
		{"-n", ns, "addr", "add", "198.51.100.1/24", "dev", "gbench0"},
		{"-n", peer, "addr", "add", "198.51.100.2/24", "dev", "gbench1"},
	}
	for _, s := range steps {
		if out, err := exec.Command("ip", s...).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "ip %s: %v\n%s", strings.Join(s, " "), err, out)
			return 1
		}
	}
	loops, cleanup, err := makeLoops(11)
	defer cleanup()
	if err != nil {
		return fail(err)
	}
	bin, err = installed(bin, noop)
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(bin)
	self, _ := os.Executable()
	args := append([]string{"netns", "exec", ns, "unshare", "-m", "--propagation", "private", self}, os.Args[1:]...)
	args = append(args, "-bin", bin)
	cmd := exec.Command("ip", args...)
	cmd.Env = append(os.Environ(), insideEnv+"=1", "GOCF_BENCH_LOOPS="+strings.Join(loops, " "))
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return 1
	}
	return 0
}

// installed copies the binaries of dir, and noop as "noop", into a new
// directory with plain writes, as a package installs them. The linker writes its output through
// a memory mapping, and a binary run from that page cache starts about
// 0.3 ms (15 %) slower than the same bytes written by cp or dpkg.
func installed(dir, noop string) (string, error) {
	tmp, err := os.MkdirTemp("", "gocf-bench-bin-")
	if err != nil {
		return "", err
	}
	ents, err := os.ReadDir(dir)
	files := map[string]string{}
	if _, serr := os.Stat(noop); serr == nil {
		files["noop"] = noop // only the startup part runs it
	}
	for _, e := range ents {
		files[e.Name()] = filepath.Join(dir, e.Name())
	}
	for name, src := range files {
		if err != nil {
			break
		}
		var b []byte
		if b, err = os.ReadFile(src); err == nil {
			err = os.WriteFile(filepath.Join(tmp, name), b, 0o755)
		}
	}
	if err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	return tmp, nil
}

// makeLoops makes n small ext4 images on loop devices.
func makeLoops(n int) ([]string, func(), error) {
	dir, err := os.MkdirTemp("", "gocf-bench-")
	if err != nil {
		return nil, func() {}, err
	}
	var devs []string
	cleanup := func() {
		for _, d := range devs {
			exec.Command("losetup", "-d", d).Run()
		}
		os.RemoveAll(dir)
	}
	for i := 0; i < n; i++ {
		img := filepath.Join(dir, fmt.Sprintf("fs%d.img", i))
		if out, err := exec.Command("truncate", "-s", "16M", img).CombinedOutput(); err != nil {
			return devs, cleanup, fmt.Errorf("truncate: %v %s", err, out)
		}
		if out, err := exec.Command("mkfs.ext4", "-q", "-F", img).CombinedOutput(); err != nil {
			return devs, cleanup, fmt.Errorf("mkfs.ext4: %v %s", err, out)
		}
		out, err := exec.Command("losetup", "--find", "--show", img).Output()
		if err != nil {
			return devs, cleanup, fmt.Errorf("losetup: %v", err)
		}
		devs = append(devs, strings.TrimSpace(string(out)))
	}
	return devs, cleanup, nil
}
