package fencepeer

// The handler's runs with fake tools in the process: the paths the real
// cibadmin on a file cannot take (no DC, a busy CIB, a failing write, a
// held lock, DRBD 8.4's /proc/drbd).

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

type fakeCib struct {
	cib       string
	dcFails   bool     // cibadmin -Q -t fails (no DC)
	writeRC   []int    // exit codes of successive Create/Replace calls (then 0)
	calls     []string // "query-local", "query-dc", "create", "replace", "delete"
	deleteErr error
	written   []string // the XML of the Create/Replace calls
}

func (f *fakeCib) Query(_ context.Context, timeout time.Duration) (Result, error) {
	if timeout == 0 {
		f.calls = append(f.calls, "query-local")
		return Result{Stdout: f.cib}, nil
	}
	f.calls = append(f.calls, "query-dc")
	if f.dcFails {
		return Result{Code: 102, Stderr: "Signon to CIB failed: Transport endpoint is not connected"}, nil
	}
	return Result{Stdout: f.cib}, nil
}

func (f *fakeCib) write(kind, xml string) (Result, error) {
	f.calls = append(f.calls, kind)
	f.written = append(f.written, xml)
	if len(f.writeRC) > 0 {
		rc := f.writeRC[0]
		f.writeRC = f.writeRC[1:]
		return Result{Code: rc, Stderr: "Call cib_create failed"}, nil
	}
	return Result{}, nil
}

func (f *fakeCib) Create(_ context.Context, x string) (Result, error)  { return f.write("create", x) }
func (f *fakeCib) Replace(_ context.Context, x string) (Result, error) { return f.write("replace", x) }
func (f *fakeCib) Delete(context.Context, string) (Result, error) {
	f.calls = append(f.calls, "delete")
	return Result{}, f.deleteErr
}

type fakeNode string

func (n fakeNode) Name(context.Context) (Result, error) { return Result{Stdout: string(n) + "\n"}, nil }

type fakeCrmadmin bool

func (ok fakeCrmadmin) Status(_ context.Context, node string, _ time.Duration) (Result, error) {
	if ok {
		return Result{Stdout: "Controller on " + node + " in state S_NOT_DC: ok\n"}, nil
	}
	return Result{Code: 102, Stderr: "error: Could not connect to controller"}, nil
}

type fakeDrbdsetup struct {
	out   string
	calls int
}

func (d *fakeDrbdsetup) Events2Now(context.Context, string) (Result, error) {
	d.calls++
	return Result{Stdout: d.out}, nil
}

// handler builds a run on a recorded CIB (a path from cibSet.path) and events2 output with a clock
// that moves only when the handler sleeps.
func handler(t *testing.T, cib, events string) (*Handler, *fakeCib, *fakeDrbdsetup, *strings.Builder) {
	t.Helper()
	c, err := os.ReadFile(cib)
	if err != nil {
		t.Fatal(err)
	}
	e, err := os.ReadFile(filepath.Join("..", "drbd", "testdata", events))
	if err != nil {
		t.Fatal(err)
	}
	fc := &fakeCib{cib: string(c)}
	ds := &fakeDrbdsetup{out: string(e)}
	now := time.Unix(1700000000, 0)
	var log strings.Builder
	l, _ := NewLogger(&log, "")
	env := map[string]string{"DRBD_RESOURCE": "r0", "DRBD_MINOR": "0", "DRBD_PEER": "node2"}
	s, _ := Decl.ParseArgs([]string{"--lock-dir", t.TempDir(), "--timeout", "5", "--dc-timeout", "3"}, false)
	h := &Handler{
		Tools: Tools{Cibadmin: fc, CrmNode: fakeNode("node1"), Crmadmin: fakeCrmadmin(true), Drbdsetup: ds,
			ProcDRBD: func() (string, error) { return "", os.ErrNotExist },
			Uname:    func() string { return "uname" },
			Sleep:    func(_ context.Context, d time.Duration) { now = now.Add(d) },
			Now:      func() time.Time { return now }},
		Log: l, Getenv: func(k string) string { return env[k] }, S: s,
	}
	return h, fc, ds, &log
}

