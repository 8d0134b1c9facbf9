// Package ocftest holds the checks every agent's unit tests run on its
// declaration: it is consistent, and its meta-data for OCF 1.0 and 1.1
// callers matches the golden files under testdata/.
package ocftest

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/gocf/gocf/pkg/ocf"
)

// Declaration runs SelfCheck and compares the meta-data with
// testdata/<name>-1.0.xml and -1.1.xml, rewriting them when update is set.
func Declaration(t *testing.T, a *ocf.Agent, update bool) {
	t.Helper()
	if err := a.SelfCheck(); err != nil {
		t.Fatal(err)
	}
	a.Version = "test" // the stamped version must not churn the golden files
	for _, v := range []ocf.Version{{Major: 1, Minor: 0}, {Major: 1, Minor: 1}} {
		got := a.MetaData(v)
		path := filepath.Join("testdata", a.Name+"-"+v.String()+".xml")
		if update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if want, err := os.ReadFile(path); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s differs (go test -update, then review):\n%s", path, got)
		}
	}
}
