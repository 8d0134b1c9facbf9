package drbd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gocf/gocf/pkg/command"
)

// Result is what a command left behind: a non-zero Code for a command
// that ran and failed; the error of a tool method is kept for a command that
// could not run or was killed at its deadline.
type Result = command.Result

// Drbdadm is drbdadm(8) on one configuration file.
type Drbdadm interface {
	Up(ctx context.Context, res string) (Result, error)
	Adjust(ctx context.Context, res string) (Result, error)
	Primary(ctx context.Context, res string) (Result, error)
	Secondary(ctx context.Context, res string) (Result, error)
	Down(ctx context.Context, res string) (Result, error)
	// Outdate marks the local data Outdated (stop_outdates_secondary).
	Outdate(ctx context.Context, res string) (Result, error)
	// UnfencePeer runs the unfence-peer handler with extraArgs in its
	// environment as OCF_RESKEY_unfence_extra_args.
	UnfencePeer(ctx context.Context, res, extraArgs string) (Result, error)
	// Dump prints the resource's configuration; it fails when the
	// configuration file does not define the resource.
	Dump(ctx context.Context, res string) (Result, error)
	// LoadModule loads the drbd kernel module with the configured
	// parameters (drbdadm sh-mod-parms).
	LoadModule(ctx context.Context) (Result, error)
	// Versions tells the versions of the kernel module and drbd-utils.
	Versions(ctx context.Context) (Versions, error)
}

// Drbdsetup is drbdsetup(8), the kernel's state.
type Drbdsetup interface {
	// Events2Now is `drbdsetup events2 --now res`: the state as one dump.
	Events2Now(ctx context.Context, res string) (Result, error)
	// Events2 streams `drbdsetup events2 res`: the dump, then every change,
	// until ctx is done or the stream is closed.
	Events2(ctx context.Context, res string) (io.ReadCloser, error)
}

// Promotion is this node's promotion score for the resource in Pacemaker,
// and Pacemaker's view of where the resource is promoted.
type Promotion interface {
	Set(ctx context.Context, score int) error
	Delete(ctx context.Context) error
	// PromotedElsewhere lists the other nodes Pacemaker has the resource
	// promoted on (remove_master_score_if_peer_primary=unexpected).
	PromotedElsewhere(ctx context.Context) ([]string, error)
}

// Tools are the programs one invocation works with.
type Tools struct {
	Drbdadm   Drbdadm
	Drbdsetup Drbdsetup
	Promotion Promotion
}

// Versions of DRBD as version codes (0x08040b is 8.4.11); 0 is unknown.
type Versions struct {
	Kernel uint32
	Utils  uint32
}

// VersionString renders a version code as x.y.z.
func VersionString(code uint32) string {
	return fmt.Sprintf("%d.%d.%d", code>>16, code>>8&0xff, code&0xff)
}

// ParseVersion reads x.y.z into a version code.
func ParseVersion(s string) (uint32, error) {
	f := strings.Split(strings.TrimSpace(s), ".")
	if len(f) != 3 {
		return 0, fmt.Errorf("version %q: want x.y.z", s)
	}
	var code uint32
	for _, p := range f {
		n, err := strconv.ParseUint(p, 10, 8)
		if err != nil {
			return 0, fmt.Errorf("version %q: %q is not a number from 0 to 255", s, p)
		}
		code = code<<8 | uint32(n)
	}
	return code, nil
}

// parseVersions reads the shell assignments of `drbdadm --version`.
func parseVersions(out string) Versions {
	var v Versions
	for l := range strings.Lines(out) {
		k, val, ok := strings.Cut(strings.TrimSpace(l), "=")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimPrefix(val, "0x"), 16, 32)
		if err != nil {
			continue
		}
		switch k {
		case "DRBD_KERNEL_VERSION_CODE":
			v.Kernel = uint32(n)
		case "DRBDADM_VERSION_CODE":
			v.Utils = uint32(n)
		}
	}
	return v
}

