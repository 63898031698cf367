//go:build browser

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/golem-llm/golem/internal/db/dbtest"
	"github.com/golem-llm/golem/internal/registry/registrytest"
)

// TestSeedFlowSQLite walks the seed's whole flow in a real browser against one server on SQLite, then
// restarts the server and checks that the history and both sessions survived.
func TestSeedFlowSQLite(t *testing.T) {
	reg := registryFor(t)
	data, models := tempDirs(t)
	g := newGolem(t, data, models, "", reg.URL)
	runFlow(t, "sqlite", g.URL(), reg, g.Restart)
}

// TestSeedFlowPostgres runs the same flow on PostgreSQL with two servers sharing the database (and the
// model store, as two pods would share a volume) behind a load balancer that alternates every request
// between them; the restart is a rolling one.
func TestSeedFlowPostgres(t *testing.T) {
	base, ok := dbtest.PostgresURL(t)
	if !ok {
		t.Log("PostgreSQL flow not run: GOLEM_TEST_DATABASE_URL is unset (scripts/webui-e2e.sh starts a server)")
		return
	}
	dbURL := dbtest.FreshPostgres(t, base)
	reg := registryFor(t)
	data1, models := tempDirs(t)
	data2, _ := tempDirs(t)
	g1 := newGolem(t, data1, models, dbURL, reg.URL)
	g2 := newGolem(t, data2, models, dbURL, reg.URL)
	rr := newRoundRobin(t, g1.URL(), g2.URL())
	runFlow(t, "postgres", rr.URL, reg, func() {
		g1.Restart()
		g2.Restart()
	})
	a, b := rr.counts[0].Load(), rr.counts[1].Load()
	t.Logf("requests: %d to the first server, %d to the second", a, b)
	if a < 20 || b < 20 {
		t.Errorf("the load balancer sent %d and %d requests: both servers should have served many", a, b)
	}
}

const (
	adminEmail = "ada@example.com"
	bobEmail   = "bob@example.com"
	password   = "correct horse battery"
	assistant  = `[data-testid=message][data-role=assistant]`
	userMsg    = `[data-testid=message][data-role=user]`
)

