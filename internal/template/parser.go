package template

import (
	"encoding/json"
	"strings"
	"unicode"

	"github.com/golem-llm/golem/internal/template/jinja"
)

// ParserOptions choose what a Parser extracts.
type ParserOptions struct {
	// Thinking splits reasoning between the thinking markers out of the
	// content. Without it the markers stay in the content.
	Thinking bool
	// StartInThinking: the prompt ended inside an open thinking block (see
	// Markers.PromptOpensThinking), so the output starts as thinking.
	StartInThinking bool
	// Tools parses tool calls (set when tools were offered).
	Tools bool
	// ToolNames, when set, restricts accepted calls to these functions; a
	// call to another name stays in the content.
	ToolNames []string
}

// Chunk is what a Parser can release after some output: text that can no
// longer be part of a marker, and completed tool calls.
type Chunk struct {
	Content   string
	Thinking  string
	ToolCalls []ToolCall
}

func (c *Chunk) add(o Chunk) {
	c.Content += o.Content
	c.Thinking += o.Thinking
	c.ToolCalls = append(c.ToolCalls, o.ToolCalls...)
}

type parserState int

const (
	stStart        parserState = iota // nothing but whitespace seen yet
	stThinkStart                      // just after the opening tag: eat whitespace
	stThinking                        // inside thinking
	stThinkEnd                        // just after the closing tag: eat whitespace
	stContentStart                    // just after the content header: eat whitespace
	stContent                         // plain content
	stTool                            // inside a tool call
	stAfterCall                       // a call ended: ToolNext, ToolClose or nothing follows
)

// Parser splits streamed model output into content, thinking and tool
// calls. Feed text as it is generated with Add (any split, even inside a
// UTF-8 character) and call Finish at the end. Text that might be the
// beginning of a marker is held back until it is decided.
type Parser struct {
	m     Markers
	o     ParserOptions
	state parserState
	buf   string // undecided text
	calls int    // tool calls emitted so far (their Index)
	// callStart is the text of the current tool call as generated, to
	// give back as content if it turns out not to be a call.
	callStart string
}

// NewParser returns a parser for output written with the given markers.
func NewParser(m Markers, o ParserOptions) *Parser {
	p := &Parser{m: m, o: o}
	if !m.HasThinking() {
		p.o.Thinking = false
	}
	if !m.HasTools() {
		p.o.Tools = false
	}
	switch {
	case p.o.Thinking && o.StartInThinking:
		p.state = stThinkStart
	default:
		p.state = stStart
	}
	return p
}

// Add feeds generated text and returns what can be released.
func (p *Parser) Add(s string) Chunk {
	p.buf += s
	return p.run(false)
}

// Finish releases everything still held back. A tool call cut off by the
// end of output is returned as content.
func (p *Parser) Finish() Chunk {
	c := p.run(true)
	switch p.state {
	case stTool:
		c.Content += p.callStart + p.buf
	case stThinking, stThinkStart:
		c.Thinking += p.buf
	default:
		c.Content += p.buf
	}
	p.buf, p.callStart = "", ""
	p.state = stContent
	return c
}

// run advances the state machine as far as the buffered text allows.
func (p *Parser) run(final bool) Chunk {
	var out Chunk
	for {
		c, progressed := p.step(final)
		out.add(c)
		if !progressed {
			return out
		}
	}
}

// validPrefix returns the longest prefix of s that ends on a UTF-8
// character boundary, so a split multi-byte character is never released.
func validPrefix(s string) int {
	n := len(s)
	// Walk back over continuation bytes to the lead byte of the last
	// character and check that the character is complete.
	for k := 1; k <= 3 && k <= n; k++ {
		b := s[n-k]
		if b < 0x80 {
			return n
		}
		if b >= 0xc0 { // a leading byte: is the sequence complete?
			need := 2
			if b >= 0xe0 {
				need = 3
			}
			if b >= 0xf0 {
				need = 4
			}
			if k < need {
				return n - k
			}
			return n
		}
	}
	return n
}

