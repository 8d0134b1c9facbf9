package fsmount

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/gocf/gocf/pkg/mounts"
	"github.com/gocf/gocf/pkg/ocf"
)

// The shapes validFstype and validHost check by hand, as regexps.
var (
	fstypeRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$`)
	hostRE   = regexp.MustCompile(`^[A-Za-z0-9_:][A-Za-z0-9._:%-]*$`)
)

// FuzzNames: the hand-written checks accept what the regexps match, no more.
func FuzzNames(f *testing.F) {
	for _, s := range []string{"", "ext4", "fuse.sshfs", "ntfs-3g", "-o", "a b", ".x", "_x", ":x", "[::1]", "10.0.0.1",
		"host_1.example:%eth0", "é", strings.Repeat("a", 64), strings.Repeat("a", 65)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := validFstype(s), fstypeRE.MatchString(s); got != want {
			t.Fatalf("validFstype(%q) = %v, the regexp says %v", s, got, want)
		}
		if got, want := asciiWord(s, "_:", "._:%-"), hostRE.MatchString(s); got != want {
			t.Fatalf("host %q: %v, the regexp says %v", s, got, want)
		}
	})
}

// FuzzConfig: whatever device, directory, fstype, options and
// statusfile_prefix hold, the configuration check does not panic, and
// what it accepts keeps the promises of the parameters: no control
// character anywhere, a mount point that is absolute, clean and no system
// directory, a source mount(8) or mount(2) cannot read as an option and of
// the shape its type needs, a status file inside the mount.
func FuzzConfig(f *testing.F) {
	f.Fuzz(func(t *testing.T, device, directory, fstype, options, prefix string) {
		env := []string{"OCF_RESKEY_device=" + device, "OCF_RESKEY_directory=" + directory, "OCF_RESKEY_fstype=" + fstype,
			"OCF_RESKEY_options=" + options, "OCF_RESKEY_statusfile_prefix=" + prefix}
		r, errs := ocf.Prepare(Agent(), "start", env)
		if len(errs) > 0 {
			return
		}
		c, err := parseConfig(r)
		if err != nil {
			t.Fatalf("Check passed, parseConfig failed: %v", err)
		}
		control := func(r rune) bool { return r < 0x20 || r == 0x7f }
		for name, v := range map[string]string{"device": c.device, "directory": c.dir, "fstype": c.fstype, "options": c.options, "statusfile_prefix": c.statusRel} {
			if strings.IndexFunc(v, control) >= 0 {
				t.Fatalf("%s %q accepted with a control character", name, v)
			}
		}
		if !filepath.IsAbs(c.dir) || filepath.Clean(c.dir) != c.dir {
			t.Fatalf("directory %q accepted as %q", directory, c.dir)
		}
		if what, ok := mounts.SystemDir(c.dir); ok {
			t.Fatalf("directory %q accepted: system directory %s", directory, what)
		}
		if strings.HasPrefix(c.fstype, "-") || !fstypeRE.MatchString(c.fstype) {
			t.Fatalf("fstype %q accepted", c.fstype)
		}
		if len(c.options) > optionsMax {
			t.Fatalf("options of %d bytes accepted", len(c.options))
		}
		if c.statusRel == "" || filepath.IsAbs(c.statusRel) || slices.Contains(strings.Split(c.statusRel, "/"), "..") {
			t.Fatalf("statusfile_prefix %q accepted", c.statusRel)
		}
		switch c.kind {
		case network, virtual:
			if c.device == "" || strings.HasPrefix(c.device, "-") || strings.IndexFunc(c.device, unicode.IsSpace) >= 0 {
				t.Fatalf("%s source %q accepted", c.fstype, c.device)
			}
			switch c.fstype {
			case "nfs", "nfs4":
				if host, _, ok := strings.Cut(c.device, ":/"); !ok || host == "" {
					t.Fatalf("nfs source %q accepted", c.device)
				}
			case "cifs", "smb3", "smbfs":
				if !strings.HasPrefix(c.device, "//") || strings.Count(strings.Trim(c.device, "/"), "/") < 1 {
					t.Fatalf("cifs source %q accepted", c.device)
				}
			}
			argv := mountArgv(c.device, c.dir, c.fstype, c.options)
			// Options may themselves be "--" (the value of -o): the operands are the last three.
			if n := len(argv); n < 6 || !slices.Equal(argv[n-3:], []string{"--", c.device, c.dir}) {
				t.Fatalf("mount(8) arguments %q", argv)
			}
		case bind:
			if !filepath.IsAbs(c.device) || !c.opts.Bind {
				t.Fatalf("bind source %q accepted", c.device)
			}
		case block:
			tag, value, err := parseDeviceSpec(c.device)
			if err != nil {
				t.Fatalf("device %q accepted: %v", c.device, err)
			}
			if tag == "" && !filepath.IsAbs(value) {
				t.Fatalf("device %q accepted as %q", c.device, value)
			}
			if tag != "" && (value == "" || strings.ContainsAny(value, "/ ")) {
				t.Fatalf("device %q accepted as %s=%q", c.device, tag, value)
			}
		}
	})
}

// FuzzDeviceSpec: a device string is a path or a tag with a value that
// names one thing, never a path or an option.
func FuzzDeviceSpec(f *testing.F) {
	f.Fuzz(func(t *testing.T, dev string) {
		tag, value, err := parseDeviceSpec(dev)
		if err != nil {
			return
		}
		switch tag {
		case "":
			if !strings.HasPrefix(value, "/") || filepath.Clean(value) != value {
				t.Fatalf("%q: path %q", dev, value)
			}
		case "UUID", "LABEL":
			if value == "" || strings.ContainsAny(value, "/ ") {
				t.Fatalf("%q: %s=%q", dev, tag, value)
			}
		default:
			t.Fatalf("%q: tag %q", dev, tag)
		}
	})
}
