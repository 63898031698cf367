// Package api holds the request and response types of Golem's HTTP API,
// which is Ollama's API (/api/*) on the wire, and a small client for it
// that the golem command uses to talk to a running server.
//
// The JSON field names, defaults and streaming shapes follow Ollama's so
// that Ollama clients (the ollama CLI, its Go and Python libraries, Open
// WebUI) work against Golem unchanged.
package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// StatusError is an error answer from the server: its HTTP status and the
// message of its {"error": "..."} body.
type StatusError struct {
	StatusCode   int
	Status       string
	ErrorMessage string `json:"error"`
}

func (e StatusError) Error() string {
	switch {
	case e.Status != "" && e.ErrorMessage != "":
		return fmt.Sprintf("%s: %s", e.Status, e.ErrorMessage)
	case e.ErrorMessage != "":
		return e.ErrorMessage
	case e.Status != "":
		return e.Status
	}
	return fmt.Sprintf("HTTP status %d", e.StatusCode)
}

// ErrorResponse is the body of every error answer of the /api endpoints.
type ErrorResponse struct {
	Error string `json:"error"`
}

// GenerateRequest is the body of POST /api/generate.
type GenerateRequest struct {
	Model    string `json:"model"`
	Prompt   string `json:"prompt"`
	Suffix   string `json:"suffix,omitempty"`
	System   string `json:"system,omitempty"`
	Template string `json:"template,omitempty"`
	// Context is the token context returned by an earlier call
	// (deprecated by Ollama, still honoured).
	Context []int `json:"context,omitempty"`
	// Stream is true when unset: NDJSON chunks, then a final chunk with
	// Done set. False answers with one JSON object.
	Stream *bool `json:"stream,omitempty"`
	// Raw sends Prompt to the model as is, with no template.
	Raw bool `json:"raw,omitempty"`
	// Format is "json" or a JSON Schema; the output is constrained to it.
	Format    json.RawMessage `json:"format,omitempty"`
	KeepAlive *Duration       `json:"keep_alive,omitempty"`
	Images    []ImageData     `json:"images,omitempty"`
	// Options are Modelfile parameters (temperature, num_ctx, stop, ...)
	// that override the model's own for this request.
	Options     map[string]any `json:"options,omitempty"`
	Think       *ThinkValue    `json:"think,omitempty"`
	Truncate    *bool          `json:"truncate,omitempty"`
	Shift       *bool          `json:"shift,omitempty"`
	Logprobs    bool           `json:"logprobs,omitempty"`
	TopLogprobs int            `json:"top_logprobs,omitempty"`
	// DebugRenderOnly answers with the rendered prompt instead of
	// running the model.
	DebugRenderOnly bool `json:"_debug_render_only,omitempty"`
}

// ChatRequest is the body of POST /api/chat.
type ChatRequest struct {
	Model           string          `json:"model"`
	Messages        []Message       `json:"messages"`
	Stream          *bool           `json:"stream,omitempty"`
	Format          json.RawMessage `json:"format,omitempty"`
	KeepAlive       *Duration       `json:"keep_alive,omitempty"`
	Tools           []Tool          `json:"tools,omitempty"`
	Options         map[string]any  `json:"options,omitempty"`
	Think           *ThinkValue     `json:"think,omitempty"`
	Truncate        *bool           `json:"truncate,omitempty"`
	Shift           *bool           `json:"shift,omitempty"`
	Logprobs        bool            `json:"logprobs,omitempty"`
	TopLogprobs     int             `json:"top_logprobs,omitempty"`
	DebugRenderOnly bool            `json:"_debug_render_only,omitempty"`
}

// ImageData is the raw bytes of an image (base64 in JSON).
type ImageData []byte

