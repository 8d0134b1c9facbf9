package asterisk

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gocf/gocf/pkg/ocf"
)

// What the monitor and stop read, and where the agent finds the instance,
// is reloadable; how Asterisk is started is not.
func TestReloadableParameters(t *testing.T) {
	var got []string
	for _, p := range Agent().Params {
		if p.Reloadable {
			got = append(got, p.Name)
		}
	}
	want := []string{"canary_binary", "monitor_sipuri", "sip_check_depth", "ari_url", "ari_username", "ari_password",
		"ari_password_file", "ctl_socket", "call_drain_timeout"}
	if !slices.Equal(got, want) {
		t.Errorf("reloadable %q, want %q", got, want)
	}
}

// deadConsole is a control socket path nothing listens on.
type deadConsole string

func (d deadConsole) Command(context.Context, string) (Banner, string, error) {
	return Banner{}, "", &os.PathError{Op: "dial", Path: string(d), Err: syscall.ECONNREFUSED}
}

func (d deadConsole) Send(context.Context, string) (Banner, error) {
	return Banner{}, &os.PathError{Op: "dial", Path: string(d), Err: syscall.ECONNREFUSED}
}

func TestReloadAgent(t *testing.T) {
	n := newMem(t)
	// The fake answers only on the socket asterisk.conf names.
	n.a = agentWith(func() Tools {
		tl := n.m.tools()
		tl.Console = func(path string) Console {
			if path != filepath.Join(n.m.rundir, "asterisk.ctl") {
				return deadConsole(path)
			}
			return n.m
		}
		return tl
	})
	n.expect(t, ocf.NotRunning, "reload-agent")
	n.m.running()
	time.Sleep(50 * time.Millisecond)
	before := len(n.m.sent)
	n.expect(t, ocf.Success, "reload-agent", "OCF_RESKEY_monitor_sipuri=sip:monitor@127.0.0.1:5060", "OCF_RESKEY_sip_check_depth=20",
		"OCF_RESKEY_call_drain_timeout=30", "OCF_RESKEY_ctl_socket="+filepath.Join(n.m.rundir, "asterisk.ctl"))
	// Asterisk was asked one question and neither stopped nor started.
	if sent := n.m.sent[before:]; !slices.Equal(sent, []string{"core show channels count"}) || len(n.m.signals) != 0 || !n.m.alive {
		t.Errorf("reload-agent sent %q, signals %q", sent, n.m.signals)
	}
	if n.m.sipCalls != 0 {
		t.Error("reload-agent checked SIP: that is the monitor's")
	}
	n.expect(t, ocf.Success, "status")

	// A control socket where this Asterisk does not answer would lose it.
	if r := n.expect(t, ocf.ErrGeneric, "reload-agent", "OCF_RESKEY_ctl_socket=/run/elsewhere/asterisk.ctl"); !strings.Contains(r, "does not answer on /run/elsewhere/asterisk.ctl") {
		t.Errorf("%q", r)
	}
	// In realtime mode the canary must be found under the new name.
	if r := n.expect(t, ocf.ErrGeneric, "reload-agent", "OCF_RESKEY_realtime=true", "OCF_RESKEY_canary_binary=/bin/true"); !strings.Contains(r, "no canary /bin/true") {
		t.Errorf("%q", r)
	}
	// validate-all's checks: wrong everywhere, wrong on this node.
	n.expect(t, ocf.ErrConfigured, "reload-agent", "OCF_RESKEY_ari_url=ftp://x")
	n.expect(t, ocf.ErrInstalled, "reload-agent", "OCF_RESKEY_ari_url=http://127.0.0.1:1/ari", "OCF_RESKEY_ari_username=u",
		"OCF_RESKEY_ari_password_file=/nonexistent/pw")
	if !n.m.alive || len(n.m.signals) != 0 {
		t.Errorf("a failed reload touched Asterisk: alive %v, signals %q", n.m.alive, n.m.signals)
	}
}
