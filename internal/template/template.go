// Package template turns a chat conversation into the prompt text a model
// was trained on, and turns the model's output back into content, thinking
// and tool calls.
//
// Two template languages are supported, behind one interface (Template):
//
//   - Hugging Face chat templates (Jinja), the tokenizer.chat_template of a
//     GGUF file, rendered as transformers' apply_chat_template does (see
//     package jinja). ParseJinja.
//   - Ollama's Go text/template templates, the TEMPLATE of a Modelfile,
//     executed with the data Ollama passes (.System, .Messages, .Tools,
//     .Prompt, .Response, .Think ...) including Ollama's legacy handling of
//     templates without .Messages. ParseGo.
//
// The output side is Parser: a streaming splitter of model output into
// content, thinking and tool calls. Its Markers come from the template
// (Template.Markers) by this rule:
//
//  1. Probe. Render a user turn with the generation prompt, then the same
//     user turn followed by an assistant turn that holds (a) a plain answer,
//     (b) an answer with reasoning, (c) one tool call, (d) two tool calls,
//     all with sentinel names and values. What follows the generation
//     prompt is what the model itself would write.
//  2. Thinking: the text before the sentinel reasoning is the opening
//     marker, the text between it and the answer the closing marker
//     (<think> </think>, gpt-oss "<|channel|>analysis<|message|>" ...).
//  3. Tool calls: strip what the call turn shares with the plain answer
//     (turn header and end, cut at special-token boundaries); the rest is a
//     JSON value containing the call (Qwen <tool_call>{...}</tool_call>,
//     Mistral [TOOL_CALLS][...], Llama 3.x bare JSON), an XML-style
//     <function=...> call (Qwen3-Coder, Nemotron 3), or name, separator,
//     JSON arguments (Mistral Small [ARGS], Kimi K2, DeepSeek V3.1,
//     gpt-oss). The two-call rendering gives the text between calls.
//  4. Fallbacks. If the probes find nothing (the template rejects them or
//     ignores reasoning), well-known marker texts present in the template
//     are used (<think>, <seed:think>, <tool_call>, [TOOL_CALLS],
//     <|python_tag|> ...); for Go templates, Ollama's own rules: the tool
//     tag is the first text inside {{ if .ToolCalls }} (cut at "{",
//     default "{"), and the thinking tags are the first and last text of
//     the list that prints .Thinking inside the range over .Messages.
package template

import (
	"encoding/json"
	"time"
)

// Message is one chat message.
type Message struct {
	Role    string // system, user, assistant or tool
	Content string
	// Thinking is the assistant's reasoning (Ollama's "thinking", OpenAI's
	// "reasoning_content").
	Thinking  string
	ToolCalls []ToolCall
	// ToolName and ToolCallID identify the call a tool message answers
	// (Ollama's tool_name, OpenAI's name and tool_call_id).
	ToolName   string
	ToolCallID string
	// Images are the message's images, passed to Go templates as .Images;
	// Jinja templates do not see them.
	Images [][]byte
}

// ToolCall is one function call made by the assistant.
type ToolCall struct {
	ID       string
	Function ToolCallFunction
}

// ToolCallFunction names the function and carries its arguments.
type ToolCallFunction struct {
	Index int
	Name  string
	// Arguments is normally a JSON object; its key order is kept. A JSON
	// string (the arguments as text) is passed to templates as a string.
	Arguments json.RawMessage
}

// Request is everything a template may read.
type Request struct {
	Messages []Message
	// Tools are the tools offered, each an OpenAI/Ollama function tool:
	// {"type": "function", "function": {"name", "description", "parameters"}}.
	// Nil means no tools (Jinja templates then see tools = none).
	Tools []json.RawMessage
	// AddGenerationPrompt ends the prompt with the assistant's turn header
	// (Jinja add_generation_prompt). Go templates decide this themselves.
	AddGenerationPrompt bool
	// Think is the request's think option; nil when not given.
	Think *bool
	// ThinkLevel is a reasoning effort ("low", "medium", "high") for models
	// that take one.
	ThinkLevel string
	// BOSToken and EOSToken are the model's special-token texts, passed to
	// Jinja templates as bos_token and eos_token ("" when the model has none).
	BOSToken, EOSToken string
	// Extra holds additional template variables for Jinja templates (chat
	// template kwargs such as enable_thinking), each a JSON value. They
	// override the variables derived from the fields above.
	Extra map[string]json.RawMessage
	// Prompt and Suffix select fill-in-the-middle rendering for Go
	// templates when both are set.
	Prompt, Suffix string
	// Now is the clock for strftime_now and currentDate; zero means now.
	Now time.Time
	// Deadline, when set, stops a rendering that runs past it.
	Deadline time.Time

	// maxSteps, when set, lowers the Jinja step budget (used by the probes
	// that derive markers, so parsing a hostile template stays quick).
	maxSteps int
}

// Template renders a Request into prompt text.
type Template interface {
	Render(req *Request) (string, error)
	// Source is the template text as given.
	Source() string
	// Markers describes the thinking and tool-call syntax of the model's
	// output, as far as it can be derived from the template.
	Markers() Markers
}

func (r *Request) now() time.Time {
	if r.Now.IsZero() {
		return time.Now()
	}
	return r.Now
}
