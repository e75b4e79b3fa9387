package rasa

import (
	"context"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/testrig"
)

// TestE2E_TextReplyAndTransfer: through the hub and the relay a consumer's
// text reaches the Rasa fake (sender = the conversation id, the context in
// metadata, the token checked), the reply reaches the consumer, and a
// TRANSFER custom payload moves the conversation to skill human.
func TestE2E_TextReplyAndTransfer(t *testing.T) {
	const wait = 15 * time.Second
	f := newFakeRasa(t, testToken, AuthBearer)
	f.setReply(func(r Request) (int, string) {
		if r.Message == "agent" {
			return 200, `[{"recipient_id":"` + r.Sender + `","text":"Transferring you to a human."},` +
				`{"recipient_id":"` + r.Sender + `","custom":{"action":{"name":"TRANSFER","parameters":{"skill":"human"}}}}]`
		}
		return 200, `[{"recipient_id":"` + r.Sender + `","text":"Rasa heard: ` + r.Message + `"}]`
	})
	r := testrig.NewRig(t, testrig.RigOptions{Vendors: []botrelay.VendorConnector{Connector{}}})
	b := r.AddBot("rasa", testrig.BotOptions{Vendor: VendorID,
		Settings: map[string]any{"baseUrl": f.srv.URL, "authMode": AuthBearer},
		Secrets:  map[string]any{"token": testToken}})
	startBot(t, r, b)

	c := testrig.NewConsumer(t, r.URL, string(testrig.Account))
	c.Open("bot")
	c.Say("hi")
	c.WaitTexts(wait, "Rasa heard: hi")
	c.Say("agent")
	c.WaitTexts(wait, "Rasa heard: hi", "Transferring you to a human.")
	r.WaitSkill(c.ConvID, "human", wait)

	reqs := f.Requests()
	if len(reqs) != 2 {
		t.Fatalf("requests = %+v", reqs)
	}
	for _, q := range reqs {
		if q.Sender != c.ConvID || q.Metadata.ConvID != c.ConvID || len(q.Metadata.LPEvent) < 3 || q.Metadata.Skill != "bot" {
			t.Errorf("request = %+v", q)
		}
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