func (p *Parser) step(final bool) (Chunk, bool) {
	switch p.state {
	case stStart:
		t := strings.TrimLeftFunc(p.buf, unicode.IsSpace)
		if t == "" && !final {
			return Chunk{}, false
		}
		if p.o.Thinking {
			switch r := matchAt(t, 0, p.m.ThinkOpen, false); r.kind {
			case matchFull:
				p.buf = t[r.end:]
				p.state = stThinkStart
				return Chunk{}, true
			case matchPartial:
				if !final {
					return Chunk{}, false
				}
			}
		}
		if p.m.ContentOpen != "" {
			switch r := matchAt(t, 0, p.m.ContentOpen, false); r.kind {
			case matchFull:
				p.buf = t[r.end:]
				p.state = stContentStart
				return Chunk{}, true
			case matchPartial:
				if !final {
					return Chunk{}, false
				}
			}
		}
		if p.o.Tools && p.bareJSON() && t != "" && (t[0] == '{' || t[0] == '[' || (p.m.ToolSyntax == ToolNameArgs && isIDByte(t[0]))) {
			p.state = stTool
			p.callStart = p.buf[:len(p.buf)-len(t)]
			p.buf = t
			return Chunk{}, true
		}
		p.state = stContent
		return Chunk{}, true

	case stThinkStart, stThinkEnd:
		t := strings.TrimLeftFunc(p.buf, unicode.IsSpace)
		if t == "" && !final {
			p.buf = ""
			return Chunk{}, false
		}
		p.buf = t
		if p.state == stThinkStart {
			p.state = stThinking
			return Chunk{}, true
		}
		if p.m.ContentOpen != "" {
			switch r := matchAt(t, 0, p.m.ContentOpen, false); r.kind {
			case matchFull:
				p.buf = t[r.end:]
				p.state = stContentStart
				return Chunk{}, true
			case matchPartial:
				if !final {
					return Chunk{}, false
				}
			}
		}
		p.state = stContent
		return Chunk{}, true

	case stContentStart:
		t := strings.TrimLeftFunc(p.buf, unicode.IsSpace)
		p.buf = t
		if t == "" && !final {
			return Chunk{}, false
		}
		p.state = stContent
		return Chunk{}, true

	case stThinking:
		i, r := findMarker(p.buf, p.m.ThinkClose, false)
		switch r.kind {
		case matchFull:
			th := strings.TrimRightFunc(p.buf[:i], unicode.IsSpace)
			p.buf = p.buf[r.end:]
			p.state = stThinkEnd
			return Chunk{Thinking: th}, true
		case matchPartial:
			if final {
				break
			}
			// Hold back the possible marker and trailing whitespace (which
			// is dropped if the closing tag follows).
			keep := strings.TrimRightFunc(p.buf[:i], unicode.IsSpace)
			n := validPrefix(keep)
			th := keep[:n]
			p.buf = p.buf[n:]
			return Chunk{Thinking: th}, th != ""
		}
		if final {
			return Chunk{}, false
		}
		keep := strings.TrimRightFunc(p.buf, unicode.IsSpace)
		n := validPrefix(keep)
		th := keep[:n]
		p.buf = p.buf[n:]
		return Chunk{Thinking: th}, th != ""

	case stContent:
		if !p.o.Tools {
			n := len(p.buf)
			if !final {
				n = validPrefix(p.buf)
			}
			c := p.buf[:n]
			p.buf = p.buf[n:]
			return Chunk{Content: c}, false
		}
		best, bestR := -1, matchResult{}
		for _, open := range p.m.ToolOpen {
			if open == "" {
				continue
			}
			i, r := findMarker(p.buf, open, false)
			if r.kind == matchNone {
				continue
			}
			if best < 0 || i < best || (i == best && r.kind == matchFull && bestR.kind != matchFull) {
				best, bestR = i, r
			}
		}
		switch {
		case best >= 0 && bestR.kind == matchFull:
			c := p.buf[:best]
			p.callStart = p.buf[best:bestR.end]
			p.buf = p.buf[bestR.end:]
			p.state = stTool
			return Chunk{Content: c}, true
		case best >= 0 && !final:
			n := validPrefix(p.buf[:best])
			c := p.buf[:n]
			p.buf = p.buf[n:]
			return Chunk{Content: c}, false
		}
		n := len(p.buf)
		if !final {
			n = validPrefix(p.buf)
		}
		c := p.buf[:n]
		p.buf = p.buf[n:]
		return Chunk{Content: c}, false

	case stTool:
		return p.stepTool(final)

	case stAfterCall:
		t := strings.TrimLeftFunc(p.buf, unicode.IsSpace)
		if t == "" && !final {
			return Chunk{}, false
		}
		if p.m.ToolNext != "" {
			switch r := matchAt(t, 0, p.m.ToolNext, true); r.kind {
			case matchFull:
				p.callStart = t[:r.end]
				p.buf = t[r.end:]
				p.state = stTool
				return Chunk{}, true
			case matchPartial:
				if !final {
					return Chunk{}, false
				}
			}
		}
		if p.m.ToolClose != "" {
			switch r := matchAt(t, 0, p.m.ToolClose, true); r.kind {
			case matchFull:
				p.buf = t[r.end:]
				p.state = stContent
				return Chunk{}, true
			case matchPartial:
				if !final {
					return Chunk{}, false
				}
				// Output ended inside the closing marker (it was cut by a
				// stop sequence): drop it.
				p.buf = ""
			}
		}
		p.state = stContent
		return Chunk{}, true
	}
	return Chunk{}, false
}

