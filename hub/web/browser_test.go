package web_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/auth"
	"github.com/botrelay/botrelay/hub"
	"github.com/botrelay/botrelay/internal/browsertest"
	"github.com/botrelay/botrelay/internal/limits"
	"github.com/botrelay/botrelay/sqlstore"
)

// tab is one browser tab under test. Every step runs with a deadline.
type tab struct {
	t    *testing.T
	name string
	ctx  context.Context
}

// newTab opens a tab. Every Content-Security-Policy violation the browser
// reports in it (a blocked inline script, style or event handler, a
// resource from elsewhere) fails the test when it ends.
func newTab(t *testing.T, browserCtx context.Context, name string) *tab {
	ctx, cancel := chromedp.NewContext(browserCtx)
	t.Cleanup(cancel)
	// Open the tab on its own context: a tab opened by a run with a
	// deadline would close when that deadline's context ends.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open tab %s: %v", name, err)
	}
	browsertest.FailOnCSPViolations(t, ctx, name)
	return &tab{t: t, name: name, ctx: ctx}
}

// do runs steps with a 15 s deadline and fails the test (with a screenshot)
// when they do not complete.
func (b *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.screenshot(b.name + "-failure")
		b.t.Fatalf("%s: %s: %v", b.name, what, err)
	}
}

// waitJS waits until the JavaScript expression is truthy.
func (b *tab) waitJS(what, expr string) {
	b.t.Helper()
	b.do(what, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(12*time.Second), chromedp.WithPollingInterval(50*time.Millisecond)))
}

// eval evaluates a JavaScript expression.
func evalJS[T any](b *tab, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("%s: evaluate %s: %v", b.name, expr, err)
	}
	return v
}

// screenshot saves a PNG of the viewport and logs its path.
func (b *tab) screenshot(name string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Errorf("%s: screenshot: %v", b.name, err)
		return ""
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG")) {
		b.t.Errorf("%s: screenshot is not a PNG", b.name)
	}
	path := filepath.Join(browsertest.ArtifactsDir(b.t), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Errorf("write screenshot: %v", err)
		return ""
	}
	b.t.Logf("screenshot: %s", path)
	return path
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// hasMessage is a JavaScript predicate: a message of kind (or any kind when
// "") in the list with the given test id contains text.
func hasMessage(list, kind, text string) string {
	sel := fmt.Sprintf(`[data-testid=%q] [data-testid=message]`, list)
	if kind != "" {
		sel = fmt.Sprintf(`[data-testid=%q] [data-testid=message][data-kind=%q]`, list, kind)
	}
	return fmt.Sprintf(`[...document.querySelectorAll(%s)].some(e => e.querySelector(".body") && e.querySelector(".body").textContent.includes(%s))`, jsString(sel), jsString(text))
}

