package store

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Command is one Modelfile instruction. Name is lower case: "model" (FROM),
// "adapter", "template", "system", "license", "message", or, for PARAMETER
// lines, the parameter's own name. Args is the value with quotes removed;
// for MESSAGE it is "role: content".
type Command struct {
	Name string
	Args string
}

// Modelfile is a parsed Modelfile: its commands in order.
type Modelfile struct {
	Commands []Command
}

// ParseError reports a Modelfile syntax error and its line.
type ParseError struct {
	Line int
	Msg  string
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("modelfile: line %d: %s", e.Line, e.Msg)
	}
	return "modelfile: " + e.Msg
}

// ParseModelfile parses Ollama's Modelfile syntax: one instruction per
// line (case-insensitive keyword, then its argument), '#' comments, and
// arguments that may be "quoted" or """triple-quoted""" to span lines. A
// Modelfile must have a FROM line. PARAMETER names and values are checked
// against the known parameters.
func ParseModelfile(r io.Reader) (*Modelfile, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("modelfile: %v", err)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // UTF-8 BOM
	if !utf8.Valid(data) {
		return nil, &ParseError{Msg: "not valid UTF-8 text"}
	}
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	var mf Modelfile
	line := 1
	pos := 0
	for pos < len(text) {
		// Skip blank space and comments between instructions.
		c := text[pos]
		if c == '\n' {
			line++
			pos++
			continue
		}
		if c == ' ' || c == '\t' || c == '\r' {
			pos++
			continue
		}
		if c == '#' {
			for pos < len(text) && text[pos] != '\n' {
				pos++
			}
			continue
		}
		start := line
		end := pos
		for end < len(text) && isAlpha(text[end]) {
			end++
		}
		keyword := strings.ToLower(text[pos:end])
		if keyword == "" || end < len(text) && text[end] != ' ' && text[end] != '\t' && text[end] != '\n' {
			for end < len(text) && text[end] != ' ' && text[end] != '\t' && text[end] != '\n' {
				end++
			}
			return nil, &ParseError{Line: start, Msg: fmt.Sprintf("unknown instruction %q: want FROM, PARAMETER, TEMPLATE, SYSTEM, MESSAGE, LICENSE or ADAPTER", text[pos:end])}
		}
		word := text[pos:end]
		pos = skipBlank(text, end)
		var cmd Command
		switch keyword {
		case "from", "adapter", "template", "system", "license":
			cmd.Name = keyword
			if keyword == "from" {
				cmd.Name = "model"
			}
		case "parameter", "message":
			end := pos
			for end < len(text) && (isAlpha(text[end]) || isDigit(text[end]) || text[end] == '_') {
				end++
			}
			pname := text[pos:end]
			if pname == "" || end >= len(text) || (text[end] != ' ' && text[end] != '\t') {
				return nil, &ParseError{Line: line, Msg: fmt.Sprintf("%s needs a name and a value", strings.ToUpper(keyword))}
			}
			pos = skipBlank(text, end)
			if keyword == "parameter" {
				cmd.Name = strings.ToLower(pname)
			} else {
				role := strings.ToLower(pname)
				if role != "system" && role != "user" && role != "assistant" {
					return nil, &ParseError{Line: line, Msg: fmt.Sprintf("message role %q must be one of system, user or assistant", pname)}
				}
				cmd.Name = "message"
				cmd.Args = role + ": "
			}
		case "requires", "renderer", "parser":
			return nil, &ParseError{Line: start, Msg: fmt.Sprintf("%s is not supported by Golem", strings.ToUpper(keyword))}
		default:
			return nil, &ParseError{Line: start, Msg: fmt.Sprintf("unknown instruction %q: want FROM, PARAMETER, TEMPLATE, SYSTEM, MESSAGE, LICENSE or ADAPTER", word)}
		}
		value, next, lines, err := readValue(text, pos)
		if err != nil {
			return nil, &ParseError{Line: line, Msg: fmt.Sprintf("%s: %v", strings.ToUpper(keyword), err)}
		}
		line += lines
		pos = next
		if value == "" && cmd.Name != "template" && cmd.Name != "system" && cmd.Name != "message" && cmd.Name != "license" {
			return nil, &ParseError{Line: start, Msg: fmt.Sprintf("%s needs a value", strings.ToUpper(keyword))}
		}
		cmd.Args += value
		if keyword == "parameter" {
			if _, err := ParseParameter(cmd.Name, cmd.Args); err != nil {
				return nil, &ParseError{Line: start, Msg: err.Error()}
			}
		}
		mf.Commands = append(mf.Commands, cmd)
	}
	if _, ok := mf.From(); !ok {
		return nil, &ParseError{Msg: "no FROM line"}
	}
	return &mf, nil
}

