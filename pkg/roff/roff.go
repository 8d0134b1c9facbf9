// Package roff writes the bits of man(7) markup the manual pages share.
package roff

import "strings"

// Escape makes s safe as one roff text line: backslashes and hyphens
// escaped, and a leading dot or quote that would read as a request
// neutralised.
func Escape(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

// Paragraphs writes text, blank lines starting new paragraphs (.PP).
func Paragraphs(b *strings.Builder, text string) {
	for i, para := range strings.Split(strings.TrimSpace(text), "\n\n") {
		if i > 0 {
			b.WriteString(".PP\n")
		}
		for _, line := range strings.Split(para, "\n") {
			if line = strings.TrimSpace(line); line != "" {
				b.WriteString(Escape(line) + "\n")
			}
		}
	}
}
