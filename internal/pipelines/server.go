package pipelines

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Handler returns the Pipelines protocol server. Every endpoint requires
// "Authorization: Bearer <APIKey>", except the probes /healthz and /readyz.
// Routes are answered with and without a
// /v1 prefix, as Open WebUI's Pipelines does, so the handler can be served
// at the root (golem pipelines) or mounted under a prefix with
// http.StripPrefix (golem serve).
func (m *Manager) Handler() http.Handler {
	return http.HandlerFunc(m.serveHTTP)
}

func (m *Manager) serveHTTP(w http.ResponseWriter, r *http.Request) {
	// The probes of an orchestrator carry no key: /healthz (the process
	// answers) and /readyz (the pipelines are loaded, which Open has done)
	// answer without one and tell nothing about the pipelines.
	if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
		if allow(w, r, "GET", "HEAD") {
			writeJSON(w, http.StatusOK, map[string]any{"status": true})
		}
		return
	}
	if !m.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="pipelines"`)
		writeDetail(w, http.StatusUnauthorized, "Invalid API key")
		return
	}
	p := r.URL.Path
	if p == "/v1" || strings.HasPrefix(p, "/v1/") {
		p = p[len("/v1"):]
	}
	p = strings.TrimSuffix(p, "/")
	switch p {
	case "":
		if allow(w, r, "GET") {
			writeJSON(w, http.StatusOK, map[string]any{"status": true})
		}
		return
	case "/models":
		if allow(w, r, "GET") {
			m.serveModels(w, r)
		}
		return
	case "/chat/completions":
		if allow(w, r, "POST") {
			m.serveChat(w, r)
		}
		return
	case "/pipelines":
		if allow(w, r, "GET") {
			writeJSON(w, http.StatusOK, map[string]any{"data": nonNil(m.List())})
		}
		return
	case "/pipelines/add":
		if allow(w, r, "POST") {
			m.serveAdd(w, r)
		}
		return
	case "/pipelines/upload":
		if allow(w, r, "POST") {
			m.serveUpload(w, r)
		}
		return
	case "/pipelines/delete":
		if allow(w, r, "DELETE", "POST") {
			m.serveDelete(w, r)
		}
		return
	case "/pipelines/reload":
		if allow(w, r, "POST") {
			if err := m.Reload(r.Context()); err != nil {
				writeError(w, err)
				return
			}
			writeJSON(w, http.StatusOK, map[string]any{"message": "Pipelines reloaded successfully."})
		}
		return
	}
	seg := strings.Split(strings.TrimPrefix(p, "/"), "/")
	switch {
	case len(seg) == 2 && seg[1] == "valves":
		if allow(w, r, "GET") {
			data, err := m.Valves(seg[0])
			m.writeResult(w, data, err)
		}
	case len(seg) == 3 && seg[1] == "valves" && seg[2] == "spec":
		if allow(w, r, "GET") {
			data, err := m.ValvesSpec(seg[0])
			m.writeResult(w, data, err)
		}
	case len(seg) == 3 && seg[1] == "valves" && seg[2] == "update":
		if allow(w, r, "POST") {
			body, ok := m.readBody(w, r)
			if ok {
				data, err := m.UpdateValves(r.Context(), seg[0], body)
				m.writeResult(w, data, err)
			}
		}
	case len(seg) == 3 && seg[1] == "filter" && (seg[2] == "inlet" || seg[2] == "outlet"):
		if allow(w, r, "POST") {
			body, ok := m.readBody(w, r)
			if !ok {
				return
			}
			if seg[2] == "inlet" {
				data, err := m.Inlet(r.Context(), seg[0], body)
				m.writeResult(w, data, err)
			} else {
				data, err := m.Outlet(r.Context(), seg[0], body)
				m.writeResult(w, data, err)
			}
		}
	default:
		writeDetail(w, http.StatusNotFound, "Not Found")
	}
}

// authorized checks the bearer token in constant time.
func (m *Manager) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	const prefix = "bearer "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return false
	}
	tok := strings.TrimSpace(h[len(prefix):])
	return subtle.ConstantTimeCompare([]byte(tok), []byte(m.opts.APIKey)) == 1
}

func allow(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	writeDetail(w, http.StatusMethodNotAllowed, "Method Not Allowed")
	return false
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (m *Manager) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, m.lim.MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeDetail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", m.lim.MaxBody))
		} else {
			writeDetail(w, http.StatusBadRequest, "reading the request: "+err.Error())
		}
		return nil, false
	}
	return data, true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		writeDetail(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeRaw(w, status, data)
}

func writeRaw(w http.ResponseWriter, status int, data []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(data)
}

// writeDetail writes an error the way FastAPI (and so Open WebUI's
// Pipelines) does: {"detail": "..."}.
func writeDetail(w http.ResponseWriter, status int, detail string) {
	writeJSON(w, status, map[string]string{"detail": detail})
}

// statusOf maps an error to its HTTP status.
func statusOf(err error) int {
	var br *BadRequest
	var nf *NotFound
	var se *ScriptError
	switch {
	case errors.As(err, &br):
		return http.StatusBadRequest
	case errors.As(err, &nf):
		return http.StatusNotFound
	case errors.As(err, &se) && se.Blocked:
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

func writeError(w http.ResponseWriter, err error) {
	writeDetail(w, statusOf(err), err.Error())
}

func (m *Manager) writeResult(w http.ResponseWriter, data []byte, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	writeRaw(w, http.StatusOK, data)
}

func (m *Manager) serveModels(w http.ResponseWriter, r *http.Request) {
	now := time.Now().Unix()
	data := []map[string]any{}
	for _, md := range m.Models(r.Context()) {
		pl := map[string]any{"type": md.Type, "valves": md.Valves}
		if md.Type == KindFilter {
			pl["pipelines"] = nonNil(md.Targets)
			pl["priority"] = md.Priority
		}
		data = append(data, map[string]any{
			"id": md.ID, "name": md.Name, "object": "model", "created": now, "owned_by": "openai",
			"pipeline": pl,
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "object": "list", "pipelines": true})
}

func (m *Manager) serveAdd(w http.ResponseWriter, r *http.Request) {
	body, ok := m.readBody(w, r)
	if !ok {
		return
	}
	var form struct {
		URL string `json:"url"`
	}
	if err := json.Unmarshal(body, &form); err != nil || form.URL == "" {
		writeDetail(w, http.StatusBadRequest, `expected {"url": "..."}`)
		return
	}
	info, err := m.InstallURL(r.Context(), form.URL)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": true, "detail": fmt.Sprintf("Pipeline added successfully from %s", form.URL), "id": info.ID})
}

func (m *Manager) serveUpload(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, int64(m.lim.MaxScript)+64<<10)
	f, hdr, err := r.FormFile("file")
	if err != nil {
		writeDetail(w, http.StatusBadRequest, "expected a multipart form with the pipeline in its file field: "+err.Error())
		return
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, int64(m.lim.MaxScript)+1))
	if err != nil {
		writeDetail(w, http.StatusBadRequest, "reading the upload: "+err.Error())
		return
	}
	if len(src) > m.lim.MaxScript {
		writeDetail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("a pipeline file may be at most %d bytes", m.lim.MaxScript))
		return
	}
	info, err := m.Install(r.Context(), hdr.Filename, src)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": true, "detail": fmt.Sprintf("Pipeline uploaded successfully to %s.star", info.ID), "id": info.ID})
}

func (m *Manager) serveDelete(w http.ResponseWriter, r *http.Request) {
	body, ok := m.readBody(w, r)
	if !ok {
		return
	}
	var form struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &form); err != nil || form.ID == "" {
		writeDetail(w, http.StatusBadRequest, `expected {"id": "..."}`)
		return
	}
	if err := m.Delete(form.ID); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": true, "detail": fmt.Sprintf("Pipeline %s deleted successfully", form.ID)})
}

// serveChat answers /v1/chat/completions in OpenAI's format: a
// chat.completion object, or with "stream" (the default, as in Open
// WebUI's Pipelines) server-sent chat.completion.chunk events ending with
// "data: [DONE]".
func (m *Manager) serveChat(w http.ResponseWriter, r *http.Request) {
	body, ok := m.readBody(w, r)
	if !ok {
		return
	}
	var head struct {
		Model  string `json:"model"`
		Stream *bool  `json:"stream"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		writeDetail(w, http.StatusBadRequest, "bad chat request: "+err.Error())
		return
	}
	stream := head.Stream == nil || *head.Stream
	id := head.Model + "-" + randomID()
	created := time.Now().Unix()
	chunk := func(delta map[string]any, finish any) []byte {
		b, _ := json.Marshal(map[string]any{
			"id": id, "object": "chat.completion.chunk", "created": created, "model": head.Model,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "logprobs": nil, "finish_reason": finish}},
		})
		return b
	}

	var text strings.Builder
	started := false
	flusher, _ := w.(http.Flusher)
	send := func(data []byte) error {
		if !started {
			w.Header().Set("Content-Type", "text/event-stream")
			w.Header().Set("Cache-Control", "no-cache")
			w.Header().Set("X-Accel-Buffering", "no")
			w.WriteHeader(http.StatusOK)
			started = true
		}
		if _, err := fmt.Fprintf(w, "data: %s\n\n", data); err != nil {
			return err
		}
		if flusher != nil {
			flusher.Flush()
		}
		return nil
	}
	first := true
	onChunk := func(s string) error {
		if s == "" {
			return nil
		}
		if !stream {
			if text.Len()+len(s) > m.lim.MaxString {
				return fmt.Errorf("the answer is longer than %d bytes", m.lim.MaxString)
			}
			text.WriteString(s)
			return nil
		}
		delta := map[string]any{"content": s}
		if first {
			delta["role"] = "assistant"
			first = false
		}
		return send(chunk(delta, nil))
	}

	// A script abandoned at its time limit may still call emit; once the
	// handler is done with the pipe, its chunks are dropped instead of
	// written to a response that is finished.
	var wmu sync.Mutex
	closed := false
	guarded := func(s string) error {
		wmu.Lock()
		defer wmu.Unlock()
		if closed {
			return errors.New("the response is already finished")
		}
		return onChunk(s)
	}
	raw, err := m.Complete(r.Context(), body, guarded)
	wmu.Lock()
	closed = true
	wmu.Unlock()
	if err != nil {
		if started {
			b, _ := json.Marshal(map[string]any{"error": map[string]any{"message": err.Error()}})
			send(b)
			send([]byte("[DONE]"))
			return
		}
		writeError(w, err)
		return
	}
	if raw != nil {
		if !stream {
			writeRaw(w, http.StatusOK, raw)
			return
		}
		// A whole response from a streaming request: send its text as one chunk.
		var resp struct {
			Choices []struct {
				Message struct {
					Content string `json:"content"`
				} `json:"message"`
			} `json:"choices"`
		}
		if json.Unmarshal(raw, &resp) == nil && len(resp.Choices) > 0 {
			onChunk(resp.Choices[0].Message.Content)
		}
	}
	if stream {
		send(chunk(map[string]any{}, "stop"))
		send([]byte("[DONE]"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id": id, "object": "chat.completion", "created": created, "model": head.Model,
		"choices": []any{map[string]any{
			"index": 0, "message": map[string]any{"role": "assistant", "content": text.String()},
			"logprobs": nil, "finish_reason": "stop",
		}},
	})
}

func randomID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
