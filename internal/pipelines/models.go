package pipelines

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// DefaultModelsURL is Golem's OpenAI-compatible API on its default port.
const DefaultModelsURL = "http://127.0.0.1:11434/v1"

func (m *Manager) modelsURL() string {
	u := m.opts.ModelsURL
	if u == "" {
		u = DefaultModelsURL
	}
	return strings.TrimRight(u, "/")
}

// modelsModule is models.*: calls to other models through an
// OpenAI-compatible API, Golem's own unless the script names another URL
// (which must be on the allow-list).
func (m *Manager) modelsModule() *starlarkstruct.Module {
	return &starlarkstruct.Module{Name: "models", Members: starlark.StringDict{
		"list":     starlark.NewBuiltin("models.list", m.modelsList),
		"chat":     starlark.NewBuiltin("models.chat", m.modelsCall),
		"complete": starlark.NewBuiltin("models.complete", m.modelsCall),
		"stream":   starlark.NewBuiltin("models.stream", m.modelsCall),
	}}
}

// modelsEndpoint returns the base URL and key a models.* call uses.
func (m *Manager) modelsEndpoint(fn, rawURL, key string) (string, string, error) {
	if rawURL == "" {
		if key == "" {
			key = m.opts.ModelsAPIKey
		}
		return m.modelsURL(), key, nil
	}
	u, err := m.checkURLOrModels(fn, rawURL)
	if err != nil {
		return "", "", err
	}
	if key == "" && m.isModelsURL(u) {
		key = m.opts.ModelsAPIKey
	}
	return strings.TrimRight(u.String(), "/"), key, nil
}

func (m *Manager) modelsList(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var rawURL, key string
	var timeout starlark.Value = starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "url?", &rawURL, "api_key?", &key, "timeout?", &timeout); err != nil {
		return nil, err
	}
	base, key, err := m.modelsEndpoint(b.Name(), rawURL, key)
	if err != nil {
		return nil, err
	}
	ctx, cancel, err := m.requestContext(thread, timeout, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/models", nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	data, err := m.roundTrip(b.Name(), req)
	if err != nil {
		return nil, err
	}
	v, err := decodeJSON(data, m.lim.MaxElems)
	if err != nil {
		return nil, fmt.Errorf("%s: %s/models: %v", b.Name(), base, err)
	}
	if d, ok := v.(*starlark.Dict); ok {
		if list, found, _ := d.Get(starlark.String("data")); found {
			if _, ok := list.(*starlark.List); ok {
				return list, callOf(thread).charge(int64(len(data)))
			}
		}
	}
	return nil, fmt.Errorf("%s: %s/models did not return a model list", b.Name(), base)
}

// roundTrip sends req and returns the body of a 2xx answer, bounded.
func (m *Manager) roundTrip(fn string, req *http.Request) ([]byte, error) {
	resp, err := m.sandboxClient().Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", fn, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, int64(m.lim.HTTPMaxBody)+1))
	if err != nil {
		return nil, fmt.Errorf("%s: reading the answer: %v", fn, err)
	}
	if len(data) > m.lim.HTTPMaxBody {
		return nil, fmt.Errorf("%s: the answer is larger than the sandbox limit of %d bytes", fn, m.lim.HTTPMaxBody)
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%s: %s answered %d: %s", fn, req.URL.Redacted(), resp.StatusCode, errorDetail(data))
	}
	return data, nil
}