// Message is one turn of a chat.
type Message struct {
	Role       string      `json:"role"`
	Content    string      `json:"content"`
	Thinking   string      `json:"thinking,omitempty"`
	Images     []ImageData `json:"images,omitempty"`
	ToolCalls  []ToolCall  `json:"tool_calls,omitempty"`
	ToolName   string      `json:"tool_name,omitempty"`
	ToolCallID string      `json:"tool_call_id,omitempty"`
}

// ToolCall is a call of one of the request's tools by the model.
type ToolCall struct {
	ID       string           `json:"id,omitempty"`
	Function ToolCallFunction `json:"function"`
}

// ToolCallFunction names the tool and carries its arguments.
type ToolCallFunction struct {
	Index     int       `json:"index"`
	Name      string    `json:"name"`
	Arguments Arguments `json:"arguments"`
}

// Arguments is a JSON object of tool-call arguments, kept as the bytes the
// model or client wrote so that key order survives.
type Arguments json.RawMessage

// MarshalJSON writes the object, or {} when empty.
func (a Arguments) MarshalJSON() ([]byte, error) {
	if len(bytes.TrimSpace(a)) == 0 {
		return []byte("{}"), nil
	}
	return compactJSON(a)
}

// UnmarshalJSON accepts a JSON object. A JSON string holding an object is
// accepted too (OpenAI clients send arguments that way).
func (a *Arguments) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		b = []byte(s)
		if len(bytes.TrimSpace(b)) == 0 {
			b = []byte("{}")
		}
	}
	if bytes.Equal(b, []byte("null")) {
		*a = nil
		return nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		return fmt.Errorf("tool call arguments must be a JSON object: %v", err)
	}
	out, err := compactJSON(b)
	if err != nil {
		return err
	}
	*a = out
	return nil
}

// Map decodes the arguments.
func (a Arguments) Map() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(a, &m)
	return m
}

// String is the compact JSON text.
func (a Arguments) String() string {
	b, _ := a.MarshalJSON()
	return string(b)
}

func compactJSON(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Tool is a function the model may call.
type Tool struct {
	Type     string       `json:"type"`
	Function ToolFunction `json:"function"`
}

// ToolFunction describes a callable function; Parameters is a JSON Schema
// kept verbatim.
type ToolFunction struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Parameters  json.RawMessage `json:"parameters,omitempty"`
}

// TokenLogprob is the log-probability of one token.
type TokenLogprob struct {
	Token   string  `json:"token"`
	Logprob float64 `json:"logprob"`
	Bytes   []int   `json:"bytes,omitempty"`
}

// Logprob is a generated token's log-probability with the most likely
// alternatives at its position.
type Logprob struct {
	TokenLogprob
	TopLogprobs []TokenLogprob `json:"top_logprobs,omitempty"`
}

// Metrics are the timings of the final chunk, in nanoseconds on the wire.
type Metrics struct {
	TotalDuration      time.Duration `json:"total_duration,omitempty"`
	LoadDuration       time.Duration `json:"load_duration,omitempty"`
	PromptEvalCount    int           `json:"prompt_eval_count,omitempty"`
	PromptEvalDuration time.Duration `json:"prompt_eval_duration,omitempty"`
	EvalCount          int           `json:"eval_count,omitempty"`
	EvalDuration       time.Duration `json:"eval_duration,omitempty"`
}

// DebugInfo is returned instead of generating when DebugRenderOnly is set.
type DebugInfo struct {
	RenderedTemplate string `json:"rendered_template"`
	ImageCount       int    `json:"image_count,omitempty"`
}

// GenerateResponse is one chunk of /api/generate.
type GenerateResponse struct {
	Model      string     `json:"model"`
	CreatedAt  time.Time  `json:"created_at"`
	Response   string     `json:"response"`
	Thinking   string     `json:"thinking,omitempty"`
	Done       bool       `json:"done"`
	DoneReason string     `json:"done_reason,omitempty"`
	Context    []int      `json:"context,omitempty"`
	ToolCalls  []ToolCall `json:"tool_calls,omitempty"`
	DebugInfo  *DebugInfo `json:"_debug_info,omitempty"`
	Logprobs   []Logprob  `json:"logprobs,omitempty"`
	Metrics
}