// bareJSON reports whether a call may start without any marker.
func (p *Parser) bareJSON() bool {
	for _, o := range p.m.ToolOpen {
		if o == "" {
			return true
		}
	}
	return false
}

// giveBack abandons the current tool call: its text becomes content.
func (p *Parser) giveBack() (Chunk, bool) {
	c := Chunk{Content: p.callStart}
	p.callStart = ""
	p.state = stContent
	return c, true
}

func (p *Parser) stepTool(final bool) (Chunk, bool) {
	switch p.m.ToolSyntax {
	case ToolJSON:
		t := strings.TrimLeftFunc(p.buf, unicode.IsSpace)
		if t == "" {
			if final {
				return p.giveBack()
			}
			return Chunk{}, false
		}
		if t[0] != '{' && t[0] != '[' {
			return p.giveBack()
		}
		end := jsonEnd(t, 0)
		if end < 0 {
			if final {
				return p.giveBack()
			}
			return Chunk{}, false
		}
		calls := p.callsFromJSON(t[:end])
		if len(calls) == 0 {
			return p.giveBack()
		}
		p.buf = t[end:]
		p.callStart = ""
		p.state = stAfterCall
		return Chunk{ToolCalls: calls}, true

	case ToolNameArgs:
		t := strings.TrimLeftFunc(p.buf, unicode.IsSpace)
		// The name runs up to the separator (or to the arguments when
		// there is no separator).
		var nameEnd, argStart int
		if len(p.m.ToolSep) > 0 {
			i, r := -1, matchResult{}
			for _, sep := range p.m.ToolSep {
				j, rr := findMarker(t, sep, true)
				if rr.kind != matchNone && (i < 0 || j < i) {
					i, r = j, rr
				}
			}
			switch r.kind {
			case matchNone:
				if final || len(t) > 256 {
					return p.giveBack()
				}
				return Chunk{}, false
			case matchPartial:
				if final {
					return p.giveBack()
				}
				return Chunk{}, false
			}
			nameEnd, argStart = i, r.end
		} else {
			i := strings.IndexAny(t, "{")
			if i < 0 {
				if final || len(t) > 256 {
					return p.giveBack()
				}
				return Chunk{}, false
			}
			nameEnd, argStart = i, i
		}
		name := strings.TrimSpace(t[:nameEnd])
		if !validName(name) {
			return p.giveBack()
		}
		rest := strings.TrimLeftFunc(t[argStart:], unicode.IsSpace)
		if rest == "" {
			if final {
				return p.giveBack()
			}
			return Chunk{}, false
		}
		if rest[0] != '{' {
			return p.giveBack()
		}
		end := jsonEnd(rest, 0)
		if end < 0 {
			if final {
				return p.giveBack()
			}
			return Chunk{}, false
		}
		args, ok := normalizeArgs(rest[:end])
		if !ok {
			args, ok = looseArgs(rest[:end])
		}
		if !ok || !p.nameAllowed(name) {
			return p.giveBack()
		}
		call := ToolCall{Function: ToolCallFunction{Index: p.calls, Name: name, Arguments: args}}
		p.calls++
		p.buf = rest[end:]
		p.callStart = ""
		p.state = stAfterCall
		return Chunk{ToolCalls: []ToolCall{call}}, true

	case ToolXML:
		t := strings.TrimLeftFunc(p.buf, unicode.IsSpace)
		const fnOpen = "<function="
		if !strings.HasPrefix(t, fnOpen) {
			if len(t) < len(fnOpen) && strings.HasPrefix(fnOpen, t) && !final {
				return Chunk{}, false
			}
			return p.giveBack()
		}
		end := strings.Index(t, "</function>")
		if end < 0 {
			if final {
				return p.giveBack()
			}
			return Chunk{}, false
		}
		call, ok := parseXMLCall(t[:end])
		if !ok || !p.nameAllowed(call.Function.Name) {
			return p.giveBack()
		}
		call.Function.Index = p.calls
		p.calls++
		p.buf = t[end+len("</function>"):]
		p.callStart = ""
		p.state = stAfterCall
		return Chunk{ToolCalls: []ToolCall{call}}, true
	}
	return p.giveBack()
}

