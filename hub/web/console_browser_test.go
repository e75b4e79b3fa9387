package web_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/auth"
	"github.com/botrelay/botrelay/hub"
	"github.com/botrelay/botrelay/internal/browsertest"
)

// observeAlerts replaces the page's Notification and AudioContext with
// recorders (the real ones stay underneath for sound) and lets the test say
// whether the tab is hidden: window.__alerts counts permission requests,
// notifications shown and tones played; window.__hidden fakes
// document.hidden.
const observeAlerts = `(() => {
	window.__alerts = {requested: 0, shown: [], tones: 0};
	class FakeNotification {
		constructor(title, opts) { window.__alerts.shown.push({title, body: (opts || {}).body || ""}); }
		static requestPermission() { window.__alerts.requested++; FakeNotification.permission = "granted"; return Promise.resolve("granted"); }
	}
	FakeNotification.permission = "default";
	window.Notification = FakeNotification;
	const Real = window.AudioContext;
	window.AudioContext = class extends Real {
		createOscillator() { window.__alerts.tones++; return super.createOscillator(); }
	};
	Object.defineProperty(document, "hidden", {configurable: true, get: () => window.__hidden === true});
})()`

// seedConsole adds to the hub's store a second agent, bob (skill "human",
// so conversations on "bot" never ring him), and two canned replies.
func seedConsole(t *testing.T, password string) func(*hub.Options) {
	return func(o *hub.Options) {
		ctx := context.Background()
		s := o.Store
		p, err := s.ProfileByName(ctx, o.Account, "Agent")
		if err != nil {
			t.Fatal(err)
		}
		human, err := s.SkillByName(ctx, o.Account, "human")
		if err != nil {
			t.Fatal(err)
		}
		bob := &botrelay.User{AccountID: o.Account, Type: botrelay.UserHuman, LoginName: "bob", Nickname: "Bob",
			ProfileID: p.ID, MessagingSlots: 5, SkillIDs: []botrelay.SkillID{human.ID}, Enabled: true}
		if err := s.CreateUser(ctx, bob); err != nil {
			t.Fatal(err)
		}
		hash, err := auth.HashPassword(password)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetPasswordHash(ctx, bob.ID, hash); err != nil {
			t.Fatal(err)
		}
		for _, c := range []*botrelay.CannedReply{
			{AccountID: o.Account, Title: "Refund policy", Text: "Refunds reach your card within 5 working days."},
			{AccountID: o.Account, Title: "Greeting", Text: "Hello! How can I help you today?"},
		} {
			if err := s.CreateCannedReply(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// logIn logs an agent in to the console and waits until it is online.
func logIn(b *tab, base, login, password string) {
	b.t.Helper()
	b.do("log in "+login,
		chromedp.SendKeys(chromedp.CSS("#login-username"), login),
		chromedp.SendKeys(chromedp.CSS("#login-password"), password),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS(`#status[data-state=connected]`)),
		chromedp.WaitVisible(chromedp.CSS(`#availability[data-state=ONLINE]`)),
	)
}

// TestAgentConsoleDailyWork drives the console as agents use it every day:
// a ring that beeps, notifies (after the permission asked at login) and
// counts in the title, naming the consumer with a preview and the waiting
// time; the availability switch; a canned reply picked with "/" and sent; a
// file sent to the consumer; a transfer to a specific agent with a note the
// other agent reads; and ended conversations moving to the "Closed" list.
func TestAgentConsoleDailyWork(t *testing.T) {
	const password = "Secret-pass-42"
	base := startHubWith(t, "ann", password, seedConsole(t, password))
	bctx := browsertest.Browser(t, 1200, 820)
	ann := newTab(t, bctx, "ann")
	bob := newTab(t, bctx, "bob")
	consumer := newTab(t, bctx, "consumer")

	// Ann logs in; logging in (a user gesture) asks for the notification
	// permission.
	ann.do("open console", chromedp.Navigate(base+"/agent"), chromedp.WaitVisible(chromedp.CSS("#login-username")),
		chromedp.Evaluate[chromedp.Void](observeAlerts))
	logIn(ann, base, "ann", password)
	ann.waitJS("notification permission requested", `window.__alerts.requested === 1`)
	ann.waitJS("title without rings", `document.title === "Agent console — botrelay"`)

	// The availability switch names the state and the action.
	ann.waitJS("online label", `document.querySelector("#availability").textContent.trim() === "You are Online — go Away" && document.querySelector("#availability").getAttribute("aria-checked") === "true"`)
	ann.do("go away", chromedp.Click(chromedp.CSS("#availability")), chromedp.WaitVisible(chromedp.CSS(`#availability[data-state=AWAY]`)))
	ann.waitJS("away label", `document.querySelector("#availability").textContent.trim() === "You are Away — go Online" && document.querySelector("#availability").getAttribute("aria-checked") === "false"`)
	ann.screenshot("agent-console-away")
	ann.do("go online", chromedp.Click(chromedp.CSS("#availability")), chromedp.WaitVisible(chromedp.CSS(`#availability[data-state=ONLINE]`)))

	// The tab is in the background when Dana writes.
	ann.do("hide tab", chromedp.Evaluate[chromedp.Void](`window.__hidden = true`))
	consumer.do("open page", chromedp.Navigate(base+"/?name="+url.QueryEscape("Dana Scully")),
		chromedp.WaitVisible(chromedp.CSS(`#status[data-state=connected]`)))
	consumer.do("write", chromedp.SendKeys(chromedp.CSS("#message-input"), "I need help with my invoice"), chromedp.Click(chromedp.CSS("#send")))

	ann.waitJS("ring shows the consumer", `document.querySelector("[data-testid=ring-consumer]") && document.querySelector("[data-testid=ring-consumer]").textContent.startsWith("Dana Scully")`)
	ann.waitJS("ring previews the message", `document.querySelector("[data-testid=ring-preview]").textContent === "I need help with my invoice"`)
	ann.waitJS("ring shows the waiting time", `/^waiting \d+ s$/.test(document.querySelector("[data-testid=ring-waited]").textContent)`)
	ann.waitJS("title counts the ring", `document.title === "(1) Agent console — botrelay"`)
	// The ring came when Dana's conversation started; her first message
	// updates its notification.
	ann.waitJS("notification shown", `window.__alerts.shown.length >= 1 && window.__alerts.shown[0].title === "New conversation · bot" && window.__alerts.shown[0].body.startsWith("Dana Scully")`)
	ann.waitJS("notification shows the message", `window.__alerts.shown[window.__alerts.shown.length - 1].body === "Dana Scully: I need help with my invoice"`)
	ann.waitJS("tones played", `window.__alerts.tones >= 2`)
	ann.screenshot("agent-console-ring")

	ann.do("accept", chromedp.Evaluate[chromedp.Void](`window.__hidden = false`), chromedp.Click(chromedp.CSS("[data-testid=accept-ring]")))
	ann.waitJS("conversation open", hasMessage("agent-messages", "consumer", "I need help with my invoice"))
	ann.waitJS("title back", `document.title === "Agent console — botrelay"`)
	ann.waitJS("named conversation", `document.querySelector("#conv-title").textContent === "Dana Scully"`)

	// A canned reply: "/" and part of the title filter the list, a click
	// inserts the text, Send sends it.
	ann.do("type slash", chromedp.SendKeys(chromedp.CSS("#agent-input"), "/refu"))
	ann.waitJS("canned list filtered", `!document.querySelector("#canned-list").hidden && document.querySelectorAll("[data-testid=canned-item]").length === 1 && document.querySelector("[data-testid=canned-item] .canned-title").textContent === "/Refund policy"`)
	ann.screenshot("agent-console-canned")
	ann.do("pick it", chromedp.Click(chromedp.CSS("[data-testid=canned-item]")))
	ann.waitJS("reply inserted", `document.querySelector("#agent-input").value === "Refunds reach your card within 5 working days." && document.querySelector("#canned-list").hidden`)
	ann.do("send canned reply", chromedp.Click(chromedp.CSS("#agent-send")))
	consumer.waitJS("canned reply arrives", hasMessage("messages", "agent", "Refunds reach your card within 5 working days."))

	// The keyboard: "/" lists every reply (by title), the arrow moves, Enter
	// inserts (key events sent to the page's handler).
	ann.do("type slash again", chromedp.SendKeys(chromedp.CSS("#agent-input"), "/"))
	ann.waitJS("both replies listed", `[...document.querySelectorAll("[data-testid=canned-item] .canned-title")].map(e => e.textContent).join() === "/Greeting,/Refund policy"`)
	ann.do("arrow down and Enter", chromedp.Evaluate[chromedp.Void](`(() => {
		const i = document.querySelector("#agent-input");
		i.dispatchEvent(new KeyboardEvent("keydown", {key: "ArrowDown", bubbles: true, cancelable: true}));
		i.dispatchEvent(new KeyboardEvent("keydown", {key: "Enter", bubbles: true, cancelable: true}));
	})()`))
	ann.waitJS("second reply inserted", `document.querySelector("#agent-input").value === "Refunds reach your card within 5 working days." && document.querySelector("#canned-list").hidden`)
	ann.do("clear the reply box", chromedp.Evaluate[chromedp.Void](`document.querySelector("#agent-input").value = ""`))

	// A file: the consumer sees the image, loaded through its link.
	img := filepath.Join(t.TempDir(), "invoice.png")
	if err := os.WriteFile(img, tinyPNG(t), 0o644); err != nil {
		t.Fatal(err)
	}
	ann.do("send file", chromedp.SetUploadFiles(chromedp.CSS("#agent-file"), []string{img}))
	consumer.waitJS("file arrives and loads", `[...document.querySelectorAll("#messages [data-kind=agent] img.file-thumb")].some(i => i.complete && i.naturalWidth === 24)`)
	consumer.waitJS("file link named", `[...document.querySelectorAll("#messages [data-kind=agent] [data-testid=file-link]")].some(a => a.textContent === "invoice.png" && a.href)`)
	ann.waitJS("file shown to the agent", `[...document.querySelectorAll("#agent-messages [data-kind=agent] img.file-thumb")].some(i => i.complete && i.naturalWidth === 24)`)
	consumer.screenshot("consumer-agent-file")

	// Bob comes online; Ann transfers Dana to him with a note.
	bob.do("open console", chromedp.Navigate(base+"/agent"), chromedp.WaitVisible(chromedp.CSS("#login-username")))
	logIn(bob, base, "bob", password)
	ann.do("open transfer", chromedp.Click(chromedp.CSS("#transfer-open")), chromedp.WaitVisible(chromedp.CSS("#transfer-agent")))
	if v := evalJS[string](ann, `document.querySelector("#transfer-skill").value`); v != "" {
		t.Errorf("the skill list preselects %q, want no selection", v)
	}
	ann.waitJS("bob listed online", `[...document.querySelectorAll("#transfer-agent option")].some(o => o.textContent === "Bob (online)")`)
	ann.waitJS("transfer disabled without a target", `document.querySelector("#transfer").disabled`)
	ann.do("choose bob and write a note",
		chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector("#transfer-agent"); s.value = [...s.options].find(o => o.textContent.startsWith("Bob")).value; s.dispatchEvent(new Event("change")); })()`),
		chromedp.SendKeys(chromedp.CSS("#transfer-note"), "VIP customer, invoice 1234 was charged twice"),
	)
	ann.screenshot("agent-console-transfer")
	ann.do("transfer", chromedp.Click(chromedp.CSS("#transfer")))
	ann.waitJS("transferred notice", hasMessage("agent-messages", "system", "transferred to Bob"))

	bob.do("accept", chromedp.WaitVisible(chromedp.CSS("[data-testid=accept-ring]")), chromedp.Click(chromedp.CSS("[data-testid=accept-ring]")))
	bob.waitJS("bob reads the note", hasMessage("agent-messages", "note", "Transfer note: VIP customer, invoice 1234 was charged twice"))
	bob.waitJS("bob reads the history", hasMessage("agent-messages", "consumer", "I need help with my invoice"))
	bob.screenshot("agent-console-transfer-note")
	if evalJS[bool](consumer, hasMessage("messages", "", "VIP customer")) {
		t.Error("the consumer sees the transfer note")
	}

	// Ann's conversation left "My conversations" for the collapsed Closed list.
	convID := evalJS[string](ann, `document.querySelector("#closed-conversations [data-testid=conversation]").dataset.conversationId`)
	ann.waitJS("not in my conversations", fmt.Sprintf(`!document.querySelector(%s)`, jsString(`#conversations [data-conversation-id="`+convID+`"]`)))
	ann.waitJS("closed list collapsed with one entry", `!document.querySelector("#closed-section").hidden && !document.querySelector("#closed-section").open && document.querySelector("#closed-count").textContent === "1"`)

	// Bob closes it: it moves to his Closed list too, and stays readable.
	bob.do("close", chromedp.Click(chromedp.CSS("#close-conversation")))
	consumer.waitJS("consumer told", hasMessage("messages", "system", "closed"))
	bob.waitJS("moved to closed", `document.querySelectorAll("#conversations [data-testid=conversation]").length === 0 && document.querySelectorAll("#closed-conversations [data-testid=conversation]").length === 1`)
	bob.waitJS("none open", `!document.querySelector("#convs-empty").hidden`)
	bob.do("open closed list", chromedp.Click(chromedp.CSS("#closed-section summary")),
		chromedp.Click(chromedp.CSS("#closed-conversations [data-testid=conversation]")))
	bob.waitJS("closed transcript readable", hasMessage("agent-messages", "consumer", "I need help with my invoice")+` && document.querySelector("#agent-input").disabled`)
	bob.screenshot("agent-console-closed")
	if n := evalJS[int](ann, `window.__alerts.requested`); n != 1 {
		t.Errorf("notification permission asked %s times, want once", strconv.Itoa(n))
	}
}
