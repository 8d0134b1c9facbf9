package fencepeer

import (
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gocf/gocf/pkg/command"
	"golang.org/x/sys/unix"
)

// Result is what a command left behind (see package command).
type Result = command.Result

// Cibadmin is cibadmin(8) on the constraints section. CIB_file in the
// environment points all of it at a file, as for the tests.
type Cibadmin interface {
	// Query is `cibadmin -Q`, with -t SECONDS when timeout > 0 (asking
	// the DC with a bound), else -l (the local copy).
	Query(ctx context.Context, timeout time.Duration) (Result, error)
	// Create adds the constraint; it fails when the id exists.
	Create(ctx context.Context, xml string) (Result, error)
	// Replace replaces the constraint of the same id.
	Replace(ctx context.Context, xml string) (Result, error)
	// Delete removes the object the XML names by tag and id.
	Delete(ctx context.Context, xml string) (Result, error)
}

// CrmNode is crm_node(8): this node's name in the cluster.
type CrmNode interface {
	Name(ctx context.Context) (Result, error)
}

// Crmadmin is crmadmin(8): whether a node's controller answers.
type Crmadmin interface {
	Status(ctx context.Context, node string, timeout time.Duration) (Result, error)
}

// Drbdsetup is drbdsetup(8): DRBD's state.
type Drbdsetup interface {
	Events2Now(ctx context.Context, res string) (Result, error)
}

// Tools are the programs and files one run works with.
type Tools struct {
	Cibadmin  Cibadmin
	CrmNode   CrmNode
	Crmadmin  Crmadmin
	Drbdsetup Drbdsetup
	// ProcDRBD reads /proc/drbd; an error when the module is not loaded.
	ProcDRBD func() (string, error)
	// Uname is the kernel's node name, the fallback for crm_node.
	Uname func() string
	// Sleep waits between polls (tests make it instant).
	Sleep func(ctx context.Context, d time.Duration)
	// Now is the clock for the time limits.
	Now func() time.Time
}

// ExecTools are the real programs, found on PATH.
func ExecTools() Tools {
	return Tools{
		Cibadmin: execCibadmin{}, CrmNode: execCrmNode{}, Crmadmin: execCrmadmin{}, Drbdsetup: execDrbdsetup{},
		ProcDRBD: func() (string, error) {
			b, err := os.ReadFile("/proc/drbd")
			return string(b), err
		},
		Uname: uname,
		Sleep: func(ctx context.Context, d time.Duration) {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-ctx.Done():
			case <-t.C:
			}
		},
		Now: time.Now,
	}
}

func run(ctx context.Context, argv ...string) (Result, error) {
	return command.Run(ctx, argv, command.Options{})
}

type execCibadmin struct{}

func (execCibadmin) Query(ctx context.Context, timeout time.Duration) (Result, error) {
	if timeout > 0 {
		secs := max(int(timeout/time.Second), 1)
		return run(ctx, "cibadmin", "--query", "--timeout", strconv.Itoa(secs))
	}
	return run(ctx, "cibadmin", "--query", "--local")
}

func (execCibadmin) Create(ctx context.Context, xml string) (Result, error) {
	return run(ctx, "cibadmin", "--create", "--scope", "constraints", "--xml-text", xml)
}

func (execCibadmin) Replace(ctx context.Context, xml string) (Result, error) {
	return run(ctx, "cibadmin", "--replace", "--scope", "constraints", "--xml-text", xml)
}

func (execCibadmin) Delete(ctx context.Context, xml string) (Result, error) {
	return run(ctx, "cibadmin", "--delete", "--xml-text", xml)
}

type execCrmNode struct{}

func (execCrmNode) Name(ctx context.Context) (Result, error) { return run(ctx, "crm_node", "--name") }

type execCrmadmin struct{}

func (execCrmadmin) Status(ctx context.Context, node string, timeout time.Duration) (Result, error) {
	ms := max(timeout.Milliseconds(), 1000)
	return run(ctx, "crmadmin", "--timeout", strconv.FormatInt(ms, 10), "--status", node)
}

type execDrbdsetup struct{}

// Events2Now runs `drbdsetup events2 --now RES`. No `--` before the
// resource: the handler refuses resource names starting with a dash
// instead, as drbd-utils' own callers pass it plainly.
func (execDrbdsetup) Events2Now(ctx context.Context, res string) (Result, error) {
	return run(ctx, "drbdsetup", "events2", "--now", res)
}

// uname is uname -n.
func uname() string {
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		h, _ := os.Hostname()
		return h
	}
	var b strings.Builder
	for _, c := range u.Nodename {
		if c == 0 {
			break
		}
		b.WriteByte(byte(c))
	}
	return b.String()
}

// IsTerminal tells whether f is a terminal (--unreachable-peer-is-outdated
// is for an operator at one, never for a handler line in drbd.conf).
func IsTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
