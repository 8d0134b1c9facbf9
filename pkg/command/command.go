// Package command runs the external programs of the agents: an argument
// list, never a shell, in a process group of its own that is killed whole
// when the context ends, so that a program which started helpers (mount
// starting mount.nfs, drbdadm starting drbdsetup) leaves nothing behind
// and nothing holding its output open.
package command

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// waitDelay bounds how long Run waits for the output pipes after the kill:
// a descendant that left the process group may still hold them open.
const waitDelay = time.Second

// Result is what a command left behind. A command that ran and failed is a
// Result with a non-zero Code; an error is kept for a command that could
// not run or was killed at its deadline.
type Result struct {
	Code   int
	Stdout string
	Stderr string
}

// Line is the most telling line of the output for an exit reason: the
// first line of stderr, else of stdout.
func (r Result) Line() string {
	for _, s := range []string{r.Stderr, r.Stdout} {
		for l := range strings.Lines(s) {
			if l = strings.TrimSpace(l); l != "" {
				return l
			}
		}
	}
	return fmt.Sprintf("exit code %d", r.Code)
}

// Options tune a run.
type Options struct {
	// Env is added to the agent's environment; nil leaves the environment
	// as the agent's.
	Env []string
	// Combined sends stderr into Stdout, interleaved as written, for
	// output that is read as one log.
	Combined bool
}

// ErrNoCommand is the error for an empty argument list.
var ErrNoCommand = errors.New("command: empty argument list")

// Run runs argv[0] with the arguments argv[1:] under ctx and waits for it.
// At ctx's end the whole process group is killed and Run returns what was
// captured with an error wrapping ctx.Err().
func Run(ctx context.Context, argv []string, opts Options) (Result, error) {
	cmd, err := prepare(ctx, argv, opts)
	if err != nil {
		return Result{}, err
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if opts.Combined {
		cmd.Stderr = &out
	}
	err = cmd.Run()
	res := Result{Stdout: out.String(), Stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err != nil && ctx.Err() != nil:
		return res, fmt.Errorf("%s: no answer before the deadline: %w", strings.Join(argv, " "), ctx.Err())
	case errors.As(err, &ee):
		res.Code = ee.ExitCode()
		return res, nil
	}
	return res, err
}

// Stream starts argv and returns its standard output while it runs; stderr
// is discarded. Closing the stream kills the process group and reaps it;
// ctx's end kills it too.
func Stream(ctx context.Context, argv []string, opts Options) (io.ReadCloser, error) {
	cmd, err := prepare(ctx, argv, opts)
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &stream{cmd: cmd, r: out}, nil
}

func prepare(ctx context.Context, argv []string, opts Options) (*exec.Cmd, error) {
	if len(argv) == 0 || argv[0] == "" {
		return nil, ErrNoCommand
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	if opts.Env != nil {
		cmd.Env = append(os.Environ(), opts.Env...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = waitDelay
	return cmd, nil
}

// stream is a running command's output; Close ends the process group.
type stream struct {
	cmd  *exec.Cmd
	r    io.Reader
	once sync.Once
}

func (s *stream) Read(p []byte) (int, error) { return s.r.Read(p) }

func (s *stream) Close() error {
	s.once.Do(func() {
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		s.cmd.Wait()
	})
	return nil
}
