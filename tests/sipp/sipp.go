// Package sipp drives SIPp (Debian's sip-tester) for gocf's fault tests:
// real SIP calls to the PBX, counted as successful, failed to set up, or
// cut while up, with a per-second timeline and the time of each set-up.
//
// The scenarios are embedded (scenarios/*.xml):
//
//   - uac-call.xml: INVITE (ulaw SDP) to the extension given as Service,
//     optional 100/180/183, 200 (the set-up time is response time 1), ACK,
//     a hold of Hold (-d), BYE and its 200. An unexpected BYE from the PBX
//     during the hold (answered 200 by SIPp's default behaviour), a BYE
//     answered with anything but 200 (481, 408, ...) or not at all counts
//     as cut; anything going wrong before the ACK counts as failed.
//   - register.xml: one REGISTER of Service with the contact
//     sip:Service@Vars["contact"] (IP:PORT) and Vars["expires"] seconds.
//   - uas-answer.xml: the registered endpoint's phone: answers INVITEs
//     (180, 200 with SDP), waits for the ACK and the caller's BYE.
//
// A Config builds SIPp's argument list (after a caller-given prefix such as
// nsenter --net=/run/netns/X); Start runs it with its trace files in
// Config.Dir; Result reads them back (see Summarize for the counting).
package sipp

import (
	"embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// The embedded scenarios.
const (
	UACCall   = "uac-call.xml"
	Register  = "register.xml"
	UASAnswer = "uas-answer.xml"
)

//go:embed scenarios/*.xml
var scenarios embed.FS

// Scenario returns an embedded scenario's XML.
func Scenario(name string) ([]byte, error) {
	return scenarios.ReadFile("scenarios/" + name)
}

// Config is one SIPp run. Zero values leave SIPp's defaults, except where
// said.
type Config struct {
	// Prefix runs SIPp through another command (nsenter --net=... --).
	Prefix []string
	// Binary is SIPp's program; "sipp" when empty.
	Binary string
	// Scenario is one of the embedded scenarios (UACCall, Register,
	// UASAnswer). It is written into Dir, where SIPp puts the trace files
	// named after it: one run per Dir.
	Scenario string
	// Dir receives the scenario, the trace files and sipp.log (SIPp's
	// screens and messages). Required.
	Dir string

	// Target is the remote host:port (UAC and Register); empty for a UAS.
	Target string
	// Service is the Request-URI user (-s): the extension called, the user
	// registered, or the user in the UAS's Contact.
	Service string
	// LocalIP and LocalPort are the address SIPp binds and puts in its
	// headers (-i with -bind_local, -p). LocalIP is required.
	LocalIP   string
	LocalPort int
	// MediaPort is the RTP port announced in the SDP (-mp; SIPp's default
	// 6000). SIPp binds it and the next three (video at +2): give each
	// instance in one namespace its own four.
	MediaPort int

	// Rate is new calls per second (-r; SIPp's default 10), Limit the
	// bound on simultaneous calls (-l), Calls the total (-m; required for
	// the UAC and Register, and the number of calls a UAS takes).
	Rate  float64
	Limit int
	Calls int
	// Hold is how long a call stays up (-d): the pause in uac-call.xml.
	Hold time.Duration
	// RecvTimeout bounds every wait for a message without a timeout of its
	// own (-recv_timeout): how long a set-up may take. UAC: 10 s when zero.
	RecvTimeout time.Duration
	// Timeout is the global bound: SIPp quits after it (-timeout).
	// Required.
	Timeout time.Duration
	// Vars are scenario variables (-set name value): contact and expires
	// for Register.
	Vars map[string]string
	// Extra arguments, appended last.
	Extra []string
}

// StatFile is the -trace_stat file's name in Dir (-stf).
const StatFile = "stat.csv"

// LogFile holds SIPp's standard output and error.
const LogFile = "sipp.log"

// Args is the whole argument list: Prefix, SIPp and its options.
func (c Config) Args() ([]string, error) {
	if c.Dir == "" || c.LocalIP == "" || c.Timeout <= 0 {
		return nil, errors.New("sipp: Dir, LocalIP and Timeout are required")
	}
	if _, err := Scenario(c.Scenario); err != nil {
		return nil, fmt.Errorf("sipp: no scenario %q", c.Scenario)
	}
	uas := c.Scenario == UASAnswer
	if !uas && (c.Target == "" || c.Calls <= 0) {
		return nil, fmt.Errorf("sipp: %s needs Target and Calls", c.Scenario)
	}
	bin := c.Binary
	if bin == "" {
		bin = "sipp"
	}
	a := append(append([]string{}, c.Prefix...), bin)
	if c.Target != "" {
		a = append(a, c.Target)
	}
	a = append(a, "-sf", filepath.Join(c.Dir, c.Scenario),
		"-i", c.LocalIP, "-bind_local",
		"-timeout", ms(c.Timeout), "-nostdin",
		"-trace_stat", "-stf", filepath.Join(c.Dir, StatFile), "-fd", "1",
		"-trace_counts", "-trace_rtt", "-rtt_freq", "1", "-trace_err")
	if c.Service != "" {
		a = append(a, "-s", c.Service)
	}
	if c.LocalPort > 0 {
		a = append(a, "-p", strconv.Itoa(c.LocalPort))
	}
	if c.MediaPort > 0 {
		a = append(a, "-mp", strconv.Itoa(c.MediaPort))
	}
	if c.Rate > 0 {
		a = append(a, "-r", strconv.FormatFloat(c.Rate, 'f', -1, 64))
	}
	if c.Limit > 0 {
		a = append(a, "-l", strconv.Itoa(c.Limit))
	}
	if c.Calls > 0 {
		a = append(a, "-m", strconv.Itoa(c.Calls))
	}
	if c.Hold > 0 {
		a = append(a, "-d", ms(c.Hold))
	}
	rt := c.RecvTimeout
	if rt == 0 && c.Scenario == UACCall {
		rt = 10 * time.Second
	}
	if rt > 0 {
		a = append(a, "-recv_timeout", ms(rt))
	}
	for _, k := range sortedKeys(c.Vars) {
		a = append(a, "-set", k, c.Vars[k])
	}
	return append(a, c.Extra...), nil
}

func ms(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) + "ms" }

