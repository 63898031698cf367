package grammar

import (
	"fmt"
	"sync"
)

// States of the plain string-content automaton (built by hand so that the
// key matcher can tell when it is inside an escape).
const (
	psBody = iota // between characters: the only accepting state
	psEsc         // after '\'
	psU           // after \u
	psUD          // after \uD: the next digit must keep it out of the surrogates
	psH3          // three hex digits to go
	psH2
	psH1
	psT1 // UTF-8: one continuation byte to go
	psT2
	psT3
	psE0 // after E0: A0-BF
	psED // after ED: 80-9F (no surrogates)
	psF0 // after F0: 90-BF
	psF4 // after F4: 80-8F
	psCount
)

// plainContent is the content of any JSON string: unescaped characters
// other than '"', '\\', control characters and DEL, well-formed UTF-8
// only, and every JSON escape except surrogate \u escapes (a character
// outside the BMP is written in UTF-8 instead).
func plainContent() *table {
	t := &table{}
	for s := 0; s < psCount; s++ {
		t.add(s == psBody, s == psBody)
	}
	set := func(s int, lo, hi byte, to int) {
		for b := int(lo); b <= int(hi); b++ {
			t.next[s][b] = int32(to)
		}
	}
	set(psBody, 0x20, 0x7E, psBody)
	set(psBody, '"', '"', -1)
	set(psBody, '\\', '\\', psEsc)
	set(psBody, 0xC2, 0xDF, psT1)
	set(psBody, 0xE0, 0xE0, psE0)
	set(psBody, 0xE1, 0xEC, psT2)
	set(psBody, 0xED, 0xED, psED)
	set(psBody, 0xEE, 0xEF, psT2)
	set(psBody, 0xF0, 0xF0, psF0)
	set(psBody, 0xF1, 0xF3, psT3)
	set(psBody, 0xF4, 0xF4, psF4)
	for _, c := range []byte(`"\/bfnrt`) {
		set(psEsc, c, c, psBody)
	}
	set(psEsc, 'u', 'u', psU)
	hex := func(s, to int) {
		set(s, '0', '9', to)
		set(s, 'a', 'f', to)
		set(s, 'A', 'F', to)
	}
	hex(psU, psH3)
	set(psU, 'd', 'd', psUD)
	set(psU, 'D', 'D', psUD)
	set(psUD, '0', '7', psH2)
	hex(psH3, psH2)
	hex(psH2, psH1)
	hex(psH1, psBody)
	set(psT1, 0x80, 0xBF, psBody)
	set(psT2, 0x80, 0xBF, psT1)
	set(psT3, 0x80, 0xBF, psT2)
	set(psE0, 0xA0, 0xBF, psT1)
	set(psED, 0x80, 0x9F, psT1)
	set(psF0, 0x90, 0xBF, psT2)
	set(psF4, 0x80, 0x8F, psT2)
	return t
}

func inEscape(s int32) bool { return s >= psEsc && s <= psH1 }

// keyContent is the plain content automaton with its state numbers kept
// (not trimmed: every state is live), for object keys.
var keyContent = sync.OnceValue(func() *dfa {
	d, err := plainContent().compress()
	if err != nil {
		panic("grammar: plain string automaton: " + err.Error())
	}
	return d
})

// compress groups bytes into classes without renumbering states.
func (t *table) compress() (*dfa, error) {
	return t.compileKeep()
}

// Formats are written as patterns over the decoded string. Unknown formats
// are annotations and are ignored, as JSON Schema allows.
const (
	rxDate = `(?:\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)|02-(?:0[1-9]|1\d|2[0-8]))` +
		`|(?:\d\d(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29)`
	rxTime  = `(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,9})?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)`
	rxLabel = `[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?`
	rxOctet = `(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)`
)

var formats = map[string]string{
	"date":      `^` + rxDate + `$`,
	"time":      `^` + rxTime + `$`,
	"date-time": `^` + rxDate + `T` + rxTime + `$`,
	"uuid":      `^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`,
	"email":     `^[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*@` + rxLabel + `(?:\.` + rxLabel + `)+$`,
	"hostname":  `^` + rxLabel + `(?:\.` + rxLabel + `)*$`,
	"ipv4":      `^` + rxOctet + `(?:\.` + rxOctet + `){3}$`,
}

// formatTables caches the compiled content tables of the formats.
var formatTables sync.Map // name -> *table

func formatTable(name string) (*table, bool, error) {
	pat, ok := formats[name]
	if !ok {
		return nil, false, nil
	}
	if t, ok := formatTables.Load(name); ok {
		return t.(*table), true, nil
	}
	t, err := regexTable(pat)
	if err != nil {
		return nil, true, fmt.Errorf("grammar: internal error in format %q: %w", name, err)
	}
	formatTables.Store(name, t)
	return t, true, nil
}

// stringDFA builds the automaton of a whole JSON string (quotes included)
// whose content follows content and has minLen..maxLen characters.
func stringDFA(content *table, minLen, maxLen int) (*dfa, error) {
	if minLen == 0 && maxLen < 0 {
		return content.quoted().compile()
	}
	c, err := content.compile()
	if err != nil {
		return nil, err
	}
	return lengthDFA(c, minLen, maxLen)
}

// plainStringDFA is the automaton of any JSON string.
var plainStringDFA = sync.OnceValue(func() *dfa {
	d, err := plainContent().quoted().compile()
	if err != nil {
		panic("grammar: plain string automaton: " + err.Error())
	}
	return d
})
