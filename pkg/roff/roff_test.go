package roff

import (
	"strings"
	"testing"
)

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{".hidden": `\&.hidden`, "'q": `\&'q`, `a\b-c`: `a\eb\-c`, "plain": "plain"} {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParagraphs(t *testing.T) {
	var b strings.Builder
	Paragraphs(&b, "  one\n  .two\n\nthree-four\n")
	if got, want := b.String(), "one\n\\&.two\n.PP\nthree\\-four\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
