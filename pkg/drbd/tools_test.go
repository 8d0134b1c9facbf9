package drbd

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The test binary doubles as drbdadm, drbdsetup, crm_attribute and the
// rest, linked under those names into a directory put first in PATH: the
// exec implementations run real processes with their argument lists. As a
// fake it logs its arguments, prints GOCF_FAKE_OUT's file, may sleep, and
// exits with GOCF_FAKE_RC_<name>.
func TestMain(m *testing.M) {
	if os.Getenv("GOCF_FAKE_LOG") != "" {
		os.Exit(fake())
	}
	os.Exit(m.Run())
}

func fake() int {
	name := filepath.Base(os.Args[0])
	f, err := os.OpenFile(os.Getenv("GOCF_FAKE_LOG"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return 99
	}
	fmt.Fprintln(f, strings.Join(append([]string{name}, os.Args[1:]...), " "))
	f.Close()
	if out := os.Getenv("GOCF_FAKE_OUT"); out != "" {
		b, _ := os.ReadFile(out)
		os.Stdout.Write(b)
	}
	if d, err := time.ParseDuration(os.Getenv("GOCF_FAKE_SLEEP_" + strings.ReplaceAll(name, "-", "_"))); err == nil {
		time.Sleep(d)
	}
	rc, _ := strconv.Atoi(os.Getenv("GOCF_FAKE_RC_" + name))
	return rc
}

// fakePath links the fakes and returns the log file.
func fakePath(t *testing.T) string {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, n := range []string{"drbdadm", "drbdsetup", "crm_attribute", "crm_master", "crm_resource", "modprobe", "modinfo"} {
		if err := os.Symlink(self, filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", dir)
	log := filepath.Join(dir, "log")
	t.Setenv("GOCF_FAKE_LOG", log)
	return log
}

func calls(t *testing.T, log string) []string {
	b, _ := os.ReadFile(log)
	os.Remove(log)
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func TestExecPromotion(t *testing.T) {
	log := fakePath(t)
	p, ctx := ExecPromotion{Instance: "drbd:1", Node: "node1"}, context.Background()
	if err := p.Set(ctx, 1000); err != nil {
		t.Fatal(err)
	}
	if err := p.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if got := calls(t, log); strings.Join(got, "|") != "crm_attribute --promotion -v 1000|crm_attribute --promotion -D" {
		t.Errorf("%q", got)
	}
	// Pacemaker 2.0: crm_attribute rejects --promotion with a usage error.
	t.Setenv("GOCF_FAKE_RC_crm_attribute", "64")
	if err := p.Set(ctx, 10); err != nil {
		t.Fatal(err)
	}
	if got := calls(t, log); strings.Join(got, "|") != "crm_attribute --promotion -v 10|crm_master -l reboot -v 10" {
		t.Errorf("%q", got)
	}
	t.Setenv("GOCF_FAKE_RC_crm_attribute", "1")
	if err := p.Delete(ctx); err == nil {
		t.Error("a failing crm_attribute is no error")
	}
	calls(t, log)
	t.Setenv("GOCF_FAKE_RC_crm_attribute", "0")

	// A hung crm_attribute is killed at the deadline.
	t.Setenv("GOCF_FAKE_SLEEP_crm_attribute", "1m")
	ctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := p.Set(ctx, 1); err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("%v after %v", err, time.Since(start))
	}
	calls(t, log)
}

func TestExecLocate(t *testing.T) {
	log := fakePath(t)
	out := filepath.Join(t.TempDir(), "locate")
	os.WriteFile(out, []byte("resource drbd is running on: node2 Promoted\nresource drbd is running on: node1\n"), 0o600)
	t.Setenv("GOCF_FAKE_OUT", out)
	nodes, err := ExecPromotion{Instance: "drbd:1", Node: "node1"}.PromotedElsewhere(context.Background())
	if err != nil || len(nodes) != 1 || nodes[0] != "node2" {
		t.Errorf("%q %v", nodes, err)
	}
	if got := calls(t, log); got[0] != "crm_resource --resource drbd --locate" {
		t.Errorf("%q", got)
	}
}

func TestExecDrbd(t *testing.T) {
	log := fakePath(t)
	ctx := context.Background()
	adm := ExecDrbdadm{Conf: "/etc/drbd.d/r0.res"}
	for _, fn := range []func(context.Context, string) (Result, error){adm.Up, adm.Adjust, adm.Primary, adm.Secondary, adm.Down, adm.Outdate, adm.Dump} {
		if res, err := fn(ctx, "r0"); err != nil || res.Code != 0 {
			t.Fatal(res, err)
		}
	}
	want := []string{"up", "adjust", "primary", "secondary", "down", "outdate", "dump"}
	for i, c := range calls(t, log) {
		if c != "drbdadm -c /etc/drbd.d/r0.res "+want[i]+" r0" {
			t.Errorf("%q", c)
		}
	}
	t.Setenv("GOCF_FAKE_RC_drbdadm", "11")
	if res, err := adm.Primary(ctx, "r0"); err != nil || res.Code != 11 {
		t.Errorf("%+v %v", res, err)
	}
	calls(t, log)
	t.Setenv("GOCF_FAKE_RC_drbdadm", "0")

	t.Setenv("GOCF_FAKE_OUT", "testdata/drbd84/versions.txt")
	if v, err := adm.Versions(ctx); err != nil || v.Kernel != 0x08040b {
		t.Errorf("%+v %v", v, err)
	}
	t.Setenv("GOCF_FAKE_OUT", "testdata/drbd84/04-primary-secondary-uptodate/node1/events2_now.out")
	res, err := ExecDrbdsetup{}.Events2Now(ctx, "r0")
	if m := ParseString(res.Stdout); err != nil || m.Resource("r0") == nil || m.Resource("r0").Role != Primary {
		t.Errorf("%+v %v", res, err)
	}
	if got := calls(t, log); got[len(got)-1] != "drbdsetup events2 --now r0" {
		t.Errorf("%q", got)
	}

	// The stream stays open after the dump, as drbdsetup's does, until
	// closed; Close ends the process at once.
	t.Setenv("GOCF_FAKE_SLEEP_drbdsetup", "1m")
	s, err := ExecDrbdsetup{}.Events2(ctx, "r0")
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(s).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "exists resource name:r0 role:Primary") {
		t.Errorf("%q %v", line, err)
	}
	start := time.Now()
	s.Close()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v", d)
	}
	if got := calls(t, log); got[0] != "drbdsetup events2 r0" {
		t.Errorf("%q", got)
	}
}
