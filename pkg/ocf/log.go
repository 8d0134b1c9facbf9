package ocf

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
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
	return &Logger{w: w, tag: fmt.Sprintf("%s[%d]", tag, os.Getpid()), debug: debug}
}

func (l *Logger) printf(level, format string, args ...any) {
	msg := strings.TrimRight(fmt.Sprintf(format, args...), "\n")
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
