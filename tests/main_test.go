// Package tests holds gocf's real-component tests: agents run as Pacemaker
// would run them, against the real kernel, ocf-tester and validators.
package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/gocf/gocf/tests/lab"
)

// binDir holds the agents built for this test run.
var binDir string

func TestMain(m *testing.M) {
	lab.ServeHolder()
	dir, err := lab.BuildAgents()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func agentBin(name string) string { return filepath.Join(binDir, name) }
