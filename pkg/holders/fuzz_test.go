package holders

import (
	"strconv"
	"strings"
	"testing"
)

// FuzzParseSignals: term_signals and kill_signals come from the CIB. What
// is accepted is a real signal and reads back the same by number.
func FuzzParseSignals(f *testing.F) {
	for _, s := range []string{"TERM", "term,kill", "SIGTERM 9", "15,\tHUP", "0", "65", "-1", "SIGFOO", "", ",,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sigs, err := ParseSignals(s)
		if err != nil {
			return
		}
		var nums []string
		for _, sig := range sigs {
			if sig <= 0 || sig > 64 {
				t.Fatalf("%q gave signal %d", s, sig)
			}
			nums = append(nums, strconv.Itoa(int(sig)))
		}
		again, err := ParseSignals(strings.Join(nums, ","))
		if err != nil || len(again) != len(sigs) {
			t.Fatalf("%q -> %v -> %v %v", s, sigs, again, err)
		}
		for i := range sigs {
			if again[i] != sigs[i] {
				t.Fatalf("%q -> %v -> %v", s, sigs, again)
			}
		}
	})
}
