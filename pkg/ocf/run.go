package ocf

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"
)

// exitReasonMax is how much of an exit reason Pacemaker keeps.
const exitReasonMax = 128

// defaultTimeout applies when neither Pacemaker nor the declaration says.
const defaultTimeout = 20 * time.Second

// noHelpFlag drops urfave/cli's help flag, once for all Runs: -h and
// --help still reach OnUsageError as flag.ErrHelp (the flag package's
// answer to an undefined -h), and urfave/cli no longer runs a regexp over
// the flag's names at every start.
var noHelpFlag sync.Once

// Main runs the agent on the process's arguments and environment and exits
// with the OCF status.
func Main(a *Agent) {
	growStack()
	os.Exit(int(Run(a, os.Args, os.Environ(), os.Stdout, os.Stderr, os.Exit)))
}

// growStack grows the main goroutine's stack once (to 128 KiB), while it
// holds two frames: a stack grown later, deep in urfave/cli and an action,
// is copied frame by frame, several times (netlink alone keeps 64 KiB on
// it; 4-7 % of vip's monitor). The array is in the frame but never
// written, so its pages are not touched.
//
//go:noinline
func growStack() {
	if stackNever {
		var b [100 << 10]byte
		os.Stdout.Write(b[:])
	}
}

// stackNever is false; the compiler cannot tell, so it keeps the array.
var stackNever bool

// Run dispatches args[1] as the action. exit is called only by the watchdog
// that stops an action overrunning its timeout.
func Run(a *Agent, args, environ []string, stdout, stderr io.Writer, exit func(int)) Status {
	getenv := lookupIn(environ)
	status := Success
	names := a.actionNames()
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "usage: %s {%s}\n", a.Name, strings.Join(names, "|"))
	}
	noHelpFlag.Do(func() { cli.HelpFlag = nil })
	app := &cli.App{
		Name:  a.Name,
		Usage: a.Short,
		// Set, so that Setup does not look up the executable for its
		// modification time, which only the (hidden) help shows.
		Compiled:        time.Unix(0, 0),
		Writer:          stdout,
		ErrWriter:       stderr,
		HideHelp:        true,
		HideHelpCommand: true,
		ExitErrHandler:  func(*cli.Context, error) {},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			if errors.Is(err, flag.ErrHelp) {
				usage(stdout) // -h, --help
				return nil
			}
			writeReason(stderr, getenv, err.Error())
			usage(stderr)
			status = ErrArgs
			return nil
		},
		// Reached with no action, or one that is no command: urfave/cli
		// hands unknown words to the root action.
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				status = ErrUnimplemented
				writeReason(stderr, getenv, fmt.Sprintf("unknown action %q", c.Args().First()))
			} else {
				status = ErrArgs
				writeReason(stderr, getenv, "no action given")
			}
			usage(stderr)
			return nil
		},
	}
	for _, name := range names {
		app.Commands = append(app.Commands, &cli.Command{
			Name:            name,
			SkipFlagParsing: true,
			Action: func(*cli.Context) error {
				status = runAction(a, name, environ, getenv, stdout, stderr, exit)
				return nil
			},
		})
	}
	for _, h := range a.Helpers {
		app.Commands = append(app.Commands, &cli.Command{
			Name: h.Name, Hidden: true, SkipFlagParsing: true,
			Action: func(c *cli.Context) error {
				ctx, cancel := context.WithTimeout(context.Background(), h.Timeout)
				defer cancel()
				dbg, _ := ParseBool(getenv("HA_debug"))
				status = h.Run(ctx, c.Args().Slice(), newLogger(stderr, a.Name, getenv("OCF_RESOURCE_INSTANCE"), dbg))
				return nil
			},
		})
	}
	app.Commands = append(app.Commands, &cli.Command{
		Name: "usage", Aliases: []string{"help"}, SkipFlagParsing: true,
		Action: func(*cli.Context) error { usage(stdout); return nil },
	})
	if err := app.Run(args); err != nil {
		writeReason(stderr, getenv, err.Error())
		usage(stderr)
		return ErrArgs
	}
	return status
}

// actionNames lists the dispatchable actions, meta-data and validate-all
// included, in declaration order.
func (a *Agent) actionNames() []string {
	var names []string
	for _, act := range a.metaActions() {
		if !slices.Contains(names, act.Name) {
			names = append(names, act.Name)
		}
	}
	return names
}

func runAction(a *Agent, name string, environ []string, getenv func(string) string, stdout, stderr io.Writer, exit func(int)) Status {
	caller := callerVersion(getenv)
	if name == "meta-data" {
		stdout.Write(a.MetaData(caller))
		return Success
	}
	instance := getenv("OCF_RESOURCE_INSTANCE")
	dbg, _ := ParseBool(getenv("HA_debug"))
	r := &Request{
		Agent:    a,
		Action:   name,
		Instance: instance,
		Meta:     parseMeta(environ),
		Caller:   caller,
		Log:      newLogger(stderr, a.Name, instance, dbg),
		environ:  environ,
		getenv:   getenv,
	}
	level, _ := strconv.Atoi(strings.TrimSpace(getenv("OCF_CHECK_LEVEL")))
	r.Depth = a.effectiveDepth(level)

	timeout := r.Meta.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
		for _, act := range a.metaActions() {
			if act.Name == name {
				timeout = act.Timeout
				break
			}
		}
	}
	margin := min(max(timeout/10, 100*time.Millisecond), 2*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), timeout-margin)
	defer cancel()
	// Whatever the action does, the process ends before Pacemaker's timeout.
	watchdog := time.AfterFunc(timeout-margin/2, func() {
		r.Log.Errorf("%s did not finish within %s", name, FormatDuration(timeout))
		writeReason(stderr, getenv, fmt.Sprintf("%s did not finish within its timeout of %s", name, FormatDuration(timeout)))
		exit(int(ErrGeneric))
	})
	defer watchdog.Stop()

	status := dispatch(ctx, a, r)
	degraded := (status == Degraded || status == DegradedPromoted) && r.reason != ""
	if degraded || status.Failed() && !(status == NotRunning && (name == "monitor" || name == "status") && (r.reason == "" || r.IsProbe())) {
		reason := r.reason
		if reason == "" {
			reason = fmt.Sprintf("%s failed (%s)", name, status)
		}
		r.Log.Errorf("%s", reason)
		writeReason(stderr, getenv, reason)
	}
	r.Log.Debugf("%s returns %d (%s)", name, int(status), status)
	return status
}