// pageScenario is the end-to-end check of the two pages against a hub at
// base: a human agent (login/password, ONLINE, skill "bot") accepts a
// conversation a consumer starts, they exchange messages both ways, the agent
// offers quick replies, the consumer clicks one and the agent receives it as
// text; a private note stays with the agent; screenshots of both pages.
func pageScenario(t *testing.T, base, login, password string) {
	bctx := browsertest.Browser(t, 1100, 800)
	agent := newTab(t, bctx, "agent")
	consumer := newTab(t, bctx, "consumer")

	// Agent logs in; a wrong password is rejected first.
	agent.do("open console", chromedp.Navigate(base+"/agent"), chromedp.WaitVisible(chromedp.CSS("#login-username")))
	agent.do("wrong password",
		chromedp.SendKeys(chromedp.CSS("#login-username"), login),
		chromedp.SendKeys(chromedp.CSS("#login-password"), "wrong-"+password),
		chromedp.Click(chromedp.CSS("#login-submit")),
	)
	agent.waitJS("login error shown", `document.querySelector("#login-error").textContent.length > 0`)
	agent.do("log in",
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#login-password").value = ""`),
		chromedp.SendKeys(chromedp.CSS("#login-password"), password),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("[data-testid=console]")),
		chromedp.WaitVisible(chromedp.CSS(`#status[data-state=connected]`)),
		chromedp.WaitVisible(chromedp.CSS(`#availability[data-state=ONLINE]`)),
	)

	// Consumer opens the page and writes first.
	consumer.do("open page", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`#status[data-state=connected]`)))
	consumer.do("send first message",
		chromedp.SendKeys(chromedp.CSS("#message-input"), "Hello from the consumer"),
		chromedp.Click(chromedp.CSS("#send")),
	)
	consumer.waitJS("own message shown", hasMessage("messages", "consumer", "Hello from the consumer"))

	// Agent accepts the ring and sees the message.
	agent.do("accept ring", chromedp.WaitVisible(chromedp.CSS("[data-testid=accept-ring]")), chromedp.Click(chromedp.CSS("[data-testid=accept-ring]")))
	agent.do("conversation opens", chromedp.WaitVisible(chromedp.CSS("#agent-input")))
	agent.waitJS("consumer message in console", hasMessage("agent-messages", "consumer", "Hello from the consumer"))

	// Agent answers with quick replies.
	agent.do("send reply with quick replies",
		chromedp.SendKeys(chromedp.CSS("#agent-input"), "Hi! Can I help with an order?"),
		chromedp.SendKeys(chromedp.CSS("#quick-replies-input"), "Yes please, No thanks"),
		chromedp.Click(chromedp.CSS("#agent-send")),
	)
	consumer.waitJS("agent reply shown", hasMessage("messages", "agent", "Hi! Can I help with an order?"))
	consumer.waitJS("agent joined notice", hasMessage("messages", "system", "joined"))
	consumer.waitJS("quick replies shown", `document.querySelectorAll("[data-testid=quick-reply]").length === 2`)
	consumer.screenshot("consumer-page")

	// Consumer clicks a quick reply; the agent gets its text.
	consumer.do("click quick reply", chromedp.Click(chromedp.Search(`//button[@data-testid="quick-reply"][normalize-space()="Yes please"]`)))
	consumer.do("quick replies gone", chromedp.WaitNotPresent(chromedp.CSS("[data-testid=quick-replies]")))
	agent.waitJS("quick reply received as text", hasMessage("agent-messages", "consumer", "Yes please"))

	// A private note stays in the console: the consumer gets the next
	// message but never the note.
	agent.do("send private note",
		chromedp.SendKeys(chromedp.CSS("#agent-input"), "Note: VIP customer"),
		chromedp.Click(chromedp.CSS("#private-note")),
		chromedp.Click(chromedp.CSS("#agent-send")),
	)
	agent.waitJS("note shown as note", hasMessage("agent-messages", "note", "Note: VIP customer"))
	agent.do("send follow-up",
		chromedp.SendKeys(chromedp.CSS("#agent-input"), "Let me check that for you."),
		chromedp.Click(chromedp.CSS("#agent-send")),
	)
	consumer.waitJS("follow-up shown", hasMessage("messages", "agent", "Let me check that for you."))
	if evalJS[bool](consumer, hasMessage("messages", "", "VIP customer")) {
		t.Error("the consumer page shows the agent's private note")
	}

	// Typing indicators both ways, then the consumer writes again.
	consumer.do("type", chromedp.SendKeys(chromedp.CSS("#message-input"), "Order 1234 please"))
	agent.waitJS("consumer typing shown", `document.querySelector("#consumer-typing").textContent.includes("typing")`)
	consumer.do("send second message", chromedp.Click(chromedp.CSS("#send")))
	agent.waitJS("second consumer message", hasMessage("agent-messages", "consumer", "Order 1234 please"))
	agent.waitJS("consumer typing cleared", `document.querySelector("#consumer-typing").textContent === ""`)
	agent.do("agent types", chromedp.SendKeys(chromedp.CSS("#agent-input"), "Found it"))
	consumer.waitJS("agent typing shown", `document.querySelector("#typing").textContent.includes("typing")`)
	agent.do("agent sends", chromedp.Click(chromedp.CSS("#agent-send")))
	consumer.waitJS("agent message clears typing", hasMessage("messages", "agent", "Found it")+` && document.querySelector("#typing").textContent === ""`)

	// The consumer sends an image; both sides show it from the hub.
	img := filepath.Join(t.TempDir(), "receipt.png")
	if err := os.WriteFile(img, tinyPNG(t), 0o644); err != nil {
		t.Fatal(err)
	}
	consumer.do("upload file", chromedp.SetUploadFiles(chromedp.CSS("#file-input"), []string{img}))
	consumer.waitJS("file shown to consumer", `[...document.querySelectorAll("#messages [data-kind=consumer] img.file-thumb")].some(i => i.complete && i.naturalWidth > 0)`)
	agent.waitJS("file shown to agent", `[...document.querySelectorAll("#agent-messages [data-kind=consumer] img.file-thumb")].some(i => i.complete && i.naturalWidth > 0)`)
	agent.screenshot("agent-console")

	// A reload of the consumer page continues the same conversation.
	consumer.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#status[data-state=connected]`)))
	consumer.waitJS("history after reload", hasMessage("messages", "agent", "Found it")+" && "+hasMessage("messages", "consumer", "Order 1234 please"))

	// The agent closes the conversation; the consumer is told.
	agent.do("close", chromedp.Click(chromedp.CSS("#close-conversation")))
	consumer.waitJS("closed notice", hasMessage("messages", "system", "closed"))
	agent.waitJS("closed in console", hasMessage("agent-messages", "system", "closed"))

	// A new message starts a new conversation; the agent transfers it to
	// skill "human" and the consumer ends it.
	consumer.do("start second conversation",
		chromedp.SendKeys(chromedp.CSS("#message-input"), "One more question"),
		chromedp.Click(chromedp.CSS("#send")),
	)
	agent.do("accept second ring", chromedp.WaitVisible(chromedp.CSS("[data-testid=accept-ring]")), chromedp.Click(chromedp.CSS("[data-testid=accept-ring]")))
	agent.waitJS("second conversation open", hasMessage("agent-messages", "consumer", "One more question"))
	agent.waitJS("skills loaded", `[...document.querySelectorAll("#transfer-skill option")].some(o => o.textContent === "human")`)
	agent.do("open transfer", chromedp.Click(chromedp.CSS("#transfer-open")), chromedp.WaitVisible(chromedp.CSS("#transfer-skill")))
	if v := evalJS[string](agent, `document.querySelector("#transfer-skill").value`); v != "" {
		t.Errorf("the transfer skill list preselects %q, want no selection", v)
	}
	agent.do("transfer to human",
		chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector("#transfer-skill"); s.value = [...s.options].find(o => o.textContent === "human").value; s.dispatchEvent(new Event("change")); })()`),
		chromedp.Click(chromedp.CSS("#transfer")),
	)
	agent.waitJS("transferred in console", hasMessage("agent-messages", "system", "transferred"))
	consumer.waitJS("transferred notice", hasMessage("messages", "system", "transferred"))
	consumer.do("end chat", chromedp.Click(chromedp.CSS("#end-conversation")))
	consumer.waitJS("ended", `document.querySelectorAll("#messages [data-kind=system]").length > 0 && [...document.querySelectorAll("#messages [data-kind=system]")].pop().textContent.includes("closed")`)
	consumer.screenshot("consumer-page-end")

	// The narrow (phone) layout of both pages.
	consumer.do("narrow viewport", chromedp.EmulateViewport(390, 760))
	consumer.screenshot("consumer-page-narrow")
	agent.do("narrow viewport", chromedp.EmulateViewport(390, 760))
	agent.screenshot("agent-console-narrow")

	// Structured content renders as DOM in the real browser, as text only.
	got := evalJS[string](consumer, `(() => {
		const n = Botrelay.renderStructured({type: "carousel", elements: [
			{type: "vertical", elements: [
				{type: "image", url: "/static/none.png", caption: "A shoe"},
				{type: "text", text: "Red shoe", style: {bold: true}},
				{type: "button", title: "Buy", click: {actions: [{type: "publishText", text: "buy red"}]}},
				{type: "link", title: "Evil", uri: "javascript:alert(1)"}]},
			{type: "horizontal", elements: [{type: "text", text: "<b>x</b>"}, {type: "link", title: "Docs", uri: "https://example.test/d"}]}]},
			(t) => { window.picked = t; });
		n.querySelector("button").click();
		return JSON.stringify({
			cards: n.querySelectorAll(":scope > .sc").length,
			caption: n.querySelector("figcaption").textContent,
			bold: n.querySelector(".sc-text-title").textContent,
			evilHref: n.querySelector("a.sc-link").hasAttribute("href"),
			docs: n.querySelectorAll("a.sc-link")[1].getAttribute("href"),
			text: n.querySelector(".sc-horizontal .sc-text").innerHTML,
			picked: window.picked,
		});
	})()`)
	want := `{"cards":2,"caption":"A shoe","bold":"Red shoe","evilHref":false,"docs":"https://example.test/d","text":"&lt;b&gt;x&lt;/b&gt;","picked":"buy red"}`
	if got != want {
		t.Errorf("structured content rendering:\n got %s\nwant %s", got, want)
	}
}

// tinyPNG returns a small valid PNG image.
func tinyPNG(t *testing.T) []byte {
	t.Helper()
	m := image.NewRGBA(image.Rect(0, 0, 24, 16))
	for x := range 24 {
		for y := range 16 {
			m.Set(x, y, color.RGBA{R: uint8(x * 10), G: 90, B: 200, A: 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, m); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// startHub runs the real hub on an SQLite store in a temp dir, seeded with
// account 1000, the built-in profiles, skills "bot" and "human", and a human
// agent (Agent profile, skill "bot") with a password. It returns the base URL.
func startHub(t *testing.T, login, password string) string {
	t.Helper()
	return startHubWith(t, login, password, nil)
}

// startHubWith is startHub with a chance to change the hub's options.
func startHubWith(t *testing.T, login, password string, edit func(*hub.Options)) string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := sqlstore.Open(ctx, sqlstore.Options{Dialect: sqlstore.SQLite, DSN: filepath.Join(dir, "botrelay.db"), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })

	const account = botrelay.AccountID("1000")
	adminHash, err := auth.HashPassword("admin-" + password)
	if err != nil {
		t.Fatal(err)
	}
	botSkill := &botrelay.Skill{Name: "bot"}
	boot := &botrelay.Bootstrap{
		Account:           &botrelay.Account{ID: account, Name: "Test"},
		Profiles:          botrelay.BuiltInProfiles(),
		Skills:            []*botrelay.Skill{botSkill, {Name: "human"}},
		Admin:             &botrelay.User{Type: botrelay.UserHuman, LoginName: "admin", Enabled: true, MessagingSlots: 1},
		AdminPasswordHash: adminHash,
	}
	if _, err := store.Bootstrap(ctx, boot); err != nil {
		t.Fatal(err)
	}
	var agentProfile botrelay.ProfileID
	for _, p := range boot.Profiles {
		if p.Role == botrelay.RoleAgent && p.Has(botrelay.PermConvHandle) {
			agentProfile = p.ID
		}
	}
	if agentProfile == 0 {
		t.Fatal("no built-in Agent profile with conversation:handle")
	}
	agent := &botrelay.User{
		AccountID: account, Type: botrelay.UserHuman, LoginName: login, Nickname: "Ann",
		ProfileID: agentProfile, MessagingSlots: 5, SkillIDs: []botrelay.SkillID{botSkill.ID}, Enabled: true,
	}
	if err := store.CreateUser(ctx, agent); err != nil {
		t.Fatal(err)
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.SetPasswordHash(ctx, agent.ID, hash); err != nil {
		t.Fatal(err)
	}

	o := hub.Options{
		Store: store, Account: account, DataDir: dir, Logger: quiet,
		SigningKey: []byte("0123456789abcdef0123456789abcdef"),
	}
	if edit != nil {
		edit(&o)
	}
	h, err := hub.New(o)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = h.Run(runCtx) }()
	mux := http.NewServeMux()
	h.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		_ = h.Close()
		srv.Close()
		stop()
		<-done
	})
	return srv.URL
}

// TestPages drives the consumer page and the agent console in Chromium
// against the real hub.
func TestPages(t *testing.T) {
	base := startHub(t, "ann", "Secret-pass-42")
	pageScenario(t, base, "ann", "Secret-pass-42")
}

// TestAgentConsoleShowsLoginDelay: when the login limits refuse a login,
// the agent console tells the agent how long to wait.
func TestAgentConsoleShowsLoginDelay(t *testing.T) {
	base := startHubWith(t, "ann", "Secret-pass-42", func(o *hub.Options) {
		o.Logins = limits.NewLogins(limits.LoginConfig{PairFailures: 1, Delay: time.Minute, MaxDelay: time.Minute}, nil)
	})
	agent := newTab(t, browsertest.Browser(t, 1100, 800), "agent")
	agent.do("open console", chromedp.Navigate(base+"/agent"), chromedp.WaitVisible(chromedp.CSS("#login-username")))
	agent.do("wrong password",
		chromedp.SendKeys(chromedp.CSS("#login-username"), "ann"),
		chromedp.SendKeys(chromedp.CSS("#login-password"), "wrong"),
		chromedp.Click(chromedp.CSS("#login-submit")),
	)
	agent.waitJS("wrong password shown", `document.querySelector("#login-error").textContent === "Wrong login name or password."`)
	agent.do("right password, too soon",
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#login-password").value = ""`),
		chromedp.SendKeys(chromedp.CSS("#login-password"), "Secret-pass-42"),
		chromedp.Click(chromedp.CSS("#login-submit")),
	)
	agent.waitJS("the delay shown", `/^Too many failed logins for this name or from this address; try again in [1-6]?[0-9] s\.$/.test(document.querySelector("#login-error").textContent)`)
}
