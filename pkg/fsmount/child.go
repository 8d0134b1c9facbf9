package fsmount

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gocf/gocf/pkg/ocf"
)

// ioHelper is the hidden subcommand that does fsmount's blocking I/O in a
// child process. A process blocked in the kernel on a frozen filesystem or
// a dead device (D state) cannot be killed, and a thread so blocked keeps
// its whole process from exiting: done in a goroutine, such I/O held the
// agent past its timeout. A child can be abandoned instead.
const ioHelper = "fs-io"

// ioHelperTimeout only bounds a child's own waiting; a child blocked in
// the kernel ends whenever the kernel lets it go.
const ioHelperTimeout = 10 * time.Minute

// inChild runs operation op of the helper in a child process of this very
// binary and returns what it answered. At ctx's end the child is abandoned,
// not killed and not waited for: blocked in the kernel, nothing would end
// it sooner, and once let go it finishes and removes what it created. It
// shares no descriptor with the agent but its own pipe, so nobody waits on
// it for the agent's output.
func inChild(ctx context.Context, op string, args ...string) (string, error) {
	began := time.Now()
	pr, pw, err := os.Pipe()
	if err != nil {
		return "", err
	}
	defer pr.Close()
	cmd := exec.Command("/proc/self/exe", append([]string{ioHelper, op}, args...)...)
	cmd.Args[0] = "fsmount"
	cmd.Stdout, cmd.Stderr = pw, pw
	err = cmd.Start()
	pw.Close()
	if err != nil {
		return "", err
	}
	type answer struct {
		out []byte
		err error
	}
	done := make(chan answer, 1)
	go func() {
		out, err := io.ReadAll(io.LimitReader(pr, 64<<10))
		cmd.Wait()
		done <- answer{out, err}
	}()
	select {
	case a := <-done:
		if a.err != nil {
			return "", a.err
		}
		return parseAnswer(string(a.out))
	case <-ctx.Done():
		return "", fmt.Errorf("%w within %s", errNoAnswer, ocf.FormatDuration(time.Since(began).Round(100*time.Millisecond)))
	}
}

// errNoAnswer is a child that did not answer in time.
var errNoAnswer = errors.New("no answer")

// parseAnswer reads the child's last line: "ok <result>" or "err <reason>".
func parseAnswer(out string) (string, error) {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	last := lines[len(lines)-1]
	if v, ok := strings.CutPrefix(last, "ok "); ok {
		return v, nil
	}
	if v, ok := strings.CutPrefix(last, "err "); ok {
		return "", errors.New(v)
	}
	return "", fmt.Errorf("helper failed: %q", strings.TrimSpace(out))
}

// runIOHelper is the child's side: one operation, one answer line. It
// names itself for ps and the holder search, and lets stop's TERM pass:
// abandoned, it must still remove its status file once the kernel lets it
// go (KILL still ends it).
func runIOHelper(_ context.Context, args []string, _ *ocf.Logger) ocf.Status {
	os.WriteFile("/proc/self/comm", []byte(ioHelper), 0)
	signal.Ignore(syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	res, err := ioOp(args)
	if err != nil {
		fmt.Printf("err %s\n", strings.Join(strings.Fields(err.Error()), " "))
		return ocf.ErrGeneric
	}
	fmt.Printf("ok %s\n", strings.Join(strings.Fields(res), " "))
	return ocf.Success
}

func ioOp(args []string) (string, error) {
	if len(args) == 0 {
		return "", errors.New("no operation")
	}
	op, args := args[0], args[1:]
	want := map[string]int{"read": 2, "probe": 2, "status": 5, "thaw": 3}
	if n, ok := want[op]; !ok || len(args) != n {
		return "", fmt.Errorf("operation %q with %d arguments", op, len(args))
	}
	switch op {
	case "read":
		return "", readDevice(args[0], args[1])
	case "probe":
		return probeDevice(args[0], args[1])
	case "status":
		return statusFile(args[0], args[1], args[2], args[3], args[4])
	default:
		return thaw(args[0], args[1], args[2])
	}
}