// ChatResponse is one chunk of /api/chat.
type ChatResponse struct {
	Model      string     `json:"model"`
	CreatedAt  time.Time  `json:"created_at"`
	Message    Message    `json:"message"`
	Done       bool       `json:"done"`
	DoneReason string     `json:"done_reason,omitempty"`
	DebugInfo  *DebugInfo `json:"_debug_info,omitempty"`
	Logprobs   []Logprob  `json:"logprobs,omitempty"`
	Metrics
}

// EmbedRequest is the body of POST /api/embed; Input is a string or a
// list of strings.
type EmbedRequest struct {
	Model      string         `json:"model"`
	Input      any            `json:"input"`
	KeepAlive  *Duration      `json:"keep_alive,omitempty"`
	Truncate   *bool          `json:"truncate,omitempty"`
	Dimensions int            `json:"dimensions,omitempty"`
	Options    map[string]any `json:"options,omitempty"`
}

// EmbedResponse is the answer of /api/embed.
type EmbedResponse struct {
	Model           string        `json:"model"`
	Embeddings      [][]float32   `json:"embeddings"`
	TotalDuration   time.Duration `json:"total_duration,omitempty"`
	LoadDuration    time.Duration `json:"load_duration,omitempty"`
	PromptEvalCount int           `json:"prompt_eval_count,omitempty"`
}

// EmbeddingRequest is the body of the legacy POST /api/embeddings.
type EmbeddingRequest struct {
	Model     string         `json:"model"`
	Prompt    string         `json:"prompt"`
	KeepAlive *Duration      `json:"keep_alive,omitempty"`
	Options   map[string]any `json:"options,omitempty"`
}

// EmbeddingResponse is the answer of /api/embeddings.
type EmbeddingResponse struct {
	Embedding []float64 `json:"embedding"`
}

// CreateRequest is the body of POST /api/create. Current clients send the
// parts of a Modelfile as fields (From, Files with blob digests uploaded
// through /api/blobs, Template, ...); older ones send Modelfile text.
type CreateRequest struct {
	Model      string            `json:"model"`
	Stream     *bool             `json:"stream,omitempty"`
	Quantize   string            `json:"quantize,omitempty"`
	From       string            `json:"from,omitempty"`
	Files      map[string]string `json:"files,omitempty"`
	Adapters   map[string]string `json:"adapters,omitempty"`
	Template   string            `json:"template,omitempty"`
	License    any               `json:"license,omitempty"`
	System     string            `json:"system,omitempty"`
	Parameters map[string]any    `json:"parameters,omitempty"`
	Messages   []Message         `json:"messages,omitempty"`

	// Legacy fields.
	Name         string `json:"name,omitempty"`
	Modelfile    string `json:"modelfile,omitempty"`
	Quantization string `json:"quantization,omitempty"`
}

// DeleteRequest is the body of DELETE /api/delete.
type DeleteRequest struct {
	Model string `json:"model"`
	Name  string `json:"name,omitempty"` // legacy
}

// ShowRequest is the body of POST /api/show.
type ShowRequest struct {
	Model   string `json:"model"`
	System  string `json:"system,omitempty"`
	Verbose bool   `json:"verbose,omitempty"`
	Name    string `json:"name,omitempty"` // legacy
}

// ShowResponse is the answer of /api/show.
type ShowResponse struct {
	License      string         `json:"license,omitempty"`
	Modelfile    string         `json:"modelfile,omitempty"`
	Parameters   string         `json:"parameters,omitempty"`
	Template     string         `json:"template,omitempty"`
	System       string         `json:"system,omitempty"`
	Details      ModelDetails   `json:"details,omitempty"`
	Messages     []Message      `json:"messages,omitempty"`
	ModelInfo    map[string]any `json:"model_info"`
	Capabilities []string       `json:"capabilities,omitempty"`
	ModifiedAt   time.Time      `json:"modified_at,omitempty"`
}