// dispatch checks the configuration and runs the action, turning a panic
// into a generic error: Go's own panic exit code (2) would read as
// OCF_ERR_ARGS.
func dispatch(ctx context.Context, a *Agent, r *Request) (status Status) {
	defer func() {
		if p := recover(); p != nil {
			r.Log.Errorf("panic: %v", p)
			// One log line per line of the stack: the logger would
			// escape its newlines into one unreadable line.
			for _, l := range strings.Split(strings.TrimSpace(string(debug.Stack())), "\n") {
				r.Log.Errorf("%s", strings.ReplaceAll(l, "\t", "    "))
			}
			status = r.Fail(ErrGeneric, "internal error in %s %s: %v", a.Name, r.Action, p)
		}
	}()
	if errs := r.loadParams(); len(errs) > 0 {
		for _, err := range errs {
			r.Log.Errorf("configuration: %v", err)
		}
		switch {
		case r.Action == "stop":
			// Nothing can have been started from a configuration that
			// cannot be valid, so there is nothing to stop.
			return Success
		case r.IsProbe():
			return NotRunning
		}
		// "; " and not errors.Join's newline, which the reason would
		// show escaped.
		msgs := make([]string, len(errs))
		for i, err := range errs {
			msgs[i] = err.Error()
		}
		return r.Fail(ErrConfigured, "%s", strings.Join(msgs, "; "))
	}
	if r.Action == "start" || r.Action == "validate-all" || r.Action == "reload-agent" {
		r.warnUnknownParams()
	}
	if r.Action == "validate-all" {
		if a.Validate != nil {
			return a.Validate(ctx, r)
		}
		return Success
	}
	act, ok := a.action(r.Action)
	switch {
	case ok:
		return act.Run(ctx, r)
	case r.Action == "reload-agent" && a.reloadable():
		return reloadAgent(ctx, a, r)
	case r.Action == "status" && a.sdkAction("status"):
		// As the shell agents' status: is it running, at depth 0,
		// changing nothing (a probe sends no refresh, sets no score).
		mon, _ := a.action("monitor")
		r.Depth, r.Meta.Interval = 0, 0
		return mon.Run(ctx, r)
	}
	return r.Fail(ErrUnimplemented, "%s does not implement %s", a.Name, r.Action)
}

// reloadAgent is OCF 1.1's reload-agent when the agent leaves it to the
// SDK: Pacemaker calls it, with the new parameters, when only reloadable
// ones changed. The configuration passed Check already (ErrConfigured
// otherwise); the node-local checks of validate-all run next, then the
// agent's Reload applies what needs applying. The resource is neither
// stopped nor started.
func reloadAgent(ctx context.Context, a *Agent, r *Request) Status {
	if a.Validate != nil {
		if st := a.Validate(ctx, r); st != Success {
			return st
		}
	}
	if a.Reload != nil {
		return a.Reload(ctx, r)
	}
	r.Log.Infof("reloadable parameters take effect from the next action that uses them")
	return Success
}

// warnUnknownParams names parameters the agent does not know, such as
// shell-agent options gocf leaves out, so an admin sees they are ignored.
func (r *Request) warnUnknownParams() {
	for _, kv := range r.environ {
		k, _, _ := strings.Cut(kv, "=")
		name, ok := strings.CutPrefix(k, "OCF_RESKEY_")
		if !ok || strings.HasPrefix(name, "CRM_meta_") || r.getenv(k) == "" {
			continue
		}
		if _, known := r.Params.decl[name]; !known {
			r.Log.Warnf("parameter %s is not a parameter of %s and is ignored", name, r.Agent.Name)
		}
	}
}

// lookupIn returns a getenv over an environment list.
func lookupIn(environ []string) func(string) string {
	env := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return func(k string) string { return env[k] }
}

// loadParams parses the parameters and runs the agent's configuration check.
func (r *Request) loadParams() []error {
	var errs []error
	r.Params, errs = parseParams(r.Agent.Params, r.getenv)
	if len(errs) == 0 && r.Agent.Check != nil {
		c, err := r.Agent.Check(r)
		if err != nil {
			errs = append(errs, err)
		}
		r.config = c
	}
	return errs
}

// writeReason prints the one exit-reason line Pacemaker picks up.
func writeReason(w io.Writer, getenv func(string) string, reason string) {
	prefix := escape(getenv("OCF_EXIT_REASON_PREFIX"))
	if prefix == "" {
		prefix = "ocf-exit-reason:"
	}
	// Escaped, it stays one line: no caller adds a second, forged one.
	reason = strings.Join(strings.Fields(escape(reason)), " ")
	if r := []rune(reason); len(r) > exitReasonMax {
		reason = string(r[:exitReasonMax-1]) + "…"
	}
	fmt.Fprintf(w, "%s%s\n", prefix, reason)
}
