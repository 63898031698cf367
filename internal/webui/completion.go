package webui

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/golem-llm/golem/internal/auth"
	"github.com/golem-llm/golem/internal/db"
)

// turn is one message sent to a model.
type turn struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// usage is what a finished generation reports.
type usage struct {
	PromptTokens     int   `json:"prompt_tokens"`
	CompletionTokens int   `json:"completion_tokens"`
	TotalDurationMs  int64 `json:"total_duration_ms,omitempty"`
}

// openaiNames maps a chat's parameters (Ollama's option names) to OpenAI's fields; the rest are Ollama-only.
var openaiNames = map[string]string{
	"temperature": "temperature", "top_p": "top_p", "presence_penalty": "presence_penalty",
	"frequency_penalty": "frequency_penalty", "seed": "seed", "stop": "stop", "num_predict": "max_tokens",
}

// streamChat sends a streaming chat request to the connection and calls delta with each piece of text
// as it arrives. It returns when the model is done, the context ends or the stream fails.
func (h *Handler) streamChat(ctx context.Context, c Connection, model string, turns []turn, params map[string]any,
	delta func(string) error) (*usage, error) {
	var path string
	body := map[string]any{"model": model, "messages": turns, "stream": true}
	if c.Type == typeOllama {
		path = "/api/chat"
		if len(params) > 0 {
			body["options"] = params
		}
	} else {
		path = "/chat/completions"
		for k, v := range params {
			if n, ok := openaiNames[k]; ok {
				body[n] = v
			}
		}
	}
	resp, err := h.upstream(ctx, c, "POST", path, body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, upstreamError(c, path, resp)
	}
	if c.Type == typeOllama {
		return readOllamaStream(resp.Body, delta)
	}
	if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "application/json") {
		return readOpenAIWhole(resp.Body, delta)
	}
	return readOpenAIStream(resp.Body, delta)
}