// runFlow is the seed's walkthrough plus the chat features, in the browser, against front (the URL the
// browser opens); restart restarts the server(s).
func runFlow(t *testing.T, prefix, front string, reg *registrytest.Server, restart func()) {
	b := newBrowser(t, prefix)

	// 1. The first account becomes the administrator.
	admin := b.page("admin")
	admin.open(front)
	admin.wait("the onboarding form", `document.querySelector('[data-testid=onboarding]')`)
	admin.shot("onboarding")
	admin.typeKeys(`input[name=name]`, "Ada")
	admin.typeKeys(`input[name=email]`, adminEmail)
	admin.typeKeys(`input[name=password]`, password)
	admin.click(`[data-testid=auth-submit]`)
	admin.wait("the chat page", `document.querySelector('[data-testid=sidebar]') && document.querySelector('[data-testid=composer]')`)
	var me struct{ Role, Email string }
	if st := admin.fetchJSON("GET", "/api/v1/auths/", &me); st != 200 || me.Role != "admin" || me.Email != adminEmail {
		admin.fail("first account: status %d, %+v; want an admin", st, me)
	}
	admin.shot("admin signed up")

	// 2. A second sign-up waits for approval and cannot use the APIs meanwhile.
	bob := b.page("bob")
	bob.open(front)
	bob.wait("the sign-in form", `document.querySelector('[data-testid=auth-form]') && !document.querySelector('[data-testid=onboarding]')`)
	bob.click(`[data-testid=auth-switch]`)
	bob.typeKeys(`input[name=name]`, "Bob")
	bob.typeKeys(`input[name=email]`, bobEmail)
	bob.typeKeys(`input[name=password]`, password)
	bob.click(`[data-testid=auth-submit]`)
	bob.wait("the waiting-for-approval screen", `document.querySelector('[data-testid=pending]')`)
	if st := bob.fetchJSON("GET", "/api/v1/chats", nil); st != 403 {
		bob.fail("a pending user listing chats got %d, want 403", st)
	}
	bob.shot("pending")

	// 3. The admin approves Bob in the admin panel; Bob's screen lets him in.
	admin.click(`[data-testid=user-menu]`)
	admin.click(`[data-testid=admin-link]`)
	bobRow := `[data-testid=user-row][data-email="` + bobEmail + `"]`
	admin.wait("Bob in the user list as pending", `document.querySelector('`+bobRow+` [data-testid=role-select]').value === 'pending'`)
	admin.shot("users")
	admin.click(bobRow + ` [data-testid=approve]`)
	admin.wait("Bob approved", `document.querySelector('`+bobRow+` [data-testid=role-select]').value === 'user'`)
	bob.click(`[data-testid=pending-check]`)
	bob.wait("Bob's chat page", `document.querySelector('[data-testid=composer]')`)
	if st := bob.fetchJSON("GET", "/api/v1/users", nil); st != 403 {
		bob.fail("a user listing users got %d, want 403", st)
	}
	bob.shot("approved")

	// 3b. Bob forgot his password: the admin sets a new one, which signs Bob out; Bob signs in with it
	// and changes it back in his account settings (a wrong current password is refused first).
	admin.click(bobRow + ` [data-testid=reset-password]`)
	admin.fill(bobRow+` [data-testid=reset-password-input]`, "temporary-pass")
	admin.click(bobRow + ` [data-testid=reset-password-save]`)
	admin.wait("the reset confirmed", `document.querySelector('[data-testid=users-notice]')`)
	bob.reload()
	bob.wait("Bob signed out by the reset", `document.querySelector('[data-testid=auth-form]')`)
	bob.fill(`input[name=email]`, bobEmail)
	bob.fill(`input[name=password]`, "temporary-pass")
	bob.click(`[data-testid=auth-submit]`)
	bob.wait("Bob back in with the new password", `document.querySelector('[data-testid=composer]')`)
	bob.click(`[data-testid=user-menu]`)
	bob.click(`[data-testid=account-link]`)
	bob.fill(`[data-testid=current-password]`, "not-my-password")
	bob.fill(`[data-testid=new-password]`, password)
	bob.click(`[data-testid=change-password]`)
	bob.wait("a wrong current password refused", `(document.querySelector('[data-testid=password-error]')?.innerText || '').includes('current password is wrong')`)
	bob.fill(`[data-testid=current-password]`, "temporary-pass")
	bob.click(`[data-testid=change-password]`)
	bob.wait("the password changed", `document.querySelector('[data-testid=password-changed]')`)
	bob.shot("password changed")
	bob.reload()
	bob.wait("Bob still signed in after changing his password", `document.querySelector('[data-testid=composer]')`)

	// 4. Connections: the built-in engine verifies; a second Ollama server is added and verified.
	slow := slowServer(t, front, 60*time.Millisecond)
	admin.click(`[data-testid=tab-connections]`)
	admin.wait("the built-in connection", `document.querySelector('[data-testid=connection][data-id=builtin]')`)
	admin.click(`[data-testid=connection][data-id=builtin] [data-testid=verify]`)
	admin.wait("the built-in engine verified", `document.querySelector('[data-testid=connection][data-id=builtin] [data-testid=verify-result][data-ok=true]')`)
	admin.click(`[data-testid=add-connection]`)
	admin.fill(`[data-testid=connection-url]`, slow)
	admin.fill(`[data-testid=connection-name]`, "GPU box")
	admin.click(`[data-testid=connection-verify]`)
	admin.wait("the new URL verified", `document.querySelector('[data-testid=form-verify-result].ok')`)
	admin.click(`[data-testid=connection-save]`)
	conn := `[data-testid=connection][data-url="` + slow + `"]`
	admin.wait("the new connection listed", `document.querySelector('`+conn+`')`)
	admin.click(conn + ` [data-testid=verify]`)
	admin.wait("the new connection verified", `document.querySelector('`+conn+` [data-testid=verify-result][data-ok=true]')`)
	admin.shot("connections")

	// 5. Models: a pull shows live progress and can be cancelled; pulled again it reaches 100%.
	admin.click(`[data-testid=tab-models]`)
	if js[bool](admin, `!!document.querySelector('[data-testid=pull-connection]')`) {
		admin.choose(`[data-testid=pull-connection]`, "builtin")
	}
	reg.SetThrottle(300 << 10)
	admin.fill(`[data-testid=pull-name]`, modelName)
	admin.click(`[data-testid=pull-start]`)
	admin.wait("progress between 0 and 100%", `(() => { const v = +document.querySelector('[data-testid=pull-progress]').getAttribute('aria-valuenow'); return v > 0 && v < 100 })()`)
	admin.shot("pull progress")
	admin.click(`[data-testid=pull-cancel]`)
	admin.wait("the pull cancelled", `document.querySelector('[data-testid=pull-status][data-state=cancelled]')`)
	reg.SetThrottle(2 << 20)
	admin.click(`[data-testid=pull-start]`)
	admin.waitFor("the pull finished", `document.querySelector('[data-testid=pull-status][data-state=success]') || document.querySelector('[data-testid=pull-status][data-state=error]')`, 60*time.Second)
	if got := admin.text(`[data-testid=pull-percent]`); got != "100%" || !js[bool](admin, `!!document.querySelector('[data-testid=pull-status][data-state=success]')`) {
		admin.fail("pull ended at %s, state %s", got, js[string](admin, `document.querySelector('[data-testid=pull-status]').dataset.state`))
	}
	if v := js[string](admin, `document.querySelector('[data-testid=pull-progress]').getAttribute('aria-valuenow')`); v != "100" {
		admin.fail("progress bar at %s after success", v)
	}
	admin.wait("the model listed", `document.querySelector('[data-testid=model-row][data-name^="`+modelName+`"]')`)
	admin.shot("pull done")

	// 6. Chat on the slow connection: tokens stream in one by one; stop keeps the partial answer.
	admin.click(`[data-testid=new-chat]`)
	admin.wait("the composer", `document.querySelector('[data-testid=composer]')`)
	pick := `[...document.querySelectorAll('[data-testid=model-picker] option')].find(o => o.value.includes('` + modelName + `') && o.parentElement.label === 'GPU box')`
	admin.wait("the model on the GPU box connection in the picker", pick)
	admin.choose(`[data-testid=model-picker]`, js[string](admin, pick+`.value`))
	admin.click(`[data-testid=chat-settings-open]`)
	admin.fill(`[data-testid=system-prompt]`, "You tell short stories.")
	admin.fill(`[data-testid=param-num_predict]`, "400")
	admin.fill(`[data-testid=param-temperature]`, "0")
	admin.click(`[data-testid=chat-settings-save]`)
	admin.wait("settings closed", `!document.querySelector('[data-testid=chat-settings]')`)
	// Record every length the answer shows while it is being written.
	js[bool](admin, `(() => { window.__lengths = []; setInterval(() => {
		const m = document.querySelector('`+assistant+`[data-done=false] [data-testid=content]');
		if (m) { const n = m.innerText.length; if (window.__lengths[window.__lengths.length - 1] !== n) window.__lengths.push(n) } }, 5); return true })()`)
	admin.typeKeys(`[data-testid=composer]`, "Once upon a time")
	admin.click(`[data-testid=send]`)
	admin.wait("the answer growing token by token", `window.__lengths.filter(n => n > 0).length >= 4`)
	admin.shot("streaming")
	admin.click(`[data-testid=stop]`)
	admin.wait("the answer marked stopped", `document.querySelector('`+assistant+`[data-stopped=true]')`)
	first := js[string](admin, `document.querySelector('`+assistant+`').dataset.id`)
	partial := js[string](admin, `document.querySelector('`+assistant+` [data-testid=content]').innerText`)
	if strings.TrimSpace(partial) == "" {
		admin.fail("the stopped answer is empty")
	}
	chatID := strings.TrimPrefix(js[string](admin, `location.pathname`), "/c/")
	admin.shot("stopped")
	var chat chatJSON
	admin.waitFor("the server to mark the answer stopped", `fetch('/api/v1/chats/`+chatID+`').then(r => r.json()).then(c => c.messages.some(m => m.id === '`+first+`' && m.stopped && m.done))`, 20*time.Second)

	// 7. Regenerate: a sibling answer, with arrows between the two.
	admin.click(`[data-testid=chat-settings-open]`)
	admin.fill(`[data-testid=param-num_predict]`, "24")
	admin.click(`[data-testid=chat-settings-save]`)
	admin.wait("settings closed", `!document.querySelector('[data-testid=chat-settings]')`)
	admin.click(assistant + ` [data-testid=regenerate]`)
	admin.waitFor("a second answer, finished", `(() => { const m = document.querySelector('`+assistant+`'); return m && m.dataset.id !== '`+first+`' && m.dataset.done === 'true' })()`, 60*time.Second)
	second := js[string](admin, `document.querySelector('`+assistant+`').dataset.id`)
	admin.wait("branch 2/2 on the answer", `document.querySelector('`+assistant+` [data-testid=branch-pos]').innerText === '2/2'`)
	admin.shot("regenerated")
	admin.click(assistant + ` [data-testid=branch-prev]`)
	admin.wait("the first answer again", `document.querySelector('`+assistant+`').dataset.id === '`+first+`' && document.querySelector('`+assistant+` [data-testid=branch-pos]').innerText === '1/2'`)
	admin.click(assistant + ` [data-testid=branch-next]`)
	admin.wait("the second answer again", `document.querySelector('`+assistant+`').dataset.id === '`+second+`'`)

	// 8. Edit the question: a new branch of the conversation; the old one stays reachable.
	admin.click(userMsg + ` [data-testid=edit]`)
	admin.fill(`[data-testid=edit-input]`, "Once upon a time there was a cat")
	admin.click(`[data-testid=edit-save]`)
	admin.waitFor("the edited question answered", `(() => { const u = document.querySelector('`+userMsg+`'); const a = document.querySelector('`+assistant+`');
		return u && u.innerText.includes('there was a cat') && a && a.dataset.done === 'true' && ![ '`+first+`', '`+second+`' ].includes(a.dataset.id) })()`, 60*time.Second)
	third := js[string](admin, `document.querySelector('`+assistant+`').dataset.id`)
	admin.wait("branch 2/2 on the question", `document.querySelector('`+userMsg+` [data-testid=branch-pos]').innerText === '2/2'`)
	admin.shot("edited")
	admin.click(userMsg + ` [data-testid=branch-prev]`)
	admin.wait("the original question with its latest answer", `document.querySelector('`+userMsg+` [data-testid=content]').innerText === 'Once upon a time' && document.querySelector('`+assistant+`').dataset.id === '`+second+`'`)
	admin.shot("first branch")
	// The branch on screen is stored: the server's current_id is the answer shown.
	admin.waitFor("current_id saved", `fetch('/api/v1/chats/`+chatID+`').then(r => r.json()).then(c => c.current_id === '`+second+`')`, 10*time.Second)
	admin.click(userMsg + ` [data-testid=branch-next]`)
	admin.wait("the edited branch again", `document.querySelector('`+assistant+`').dataset.id === '`+third+`'`)
	admin.waitFor("current_id saved", `fetch('/api/v1/chats/`+chatID+`').then(r => r.json()).then(c => c.current_id === '`+third+`')`, 10*time.Second)

	// 9. History: an automatic title, search, rename.
	item := `[data-testid=chat-item][data-chat-id="` + chatID + `"]`
	admin.waitFor("an automatic title", `(() => { const e = document.querySelector('`+item+` a'); return e && e.innerText.trim() && e.innerText.trim() !== 'New chat' })()`, 30*time.Second)
	admin.fill(`[data-testid=chat-search]`, "there was a cat")
	admin.wait("the chat found by its text", `document.querySelectorAll('[data-testid=chat-item]').length === 1 && document.querySelector('`+item+`')`)
	admin.fill(`[data-testid=chat-search]`, "no such words anywhere")
	admin.wait("no chats for a search that matches nothing", `document.querySelectorAll('[data-testid=chat-item]').length === 0`)
	admin.fill(`[data-testid=chat-search]`, "")
	admin.wait("the chat listed again", `document.querySelector('`+item+`')`)
	admin.click(item + ` [data-testid=chat-rename]`)
	admin.fill(`[data-testid=rename-input]`, "My story")
	js[bool](admin, `(() => { document.querySelector('[data-testid=rename-input]').dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true})); return true })()`)
	admin.wait("the new title", `document.querySelector('`+item+` a').innerText === 'My story'`)
	admin.waitFor("the new title saved", `fetch('/api/v1/chats/`+chatID+`').then(r => r.json()).then(c => c.title === 'My story')`, 10*time.Second)

	// 10. Export as JSON and Markdown.
	if st := admin.fetchJSON("GET", "/api/v1/chats/"+chatID+"/export?format=json", &chat); st != 200 || len(chat.Messages) != 5 || chat.Title != "My story" || chat.System != "You tell short stories." {
		admin.fail("JSON export: status %d, %d messages, title %q, system %q; want 5 messages (2 questions, 3 answers)", st, len(chat.Messages), chat.Title, chat.System)
	}
	md := js[string](admin, `fetch('/api/v1/chats/`+chatID+`/export?format=markdown').then(r => r.text())`)
	if !strings.HasPrefix(md, "# My story") || !strings.Contains(md, "there was a cat") {
		admin.fail("Markdown export:\n%s", md)
	}

	// 11. Restart: nobody is signed out, the history and the branches are intact.
	restart()
	admin.reload()
	admin.wait("still signed in after the restart", `document.querySelector('[data-testid=sidebar]') && document.querySelector('`+assistant+`')`)
	admin.wait("the chat with its branches", `document.querySelector('`+item+` a').innerText === 'My story' && document.querySelector('`+assistant+`').dataset.id === '`+third+`' && document.querySelector('`+userMsg+` [data-testid=branch-pos]').innerText === '2/2'`)
	admin.shot("after restart")
	bob.reload()
	bob.wait("Bob still signed in after the restart", `document.querySelector('[data-testid=composer]')`)
	bob.wait("Bob does not see Ada's chat", `!document.querySelector('`+item+`')`)

	// 12. Chinese and the dark theme, both kept across a reload.
	admin.choose(`[data-testid=locale]`, "zh-CN")
	admin.wait("Chinese texts", `document.querySelector('[data-testid=new-chat]').innerText.includes('新对话')`)
	for i := 0; i < 3 && !js[bool](admin, `document.documentElement.dataset.theme === 'dark'`); i++ {
		admin.click(`[data-testid=theme]`)
	}
	admin.reload()
	admin.wait("Chinese and dark after a reload", `document.documentElement.dataset.theme === 'dark' && document.querySelector('[data-testid=new-chat]').innerText.includes('新对话')`)
	admin.shot("zh dark")
	admin.choose(`[data-testid=locale]`, "en")

	// 13. On a phone the sidebar is a drawer behind a menu button.
	ctx := bob.ctx
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile)); err != nil {
		bob.fail("phone viewport: %v", err)
	}
	bob.reload()
	bob.wait("the menu button on a phone", `getComputedStyle(document.querySelector('[data-testid=open-sidebar]')).display !== 'none'`)
	bob.wait("the sidebar off screen", `document.querySelector('[data-testid=sidebar]').getBoundingClientRect().right <= 0`)
	bob.shot("phone")
	bob.click(`[data-testid=open-sidebar]`)
	bob.wait("the sidebar drawn in", `Math.round(document.querySelector('[data-testid=sidebar]').getBoundingClientRect().left) === 0`)
	bob.shot("phone sidebar")
	// 14. The admin deletes Bob's account: Bob's next request finds no session and his page returns to
	// the sign-in form.
	admin.click(`[data-testid=user-menu]`)
	admin.click(`[data-testid=admin-link]`)
	admin.click(bobRow + ` [data-testid=user-delete]`)
	admin.click(bobRow + ` [data-testid=user-delete-confirm]`)
	admin.wait("Bob gone from the user list", `!document.querySelector('`+bobRow+`') && document.querySelectorAll('[data-testid=user-row]').length === 1`)
	bob.click(`[data-testid=close-sidebar]`)
	bob.fill(`[data-testid=chat-search]`, "anything")
	bob.wait("Bob back at the sign-in form", `document.querySelector('[data-testid=auth-form]')`)
	bob.shot("signed out")
	admin.click(`[data-testid=new-chat]`)

	// 15. Delete the chat from the history.
	admin.click(item + ` [data-testid=chat-delete]`)
	admin.click(item + ` [data-testid=chat-delete-confirm]`)
	admin.wait("the chat gone from the sidebar", `!document.querySelector('`+item+`') && location.pathname === '/'`)
	if st := admin.fetchJSON("GET", "/api/v1/chats/"+chatID, nil); st != 404 {
		admin.fail("the deleted chat answers %d, want 404", st)
	}
	fmt.Printf("%s flow: screenshots in %s\n", prefix, artifacts(t))
}

type chatJSON struct {
	Title    string `json:"title"`
	System   string `json:"system"`
	Messages []struct {
		ID      string `json:"id"`
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
}