func validName(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for _, r := range s {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("_-.:/", r)) {
			return false
		}
	}
	return true
}

func (p *Parser) nameAllowed(name string) bool {
	if len(p.o.ToolNames) == 0 {
		return true
	}
	for _, n := range p.o.ToolNames {
		if n == name {
			return true
		}
	}
	return false
}

var (
	nameKeys = []string{"name", "tool_name", "function", "function_name"}
	argsKeys = []string{"arguments", "parameters", "args", "input"}
)

// callsFromJSON finds the tool calls in a JSON value: objects with a name
// key and an arguments key, at any depth, in document order.
func (p *Parser) callsFromJSON(text string) []ToolCall {
	v, err := jinja.FromJSON([]byte(text))
	if err != nil {
		return nil
	}
	var calls []ToolCall
	var walk func(v jinja.Value, depth int) bool
	walk = func(v jinja.Value, depth int) bool {
		if depth > 8 {
			return true
		}
		switch x := v.(type) {
		case []jinja.Value:
			for _, it := range x {
				if !walk(it, depth+1) {
					return false
				}
			}
		case *jinja.Dict:
			if c, ok := callFromDict(x); ok {
				if !p.nameAllowed(c.Function.Name) {
					return false
				}
				calls = append(calls, c)
				return true
			}
			for _, it := range x.Values() {
				if !walk(it, depth+1) {
					return false
				}
			}
		}
		return true
	}
	if !walk(v, 0) {
		return nil
	}
	for i := range calls {
		calls[i].Function.Index = p.calls
		p.calls++
	}
	return calls
}