// readOllamaStream reads Ollama's NDJSON chat stream.
func readOllamaStream(r io.Reader, delta func(string) error) (*usage, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var ch struct {
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
			Done            bool   `json:"done"`
			Error           string `json:"error"`
			PromptEvalCount int    `json:"prompt_eval_count"`
			EvalCount       int    `json:"eval_count"`
			TotalDuration   int64  `json:"total_duration"`
		}
		if err := json.Unmarshal(line, &ch); err != nil {
			return nil, fmt.Errorf("model server sent a bad stream line %q: %v", clip(string(line), 100), err)
		}
		if ch.Error != "" {
			return nil, errors.New(ch.Error)
		}
		if ch.Message.Content != "" {
			if err := delta(ch.Message.Content); err != nil {
				return nil, err
			}
		}
		if ch.Done {
			return &usage{PromptTokens: ch.PromptEvalCount, CompletionTokens: ch.EvalCount,
				TotalDurationMs: ch.TotalDuration / 1e6}, nil
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return nil, errors.New("model server ended the stream before it was done")
}

type openaiChunk struct {
	Choices []struct {
		Delta struct {
			Content string `json:"content"`
		} `json:"delta"`
		Message struct {
			Content string `json:"content"`
		} `json:"message"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
	Error json.RawMessage `json:"error"`
}

func (c *openaiChunk) err() error {
	if len(c.Error) == 0 || string(c.Error) == "null" {
		return nil
	}
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(c.Error, &e) == nil && e.Message != "" {
		return errors.New(e.Message)
	}
	return errors.New(string(c.Error))
}

// readOpenAIStream reads an OpenAI chat-completions SSE stream ("data: {…}" lines, then "data: [DONE]").
func readOpenAIStream(r io.Reader, delta func(string) error) (*usage, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	u := &usage{}
	finished := false
	for sc.Scan() {
		line := sc.Bytes()
		data, ok := bytes.CutPrefix(line, []byte("data:"))
		if !ok {
			continue // event names, comments, blank separators
		}
		data = bytes.TrimSpace(data)
		if string(data) == "[DONE]" {
			return u, nil
		}
		var ch openaiChunk
		if err := json.Unmarshal(data, &ch); err != nil {
			return nil, fmt.Errorf("model server sent a bad event %q: %v", clip(string(data), 100), err)
		}
		if err := ch.err(); err != nil {
			return nil, err
		}
		for _, c := range ch.Choices {
			if c.Delta.Content != "" {
				if err := delta(c.Delta.Content); err != nil {
					return nil, err
				}
			}
			if c.FinishReason != nil && *c.FinishReason != "" {
				finished = true
			}
		}
		if ch.Usage != nil {
			u.PromptTokens, u.CompletionTokens = ch.Usage.PromptTokens, ch.Usage.CompletionTokens
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if finished { // some servers end without [DONE]
		return u, nil
	}
	return nil, errors.New("model server ended the stream before it was done")
}

// readOpenAIWhole reads a non-streamed answer, from servers that ignore "stream": true.
func readOpenAIWhole(r io.Reader, delta func(string) error) (*usage, error) {
	var ch openaiChunk
	if err := json.NewDecoder(io.LimitReader(r, 32<<20)).Decode(&ch); err != nil {
		return nil, fmt.Errorf("model server sent bad JSON: %v", err)
	}
	if err := ch.err(); err != nil {
		return nil, err
	}
	if len(ch.Choices) == 0 {
		return nil, errors.New("model server answered with no choices")
	}
	if err := delta(ch.Choices[0].Message.Content); err != nil {
		return nil, err
	}
	u := &usage{}
	if ch.Usage != nil {
		u.PromptTokens, u.CompletionTokens = ch.Usage.PromptTokens, ch.Usage.CompletionTokens
	}
	return u, nil
}

// resolveModel picks the connection for a model: the given one, or the first that lists the model.
func (h *Handler) resolveModel(ctx context.Context, model, connID string) (Connection, error) {
	if model == "" {
		return Connection{}, errorf(400, "model is required")
	}
	if connID != "" {
		c, err := h.connection(ctx, connID)
		if err != nil {
			return c, err
		}
		if !c.Enabled {
			return c, errorf(400, "connection %q is disabled", connID)
		}
		return c, nil
	}
	ms, _, err := h.allModels(ctx)
	if err != nil {
		return Connection{}, err
	}
	for _, m := range ms {
		if !m.filter && (m.ID == model || m.Name == model) {
			return h.connection(ctx, m.ConnectionID)
		}
	}
	return Connection{}, errorf(404, "model %q is not on any connection", model)
}

// sseWriter writes Server-Sent Events; a mutex lets the keep-alive ticker share it.
type sseWriter struct {
	mu sync.Mutex
	w  http.ResponseWriter
}

func (s *sseWriter) event(name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := fmt.Fprintf(s.w, "event: %s\ndata: %s\n\n", name, b); err != nil {
		return err
	}
	flush(s.w)
	return nil
}

func (s *sseWriter) comment(text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.w, ": %s\n\n", text)
	flush(s.w)
}

// keepAlive comments on the stream every interval until stop is closed, so proxies keep idle streams
// (a model loading, say) open.
func (s *sseWriter) keepAlive(interval time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			s.comment("keep-alive")
		}
	}
}

type completionInput struct {
	ParentID     *string `json:"parent_id"`
	Content      *string `json:"content"`
	Model        string  `json:"model"`
	ConnectionID string  `json:"connection_id"`
}

// chatCompletion stores the user's message (unless regenerating), streams the model's answer to the
// browser as Server-Sent Events and stores it, partial if the browser stops it.
func (h *Handler) chatCompletion(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var in completionInput
	if err := decodeJSON(w, r, &in, maxBody, false); err != nil {
		return err
	}
	ctx := r.Context()
	chat, ms, err := h.chatAndMessages(ctx, p.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	var parent *Message
	if in.ParentID != nil {
		for i := range ms {
			if ms[i].ID == *in.ParentID {
				parent = &ms[i]
			}
		}
		if parent == nil {
			return errorf(400, "parent_id %q is not a message of this chat", *in.ParentID)
		}
	}
	if in.Content == nil {
		if parent == nil || parent.Role != "user" {
			return errorf(400, "regenerate needs parent_id of a user message (or send content)")
		}
	} else if strings.TrimSpace(*in.Content) == "" {
		return errorf(400, "content is empty")
	}
	model, connID := in.Model, in.ConnectionID
	if model == "" {
		model = chat.Model
	}
	if connID == "" && model == chat.Model {
		connID = chat.ConnectionID
	}
	conn, err := h.resolveModel(ctx, model, connID)
	if err != nil {
		return err
	}

	now := time.Now()
	seq := now.UnixNano()
	var user *Message
	parentID := in.ParentID
	if in.Content != nil {
		user = &Message{ID: auth.NewID(), ParentID: in.ParentID, ChildrenIDs: []string{}, Role: "user",
			Content: *in.Content, CreatedAt: now.UnixMilli(), Done: true, seq: seq}
		parentID = &user.ID
	}
	reply := Message{ID: auth.NewID(), ParentID: parentID, ChildrenIDs: []string{}, Role: "assistant", Model: model,
		ConnectionID: conn.ID, CreatedAt: now.UnixMilli(), seq: seq + 1}
	err = h.db.InTx(ctx, func(tx *db.Tx) error {
		if user != nil {
			if err := insertMessage(ctx, tx, chat.ID, *user); err != nil {
				return err
			}
		}
		if err := insertMessage(ctx, tx, chat.ID, reply); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE chats SET current_id = ?, model = ?, connection_id = ?, updated_at = ? WHERE id = ?`,
			reply.ID, model, conn.ID, now.UnixMilli(), chat.ID)
		return err
	})
	if err != nil {
		return err
	}

	// The conversation the model sees: system prompt, then the branch down to the reply's parent.
	var turns []turn
	if chat.System != "" {
		turns = append(turns, turn{Role: "system", Content: chat.System})
	}
	if parent != nil {
		for _, m := range branch(ms, parent.ID) {
			if m.Content != "" {
				turns = append(turns, turn{Role: m.Role, Content: m.Content})
			}
		}
	}
	if user != nil {
		turns = append(turns, turn{Role: "user", Content: user.Content})
	}

	sse := &sseWriter{w: w}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(200)
	sse.event("start", map[string]any{"user_message": user, "assistant_message": reply})
	stop := make(chan struct{})
	go sse.keepAlive(15*time.Second, stop)

	var text strings.Builder
	u, sent, genErr := h.generate(ctx, p, conn, chat, model, reply.ID, turns, func(s string) error {
		text.WriteString(s)
		return sse.event("delta", map[string]string{"content": s})
	}, &text)
	close(stop)

	// The browser may be gone (stop): the answer so far is still saved.
	save, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	reply.Content, reply.Done = text.String(), true
	switch {
	case ctx.Err() != nil:
		reply.Stopped = true
	case genErr != nil:
		reply.Error = genErr.Error()
		var blocked *Blocked
		if errors.As(genErr, &blocked) {
			// A filter refused the request or, at the outlet, the answer: none of it is kept.
			reply.Content = ""
		}
	}
	if u != nil {
		reply.Usage, _ = json.Marshal(u)
	}
	if err := h.saveMessage(save, reply); err != nil {
		h.log.Error("webui: save answer", slog.String("chat", chat.ID), slog.Any("err", err))
		if ctx.Err() == nil {
			sse.event("error", map[string]any{"detail": "saving the answer: " + err.Error(), "message": reply})
		}
		return nil
	}
	if ctx.Err() != nil {
		return nil
	}
	if genErr != nil {
		sse.event("error", map[string]any{"detail": genErr.Error(), "message": reply})
		return nil
	}
	sse.event("done", map[string]any{"message": reply})
	if chat.Title == defaultTitle {
		// The model is asked with the first message as the inlet filters made it (what the model has
		// already seen: a redaction filter's masks stay), without running the filters again, which would
		// count against rate limits; the fallback uses the words as written, which stay here.
		title := h.makeTitle(ctx, conn, model, firstUser(sent), firstUser(turns))
		if _, err := h.db.Exec(ctx, `UPDATE chats SET title = ? WHERE id = ? AND title = ?`, title, chat.ID, defaultTitle); err != nil {
			h.log.Error("webui: save title", slog.String("chat", chat.ID), slog.Any("err", err))
			return nil
		}
		sse.event("title", map[string]string{"title": title})
	}
	return nil
}

