package asterisk

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// Banner is what Asterisk says first on its control socket.
type Banner struct {
	Host    string
	PID     int
	Version string
}

// Ctl speaks Asterisk's remote console protocol on the control socket,
// as asterisk -rx does but without a process per command: the server
// sends "host/pid/version\n", the client sends "cli quit after <command>"
// NUL-terminated, the server writes the command's output and closes.
type Ctl struct{ Path string }

func (c Ctl) dial(ctx context.Context) (net.Conn, *bufio.Reader, Banner, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.Path)
	if err != nil {
		return nil, nil, Banner{}, err
	}
	// A frozen Asterisk accepts the connection (the kernel does) but never
	// writes: the deadline is what ends the wait.
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(10 * time.Second)
	}
	conn.SetDeadline(dl)
	br := bufio.NewReader(conn)
	line, err := br.ReadString('\n')
	if err != nil {
		conn.Close()
		return nil, nil, Banner{}, fmt.Errorf("no banner on %s (Asterisk hung?): %w", c.Path, err)
	}
	b, err := parseBanner(line)
	if err != nil {
		conn.Close()
		return nil, nil, Banner{}, err
	}
	return conn, br, b, nil
}

// parseBanner reads "host/pid/version\n" (main/asterisk.c netconsole).
func parseBanner(line string) (Banner, error) {
	bad := fmt.Errorf("unexpected banner %.80q", line)
	parts := strings.SplitN(strings.TrimSuffix(line, "\n"), "/", 3)
	// The pid as %ld prints it: digits, no leading zero.
	if len(parts) != 3 || parts[1] == "" || parts[1][0] == '0' || strings.TrimLeft(parts[1], "0123456789") != "" {
		return Banner{}, bad
	}
	pid, err := strconv.Atoi(parts[1])
	if err != nil || pid <= 0 {
		return Banner{}, bad
	}
	return Banner{Host: parts[0], PID: pid, Version: parts[2]}, nil
}

// Channels is what "core show channels count" says; Calls is -1 when the
// answer did not say.
type Channels struct{ Channels, Calls, Processed int }

// parseChannels reads the output of "core show channels count" (main/cli.c
// handle_chanlist): "N active channel(s)", "N active call(s)" or "N of M
// max active call(s) (...)", "N call(s) processed".
func parseChannels(out string) (Channels, error) {
	c := Channels{Calls: -1}
	seen := false
	for l := range strings.Lines(out) {
		f := strings.Fields(l)
		if len(f) < 3 {
			continue
		}
		n, err := strconv.Atoi(f[0])
		if err != nil || n < 0 {
			continue
		}
		rest := strings.Join(f[1:], " ")
		switch {
		case rest == "active channel" || rest == "active channels":
			c.Channels, seen = n, true
		case rest == "active call" || rest == "active calls",
			len(f) >= 6 && f[1] == "of" && f[3] == "max" && f[4] == "active" && strings.HasPrefix(f[5], "call"):
			c.Calls = n
		case rest == "call processed" || rest == "calls processed":
			c.Processed = n
		}
	}
	if !seen { // the line the monitor has always wanted
		return c, fmt.Errorf("unexpected answer %.60q", out)
	}
	return c, nil
}

// Command runs one CLI command and returns the banner and the output.
func (c Ctl) Command(ctx context.Context, cmd string) (Banner, string, error) {
	conn, br, b, err := c.dial(ctx)
	if err != nil {
		return b, "", err
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "cli quit after "+cmd+"\x00"); err != nil {
		return b, "", err
	}
	out, err := io.ReadAll(br)
	if err != nil && !errors.Is(err, io.EOF) {
		return b, string(out), fmt.Errorf("%q got no complete answer: %w", cmd, err)
	}
	return b, string(out), nil
}

// Send sends a command without waiting for its output (core stop
// gracefully answers only when the last call has ended).
func (c Ctl) Send(ctx context.Context, cmd string) (Banner, error) {
	conn, _, b, err := c.dial(ctx)
	if err != nil {
		return b, err
	}
	defer conn.Close()
	_, err = io.WriteString(conn, "cli quit after "+cmd+"\x00")
	return b, err
}
