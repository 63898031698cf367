//go:build browser

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/golem-llm/golem/internal/testutil"
)

const pipelinesKey = "e2e-pipelines-key"

// pipelinesProcess is `golem pipelines` running as a child process with its own data dir.
type pipelinesProcess struct {
	URL string
	cmd *exec.Cmd
	log *os.File
}

func startPipelines(t *testing.T) *pipelinesProcess {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	logf, err := os.CreateTemp(t.TempDir(), "golem-pipelines-*.log")
	if err != nil {
		t.Fatal(err)
	}
	p := &pipelinesProcess{URL: "http://127.0.0.1:" + strconv.Itoa(port), log: logf}
	p.cmd = exec.Command(golemBinary(t), "pipelines", "--host", "127.0.0.1", "--port", strconv.Itoa(port),
		"--data-dir", filepath.Join(t.TempDir(), "pipelines"))
	p.cmd.Env = append(os.Environ(), "PIPELINES_API_KEY="+pipelinesKey, "PIPELINES_URLS=", "PIPELINES_HTTP_ALLOW=")
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start golem pipelines: %v", err)
	}
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
			<-done
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		var st int
		if err := p.get("/", nil, &st); err == nil && st == 200 {
			return p
		}
		select {
		case <-done:
			t.Fatalf("golem pipelines exited at start: %s", p.logText())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("golem pipelines did not answer within 30 s: %s", p.logText())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// get calls the Pipelines server directly, with its key.
func (p *pipelinesProcess) get(path string, out any, status *int) error {
	req, _ := http.NewRequest("GET", p.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+pipelinesKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	*status = resp.StatusCode
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}

func (p *pipelinesProcess) logText() string {
	b, _ := os.ReadFile(p.log.Name())
	return string(b)
}

// recorder is a model server speaking the Ollama API, written for this test: it offers one model,
// answers every chat with a fixed text and records what each chat request carried, so the test can
// see exactly what reached "the engine" after the filters.
type recorder struct {
	mu    sync.Mutex
	chats []recordedChat
}

type recordedChat struct {
	Model    string `json:"model"`
	Messages []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
}

// leaked reports whether any request (title requests included) carried s.
func (rc *recorder) leaked(s string) bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, c := range rc.chats {
		for _, m := range c.Messages {
			if strings.Contains(m.Content, s) {
				return true
			}
		}
	}
	return false
}

// asked lists the last user message of each chat request that was not a title request.
func (rc *recorder) asked() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []string
	for _, c := range rc.chats {
		last := c.Messages[len(c.Messages)-1].Content
		if !strings.HasPrefix(last, "Write a short title") {
			out = append(out, last)
		}
	}
	return out
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method + " " + r.URL.Path {
	case "GET /api/version":
		io.WriteString(w, `{"version":"0.0.0-recorder"}`)
	case "GET /api/tags":
		io.WriteString(w, `{"models":[{"name":"recorder:latest","model":"recorder:latest","size":1,"modified_at":"2024-07-13T10:00:00Z","details":{"family":"test"}}]}`)
	case "POST /api/chat":
		var c recordedChat
		if err := json.NewDecoder(r.Body).Decode(&c); err != nil || len(c.Messages) == 0 {
			w.WriteHeader(400)
			io.WriteString(w, `{"error":"bad request"}`)
			return
		}
		rc.mu.Lock()
		rc.chats = append(rc.chats, c)
		rc.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-ndjson")
		for _, piece := range []string{"Noted", ", thank", " you."} {
			fmt.Fprintf(w, `{"model":%q,"message":{"role":"assistant","content":%q},"done":false}`+"\n", c.Model, piece)
			w.(http.Flusher).Flush()
		}
		fmt.Fprintf(w, `{"model":%q,"message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":3,"eval_count":3}`+"\n", c.Model)
	default:
		w.WriteHeader(404)
		io.WriteString(w, `{"error":"not found"}`)
	}
}

// echoPipe is a pipe that answers with the last message it was sent.
const echoPipe = `"""
name: Echo
kind: pipe
description: Answers with the last message it was sent.
"""

def pipe(body, user):
    return "echo: " + body["messages"][-1]["content"]
`

