// Package asterisk is the gocf Asterisk agent: it starts Asterisk, talks
// to it natively on its control socket, over ARI and over SIP, and stops it
// letting calls drain.
package asterisk

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Conf is what the agent needs from asterisk.conf.
type Conf struct {
	Dirs    map[string]string // [directories], defaults filled in
	Options map[string]string // [options]
	Files   map[string]string // [files]
}

// Asterisk's compiled-in directories (Debian builds use the same).
var defaultDirs = map[string]string{
	"astetcdir": "/etc/asterisk", "astmoddir": "/usr/lib/asterisk/modules", "astvarlibdir": "/var/lib/asterisk",
	"astdbdir": "/var/lib/asterisk", "astkeydir": "/var/lib/asterisk", "astdatadir": "/var/lib/asterisk",
	"astagidir": "/var/lib/asterisk/agi-bin", "astspooldir": "/var/spool/asterisk", "astrundir": "/var/run/asterisk",
	"astlogdir": "/var/log/asterisk", "astsbindir": "/usr/sbin", "astcachedir": "/var/cache/asterisk",
}

// RunDir, LogDir and CtlSocket are the paths the agent works with.
func (c *Conf) RunDir() string { return c.Dirs["astrundir"] }

// LogDir is where Asterisk writes its logs and CDRs.
func (c *Conf) LogDir() string { return c.Dirs["astlogdir"] }

// CtlSocket is the control socket remote consoles connect to.
func (c *Conf) CtlSocket() string {
	name := c.Files["astctl"]
	if name == "" {
		name = "asterisk.ctl"
	}
	if filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(c.RunDir(), name)
}

// LoadConf reads an asterisk.conf, following #include.
func LoadConf(path string) (*Conf, error) {
	c := &Conf{Dirs: map[string]string{}, Options: map[string]string{}, Files: map[string]string{}}
	for k, v := range defaultDirs {
		c.Dirs[k] = v
	}
	p := &parser{conf: c, open: func(name string) (io.ReadCloser, error) { return os.Open(name) }, glob: filepath.Glob}
	if err := p.file(path, 0); err != nil {
		return nil, err
	}
	return c, nil
}

type parser struct {
	conf    *Conf
	open    func(name string) (io.ReadCloser, error)
	glob    func(pattern string) ([]string, error)
	section string
	skip    bool // inside a template section, which Asterisk does not apply
	comment bool // inside a ;-- block comment --;
}

func (p *parser) file(path string, depth int) error {
	if depth > 8 {
		return fmt.Errorf("%s: #include nested too deep", path)
	}
	f, err := p.open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return p.parse(f, path, depth)
}

// parse applies Asterisk's config syntax: [section](options), key = value
// or key => value, ; comments (\; is a literal semicolon), ;-- --; block
// comments, #include / #tryinclude. A section marked (!) is a template and
// is not applied: Debian's asterisk.conf ships [directories](!) for that
// reason, so reading the paths "by column" as the shell agent does is wrong.
//
// Errors name the file and line, never a line's content: the file may be a
// link to something that is not a configuration.
func (p *parser) parse(r io.Reader, path string, depth int) error {
	dir := filepath.Dir(path)
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := p.stripComments(sc.Text())
		line = strings.TrimSpace(line)
		switch {
		case line == "":
		case strings.HasPrefix(line, "#include") || strings.HasPrefix(line, "#tryinclude"):
			f := strings.Fields(line)
			if len(f) < 2 {
				return fmt.Errorf("%s line %d: #include without a file name", path, n)
			}
			name := strings.Trim(f[len(f)-1], `"<>`)
			if !filepath.IsAbs(name) {
				name = filepath.Join(dir, name)
			}
			matches, _ := p.glob(name)
			if len(matches) == 0 && strings.HasPrefix(line, "#include") {
				return fmt.Errorf("%s line %d: #include %q: no such file", path, n, name)
			}
			for _, m := range matches {
				if err := p.file(m, depth+1); err != nil {
					return err
				}
			}
		case strings.HasPrefix(line, "#"):
			// #exec and friends: not needed for the paths the agent reads.
		case strings.HasPrefix(line, "["):
			end := strings.IndexByte(line, ']')
			if end < 0 {
				return fmt.Errorf("%s line %d: malformed section header", path, n)
			}
			p.section = strings.ToLower(strings.TrimSpace(line[1:end]))
			opts := strings.TrimSpace(line[end+1:])
			p.skip = strings.HasPrefix(opts, "(") && strings.Contains(strings.Trim(opts, "()"), "!")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || p.skip {
				continue
			}
			k = strings.ToLower(strings.TrimSpace(k))
			v = strings.TrimSpace(strings.TrimPrefix(v, ">"))
			switch p.section {
			case "directories":
				p.conf.Dirs[strings.ReplaceAll(k, "_", "")] = v
			case "options":
				p.conf.Options[k] = v
			case "files":
				p.conf.Files[k] = v
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	return nil
}

func (p *parser) stripComments(line string) string {
	var b strings.Builder
	for i := 0; i < len(line); i++ {
		if p.comment {
			if strings.HasPrefix(line[i:], "--;") {
				p.comment = false
				i += 2
			}
			continue
		}
		switch {
		case line[i] == '\\' && i+1 < len(line) && line[i+1] == ';':
			b.WriteByte(';')
			i++
		case strings.HasPrefix(line[i:], ";--"):
			p.comment = true
			i += 2
		case line[i] == ';':
			return b.String()
		default:
			b.WriteByte(line[i])
		}
	}
	return b.String()
}
