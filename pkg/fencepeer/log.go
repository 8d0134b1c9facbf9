package fencepeer

import (
	"fmt"
	"io"
	"log/syslog"
	"os"
	"strings"
	"sync"
)

// Logger writes one line per message to stderr (which drbdadm passes on
// when run by hand) and to syslog (where DRBD's kernel helper calls, whose
// output goes nowhere, leave their only trace), tagged drbd-fence[pid].
type Logger struct {
	mu  sync.Mutex
	w   io.Writer
	sys *syslog.Writer
	tag string
}

// NewLogger logs to w and, when facility names one, to syslog.
func NewLogger(w io.Writer, facility string) (*Logger, error) {
	l := &Logger{w: w, tag: fmt.Sprintf("drbd-fence[%d]", os.Getpid())}
	if facility == "" {
		return l, nil
	}
	prio, ok := facilities[facility]
	if !ok {
		return l, fmt.Errorf("unknown syslog facility %q; logging to stderr only", facility)
	}
	if s, err := syslog.New(prio|syslog.LOG_INFO, "drbd-fence"); err == nil {
		l.sys = s
	}
	return l, nil
}

var facilities = map[string]syslog.Priority{
	"auth": syslog.LOG_AUTH, "authpriv": syslog.LOG_AUTHPRIV, "cron": syslog.LOG_CRON, "daemon": syslog.LOG_DAEMON,
	"ftp": syslog.LOG_FTP, "kern": syslog.LOG_KERN, "lpr": syslog.LOG_LPR, "mail": syslog.LOG_MAIL,
	"news": syslog.LOG_NEWS, "syslog": syslog.LOG_SYSLOG, "user": syslog.LOG_USER, "uucp": syslog.LOG_UUCP,
	"local0": syslog.LOG_LOCAL0, "local1": syslog.LOG_LOCAL1, "local2": syslog.LOG_LOCAL2, "local3": syslog.LOG_LOCAL3,
	"local4": syslog.LOG_LOCAL4, "local5": syslog.LOG_LOCAL5, "local6": syslog.LOG_LOCAL6, "local7": syslog.LOG_LOCAL7,
}

// Escape makes text one printable line: control characters (newlines of
// a tool's output, escape sequences in a name) become \n, \t or \xNN.
func Escape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\\':
			b.WriteString(`\\`)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			fmt.Fprintf(&b, `\x%02x`, r)
		case r == 0xfffd:
			b.WriteString(`\ufffd`)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func (l *Logger) printf(level string, format string, args ...any) {
	msg := Escape(strings.TrimRight(fmt.Sprintf(format, args...), "\n"))
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "%s: %s: %s\n", l.tag, level, msg)
	if l.sys != nil {
		line := level + ": " + msg
		switch level {
		case "ERROR":
			l.sys.Err(line)
		case "WARNING":
			l.sys.Warning(line)
		default:
			l.sys.Info(line)
		}
	}
}

// Infof logs what was done.
func (l *Logger) Infof(format string, args ...any) { l.printf("INFO", format, args...) }

// Warnf logs what was not done and why.
func (l *Logger) Warnf(format string, args ...any) { l.printf("WARNING", format, args...) }

// Errorf logs a failure.
func (l *Logger) Errorf(format string, args ...any) { l.printf("ERROR", format, args...) }

// Close ends the syslog connection.
func (l *Logger) Close() {
	if l.sys != nil {
		l.sys.Close()
	}
}

// quote renders a value for a log line of the environment (Escape then
// takes care of control characters).
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
