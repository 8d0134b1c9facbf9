package testbed

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strings"
)

// DebianMirror returns the Debian archive this machine's apt uses, so the
// image build (and any debootstrap of the tests) goes where apt goes and the
// project names no host of its own.
func DebianMirror() (string, error) {
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	for _, f := range files {
		if m := mirrorIn(f, true); m != "" {
			return m, nil
		}
	}
	files, _ = filepath.Glob("/etc/apt/sources.list.d/*.list")
	for _, f := range append([]string{"/etc/apt/sources.list"}, files...) {
		if m := mirrorIn(f, false); m != "" {
			return m, nil
		}
	}
	return "", errors.New("no Debian archive in apt's sources")
}

// mirrorIn finds the first archive URI whose path ends in /debian, in a
// deb822 .sources file or a one-line .list file.
func mirrorIn(path string, deb822 bool) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		var uris []string
		switch {
		case deb822 && strings.HasPrefix(line, "URIs:"):
			uris = strings.Fields(strings.TrimPrefix(line, "URIs:"))
		case !deb822 && strings.HasPrefix(line, "deb "):
			for _, f := range strings.Fields(line)[1:] {
				if strings.Contains(f, "://") {
					uris = append(uris, f)
					break
				}
			}
		}
		for _, u := range uris {
			if strings.HasSuffix(strings.TrimSuffix(u, "/"), "/debian") {
				return strings.TrimSuffix(u, "/")
			}
		}
	}
	return ""
}
