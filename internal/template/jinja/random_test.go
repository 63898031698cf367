package jinja

import (
	"encoding/json"
	"os"
	"testing"
)

// TestRandomDifferential renders randomly generated expressions and
// statement blocks (testdata/random_gen.py) and compares with jinja2's
// output, or checks that rendering fails where jinja2 failed.
func TestRandomDifferential(t *testing.T) {
	data, err := os.ReadFile("testdata/random.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Vars  json.RawMessage `json:"vars"`
		Cases []struct {
			Template string  `json:"template"`
			Expected *string `json:"expected"`
			Error    *string `json:"error"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Cases) < 1000 {
		t.Fatalf("only %d cases", len(f.Cases))
	}
	vv, err := FromJSON(f.Vars)
	if err != nil {
		t.Fatal(err)
	}
	d := vv.(*Dict)
	bad := 0
	for _, c := range f.Cases {
		vars := map[string]Value{}
		for i, k := range d.Keys() {
			vars[k.(string)] = d.Values()[i]
		}
		tmpl, err := Parse(c.Template)
		var out string
		if err == nil {
			out, err = tmpl.Execute(vars, Config{Now: fixedNow})
		}
		switch {
		case c.Error != nil && err == nil:
			t.Errorf("template %q: jinja2 failed (%s), rendered %q", c.Template, *c.Error, out)
		case c.Error == nil && err != nil:
			t.Errorf("template %q: %v, jinja2 rendered %q", c.Template, err, *c.Expected)
		case c.Error == nil && out != *c.Expected:
			t.Errorf("template %q:\nwant %q\ngot  %q", c.Template, *c.Expected, out)
		default:
			continue
		}
		if bad++; bad > 10 {
			t.Fatal("too many differences")
		}
	}
}
