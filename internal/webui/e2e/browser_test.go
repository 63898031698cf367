//go:build browser

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium finds Debian's Chromium (CHROMIUM overrides). A missing browser fails the test: the tests
// exist to drive one (scripts/webui-e2e.sh installs it).
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	t.Fatal("no Chromium: apt-get install -y chromium (or set CHROMIUM)")
	return ""
}

var (
	artOnce sync.Once
	artDir  string
)

// artifacts is where screenshots go: $GOLEM_E2E_ARTIFACTS, or a new temp dir kept after the run.
func artifacts(t *testing.T) string {
	artOnce.Do(func() {
		artDir = os.Getenv("GOLEM_E2E_ARTIFACTS")
		if artDir == "" {
			artDir, _ = os.MkdirTemp("", "golem-e2e-artifacts-")
		}
		os.MkdirAll(artDir, 0o755)
		fmt.Printf("e2e screenshots: %s\n", artDir)
	})
	return artDir
}

// browser is one Chromium process; each page lives in its own browser context (its own cookies and
// storage), as two people on two machines would.
type browser struct {
	t      *testing.T
	ctx    context.Context
	prefix string
	step   int
	mu     sync.Mutex
}

func newBrowser(t *testing.T, prefix string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 860),
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	bctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("start %s: %v", chromium(t), err)
	}
	return &browser{t: t, ctx: bctx, prefix: prefix}
}

// page is a tab in a fresh browser context.
type page struct {
	b    *browser
	t    *testing.T
	ctx  context.Context
	name string
}

func (b *browser) page(name string) *page {
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	b.t.Cleanup(cancel)
	p := &page{b: b, t: b.t, ctx: ctx, name: name}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 860)); err != nil {
		b.t.Fatalf("%s: open tab: %v", name, err)
	}
	return p
}

func (p *page) fail(format string, args ...any) {
	p.t.Helper()
	p.shot("FAILED")
	body, _ := chromedp.Run(p.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 1500) : ''`))
	loc, _ := chromedp.Run(p.ctx, chromedp.Evaluate[string](`location.href`))
	p.t.Fatalf("%s at %s: %s\npage text:\n%s", p.name, loc, fmt.Sprintf(format, args...), body)
}

func (p *page) open(url string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		p.fail("navigate to %s: %v", url, err)
	}
}

func (p *page) reload() {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		p.fail("reload: %v", err)
	}
}

// js evaluates an expression (awaiting a promise) and decodes its value into T.
func js[T any](p *page, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		p.fail("evaluate %s: %v", expr, err)
	}
	return v
}

// wait polls a JavaScript condition until it is truthy.
func (p *page) wait(what, cond string) {
	p.t.Helper()
	p.waitFor(what, cond, 30*time.Second)
}

func (p *page) waitFor(what, cond string, limit time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(limit)
	expr := `(() => { try { return !!(` + cond + `) } catch (e) { return false } })()`
	for {
		ok, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			p.fail("waited %s for %s (%s): err %v", limit, what, cond, err)
		}
		time.Sleep(40 * time.Millisecond)
	}
}

func q(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// click clicks the element once it exists and is enabled.
func (p *page) click(sel string) {
	p.t.Helper()
	p.wait("enabled "+sel, `(() => { const e = document.querySelector(`+q(sel)+`); return e && !e.disabled })()`)
	js[bool](p, `(() => { document.querySelector(`+q(sel)+`).click(); return true })()`)
}

// fill sets an input's value the way typing does (an input event), for long or non-ASCII text.
func (p *page) fill(sel, text string) {
	p.t.Helper()
	p.wait("field "+sel, `document.querySelector(`+q(sel)+`)`)
	js[bool](p, `(() => { const e = document.querySelector(`+q(sel)+`); e.focus(); e.value = `+q(text)+`;
		e.dispatchEvent(new Event('input', {bubbles: true})); e.dispatchEvent(new Event('change', {bubbles: true})); return true })()`)
}

// typeKeys types text with real key events.
func (p *page) typeKeys(sel, text string) {
	p.t.Helper()
	p.wait("field "+sel, `document.querySelector(`+q(sel)+`)`)
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(sel), text)); err != nil {
		p.fail("type into %s: %v", sel, err)
	}
}

// choose picks an option of a <select> and fires its change event.
func (p *page) choose(sel, value string) {
	p.t.Helper()
	p.wait("select "+sel, `document.querySelector(`+q(sel)+`)`)
	js[bool](p, `(() => { const e = document.querySelector(`+q(sel)+`); e.value = `+q(value)+`;
		e.dispatchEvent(new Event('change', {bubbles: true})); return true })()`)
}

func (p *page) text(sel string) string {
	p.t.Helper()
	return js[string](p, `(() => { const e = document.querySelector(`+q(sel)+`); return e ? e.innerText : '' })()`)
}

// fetchJSON calls the API from inside the page (with its cookie) and returns status and body.
func (p *page) fetchJSON(method, path string, out any) int {
	p.t.Helper()
	type res struct {
		Status int    `json:"status"`
		Body   string `json:"body"`
	}
	r := js[res](p, `fetch(`+q(path)+`, {method: `+q(method)+`}).then(async r => ({status: r.status, body: await r.text()}))`)
	if out != nil && r.Status == 200 {
		if err := json.Unmarshal([]byte(r.Body), out); err != nil {
			p.fail("%s %s: %v in %s", method, path, err, r.Body)
		}
	}
	return r.Status
}

// shot saves a screenshot of the page as the next numbered step.
func (p *page) shot(name string) {
	p.b.mu.Lock()
	p.b.step++
	n := p.b.step
	p.b.mu.Unlock()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Logf("screenshot %s: %v", name, err)
		return
	}
	file := filepath.Join(artifacts(p.t), fmt.Sprintf("%s-%02d-%s-%s.png", p.b.prefix, n, p.name, strings.ReplaceAll(name, " ", "-")))
	if err := os.WriteFile(file, png, 0o644); err != nil {
		p.t.Logf("screenshot %s: %v", name, err)
		return
	}
	p.t.Logf("screenshot %s", file)
}