// generate runs the inlet filters, streams the answer and runs the outlet filters, which may rewrite
// the text (text holds the final answer afterwards). The outlet sees the conversation as the user wrote
// it (not as the inlet changed it) followed by the answer, with the answer's id, as Open WebUI's
// /chat/completed step passes it.
func (h *Handler) generate(ctx context.Context, p *auth.Principal, conn Connection, chat Chat, model, replyID string,
	turns []turn, delta func(string) error, text *strings.Builder) (*usage, []turn, error) {
	params := chat.Params
	body := map[string]any{"model": model, "messages": append([]turn(nil), turns...), "stream": true,
		"chat_id": chat.ID, "options": params}
	body, err := h.filter(ctx, false, p, conn, model, body)
	if err != nil {
		return nil, nil, err
	}
	sent, params, err := fromBody(body, params)
	if err != nil {
		return nil, nil, fmt.Errorf("pipelines inlet filter: %v", err)
	}
	u, err := h.streamChat(ctx, conn, model, sent, params, delta)
	if err != nil {
		return u, sent, err
	}
	out := map[string]any{"model": model, "chat_id": chat.ID, "id": replyID,
		"messages": append(append([]turn(nil), turns...), turn{Role: "assistant", Content: text.String()})}
	out, err = h.filter(ctx, true, p, conn, model, out)
	if err != nil {
		return u, sent, err
	}
	final, err := lastAssistant(out)
	if err != nil {
		return u, sent, fmt.Errorf("pipelines outlet filter: %v", err)
	}
	if final != text.String() {
		text.Reset()
		text.WriteString(final)
	}
	return u, sent, nil
}

