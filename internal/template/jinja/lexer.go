package jinja

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// tokenKind classifies lexer output. Data tokens carry template text that is
// copied to the output; the others are the pieces of {{ }} and {% %} tags.
type tokenKind int

const (
	tData tokenKind = iota
	tVarBegin
	tVarEnd
	tBlockBegin
	tBlockEnd
	tName
	tString
	tInt
	tFloat
	tOp
	tEOF
)

func (k tokenKind) String() string {
	switch k {
	case tData:
		return "template data"
	case tVarBegin:
		return "begin of print statement"
	case tVarEnd:
		return "end of print statement"
	case tBlockBegin:
		return "begin of statement block"
	case tBlockEnd:
		return "end of statement block"
	case tName:
		return "name"
	case tString:
		return "string"
	case tInt:
		return "integer"
	case tFloat:
		return "float"
	case tOp:
		return "operator"
	case tEOF:
		return "end of template"
	}
	return "token"
}

type token struct {
	kind tokenKind
	val  string // data text, name, operator, or decoded string literal
	ival int64
	fval float64
	line int
}

func (t token) describe() string {
	switch t.kind {
	case tName, tOp:
		return "'" + t.val + "'"
	case tString:
		return "string"
	case tInt, tFloat:
		return t.kind.String()
	}
	return t.kind.String()
}

// Options are the jinja2 Environment settings that change how text is lexed.
// The zero value is jinja2's default environment; TransformersOptions is the
// one Hugging Face chat templates are written for.
type Options struct {
	TrimBlocks          bool // drop the first newline after a block or comment tag
	LstripBlocks        bool // drop spaces and tabs before a block or comment tag on its line
	KeepTrailingNewline bool // keep a single newline at the very end of the source
}

// TransformersOptions is the environment of transformers' apply_chat_template:
// trim_blocks and lstrip_blocks on, everything else at jinja2's defaults.
var TransformersOptions = Options{TrimBlocks: true, LstripBlocks: true}

// normalizeSource converts every newline sequence to "\n" and, unless asked
// to keep it, drops one trailing newline, as jinja2's lexer does.
func normalizeSource(src string, keepTrailing bool) string {
	if strings.ContainsRune(src, '\r') {
		src = strings.ReplaceAll(src, "\r\n", "\n")
		src = strings.ReplaceAll(src, "\r", "\n")
	}
	if !keepTrailing && strings.HasSuffix(src, "\n") {
		src = src[:len(src)-1]
	}
	return src
}

// isPySpace reports whether Python's str.isspace / re's \s would accept r.
func isPySpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

func allPySpace(s string) bool {
	for _, r := range s {
		if !isPySpace(r) {
			return false
		}
	}
	return true
}

type lexer struct {
	src          string
	pos          int
	line         int
	opts         Options
	toks         []token
	lineStarting bool
	balance      []byte
}

// lex splits normalized template source into tokens.
func lex(src string, opts Options) ([]token, error) {
	lx := &lexer{src: src, line: 1, opts: opts, lineStarting: true}
	if err := lx.run(); err != nil {
		return nil, err
	}
	lx.toks = append(lx.toks, token{kind: tEOF, line: lx.line})
	return lx.toks, nil
}

