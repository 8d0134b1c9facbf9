package ocf

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"unicode/utf8"
)

// Logger writes to stderr, which pacemaker-execd captures into its log,
// one line per message tagged with the agent, resource instance and pid.
type Logger struct {
	mu    sync.Mutex
	w     io.Writer
	tag   string
	debug bool
}

func newLogger(w io.Writer, agent, instance string, debug bool) *Logger {
	tag := agent
	if instance != "" {
		tag += "(" + instance + ")"
	}
	return &Logger{w: w, tag: fmt.Sprintf("%s[%d]", escape(tag), os.Getpid()), debug: debug}
}

func (l *Logger) printf(level, format string, args ...any) {
	msg := escape(strings.TrimRight(fmt.Sprintf(format, args...), "\n"))
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "%s: %s: %s\n", l.tag, level, msg)
}

// Debugf logs only when HA_debug=1.
func (l *Logger) Debugf(format string, args ...any) {
	if l.debug {
		l.printf("DEBUG", format, args...)
	}
}

// Infof logs an informational message.
func (l *Logger) Infof(format string, args ...any) { l.printf("INFO", format, args...) }

// Warnf logs a warning.
func (l *Logger) Warnf(format string, args ...any) { l.printf("WARNING", format, args...) }

// Errorf logs an error. The exit reason is separate: see Request.Fail.
func (l *Logger) Errorf(format string, args ...any) { l.printf("ERROR", format, args...) }

// needsEscape tells the characters escape rewrites: C0 controls, DEL, C1
// controls and the Unicode line and paragraph separators. Any of them
// printed as is could start a line of its own (a forged exit reason) or
// act on the terminal of whoever reads the log.
func needsEscape(r rune) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == 0x2028 || r == 0x2029
}

// escape writes the characters needsEscape names, and bytes that are not
// UTF-8, as Go escapes (\n, \x1b, \u0085, \xff). Backslashes and quotes
// stay as they are: messages often hold %q already.
func escape(s string) string {
	if !strings.ContainsFunc(s, needsEscape) && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x80 && needsEscape(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case needsEscape(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