// readValue reads an instruction's argument starting at pos: a
// """triple-quoted""" or "quoted" string (which may span lines) or the rest
// of the line. A "quoted" string ends at its next quote; a triple-quoted
// one at the first """ that only blanks or a comment follow on its line,
// so that it may hold quotes (even at its end). It
// returns the value, the position after it, and how many newlines it
// crossed.
func readValue(text string, pos int) (value string, next, lines int, err error) {
	quote := ""
	switch {
	case strings.HasPrefix(text[pos:], `"""`):
		quote = `"""`
	case strings.HasPrefix(text[pos:], `"`):
		quote = `"`
	default:
		end := strings.IndexByte(text[pos:], '\n')
		if end < 0 {
			end = len(text) - pos
		}
		return strings.TrimSpace(text[pos : pos+end]), pos + end, 0, nil
	}
	start := pos + len(quote)
	for i := start; i+len(quote) <= len(text); i++ {
		if !strings.HasPrefix(text[i:], quote) {
			continue
		}
		if !restOfLineBlank(text, i+len(quote)) {
			if quote == `"` {
				break // a plain quoted string ends at its first quote
			}
			continue
		}
		next = i + len(quote)
		return text[start:i], next, strings.Count(text[pos:next], "\n"), nil
	}
	if strings.Contains(text[start:], quote) {
		return "", 0, 0, fmt.Errorf("unexpected text after the closing %s", quote)
	}
	return "", 0, 0, fmt.Errorf("unterminated %s string", quote)
}

// restOfLineBlank reports whether only blanks or a comment follow pos on
// its line.
func restOfLineBlank(text string, pos int) bool {
	for pos < len(text) && (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\r') {
		pos++
	}
	return pos == len(text) || text[pos] == '\n' || text[pos] == '#'
}

func skipBlank(text string, pos int) int {
	for pos < len(text) && (text[pos] == ' ' || text[pos] == '\t') {
		pos++
	}
	return pos
}

func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// From returns the argument of the first FROM line.
func (mf *Modelfile) From() (string, bool) {
	for _, c := range mf.Commands {
		if c.Name == "model" {
			return c.Args, true
		}
	}
	return "", false
}