// modinfoVersion matches the start of `modinfo -F version drbd`; compiled
// when used, not at every start-up.
var modinfoVersion = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(\d+)\.(\d+)\.(\d+)`) })

// attributeTimeout bounds one crm_attribute call: ocf:linbit:drbd saw
// crm_master hang about once in 10,000 calls, and a hung score update must
// not take the whole action down with it.
const attributeTimeout = 10 * time.Second

// run runs a program with an argument list (no shell) under ctx, with env
// added to the environment. The program gets its own process group, killed
// whole at ctx's end, so a drbdadm that started drbdsetup leaves nothing
// behind.
func run(ctx context.Context, env []string, name string, args ...string) (Result, error) {
	return command.Run(ctx, append([]string{name}, args...), command.Options{Env: env})
}

// ExecDrbdadm runs drbdadm with -c conf.
type ExecDrbdadm struct{ Conf string }

func (a ExecDrbdadm) adm(ctx context.Context, args ...string) (Result, error) {
	return run(ctx, nil, "drbdadm", append([]string{"-c", a.Conf}, args...)...)
}

func (a ExecDrbdadm) Up(ctx context.Context, res string) (Result, error) {
	return a.adm(ctx, "up", res)
}

func (a ExecDrbdadm) Adjust(ctx context.Context, res string) (Result, error) {
	return a.adm(ctx, "adjust", res)
}

func (a ExecDrbdadm) Primary(ctx context.Context, res string) (Result, error) {
	return a.adm(ctx, "primary", res)
}

func (a ExecDrbdadm) Secondary(ctx context.Context, res string) (Result, error) {
	return a.adm(ctx, "secondary", res)
}

func (a ExecDrbdadm) Down(ctx context.Context, res string) (Result, error) {
	return a.adm(ctx, "down", res)
}

func (a ExecDrbdadm) Outdate(ctx context.Context, res string) (Result, error) {
	return a.adm(ctx, "outdate", res)
}

func (a ExecDrbdadm) UnfencePeer(ctx context.Context, res, extraArgs string) (Result, error) {
	return run(ctx, []string{"OCF_RESKEY_unfence_extra_args=" + extraArgs}, "drbdadm", "-c", a.Conf, "unfence-peer", res)
}

func (a ExecDrbdadm) Dump(ctx context.Context, res string) (Result, error) {
	return a.adm(ctx, "dump", res)
}

func (a ExecDrbdadm) LoadModule(ctx context.Context) (Result, error) {
	parms, err := a.adm(ctx, "sh-mod-parms")
	if err != nil {
		return parms, err
	}
	args := []string{"-s", "drbd"}
	if parms.Code == 0 {
		args = append(args, strings.Fields(parms.Stdout)...)
	}
	return run(ctx, nil, "modprobe", args...)
}

// Versions asks drbdadm; with the module not loaded drbdadm reports kernel
// version 0, so the module on disk is asked then, as ocf:linbit:drbd does.
func (a ExecDrbdadm) Versions(ctx context.Context) (Versions, error) {
	res, err := run(ctx, nil, "drbdadm", "--version")
	if err != nil {
		return Versions{}, err
	}
	v := parseVersions(res.Stdout + "\n" + res.Stderr)
	if v.Kernel == 0 {
		mi, err := run(ctx, nil, "modinfo", "-F", "version", "drbd")
		if m := modinfoVersion().FindStringSubmatch(strings.TrimSpace(mi.Stdout)); err == nil && m != nil {
			v.Kernel, _ = ParseVersion(m[1] + "." + m[2] + "." + m[3])
		}
	}
	return v, nil
}

// ExecDrbdsetup runs drbdsetup.
type ExecDrbdsetup struct{}

func (ExecDrbdsetup) Events2Now(ctx context.Context, res string) (Result, error) {
	return run(ctx, nil, "drbdsetup", "events2", "--now", res)
}

func (ExecDrbdsetup) Events2(ctx context.Context, res string) (io.ReadCloser, error) {
	return command.Stream(ctx, []string{"drbdsetup", "events2", res}, command.Options{})
}

// ExecPromotion sets the score through crm_attribute --promotion, or
// crm_master where crm_attribute is older than Pacemaker 2.1 and lacks it.
// Both take the resource from OCF_RESOURCE_INSTANCE in the environment.
type ExecPromotion struct {
	Instance string // OCF_RESOURCE_INSTANCE
	Node     string // this node's name in Pacemaker
}

func (p ExecPromotion) attr(ctx context.Context, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, attributeTimeout)
	defer cancel()
	res, err := run(ctx, nil, "crm_attribute", append([]string{"--promotion"}, args...)...)
	if err == nil && res.Code != 0 && lacksPromotion(res) {
		// crm_master is crm_attribute with the promotion attribute's name.
		res, err = run(ctx, nil, "crm_master", append([]string{"-l", "reboot"}, args...)...)
	}
	if err == nil && res.Code != 0 {
		err = errors.New(res.Line())
	}
	return err
}

// lacksPromotion recognises a crm_attribute that does not know --promotion
// (Pacemaker before 2.1): a usage error naming the option.
func lacksPromotion(res Result) bool {
	out := res.Stderr + res.Stdout
	return res.Code == 64 || strings.Contains(out, "unrecognized option") || strings.Contains(out, "Unknown option")
}

func (p ExecPromotion) Set(ctx context.Context, score int) error {
	return p.attr(ctx, "-v", strconv.Itoa(score))
}

func (p ExecPromotion) Delete(ctx context.Context) error { return p.attr(ctx, "-D") }

func (p ExecPromotion) PromotedElsewhere(ctx context.Context) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, attributeTimeout)
	defer cancel()
	// The clone instance suffix (:0) would narrow the answer to one instance.
	rsc, _, _ := strings.Cut(p.Instance, ":")
	res, err := run(ctx, nil, "crm_resource", "--resource", rsc, "--locate")
	if err != nil {
		return nil, err
	}
	if res.Code != 0 {
		return nil, errors.New(res.Line())
	}
	return parseLocate(res.Stdout, p.Node), nil
}

// parseLocate reads `crm_resource --locate`: "resource X is running on:
// NODE Promoted" (Master before Pacemaker 2.1), and drops self.
func parseLocate(out, self string) []string {
	var nodes []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		_, rest, ok := strings.Cut(sc.Text(), "is running on:")
		f := strings.Fields(rest)
		if !ok || len(f) < 2 || (f[1] != "Promoted" && f[1] != "Master") || strings.EqualFold(f[0], self) {
			continue
		}
		nodes = append(nodes, f[0])
	}
	return nodes
}
