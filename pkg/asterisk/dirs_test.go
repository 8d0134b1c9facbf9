package asterisk

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

const nobody = 65534

func owner(t *testing.T, path string) (int, int) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	return int(st.Uid), int(st.Gid)
}

func asRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("changing owners needs root")
	}
}

// prepare runs ownedDir on the directories start gives Asterisk, in the
// order start does.
func prepare(logdir string) error {
	for _, d := range []string{logdir, filepath.Join(logdir, "cdr-csv"), filepath.Join(logdir, "cdr-custom")} {
		if err := ownedDir(d, nobody, nobody); err != nil {
			return err
		}
	}
	return nil
}

// A link the Asterisk user plants in its log directory must not make start
// give the link's target away.
func TestOwnedDirPlantedLink(t *testing.T) {
	asRoot(t)
	base := t.TempDir()
	logdir, victim := filepath.Join(base, "log"), filepath.Join(base, "victim")
	for _, d := range []string{logdir, victim} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(logdir, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(logdir, "cdr-csv")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	os.Lchown(link, nobody, nobody) // as the Asterisk user would have made it
	err := prepare(logdir)
	if uid, gid := owner(t, victim); uid != 0 || gid != 0 {
		t.Fatalf("start gave %s to %d:%d through a planted link", victim, uid, gid)
	}
	if err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("a planted link was not refused: %v", err)
	}
}

// The configured directory itself may be a link an administrator made
// (/var/log/asterisk -> /replica/log): its target is used, nothing under it
// is followed.
func TestOwnedDirConfiguredLink(t *testing.T) {
	asRoot(t)
	base := t.TempDir()
	target, victim := filepath.Join(base, "replica-log"), filepath.Join(base, "victim")
	for _, d := range []string{target, victim} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	logdir := filepath.Join(base, "log")
	if err := os.Symlink(target, logdir); err != nil {
		t.Fatal(err)
	}
	if err := prepare(logdir); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{target, filepath.Join(target, "cdr-csv"), filepath.Join(target, "cdr-custom")} {
		if uid, gid := owner(t, d); uid != nobody || gid != nobody {
			t.Errorf("%s belongs to %d:%d", d, uid, gid)
		}
	}
	if uid, _ := owner(t, logdir); uid != 0 {
		t.Errorf("the link itself was given away (%d)", uid)
	}

	// The same link, but in a directory the Asterisk user can write: it
	// may have made it, so it is not followed.
	theirs := filepath.Join(base, "theirs")
	os.Mkdir(theirs, 0o755)
	os.Chown(theirs, nobody, nobody)
	planted := filepath.Join(theirs, "log")
	os.Symlink(victim, planted)
	if err := ownedDir(planted, nobody, nobody); err == nil {
		t.Error("a link in a directory of the Asterisk user was followed")
	}
	if uid, _ := owner(t, victim); uid != 0 {
		t.Fatalf("%s was given away", victim)
	}
	// Nor in a world-writable one (/tmp).
	open := filepath.Join(base, "open")
	os.Mkdir(open, 0o777)
	os.Chmod(open, 0o1777)
	os.Symlink(victim, filepath.Join(open, "log"))
	if err := ownedDir(filepath.Join(open, "log", "sub"), nobody, nobody); err == nil {
		t.Error("a link in a world-writable directory was followed")
	}
	if _, err := os.Stat(filepath.Join(victim, "sub")); err == nil {
		t.Error("a directory was made through the link")
	}
}

func TestOwnedDirCreates(t *testing.T) {
	asRoot(t)
	base := t.TempDir()
	dir := filepath.Join(base, "a", "b", "run")
	if err := ownedDir(dir, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	if uid, gid := owner(t, dir); uid != nobody || gid != nobody {
		t.Errorf("%s belongs to %d:%d", dir, uid, gid)
	}
	if uid, _ := owner(t, filepath.Join(base, "a")); uid != 0 {
		t.Error("a parent was given away")
	}
	if err := ownedDir(dir, nobody, nobody); err != nil {
		t.Errorf("second run: %v", err)
	}
	file := filepath.Join(base, "file")
	os.WriteFile(file, nil, 0o644)
	if err := ownedDir(file, nobody, nobody); err == nil {
		t.Error("a file was taken for a directory")
	}
	if uid, _ := owner(t, file); uid != 0 {
		t.Error("a file was given away")
	}
}
