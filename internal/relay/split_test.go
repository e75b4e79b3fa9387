package relay_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/testrig"
)

// echoCloser is a vendor that echoes each text as "<id>: <text>" and closes
// the conversation on "bye"; it counts its calls per conversation.
type echoCloser struct {
	id    string
	mu    sync.Mutex
	calls map[botrelay.ConversationID]int
}

func (e *echoCloser) Info() botrelay.VendorInfo {
	return botrelay.VendorInfo{ID: e.id, DisplayName: e.id}
}

func (e *echoCloser) NewBot(json.RawMessage, botrelay.BotEnv) (botrelay.VendorBot, error) {
	return e, nil
}

func (e *echoCloser) Converse(_ context.Context, t *botrelay.Turn) (*botrelay.Reply, error) {
	e.mu.Lock()
	if e.calls == nil {
		e.calls = map[botrelay.ConversationID]int{}
	}
	e.calls[t.Conversation.ID]++
	e.mu.Unlock()
	if t.Text == "bye" {
		return &botrelay.Reply{Action: &botrelay.Action{Kind: botrelay.ActionClose, WithoutPCS: true}}, nil
	}
	return &botrelay.Reply{Items: []botrelay.Item{{Message: &botrelay.Message{Text: e.id + ": " + t.Text}}}}, nil
}

func (e *echoCloser) callsOf(conv string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls[botrelay.ConversationID(conv)]
}

// A skill served by two bots weighted 70 and 30 gets 1,000 conversations:
// the split lands within 5 points of 70/30, and every conversation stays
// with the bot that took it (its answers come from that bot's vendor, and
// the other vendor never hears of it).
func TestSplit_SeventyThirty(t *testing.T) {
	a, b := &echoCloser{id: "split_a"}, &echoCloser{id: "split_b"}
	r := testrig.NewRig(t, testrig.RigOptions{Vendors: []botrelay.VendorConnector{a, b}})
	weight := func(w int) func(*botrelay.Bot) {
		return func(b *botrelay.Bot) { b.Settings.Routing.Weight = w }
	}
	botA := r.AddBot("a", testrig.BotOptions{Vendor: "split_a", Edit: weight(70)})
	botB := r.AddBot("b", testrig.BotOptions{Vendor: "split_b", Edit: weight(30)})
	r.Start(botA, botrelay.BotOnline)
	r.Start(botB, botrelay.BotOnline)
	vendorOf := map[botrelay.UserID]*echoCloser{botA.UserID: a, botB.UserID: b}

	const workers, each = 20, 50
	var mu sync.Mutex
	got := map[botrelay.UserID]int{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range each {
				c := testrig.NewConsumer(t, r.URL, "1000")
				conv := c.Open("bot")
				var owner botrelay.UserID
				testrig.Eventually(t, wait, "a bot to take "+conv, func() bool {
					owner = r.Conversation(conv).AssignedAgent()
					return owner != 0
				})
				v := vendorOf[owner]
				if v == nil {
					t.Errorf("conversation %s went to user %d, not a bot of the split", conv, owner)
					return
				}
				text := fmt.Sprintf("hi %d.%d", w, k)
				c.Say(text)
				c.WaitTexts(wait, v.id+": "+text)
				c.Say("bye")
				c.WaitFor(wait, "the bot to close "+conv, func() bool { return closedFor(c, conv) })
				other := a
				if v == a {
					other = b
				}
				if n := v.callsOf(conv); n != 2 {
					t.Errorf("%s got %d calls about %s, want 2", v.id, n, conv)
				}
				if n := other.callsOf(conv); n != 0 {
					t.Errorf("%s got %d calls about %s, which %s holds", other.id, n, conv, v.id)
				}
				if last := r.Conversation(conv).AssignedAgent(); last != 0 && last != owner {
					t.Errorf("conversation %s moved from %d to %d", conv, owner, last)
				}
				mu.Lock()
				got[owner]++
				mu.Unlock()
				c.Close()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	total := got[botA.UserID] + got[botB.UserID]
	share := 100 * float64(got[botA.UserID]) / float64(total)
	t.Logf("split over %d conversations: A %d (%.1f%%), B %d", total, got[botA.UserID], share, got[botB.UserID])
	if total != workers*each || math.Abs(share-70) > 5 {
		t.Fatalf("A got %d of %d conversations (%.1f%%), want 70%% ± 5", got[botA.UserID], total, share)
	}
	want := map[botrelay.BotID]botrelay.SplitFigures{
		botA.ID: {BotID: botA.ID, Assigned: got[botA.UserID], Closed: got[botA.UserID]},
		botB.ID: {BotID: botB.ID, Assigned: got[botB.UserID], Closed: got[botB.UserID]},
	}
	// Each bot records a close once the platform carried it out.
	var figures []*botrelay.SplitFigures
	testrig.Eventually(t, wait, "the figures to count every close", func() bool {
		var err error
		figures, err = r.Store.SplitFigures(context.Background(), r.Skills["bot"])
		return err == nil && len(figures) == 2 && *figures[0] == want[figures[0].BotID] && *figures[1] == want[figures[1].BotID]
	})
}

// closedFor reports whether the consumer was told that conv closed.
func closedFor(c *testrig.Consumer, conv string) bool {
	for _, raw := range c.Conversations() {
		var d struct {
			ConvID string `json:"convId"`
			State  string `json:"state"`
		}
		if json.Unmarshal(raw, &d) == nil && d.ConvID == conv && d.State == "CLOSE" {
			return true
		}
	}
	return false
}
