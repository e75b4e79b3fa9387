package directline

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/testrig"
)

const e2eWait = 15 * time.Second

// TestE2E_TextAndTransfer is acceptance 3: through the hub and the relay, a
// consumer's text reaches the Go fake over Direct Line (token auth, the
// websocket stream), the reply reaches the consumer, and a TRANSFER in
// channelData moves the conversation to skill human.
func TestE2E_TextAndTransfer(t *testing.T) {
	f := newFakeDirectLine(t)
	f.bot = func(a map[string]any) []map[string]any {
		if str(a["text"]) == "agent" {
			return []map[string]any{{"type": "message", "text": "Transferring you to a human.",
				"channelData": map[string]any{"action": map[string]any{"name": "TRANSFER", "parameters": map[string]any{"skill": "human"}}}}}
		}
		return []map[string]any{{"type": "message", "text": "Direct Line heard: " + str(a["text"])}}
	}
	r := testrig.NewRig(t, testrig.RigOptions{Vendors: []botrelay.VendorConnector{Connector{}}})
	b := r.AddBot("directline", testrig.BotOptions{Vendor: VendorID,
		Settings: map[string]any{"endpoint": f.endpoint(), "auth": "token"},
		Secrets:  map[string]any{"secret": fakeSecret}})
	r.Start(b, botrelay.BotOnline)

	c := testrig.NewConsumer(t, r.URL, string(testrig.Account))
	c.Open("bot")
	c.Say("hi")
	c.WaitTexts(e2eWait, "Direct Line heard: hi")
	c.Say("agent")
	c.WaitTexts(e2eWait, "Direct Line heard: hi", "Transferring you to a human.")
	r.WaitSkill(c.ConvID, "human", e2eWait)

	post := lastPost(t, f).Body
	cd, _ := post["channelData"].(map[string]any)
	cx, _ := cd["context"].(map[string]any)
	if cx["convId"] != c.ConvID {
		t.Errorf("channelData.context.convId = %v, want %s", cx["convId"], c.ConvID)
	}
	for _, call := range f.Calls() {
		if call.Method == "GET" && strings.HasSuffix(call.Path, "/activities") {
			t.Errorf("polled although the stream was offered: %s", call.Path)
		}
	}
	if f.Rejected() != 0 {
		t.Errorf("the fake rejected %d calls", f.Rejected())
	}
}

// TestE2E_BotFrameworkStack runs the same path against the npm stack
// (offline-directline + botbuilder, polling).
func TestE2E_BotFrameworkStack(t *testing.T) {
	endpoint := startStack(t)
	r := testrig.NewRig(t, testrig.RigOptions{Vendors: []botrelay.VendorConnector{Connector{}}})
	b := r.AddBot("directline-npm", testrig.BotOptions{Vendor: VendorID,
		Settings: map[string]any{"endpoint": endpoint, "pollIntervalMs": 100},
		Secrets:  map[string]any{"secret": "offline-directline-ignores-it"}})
	r.Start(b, botrelay.BotOnline)
	c := testrig.NewConsumer(t, r.URL, string(testrig.Account))
	c.Open("bot")
	c.Say("hi")
	c.WaitTexts(e2eWait, "You said: hi")
	c.Say("agent")
	c.WaitTexts(e2eWait, "You said: hi", "Transferring you to a human.")
	r.WaitSkill(c.ConvID, "human", e2eWait)
}

// TestE2E_WrongSecret: with a secret Direct Line refuses, the connection
// test fails, the bot does not go Online, and its status names the check
// and the HTTP status without echoing the secret.
func TestE2E_WrongSecret(t *testing.T) {
	const wrong = "wrong-direct-line-secret-do-not-echo"
	f := newFakeDirectLine(t)
	r := testrig.NewRig(t, testrig.RigOptions{Vendors: []botrelay.VendorConnector{Connector{}}})
	b := r.AddBot("directline-bad", testrig.BotOptions{Vendor: VendorID,
		Settings: map[string]any{"endpoint": f.endpoint()},
		Secrets:  map[string]any{"secret": wrong}})
	ctx := context.Background()
	if err := r.Relay.Start(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	r.WaitState(b, botrelay.BotVendorInterruption, e2eWait)
	evs, err := r.Store.BotStateEvents(ctx, b.ID, 1)
	if err != nil || len(evs) != 1 {
		t.Fatalf("state events = %+v, %v", evs, err)
	}
	ev := evs[0]
	if ev.Code != botrelay.ErrorCodePrefix+CodeSendQuery {
		t.Errorf("state code = %q, want %q", ev.Code, botrelay.ErrorCodePrefix+CodeSendQuery)
	}
	for _, want := range []string{"connection test", "HTTP 403"} {
		if !strings.Contains(ev.Message, want) {
			t.Errorf("state message %q does not mention %q", ev.Message, want)
		}
	}
	if strings.Contains(ev.Message, wrong) || strings.Contains(ev.Message, fakeSecret) {
		t.Fatalf("state message echoes a secret: %q", ev.Message)
	}
	if f.Rejected() == 0 {
		t.Fatal("the fake never saw the connection test")
	}
	t.Logf("state message: %s", ev.Message)
}

// TestE2E_TypingIndicator (issue 15, point 7): the bot sends a typing
// activity and its message half a second later. The consumer sees the
// typing indicator first, then the message; the typing activity does not
// end the wait for the reply.
func TestE2E_TypingIndicator(t *testing.T) {
	f := newFakeDirectLine(t)
	f.bot = func(a map[string]any) []map[string]any {
		return []map[string]any{{"type": "typing"}, {"type": "message", "text": "thought about: " + str(a["text"]), "_afterMs": 500}}
	}
	r := testrig.NewRig(t, testrig.RigOptions{Vendors: []botrelay.VendorConnector{Connector{}}})
	b := r.AddBot("directline-typing", testrig.BotOptions{Vendor: VendorID,
		Settings: map[string]any{"endpoint": f.endpoint(), "auth": "token"},
		Secrets:  map[string]any{"secret": fakeSecret}})
	r.Start(b, botrelay.BotOnline)

	c := testrig.NewConsumer(t, r.URL, string(testrig.Account))
	c.Open("bot")
	c.Say("hi")
	c.WaitTexts(e2eWait, "thought about: hi")
	composing, text := -1, -1
	for i, e := range c.Events() {
		if e.Type() == "ChatStateEvent" && strings.Contains(string(e.Event), `"COMPOSING"`) && composing < 0 {
			composing = i
		}
		if e.Text() == "thought about: hi" {
			text = i
		}
	}
	if composing < 0 || composing > text {
		t.Fatalf("typing indicator at event %d, the message at %d; want the indicator first", composing, text)
	}
	if errs := r.Errors(b); len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
}
