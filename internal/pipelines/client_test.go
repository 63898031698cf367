package pipelines

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// standIn is a Pipelines server written in the test from the protocol's
// description (not from this package's server): Open WebUI's model list
// with pipeline objects, filters that append their id to the last message
// (or block), and the management routes, all behind a bearer key.
type standIn struct {
	srv *httptest.Server

	mu       sync.Mutex
	calls    []string
	uploaded map[string]string
	valves   map[string]any
}

func newStandIn(t *testing.T) *standIn {
	s := &standIn{uploaded: map[string]string{}, valves: map[string]any{"limit": 10}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *standIn) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer secret" {
		w.WriteHeader(401)
		json.NewEncoder(w).Encode(map[string]any{"detail": "Invalid API key"})
		return
	}
	s.mu.Lock()
	s.calls = append(s.calls, r.Method+" "+r.URL.Path)
	s.mu.Unlock()
	reply := func(v any) { json.NewEncoder(w).Encode(v) }
	filter := func(id string, prio int, targets ...string) map[string]any {
		return map[string]any{"id": id, "name": id, "object": "model", "created": 1, "owned_by": "openai",
			"pipeline": map[string]any{"type": "filter", "pipelines": targets, "priority": prio, "valves": true}}
	}
	switch p := r.URL.Path; {
	case p == "/models":
		reply(map[string]any{"object": "list", "pipelines": true, "data": []any{
			filter("f_high", 2, "m"),
			map[string]any{"id": "my_pipe", "name": "My pipe", "object": "model", "pipeline": map[string]any{"type": "pipe", "valves": false}},
			filter("f_other", 0, "other"),
			filter("f_low", 0, "m", "x"),
			filter("f_star", 1, "*"),
			map[string]any{"id": "mani.a", "name": "Mani A", "object": "model", "pipeline": map[string]any{"type": "manifold", "valves": false}},
		}})
	case strings.HasSuffix(p, "/filter/inlet") || strings.HasSuffix(p, "/filter/outlet"):
		id := strings.Split(strings.Trim(p, "/"), "/")[0]
		var form struct {
			Body map[string]any `json:"body"`
			User map[string]any `json:"user"`
		}
		json.NewDecoder(r.Body).Decode(&form)
		if id == "blocker" {
			w.WriteHeader(500)
			reply(map[string]any{"detail": "Rate limit exceeded for " + form.User["id"].(string)})
			return
		}
		msgs := form.Body["messages"].([]any)
		last := msgs[len(msgs)-1].(map[string]any)
		last["content"] = last["content"].(string) + " +" + id
		reply(form.Body)
	case p == "/pipelines":
		reply(map[string]any{"data": []any{map[string]any{"id": "f_low", "name": "Low", "type": "filter", "valves": true}}})
	case p == "/pipelines/add":
		var form struct{ URL string }
		json.NewDecoder(r.Body).Decode(&form)
		if !strings.HasSuffix(form.URL, ".star") {
			w.WriteHeader(400)
			reply(map[string]any{"detail": "URL must point to a pipeline file"})
			return
		}
		reply(map[string]any{"status": true})
	case p == "/pipelines/upload":
		f, h, err := r.FormFile("file")
		if err != nil {
			w.WriteHeader(400)
			return
		}
		b, _ := io.ReadAll(f)
		s.mu.Lock()
		s.uploaded[h.Filename] = string(b)
		s.mu.Unlock()
		reply(map[string]any{"status": true})
	case p == "/pipelines/delete" && r.Method == "DELETE":
		var form struct{ ID string }
		json.NewDecoder(r.Body).Decode(&form)
		if form.ID != "f_low" {
			w.WriteHeader(404)
			reply(map[string]any{"detail": "Pipeline " + form.ID + " not found"})
			return
		}
		reply(map[string]any{"status": true})
	case p == "/pipelines/reload" && r.Method == "POST":
		reply(map[string]any{"message": "Pipelines reloaded successfully."})
	case p == "/f_low/valves":
		reply(s.valves)
	case p == "/f_low/valves/spec":
		reply(map[string]any{"title": "Valves", "type": "object", "properties": map[string]any{"limit": map[string]any{"title": "Limit", "type": "integer"}}})
	case p == "/f_low/valves/update" && r.Method == "POST":
		var v map[string]any
		json.NewDecoder(r.Body).Decode(&v)
		s.valves = v
		reply(v)
	default:
		w.WriteHeader(404)
		reply(map[string]any{"detail": "Not Found"})
	}
}