// firstUser is the first user message of a conversation (the last message when there is none).
func firstUser(ts []turn) string {
	for _, t := range ts {
		if t.Role == "user" {
			return t.Content
		}
	}
	if len(ts) > 0 {
		return ts[len(ts)-1].Content
	}
	return ""
}

// lastAssistant is the answer in an outlet filter's body: the content of its last message, which must
// be the assistant's.
func lastAssistant(body map[string]any) (string, error) {
	turns, _, err := fromBody(body, nil)
	if err != nil {
		return "", err
	}
	last := turns[len(turns)-1]
	if last.Role != "assistant" {
		return "", fmt.Errorf("the conversation it returned does not end with the answer")
	}
	return last.Content, nil
}

// fromBody reads messages (and options, if present) back out of a filter's body.
func fromBody(body map[string]any, params map[string]any) ([]turn, map[string]any, error) {
	b, err := json.Marshal(body["messages"])
	if err != nil {
		return nil, nil, err
	}
	var turns []turn
	if err := json.Unmarshal(b, &turns); err != nil || len(turns) == 0 {
		return nil, nil, fmt.Errorf("body has no messages")
	}
	if o, ok := body["options"].(map[string]any); ok {
		params = o
	}
	return turns, params, nil
}

// titlePrompt asks for a short title. Small models ramble, so the answer is trimmed hard afterwards.
const titlePrompt = "Write a short title (3 to 6 words) for a conversation that starts with the message below. " +
	"Reply with the title only: no quotes, no punctuation at the end.\n\nMessage:\n"

// makeTitle asks the model for a title from first (the first message as the model may see it); when that
// fails or says nothing usable, the first words of fallback (the message as written) serve.
func (h *Handler) makeTitle(ctx context.Context, c Connection, model, first, fallback string) string {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var b strings.Builder
	_, err := h.streamChat(ctx, c, model, []turn{{Role: "user", Content: titlePrompt + clip(first, 2000)}},
		map[string]any{"temperature": 0.2, "num_predict": 24}, func(s string) error {
			b.WriteString(s)
			if b.Len() > 2000 {
				return errors.New("title too long")
			}
			return nil
		})
	if t := cleanTitle(b.String()); err == nil && t != "" {
		return t
	}
	return firstWords(fallback)
}

