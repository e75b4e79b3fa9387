package dashboard_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/botrelay/botrelay/internal/browsertest"
)

// tabOf opens another tab of the page's browser.
func tabOf(t *testing.T, p *page, name string) *page {
	ctx, cancel := chromedp.NewContext(p.ctx)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open tab %s: %v", name, err)
	}
	browsertest.FailOnCSPViolations(t, ctx, name)
	return &page{t: t, ctx: ctx, dir: p.dir}
}

// cannedRow is a JavaScript predicate: the Canned replies table has a row
// with the title and text.
func cannedRow(title, text string) string {
	return `[...document.querySelectorAll("#canned-table tr[data-testid=canned-row]")].some(r => r.querySelector("[data-testid=canned-title]").textContent === ` +
		jsString(title) + ` && r.querySelector("[data-testid=canned-text]").textContent === ` + jsString(text) + `)`
}

// TestCannedRepliesPage: an admin adds, edits and deletes canned replies on
// the dashboard's Canned replies page (a duplicate title is refused with the
// API's message); a human agent of the same server then picks the edited
// reply in the agent console with "/" and the consumer receives it.
func TestCannedRepliesPage(t *testing.T) {
	const password = "Dashboard-pass-42"
	base, _ := startServer(t, password)
	p := &page{t: t, ctx: browsertest.Browser(t, 1280, 900), dir: browsertest.ArtifactsDir(t)}
	browsertest.FailOnCSPViolations(t, p.ctx, "dashboard")

	p.do("log in",
		chromedp.Navigate(base+"/dashboard"), chromedp.WaitVisible(chromedp.CSS("#login-username")),
		chromedp.SendKeys(chromedp.CSS("#login-username"), "admin"),
		chromedp.SendKeys(chromedp.CSS("#login-password"), password),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#bots-table")))
	p.do("open the page", chromedp.Click(chromedp.CSS(`#nav a[data-nav=canned]`)), chromedp.WaitVisible(chromedp.CSS("#canned-form")))
	p.waitJS("empty list", `document.querySelectorAll("#canned-table tr[data-testid=canned-row]").length === 0 && document.querySelector("#canned-table tbody").textContent.includes("No canned replies yet.")`, 10*time.Second)

	add := func(title, text string) {
		t.Helper()
		p.do("add "+title,
			chromedp.SendKeys(chromedp.CSS("#canned-title"), title),
			chromedp.SendKeys(chromedp.CSS("#canned-text"), text),
			chromedp.Click(chromedp.CSS("#canned-submit")))
		p.waitJS("listed: "+title, cannedRow(title, text), 10*time.Second)
	}
	add("Refund", "Refunds take 5 days.")
	add("Opening hours", "We are open 9 to 5, Monday to Friday.")

	// A duplicate title (any case) is refused with the API's message.
	p.do("add a duplicate",
		chromedp.SendKeys(chromedp.CSS("#canned-title"), "REFUND"),
		chromedp.SendKeys(chromedp.CSS("#canned-text"), "x"),
		chromedp.Click(chromedp.CSS("#canned-submit")))
	p.waitJS("duplicate refused", `document.querySelector("#canned-error").textContent === 'a canned reply titled "REFUND" already exists'`, 10*time.Second)

	// Edit the refund reply.
	p.do("edit refund",
		chromedp.Evaluate[chromedp.Void](`[...document.querySelectorAll("#canned-table tr[data-testid=canned-row]")].find(r => r.textContent.includes("Refund")).querySelector("[data-testid=edit-canned]").click()`),
		chromedp.WaitVisible(chromedp.CSS("#canned-cancel")))
	if got := evalJS[string](p, `document.querySelector("#canned-form-title").textContent + "|" + document.querySelector("#canned-title").value + "|" + document.querySelector("#canned-text").value`); got != "Edit canned reply|Refund|Refunds take 5 days." {
		t.Errorf("edit form = %q", got)
	}
	p.do("save edit",
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#canned-text").value = ""`),
		chromedp.SendKeys(chromedp.CSS("#canned-text"), "Refunds reach your card within 5 working days."),
		chromedp.Click(chromedp.CSS("#canned-submit")))
	p.waitJS("edited", cannedRow("Refund", "Refunds reach your card within 5 working days."), 10*time.Second)
	p.screenshot("dashboard-canned-replies")

	// Delete the other one (the confirm dialog is accepted).
	p.do("delete", chromedp.Evaluate[chromedp.Void](`window.confirm = () => true; [...document.querySelectorAll("#canned-table tr[data-testid=canned-row]")].find(r => r.textContent.includes("Opening hours")).querySelector("[data-testid=delete-canned]").click()`))
	p.waitJS("deleted", `document.querySelectorAll("#canned-table tr[data-testid=canned-row]").length === 1`, 10*time.Second)

	// An agent on skill "human" uses the reply in the console.
	api := loginAPI(t, base, "admin", password)
	api.do(http.MethodPost, "/api/v1/users", map[string]any{"type": "HUMAN", "loginName": "carol", "nickname": "Carol",
		"profileId": api.lookupID("/api/v1/profiles", "Agent"), "password": "Carol-pass-42-x", "messagingSlots": 3,
		"skillIds": []any{api.lookupID("/api/v1/skills", "human")}}, http.StatusCreated, nil)
	agent := tabOf(t, p, "agent")
	agent.do("agent logs in", chromedp.Navigate(base+"/agent"), chromedp.WaitVisible(chromedp.CSS("#login-username")),
		chromedp.SendKeys(chromedp.CSS("#login-username"), "carol"),
		chromedp.SendKeys(chromedp.CSS("#login-password"), "Carol-pass-42-x"),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS(`#availability[data-state=ONLINE]`)))
	consumer := tabOf(t, p, "consumer")
	consumer.do("consumer writes", chromedp.Navigate(base+"/?skill=human&name="+url.QueryEscape("Sam Lee")),
		chromedp.WaitVisible(chromedp.CSS(`#status[data-state=connected]`)),
		chromedp.SendKeys(chromedp.CSS("#message-input"), "Where is my refund?"),
		chromedp.Click(chromedp.CSS("#send")))
	agent.waitJS("ring names the consumer", `document.querySelector("[data-testid=ring-consumer]") && document.querySelector("[data-testid=ring-consumer]").textContent === "Sam Lee · human"`, 15*time.Second)
	agent.do("accept", chromedp.Click(chromedp.CSS("[data-testid=accept-ring]")), chromedp.WaitVisible(chromedp.CSS("#agent-input")))
	agent.do("type /ref", chromedp.SendKeys(chromedp.CSS("#agent-input"), "/ref"))
	agent.waitJS("the reply is offered", `document.querySelectorAll("[data-testid=canned-item]").length === 1`, 10*time.Second)
	agent.do("pick and send", chromedp.Click(chromedp.CSS("[data-testid=canned-item]")), chromedp.Click(chromedp.CSS("#agent-send")))
	consumer.waitJS("consumer receives it", `[...document.querySelectorAll("#messages [data-testid=message][data-kind=agent] .body")].some(b => b.textContent === "Refunds reach your card within 5 working days.")`, 15*time.Second)
	consumer.screenshot("consumer-canned-reply")
}
