package asterisk

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gocf/gocf/pkg/ocf"
	"github.com/gocf/gocf/pkg/ocf/ocftest"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestDeclaration(t *testing.T) { ocftest.Declaration(t, Agent(), *update) }

func TestConfTemplatesIncludesComments(t *testing.T) {
	c, err := LoadConf("testdata/asterisk.conf")
	if err != nil {
		t.Fatal(err)
	}
	if c.RunDir() != "/var/run/asterisk" || c.LogDir() != "/var/log/asterisk" {
		t.Errorf("a template section was applied: %v", c.Dirs)
	}
	if c.Options["runuser"] != "asterisk" || c.Options["documentation_language"] != "en_US" || c.Options["maxfiles"] != "1000" {
		t.Errorf("options: %v", c.Options)
	}
	if c.Options["verbose"] != "" {
		t.Error("a commented-out option was read")
	}
	if c.CtlSocket() != "/var/run/asterisk/pbx;ctl.sock" {
		t.Errorf("escaped semicolon and include: %q", c.CtlSocket())
	}
	c, err = LoadConf("testdata/applied.conf")
	if err != nil {
		t.Fatal(err)
	}
	if c.RunDir() != "/replica/run/asterisk" || c.LogDir() != "/replica/log/asterisk" || c.CtlSocket() != "/run/pbx.ctl" {
		t.Errorf("applied: %v %v", c.Dirs, c.CtlSocket())
	}
	if _, err := LoadConf("testdata/none.conf"); err == nil {
		t.Error("a missing file loaded")
	}
	bad := filepath.Join(t.TempDir(), "bad.conf")
	os.WriteFile(bad, []byte("#include \"/nonexistent/x.conf\"\n"), 0o644)
	if _, err := LoadConf(bad); err == nil {
		t.Error("a missing #include was accepted")
	}
}

func TestBanner(t *testing.T) {
	b, err := parseBanner("pbx1/4242/22.10.1+dfsg+~cs6.17.60671434-1\n")
	if err != nil || b.Host != "pbx1" || b.PID != 4242 || !strings.HasPrefix(b.Version, "22.10.1") {
		t.Errorf("%+v %v", b, err)
	}
	for _, bad := range []string{"", "garbage\n", "h/notapid/v\n"} {
		if _, err := parseBanner(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseConfigRejects(t *testing.T) {
	for _, env := range [][]string{
		{"OCF_RESKEY_config=etc/asterisk.conf"},
		{"OCF_RESKEY_additional_parameters=-g -C /tmp/x.conf"},
		{"OCF_RESKEY_additional_parameters=-vvv -F"},
		{"OCF_RESKEY_additional_parameters=-Uroot"},
		{"OCF_RESKEY_monitor_sipuri=not a uri"},
		{"OCF_RESKEY_ari_url=ftp://x/ari", "OCF_RESKEY_ari_username=u"},
		{"OCF_RESKEY_ari_url=http://127.0.0.1:8088/ari"},
		{"OCF_RESKEY_ari_password_file=relative"},
		{"OCF_RESKEY_ctl_socket=run/x.ctl"},
		{"OCF_RESKEY_maxfiles=10"},
		{"OCF_RESKEY_call_drain_timeout=-5"},
		{"OCF_RESKEY_realtime=perhaps"},
	} {
		if _, errs := ocf.Prepare(Agent(), "start", env); len(errs) == 0 {
			t.Errorf("accepted %v", env)
		}
	}
	r, errs := ocf.Prepare(Agent(), "start", []string{"OCF_RESKEY_additional_parameters=-g -vvv -L 5",
		"OCF_RESKEY_monitor_sipuri=sip:ping@198.51.100.100:5060", "OCF_RESKEY_ari_url=http://127.0.0.1:8088/ari",
		"OCF_RESKEY_ari_username=mon", "OCF_RESKEY_call_drain_timeout=30"})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	c, _ := parseConfig(r)
	if len(c.extra) != 4 || c.drain.Seconds() != 30 || c.binary != "asterisk" || c.maxfiles != 8192 {
		t.Errorf("%+v", c)
	}
}
