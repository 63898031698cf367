package webui_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/golem-llm/golem/internal/server"
	"github.com/golem-llm/golem/internal/store"
	"github.com/golem-llm/golem/internal/testutil"
	"github.com/golem-llm/golem/internal/webui"
)

// The real engine behind the UI: `golem serve`'s handler as the built-in connection, stories260K as the
// model. The UI's streamed answer must be exactly what the engine itself answers to the same greedy
// request.
func TestChatWithRealEngine(t *testing.T) {
	ctx := context.Background()
	srv, err := server.New(server.Config{ModelsDir: t.TempDir(), NumParallel: 2, Threads: 2, KeepAlive: 60e9,
		Version: "test", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	mf, err := store.ParseModelfile(strings.NewReader("FROM " +
		testutil.Shared(t, "testdata", "models", "stories260K.gguf") + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Store().Create(ctx, "stories260K", mf, store.CreateOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	engine := srv.Handler()

	ui, err := webui.New(webui.Config{DataDir: t.TempDir(), Engine: engine, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	defer ui.Close()
	hs := httptest.NewServer(ui)
	defer hs.Close()

	post := func(path, token string, body any) *http.Response {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", hs.URL+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	var acct struct{ Token string }
	resp := post("/api/v1/auths/signup", "", map[string]string{"email": "ada@example.com", "password": "password1"})
	json.NewDecoder(resp.Body).Decode(&acct)
	resp.Body.Close()

	// The model appears in the UI's list through the built-in connection.
	req, _ := http.NewRequest("GET", hs.URL+"/api/v1/models", nil)
	req.Header.Set("Authorization", "Bearer "+acct.Token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var models struct {
		Data []struct {
			ID           string `json:"id"`
			ConnectionID string `json:"connection_id"`
		} `json:"data"`
	}
	json.NewDecoder(resp.Body).Decode(&models)
	resp.Body.Close()
	if len(models.Data) != 1 || models.Data[0].ID != "stories260K:latest" || models.Data[0].ConnectionID != "builtin" {
		t.Fatalf("models %+v", models.Data)
	}

	params := map[string]any{"temperature": 0, "num_predict": 24, "seed": 1}
	var chat struct{ ID string }
	resp = post("/api/v1/chats", acct.Token, map[string]any{"params": params})
	json.NewDecoder(resp.Body).Decode(&chat)
	resp.Body.Close()
	resp = post("/api/v1/chats/"+chat.ID+"/completions", acct.Token,
		map[string]any{"content": "Once upon a time", "model": "stories260K:latest", "connection_id": "builtin"})
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("completion: %d %s", resp.StatusCode, b)
	}
	var streamed strings.Builder
	var final, event string
	deltas := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if name, ok := strings.CutPrefix(line, "event: "); ok {
			event = name
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		var d struct {
			Content string `json:"content"`
			Detail  string `json:"detail"`
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
		}
		json.Unmarshal([]byte(data), &d)
		switch event {
		case "delta":
			streamed.WriteString(d.Content)
			deltas++
		case "done":
			final = d.Message.Content
		case "error":
			t.Fatalf("error event: %s", d.Detail)
		}
	}
	resp.Body.Close()
	if final == "" || final != streamed.String() || deltas < 2 {
		t.Fatalf("streamed %q in %d deltas, final %q", streamed.String(), deltas, final)
	}

	// The engine's own answer to the same request.
	b, _ := json.Marshal(map[string]any{"model": "stories260K:latest", "stream": false, "options": params,
		"messages": []map[string]string{{"role": "user", "content": "Once upon a time"}}})
	rec := httptest.NewRecorder()
	engine.ServeHTTP(rec, httptest.NewRequest("POST", "http://127.0.0.1/api/chat", bytes.NewReader(b)))
	var direct struct {
		Message struct{ Content string } `json:"message"`
	}
	json.Unmarshal(rec.Body.Bytes(), &direct)
	if rec.Code != 200 || direct.Message.Content != final {
		t.Fatalf("engine answers %q (%d), UI streamed %q", direct.Message.Content, rec.Code, final)
	}
}