func (lx *lexer) errorf(line int, format string, args ...any) error {
	return &Error{Kind: SyntaxError, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// advance moves pos to p, counting newlines.
func (lx *lexer) advance(p int) {
	lx.line += strings.Count(lx.src[lx.pos:p], "\n")
	lx.pos = p
}

func (lx *lexer) emitData(text string, line int) {
	if text != "" {
		lx.toks = append(lx.toks, token{kind: tData, val: text, line: line})
	}
}

// stripBefore applies "-" whitespace control and lstrip_blocks to the text
// that precedes a tag.
func (lx *lexer) stripBefore(text string, sign byte, isVar bool) string {
	if sign == '-' {
		return strings.TrimRightFunc(text, isPySpace)
	}
	if sign != '+' && lx.opts.LstripBlocks && !isVar {
		lpos := strings.LastIndexByte(text, '\n') + 1
		if lpos > 0 || lx.lineStarting {
			if rest := text[lpos:]; rest != "" && allPySpace(rest) {
				return text[:lpos]
			}
		}
	}
	return text
}

// skipSpaceAt returns the index after any whitespace starting at p.
func (lx *lexer) skipSpaceAt(p int) int {
	for p < len(lx.src) {
		r, n := utf8.DecodeRuneInString(lx.src[p:])
		if !isPySpace(r) {
			break
		}
		p += n
	}
	return p
}

// matchRaw reports whether a {% raw %} tag starts at p and returns the
// index just after it.
func (lx *lexer) matchRaw(p int) (int, byte, bool) {
	s := lx.src
	q := p + 2
	var sign byte
	if q < len(s) && (s[q] == '-' || s[q] == '+') {
		sign = s[q]
		q++
	}
	q = lx.skipSpaceAt(q)
	if !strings.HasPrefix(s[q:], "raw") {
		return 0, 0, false
	}
	q += 3
	q = lx.skipSpaceAt(q)
	if strings.HasPrefix(s[q:], "-%}") {
		return lx.skipSpaceAt(q + 3), sign, true
	}
	if strings.HasPrefix(s[q:], "%}") {
		return q + 2, sign, true
	}
	return 0, 0, false
}

func (lx *lexer) run() error {
	s := lx.src
	for lx.pos < len(s) {
		start := -1
		for i := lx.pos; i+1 < len(s); i++ {
			if s[i] == '{' && (s[i+1] == '{' || s[i+1] == '%' || s[i+1] == '#') {
				start = i
				break
			}
		}
		if start < 0 {
			lx.emitData(s[lx.pos:], lx.line)
			lx.advance(len(s))
			return nil
		}
		text := s[lx.pos:start]
		textLine := lx.line
		kind := s[start+1]

		if kind == '%' {
			if end, sign, ok := lx.matchRaw(start); ok {
				lx.emitData(lx.stripBefore(text, sign, false), textLine)
				lx.advance(end)
				lx.lineStarting = strings.HasSuffix(s[start:end], "\n")
				if err := lx.lexRaw(); err != nil {
					return err
				}
				continue
			}
		}

		var sign byte
		after := start + 2
		if after < len(s) && (s[after] == '-' || s[after] == '+') {
			sign = s[after]
			after++
		}
		lx.emitData(lx.stripBefore(text, sign, kind == '{'), textLine)
		lx.advance(after)

		switch kind {
		case '#':
			if err := lx.lexComment(start); err != nil {
				return err
			}
		case '{':
			lx.toks = append(lx.toks, token{kind: tVarBegin, line: lx.line})
			if err := lx.lexTag(false); err != nil {
				return err
			}
		case '%':
			lx.toks = append(lx.toks, token{kind: tBlockBegin, line: lx.line})
			if err := lx.lexTag(true); err != nil {
				return err
			}
		}
	}
	return nil
}

// lexComment skips a comment whose "{#" (and sign) was consumed already.
func (lx *lexer) lexComment(start int) error {
	s := lx.src
	startLine := lx.line
	i := strings.Index(s[lx.pos:], "#}")
	if i < 0 {
		return lx.errorf(startLine, "Missing end of comment tag")
	}
	end := lx.pos + i // index of "#}"
	stop := end + 2
	if end > lx.pos && s[end-1] == '-' {
		stop = lx.skipSpaceAt(stop)
	} else if end > lx.pos && s[end-1] == '+' {
		// "+#}" keeps the newline.
	} else if lx.opts.TrimBlocks && stop < len(s) && s[stop] == '\n' {
		stop++
	}
	lx.lineStarting = strings.HasSuffix(s[start:stop], "\n")
	lx.advance(stop)
	return nil
}

// lexRaw copies text up to {% endraw %} verbatim.
func (lx *lexer) lexRaw() error {
	s := lx.src
	startLine := lx.line
	for i := lx.pos; i+1 < len(s); i++ {
		if s[i] != '{' || s[i+1] != '%' {
			continue
		}
		q := i + 2
		var sign byte
		if q < len(s) && (s[q] == '-' || s[q] == '+') {
			sign = s[q]
			q++
		}
		q = lx.skipSpaceAt(q)
		if !strings.HasPrefix(s[q:], "endraw") {
			continue
		}
		q = lx.skipSpaceAt(q + 6)
		var stop int
		switch {
		case strings.HasPrefix(s[q:], "+%}"):
			stop = q + 3
		case strings.HasPrefix(s[q:], "-%}"):
			stop = lx.skipSpaceAt(q + 3)
		case strings.HasPrefix(s[q:], "%}"):
			stop = q + 2
			if lx.opts.TrimBlocks && stop < len(s) && s[stop] == '\n' {
				stop++
			}
		default:
			continue
		}
		lx.emitData(lx.stripBefore(s[lx.pos:i], sign, false), startLine)
		lx.lineStarting = strings.HasSuffix(s[i:stop], "\n")
		lx.advance(stop)
		return nil
	}
	return lx.errorf(startLine, "Missing end of raw directive")
}

var operators = []string{
	"//", "**", "==", "!=", "<=", ">=",
	"+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}",
	"<", ">", "=", ".", ":", "|", ",", ";",
}

// lexTag lexes the inside of a {{ }} or {% %} tag, including its end.
func (lx *lexer) lexTag(block bool) error {
	s := lx.src
	lx.balance = lx.balance[:0]
	startLine := lx.line
	for {
		if lx.pos >= len(s) {
			if block {
				return lx.errorf(startLine, "unexpected end of template, expected end of statement block")
			}
			return lx.errorf(startLine, "unexpected end of template, expected end of print statement")
		}
		if len(lx.balance) == 0 {
			if stop, ok := lx.matchTagEnd(block); ok {
				kind := tVarEnd
				if block {
					kind = tBlockEnd
				}
				lx.toks = append(lx.toks, token{kind: kind, line: lx.line})
				lx.lineStarting = strings.HasSuffix(s[lx.pos:stop], "\n")
				lx.advance(stop)
				return nil
			}
		}
		c := s[lx.pos]
		r, rn := utf8.DecodeRuneInString(s[lx.pos:])
		switch {
		case isPySpace(r):
			lx.advance(lx.skipSpaceAt(lx.pos))
		case c >= '0' && c <= '9':
			if err := lx.lexNumber(); err != nil {
				return err
			}
		case c == '_' || unicode.IsLetter(r):
			p := lx.pos + rn
			for p < len(s) {
				r2, n2 := utf8.DecodeRuneInString(s[p:])
				if r2 != '_' && !unicode.IsLetter(r2) && !unicode.IsDigit(r2) {
					break
				}
				p += n2
			}
			lx.toks = append(lx.toks, token{kind: tName, val: s[lx.pos:p], line: lx.line})
			lx.advance(p)
		case c == '\'' || c == '"':
			if err := lx.lexString(c); err != nil {
				return err
			}
		default:
			op := ""
			for _, o := range operators {
				if strings.HasPrefix(s[lx.pos:], o) {
					op = o
					break
				}
			}
			if op == "" {
				return lx.errorf(lx.line, "unexpected char %q at %d", r, lx.pos)
			}
			switch op {
			case "(", "[", "{":
				lx.balance = append(lx.balance, op[0])
			case ")", "]", "}":
				want := map[string]byte{")": '(', "]": '[', "}": '{'}[op]
				if len(lx.balance) == 0 {
					return lx.errorf(lx.line, "unexpected '%s'", op)
				}
				if top := lx.balance[len(lx.balance)-1]; top != want {
					closing := map[byte]string{'(': ")", '[': "]", '{': "}"}[top]
					return lx.errorf(lx.line, "unexpected '%s', expected '%s'", op, closing)
				}
				lx.balance = lx.balance[:len(lx.balance)-1]
			}
			lx.toks = append(lx.toks, token{kind: tOp, val: op, line: lx.line})
			lx.advance(lx.pos + len(op))
		}
	}
}

// matchTagEnd checks for the end of the current tag at pos and returns the
// index after it, whitespace control and trim_blocks included.
func (lx *lexer) matchTagEnd(block bool) (int, bool) {
	s := lx.src[lx.pos:]
	if block {
		switch {
		case strings.HasPrefix(s, "-%}"):
			return lx.skipSpaceAt(lx.pos + 3), true
		case strings.HasPrefix(s, "+%}"):
			return lx.pos + 3, true
		case strings.HasPrefix(s, "%}"):
			stop := lx.pos + 2
			if lx.opts.TrimBlocks && stop < len(lx.src) && lx.src[stop] == '\n' {
				stop++
			}
			return stop, true
		}
		return 0, false
	}
	switch {
	case strings.HasPrefix(s, "-}}"):
		return lx.skipSpaceAt(lx.pos + 3), true
	case strings.HasPrefix(s, "}}"):
		return lx.pos + 2, true
	}
	return 0, false
}

func isDigitOrUnderscore(c byte) bool { return c >= '0' && c <= '9' || c == '_' }

// scanDigits accepts (\d+_)*\d+ at p and returns its end, or p if none.
func scanDigits(s string, p int) int {
	q := p
	for q < len(s) && s[q] >= '0' && s[q] <= '9' {
		q++
	}
	if q == p {
		return p
	}
	for q < len(s) && s[q] == '_' && q+1 < len(s) && s[q+1] >= '0' && s[q+1] <= '9' {
		q++
		for q < len(s) && s[q] >= '0' && s[q] <= '9' {
			q++
		}
	}
	return q
}

func (lx *lexer) lexNumber() error {
	s := lx.src
	p := lx.pos
	// Prefixed integers.
	if s[p] == '0' && p+1 < len(s) {
		base := 0
		switch s[p+1] {
		case 'x', 'X':
			base = 16
		case 'o', 'O':
			base = 8
		case 'b', 'B':
			base = 2
		}
		if base != 0 {
			q := p + 2
			for q < len(s) && (isHex(s[q]) || s[q] == '_') {
				q++
			}
			v, err := strconv.ParseInt(strings.ReplaceAll(s[p+2:q], "_", ""), base, 64)
			if err != nil {
				return lx.errorf(lx.line, "invalid integer literal %q", s[p:q])
			}
			lx.toks = append(lx.toks, token{kind: tInt, ival: v, val: s[p:q], line: lx.line})
			lx.advance(q)
			return nil
		}
	}
	q := scanDigits(s, p)
	isFloat := false
	if q+1 < len(s) && s[q] == '.' && s[q+1] >= '0' && s[q+1] <= '9' {
		q = scanDigits(s, q+1)
		isFloat = true
	}
	if q < len(s) && (s[q] == 'e' || s[q] == 'E') {
		r := q + 1
		if r < len(s) && (s[r] == '+' || s[r] == '-') {
			r++
		}
		if e := scanDigits(s, r); e > r {
			q = e
			isFloat = true
		}
	}
	text := strings.ReplaceAll(s[p:q], "_", "")
	if isFloat {
		f, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return lx.errorf(lx.line, "invalid float literal %q", s[p:q])
		}
		lx.toks = append(lx.toks, token{kind: tFloat, fval: f, val: s[p:q], line: lx.line})
	} else {
		v, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return lx.errorf(lx.line, "integer literal %q out of range", s[p:q])
		}
		lx.toks = append(lx.toks, token{kind: tInt, ival: v, val: s[p:q], line: lx.line})
	}
	lx.advance(q)
	return nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// lexString reads a quoted literal and decodes Python's unicode-escape
// sequences, which is what jinja2 does with string literals.
func (lx *lexer) lexString(q byte) error {
	s := lx.src
	startLine := lx.line
	p := lx.pos + 1
	for p < len(s) {
		if s[p] == '\\' {
			p += 2
			continue
		}
		if s[p] == q {
			break
		}
		p++
	}
	if p >= len(s) {
		return lx.errorf(startLine, "unexpected end of string literal")
	}
	val, err := unescapePython(s[lx.pos+1 : p])
	if err != nil {
		return lx.errorf(startLine, "%v", err)
	}
	lx.toks = append(lx.toks, token{kind: tString, val: val, line: startLine})
	lx.advance(p + 1)
	return nil
}

// unescapePython decodes backslash escapes as Python's "unicode-escape"
// codec does after jinja2 has backslash-replaced non-ASCII characters.
func unescapePython(raw string) (string, error) {
	if !strings.Contains(raw, "\\") {
		return raw, nil
	}
	var b strings.Builder
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			b.WriteByte(c)
			i++
			continue
		}
		if i+1 >= len(raw) {
			return "", fmt.Errorf("string literal ends with a backslash")
		}
		n := raw[i+1]
		if n >= 0x80 {
			// jinja2 escapes non-ASCII text as \xNN / \uNNNN / \UNNNNNNNN
			// before decoding, so a backslash in front of such a character
			// leaves that escape text behind.
			r, size := utf8.DecodeRuneInString(raw[i+1:])
			b.WriteByte('\\')
			switch {
			case r < 0x100:
				fmt.Fprintf(&b, "x%02x", r)
			case r < 0x10000:
				fmt.Fprintf(&b, "u%04x", r)
			default:
				fmt.Fprintf(&b, "U%08x", r)
			}
			i += 1 + size
			continue
		}
		i += 2
		switch n {
		case '\n':
		case '\\':
			b.WriteByte('\\')
		case '\'':
			b.WriteByte('\'')
		case '"':
			b.WriteByte('"')
		case 'a':
			b.WriteByte(7)
		case 'b':
			b.WriteByte(8)
		case 'f':
			b.WriteByte(12)
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte(11)
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := int(n - '0')
			for k := 0; k < 2 && i < len(raw) && raw[i] >= '0' && raw[i] <= '7'; k++ {
				v = v*8 + int(raw[i]-'0')
				i++
			}
			b.WriteRune(rune(v))
		case 'x', 'u', 'U':
			width := map[byte]int{'x': 2, 'u': 4, 'U': 8}[n]
			if i+width > len(raw) {
				return "", fmt.Errorf("truncated \\%c escape in string literal", n)
			}
			v, err := strconv.ParseUint(raw[i:i+width], 16, 32)
			if err != nil || v > unicode.MaxRune {
				return "", fmt.Errorf("invalid \\%c escape in string literal", n)
			}
			b.WriteRune(rune(v))
			i += width
		default:
			b.WriteByte('\\')
			b.WriteByte(n)
		}
	}
	return b.String(), nil
}