// String renders the Modelfile in the syntax ParseModelfile reads, one
// instruction per line, quoting values that need it.
func (mf *Modelfile) String() string {
	var b strings.Builder
	for _, c := range mf.Commands {
		b.WriteString(c.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// String renders one instruction.
func (c Command) String() string {
	switch c.Name {
	case "model":
		return "FROM " + quoteValue(c.Args)
	case "adapter", "template", "system", "license":
		return strings.ToUpper(c.Name) + " " + quoteValue(c.Args)
	case "message":
		role, content, _ := strings.Cut(c.Args, ": ")
		return "MESSAGE " + role + " " + quoteValue(content)
	}
	return "PARAMETER " + c.Name + " " + quoteValue(c.Args)
}

// quoteValue quotes a value so that it reads back unchanged: values that
// span lines, start with a quote or have blanks at either end are quoted,
// with triple quotes when they hold a quote themselves. CanQuote tells
// which values survive.
func quoteValue(s string) string {
	needs := s == "" || strings.ContainsAny(s, "\n") || strings.HasPrefix(s, `"`) || strings.TrimSpace(s) != s
	if !needs {
		return s
	}
	if !strings.Contains(s, `"`) {
		return `"` + s + `"`
	}
	return `"""` + s + `"""`
}

// CanQuote reports whether a value can be written in a Modelfile and read
// back unchanged. The syntax has no escapes, so a value in which a triple
// quote ends a line cannot be.
func CanQuote(s string) bool {
	q := quoteValue(s)
	v, next, _, err := readValue(q, 0)
	return err == nil && next == len(q) && v == s
}

// paramKind is the JSON type of a model parameter.
type paramKind int

const (
	kindInt paramKind = iota
	kindFloat
	kindBool
	kindStrings
)

// parameters are the PARAMETER names Ollama accepts and their types (the
// options of its API). Golem's engine uses the sampling and length ones;
// the others are kept so that Ollama Modelfiles load unchanged.
var parameters = map[string]paramKind{
	"num_ctx":           kindInt,
	"num_batch":         kindInt,
	"num_gpu":           kindInt,
	"main_gpu":          kindInt,
	"num_thread":        kindInt,
	"num_keep":          kindInt,
	"num_predict":       kindInt,
	"seed":              kindInt,
	"top_k":             kindInt,
	"repeat_last_n":     kindInt,
	"top_p":             kindFloat,
	"min_p":             kindFloat,
	"typical_p":         kindFloat,
	"temperature":       kindFloat,
	"repeat_penalty":    kindFloat,
	"presence_penalty":  kindFloat,
	"frequency_penalty": kindFloat,
	"use_mmap":          kindBool,
	"stop":              kindStrings,
}

// deprecatedParameters are accepted and ignored, as Ollama does.
var deprecatedParameters = map[string]bool{
	"penalize_newline": true, "low_vram": true, "f16_kv": true, "logits_all": true,
	"vocab_only": true, "use_mlock": true, "mirostat": true, "mirostat_tau": true, "mirostat_eta": true,
	"numa": true, "tfs_z": true,
}

// ParseParameter converts a PARAMETER value to its type: int, float64,
// bool, or string (one stop sequence). Deprecated parameters return nil.
func ParseParameter(name, value string) (any, error) {
	name = strings.ToLower(name)
	if deprecatedParameters[name] {
		return nil, nil
	}
	kind, ok := parameters[name]
	if !ok {
		return nil, fmt.Errorf("unknown parameter %q", name)
	}
	switch kind {
	case kindInt:
		v, err := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
		if err != nil {
			// Ollama accepts whole floats such as 4096.0.
			f, ferr := strconv.ParseFloat(strings.TrimSpace(value), 64)
			if ferr != nil || f != float64(int64(f)) {
				return nil, fmt.Errorf("parameter %s: %q is not an integer", name, value)
			}
			v = int64(f)
		}
		return int(v), nil
	case kindFloat:
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return nil, fmt.Errorf("parameter %s: %q is not a number", name, value)
		}
		return v, nil
	case kindBool:
		v, err := strconv.ParseBool(strings.TrimSpace(value))
		if err != nil {
			return nil, fmt.Errorf("parameter %s: %q is not true or false", name, value)
		}
		return v, nil
	}
	return value, nil
}

// Parameters collects the PARAMETER lines into the typed map stored in a
// model's params layer: repeated stop lines make a list, other repeats
// keep the last value.
func (mf *Modelfile) Parameters() (map[string]any, error) {
	out := map[string]any{}
	for _, c := range mf.Commands {
		switch c.Name {
		case "model", "adapter", "template", "system", "license", "message":
			continue
		}
		v, err := ParseParameter(c.Name, c.Args)
		if err != nil {
			return nil, err
		}
		if v == nil {
			continue
		}
		if c.Name == "stop" {
			prev, _ := out["stop"].([]string)
			out["stop"] = append(prev, v.(string))
			continue
		}
		out[c.Name] = v
	}
	return out, nil
}

// NormalizeParameters converts a decoded params layer (JSON numbers as
// float64, lists as []any) to the types ParseParameter returns: int,
// float64, bool and []string for stop. Unknown keys keep their value.
func NormalizeParameters(in map[string]any) map[string]any {
	out := make(map[string]any, len(in))
	for k, v := range in {
		kind, known := parameters[k]
		switch {
		case !known:
			out[k] = v
		case kind == kindInt:
			if f, ok := v.(float64); ok {
				out[k] = int(f)
			} else {
				out[k] = v
			}
		case kind == kindStrings:
			switch x := v.(type) {
			case []any:
				var ss []string
				for _, e := range x {
					ss = append(ss, fmt.Sprint(e))
				}
				out[k] = ss
			case string:
				out[k] = []string{x}
			default:
				out[k] = v
			}
		default:
			out[k] = v
		}
	}
	return out
}

// Message is one MESSAGE of a Modelfile, stored in the messages layer.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Messages returns the MESSAGE lines in order.
func (mf *Modelfile) Messages() []Message {
	var out []Message
	for _, c := range mf.Commands {
		if c.Name == "message" {
			role, content, _ := strings.Cut(c.Args, ": ")
			out = append(out, Message{Role: role, Content: content})
		}
	}
	return out
}

// formatParameters renders parameters as `show --parameters` prints them:
// name padded to 30 columns, then the value Go-quoted, one line per stop.
func formatParameters(params map[string]any) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var lines []string
	for _, k := range keys {
		switch v := params[k].(type) {
		case []string:
			for _, s := range v {
				lines = append(lines, fmt.Sprintf("%-30s %s", k, strconv.Quote(s)))
			}
		case string:
			lines = append(lines, fmt.Sprintf("%-30s %s", k, strconv.Quote(v)))
		default:
			lines = append(lines, fmt.Sprintf("%-30s %v", k, v))
		}
	}
	return strings.Join(lines, "\n")
}

// paramCommands renders parameters as PARAMETER commands, sorted by name.
func paramCommands(params map[string]any) []Command {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []Command
	for _, k := range keys {
		switch v := params[k].(type) {
		case []string:
			for _, s := range v {
				out = append(out, Command{Name: k, Args: s})
			}
		default:
			out = append(out, Command{Name: k, Args: fmt.Sprint(v)})
		}
	}
	return out
}

// encodeParams is the params layer's JSON: keys sorted, values typed.
func encodeParams(params map[string]any) ([]byte, error) {
	return json.Marshal(params)
}

// scanLines is used by show to take the first lines of a text.
func scanLines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}