const survivor = "drbd84/09-survivor-after-peer-killed/node1/events2_now.out"

func TestHandlerNoDC(t *testing.T) {
	eachSet(t, func(t *testing.T, set cibSet) {
		h, fc, _, log := handler(t, set.path("cib-gocf-clone.xml"), survivor)
		fc.dcFails = true
		// No DC: the peer's state is unknown; the local disk is UpToDate, so
		// the constraint is placed (it would fail without a DC) and 5 answered.
		if code := h.Run(context.Background(), "fence-peer"); code != ExitUnreachable || !strings.Contains(log.String(), "no DC answered within --dc-timeout=3s") {
			t.Errorf("exit %d\n%s", code, log)
		}
		if n := strings.Count(strings.Join(fc.calls, " "), "query-dc"); n < 2 {
			t.Errorf("asked the DC %d times: %v", n, fc.calls)
		}
	})
}

func TestHandlerWriteRetriesAndFailure(t *testing.T) {
	eachSet(t, func(t *testing.T, set cibSet) {
		h, fc, _, log := handler(t, set.path("cib-gocf-clone.xml"), survivor)
		fc.writeRC = []int{103, 103} // CRM_EX_OLD: retried
		if code := h.Run(context.Background(), "fence-peer"); code != ExitOutdated {
			t.Errorf("exit %d\n%s", code, log)
		}
		if got := strings.Count(strings.Join(fc.calls, " "), "create"); got != 3 {
			t.Errorf("%d creates: %v", got, fc.calls)
		}
		h, fc, _, log = handler(t, set.path("cib-gocf-clone.xml"), survivor)
		fc.writeRC = []int{1}
		if code := h.Run(context.Background(), "fence-peer"); code != ExitError || !strings.Contains(log.String(), "DATA INTEGRITY at RISK") {
			t.Errorf("exit %d\n%s", code, log)
		}
	})
}

func TestHandlerNoQuorum(t *testing.T) {
	eachSet(t, func(t *testing.T, set cibSet) {
		h, fc, _, log := handler(t, set.path("cib-gocf-clone.xml"), survivor)
		fc.cib = strings.Replace(fc.cib, `have-quorum="1"`, `have-quorum="0"`, 1)
		if code := h.Run(context.Background(), "fence-peer"); code != ExitError || !strings.Contains(log.String(), "no quorum") {
			t.Errorf("exit %d\n%s", code, log)
		}
		if strings.Contains(strings.Join(fc.calls, " "), "create") {
			t.Error("placed a constraint without quorum")
		}
	})
}

func TestHandlerProcDRBD84(t *testing.T) {
	eachSet(t, func(t *testing.T, set cibSet) {
		h, fc, ds, log := handler(t, set.path("cib-gocf-clone.xml"), survivor)
		h.Tools.ProcDRBD = func() (string, error) {
			return "version: 8.4.11 (api:1/proto:86-101)\n 0: cs:WFConnection ro:Primary/Unknown ds:UpToDate/DUnknown C r-----\n", nil
		}
		h.Tools.Crmadmin = fakeCrmadmin(false)
		// The peer stays "online" in the CIB but its controller does not
		// answer: after --timeout it is unknown; UpToDate here: placed, 5.
		if code := h.Run(context.Background(), "fence-peer"); code != ExitUnreachable {
			t.Errorf("exit %d\n%s", code, log)
		}
		if ds.calls != 0 {
			t.Errorf("ran drbdsetup %d times in a DRBD 8.4 fence-peer handler", ds.calls)
		}
		if !strings.Contains(strings.Join(fc.calls, " "), "create") || !strings.Contains(log.String(), "peer node2: unknown") {
			t.Errorf("calls %v\n%s", fc.calls, log)
		}
	})
}

