package dashboard_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/botrelay/botrelay/internal/browsertest"
	"github.com/botrelay/botrelay/internal/testrig"
)

// shopCode answers "hi" with a structured-content card and a text with
// quick replies and transfers to human on "agent".
const shopCode = `function lambda(input, callback) {
  var text = String((input.payload || {}).message || "").trim();
  if (text === "agent") {
    return callback(null, { messages: ["Transferring you."], context: { action: "TRANSFER", actionParameters: { skill: "human" } } });
  }
  if (text === "hi") {
    return callback(null, { messages: [
      { structuredContent: { type: "vertical", elements: [
        { type: "text", text: "Our plans", style: { bold: true } },
        { type: "text", text: "Basic or Pro" },
        { type: "button", title: "Compare plans", click: { actions: [{ type: "publishText", text: "compare" }] } } ] } },
      { structuredContent: { message: "Pick one", quickReplies: { type: "quickReplies", itemsPerRow: 2, replies: [
        { type: "button", title: "Basic", click: { actions: [{ type: "publishText", text: "basic" }] } },
        { type: "button", title: "Pro", click: { actions: [{ type: "publishText", text: "pro" }] } } ] } } } ] });
  }
  return callback(null, { messages: ["You said " + text] });
}`

// TestDashboardConversationTranscript is issue 18's transcript acceptance
// test: Carla chats with a bot (a card and quick replies), is transferred
// to the admin as human agent, who answers, writes a private note and
// closes. In the dashboard the admin searches Carla's conversations, opens
// the one found and sees the card as an outline, the quick replies as
// chips, the private note marked, and the transfer and the close in line.
func TestDashboardConversationTranscript(t *testing.T) {
	const password = "Transcript-pass-42"
	base, _ := startServer(t, password)
	c := loginAPI(t, base, "admin", password)
	var bots []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	c.do(http.MethodGet, "/api/v1/bots", nil, http.StatusOK, &bots)
	for _, b := range bots { // only the shop bot takes skill bot
		c.do(http.MethodPost, "/api/v1/bots/"+b.ID+"/stop", nil, http.StatusOK, nil)
	}
	shop := c.functionBot("Shop bot", "shop-bot", shopCode)
	c.do(http.MethodPost, "/api/v1/bots/"+shop+"/start", nil, http.StatusAccepted, nil)
	testrig.Eventually(t, 30*time.Second, "the shop bot online", func() bool {
		var st struct {
			State string `json:"state"`
		}
		c.do(http.MethodGet, "/api/v1/bots/"+shop+"/status", nil, http.StatusOK, &st)
		return st.State == "ONLINE"
	})

	carla := testrig.NewConsumer(t, base, "1000")
	conv := carla.OpenWith("bot", map[string]any{"personal": map[string]any{"firstname": "Carla", "lastname": "Rossi"}})
	// Carla speaks once the bot has joined, so the transcript's order is
	// this test's and not the scheduler's (either order is a true record).
	carla.WaitAssigned(15*time.Second, conv)
	carla.Say("hi")
	carla.WaitTexts(15*time.Second, "Pick one")
	carla.Say("agent")
	carla.WaitTexts(15*time.Second, "Transferring you.")
	agent := testrig.NewAgent(t, base, "1000", "admin", password)
	agent.AcceptRing(conv, 15*time.Second)
	agent.Say(conv, "Hello Carla, how can I help?")
	if code, body := agent.Request(".ams.ms.PublishEvent", map[string]any{"dialogId": conv, "conversationId": conv,
		"messageAudience": "AGENTS_AND_MANAGERS",
		"event":           map[string]any{"type": "ContentEvent", "contentType": "text/plain", "message": "VIP customer, be nice"}}); code != 200 {
		t.Fatalf("private note: %d %s", code, body)
	}
	carla.WaitTexts(15*time.Second, "Hello Carla, how can I help?")
	if code, body := agent.Request(".ams.cm.UpdateConversationField", map[string]any{"conversationId": conv,
		"conversationField": []map[string]any{{"field": "ConversationStateField", "conversationState": "CLOSE"}}}); code != 200 {
		t.Fatalf("close: %d %s", code, body)
	}
	// Another consumer's conversation, which the search must leave out.
	other := testrig.NewConsumer(t, base, "1000")
	otherConv := other.Open("bot")
	other.Say("hello")
	other.WaitTexts(15*time.Second, "You said hello")

	p := &page{t: t, ctx: browsertest.Browser(t, 1280, 1400), dir: browsertest.ArtifactsDir(t)}
	p.do("log in", chromedp.Navigate(base+"/dashboard"), chromedp.WaitVisible(chromedp.CSS("#login-username")),
		chromedp.SendKeys(chromedp.CSS("#login-username"), "admin"),
		chromedp.SendKeys(chromedp.CSS("#login-password"), password),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#bots-table")))
	p.do("open Conversations", chromedp.Click(chromedp.CSS(`#nav a[data-nav="conversations"]`)),
		chromedp.WaitVisible(chromedp.CSS("#conversation-search")))
	p.waitJS("both conversations listed", `document.querySelectorAll("[data-testid=conversation-row]").length === 2`, 10*time.Second)

	p.do("search for Carla's closed conversations with the shop bot",
		chromedp.SendKeys(chromedp.CSS("#conv-consumer"), "carla"),
		chromedp.SetValue(chromedp.CSS("#conv-bot"), shop),
		chromedp.SetValue(chromedp.CSS("#conv-state"), "closed"),
		chromedp.Click(chromedp.CSS("#conv-search")))
	p.waitJS("one result", `location.hash.includes("consumer=carla") && document.querySelectorAll("[data-testid=conversation-row]").length === 1`, 10*time.Second)
	row := evalJS[string](p, `(() => { const r = document.querySelector("[data-testid=conversation-row]");
		return [r.dataset.conversationId, ...[...r.cells].slice(1, 6).map((c) => c.textContent)].join("|"); })()`)
	if want := conv + "|Carla Rossi|human|Shop bot|Admin|Closed"; row != want {
		t.Errorf("result row %q, want %q", row, want)
	}
	p.screenshot("conversations-10-search")

	p.do("open the transcript", chromedp.Click(chromedp.CSS("[data-testid=conversation-row] a")),
		chromedp.WaitVisible(chromedp.CSS("#transcript")))
	lines := evalJS[[]string](p, `[...document.querySelectorAll("#transcript > li")].map((li) => li.dataset.kind + "|" +
		(li.dataset.author || li.dataset.type || "") + "|" + (li.dataset.private === "true" ? "private|" : "") +
		(li.querySelector("[data-testid=message-author]") ? li.querySelector("[data-testid=message-author]").textContent + ": " : "") +
		[...li.querySelectorAll("[data-testid=event-text], [data-testid=message-text], [data-testid=sc-text], [data-testid=sc-button], [data-testid=quick-reply]")]
			.map((e) => e.dataset.testid + "=" + e.textContent).join(" "))`)
	want := []string{
		"event|CONVERSATION_STARTED|event-text=Conversation started on skill bot",
		"event|PARTICIPANT_JOINED|event-text=Shop bot (bot) joined as assigned agent",
		"message|consumer|Carla Rossi: message-text=hi",
		"message|bot|Shop bot (bot): sc-text=Our plans sc-text=Basic or Pro sc-button=Compare plans",
		"message|bot|Shop bot (bot): message-text=Pick one quick-reply=Basic quick-reply=Pro",
		"message|consumer|Carla Rossi: message-text=agent",
		"message|bot|Shop bot (bot): message-text=Transferring you.",
		"event|PARTICIPANT_LEFT|event-text=Shop bot (bot) left",
		"event|TRANSFERRED|event-text=Transferred from skill bot to skill human",
		"event|PARTICIPANT_JOINED|event-text=Admin joined as assigned agent",
		"message|agent|Admin (assigned agent): message-text=Hello Carla, how can I help?",
		"message|agent|private|Admin (assigned agent): message-text=VIP customer, be nice",
		"event|CONVERSATION_CLOSED|event-text=Conversation closed by the agent",
	}
	if fmt.Sprint(lines) != fmt.Sprint(want) {
		t.Errorf("transcript:\n%q\nwant:\n%q", lines, want)
	}
	if got := evalJS[string](p, `document.querySelector("li.private [data-testid=private-note]").textContent`); got != "Private note — not shown to the consumer" {
		t.Errorf("private note badge %q", got)
	}
	if bold := evalJS[string](p, `getComputedStyle(document.querySelector("[data-testid=sc-text]")).fontWeight`); bold != "700" {
		t.Errorf("the card's bold title has font weight %s", bold)
	}
	if v := evalJS[string](p, `document.body.dataset.cspViolations || "0"`); v != "0" {
		t.Errorf("%s CSP violations", v)
	}
	p.screenshot("conversations-20-transcript")

	// An open conversation's transcript follows the conversation.
	p.do("open the other transcript", chromedp.Navigate(base+"/dashboard/#/conversations/"+otherConv))
	p.waitJS("the other transcript", `[...document.querySelectorAll("#transcript [data-testid=message-text]")].map((e) => e.textContent).join("|") === "hello|You said hello"`, 10*time.Second)
	other.Say("still there?")
	p.waitJS("the new turn appears", `[...document.querySelectorAll("#transcript [data-testid=message-text]")].map((e) => e.textContent).join("|") === "hello|You said hello|still there?|You said still there?"`, 10*time.Second)
}
