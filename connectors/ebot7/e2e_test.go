package ebot7

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/testrig"
)

// TestE2E_TextReplyAndTransfer: through the hub and the relay a consumer's
// text reaches the e-bot7 fake (conversation created once, the app key
// checked on every call), the bot's HTML answer reaches the consumer as
// plain text, and a CONVERSATION_TRANSFER message moves the conversation
// to skill human without being shown.
func TestE2E_TextReplyAndTransfer(t *testing.T) {
	const wait = 15 * time.Second
	f := newFakeEbot7(t, testKey, testBot)
	r := testrig.NewRig(t, testrig.RigOptions{Vendors: []botrelay.VendorConnector{Connector{}}})
	b := r.AddBot("ebot7", testrig.BotOptions{Vendor: VendorID,
		Settings: map[string]any{"baseUrl": f.srv.URL, "botId": testBot, "botResponseDelay": testDelay},
		Secrets:  map[string]any{"appKey": testKey}})
	startBot(t, r, b)

	c := testrig.NewConsumer(t, r.URL, string(testrig.Account))
	c.Open("bot")
	c.Say("hi")
	c.WaitTexts(wait, "e-bot7 heard: hi")
	c.Say("agent")
	c.WaitTexts(wait, "e-bot7 heard: hi", "One moment please.")
	r.WaitSkill(c.ConvID, "human", wait)

	for _, txt := range c.AgentTexts() {
		if strings.Contains(txt, "CONVERSATION_TRANSFER") || strings.Contains(txt, "Welcome") {
			t.Errorf("the consumer saw %q", txt)
		}
	}
	creates := 0
	for _, l := range f.Log() {
		if strings.HasPrefix(l, "POST /v1/bots/"+testBot+"/convs ") {
			creates++
		}
	}
	if creates != 1 {
		t.Errorf("%d e-bot7 conversations created, want 1", creates)
	}
	if f.Rejected() != 0 {
		t.Errorf("the fake rejected %d calls", f.Rejected())
	}
}

// startBot starts b once the rig's relay runs (NewRig starts it in a
// goroutine, so a Start right after NewRig can find it not yet running)
// and waits until the bot is Online.
func startBot(t *testing.T, r *testrig.Rig, b *botrelay.Bot) {
	t.Helper()
	testrig.Eventually(t, 10*time.Second, "the relay to run", func() bool {
		err := r.Relay.Start(context.Background(), b.ID)
		if botrelay.ErrorCode(err) == botrelay.EUNAVAILABLE {
			return false
		} else if err != nil {
			t.Fatal(err)
		}
		return true
	})
	r.WaitState(b, botrelay.BotOnline, 15*time.Second)
}
