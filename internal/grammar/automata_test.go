package grammar

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// spell writes s as JSON string content with the spellings the pattern
// automata use: escapes for '"', '\\', control characters and DEL (short
// forms where JSON has them), everything else as is.
func spell(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20 || r == 0x7F:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func runDFA(d *dfa, s string) bool {
	st := int32(0)
	for i := 0; i < len(s); i++ {
		if st = d.step(st, s[i]); st < 0 {
			return false
		}
	}
	return d.accept[st]
}

// TestPatternsAgainstRegexp compares pattern automata with Go's regexp on
// random strings, for patterns where ECMA-262 and RE2 agree.
func TestPatternsAgainstRegexp(t *testing.T) {
	// Go's syntax for the few escapes RE2 spells differently.
	goSyntax := map[string]string{
		`^\x41\u0042$`: `^\x41\x{0042}$`,
		`^\t\n\f\v\0$`: `^\t\n\f\v\x00$`,
	}
	patterns := []struct{ pat, alphabet string }{
		{`^[a-z]+$`, "abzA0 é"},
		{`ab`, "abc"},
		{`^a|b$`, "abc"},
		{`^(ab|cd)*$`, "abcd"},
		{`^a{2,3}$`, "ab"},
		{`^a{2,}b?$`, "ab"},
		{`^[^a]*$`, "ab\n\"é"},
		{`^\d+(\.\d+)?$`, "012.a"},
		{`^.$`, "a\né😀\t"},
		{`x?y+z*`, "xyz"},
		{`^(?:a|)b$`, "ab"},
		{`[\w-]+@`, "a_-@ ."},
		{`^\x41\u0042$`, "ABC"},
		{`^[\]\-]+$`, "]-a"},
		{`^$`, "a"},
		{`(?<name>ab)c`, "abc"},
		{`^[a-c\d]{2}$`, "ad1"},
		{`^"\\$`, "\"\\a"},
		{`^[\s\S]{3}$`, "a \n"},
		{`^\t\n\f\v\0$`, "\t\n\f\v\x00a"},
		{`^[^\x00-\x7f]+$`, "aé😀"},
		{`^(a|b)*?c+?$`, "abc"},
		{`^\W\D\S$`, "a 1_"},
		{`^[a-]$`, "a-b"},
		{`\.\*\+\?\(\)\[\]\{\}\|\^\$\/`, `.*+?()[]{}|^$/a`},
		{`^(((a)))$`, "a"},
	}
	rng := rand.New(rand.NewPCG(11, 12))
	for _, tc := range patterns {
		content, err := regexTable(tc.pat)
		if err != nil {
			t.Fatalf("%q: %v", tc.pat, err)
		}
		d, err := content.compileKeep()
		if err != nil {
			t.Fatalf("%q: %v", tc.pat, err)
		}
		goPat := tc.pat
		if p, ok := goSyntax[tc.pat]; ok {
			goPat = p
		}
		re := regexp.MustCompile(goPat)
		alpha := []rune(tc.alphabet)
		matched := 0
		for k := 0; k < 3000; k++ {
			var b strings.Builder
			n := rng.IntN(7)
			for i := 0; i < n; i++ {
				b.WriteRune(alpha[rng.IntN(len(alpha))])
			}
			s := b.String()
			want := re.MatchString(s)
			if got := runDFA(d, spell(s)); got != want {
				t.Fatalf("pattern %q on %q (spelled %q): automaton %v, regexp %v", tc.pat, s, spell(s), got, want)
			}
			if want {
				matched++
			}
		}
		if matched == 0 && tc.pat != `^$` {
			t.Logf("pattern %q: no random string matched", tc.pat)
		}
	}
}

func TestFormats(t *testing.T) {
	cases := map[string]struct{ good, bad []string }{
		"date": {
			[]string{"2024-02-29", "2000-02-29", "1999-12-31", "0000-02-29", "2023-11-30", "2023-01-31"},
			[]string{"2023-02-29", "1900-02-29", "2100-02-29", "2024-13-01", "2024-00-10", "2024-04-31", "2024-1-01", "20240101", "2024-02-30"},
		},
		"time": {
			[]string{"00:00:00Z", "23:59:59+14:00", "12:30:45.123-05:30", "08:09:10.999999999Z"},
			[]string{"24:00:00Z", "12:60:00Z", "12:00:60Z", "12:00:00", "12:00Z", "12:00:00.Z", "12:00:00+5:00"},
		},
		"date-time": {
			[]string{"2024-02-29T23:59:59.5Z", "1970-01-01T00:00:00+00:00"},
			[]string{"2024-02-29 23:59:59Z", "2023-02-29T00:00:00Z", "2024-01-01T00:00:00", "2024-01-01t00:00:00Z"},
		},
		"uuid": {
			[]string{"123e4567-e89b-12d3-a456-426614174000", "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF"},
			[]string{"123e4567e89b12d3a456426614174000", "123e4567-e89b-12d3-a456-42661417400g", "{123e4567-e89b-12d3-a456-426614174000}"},
		},
		"email": {
			[]string{"a@b.co", "first.last+tag@sub.example.org", "x_y%z@a-b.c"},
			[]string{"a@b", "@b.co", "a@.co", "a..b@c.d", "a b@c.d", "a@b_c.d", ".a@b.c"},
		},
		"ipv4": {
			[]string{"0.0.0.0", "255.255.255.255", "192.168.1.10"},
			[]string{"256.0.0.1", "01.2.3.4", "1.2.3", "1.2.3.4.5", "a.b.c.d"},
		},
		"hostname": {
			[]string{"localhost", "a-b.example", "x1.y2.z3"},
			[]string{"-a.com", "a-.com", "a..b", "a_b.com", strings.Repeat("a", 64) + ".com"},
		},
	}
	for name, tc := range cases {
		content, ok, err := formatTable(name)
		if !ok || err != nil {
			t.Fatalf("format %s: %v %v", name, ok, err)
		}
		d, err := content.compileKeep()
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range tc.good {
			if !runDFA(d, s) {
				t.Errorf("format %s refuses %q", name, s)
			}
			if err := checkFormat(name, s); err != nil {
				t.Errorf("validator disagrees on good %s %q: %v", name, s, err)
			}
		}
		for _, s := range tc.bad {
			if runDFA(d, s) {
				t.Errorf("format %s accepts %q", name, s)
			}
		}
	}
}

// TestBoundedNumbers runs number frames over many texts and compares with
// exact arithmetic: a text is taken in full iff it is a JSON number of the
// right kind inside the bounds, and every prefix of a taken text is
// feasible.
func TestBoundedNumbers(t *testing.T) {
	type bounds struct {
		integer        bool
		lo, hi         string
		loExcl, hiExcl bool
		hasLo, hasHi   bool
	}
	cases := []bounds{
		{integer: true, lo: "-40", hi: "40", hasLo: true, hasHi: true},
		{integer: true, lo: "7", hi: "7", hasLo: true, hasHi: true},
		{integer: true, lo: "100", hasLo: true},
		{integer: true, hi: "-3", hiExcl: true, hasHi: true},
		{integer: true, lo: "-1.5", hi: "2.5", hasLo: true, hasHi: true},
		{lo: "0", hi: "1", hasLo: true, hasHi: true},
		{lo: "0.25", hi: "0.5", loExcl: true, hiExcl: true, hasLo: true, hasHi: true},
		{lo: "-273.15", loExcl: true, hasLo: true},
		{hi: "-0.5", hasHi: true},
		{lo: "-10", hi: "-9.999", hasLo: true, hasHi: true},
	}
	rng := rand.New(rand.NewPCG(21, 22))
	var texts []string
	for i := -300; i <= 300; i++ {
		texts = append(texts, strconv.Itoa(i))
	}
	texts = append(texts, "-0", "00", "01", "-01", "1.", ".5", "-", "1e2", "0.0", "-0.0", "7.0", "+1")
	for k := 0; k < 4000; k++ {
		var b strings.Builder
		if rng.IntN(3) == 0 {
			b.WriteByte('-')
		}
		b.WriteString(strconv.Itoa(rng.IntN(1000)))
		if rng.IntN(2) == 0 {
			b.WriteByte('.')
			for j := rng.IntN(5) + 1; j > 0; j-- {
				b.WriteByte(byte('0' + rng.IntN(10)))
			}
		}
		texts = append(texts, b.String())
	}
	numRe := regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?$`)
	for _, bc := range cases {
		var lo, hi *big.Rat
		if bc.hasLo {
			lo, _ = new(big.Rat).SetString(bc.lo)
		}
		if bc.hasHi {
			hi, _ = new(big.Rat).SetString(bc.hi)
		}
		n, err := newNumInfo(bc.integer, lo, hi, bc.loExcl, bc.hiExcl)
		if err != nil {
			t.Fatalf("%+v: %v", bc, err)
		}
		for _, text := range texts {
			f := frame{}
			ok := true
			for i := 0; i < len(text) && ok; i++ {
				f, ok = n.step(f, text[i])
			}
			got := ok && n.canEnd(f)
			want := numRe.MatchString(text)
			if want && bc.integer && strings.Contains(text, ".") {
				want = false
			}
			if want {
				v, _ := new(big.Rat).SetString(text)
				if lo != nil && (v.Cmp(lo) < 0 || (bc.loExcl && v.Cmp(lo) == 0)) {
					want = false
				}
				if hi != nil && (v.Cmp(hi) > 0 || (bc.hiExcl && v.Cmp(hi) == 0)) {
					want = false
				}
			}
			if got != want {
				t.Fatalf("%+v: %q taken %v, want %v", bc, text, got, want)
			}
		}
		// Every state reached is feasible: it finishes by the witness walk.
		for _, text := range texts {
			f := frame{}
			for i := 0; i < len(text); i++ {
				g, ok := n.step(f, text[i])
				if !ok {
					break
				}
				f = g
				if _, ok := numWitness(n, f); !ok {
					t.Fatalf("%+v: prefix %q is a dead end", bc, text[:i+1])
				}
			}
		}
	}
}