func TestClientAgainstStandIn(t *testing.T) {
	s := newStandIn(t)
	ctx := context.Background()
	c := NewClient(s.srv.URL+"/", "secret")

	ml, err := c.Models(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !ml.Pipelines || len(ml.Data) != 6 {
		t.Fatalf("models: %+v", ml)
	}
	// Filters for model m, in priority order; the filter for another
	// model and the pipes are left out.
	var order []string
	for _, f := range FiltersFor(ml.Data, "m") {
		order = append(order, f.ID)
	}
	if strings.Join(order, " ") != "f_low f_star f_high" {
		t.Fatalf("filters for m: %v", order)
	}
	if got := FiltersFor(ml.Data, "other"); len(got) != 2 || got[0].ID != "f_other" || got[1].ID != "f_star" {
		t.Fatalf("filters for other: %+v", got)
	}
	// Pipe and manifold models are recognised as such.
	kinds := map[string]string{}
	for _, m := range ml.Data {
		kinds[m.ID] = m.Pipeline.Type
	}
	if kinds["my_pipe"] != "pipe" || kinds["mani.a"] != "manifold" {
		t.Fatalf("kinds: %v", kinds)
	}

	// Chaining inlets in that order.
	body := json.RawMessage(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`)
	user := &User{ID: "u1", Role: "user"}
	for _, f := range FiltersFor(ml.Data, "m") {
		if body, err = c.Inlet(ctx, f.ID, body, user); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(string(body), `"content":"hi +f_low +f_star +f_high"`) {
		t.Fatalf("chained inlets: %s", body)
	}
	out, err := c.Outlet(ctx, "f_low", body, user)
	if err != nil || !strings.Contains(string(out), "+f_high +f_low") {
		t.Fatalf("outlet: %s %v", out, err)
	}
	// A blocking filter: the message for the user is in the error.
	_, err = c.Inlet(ctx, "blocker", body, user)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 500 || ae.Detail != "Rate limit exceeded for u1" {
		t.Fatalf("blocked: %v", err)
	}

	// Management.
	list, err := c.Pipelines(ctx)
	if err != nil || len(list) != 1 || list[0].ID != "f_low" || list[0].Type != "filter" || !list[0].Valves {
		t.Fatalf("pipelines: %+v %v", list, err)
	}
	if err := c.Add(ctx, "https://example.com/x.star"); err != nil {
		t.Fatal(err)
	}
	if err := c.Add(ctx, "https://example.com/x.html"); !errors.As(err, &ae) || ae.Status != 400 || !strings.Contains(ae.Detail, "pipeline file") {
		t.Fatalf("bad add: %v", err)
	}
	if err := c.Upload(ctx, "mine.star", strings.NewReader("def pipe(b, u): return 'x'")); err != nil {
		t.Fatal(err)
	}
	if s.uploaded["mine.star"] != "def pipe(b, u): return 'x'" {
		t.Fatalf("uploaded: %v", s.uploaded)
	}
	if err := c.Delete(ctx, "f_low"); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, "nope"); !errors.As(err, &ae) || ae.Status != 404 {
		t.Fatalf("delete unknown: %v", err)
	}
	if err := c.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	v, err := c.Valves(ctx, "f_low")
	if err != nil || v["limit"] != float64(10) {
		t.Fatalf("valves: %v %v", v, err)
	}
	spec, err := c.ValvesSpec(ctx, "f_low")
	if err != nil || spec["properties"].(map[string]any)["limit"].(map[string]any)["type"] != "integer" {
		t.Fatalf("spec: %v %v", spec, err)
	}
	v, err = c.UpdateValves(ctx, "f_low", map[string]any{"limit": 3})
	if err != nil || v["limit"] != float64(3) || s.valves["limit"] != float64(3) {
		t.Fatalf("update: %v %v", v, err)
	}

	// The wrong key: 401 from every call.
	bad := NewClient(s.srv.URL, "wrong")
	if _, err := bad.Models(ctx); !errors.As(err, &ae) || ae.Status != 401 || ae.Detail != "Invalid API key" {
		t.Fatalf("wrong key: %v", err)
	}
	want := []string{"GET /models", "POST /f_low/filter/inlet", "POST /f_star/filter/inlet", "POST /f_high/filter/inlet", "POST /f_low/filter/outlet"}
	if !reflect.DeepEqual(s.calls[:5], want) {
		t.Fatalf("calls: %v", s.calls)
	}
}

// The client also drives this package's server: the same chaining with
// real pipelines.
func TestClientAgainstOwnServer(t *testing.T) {
	f := newFixture(t, "", Options{}, map[string]string{
		"echo": echoPipe, "tagger": tagFilter,
		"shout": "\"\"\"\nkind: filter\npriority: 1\n\"\"\"\ndef inlet(body, user):\n    body[\"messages\"][-1][\"content\"] += \"!\"\n",
	})
	ctx := context.Background()
	c := NewClient(f.url+"/v1", testKey)
	ml, err := c.Models(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, m := range FiltersFor(ml.Data, "echo") {
		order = append(order, m.ID)
	}
	if strings.Join(order, " ") != "shout tagger" {
		t.Fatalf("filters for echo: %v", order)
	}
	body := json.RawMessage(`{"model":"echo","messages":[{"role":"user","content":"hi"}]}`)
	for _, id := range order {
		if body, err = c.Inlet(ctx, id, body, &User{ID: "u"}); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(string(body), `"content":"hi! [tagged]"`) {
		t.Fatalf("chained: %s", body)
	}
	if err := c.Upload(ctx, "up.star", strings.NewReader(multiManifold)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateValves(ctx, "tagger", map[string]any{"times": "x"}); err == nil {
		t.Fatal("a bad valve was accepted")
	}
}