// cleanTitle keeps the first non-empty line, without Markdown marks, quotes or a "Title:" label.
func cleanTitle(s string) string {
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		line = strings.TrimLeft(line, "#*-> ")
		if l := strings.ToLower(line); strings.HasPrefix(l, "title:") {
			line = strings.TrimSpace(line[len("title:"):])
		}
		line = strings.Trim(line, "\"'`*_“”‘’「」 ")
		line = strings.TrimRight(line, ".。!！")
		line = strings.Join(strings.Fields(line), " ")
		if line == "" {
			continue
		}
		return clip(line, 60)
	}
	return ""
}

// firstWords is the fallback title: the message's first six words, at most 50 characters.
func firstWords(s string) string {
	ws := strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) })
	if len(ws) > 6 {
		ws = ws[:6]
	}
	t := clip(strings.Join(ws, " "), 50)
	if t == "" {
		return defaultTitle
	}
	return t
}

func (h *Handler) titleChat(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	ctx := r.Context()
	chat, ms, err := h.chatAndMessages(ctx, p.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	first := ""
	for _, m := range ms {
		if m.Role == "user" {
			first = m.Content
			break
		}
	}
	if first == "" {
		return errorf(400, "the chat has no message to make a title from")
	}
	title := firstWords(first)
	if chat.Model != "" {
		if c, err := h.resolveModel(ctx, chat.Model, chat.ConnectionID); err == nil {
			// The message goes to the model only as the inlet filters pass it, marked as a title task
			// (Open WebUI marks them so); if they refuse, the first words serve.
			body := map[string]any{"model": chat.Model, "stream": false, "chat_id": chat.ID, "title": true,
				"metadata": map[string]any{"task": "title_generation"},
				"messages": []turn{{Role: "user", Content: first}}}
			if body, err := h.filter(ctx, false, p, c, chat.Model, body); err == nil {
				if sent, _, err := fromBody(body, nil); err == nil {
					title = h.makeTitle(ctx, c, chat.Model, firstUser(sent), first)
				}
			}
		}
	}
	if _, err := h.db.Exec(ctx, `UPDATE chats SET title = ?, updated_at = ? WHERE id = ?`, title,
		time.Now().UnixMilli(), chat.ID); err != nil {
		return err
	}
	writeJSON(w, 200, map[string]string{"title": title})
	return nil
}

// openaiCompletion proxies an OpenAI chat-completions request to the connection with the model, for API
// clients. Nothing is stored. Pipelines inlet filters run on the request and outlet filters on the
// answer: a whole answer is sent as the outlet returns it; a streamed one is relayed as it comes, and
// when the outlet changed it, one more event before [DONE] carries the final text (see API.md).
func (h *Handler) openaiCompletion(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var body map[string]any
	if err := decodeJSON(w, r, &body, maxCompletionBody, false); err != nil {
		return err
	}
	model, _ := body["model"].(string)
	connID, _ := body["connection_id"].(string)
	delete(body, "connection_id")
	if _, ok := body["messages"].([]any); !ok {
		return errorf(400, "messages is required: an array of {role, content}")
	}
	ctx := r.Context()
	conn, err := h.resolveModel(ctx, model, connID)
	if err != nil {
		return err
	}
	// The outlet sees the conversation as the client sent it, as in the chat path.
	asked, err := copyJSON(body["messages"])
	if err != nil {
		return err
	}
	if body, err = h.filter(ctx, false, p, conn, model, body); err != nil {
		return err
	}
	path := "/chat/completions"
	if conn.Type == typeOllama {
		path = "/v1/chat/completions"
	}
	resp, err := h.upstream(ctx, conn, "POST", path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	for _, k := range []string{"Content-Type", "Cache-Control"} {
		if v := resp.Header.Get(k); v != "" {
			w.Header().Set(k, v)
		}
	}
	w.Header().Set("X-Accel-Buffering", "no")
	outlet := func(answer string) (string, error) {
		msgs := append(asked.([]any), map[string]any{"role": "assistant", "content": answer})
		out, err := h.filter(ctx, true, p, conn, model, map[string]any{"model": model, "messages": msgs})
		if err != nil {
			return "", err
		}
		return lastAssistant(out)
	}
	switch ct := resp.Header.Get("Content-Type"); {
	case resp.StatusCode != 200:
		w.WriteHeader(resp.StatusCode)
		relay(w, resp.Body)
		return nil
	case strings.HasPrefix(ct, "text/event-stream"):
		w.WriteHeader(200)
		relayStream(ctx, w, resp.Body, model, outlet)
		return nil
	default:
		return relayWhole(w, resp.Body, outlet)
	}
}

// marshalText encodes JSON without escaping <, > and & (model text is full of them; nobody puts these
// answers into HTML unescaped).
func marshalText(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return []byte("null")
	}
	return b.Bytes()
}

// copyJSON deep-copies a decoded JSON value, so that filters working in place leave the original alone.
func copyJSON(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	err = json.Unmarshal(b, &out)
	return out, err
}

// relay copies a body to the client, flushing as it comes.
func relay(w http.ResponseWriter, r io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			flush(w)
		}
		if err != nil {
			return
		}
	}
}