// Process is a running SIPp.
type Process struct {
	Config Config
	Cmd    *exec.Cmd
	done   chan struct{}
	err    error
}

// Start writes the scenario into Dir and starts SIPp.
func Start(c Config) (*Process, error) {
	args, err := c.Args()
	if err != nil {
		return nil, err
	}
	xml, _ := Scenario(c.Scenario)
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(c.Dir, c.Scenario), xml, 0o644); err != nil {
		return nil, err
	}
	log, err := os.Create(filepath.Join(c.Dir, LogFile))
	if err != nil {
		return nil, err
	}
	defer log.Close()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Dir = c.Dir
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Process{Config: c, Cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	return p, nil
}

// Done is closed when SIPp has ended.
func (p *Process) Done() <-chan struct{} { return p.done }

// Wait waits up to d for SIPp to end and returns its exit code: 0 every
// call successful, 1 some failed, 97 ended by an internal command, 99 no
// call processed, -1 killed by a signal.
func (p *Process) Wait(d time.Duration) (int, error) {
	select {
	case <-p.done:
	case <-time.After(d):
		return 0, fmt.Errorf("sipp %s still runs after %v", p.Config.Scenario, d)
	}
	var ee *exec.ExitError
	if p.err != nil && !errors.As(p.err, &ee) {
		return 0, p.err
	}
	return p.Cmd.ProcessState.ExitCode(), nil
}

// Stop ends SIPp: SIGUSR1 (no new calls, the open ones run to their end)
// and up to grace for it to end; then SIGTERM (SIPp quits at once and
// writes its final statistics) and 5 s; then SIGKILL. It returns once the
// process is gone.
func (p *Process) Stop(grace time.Duration) {
	for _, s := range []struct {
		sig syscall.Signal
		d   time.Duration
	}{{syscall.SIGUSR1, grace}, {syscall.SIGTERM, 5 * time.Second}, {syscall.SIGKILL, time.Minute}} {
		select {
		case <-p.done:
			return
		default:
		}
		p.Cmd.Process.Signal(s.sig)
		select {
		case <-p.done:
			return
		case <-time.After(s.d):
		}
	}
}

// Result reads the trace files SIPp wrote into Dir.
func (p *Process) Result() (*Result, error) { return ReadDir(p.Config.Dir) }
