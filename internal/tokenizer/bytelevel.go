package tokenizer

// GPT-2's byte-level alphabet: every byte maps to one printable code point.
// The printable Latin-1 bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') map to
// themselves; the other 68 bytes map, in byte order, to U+0100, U+0101, ...
// Byte-level BPE vocabularies store their tokens in this alphabet, so a space
// is 'Ġ' (U+0120) and a newline 'Ċ' (U+010A).
var (
	byteToRune [256]rune
	byteToUTF8 [256]string
	runeToByte map[rune]byte
)

func init() {
	runeToByte = make(map[rune]byte, 256)
	next := rune(256)
	for b := 0; b < 256; b++ {
		r := rune(b)
		printable := (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)
		if !printable {
			r = next
			next++
		}
		byteToRune[b] = r
		byteToUTF8[b] = string(r)
		runeToByte[r] = byte(b)
	}
}

// appendByteLevel appends the byte-level form of raw.
func appendByteLevel(dst []byte, raw []byte) []byte {
	for _, b := range raw {
		dst = append(dst, byteToUTF8[b]...)
	}
	return dst
}

// ByteLevelEncode returns raw bytes written in GPT-2's byte-level alphabet,
// the form in which byte-level BPE vocabularies store tokens.
func ByteLevelEncode(raw []byte) string {
	return string(appendByteLevel(make([]byte, 0, 2*len(raw)), raw))
}

// appendByteLevelDecode is llama.cpp's llama_decode_text: it maps each code
// point of a byte-level token back to its byte. A code point outside the
// alphabet is written as "[UNK_BYTE_0x<hex of its UTF-8>" + the whole token
// text + "]", which is what llama.cpp emits (it never happens for a
// well-formed vocabulary).
func appendByteLevelDecode(dst []byte, text string) []byte {
	var cps []rune
	cps = decodeCodePoints(text, cps)
	for _, cp := range cps {
		if b, ok := runeToByte[cp]; ok {
			dst = append(dst, b)
			continue
		}
		var u [4]byte
		enc := appendCodePoint(u[:0], cp)
		dst = append(dst, "[UNK_BYTE_0x"...)
		for _, c := range enc {
			const hex = "0123456789abcdef"
			dst = append(dst, hex[c>>4], hex[c&15])
		}
		dst = append(dst, text...)
		dst = append(dst, ']')
	}
	return dst
}
