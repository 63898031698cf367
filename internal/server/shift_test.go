package server

import (
	"context"
	"testing"

	oapi "github.com/ollama/ollama/api"
)

// TestContextShiftThroughAPI checks Ollama's "shift": by default a
// generation that fills num_ctx goes on past it; with "shift": false it
// stops at the full context with done_reason "length".
func TestContextShiftThroughAPI(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.create(t, "stories", modelFile(t, "stories260K.gguf"))
	c := ts.ollama(t, "")
	f, no := false, false
	const numCtx = 32
	gen := func(shift *bool) oapi.GenerateResponse {
		var r oapi.GenerateResponse
		err := c.Generate(context.Background(), &oapi.GenerateRequest{Model: "stories", Prompt: "Once upon a time", Raw: true, Stream: &f,
			Shift: shift, Options: map[string]any{"temperature": 0, "num_ctx": numCtx, "num_predict": 80}},
			func(g oapi.GenerateResponse) error { r = g; return nil })
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	stopped := gen(&no)
	if stopped.DoneReason != "length" || stopped.PromptEvalCount+stopped.EvalCount > numCtx+1 {
		t.Fatalf("shift false: %d prompt + %d generated tokens in num_ctx %d, done_reason %q",
			stopped.PromptEvalCount, stopped.EvalCount, numCtx, stopped.DoneReason)
	}
	shifted := gen(nil)
	if shifted.EvalCount <= stopped.EvalCount+numCtx/2 || len(shifted.Response) <= len(stopped.Response) ||
		shifted.Response[:len(stopped.Response)] != stopped.Response {
		t.Fatalf("default (shift): %d tokens %q; without shift %d tokens %q", shifted.EvalCount, shifted.Response, stopped.EvalCount, stopped.Response)
	}
	t.Logf("without shift: %d tokens; with: %d tokens, done_reason %q", stopped.EvalCount, shifted.EvalCount, shifted.DoneReason)
}
