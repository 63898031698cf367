package api

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestParseHost(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", "http://127.0.0.1:11434"},
		{"0.0.0.0", "http://0.0.0.0:11434"},
		{":8080", "http://:8080"},
		{"localhost", "http://localhost:11434"},
		{"example.com:1234", "http://example.com:1234"},
		{"http://example.com", "http://example.com:80"},
		{"https://example.com", "https://example.com:443"},
		{"https://example.com:8443/golem", "https://example.com:8443/golem"},
		{"[::1]:9000", "http://[::1]:9000"},
		{"::1", "http://[::1]:11434"},
		{" 127.0.0.1:5000 ", "http://127.0.0.1:5000"},
	}
	for _, c := range cases {
		u, err := ParseHost(c.in)
		if err != nil || u.String() != c.want {
			t.Errorf("ParseHost(%q) = %v, %v; want %s", c.in, u, err, c.want)
		}
	}
	for _, bad := range []string{"ftp://x", "host:99999", "host:port"} {
		if _, err := ParseHost(bad); err == nil {
			t.Errorf("ParseHost(%q) accepted", bad)
		}
	}
	// A client of a server on every interface connects over loopback.
	u, _ := ParseHost("0.0.0.0:7000")
	if c := NewClient(u, nil, ""); c.Base().Host != "127.0.0.1:7000" {
		t.Errorf("client base %s", c.Base())
	}
}

func TestDuration(t *testing.T) {
	cases := []struct {
		in   string
		want time.Duration
	}{
		{`"5m"`, 5 * time.Minute}, {`300`, 300 * time.Second}, {`0`, 0}, {`"0"`, 0}, {`-1`, -1}, {`"-1"`, -1},
		{`"-5m"`, -1}, {`1.5`, 1500 * time.Millisecond}, {`"1h30m"`, 90 * time.Minute}, {`1e300`, -1},
	}
	for _, c := range cases {
		var d Duration
		if err := json.Unmarshal([]byte(c.in), &d); err != nil || d.Duration != c.want {
			t.Errorf("%s: %v, %v; want %v", c.in, d.Duration, err, c.want)
		}
	}
	for _, bad := range []string{`"soon"`, `true`, `[1]`, `"5 minutes"`} {
		var d Duration
		if err := json.Unmarshal([]byte(bad), &d); err == nil {
			t.Errorf("%s accepted as %v", bad, d.Duration)
		}
	}
	for d, want := range map[time.Duration]string{-1: "-1", 5 * time.Minute: `"5m0s"`} {
		b, _ := json.Marshal(Duration{d})
		if string(b) != want {
			t.Errorf("marshal %v = %s, want %s", d, b, want)
		}
	}
}

func TestThinkAndArguments(t *testing.T) {
	var r ChatRequest
	if err := json.Unmarshal([]byte(`{"think": "high", "messages": [{"role": "assistant", "tool_calls": [
		{"function": {"name": "f", "arguments": {"b": 1, "a": [true]}}},
		{"function": {"name": "g", "arguments": "{\"x\": 2}"}}]}]}`), &r); err != nil {
		t.Fatal(err)
	}
	if !r.Think.Enabled() || r.Think.Level() != "high" {
		t.Fatalf("think %+v", r.Think)
	}
	calls := r.Messages[0].ToolCalls
	if calls[0].Function.Arguments.String() != `{"b":1,"a":[true]}` || calls[1].Function.Arguments.String() != `{"x":2}` {
		t.Fatalf("arguments %s %s", calls[0].Function.Arguments, calls[1].Function.Arguments)
	}
	for _, bad := range []string{`{"think": "max"}`, `{"think": 1}`} {
		if err := json.Unmarshal([]byte(bad), &r); err == nil || !strings.Contains(err.Error(), "think") {
			t.Errorf("%s: %v", bad, err)
		}
	}
	var a Arguments
	if err := a.UnmarshalJSON([]byte(`[1, 2]`)); err == nil {
		t.Error("an array was accepted as arguments")
	}
	if b, _ := json.Marshal(ToolCallFunction{Name: "f"}); !strings.Contains(string(b), `"arguments":{}`) {
		t.Errorf("empty arguments marshal as %s", b)
	}
}
