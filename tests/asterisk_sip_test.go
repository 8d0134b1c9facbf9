package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gocf/gocf/tests/lab"
	"github.com/gocf/gocf/tests/testbed"
)

// astChroot is a real Asterisk 22: an overlay of the test bed image's root
// (Debian trixie's asterisk package), and a process holding fresh PID and
// network namespaces (loopback only) chrooted there, which the agent and
// asterisk -rx enter. Everything in it dies with the holder.
type astChroot struct {
	root  *lab.Root
	enter []string
	pid   string // the namespaces' init, as seen from the host
}

const astConf = "/etc/gocf-test/asterisk.conf"

func newAstChroot(t *testing.T) *astChroot {
	t.Helper()
	lab.RequireRoot(t)
	lab.RequireTool(t, "nsenter")
	// The cached image (built once, 2-3 minutes, when missing); no node
	// of the test bed is brought up.
	img, err := testbed.EnsureImage(testbed.DefaultCacheDir, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	root := lab.Overlay(t, img.Rootfs)
	// pkg/asterisk's recording configuration: pjsip on 127.0.0.1:5060,
	// endpoint identifiers ip then anonymous, the anonymous endpoint in
	// context test, which has the extension monitor.
	conf := filepath.Join(lab.RepoRoot(), "pkg/asterisk/testdata/record/conf")
	root.NS.Run(t, "sh", "-euc", `M=$1 C=$2
		mkdir -p "$M/etc/gocf-test" "$M/usr/lib/ocf/resource.d/gocf"
		cp -a "$M/etc/asterisk/." "$M/etc/gocf-test/"
		cp "$C"/* "$M/etc/gocf-test/"
		chmod -R a+rX "$M/etc/gocf-test"`, "sh", root.Path, conf)
	root.CopyIn(t, agentBin("asterisk"), "/usr/lib/ocf/resource.d/gocf/asterisk")

	holder := root.Command("sleep", "infinity")
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { holder.Wait(); close(done) }()
	var pid string
	t.Cleanup(func() {
		// The namespace's init first: the kernel ends everything in the
		// PID namespace with it; then unshare, which waited for it.
		if n, err := strconv.Atoi(pid); err == nil {
			syscall.Kill(n, syscall.SIGKILL)
		}
		holder.Process.Kill()
		<-done
	})
	// unshare --fork: the chrooted sleep is the child of the process
	// started (setup, not an assertion: bounded, then fatal).
	for deadline := time.Now().Add(20 * time.Second); pid == "" && time.Now().Before(deadline); {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(holder.Process.Pid) + "/task/" + strconv.Itoa(holder.Process.Pid) + "/children")
		if c := strings.Fields(string(b)); len(c) == 1 {
			if comm, _ := os.ReadFile("/proc/" + c[0] + "/comm"); strings.TrimSpace(string(comm)) == "sleep" {
				pid = c[0]
			}
		}
		if pid == "" {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if pid == "" {
		t.Fatal("the namespace holder did not start")
	}
	lab.Run(t, "nsenter", "-t", pid, "-n", "ip", "link", "set", "lo", "up")
	return &astChroot{root: root, enter: []string{"nsenter", "-t", pid, "-m", "-n", "-p", "-u", "-r", "-w", "--"}, pid: pid}
}

func (c *astChroot) agent(params map[string]string) *lab.Agent {
	return &lab.Agent{Bin: "/usr/lib/ocf/resource.d/gocf/asterisk", Enter: c.enter, Instance: "pbx-asterisk", Params: params}
}

// rx runs an Asterisk CLI command through asterisk -rx and returns its output.
func (c *astChroot) rx(t *testing.T, cmd string) string {
	t.Helper()
	args := append(c.enter[1:], "asterisk", "-C", astConf, "-rx", cmd)
	out, err := exec.Command(c.enter[0], args...).CombinedOutput()
	if err != nil {
		t.Fatalf("asterisk -rx %q: %v\n%s", cmd, err, out)
	}
	return string(out)
}

// Issue 16, fault 3: Asterisk's SIP stack dead while the process and its
// control socket live. Asterisk 22 with its pjsip endpoint identifier
// modules unloaded answers every request with 500: the control-socket
// monitor cannot see it, the SIP check must, and a restart cures it.
func TestAsteriskSIPStackDead(t *testing.T) {
	c := newAstChroot(t)
	sipURI := "sip:monitor@127.0.0.1:5060"
	a := c.agent(map[string]string{"config": astConf, "additional_parameters": "-g",
		"monitor_sipuri": sipURI, "sip_check_depth": "20"})
	deep := []string{recurring, "OCF_CHECK_LEVEL=20"}
	a.Expect(t, 0, "start", "OCF_RESKEY_CRM_meta_timeout=60000")
	a.Expect(t, 0, "monitor", deep...)
	// A 404 (no such extension in the caller's context) is a working
	// stack's answer.
	r := a.Expect(t, 0, "monitor", append(deep, "OCF_RESKEY_monitor_sipuri=sip:nobody@127.0.0.1:5060", "HA_debug=1")...)
	if !strings.Contains(r.Stderr, `"404 Not Found"`) {
		t.Errorf("want a 404 answer:\n%s", r.Stderr)
	}

	for _, m := range []string{"res_pjsip_endpoint_identifier_anonymous.so", "res_pjsip_endpoint_identifier_ip.so"} {
		if out := c.rx(t, "module unload "+m); !strings.Contains(out, "Unloaded "+m) {
			t.Fatalf("module unload %s: %q", m, out)
		}
	}
	// The process and its control socket are fine: the frequent monitor
	// passes, as it must (it does not ask SIP).
	a.Expect(t, 0, "monitor", recurring)
	want := `SIP cannot take calls: ` + sipURI + ` answered OPTIONS with "500 Server Internal Error"`
	for _, uri := range []string{sipURI, "sip:nobody@127.0.0.1:5060"} {
		r = a.Expect(t, 1, "monitor", append(deep, "OCF_RESKEY_monitor_sipuri="+uri)...)
		if got := strings.TrimSpace(r.ExitReasons()[0]); got != strings.Replace(want, sipURI, uri, 1) {
			t.Errorf("exit reason %q", got)
		}
	}
	// What Pacemaker does next: stop and start on this node. Start waits
	// for SIP to take calls; the restarted Asterisk loads its modules.
	a.Expect(t, 0, "stop")
	a.Expect(t, 0, "start", "OCF_RESKEY_CRM_meta_timeout=60000")
	a.Expect(t, 0, "monitor", deep...)
	a.Expect(t, 0, "stop")
	a.Expect(t, 7, "monitor", recurring)
}
