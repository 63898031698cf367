package webui

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

// standInPipelines is a Pipelines server written for the tests from the protocol's description (Open
// WebUI's Pipelines, port 9099), not from Golem's implementation. Every endpoint wants the bearer key.
//
//	GET  /models, /v1/models      {"data": [{id, name, object, pipeline: {type, pipelines, priority, valves}}],
//	                              "object": "list", "pipelines": true}
//	POST /{id}/filter/inlet|outlet {"body": {...}, "user": {...}} -> the body; 400 {"detail"} refuses
//	POST /chat/completions        OpenAI chat completions for its pipes (SSE when "stream": true)
//	GET  /pipelines               {"data": [{id, name, type, valves}]}
//	POST /pipelines/add {"url"}, POST /pipelines/upload (multipart "file"), DELETE /pipelines/delete {"id"},
//	POST /pipelines/reload
//	GET  /{id}/valves, GET /{id}/valves/spec, POST /{id}/valves/update
//
// Its filters mark what passes through them: an inlet appends " >id" to the last user message, an
// outlet " <id" to the answer, so the order they ran in can be read off the text. The filter
// "blocker" refuses a request that says "forbidden" and an answer that says "secret".
type standInPipelines struct {
	name string
	key  string
	log  *callLog

	mu      sync.Mutex
	pipes   []standInPipe
	valves  map[string]map[string]any
	added   []string // URLs given to /pipelines/add
	reloads int
	outlets []map[string]any // bodies the outlets received
	chats   []map[string]any // bodies /chat/completions received
}

type standInPipe struct {
	ID, Name, Type string
	Targets        []string // filters
	Priority       int
	Subs           []string // manifolds
}

// callLog records filter calls of several servers in the order they happen.
type callLog struct {
	mu    sync.Mutex
	calls []string
}

func (l *callLog) add(s string) {
	l.mu.Lock()
	l.calls = append(l.calls, s)
	l.mu.Unlock()
}

// take returns the calls so far and forgets them.
func (l *callLog) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := strings.Join(l.calls, " ")
	l.calls = nil
	return s
}

func (s *standInPipelines) detail(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"detail": msg})
}

func (s *standInPipelines) find(id string) (standInPipe, bool) {
	for _, p := range s.pipes {
		if p.ID == id {
			return p, true
		}
	}
	return standInPipe{}, false
}

func (s *standInPipelines) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+s.key {
		s.detail(w, 401, "Invalid API key")
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/v1")
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case r.Method == "GET" && p == "/models":
		var data []any
		for _, pi := range s.pipes {
			switch pi.Type {
			case "filter":
				data = append(data, map[string]any{"id": pi.ID, "name": pi.Name, "object": "model", "created": time.Now().Unix(),
					"owned_by": "openai", "pipeline": map[string]any{"type": "filter", "pipelines": pi.Targets,
						"priority": pi.Priority, "valves": true}})
			case "pipe":
				data = append(data, map[string]any{"id": pi.ID, "name": pi.Name, "object": "model",
					"owned_by": "openai", "pipeline": map[string]any{"type": "pipe", "valves": false}})
			case "manifold":
				for _, sub := range pi.Subs {
					data = append(data, map[string]any{"id": pi.ID + "." + sub, "name": pi.Name + sub, "object": "model",
						"owned_by": "openai", "pipeline": map[string]any{"type": "manifold", "valves": false}})
				}
			}
		}
		json.NewEncoder(w).Encode(map[string]any{"data": data, "object": "list", "pipelines": true})
	case r.Method == "POST" && (strings.HasSuffix(p, "/filter/inlet") || strings.HasSuffix(p, "/filter/outlet")):
		s.filter(w, r, p)
	case r.Method == "POST" && p == "/chat/completions":
		s.chat(w, r)
	case r.Method == "GET" && p == "/pipelines":
		data := []any{}
		for _, pi := range s.pipes {
			data = append(data, map[string]any{"id": pi.ID, "name": pi.Name, "type": pi.Type, "valves": s.valves[pi.ID] != nil})
		}
		json.NewEncoder(w).Encode(map[string]any{"data": data})
	case r.Method == "POST" && p == "/pipelines/add":
		var form struct{ URL string }
		json.NewDecoder(r.Body).Decode(&form)
		if !strings.HasSuffix(form.URL, ".py") {
			s.detail(w, 400, "Invalid URL: not a Python file")
			return
		}
		s.added = append(s.added, form.URL)
		id := strings.TrimSuffix(path.Base(form.URL), ".py")
		s.pipes = append(s.pipes, standInPipe{ID: id, Name: id, Type: "pipe"})
		json.NewEncoder(w).Encode(map[string]any{"status": true, "detail": "Pipeline added successfully from " + form.URL})
	case r.Method == "POST" && p == "/pipelines/upload":
		f, hdr, err := r.FormFile("file")
		if err != nil {
			s.detail(w, 400, "no file")
			return
		}
		src, _ := io.ReadAll(f)
		if !strings.HasSuffix(hdr.Filename, ".py") {
			s.detail(w, 400, "Only .py files are allowed")
			return
		}
		if strings.Contains(string(src), "syntax error") {
			s.detail(w, 400, "invalid syntax (line 3)")
			return
		}
		id := strings.TrimSuffix(hdr.Filename, ".py")
		s.pipes = append(s.pipes, standInPipe{ID: id, Name: id, Type: "filter", Targets: []string{"*"}, Priority: 9})
		json.NewEncoder(w).Encode(map[string]any{"status": true, "detail": "Pipeline uploaded successfully to ./pipelines/" + hdr.Filename})
	case r.Method == "DELETE" && p == "/pipelines/delete":
		var form struct{ ID string }
		json.NewDecoder(r.Body).Decode(&form)
		for i, pi := range s.pipes {
			if pi.ID == form.ID {
				s.pipes = append(s.pipes[:i], s.pipes[i+1:]...)
				json.NewEncoder(w).Encode(map[string]any{"status": true, "detail": "Pipeline " + form.ID + " deleted successfully"})
				return
			}
		}
		s.detail(w, 404, "Pipeline "+form.ID+" not found")
	case r.Method == "POST" && p == "/pipelines/reload":
		s.reloads++
		json.NewEncoder(w).Encode(map[string]any{"message": "Pipelines reloaded successfully."})
	case r.Method == "GET" && strings.HasSuffix(p, "/valves/spec"):
		id := strings.TrimSuffix(strings.TrimPrefix(p, "/"), "/valves/spec")
		if s.valves[id] == nil {
			s.detail(w, 404, "Pipeline "+id+" not found")
			return
		}
		// Declaration order, not alphabetical: the form follows it.
		io.WriteString(w, `{"title":"Valves","type":"object","properties":{`+
			`"zeta_limit":{"title":"Zeta Limit","type":"integer","default":10,"description":"Requests per minute"},`+
			`"mode":{"title":"Mode","type":"string","enum":["mask","block"],"default":"mask"},`+
			`"alpha_flag":{"title":"Alpha Flag","type":"boolean","default":false},`+
			`"words":{"title":"Words","type":"array","items":{"type":"string"},"default":[]},`+
			`"note":{"title":"Note","default":null,"anyOf":[{"type":"string"},{"type":"null"}]}}}`)
	case r.Method == "GET" && strings.HasSuffix(p, "/valves"):
		id := strings.TrimSuffix(strings.TrimPrefix(p, "/"), "/valves")
		if s.valves[id] == nil {
			s.detail(w, 404, "Pipeline "+id+" not found")
			return
		}
		json.NewEncoder(w).Encode(s.valves[id])
	case r.Method == "POST" && strings.HasSuffix(p, "/valves/update"):
		id := strings.TrimSuffix(strings.TrimPrefix(p, "/"), "/valves/update")
		v := s.valves[id]
		if v == nil {
			s.detail(w, 404, "Pipeline "+id+" not found")
			return
		}
		var in map[string]any
		json.NewDecoder(r.Body).Decode(&in)
		for k, x := range in {
			if _, ok := v[k]; !ok {
				s.detail(w, 400, "unknown valve "+k)
				return
			}
			if k == "zeta_limit" {
				if _, ok := x.(float64); !ok {
					s.detail(w, 400, "zeta_limit: Input should be a valid integer")
					return
				}
			}
		}
		for k, x := range in {
			v[k] = x
		}
		json.NewEncoder(w).Encode(v)
	default:
		s.detail(w, 404, "Not Found")
	}
}

