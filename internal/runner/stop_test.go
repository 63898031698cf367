package runner

import (
	"strings"
	"testing"
)

// TestStopWriter feeds text in every possible split and checks the emitted
// text is cut exactly before the first stop sequence, and that text that
// only looked like the start of a stop sequence is released in the end.
func TestStopWriter(t *testing.T) {
	cases := []struct {
		text  string
		stops []string
		want  string
		stop  bool
	}{
		{"Hello world. The end", nil, "Hello world. The end", false},
		{"Hello world. The end", []string{"world"}, "Hello ", true},
		{"Hello world. The end", []string{"The", "world"}, "Hello ", true},
		{"Hello world. The end", []string{"xyz"}, "Hello world. The end", false},
		{"a<|im_end|>b", []string{"<|im_end|>"}, "a", true},
		{"ends with partial <|im", []string{"<|im_end|>"}, "ends with partial <|im", false},
		{"stop at start", []string{"stop"}, "", true},
		{"abab", []string{"bab"}, "a", true},
		{"héllo wörld", []string{"wö"}, "héllo ", true},
	}
	for _, c := range cases {
		for split := 1; split <= len(c.text); split++ {
			var got strings.Builder
			w := newStopWriter(c.stops, func(s string) error {
				if s == "" {
					t.Errorf("emitted an empty string")
				}
				got.WriteString(s)
				return nil
			})
			stopped := false
			for i := 0; i < len(c.text) && !stopped; i += split {
				var err error
				stopped, err = w.write(c.text[i:min(i+split, len(c.text))])
				if err != nil {
					t.Fatal(err)
				}
			}
			if !stopped {
				if err := w.flush(); err != nil {
					t.Fatal(err)
				}
			}
			if got.String() != c.want || stopped != c.stop {
				t.Errorf("%q stops %q split %d: got %q stopped=%v, want %q stopped=%v", c.text, c.stops, split, got.String(), stopped, c.want, c.stop)
			}
		}
	}
}