// relayWhole sends a non-streamed chat.completion with its first choice's text as the outlet returns it.
func relayWhole(w http.ResponseWriter, r io.Reader, outlet func(string) (string, error)) error {
	raw, err := io.ReadAll(io.LimitReader(r, 32<<20))
	if err != nil {
		return errorf(502, "reading the model server's answer: %v", err)
	}
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var msg map[string]any
	if dec.Decode(&doc) == nil {
		if cs, ok := doc["choices"].([]any); ok && len(cs) > 0 {
			if c, ok := cs[0].(map[string]any); ok {
				msg, _ = c["message"].(map[string]any)
			}
		}
	}
	text, ok := msg["content"].(string)
	if !ok { // not a chat.completion with text (tool calls, say): nothing for the outlet
		w.WriteHeader(200)
		w.Write(raw)
		return nil
	}
	final, err := outlet(text)
	if err != nil {
		return err
	}
	if final != text {
		msg["content"] = final
		raw = marshalText(doc)
	}
	w.WriteHeader(200)
	w.Write(raw)
	return nil
}

// relayStream relays an OpenAI event stream line by line while collecting the first choice's text. When
// the model is done it runs the outlet: if that changed the text, an event with "choices": [] (as a
// usage event has) and "outlet": {"role": "assistant", "content": final} goes out before [DONE]; if a
// filter refused the answer, an OpenAI-style error event does.
func relayStream(ctx context.Context, w http.ResponseWriter, r io.Reader, model string, outlet func(string) (string, error)) {
	br := bufio.NewReaderSize(r, 64<<10)
	var text strings.Builder
	done, finished := false, false
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			data, isData := bytes.CutPrefix(bytes.TrimSpace(line), []byte("data:"))
			data = bytes.TrimSpace(data)
			switch {
			case isData && string(data) == "[DONE]":
				done = true
				line = nil // sent after the outlet's event
			case isData:
				var ch openaiChunk
				if json.Unmarshal(data, &ch) == nil {
					for _, c := range ch.Choices {
						text.WriteString(c.Delta.Content)
						if c.FinishReason != nil && *c.FinishReason != "" {
							finished = true
						}
					}
				}
			}
			if len(line) > 0 {
				if _, werr := w.Write(line); werr != nil {
					return
				}
				flush(w)
			}
		}
		if err != nil {
			break
		}
	}
	if ctx.Err() != nil || !(done || finished) {
		return // stopped, or the stream broke: no finished answer to filter
	}
	final, err := outlet(text.String())
	var ev any
	var blocked *Blocked
	switch {
	case errors.As(err, &blocked):
		ev = map[string]any{"error": map[string]any{"message": blocked.Message, "type": "filter_refused", "code": 400}}
	case err != nil:
		ev = map[string]any{"error": map[string]any{"message": err.Error(), "type": "pipelines_error", "code": 502}}
	case final != text.String():
		ev = map[string]any{"object": "chat.completion.chunk", "model": model, "choices": []any{},
			"outlet": map[string]string{"role": "assistant", "content": final}}
	}
	if ev != nil {
		fmt.Fprintf(w, "data: %s\n\n", bytes.TrimSpace(marshalText(ev)))
	}
	if done {
		io.WriteString(w, "data: [DONE]\n\n")
	}
	flush(w)
}
