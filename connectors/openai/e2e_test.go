package openai

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/testrig"
)

// TestE2E_TextReplyAndTransfer: through the hub and the relay, a consumer's
// text reaches the fake model with the system prompt, the answer reaches
// the consumer, the history goes round through the stored vendor state, and
// a transfer_to_skill tool call says its message and moves the
// conversation to skill human.
func TestE2E_TextReplyAndTransfer(t *testing.T) {
	const wait = 15 * time.Second
	f := newFakeOpenAI(t, testKey)
	f.setReply(func(r ChatRequest) (int, string) {
		last := r.Messages[len(r.Messages)-1].Content
		var out map[string]any
		if last == "agent" {
			out = completion("", [][2]string{{ToolTransfer, `{"skill":"human","message":"Transferring you to a human."}`}}, 50)
		} else {
			out = completion("OpenAI heard: "+last, nil, 40)
		}
		raw, _ := json.Marshal(out)
		return 200, string(raw)
	})
	r := testrig.NewRig(t, testrig.RigOptions{Vendors: []botrelay.VendorConnector{Connector{}}})
	b := r.AddBot("openai", testrig.BotOptions{Vendor: VendorID,
		Settings: map[string]any{"baseUrl": f.base(), "model": fakeModel, "systemPrompt": "Be brief.", "maxTokensPerConversation": 1000},
		Secrets:  map[string]any{"apiKey": testKey}})
	startBot(t, r, b)

	c := testrig.NewConsumer(t, r.URL, string(testrig.Account))
	c.Open("bot")
	c.Say("hi")
	c.WaitTexts(wait, "OpenAI heard: hi")
	c.Say("agent")
	c.WaitTexts(wait, "OpenAI heard: hi", "Transferring you to a human.")
	r.WaitSkill(c.ConvID, "human", wait)

	reqs := f.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	var got []string
	for _, m := range reqs[1].Messages {
		got = append(got, m.Role+":"+m.Content)
	}
	want := []string{"system:Be brief.", "user:hi", "assistant:OpenAI heard: hi", "user:agent"}
	if len(got) != len(want) {
		t.Fatalf("second call's messages = %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("second call's messages = %q, want %q", got, want)
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
