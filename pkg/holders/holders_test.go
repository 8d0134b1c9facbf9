package holders

import (
	"os"
	"syscall"
	"testing"
)

func TestParseSignals(t *testing.T) {
	got, err := ParseSignals("TERM, sigint 9\tHUP")
	want := []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGKILL, syscall.SIGHUP}
	if err != nil || len(got) != len(want) {
		t.Fatalf("%v %v", got, err)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%d: %v", i, got[i])
		}
	}
	for _, bad := range []string{"FOO", "0", "65", "SIG"} {
		if _, err := ParseSignals(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestUnder(t *testing.T) {
	for p, want := range map[string]bool{
		"/mnt/x": true, "/mnt/x/a": true, "/mnt/x/a (deleted)": true, "/mnt/xy": false, "/mnt": false, "socket:[123]": false,
	} {
		if under(p, "/mnt/x") != want {
			t.Errorf("%q", p)
		}
	}
}

func TestFindsItsOwnChildByCwd(t *testing.T) {
	dir := t.TempDir()
	p, err := os.StartProcess("/bin/sleep", []string{"sleep", "30"}, &os.ProcAttr{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { p.Kill(); p.Wait() }()
	found, err := Find(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range found {
		if h.PID == p.Pid && h.Via == "cwd" {
			return
		}
	}
	t.Errorf("child %d with cwd %s not found: %v", p.Pid, dir, found)
}
