package tokenizer

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// encodeWPM appends the WordPiece tokens of text. The text is cut into
// words as llama.cpp does for BERT vocabularies: each code point is reduced
// to the first code point of its canonical decomposition (so accents are
// dropped: "café" → "cafe") and lower-cased; white space separates words;
// control characters are dropped; punctuation, ASCII symbols and CJK
// ideographs are words of their own. Each word is then split greedily,
// longest match first: the first piece is looked up with the U+2581 prefix,
// later ones without. A word that cannot be split completely becomes the
// unknown token.
func (t *Tokenizer) encodeWPM(text string, out []int32) []int32 {
	for _, w := range wpmWords(text) {
		word := "\u2581" + w
		start := len(out)
		ok := true
		for i := 0; i < len(word); {
			matched := false
			for j := len(word); j > i; j-- {
				if id, found := t.toID[word[i:j]]; found {
					out = append(out, id)
					i = j
					matched = true
					break
				}
			}
			if !matched {
				ok = false
				break
			}
		}
		if !ok {
			out = out[:start]
			if t.unk != NoToken {
				out = append(out, t.unk)
			}
		}
	}
	return out
}

// wpmWords splits and normalises text into the words WordPiece sees.
func wpmWords(text string) []string {
	var words []string
	var cur strings.Builder
	flush := func() {
		if cur.Len() > 0 {
			words = append(words, cur.String())
			cur.Reset()
		}
	}
	for _, r := range text {
		r = baseRune(r)
		switch {
		case isWhiteSpace(r):
			flush()
			continue
		case r == 0 || r == utf8.RuneError || unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r):
			continue
		}
		lower := unicode.ToLower(r)
		if unicode.IsPunct(r) || (r < 0x7F && unicode.IsSymbol(r)) || isCJK(r) {
			flush()
			words = append(words, string(lower))
			continue
		}
		cur.WriteRune(lower)
	}
	flush()
	return words
}

// baseRune returns the first code point of r's canonical decomposition.
func baseRune(r rune) rune {
	if r < 0xC0 {
		return r
	}
	var buf [utf8.UTFMax]byte
	n := utf8.EncodeRune(buf[:], r)
	d := norm.NFD.Bytes(buf[:n])
	first, _ := utf8.DecodeRune(d)
	return first
}

// isWhiteSpace is the White_Space property llama.cpp's tables use.
func isWhiteSpace(r rune) bool {
	return unicode.Is(unicode.White_Space, r)
}

// isCJK reports the CJK ideograph blocks BERT's basic tokenizer splits on.
func isCJK(r rune) bool {
	return r >= 0x4E00 && r <= 0x9FFF || r >= 0x3400 && r <= 0x4DBF || r >= 0x20000 && r <= 0x2A6DF ||
		r >= 0x2A700 && r <= 0x2B73F || r >= 0x2B740 && r <= 0x2B81F || r >= 0x2B820 && r <= 0x2CEAF ||
		r >= 0xF900 && r <= 0xFAFF || r >= 0x2F800 && r <= 0x2FA1F
}
