package asterisk

import (
	"fmt"
	"io"
	"path"
	"strings"
	"testing"
)

// FuzzParseConf: any asterisk.conf (and one file it may #include) parses
// without panicking, reads no real file, and leaves every directory set.
func FuzzParseConf(f *testing.F) {
	for _, s := range []string{"[directories]\nastrundir => /run/a\n", "[directories](!)\nastlogdir=/x\n#include \"inc.conf\"\n",
		";-- open\n[files]\nastctl = a\\;b ; c\n", "#tryinclude *.conf\n[options]\nmaxfiles = 10\n", "[x\n"} {
		f.Add(s, "[files]\nastctl => /run/ctl\n")
	}
	f.Fuzz(func(t *testing.T, main, inc string) {
		files := map[string]string{"/etc/asterisk/asterisk.conf": main, "/etc/asterisk/inc.conf": inc}
		c := &Conf{Dirs: map[string]string{}, Options: map[string]string{}, Files: map[string]string{}}
		for k, v := range defaultDirs {
			c.Dirs[k] = v
		}
		p := &parser{conf: c,
			open: func(name string) (io.ReadCloser, error) {
				s, ok := files[name]
				if !ok {
					return nil, fmt.Errorf("open %s: no such file", name)
				}
				return io.NopCloser(strings.NewReader(s)), nil
			},
			glob: func(pattern string) ([]string, error) {
				var m []string
				for name := range files {
					if ok, _ := path.Match(pattern, name); ok {
						m = append(m, name)
					}
				}
				return m, nil
			}}
		err := p.file("/etc/asterisk/asterisk.conf", 0)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("a line of the file reached the error: %q", err)
			}
			return
		}
		for k := range defaultDirs {
			if _, ok := c.Dirs[k]; !ok {
				t.Errorf("%s lost", k)
			}
		}
		if c.CtlSocket() == "" {
			t.Error("no control socket")
		}
	})
}

// FuzzParseBanner: what a control socket says first either is refused or
// reads back as it was written.
func FuzzParseBanner(f *testing.F) {
	for _, s := range []string{"pbx1/4242/22.10.1+dfsg+~cs6.17.60671434-1\n", "h/1/v", "garbage\n", "h/-5/v\n", "h/+5/v\n", "a/b/c/d\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		b, err := parseBanner(line)
		if err != nil {
			return
		}
		if b.PID <= 0 || strings.Contains(b.Host, "/") {
			t.Fatalf("%+v from %q", b, line)
		}
		if got := fmt.Sprintf("%s/%d/%s", b.Host, b.PID, b.Version); got != strings.TrimSuffix(line, "\n") {
			t.Errorf("%q read as %q", line, got)
		}
	})
}

// FuzzParseChannels: the answer to "core show channels count" is read or
// refused, never half-read into negative counts.
func FuzzParseChannels(f *testing.F) {
	for _, s := range []string{"0 active channels\n0 active calls\n0 calls processed\n", "2 active channels\n1 active call\n1 call processed\n",
		"1 active channel\n1 of 10 max active call ( 10.00% of capacity)\n5 calls processed\n", "No such command 'x'\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, out string) {
		c, err := parseChannels(out)
		if err == nil && (c.Channels < 0 || c.Calls < -1 || c.Processed < 0) {
			t.Errorf("%+v from %q", c, out)
		}
	})
}

// FuzzParsePid: a pid file's content gives a pid > 1 that prints back as
// the file's number, or 0.
func FuzzParsePid(f *testing.F) {
	for _, s := range []string{"4242\n", "1\n", "-3\n", "+7\n", " 12 \n", "99999999999999999999\n", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pid := parsePid(b)
		if pid == 0 {
			return
		}
		if pid <= 1 || fmt.Sprint(pid) != strings.TrimLeft(strings.TrimSpace(string(b)), "0") {
			t.Errorf("%d from %q", pid, b)
		}
	})
}

// FuzzRedactURL: a password given in the userinfo of ari_url never
// survives redaction, whether the URL parses or not.
func FuzzRedactURL(f *testing.F) {
	for _, s := range [][3]string{{"http", "mon", "pbx/ari"}, {"http", "mon", "pbx:port/ari"}, {"ftp", "", "h"}, {"", "m%zz", "h/x@y"}, {"1x", "mon", "[::1/"}} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, scheme, user, rest string) {
		const pw = "t0psecret"
		if strings.ContainsAny(scheme+user, "/?#@:") || strings.Contains(user+rest, pw) {
			return
		}
		s := scheme + "://" + user + ":" + pw + "@" + rest
		if got := redactURL(s); strings.Contains(got, pw) {
			t.Errorf("%q redacted as %q", s, got)
		}
	})
}
