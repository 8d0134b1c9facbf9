package drbd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gocf/gocf/pkg/ocf"
)

// The connected marker is a file of the state directory: a link planted in
// its place is neither believed nor written through, and stop removes the
// link, not what it points to.
func TestConnectedMarkerIsNoLink(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "gocf-drbd-drbd:0")
	if err := os.Mkdir(state, 0o700); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "outside")
	if err := os.WriteFile(outside, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(state, connectedMarker)); err != nil {
		t.Fatal(err)
	}
	k := newKernel(t, stage("08-node1-disconnected/node1"))
	if st, reason, log := k.run(t, dir, "monitor"); st != ocf.Success {
		t.Errorf("a linked marker was believed: %v %q\n%s", st, reason, log)
	}

	k = newKernel(t, down)
	k.next["up"] = stage("01-up-waitconnection/node1")
	k.stream = []string{stage("01-up-waitconnection/node1"), stage("02-connected-secondary-inconsistent/node1")}
	st, reason, log := k.run(t, dir, "start")
	if st != ocf.Success || !strings.Contains(log, "symbolic link") {
		t.Errorf("start: %v %q\n%s", st, reason, log)
	}
	if b, err := os.ReadFile(outside); err != nil || string(b) != "keep" {
		t.Fatalf("marker written through the link: %q %v", b, err)
	}

	k.next["down"] = down
	if st, _, log := k.run(t, dir, "stop"); st != ocf.Success {
		t.Errorf("stop: %v\n%s", st, log)
	}
	if _, err := os.Lstat(filepath.Join(state, connectedMarker)); err == nil {
		t.Error("stop kept the link")
	}
	if _, err := os.Stat(outside); err != nil {
		t.Errorf("stop removed the link's target: %v", err)
	}
}
