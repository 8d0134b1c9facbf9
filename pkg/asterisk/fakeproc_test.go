package asterisk

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as an Asterisk process for the exec
// implementations (real processes, sessions, signals, pid files, pidfds,
// the control socket): copied as "asterisk" and "astcanary" into a
// directory, it acts as the asterisk.conf it is given says on a line
// ";fake=MODE [ignore-term] [call=DURATION]":
//   - exit:N       exits with status N at once;
//   - serve        writes its pid file and answers on its control socket with
//     the recordings of testdata/console, stops on "core stop now", and on
//     "core stop gracefully" once its call (call=) has ended;
//   - ignore-term  ignores SIGTERM and "core stop now".
//
// As astcanary it waits to be killed. The name it runs under tells the
// test binary what it is; Start gives Asterisk no environment of the
// agent's, so the mode travels in the configuration.

var fakeDir string // holds the copies; made once

func TestMain(m *testing.M) {
	switch filepath.Base(os.Args[0]) {
	case "asterisk":
		os.Exit(fakeAsterisk())
	case "astcanary":
		// Not select{}: without cgo (make check builds CGO_ENABLED=0) the
		// runtime would end a process with nothing left to wait for.
		for {
			time.Sleep(time.Hour)
		}
	}
	code := m.Run()
	if fakeDir != "" {
		os.RemoveAll(fakeDir)
	}
	os.Exit(code)
}

// fakeBinaries copies the test binary as asterisk and astcanary, and
// returns the directory. A copy, not a link: /proc/PID/exe must name them.
func fakeBinaries(t *testing.T) string {
	t.Helper()
	if fakeDir != "" {
		return fakeDir
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "gocf-fake-asterisk")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	for _, name := range []string{"asterisk", "astcanary"} {
		in, err := os.Open(self)
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_WRONLY, 0o755)
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.Copy(out, in)
		in.Close()
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	fakeDir = dir
	return dir
}

func recording(name string) []byte {
	b, err := os.ReadFile(filepath.Join(recordings, name))
	if err != nil {
		panic(err)
	}
	return b
}

// recordings is testdata/console, found from the package directory when
// the fake runs elsewhere.
var recordings = func() string {
	abs, _ := filepath.Abs("testdata/console")
	return abs
}()

func fakeAsterisk() int {
	conf := ""
	for i, a := range os.Args {
		if a == "-C" && i+1 < len(os.Args) {
			conf = os.Args[i+1]
		}
	}
	raw, err := os.ReadFile(conf)
	if err != nil {
		return 90
	}
	var mode string
	ignoreTerm, call := false, time.Duration(0)
	for l := range strings.Lines(string(raw)) {
		if f, ok := strings.CutPrefix(strings.TrimSpace(l), ";fake="); ok {
			for i, w := range strings.Fields(f) {
				switch {
				case i == 0:
					mode = w
				case w == "ignore-term":
					ignoreTerm = true
				case strings.HasPrefix(w, "call="):
					call, _ = time.ParseDuration(strings.TrimPrefix(w, "call="))
				}
			}
		}
		if r, ok := strings.CutPrefix(strings.TrimSpace(l), ";recordings="); ok {
			recordings = r
		}
	}
	if code, ok := strings.CutPrefix(mode, "exit:"); ok {
		n, _ := strconv.Atoi(code)
		return n
	}
	if ignoreTerm {
		signal.Ignore(syscall.SIGTERM)
	}
	c, err := LoadConf(conf)
	if err != nil {
		return 91
	}
	os.WriteFile(filepath.Join(c.RunDir(), "asterisk.pid"), fmt.Appendf(nil, "%d\n", os.Getpid()), 0o644)
	for _, a := range os.Args {
		if a == "-p" {
			// A copy of the binary just written may still be open for
			// writing in a child forked meanwhile (ETXTBSY): try again.
			for i := 0; i < 100; i++ {
				canary := exec.Command(filepath.Join(filepath.Dir(os.Args[0]), "astcanary"), canaryArg(c.RunDir()), strconv.Itoa(os.Getpid()))
				if err := canary.Start(); !errors.Is(err, syscall.ETXTBSY) {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	os.Remove(c.CtlSocket())
	l, err := net.Listen("unix", c.CtlSocket())
	if err != nil {
		return 92
	}
	host, _ := os.Hostname()
	// As recorded: the banner ends with its newline, no NUL.
	banner := fmt.Sprintf("%s/%d/%s\n", host, os.Getpid(), recording("version"))
	stop := make(chan struct{}, 1)
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				io.WriteString(conn, banner)
				cmd, err := bufio.NewReader(conn).ReadString(0)
				if err != nil {
					return
				}
				cmd = strings.TrimPrefix(strings.TrimSuffix(cmd, "\x00"), "cli quit after ")
				switch cmd {
				case "core stop now":
					if !ignoreTerm {
						stop <- struct{}{}
					}
				case "core stop gracefully":
					time.Sleep(call)
					stop <- struct{}{}
				case "core waitfullybooted", "core show channels count":
					name := strings.ReplaceAll(cmd, " ", "_")
					if call > 0 && cmd == "core show channels count" {
						name += "-call"
					}
					conn.Write(recording(name + ".out"))
				default:
					conn.Write(bytes.ReplaceAll(recording("unknown.out"), []byte("core show channelsx"), []byte(cmd)))
				}
			}()
		}
	}()
	<-stop
	l.Close()
	return 0
}

// fakeNode is a node's worth of files for the fake: asterisk.conf whose
// directories lie in a temporary directory, and the parameters to use them.
type fakeNode struct {
	dir, conf, rundir, logdir, ctl string
	env                            []string
}

func newFakeNode(t *testing.T, fake string) *fakeNode {
	t.Helper()
	bin := fakeBinaries(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	f := &fakeNode{dir: dir, conf: filepath.Join(dir, "asterisk.conf"), rundir: filepath.Join(dir, "run"), logdir: filepath.Join(dir, "log")}
	f.ctl = filepath.Join(f.rundir, "asterisk.ctl")
	conf := fmt.Sprintf(";fake=%s\n;recordings=%s\n[directories]\nastrundir => %s\nastlogdir => %s\n[options]\n", fake, recordings, f.rundir, f.logdir)
	if err := os.WriteFile(f.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	f.env = []string{"OCF_RESKEY_binary=" + filepath.Join(bin, "asterisk"), "OCF_RESKEY_canary_binary=" + filepath.Join(bin, "astcanary"),
		"OCF_RESKEY_config=" + f.conf, "OCF_RESKEY_user=nobody", "OCF_RESKEY_group=nogroup", "OCF_RESOURCE_INSTANCE=pbx"}
	t.Cleanup(func() { f.kill(t) })
	return f
}

// kill ends whatever the fake left running.
func (f *fakeNode) kill(t *testing.T) {
	if pid := readPid(f.rundir); pid > 1 && isAsterisk(pid, "asterisk") {
		syscall.Kill(pid, syscall.SIGKILL)
		syscall.Kill(pid, syscall.SIGCONT)
	}
	for _, c := range canaries(f.rundir, "astcanary") {
		syscall.Kill(c, syscall.SIGKILL)
	}
}
