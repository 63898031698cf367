package tokenizer

import (
	"sync"
	"unicode"
)

// Code point classes as llama.cpp's unicode tables define them: one general
// category per code point (unassigned code points are "undefined"), plus a
// separate White_Space property. The pre-tokenizers split text by these
// classes, so they must match llama.cpp's, not Go's regexp notion of \s.
const (
	catNone      uint8 = iota // past the end of the piece: llama.cpp's all-zero flags
	catUndefined              // Cn, and anything above U+10FFFF
	catNumber                 // N*
	catLetter                 // L*
	catSeparator              // Z*
	catMark                   // M*
	catPunct                  // P*
	catSymbol                 // S*
	catControl                // Cc, Cf, Co, Cs
)

const maxCodePoint = 0x10FFFF

var (
	catOnce  sync.Once
	catTable []uint8 // catTable[cp] for every code point up to maxCodePoint
)

// buildCategories fills catTable from Go's Unicode tables (Unicode 15.0;
// llama.cpp generated its table from UnicodeData.txt of about the same
// version, so assigned code points agree).
func buildCategories() {
	t := make([]uint8, maxCodePoint+1)
	for i := range t {
		t[i] = catUndefined
	}
	fill := func(rt *unicode.RangeTable, c uint8) {
		for _, r := range rt.R16 {
			for cp := uint32(r.Lo); cp <= uint32(r.Hi); cp += uint32(r.Stride) {
				t[cp] = c
			}
		}
		for _, r := range rt.R32 {
			for cp := r.Lo; cp <= r.Hi; cp += r.Stride {
				t[cp] = c
			}
		}
	}
	// Go's unicode.C also covers unassigned code points; llama.cpp's
	// control class is only these four.
	for _, rt := range []*unicode.RangeTable{unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs} {
		fill(rt, catControl)
	}
	fill(unicode.Z, catSeparator)
	fill(unicode.S, catSymbol)
	fill(unicode.P, catPunct)
	fill(unicode.M, catMark)
	fill(unicode.L, catLetter)
	fill(unicode.N, catNumber)
	catTable = t
}

// category returns the llama.cpp category of cp.
func category(cp rune) uint8 {
	if cp < 0 || cp > maxCodePoint {
		return catUndefined
	}
	if cp < 0x80 {
		return asciiCat[cp]
	}
	catOnce.Do(buildCategories)
	return catTable[cp]
}

// asciiCat avoids the table build for pure-ASCII text.
var asciiCat = func() [128]uint8 {
	var t [128]uint8
	for c := 0; c < 128; c++ {
		r := rune(c)
		switch {
		case r < 0x20 || r == 0x7F:
			t[c] = catControl
		case r == ' ':
			t[c] = catSeparator
		case r >= '0' && r <= '9':
			t[c] = catNumber
		case r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
			t[c] = catLetter
		case unicode.IsPunct(r):
			t[c] = catPunct
		default:
			t[c] = catSymbol // $ + < = > ^ ` | ~
		}
	}
	return t
}()

// isSpace reports the Unicode White_Space property, the set llama.cpp uses
// for its is_whitespace flag.
func isSpace(cp rune) bool {
	switch {
	case cp >= 0x09 && cp <= 0x0D, cp == 0x20:
		return true
	case cp < 0x85:
		return false
	case cp == 0x85, cp == 0xA0, cp == 0x1680,
		cp >= 0x2000 && cp <= 0x200A,
		cp == 0x2028, cp == 0x2029, cp == 0x202F, cp == 0x205F, cp == 0x3000:
		return true
	}
	return false
}

// utf8Len is llama.cpp's unicode_len_utf8: the sequence length announced by
// a lead byte, judged by its high nibble only. Continuation bytes count as 1.
func utf8Len(b byte) int {
	switch b >> 4 {
	case 0xC, 0xD:
		return 2
	case 0xE:
		return 3
	case 0xF:
		return 4
	}
	return 1
}

// decodeCodePoints splits s into code points the way llama.cpp's
// unicode_cpts_from_utf8 does: the lead byte sets the length, continuation
// bytes must be 10xxxxxx, and overlong forms and surrogates are accepted as
// they decode. A byte that does not start a well-formed sequence becomes
// U+FFFD and decoding resumes at the next byte. A well-formed sequence
// for a value above U+10FFFF (lead bytes F4 90.. to F7), which llama.cpp
// cannot re-encode and rejects with an exception, becomes one U+FFFD here.
func decodeCodePoints(s string, out []rune) []rune {
	out = out[:0]
	for i := 0; i < len(s); {
		b := s[i]
		if b < 0x80 {
			out = append(out, rune(b))
			i++
			continue
		}
		n := 0
		var cp rune
		switch {
		case b&0x40 == 0: // stray continuation byte
		case b&0x20 == 0:
			n, cp = 2, rune(b&0x1F)
		case b&0x10 == 0:
			n, cp = 3, rune(b&0x0F)
		case b&0x08 == 0:
			n, cp = 4, rune(b&0x07)
		}
		ok := n > 0 && i+n <= len(s)
		for k := 1; ok && k < n; k++ {
			c := s[i+k]
			if c&0xC0 != 0x80 {
				ok = false
				break
			}
			cp = cp<<6 | rune(c&0x3F)
		}
		if !ok {
			out = append(out, 0xFFFD)
			i++
			continue
		}
		if cp > maxCodePoint {
			cp = 0xFFFD
		}
		out = append(out, cp)
		i += n
	}
	return out
}

// appendCodePoint appends the UTF-8 form of cp as llama.cpp's
// unicode_cpt_to_utf8 writes it: by value range only, so surrogates
// round-trip as the three bytes they came from.
func appendCodePoint(b []byte, cp rune) []byte {
	switch {
	case cp < 0x80:
		return append(b, byte(cp))
	case cp < 0x800:
		return append(b, 0xC0|byte(cp>>6), 0x80|byte(cp&0x3F))
	case cp < 0x10000:
		return append(b, 0xE0|byte(cp>>12), 0x80|byte(cp>>6&0x3F), 0x80|byte(cp&0x3F))
	default:
		return append(b, 0xF0|byte(cp>>18), 0x80|byte(cp>>12&0x3F), 0x80|byte(cp>>6&0x3F), 0x80|byte(cp&0x3F))
	}
}