func callFromDict(d *jinja.Dict) (ToolCall, bool) {
	var name string
	for _, k := range nameKeys {
		if v, ok := d.Get(k); ok {
			if s, ok := v.(string); ok && validName(s) {
				name = s
				break
			}
		}
	}
	if name == "" {
		return ToolCall{}, false
	}
	for _, k := range argsKeys {
		v, ok := d.Get(k)
		if !ok {
			continue
		}
		var args json.RawMessage
		switch a := v.(type) {
		case *jinja.Dict:
			s, err := compactJSON(a)
			if err != nil {
				return ToolCall{}, false
			}
			args = json.RawMessage(s)
		case string:
			var ok bool
			if args, ok = normalizeArgs(a); !ok {
				return ToolCall{}, false
			}
		case nil:
			args = json.RawMessage("{}")
		default:
			return ToolCall{}, false
		}
		c := ToolCall{Function: ToolCallFunction{Name: name, Arguments: args}}
		if id, ok := d.Get("id"); ok {
			if s, ok := id.(string); ok {
				c.ID = s
			}
		}
		return c, true
	}
	return ToolCall{}, false
}

// normalizeArgs checks that text is a JSON object and returns it compacted,
// key order kept.
func normalizeArgs(text string) (json.RawMessage, bool) {
	v, err := jinja.FromJSON([]byte(text))
	if err != nil {
		return nil, false
	}
	d, ok := v.(*jinja.Dict)
	if !ok {
		return nil, false
	}
	s, err := compactJSON(d)
	if err != nil {
		return nil, false
	}
	return json.RawMessage(s), true
}

func compactJSON(v jinja.Value) (string, error) {
	var b strings.Builder
	if err := writeCompact(&b, v); err != nil {
		return "", err
	}
	return b.String(), nil
}

// writeCompact writes v as compact JSON (no spaces), keys in order.
func writeCompact(b *strings.Builder, v jinja.Value) error {
	switch x := v.(type) {
	case *jinja.Dict:
		b.WriteByte('{')
		for i, k := range x.Keys() {
			if i > 0 {
				b.WriteByte(',')
			}
			ks, _ := k.(string)
			kb, _ := json.Marshal(ks)
			b.Write(kb)
			b.WriteByte(':')
			if err := writeCompact(b, x.Values()[i]); err != nil {
				return err
			}
		}
		b.WriteByte('}')
		return nil
	case []jinja.Value:
		b.WriteByte('[')
		for i, it := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeCompact(b, it); err != nil {
				return err
			}
		}
		b.WriteByte(']')
		return nil
	}
	s, err := jinja.ToJSON(v)
	if err != nil {
		return err
	}
	b.WriteString(s)
	return nil
}

// parseXMLCall parses "<function=NAME>" followed by parameters
// "<parameter=KEY>VALUE</parameter>". Values that are JSON are kept as
// JSON; other values are strings with the surrounding newline removed.
func parseXMLCall(s string) (ToolCall, bool) {
	s = strings.TrimPrefix(s, "<function=")
	gt := strings.IndexByte(s, '>')
	if gt < 0 {
		return ToolCall{}, false
	}
	name := strings.TrimSpace(s[:gt])
	if !validName(name) {
		return ToolCall{}, false
	}
	rest := s[gt+1:]
	args := jinja.NewDict()
	for {
		i := strings.Index(rest, "<parameter=")
		if i < 0 {
			break
		}
		rest = rest[i+len("<parameter="):]
		gt := strings.IndexByte(rest, '>')
		if gt < 0 {
			return ToolCall{}, false
		}
		key := strings.TrimSpace(rest[:gt])
		rest = rest[gt+1:]
		end := strings.Index(rest, "</parameter>")
		if end < 0 {
			return ToolCall{}, false
		}
		val := strings.TrimPrefix(rest[:end], "\n")
		val = strings.TrimSuffix(val, "\n")
		rest = rest[end+len("</parameter>"):]
		var v jinja.Value = val
		if t := strings.TrimSpace(val); t != "" && (t[0] == '{' || t[0] == '[' || t[0] == '"' || t == "true" || t == "false" || t == "null" || (t[0] >= '0' && t[0] <= '9') || t[0] == '-') {
			if jv, err := jinja.FromJSON([]byte(t)); err == nil {
				v = jv
			}
		}
		args.SetStr(key, v)
	}
	js, err := compactJSON(args)
	if err != nil {
		return ToolCall{}, false
	}
	return ToolCall{Function: ToolCallFunction{Name: name, Arguments: json.RawMessage(js)}}, true
}