// CopyRequest is the body of POST /api/copy.
type CopyRequest struct {
	Source      string `json:"source"`
	Destination string `json:"destination"`
}

// PullRequest is the body of POST /api/pull.
type PullRequest struct {
	Model    string `json:"model"`
	Insecure bool   `json:"insecure,omitempty"`
	Stream   *bool  `json:"stream,omitempty"`
	Name     string `json:"name,omitempty"` // legacy
}

// PushRequest is the body of POST /api/push.
type PushRequest struct {
	Model    string `json:"model"`
	Insecure bool   `json:"insecure,omitempty"`
	Stream   *bool  `json:"stream,omitempty"`
	Name     string `json:"name,omitempty"` // legacy
}

// ProgressResponse is one event of pull, push and create.
type ProgressResponse struct {
	Status    string `json:"status"`
	Digest    string `json:"digest,omitempty"`
	Total     int64  `json:"total,omitempty"`
	Completed int64  `json:"completed,omitempty"`
}

// ModelDetails summarises a model's file.
type ModelDetails struct {
	ParentModel       string   `json:"parent_model"`
	Format            string   `json:"format"`
	Family            string   `json:"family"`
	Families          []string `json:"families"`
	ParameterSize     string   `json:"parameter_size"`
	QuantizationLevel string   `json:"quantization_level"`
}

// ListResponse is the answer of GET /api/tags.
type ListResponse struct {
	Models []ListModelResponse `json:"models"`
}

// ListModelResponse is one stored model.
type ListModelResponse struct {
	Name       string       `json:"name"`
	Model      string       `json:"model"`
	ModifiedAt time.Time    `json:"modified_at"`
	Size       int64        `json:"size"`
	Digest     string       `json:"digest"`
	Details    ModelDetails `json:"details,omitempty"`
}

// ProcessResponse is the answer of GET /api/ps.
type ProcessResponse struct {
	Models []ProcessModelResponse `json:"models"`
}

// ProcessModelResponse is one loaded model.
type ProcessModelResponse struct {
	Name          string       `json:"name"`
	Model         string       `json:"model"`
	Size          int64        `json:"size"`
	Digest        string       `json:"digest"`
	Details       ModelDetails `json:"details,omitempty"`
	ExpiresAt     time.Time    `json:"expires_at"`
	SizeVRAM      int64        `json:"size_vram"`
	ContextLength int          `json:"context_length"`
}

// VersionResponse is the answer of GET /api/version.
type VersionResponse struct {
	Version string `json:"version"`
}

// ThinkValue is the "think" field: a boolean, or "high", "medium", "low".
type ThinkValue struct {
	Value any // bool or string
}

// Enabled reports whether thinking was asked for in any form.
func (t *ThinkValue) Enabled() bool {
	if t == nil {
		return false
	}
	switch v := t.Value.(type) {
	case bool:
		return v
	case string:
		return v != ""
	}
	return false
}

// Level is the string level, "" for a boolean.
func (t *ThinkValue) Level() string {
	if t == nil {
		return ""
	}
	s, _ := t.Value.(string)
	return s
}

// UnmarshalJSON accepts true, false, "high", "medium" and "low".
func (t *ThinkValue) UnmarshalJSON(b []byte) error {
	var v bool
	if err := json.Unmarshal(b, &v); err == nil {
		t.Value = v
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		switch s {
		case "high", "medium", "low":
			t.Value = s
			return nil
		}
		return fmt.Errorf("invalid think value %q (must be true, false, \"high\", \"medium\" or \"low\")", s)
	}
	return errors.New("think must be a boolean or one of \"high\", \"medium\", \"low\"")
}

// MarshalJSON writes the boolean or the level.
func (t ThinkValue) MarshalJSON() ([]byte, error) { return json.Marshal(t.Value) }
