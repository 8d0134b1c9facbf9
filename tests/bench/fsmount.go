package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

func benchFsmount(fsmount, filesystem string, runs int) int {
	loops := strings.Fields(os.Getenv("GOCF_BENCH_LOOPS"))
	if len(loops) < 11 {
		return fail(fmt.Errorf("need 11 loop devices, got %d", len(loops)))
	}
	dir, err := os.MkdirTemp("", "gocf-bench-mnt-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(dir)
	envFor := func(dev, mnt string) []string {
		return []string{
			"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "OCF_ROOT=/usr/lib/ocf", "OCF_RESOURCE_INSTANCE=benchfs",
			"OCF_RESKEY_device=" + dev, "OCF_RESKEY_directory=" + mnt, "OCF_RESKEY_fstype=ext4",
			"OCF_RESKEY_CRM_meta_timeout=60000",
		}
	}
	env := envFor(loops[0], filepath.Join(dir, "m"))
	recurring := append(slices.Clone(env), "OCF_RESKEY_CRM_meta_interval=20000")
	pair := agentPair{fsmount, filesystem}

	if _, err := measure(fsmount, "start", 0, env); err != nil {
		return fail(err)
	}
	g, sh, order, err := compare(pair, runs, []func(string) (string, sample, error){
		func(a string) (string, sample, error) {
			s, err := measure(a, "monitor", 0, recurring)
			return "monitor", s, err
		},
	})
	if err != nil {
		return fail(err)
	}
	if _, err := measure(fsmount, "stop", 0, env); err != nil {
		return fail(err)
	}
	g2, sh2, order2, err := compare(pair, runs, []func(string) (string, sample, error){
		func(a string) (string, sample, error) { s, err := measure(a, "start", 0, env); return "start", s, err },
		func(a string) (string, sample, error) { s, err := measure(a, "stop", 0, env); return "stop", s, err },
	})
	if err != nil {
		return fail(err)
	}

	// Stop of 10 busy filesystems: each mounted and held by a process with
	// its working directory inside; the agents stop them one after the
	// other, as a cluster stopping ten resources would.
	busy := func(agent string) (string, sample, error) {
		var envs [][]string
		var holders []*exec.Cmd
		defer func() {
			for _, h := range holders {
				h.Process.Kill()
				h.Wait()
			}
		}()
		for i, dev := range loops[1:11] {
			e := envFor(dev, filepath.Join(dir, fmt.Sprintf("busy%d", i)))
			if _, err := measure(fsmount, "start", 0, e); err != nil {
				return "", sample{}, err
			}
			h := exec.Command("sleep", "600")
			h.Dir = filepath.Join(dir, fmt.Sprintf("busy%d", i))
			if err := h.Start(); err != nil {
				return "", sample{}, err
			}
			holders = append(holders, h)
			envs = append(envs, e)
		}
		var total sample
		t0 := time.Now()
		for _, e := range envs {
			s, err := measure(agent, "stop", 0, e)
			if err != nil {
				return "", sample{}, err
			}
			total.cpu += s.cpu
			total.rssKB = max(total.rssKB, s.rssKB)
		}
		total.wall = time.Since(t0)
		for _, h := range holders {
			if h.Process.Signal(syscall.Signal(0)) == nil && h.ProcessState == nil {
				// Reap to see whether it really died.
				done := make(chan struct{})
				go func() { h.Wait(); close(done) }()
				select {
				case <-done:
				case <-time.After(2 * time.Second):
					return "", sample{}, fmt.Errorf("%s left a holder alive", filepath.Base(agent))
				}
			}
		}
		holders = nil
		return "stop 10 busy", total, nil
	}
	g3, sh3, order3, err := compare(pair, 5, []func(string) (string, sample, error){busy})
	if err != nil {
		return fail(err)
	}

	fmt.Printf("\nfsmount against Filesystem, median of %d runs each (stop of 10 busy filesystems: 5 runs), ext4 on loop devices in a private mount namespace\n\n", runs)
	header("Filesystem", "fsmount")
	for _, a := range order {
		row(a, sh[a], g[a])
	}
	for _, a := range order2 {
		row(a, sh2[a], g2[a])
	}
	for _, a := range order3 {
		row(a, sh3[a], g3[a])
	}
	return 0
}