// Marker matching. Whitespace in a marker matches any run of whitespace
// (or none); with digits set, a run of digits matches any run of digits.

type matchKind int

const (
	matchNone matchKind = iota
	matchPartial
	matchFull
)

type matchResult struct {
	kind matchKind
	end  int // for matchFull: index after the match
}

// matchAt matches marker against s starting at i.
func matchAt(s string, i int, marker string, digits bool) matchResult {
	j := 0
	for j < len(marker) {
		mc := marker[j]
		switch {
		case isASCIISpace(mc):
			for j < len(marker) && isASCIISpace(marker[j]) {
				j++
			}
			for i < len(s) && isASCIISpace(s[i]) {
				i++
			}
			if i == len(s) && j < len(marker) {
				return matchResult{kind: matchPartial}
			}
		case mc == '\x1a':
			// Any identifier (a call id).
			j++
			start := i
			for i < len(s) && isIDByte(s[i]) {
				i++
			}
			if i == len(s) {
				return matchResult{kind: matchPartial}
			}
			if i == start {
				return matchResult{}
			}
		case digits && mc >= '0' && mc <= '9':
			for j < len(marker) && marker[j] >= '0' && marker[j] <= '9' {
				j++
			}
			if i == len(s) {
				return matchResult{kind: matchPartial}
			}
			if s[i] < '0' || s[i] > '9' {
				return matchResult{}
			}
			for i < len(s) && s[i] >= '0' && s[i] <= '9' {
				i++
			}
			if i == len(s) {
				return matchResult{kind: matchPartial}
			}
		default:
			if i == len(s) {
				return matchResult{kind: matchPartial}
			}
			if s[i] != mc {
				return matchResult{}
			}
			i++
			j++
		}
	}
	return matchResult{kind: matchFull, end: i}
}

func isASCIISpace(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' }

func isIDByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// looseArgs reads arguments written in the JSON-like form Gemma 4 uses:
// strings between <|"|> quotes and bare keys, e.g.
// {location:<|"|>Paris<|"|>,days:2}.
func looseArgs(text string) (json.RawMessage, bool) {
	const q = "<|\"|>"
	var b strings.Builder
	for i := 0; i < len(text); {
		switch {
		case strings.HasPrefix(text[i:], q):
			end := strings.Index(text[i+len(q):], q)
			if end < 0 {
				return nil, false
			}
			sb, _ := json.Marshal(text[i+len(q) : i+len(q)+end])
			b.Write(sb)
			i += 2*len(q) + end
		case text[i] == '"':
			end := jsonStringEnd(text, i)
			if end < 0 {
				return nil, false
			}
			b.WriteString(text[i:end])
			i = end
		case isIDByte(text[i]) && !(text[i] >= '0' && text[i] <= '9') && text[i] != '-':
			j := i
			for j < len(text) && isIDByte(text[j]) {
				j++
			}
			word := text[i:j]
			k := j
			for k < len(text) && isASCIISpace(text[k]) {
				k++
			}
			if k < len(text) && text[k] == ':' {
				sb, _ := json.Marshal(word)
				b.Write(sb)
			} else {
				b.WriteString(word)
			}
			i = j
		default:
			b.WriteByte(text[i])
			i++
		}
	}
	return normalizeArgs(b.String())
}

// jsonStringEnd returns the index after the JSON string starting at s[i].
func jsonStringEnd(s string, i int) int {
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// findMarker finds the first position where marker matches fully or runs
// into the end of s (a possible start of the marker).
func findMarker(s, marker string, digits bool) (int, matchResult) {
	if marker == "" {
		return -1, matchResult{}
	}
	for i := 0; i < len(s); i++ {
		if s[i] != marker[0] {
			continue
		}
		if r := matchAt(s, i, marker, digits); r.kind != matchNone {
			return i, r
		}
	}
	return -1, matchResult{}
}
