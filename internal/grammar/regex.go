package grammar

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The regular expressions of JSON Schema "pattern" (ECMA-262 syntax, search
// semantics) compile to byte automata over the JSON text of a string's
// content. Each character of the decoded string has one spelling in that
// text: itself in UTF-8, or the JSON escape when it must be escaped ('"',
// '\\', control characters and DEL). Supported: literals, escapes, classes,
// '.', groups (capturing, non-capturing, named), alternation, the
// quantifiers * + ? {n} {n,} {n,m} (lazy forms too), and ^ / $ at the very
// start / end of a top-level alternative. Backreferences, lookaround, word
// boundaries and Unicode property classes are refused with an error.

// cpRange is an inclusive range of code points.
type cpRange struct{ lo, hi rune }

// cpset is a sorted list of disjoint, non-adjacent ranges.
type cpset []cpRange

func makeSet(rs ...cpRange) cpset {
	s := append(cpset(nil), rs...)
	sort.Slice(s, func(i, j int) bool { return s[i].lo < s[j].lo })
	var out cpset
	for _, r := range s {
		if r.lo > r.hi {
			continue
		}
		if n := len(out); n > 0 && r.lo <= out[n-1].hi+1 {
			if r.hi > out[n-1].hi {
				out[n-1].hi = r.hi
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

func (s cpset) union(t cpset) cpset { return makeSet(append(append(cpset(nil), s...), t...)...) }

// negate complements within the Unicode scalar values (no surrogates).
func (s cpset) negate() cpset {
	var out cpset
	next := rune(0)
	for _, r := range s {
		if r.lo > next {
			out = append(out, cpRange{next, r.lo - 1})
		}
		next = r.hi + 1
	}
	if next <= utf8.MaxRune {
		out = append(out, cpRange{next, utf8.MaxRune})
	}
	return out.intersect(scalarValues)
}

func (s cpset) intersect(t cpset) cpset {
	var out cpset
	i, j := 0, 0
	for i < len(s) && j < len(t) {
		lo, hi := max(s[i].lo, t[j].lo), min(s[i].hi, t[j].hi)
		if lo <= hi {
			out = append(out, cpRange{lo, hi})
		}
		if s[i].hi < t[j].hi {
			i++
		} else {
			j++
		}
	}
	return out
}

var (
	scalarValues = cpset{{0, 0xD7FF}, {0xE000, utf8.MaxRune}}
	// rawChars are the characters a JSON string may hold unescaped. DEL is
	// left out, as in Ollama's JSON grammar.
	rawChars    = cpset{{0x20, 0x21}, {0x23, 0x5B}, {0x5D, 0x7E}, {0x80, 0xD7FF}, {0xE000, utf8.MaxRune}}
	escapeChars = cpset{{0, 0x1F}, {'"', '"'}, {'\\', '\\'}, {0x7F, 0x7F}}
	digitSet    = cpset{{'0', '9'}}
	wordSet     = makeSet(cpRange{'0', '9'}, cpRange{'A', 'Z'}, cpRange{'_', '_'}, cpRange{'a', 'z'})
	spaceSet    = makeSet(cpRange{'\t', '\r'}, cpRange{' ', ' '}, cpRange{0xA0, 0xA0}, cpRange{0x1680, 0x1680},
		cpRange{0x2000, 0x200A}, cpRange{0x2028, 0x2029}, cpRange{0x202F, 0x202F}, cpRange{0x205F, 0x205F},
		cpRange{0x3000, 0x3000}, cpRange{0xFEFF, 0xFEFF})
	lineEnds = makeSet(cpRange{'\n', '\n'}, cpRange{'\r', '\r'}, cpRange{0x2028, 0x2029})
)

// brange is an inclusive byte range; a character's spelling is a sequence
// of them.
type brange struct{ lo, hi byte }

// jsonEscape is the spelling encoding/json uses for a character that must
// be escaped inside a string.
func jsonEscape(c rune) []byte {
	switch c {
	case '"':
		return []byte(`\"`)
	case '\\':
		return []byte(`\\`)
	case '\n':
		return []byte(`\n`)
	case '\r':
		return []byte(`\r`)
	case '\t':
		return []byte(`\t`)
	case '\b':
		return []byte(`\b`)
	case '\f':
		return []byte(`\f`)
	}
	return []byte(fmt.Sprintf(`\u%04x`, c))
}

// spellings lists the byte-range sequences that spell the characters of s
// inside a JSON string.
func spellings(s cpset) [][]brange {
	var out [][]brange
	for _, r := range s.intersect(rawChars) {
		out = utf8Seqs(out, r.lo, r.hi)
	}
	for _, r := range s.intersect(escapeChars) {
		for c := r.lo; c <= r.hi; c++ {
			var seq []brange
			for _, b := range jsonEscape(c) {
				seq = append(seq, brange{b, b})
			}
			out = append(out, seq)
		}
	}
	return out
}

// utf8Seqs appends the UTF-8 byte-range sequences of the code points
// lo..hi (no surrogates inside): each sequence is a product of byte
// ranges, split so that the product is exactly the encodings in range.
func utf8Seqs(out [][]brange, lo, hi rune) [][]brange {
	if lo > hi {
		return out
	}
	for _, m := range []rune{0x7F, 0x7FF, 0xFFFF} {
		if lo <= m && hi > m {
			out = utf8Seqs(out, lo, m)
			return utf8Seqs(out, m+1, hi)
		}
	}
	if hi < 0x80 {
		return append(out, []brange{{byte(lo), byte(hi)}})
	}
	n := utf8.RuneLen(lo)
	for i := 1; i < n; i++ {
		m := rune(1)<<(6*i) - 1
		if lo&^m != hi&^m {
			if lo&m != 0 {
				out = utf8Seqs(out, lo, lo|m)
				return utf8Seqs(out, (lo|m)+1, hi)
			}
			if hi&m != m {
				out = utf8Seqs(out, lo, hi&^m-1)
				return utf8Seqs(out, hi&^m, hi)
			}
		}
	}
	var a, b [4]byte
	utf8.EncodeRune(a[:], lo)
	utf8.EncodeRune(b[:], hi)
	seq := make([]brange, n)
	for i := 0; i < n; i++ {
		seq[i] = brange{a[i], b[i]}
	}
	return append(out, seq)
}

// Regular expression syntax tree.
const (
	rxChar  = iota // one character from set
	rxCat          // subs in sequence
	rxAlt          // one of subs
	rxRep          // subs[0] repeated min..max times (max < 0: unbounded)
	rxEmpty        // the empty string
	rxBegin        // ^
	rxEnd          // $
)

type rnode struct {
	op       int
	set      cpset
	subs     []*rnode
	min, max int
}

// maxRepeat bounds {n,m} counts, as ECMA engines accept any count but the
// automaton copies the operand.
const maxRepeat = 1000

type rxParser struct {
	src []rune
	pos int
	pat string
}

func (p *rxParser) errorf(format string, args ...any) error {
	return fmt.Errorf("pattern %q: %s", p.pat, fmt.Sprintf(format, args...))
}

func (p *rxParser) more() bool { return p.pos < len(p.src) }
func (p *rxParser) peek() rune { return p.src[p.pos] }

// parsePattern parses an ECMA-262 pattern into alternatives whose anchors
// have been stripped, with flags telling which were anchored.
func parsePattern(pat string) (*rnode, error) {
	p := &rxParser{src: []rune(pat), pat: pat}
	re, err := p.alt(0)
	if err != nil {
		return nil, err
	}
	if p.more() {
		return nil, p.errorf("unmatched ')' at offset %d", p.pos)
	}
	// Search semantics: an alternative without ^ may start anywhere, one
	// without $ may end anywhere.
	alts := []*rnode{re}
	if re.op == rxAlt {
		alts = re.subs
	}
	anyChars := &rnode{op: rxRep, subs: []*rnode{{op: rxChar, set: scalarValues}}, min: 0, max: -1}
	var out []*rnode
	for _, a := range alts {
		parts := []*rnode{a}
		if a.op == rxCat {
			parts = append([]*rnode(nil), a.subs...)
		}
		begin, end := false, false
		for len(parts) > 0 && parts[0].op == rxBegin {
			begin = true
			parts = parts[1:]
		}
		for len(parts) > 0 && parts[len(parts)-1].op == rxEnd {
			end = true
			parts = parts[:len(parts)-1]
		}
		for _, q := range parts {
			if hasAnchor(q) {
				return nil, p.errorf("^ and $ are supported only at the start and end of the pattern")
			}
		}
		if !begin {
			parts = append([]*rnode{anyChars}, parts...)
		}
		if !end {
			parts = append(parts, anyChars)
		}
		out = append(out, &rnode{op: rxCat, subs: parts})
	}
	if len(out) == 1 {
		return out[0], nil
	}
	return &rnode{op: rxAlt, subs: out}, nil
}

func hasAnchor(r *rnode) bool {
	if r.op == rxBegin || r.op == rxEnd {
		return true
	}
	for _, s := range r.subs {
		if hasAnchor(s) {
			return true
		}
	}
	return false
}

func (p *rxParser) alt(depth int) (*rnode, error) {
	if depth > 200 {
		return nil, p.errorf("groups nested too deeply")
	}
	var alts []*rnode
	for {
		c, err := p.concat(depth)
		if err != nil {
			return nil, err
		}
		alts = append(alts, c)
		if p.more() && p.peek() == '|' {
			p.pos++
			continue
		}
		break
	}
	if len(alts) == 1 {
		return alts[0], nil
	}
	return &rnode{op: rxAlt, subs: alts}, nil
}

func (p *rxParser) concat(depth int) (*rnode, error) {
	var parts []*rnode
	for p.more() && p.peek() != '|' && p.peek() != ')' {
		atom, err := p.atom(depth)
		if err != nil {
			return nil, err
		}
		atom, err = p.quantifiers(atom)
		if err != nil {
			return nil, err
		}
		parts = append(parts, atom)
	}
	switch len(parts) {
	case 0:
		return &rnode{op: rxEmpty}, nil
	case 1:
		return parts[0], nil
	}
	return &rnode{op: rxCat, subs: parts}, nil
}

func (p *rxParser) quantifiers(atom *rnode) (*rnode, error) {
	for p.more() {
		lo, hi := 0, 0
		start := p.pos
		switch p.peek() {
		case '*':
			lo, hi = 0, -1
			p.pos++
		case '+':
			lo, hi = 1, -1
			p.pos++
		case '?':
			lo, hi = 0, 1
			p.pos++
		case '{':
			var ok bool
			lo, hi, ok = p.braces()
			if !ok {
				p.pos = start
				return atom, nil // a literal '{' (Annex B)
			}
		default:
			return atom, nil
		}
		if atom.op == rxBegin || atom.op == rxEnd {
			return nil, p.errorf("nothing to repeat at offset %d", start)
		}
		if p.more() && p.peek() == '?' {
			p.pos++ // lazy: same language
		}
		if lo > maxRepeat || hi > maxRepeat {
			return nil, p.errorf("repeat count above %d", maxRepeat)
		}
		if hi >= 0 && lo > hi {
			return nil, p.errorf("repeat {%d,%d} has min above max", lo, hi)
		}
		atom = &rnode{op: rxRep, subs: []*rnode{atom}, min: lo, max: hi}
	}
	return atom, nil
}

// braces reads {n}, {n,} or {n,m}.
func (p *rxParser) braces() (lo, hi int, ok bool) {
	p.pos++ // {
	num := func() (int, bool) {
		start := p.pos
		for p.more() && p.peek() >= '0' && p.peek() <= '9' {
			p.pos++
		}
		if start == p.pos {
			return 0, false
		}
		v, err := strconv.Atoi(string(p.src[start:p.pos]))
		if err != nil || v > 1<<20 {
			v = 1 << 20
		}
		return v, true
	}
	lo, ok = num()
	if !ok {
		return 0, 0, false
	}
	hi = lo
	if p.more() && p.peek() == ',' {
		p.pos++
		if p.more() && p.peek() == '}' {
			hi = -1
		} else if hi, ok = num(); !ok {
			return 0, 0, false
		}
	}
	if !p.more() || p.peek() != '}' {
		return 0, 0, false
	}
	p.pos++
	return lo, hi, true
}

func (p *rxParser) atom(depth int) (*rnode, error) {
	c := p.peek()
	switch c {
	case '(':
		p.pos++
		if p.more() && p.peek() == '?' {
			rest := string(p.src[p.pos:min(p.pos+3, len(p.src))])
			switch {
			case strings.HasPrefix(rest, "?:"):
				p.pos += 2
			case strings.HasPrefix(rest, "?="), strings.HasPrefix(rest, "?!"),
				strings.HasPrefix(rest, "?<="), strings.HasPrefix(rest, "?<!"):
				return nil, p.errorf("lookaround assertions are not supported")
			case strings.HasPrefix(rest, "?<"):
				p.pos += 2
				for p.more() && p.peek() != '>' {
					p.pos++
				}
				if !p.more() {
					return nil, p.errorf("unterminated group name")
				}
				p.pos++
			default:
				return nil, p.errorf("unsupported group syntax at offset %d", p.pos-1)
			}
		}
		re, err := p.alt(depth + 1)
		if err != nil {
			return nil, err
		}
		if !p.more() || p.peek() != ')' {
			return nil, p.errorf("missing ')'")
		}
		p.pos++
		return re, nil
	case '[':
		set, err := p.class()
		if err != nil {
			return nil, err
		}
		return &rnode{op: rxChar, set: set}, nil
	case '.':
		p.pos++
		return &rnode{op: rxChar, set: lineEnds.negate()}, nil
	case '^':
		p.pos++
		return &rnode{op: rxBegin}, nil
	case '$':
		p.pos++
		return &rnode{op: rxEnd}, nil
	case '\\':
		set, err := p.escape(false)
		if err != nil {
			return nil, err
		}
		return &rnode{op: rxChar, set: set}, nil
	case '*', '+', '?':
		return nil, p.errorf("nothing to repeat at offset %d", p.pos)
	}
	p.pos++
	return &rnode{op: rxChar, set: cpset{{c, c}}}, nil
}

// escape reads a backslash escape; inClass selects the class meaning of \b
// (backspace) and allows \-.
func (p *rxParser) escape(inClass bool) (cpset, error) {
	p.pos++ // backslash
	if !p.more() {
		return nil, p.errorf("trailing backslash")
	}
	c := p.peek()
	p.pos++
	one := func(r rune) cpset { return cpset{{r, r}} }
	switch c {
	case 'd':
		return digitSet, nil
	case 'D':
		return digitSet.negate(), nil
	case 'w':
		return wordSet, nil
	case 'W':
		return wordSet.negate(), nil
	case 's':
		return spaceSet, nil
	case 'S':
		return spaceSet.negate(), nil
	case 'n':
		return one('\n'), nil
	case 'r':
		return one('\r'), nil
	case 't':
		return one('\t'), nil
	case 'f':
		return one('\f'), nil
	case 'v':
		return one('\v'), nil
	case 'b':
		if inClass {
			return one('\b'), nil
		}
		return nil, p.errorf("word boundaries (\\b) are not supported")
	case 'B':
		return nil, p.errorf("word boundaries (\\B) are not supported")
	case '0':
		if p.more() && p.peek() >= '0' && p.peek() <= '9' {
			return nil, p.errorf("octal escapes are not supported")
		}
		return one(0), nil
	case '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return nil, p.errorf("backreferences are not supported")
	case 'k':
		return nil, p.errorf("named backreferences are not supported")
	case 'p', 'P':
		return nil, p.errorf("Unicode property classes (\\%c) are not supported", c)
	case 'c':
		if p.more() {
			l := p.peek() | 0x20
			if l >= 'a' && l <= 'z' {
				p.pos++
				return one(p.src[p.pos-1] % 32), nil
			}
		}
		return nil, p.errorf("\\c must be followed by a letter")
	case 'x':
		if v, ok := p.hex(2); ok {
			return one(v), nil
		}
		return one('x'), nil
	case 'u':
		if p.more() && p.peek() == '{' {
			end := p.pos + 1
			for end < len(p.src) && p.src[end] != '}' {
				end++
			}
			if end < len(p.src) {
				v, err := strconv.ParseUint(string(p.src[p.pos+1:end]), 16, 32)
				if err == nil && v <= utf8.MaxRune {
					p.pos = end + 1
					return p.codePoint(rune(v))
				}
			}
			return nil, p.errorf("bad \\u{...} escape")
		}
		if v, ok := p.hex(4); ok {
			if v >= 0xD800 && v <= 0xDBFF && p.pos+6 <= len(p.src) && p.src[p.pos] == '\\' && p.src[p.pos+1] == 'u' {
				save := p.pos
				p.pos += 2
				if lo, ok := p.hex(4); ok && lo >= 0xDC00 && lo <= 0xDFFF {
					return one(0x10000 + (v-0xD800)<<10 + (lo - 0xDC00)), nil
				}
				p.pos = save
			}
			return p.codePoint(v)
		}
		return one('u'), nil
	}
	return one(c), nil
}

func (p *rxParser) codePoint(v rune) (cpset, error) {
	if v >= 0xD800 && v <= 0xDFFF {
		return nil, p.errorf("lone surrogate \\u%04X cannot appear in a JSON string", v)
	}
	return cpset{{v, v}}, nil
}

func (p *rxParser) hex(n int) (rune, bool) {
	if p.pos+n > len(p.src) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(p.src[p.pos:p.pos+n]), 16, 32)
	if err != nil {
		return 0, false
	}
	p.pos += n
	return rune(v), true
}

func (p *rxParser) class() (cpset, error) {
	p.pos++ // [
	neg := false
	if p.more() && p.peek() == '^' {
		neg = true
		p.pos++
	}
	var set cpset
	item := func() (cpset, rune, bool, error) { // set, single char, isSingle
		if !p.more() {
			return nil, 0, false, p.errorf("missing ']'")
		}
		c := p.peek()
		if c == '\\' {
			s, err := p.escape(true)
			if err != nil {
				return nil, 0, false, err
			}
			if len(s) == 1 && s[0].lo == s[0].hi {
				return s, s[0].lo, true, nil
			}
			return s, 0, false, nil
		}
		p.pos++
		return cpset{{c, c}}, c, true, nil
	}
	for {
		if !p.more() {
			return nil, p.errorf("missing ']'")
		}
		if p.peek() == ']' {
			p.pos++
			break
		}
		s, lo, single, err := item()
		if err != nil {
			return nil, err
		}
		if single && p.pos+1 < len(p.src) && p.peek() == '-' && p.src[p.pos+1] != ']' {
			save := p.pos
			p.pos++
			s2, hi, single2, err := item()
			if err != nil {
				return nil, err
			}
			if single2 {
				if hi < lo {
					return nil, p.errorf("class range %q-%q out of order", lo, hi)
				}
				set = set.union(cpset{{lo, hi}})
				continue
			}
			// [a-\d]: the '-' is literal (Annex B).
			_ = save
			set = set.union(s).union(cpset{{'-', '-'}}).union(s2)
			continue
		}
		set = set.union(s)
	}
	set = set.intersect(scalarValues)
	if neg {
		set = set.negate()
	}
	return set, nil
}

// build adds the automaton of r to n and returns its entry and exit.
func (n *nfa) build(r *rnode) (in, out int32, err error) {
	if len(n.eps) > maxNFAStates {
		return 0, 0, errTooLarge
	}
	switch r.op {
	case rxEmpty:
		s := n.state(true)
		return s, s, nil
	case rxChar:
		in, out = n.state(true), n.state(true)
		for _, seq := range spellings(r.set) {
			prev := in
			for i, br := range seq {
				to := out
				if i < len(seq)-1 {
					to = n.state(false)
				}
				n.edges[prev] = append(n.edges[prev], nedge{br.lo, br.hi, to})
				prev = to
			}
		}
		return in, out, nil
	case rxCat:
		in = n.state(true)
		out = in
		for _, s := range r.subs {
			a, b, err := n.build(s)
			if err != nil {
				return 0, 0, err
			}
			n.eps[out] = append(n.eps[out], a)
			out = b
		}
		return in, out, nil
	case rxAlt:
		in, out = n.state(true), n.state(true)
		for _, s := range r.subs {
			a, b, err := n.build(s)
			if err != nil {
				return 0, 0, err
			}
			n.eps[in] = append(n.eps[in], a)
			n.eps[b] = append(n.eps[b], out)
		}
		return in, out, nil
	case rxRep:
		sub := r.subs[0]
		in = n.state(true)
		out = in
		for i := 0; i < r.min; i++ {
			a, b, err := n.build(sub)
			if err != nil {
				return 0, 0, err
			}
			n.eps[out] = append(n.eps[out], a)
			out = b
		}
		if r.max < 0 {
			a, b, err := n.build(sub)
			if err != nil {
				return 0, 0, err
			}
			loop := n.state(true)
			n.eps[out] = append(n.eps[out], loop)
			n.eps[loop] = append(n.eps[loop], a)
			n.eps[b] = append(n.eps[b], loop)
			return in, loop, nil
		}
		// Optional copies nested as x(x(x)?)?)? so that the subset
		// construction stays small.
		end := n.state(true)
		for i := r.min; i < r.max; i++ {
			a, b, err := n.build(sub)
			if err != nil {
				return 0, 0, err
			}
			n.eps[out] = append(n.eps[out], a, end)
			out = b
		}
		n.eps[out] = append(n.eps[out], end)
		return in, end, nil
	}
	return 0, 0, fmt.Errorf("grammar: internal error: regex op %d", r.op)
}

// regexTable compiles a pattern to a table over string content.
func regexTable(pat string) (*table, error) {
	re, err := parsePattern(pat)
	if err != nil {
		return nil, err
	}
	return rnodeTable(re, pat)
}

func rnodeTable(re *rnode, pat string) (*table, error) {
	n := &nfa{}
	in, out, err := n.build(re)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", pat, err)
	}
	t, err := n.determinize(in, out)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", pat, err)
	}
	return t, nil
}
