package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/gocf/gocf/tests/testbed"
)

type sample struct {
	cpu, wall time.Duration
	rssKB     int64
}

// measure runs one agent action and checks its exit code.
func measure(agent, action string, want int, env []string) (sample, error) {
	return measureArgv([]string{agent, action}, env, want)
}

// measureArgv runs a command (env nil: inherited) and checks its exit code.
func measureArgv(argv, env []string, want int) (sample, error) {
	s, code, err := measureCode(argv, env)
	if err == nil && code != want {
		err = fmt.Errorf("%s %s returned %d, want %d", filepath.Base(argv[0]), argv[len(argv)-1], code, want)
	}
	return s, err
}

// measureCode runs a command (env nil: inherited) and returns its exit code.
func measureCode(argv, env []string) (sample, int, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	t0 := time.Now()
	err := cmd.Run()
	wall := time.Since(t0)
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		return sample{}, 0, err
	}
	ps := cmd.ProcessState
	ru := ps.SysUsage().(*syscall.Rusage)
	return sample{cpu: ps.UserTime() + ps.SystemTime(), wall: wall, rssKB: ru.Maxrss}, code, nil
}

func median(xs []sample, f func(sample) float64) float64 {
	v := make([]float64, len(xs))
	for i, x := range xs {
		v[i] = f(x)
	}
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

func header(shell, gocf string) {
	fmt.Printf("| action | %s CPU ms | %s CPU ms | CPU ratio | %s wall ms | %s wall ms | wall ratio | %s peak RSS MiB | %s peak RSS MiB |\n",
		shell, gocf, shell, gocf, shell, gocf)
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
}

// row prints one table row comparing the shell agent (sh) with gocf (g).
func row(action string, sh, g []sample) {
	ms := func(s sample) float64 { return float64(s.cpu) / float64(time.Millisecond) }
	wall := func(s sample) float64 { return float64(s.wall) / float64(time.Millisecond) }
	rss := func(s sample) float64 { return float64(s.rssKB) / 1024 }
	fmt.Printf("| %s | %.2f | %.2f | %.1f× | %.2f | %.2f | %.1f× | %.1f | %.1f |\n", action,
		median(sh, ms), median(g, ms), ratio(median(sh, ms), median(g, ms)),
		median(sh, wall), median(g, wall), ratio(median(sh, wall), median(g, wall)),
		median(sh, rss), median(g, rss))
}

func ratio(a, b float64) float64 {
	if b <= 0 {
		b = 0.001 // below the kernel's CPU accounting granularity
	}
	return a / b
}

func fail(err error) int { fmt.Fprintln(os.Stderr, "bench:", err); return 1 }

// agentPair is a gocf agent and the shell agent it replaces.
type agentPair struct{ gocf, shell string }

// compare measures each action on both agents, alternating runs so both
// see the same machine, and returns the samples per agent and action.
func compare(p agentPair, runs int, steps []func(agent string) (string, sample, error)) (map[string][]sample, map[string][]sample, []string, error) {
	g, sh := map[string][]sample{}, map[string][]sample{}
	var order []string
	for i := 0; i < runs; i++ {
		for _, step := range steps {
			for _, which := range []struct {
				agent string
				into  map[string][]sample
			}{{p.gocf, g}, {p.shell, sh}} {
				action, s, err := step(which.agent)
				if err != nil {
					return nil, nil, nil, err
				}
				if !slices.Contains(order, action) {
					order = append(order, action)
				}
				which.into[action] = append(which.into[action], s)
			}
		}
	}
	return g, sh, order, nil
}

// bedUp brings up a test bed of the bench's own; the caller takes it down.
func bedUp(cfg testbed.Config) (*testbed.Bed, error) {
	b, err := testbed.New(cfg)
	if err != nil {
		return nil, err
	}
	if b.Mode() != "" {
		return nil, fmt.Errorf("a test bed is up: run testbed down first")
	}
	if err := b.Up(); err != nil {
		b.Down()
		return nil, err
	}
	return b, nil
}