// uploadFile chooses a file in an <input type=file> (which fires its change event).
func (p *page) uploadFile(sel, file string) {
	p.t.Helper()
	p.wait("file input "+sel, `document.querySelector(`+q(sel)+`)`)
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.CSS(sel), []string{file})); err != nil {
		p.fail("choose %s in %s: %v", file, sel, err)
	}
}

// TestPipelinesFlow: the admin connects a real `golem pipelines` server in the admin panel, installs the
// shipped rate-limit filter by uploading its file and the redaction filter from a URL, sets the rate
// limit in the valves form, then chats: the model server receives the redacted text, a pipe shows up as
// a model and gets the redacted text too, and the request over the limit is refused with the filter's
// message in the chat. Last, a pipeline is deleted from the tab.
func TestPipelinesFlow(t *testing.T) {
	reg := registryFor(t)
	data, models := tempDirs(t)
	g := newGolem(t, data, models, "", reg.URL)
	pipes := startPipelines(t)
	rec := &recorder{}
	recSrv := httptest.NewServer(rec)
	defer recSrv.Close()
	examples := filepath.Join(testutil.RepoRoot(t), "examples", "pipelines")
	files := httptest.NewServer(http.FileServer(http.Dir(examples)))
	defer files.Close()

	b := newBrowser(t, "pipelines")
	admin := b.page("admin")
	admin.open(g.URL())
	admin.wait("the onboarding form", `document.querySelector('[data-testid=onboarding]')`)
	admin.typeKeys(`input[name=name]`, "Ada")
	admin.typeKeys(`input[name=email]`, adminEmail)
	admin.typeKeys(`input[name=password]`, password)
	admin.click(`[data-testid=auth-submit]`)
	admin.wait("the chat page", `document.querySelector('[data-testid=composer]')`)

	// 1. Connections: the recording model server (Ollama API) and the Pipelines server (OpenAI API + key).
	admin.click(`[data-testid=user-menu]`)
	admin.click(`[data-testid=admin-link]`)
	admin.click(`[data-testid=tab-connections]`)
	admin.click(`[data-testid=add-connection]`)
	admin.fill(`[data-testid=connection-url]`, recSrv.URL)
	admin.fill(`[data-testid=connection-name]`, "Recorder")
	admin.click(`[data-testid=connection-save]`)
	admin.wait("the recorder listed", `document.querySelector('[data-testid=connection][data-url="`+recSrv.URL+`"]')`)
	admin.click(`[data-testid=add-connection]`)
	admin.choose(`[data-testid=connection-type]`, "openai")
	admin.fill(`[data-testid=connection-url]`, pipes.URL)
	admin.fill(`[data-testid=connection-key]`, pipelinesKey)
	admin.fill(`[data-testid=connection-name]`, "Pipelines")
	admin.click(`[data-testid=connection-verify]`)
	admin.wait("the Pipelines server verified", `document.querySelector('[data-testid=form-verify-result].ok')`)
	if got := admin.text(`[data-testid=form-verify-result]`); !strings.Contains(got, "Pipelines server") {
		admin.fail("verify result %q does not say it is a Pipelines server", got)
	}
	admin.click(`[data-testid=connection-save]`)
	conn := `[data-testid=connection][data-url="` + pipes.URL + `"]`
	admin.wait("the Pipelines connection listed", `document.querySelector('`+conn+`')`)
	admin.click(conn + ` [data-testid=verify]`)
	admin.wait("the Pipelines connection verified", `document.querySelector('`+conn+` [data-testid=verify-result][data-ok=true]')`)
	admin.shot("connections")
	pipesID := js[string](admin, `document.querySelector('`+conn+`').dataset.id`)

	// 2. The Pipelines tab: upload the rate-limit filter's file, install the redaction filter from a URL.
	// `golem serve` has Pipelines of its own (the built-in connection, listed first): choose the server
	// added above.
	admin.click(`[data-testid=tab-pipelines]`)
	admin.wait("the Pipelines server chosen", `document.querySelector('[data-testid=pipelines-connection]')`)
	admin.wait("the added server offered", `document.querySelector('[data-testid=pipelines-connection] option[value="`+pipesID+`"]')`)
	admin.choose(`[data-testid=pipelines-connection]`, pipesID)
	if got := js[string](admin, `document.querySelector('[data-testid=pipelines-connection] option:checked').innerText`); !strings.Contains(got, pipes.URL) {
		admin.fail("the chosen server is %q", got)
	}
	admin.wait("an empty server", `document.body.innerText.includes('No pipelines on this server yet.')`)
	admin.uploadFile(`[data-testid=pipeline-file]`, filepath.Join(examples, "rate_limit.star"))
	admin.click(`[data-testid=pipeline-upload]`)
	admin.wait("the rate-limit filter listed", `document.querySelector('[data-testid=pipeline][data-id=rate_limit][data-type=filter]')`)
	// A pipe of our own: it answers with what it was sent, so the chat shows what the filters made.
	echo := filepath.Join(t.TempDir(), "echo.star")
	if err := os.WriteFile(echo, []byte(echoPipe), 0o644); err != nil {
		t.Fatal(err)
	}
	admin.uploadFile(`[data-testid=pipeline-file]`, echo)
	admin.click(`[data-testid=pipeline-upload]`)
	admin.wait("the echo pipe listed", `document.querySelector('[data-testid=pipeline][data-id=echo][data-type=pipe]')`)
	admin.fill(`[data-testid=pipeline-url]`, files.URL+"/redact.star")
	admin.click(`[data-testid=pipeline-add]`)
	admin.wait("the redaction filter listed", `document.querySelector('[data-testid=pipeline][data-id=redact]')`)
	if got := admin.text(`[data-testid=pipeline][data-id=redact] [data-testid=pipeline-targets]`); !strings.Contains(got, "all models") {
		admin.fail("the redaction filter's targets read %q", got)
	}
	admin.shot("pipelines installed")

	// 3. Valves: the form comes from the spec; two requests per minute, for admins too.
	rl := `[data-testid=pipeline][data-id=rate_limit]`
	admin.click(rl + ` [data-testid=pipeline-valves]`)
	admin.wait("the valves form", `document.querySelector('`+rl+` [data-testid=valves-form] [data-testid=valve-requests_per_minute]')`)
	if v := js[string](admin, `document.querySelector('`+rl+` [data-testid=valve-requests_per_minute]').value`); v != "10" {
		admin.fail("requests_per_minute shows %q, want the default 10", v)
	}
	if v := js[string](admin, `document.querySelector('`+rl+` [data-testid=valve-exempt_roles]').value`); v != "admin" {
		admin.fail("exempt_roles shows %q, want admin", v)
	}
	admin.fill(rl+` [data-testid=valve-requests_per_minute]`, "many")
	admin.click(rl + ` [data-testid=valves-save]`)
	admin.wait("a refused value", `document.querySelector('`+rl+` [data-testid=valves-result][data-ok=false]')`)
	admin.fill(rl+` [data-testid=valve-requests_per_minute]`, "2")
	admin.fill(rl+` [data-testid=valve-exempt_roles]`, "")
	admin.click(rl + ` [data-testid=valves-save]`)
	admin.wait("the valves saved", `document.querySelector('`+rl+` [data-testid=valves-result][data-ok=true]')`)
	admin.shot("valves")
	var valves struct {
		PerMinute int      `json:"requests_per_minute"`
		Exempt    []string `json:"exempt_roles"`
	}
	var st int
	if err := pipes.get("/rate_limit/valves", &valves, &st); err != nil || st != 200 || valves.PerMinute != 2 || len(valves.Exempt) != 0 {
		admin.fail("the Pipelines server holds %+v (status %d, %v)", valves, st, err)
	}

	// 4. Chat with the recorder's model: the redaction reaches the model; the third request is refused.
	admin.click(`[data-testid=new-chat]`)
	pick := `[...document.querySelectorAll('[data-testid=model-picker] option')].find(o => o.value.includes('recorder:latest'))`
	admin.wait("the recorder's model in the picker", pick)
	if js[bool](admin, `[...document.querySelectorAll('[data-testid=model-picker] option')].some(o => /rate_limit|redact/.test(o.value))`) {
		admin.fail("filters offered as models in the picker")
	}
	admin.choose(`[data-testid=model-picker]`, js[string](admin, pick+`.value`))
	const secret = "Write to ada.lovelace@example.com or call 555-123-4567 today"
	admin.fill(`[data-testid=composer]`, secret)
	admin.click(`[data-testid=send]`)
	admin.wait("the first answer", `document.querySelectorAll('`+assistant+`[data-done=true]').length === 1`)
	if got := rec.asked(); len(got) != 1 || got[0] != "Write to [REDACTED] or call [REDACTED] today" {
		admin.fail("the model server got %q, want the redacted text", got)
	}
	if got := admin.text(userMsg + ` [data-testid=content]`); got != secret {
		admin.fail("the chat shows the question as %q, want it as written", got)
	}
	// The automatic title is asked for with the text the filters made, too.
	admin.wait("the chat's title", `[...document.querySelectorAll('[data-testid=chat-item] a')].some(a => a.innerText.trim() && a.innerText.trim() !== 'New chat')`)
	if rec.leaked("ada.lovelace@example.com") || rec.leaked("555-123-4567") {
		admin.fail("the model server saw the e-mail address or the phone number")
	}
	admin.shot("redacted")
	// The pipe is a model in the picker, in its connection's group; the filters run for it too.
	admin.click(`[data-testid=new-chat]`)
	pipe := `[...document.querySelectorAll('[data-testid=model-picker] option')].find(o => o.value.endsWith('echo') && o.parentElement.label === 'Pipelines')`
	admin.wait("the echo pipe in the picker", pipe)
	admin.choose(`[data-testid=model-picker]`, js[string](admin, pipe+`.value`))
	admin.fill(`[data-testid=composer]`, "Reach me at bob@example.org")
	admin.click(`[data-testid=send]`)
	admin.wait("the pipe's answer", `(() => { const m = document.querySelector('`+assistant+`[data-done=true] [data-testid=content]'); return m && m.innerText.includes('echo:') })()`)
	if got := admin.text(assistant + ` [data-testid=content]`); got != "echo: Reach me at [REDACTED]" {
		admin.fail("the pipe answered %q, want it to echo the redacted text", got)
	}
	admin.shot("pipe")
	admin.fill(`[data-testid=composer]`, "A third question, over the limit")
	admin.click(`[data-testid=send]`)
	const limited = "Rate limit exceeded: at most 2 requests per minute. Please try again later."
	admin.wait("the filter's message in the chat", `[...document.querySelectorAll('`+assistant+` [data-testid=message-error]')].some(e => e.innerText.includes(`+q(limited)+`))`)
	admin.shot("rate limited")
	if got := rec.asked(); len(got) != 1 {
		admin.fail("the model server got %d requests (%q), want 1", len(got), got)
	}

	// 5. Delete the redaction filter in the Pipelines tab: gone from the server.
	admin.click(`[data-testid=user-menu]`)
	admin.click(`[data-testid=admin-link]`)
	admin.click(`[data-testid=tab-pipelines]`)
	admin.wait("the added server offered", `document.querySelector('[data-testid=pipelines-connection] option[value="`+pipesID+`"]')`)
	admin.choose(`[data-testid=pipelines-connection]`, pipesID)
	rd := `[data-testid=pipeline][data-id=redact]`
	admin.click(rd + ` [data-testid=pipeline-delete]`)
	admin.click(rd + ` [data-testid=pipeline-delete-confirm]`)
	admin.wait("the redaction filter gone", `!document.querySelector('`+rd+`') && document.querySelector('[data-testid=pipeline][data-id=rate_limit]')`)
	var list struct{ Data []struct{ ID string } }
	if err := pipes.get("/pipelines", &list, &st); err != nil || st != 200 || len(list.Data) != 2 {
		admin.fail("the server lists %+v after the delete (status %d, %v)", list.Data, st, err)
	}
	admin.shot("deleted")
	fmt.Printf("pipelines flow: screenshots in %s\n", artifacts(t))
}
