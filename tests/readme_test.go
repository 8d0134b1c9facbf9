package tests

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gocf/gocf/pkg/catalog"
	"github.com/gocf/gocf/tests/lab"
)

var update = flag.Bool("update", false, "rewrite the generated sections of README.md")

// TestReadmeParameters keeps README.md's parameter tables equal to what the
// agents declare; `make docs` rewrites them.
func TestReadmeParameters(t *testing.T) {
	path := filepath.Join(lab.RepoRoot(), "README.md")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, a := range catalog.Agents() {
		begin := "<!-- generated: parameters of " + a.Name + " -->\n"
		end := "<!-- end of generated parameters -->"
		i := strings.Index(readme, begin)
		j := strings.Index(readme[i+len(begin):], end)
		if i < 0 || j < 0 {
			t.Errorf("README.md has no section %q ... %q", begin, end)
			continue
		}
		j += i + len(begin)
		want := a.MarkdownParams()
		if readme[i+len(begin):j] != want {
			if !*update {
				t.Errorf("README.md parameters of %s are stale: run make docs", a.Name)
			}
			readme = readme[:i+len(begin)] + want + readme[j:]
		}
	}
	if *update {
		if err := os.WriteFile(path, []byte(readme), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