func TestHandlerLock(t *testing.T) {
	eachSet(t, func(t *testing.T, set cibSet) {
		h, _, _, log := handler(t, set.path("cib-gocf-clone.xml"), survivor)
		h.S.FlockRequired = true
		h.S.FlockTimeout = time.Second
		f, err := os.OpenFile(filepath.Join(h.S.LockDir, "fence.r0"), os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			t.Fatal(err)
		}
		if code := h.Run(context.Background(), "fence-peer"); code != ExitError || !strings.Contains(log.String(), "could not lock") {
			t.Errorf("exit %d\n%s", code, log)
		}
		// Without --flock-required it goes on without the lock.
		h.S.FlockRequired = false
		if code := h.Run(context.Background(), "fence-peer"); code != ExitOutdated {
			t.Errorf("exit %d\n%s", code, log)
		}
	})
}

func TestHandlerUnfenceDeleteFails(t *testing.T) {
	eachSet(t, func(t *testing.T, set cibSet) {
		h, fc, _, log := handler(t, set.path("cib-gocf-clone.xml"), "drbd84/04-primary-secondary-uptodate/node1/events2_now.out")
		fc.cib = strings.Replace(fc.cib, "<constraints/>", "<constraints>"+linbit84+"</constraints>", 1)
		fc.deleteErr = errors.New("killed")
		if code := h.Run(context.Background(), "unfence-peer"); code != ExitError || !strings.Contains(log.String(), "could not remove") {
			t.Errorf("exit %d\n%s", code, log)
		}
	})
}

// TestHandlerRecordedCIBs runs fence-peer on each recorded CIB of each set
// in the process (the real-tools tests cannot load the Pacemaker 3.0 set:
// see realtools_test.go): the peer's state read from the CIB, the clone
// and role found, the constraint written.
func TestHandlerRecordedCIBs(t *testing.T) {
	eachSet(t, func(t *testing.T, set cibSet) {
		for _, tc := range []struct {
			file     string
			crmadmin fakeCrmadmin
			code     int
			log      string
			rsc      string // clone of the constraint written ("" none)
			role     string
		}{
			{"cib-gocf-clone.xml", true, ExitOutdated, "peers are reachable", "drbd-r0-clone", "Promoted"},
			{"cib-gocf-clone.xml", false, ExitUnreachable, "peer node2: unknown", "drbd-r0-clone", "Promoted"},
			{"cib-peer-fenced.xml", true, ExitStonithed, "fenced by the cluster", "drbd-r0-clone", "Promoted"},
			{"cib-peer-unclean.xml", true, ExitUnreachable, "placed the constraint anyway", "drbd-r0-clone", "Promoted"},
			{"cib-linbit-clone.xml", true, ExitOutdated, "placed the constraint", "ms-r0", "Promoted"},
			{"cib-linbit-master.xml", true, ExitOutdated, "placed the constraint", "ms_drbd_r0", "Master"},
			{"cib-no-clone.xml", true, ExitError, "no promotable clone", "", ""},
		} {
			h, fc, _, log := handler(t, set.path(tc.file), survivor)
			h.Tools.Crmadmin = tc.crmadmin
			code := h.Run(context.Background(), "fence-peer")
			if code != tc.code || !strings.Contains(log.String(), tc.log) {
				t.Errorf("%s (crmadmin ok %v): exit %d, want %d; log lacks %q?\n%s", tc.file, tc.crmadmin, code, tc.code, tc.log, log)
				continue
			}
			if tc.rsc == "" {
				if len(fc.written) != 0 {
					t.Errorf("%s: wrote %q", tc.file, fc.written)
				}
				continue
			}
			want := NewConstraint("drbd-fence-by-handler", "r0", tc.rsc, tc.role, []string{"node1"}, nil).XML()
			if len(fc.written) != 1 || fc.written[0] != want {
				t.Errorf("%s: wrote %q, want\n%s", tc.file, fc.written, want)
			}
		}
	})
}
