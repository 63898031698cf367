package jinja

import (
	"encoding/json"
	"errors"
	"os"
	"testing"
)

// semanticsFile holds small templates rendered by jinja2 itself (see
// testdata/semantics_gen.py): outputs, or the kind and text of the error.
type semanticsFile struct {
	Vars  json.RawMessage `json:"vars"`
	Cases []struct {
		Name     string  `json:"name"`
		Template string  `json:"template"`
		Expected *string `json:"expected"`
		Error    *struct {
			Kind    string `json:"kind"`
			Message string `json:"message"`
			Line    int    `json:"line"`
		} `json:"error"`
	} `json:"cases"`
}

var errorKinds = map[string]ErrorKind{
	"syntax":    SyntaxError,
	"runtime":   RuntimeError,
	"undefined": UndefinedError,
	"raised":    Raised,
	"security":  SecurityError,
}

// TestSemantics checks Python/jinja2 semantics the chat-template corpus
// does not reach: printing, arithmetic, undefined values, filters, tests,
// loops, macros, Markup, the sandbox and errors.
func TestSemantics(t *testing.T) {
	data, err := os.ReadFile("testdata/semantics.json")
	if err != nil {
		t.Fatal(err)
	}
	var f semanticsFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Cases) < 100 {
		t.Fatalf("only %d cases in semantics.json", len(f.Cases))
	}
	vv, err := FromJSON(f.Vars)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range f.Cases {
		t.Run(c.Name, func(t *testing.T) {
			vars := map[string]Value{}
			d := vv.(*Dict)
			for i, k := range d.Keys() {
				vars[k.(string)] = d.Values()[i]
			}
			tmpl, err := Parse(c.Template)
			var out string
			if err == nil {
				out, err = tmpl.Execute(vars, Config{Now: fixedNow})
			}
			if c.Error == nil {
				if err != nil {
					t.Fatalf("template %q: %v", c.Template, err)
				}
				if out != *c.Expected {
					t.Fatalf("template %q\nwant %q\ngot  %q", c.Template, *c.Expected, out)
				}
				return
			}
			if err == nil {
				t.Fatalf("template %q: want %s error %q, rendered %q", c.Template, c.Error.Kind, c.Error.Message, out)
			}
			var je *Error
			if !errors.As(err, &je) {
				t.Fatalf("error %v is not a *jinja.Error", err)
			}
			if want := errorKinds[c.Error.Kind]; je.Kind != want {
				t.Fatalf("template %q: want %s error %q, got %v", c.Template, c.Error.Kind, c.Error.Message, err)
			}
			switch je.Kind {
			case SyntaxError:
				if c.Error.Line != 0 && je.Line != c.Error.Line {
					t.Fatalf("template %q: error at line %d, want line %d (%v)", c.Template, je.Line, c.Error.Line, err)
				}
			case Raised, UndefinedError, SecurityError:
				if je.Msg != c.Error.Message {
					t.Fatalf("template %q: message %q, want %q", c.Template, je.Msg, c.Error.Message)
				}
			}
		})
	}
}
