package asterisk

import (
	"context"
	"fmt"
	"syscall"
)

// The actions reach Asterisk only through Tools, so that their logic runs
// in tests against recorded behaviour (see testdata/README.md); the exec
// implementations are tested on their own with real processes and sockets.

// Exit is how a process ended.
type Exit struct {
	Code   int            // its exit status, when it exited
	Signal syscall.Signal // the signal that ended it, else 0
}

func (e Exit) String() string {
	if e.Signal != 0 {
		return fmt.Sprintf("was killed by signal %d (%v)", int(e.Signal), e.Signal)
	}
	return fmt.Sprintf("exited with status %d", e.Code)
}

// Process is Asterisk's processes on this node.
type Process interface {
	// Start runs bin with args in a session of its own, on /dev/null,
	// with an open files limit of maxfiles; exited reports its end.
	Start(bin string, args []string, maxfiles uint64) (pid int, exited <-chan Exit, err error)
	// Running returns the pid the pid file of rundir names when that
	// process is a live bin, else 0.
	Running(rundir, bin string) int
	// Alive tells whether pid is still a live (not zombie) bin.
	Alive(pid int, bin string) bool
	// Stopped tells whether pid is stopped by a signal or a tracer: it
	// answers nothing until it is continued.
	Stopped(pid int) bool
	// Wait waits for pid to end; it returns ctx's error when ctx ends first.
	Wait(ctx context.Context, pid int, bin string) error
	// Signal sends sig to pid.
	Signal(pid int, sig syscall.Signal) error
	// KillSession kills pid with SIGKILL, and all of its session when it
	// leads one.
	KillSession(pid int) error
	// Canaries lists the astcanary processes of the instance of rundir.
	Canaries(rundir, canary string) []int
}

// Console is Asterisk's control socket.
type Console interface {
	// Command runs one CLI command and returns the banner and the output.
	Command(ctx context.Context, cmd string) (Banner, string, error)
	// Send sends a command without waiting for its output.
	Send(ctx context.Context, cmd string) (Banner, error)
}

// Tools are what one invocation works with.
type Tools struct {
	Proc    Process
	Console func(path string) Console
	// ARI returns the version /asterisk/info reports.
	ARI func(ctx context.Context, url, user, password string) (string, error)
	// SIP sends OPTIONS to uri and returns the final answer.
	SIP func(ctx context.Context, uri string) (SIPAnswer, error)
}

func execTools() Tools {
	return Tools{
		Proc:    execProcess{},
		Console: func(path string) Console { return Ctl{Path: path} },
		ARI:     ariInfo,
		SIP:     sipOptions,
	}
}