func (s *standInPipelines) filter(w http.ResponseWriter, r *http.Request, p string) {
	id, stage, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/filter/")
	pi, ok := s.find(id)
	if !ok || pi.Type == "manifold" { // this server runs no filter functions of manifolds
		s.detail(w, 404, "Filter "+id+" not found")
		return
	}
	var form struct {
		Body map[string]any `json:"body"`
		User map[string]any `json:"user"`
	}
	if err := json.NewDecoder(r.Body).Decode(&form); err != nil || form.Body == nil {
		s.detail(w, 422, "body: field required")
		return
	}
	s.log.add(fmt.Sprintf("%s:%s:%s", stage, s.name, id))
	msgs, _ := form.Body["messages"].([]any)
	role, mark := "user", " >"+id
	if stage == "outlet" {
		role, mark = "assistant", " <"+id
		cp, _ := json.Marshal(form.Body)
		var rec map[string]any
		json.Unmarshal(cp, &rec)
		rec["user"] = form.User
		s.outlets = append(s.outlets, rec)
	}
	for i := len(msgs) - 1; i >= 0; i-- {
		m, _ := msgs[i].(map[string]any)
		if m == nil || m["role"] != role {
			continue
		}
		text, _ := m["content"].(string)
		if id == "blocker" && stage == "inlet" && strings.Contains(text, "forbidden") {
			s.detail(w, 400, "Blocked: "+fmt.Sprint(form.User["email"])+" may not say that")
			return
		}
		if id == "blocker" && stage == "outlet" && strings.Contains(text, "secret") {
			s.detail(w, 400, "Answer withheld")
			return
		}
		m["content"] = text + mark
		break
	}
	json.NewEncoder(w).Encode(form.Body)
}

// chat answers for its pipes: "<model> got: <last user message>".
func (s *standInPipelines) chat(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	json.NewDecoder(r.Body).Decode(&body)
	s.chats = append(s.chats, body)
	model, _ := body["model"].(string)
	last := ""
	if msgs, ok := body["messages"].([]any); ok && len(msgs) > 0 {
		m, _ := msgs[len(msgs)-1].(map[string]any)
		last, _ = m["content"].(string)
	}
	answer := model + " got: " + last
	if stream, _ := body["stream"].(bool); !stream {
		json.NewEncoder(w).Encode(map[string]any{"id": "chatcmpl-1", "object": "chat.completion", "model": model,
			"choices": []any{map[string]any{"index": 0, "message": map[string]string{"role": "assistant", "content": answer},
				"finish_reason": "stop"}}, "usage": map[string]int{"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	for _, piece := range strings.SplitAfter(answer, " ") {
		b, _ := json.Marshal(map[string]any{"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": model,
			"choices": []any{map[string]any{"index": 0, "delta": map[string]string{"content": piece}}}})
		fmt.Fprintf(w, "data: %s\n\n", b)
	}
	fmt.Fprint(w, "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n")
	fmt.Fprint(w, "data: [DONE]\n\n")
}
