package tokenizer

import "unicode/utf8"

// Decode turns token ids back into text: llama.cpp's llama_detokenize with
// remove_special=false and unparse_special=false, but without its
// clean_up_tokenization_spaces pass (see Detokenize), so that decoding is
// lossless and equals the concatenation of the streamed pieces.
//
// Control and unknown tokens render as nothing; user-defined tokens as their
// text. When the vocabulary adds a space prefix on encoding (SPM), one
// leading space is dropped from the first token's text, as llama.cpp does;
// if the first token renders as nothing (a BOS, say), nothing is dropped.
// Out-of-range ids render as nothing. The result is the exact bytes of the
// tokens and may be invalid UTF-8 when the ids end inside a character.
func (t *Tokenizer) Decode(ids []int32) string {
	var b []byte
	for i, id := range ids {
		b = append(b, t.piece(id, i == 0 && t.addSpacePrefix, false)...)
	}
	return string(b)
}

// Detokenize is llama.cpp's llama_detokenize in full. removeSpecial drops a
// leading BOS and a trailing EOS when the vocabulary adds them;
// unparseSpecial renders control tokens as their text. For vocabularies with
// clean_up_tokenization_spaces (GPT-2 style BPE, llama3, falcon, ...) the
// result then goes through llama.cpp's three clean-up passes: a space before
// ? ! . , is removed, " ' " becomes "'", and the space before 's 'm 're 've
// is removed. The clean-up loses information; use Decode to get the text
// back exactly.
func (t *Tokenizer) Detokenize(ids []int32, removeSpecial, unparseSpecial bool) string {
	removeSpace := t.addSpacePrefix
	if removeSpecial && t.addBOS && len(ids) > 0 && ids[0] == t.bos {
		removeSpace = false
		ids = ids[1:]
	}
	if removeSpecial && t.addEOS && len(ids) > 0 && ids[len(ids)-1] == t.eos {
		ids = ids[:len(ids)-1]
	}
	var b []byte
	for _, id := range ids {
		b = append(b, t.piece(id, removeSpace, unparseSpecial)...)
		removeSpace = false
	}
	if t.cleanSpaces {
		b = cleanSpaces(b)
	}
	return string(b)
}

// cleanSpaces applies llama.cpp's three clean-up passes in place.
func cleanSpaces(text []byte) []byte {
	// Pass 1: " ?", " !", " .", " ," lose the space.
	n := len(text)
	total := 0
	if n > 0 {
		total = 1
	}
	for i := 1; i < n; i++ {
		x := text[i]
		if text[i-1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',') {
			total--
		}
		text[total] = x
		total++
	}
	text = text[:total]

	// Pass 2: " ' " becomes "'".
	n = len(text)
	total = 0
	if n > 0 {
		total = 1
	}
	for i := 1; i < n; i++ {
		x := text[i]
		if x == '\'' && i+1 < n && text[i-1] == ' ' && text[i+1] == ' ' {
			total--
			i++
			text[i] = 0 // llama.cpp overwrites the skipped space with NUL
		}
		text[total] = x
		total++
	}
	text = text[:total]

	// Pass 3: " 's", " 'm", " 're", " 've" lose the space.
	n = len(text)
	total = 0
	if n > 0 {
		total = 1
	}
	for i := 1; i < n; i++ {
		x := text[i]
		if text[i-1] == ' ' && x == '\'' && i+1 < n {
			x1 := text[i+1]
			switch {
			case x1 == 't' || x1 == 'd':
			case x1 == 's' || x1 == 'm':
				total--
			case i+2 < n:
				x2 := text[i+2]
				if (x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e') {
					total--
				}
			}
		}
		text[total] = x
		total++
	}
	return text[:total]
}

// StreamDecoder decodes generated tokens one at a time. It holds back the
// bytes of a UTF-8 character until the character is complete, so each
// returned string ends on a character boundary. Bytes that cannot become a
// valid character (a stray continuation byte, a lead byte followed by a
// non-continuation byte, an encoded surrogate) are passed through raw as soon
// as that is certain, so the concatenation of everything Add and Flush
// return is byte for byte what Decode returns for the same ids. A caller
// that needs valid UTF-8 can apply strings.ToValidUTF8 to the pieces.
type StreamDecoder struct {
	t       *Tokenizer
	first   bool // the next token is the first: strip as Decode does
	pending []byte
}

// NewStreamDecoder returns a decoder whose total output equals Decode of
// the ids fed to it, including Decode's handling of the first token.
func (t *Tokenizer) NewStreamDecoder() *StreamDecoder {
	return &StreamDecoder{t: t, first: true}
}

// NewContinuationDecoder returns a decoder for tokens that continue earlier
// text (a reply after a prompt): no leading space is dropped from its first
// token.
func (t *Tokenizer) NewContinuationDecoder() *StreamDecoder {
	return &StreamDecoder{t: t}
}

// Add decodes one more token and returns the text that is now complete.
func (d *StreamDecoder) Add(id int32) string {
	d.pending = append(d.pending, d.t.piece(id, d.first && d.t.addSpacePrefix, false)...)
	d.first = false
	n := completePrefix(d.pending)
	if n == 0 {
		return ""
	}
	out := string(d.pending[:n])
	d.pending = append(d.pending[:0], d.pending[n:]...)
	return out
}

// Flush returns whatever is held back (an incomplete character at the end
// of the stream) and resets the decoder's buffer.
func (d *StreamDecoder) Flush() string {
	out := string(d.pending)
	d.pending = d.pending[:0]
	return out
}

// completePrefix returns the length of the longest prefix of b that does
// not end inside a UTF-8 sequence that could still be completed.
func completePrefix(b []byte) int {
	n := len(b)
	i := n - 1
	for i >= 0 && i >= n-3 && b[i]&0xC0 == 0x80 {
		i--
	}
	if i < 0 || b[i] < 0xC0 {
		return n // ends in ASCII or in continuation bytes with no lead in reach
	}
	if utf8.FullRune(b[i:]) {
		return n // a complete character, or an invalid sequence: release it
	}
	return i
}