// errorDetail pulls the message out of an OpenAI-style or FastAPI-style
// error body.
func errorDetail(data []byte) string {
	var e struct {
		Error  json.RawMessage `json:"error"`
		Detail json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(data, &e) == nil {
		for _, raw := range []json.RawMessage{e.Error, e.Detail} {
			if len(raw) == 0 {
				continue
			}
			var s string
			if json.Unmarshal(raw, &s) == nil {
				return s
			}
			var obj struct {
				Message string `json:"message"`
			}
			if json.Unmarshal(raw, &obj) == nil && obj.Message != "" {
				return obj.Message
			}
			return string(raw)
		}
	}
	s := strings.TrimSpace(string(data))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// modelsCall implements models.chat, models.complete and models.stream:
// (model=None, messages=None, body=None, url=None, api_key=None, timeout=None).
// body is a whole chat request (for example the one the pipe received);
// model and messages override its fields.
func (m *Manager) modelsCall(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var model, rawURL, key string
	var messages starlark.Value = starlark.None
	var body *starlark.Dict
	var timeout starlark.Value = starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "model?", &model, "messages?", &messages, "body?", &body, "url?", &rawURL, "api_key?", &key, "timeout?", &timeout); err != nil {
		return nil, err
	}
	base, key, err := m.modelsEndpoint(b.Name(), rawURL, key)
	if err != nil {
		return nil, err
	}
	req := map[string]json.RawMessage{}
	var order []string
	if body != nil {
		raw, err := encodeJSON(body, m.lim.HTTPMaxBody)
		if err != nil {
			return nil, fmt.Errorf("%s: body: %v", b.Name(), err)
		}
		if err := json.Unmarshal(raw, &req); err != nil {
			return nil, fmt.Errorf("%s: body: %v", b.Name(), err)
		}
		for _, it := range body.Items() {
			order = append(order, string(it[0].(starlark.String)))
		}
	}
	set := func(k string, v json.RawMessage) {
		if _, ok := req[k]; !ok {
			order = append(order, k)
		}
		req[k] = v
	}
	if model != "" {
		mv, _ := json.Marshal(model)
		set("model", mv)
	}
	if messages != starlark.None {
		raw, err := encodeJSON(messages, m.lim.HTTPMaxBody)
		if err != nil {
			return nil, fmt.Errorf("%s: messages: %v", b.Name(), err)
		}
		set("messages", raw)
	}
	if _, ok := req["model"]; !ok {
		return nil, fmt.Errorf("%s: no model given", b.Name())
	}
	if _, ok := req["messages"]; !ok {
		return nil, fmt.Errorf("%s: no messages given", b.Name())
	}
	stream := b.Name() == "models.stream"
	if stream {
		set("stream", json.RawMessage("true"))
	} else {
		set("stream", json.RawMessage("false"))
	}
	delete(req, "user") // Open WebUI's user record is not part of the OpenAI API
	var payload bytes.Buffer
	payload.WriteByte('{')
	n := 0
	for _, k := range order {
		v, ok := req[k]
		if !ok {
			continue
		}
		if n > 0 {
			payload.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		payload.Write(kb)
		payload.WriteByte(':')
		payload.Write(v)
		n++
	}
	payload.WriteByte('}')

	c := callOf(thread)
	if stream {
		return m.openStream(thread, c, b.Name(), base, key, payload.Bytes())
	}
	ctx, cancel, err := m.requestContext(thread, timeout, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	defer cancel()
	hreq, err := http.NewRequestWithContext(ctx, "POST", base+"/chat/completions", bytes.NewReader(payload.Bytes()))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", b.Name(), err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	if key != "" {
		hreq.Header.Set("Authorization", "Bearer "+key)
	}
	data, err := m.roundTrip(b.Name(), hreq)
	if err != nil {
		return nil, err
	}
	if err := c.charge(int64(len(data))); err != nil {
		return nil, err
	}
	if b.Name() == "models.complete" {
		v, err := decodeJSON(data, m.lim.MaxElems)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", b.Name(), err)
		}
		return v, nil
	}
	var resp struct {
		Choices []struct {
			Message struct {
				Content *string `json:"content"`
			} `json:"message"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(data, &resp); err != nil || len(resp.Choices) == 0 || resp.Choices[0].Message.Content == nil {
		return nil, fmt.Errorf("%s: %s/chat/completions gave no answer: %s", b.Name(), base, errorDetail(data))
	}
	return starlark.String(*resp.Choices[0].Message.Content), nil
}

// chunkStream is the text of a streamed chat completion, chunk by chunk.
// A script can iterate it, or return it from pipe() for the server to
// forward.
type chunkStream struct {
	name   string
	body   io.ReadCloser
	rd     *bufio.Reader
	cancel context.CancelFunc
	max    int // bytes of text in all
	n      int

	thread *starlark.Thread // where errors met while a script iterates go
	c      *call

	mu       sync.Mutex
	finished bool
	iterated bool
}

func (m *Manager) openStream(thread *starlark.Thread, c *call, fn, base, key string, payload []byte) (*chunkStream, error) {
	// A stream may outlive the pipe call that opened it (a pipe returns
	// it for the server to forward), so it hangs off the request.
	parent := context.Background()
	if c != nil {
		parent = c.reqCtx
	}
	ctx, cancel := context.WithTimeout(parent, m.lim.ModelsStream)
	hreq, err := http.NewRequestWithContext(ctx, "POST", base+"/chat/completions", bytes.NewReader(payload))
	if err != nil {
		cancel()
		return nil, fmt.Errorf("%s: %v", fn, err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "text/event-stream")
	if key != "" {
		hreq.Header.Set("Authorization", "Bearer "+key)
	}
	// Wait for the answer's headers no longer than the call may run.
	stop := context.AfterFunc(c.ctxOrBackground(), cancel)
	resp, err := m.sandboxClient().Do(hreq)
	stop()
	if err != nil {
		cancel()
		return nil, fmt.Errorf("%s: %v", fn, err)
	}
	if resp.StatusCode/100 != 2 {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("%s: %s answered %d: %s", fn, hreq.URL.Redacted(), resp.StatusCode, errorDetail(data))
	}
	s := &chunkStream{name: fn, body: resp.Body, rd: bufio.NewReaderSize(resp.Body, 64<<10), cancel: cancel, max: m.lim.MaxString, thread: thread, c: c}
	if c != nil {
		c.addStream(s)
	}
	return s, nil
}

// ctxOrBackground is the call's context, or Background outside a call.
func (c *call) ctxOrBackground() context.Context {
	if c == nil {
		return context.Background()
	}
	return c.ctx
}

// next returns the next piece of text, or io.EOF at the end.
func (s *chunkStream) next() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for !s.finished {
		line, err := readLine(s.rd, 1<<20)
		if err != nil {
			s.finishLocked()
			if err == io.EOF {
				return "", io.EOF
			}
			return "", fmt.Errorf("%s: %v", s.name, err)
		}
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "data:") {
			continue
		}
		data := strings.TrimSpace(line[len("data:"):])
		if data == "[DONE]" {
			s.finishLocked()
			return "", io.EOF
		}
		var chunk struct {
			Choices []struct {
				Delta struct {
					Content string `json:"content"`
				} `json:"delta"`
			} `json:"choices"`
			Error json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal([]byte(data), &chunk); err != nil {
			s.finishLocked()
			return "", fmt.Errorf("%s: bad chunk: %v", s.name, err)
		}
		if len(chunk.Error) > 0 && string(chunk.Error) != "null" {
			s.finishLocked()
			return "", fmt.Errorf("%s: the model failed: %s", s.name, errorDetail([]byte(data)))
		}
		if len(chunk.Choices) == 0 || chunk.Choices[0].Delta.Content == "" {
			continue
		}
		text := chunk.Choices[0].Delta.Content
		s.n += len(text)
		if s.n > s.max {
			s.finishLocked()
			return "", fmt.Errorf("%s: the answer is longer than the sandbox limit of %d bytes", s.name, s.max)
		}
		return text, nil
	}
	return "", io.EOF
}

func readLine(r *bufio.Reader, max int) (string, error) {
	var b strings.Builder
	for {
		frag, err := r.ReadSlice('\n')
		b.Write(frag)
		if b.Len() > max {
			return "", errors.New("a line of the stream is too long")
		}
		if err == nil {
			return b.String(), nil
		}
		if err != bufio.ErrBufferFull {
			if err == io.EOF && b.Len() > 0 {
				return b.String(), nil
			}
			return "", err
		}
	}
}

func (s *chunkStream) finishLocked() {
	if !s.finished {
		s.finished = true
		s.body.Close()
		s.cancel()
	}
}

// close ends the stream early.
func (s *chunkStream) close() {
	s.cancel() // unblocks a read in progress
	s.mu.Lock()
	s.finishLocked()
	s.mu.Unlock()
}

var _ starlark.Iterable = (*chunkStream)(nil)

func (s *chunkStream) String() string        { return "<" + s.name + ">" }
func (s *chunkStream) Type() string          { return "stream" }
func (s *chunkStream) Freeze()               {}
func (s *chunkStream) Truth() starlark.Bool  { return true }
func (s *chunkStream) Hash() (uint32, error) { return 0, errors.New("unhashable: stream") }

// Iterate gives the chunks once; a stream cannot be read twice.
func (s *chunkStream) Iterate() starlark.Iterator {
	s.mu.Lock()
	again := s.iterated
	s.iterated = true
	s.mu.Unlock()
	if again {
		s.fail(errors.New(s.name + ": this stream was already read"))
		return &streamIter{s: nil}
	}
	return &streamIter{s: s}
}

// fail stops the script iterating s with err.
func (s *chunkStream) fail(err error) {
	if s.c == nil || s.thread == nil {
		return
	}
	why := err.Error()
	s.c.why.CompareAndSwap(nil, &why)
	s.thread.Cancel(why)
}

type streamIter struct{ s *chunkStream }

func (it *streamIter) Next(p *starlark.Value) bool {
	if it.s == nil {
		return false
	}
	text, err := it.s.next()
	if err != nil {
		if err != io.EOF {
			it.s.fail(err)
		}
		return false
	}
	if it.s.c != nil {
		if err := it.s.c.charge(int64(len(text))); err != nil {
			it.s.fail(err)
			return false
		}
	}
	*p = starlark.String(text)
	return true
}

func (it *streamIter) Done() {}
