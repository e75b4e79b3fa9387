package relay_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/customendpoint"
	"github.com/botrelay/botrelay/internal/testrig"
)

// stateful is a vendor that writes down each call with the state it got,
// answers "<id>: <text>" and returns the state {"<id>":n} after its n-th
// call about a conversation.
type stateful struct {
	id    string
	mu    sync.Mutex
	calls []string
	n     map[botrelay.ConversationID]int
}

func (s *stateful) Info() botrelay.VendorInfo {
	return botrelay.VendorInfo{ID: s.id, DisplayName: s.id}
}

func (s *stateful) NewBot(json.RawMessage, botrelay.BotEnv) (botrelay.VendorBot, error) {
	return s, nil
}

func (s *stateful) Converse(_ context.Context, t *botrelay.Turn) (*botrelay.Reply, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == nil {
		s.n = map[botrelay.ConversationID]int{}
	}
	s.n[t.Conversation.ID]++
	s.calls = append(s.calls, "TEXT "+t.Text+" state="+string(t.VendorState))
	return &botrelay.Reply{Items: []botrelay.Item{{Message: &botrelay.Message{Text: s.id + ": " + t.Text}}},
		VendorState: json.RawMessage(`{"` + s.id + `":` + strconv.Itoa(s.n[t.Conversation.ID]) + `}`)}, nil
}

func (s *stateful) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

// A Custom Endpoint bot names another bot's vendor as its fallback. While
// the endpoint answers, the fallback is never called; when the endpoint
// fails, the fallback answers the failing turn and, once the health check
// puts the bot in Vendor Interruption, every turn without the endpoint being
// called; when the endpoint recovers, the next turn goes back to it. The
// fallback gets only its own state, and the endpoint's stays untouched.
func TestFallback_SecondaryAnswersWhilePrimaryIsDown(t *testing.T) {
	fb := &stateful{id: "fb"}
	obs := newCountingObserver()
	r := testrig.NewRig(t, testrig.RigOptions{Vendors: []botrelay.VendorConnector{customendpoint.Connector{}, fb}, Observer: obs})
	f := newEndpointFake(t)
	second := r.AddBot("second", testrig.BotOptions{Vendor: "fb", Skills: []string{"human"}})
	primary := endpointBot(r, f, "primary", func(b *botrelay.Bot) {
		b.Settings.Limits.HealthIntervalSeconds = 1
		b.Settings.Limits.VendorTimeoutSeconds = 3
		b.Settings.Routing.Fallback = &botrelay.Fallback{BotID: second.ID}
	})
	r.Start(primary, botrelay.BotOnline)
	c := testrig.NewConsumer(t, r.URL, "1000")
	c.Open("bot")
	c.Say("one")
	c.WaitTexts(wait, "endpoint says hi")
	if got := fb.Calls(); len(got) != 0 {
		t.Fatalf("the fallback was called while the endpoint answered: %q", got)
	}

	// The endpoint fails: the fallback answers the turn.
	f.mode.Store("500")
	c.Say("two")
	c.WaitTexts(wait, "endpoint says hi", "fb: two")

	// Its health check fails too: Vendor Interruption, and turns go to the
	// fallback without calling the endpoint.
	f.state.Store("maintenance")
	r.WaitState(primary, botrelay.BotVendorInterruption, wait)
	before := f.events.Load()
	c.Say("three")
	c.WaitTexts(wait, "fb: two", "fb: three")
	if f.events.Load() != before {
		t.Fatal("the endpoint was called during Vendor Interruption")
	}

	// The endpoint recovers: back to it.
	f.mode.Store("ok")
	f.state.Store("online")
	r.WaitState(primary, botrelay.BotOnline, wait)
	c.Say("four")
	c.WaitTexts(wait, "fb: three", "endpoint says hi")
	wantTranscript(t, c, "consumer: one", "bot: endpoint says hi", "consumer: two", "bot: fb: two",
		"consumer: three", "bot: fb: three", "consumer: four", "bot: endpoint says hi")
	wantCalls(t, "fallback", fb.Calls(), "TEXT two state=", `TEXT three state={"fb":1}`)
	if st, err := r.Store.FallbackState(context.Background(), primary.ID, botrelay.ConversationID(c.ConvID)); err != nil || string(st) != `{"fb":2}` {
		t.Fatalf("the fallback's stored state = %s, %v; want {\"fb\":2}", st, err)
	}
	st, err := r.Store.BotConversation(context.Background(), primary.ID, botrelay.ConversationID(c.ConvID))
	if err != nil || strings.Contains(string(st.VendorState), "fb") {
		t.Fatalf("the endpoint's state = %s, %v; want no trace of the fallback's", st.VendorState, err)
	}
	if errs := r.Errors(primary); len(errs) != 0 {
		t.Fatalf("errors = %v, want none: nothing escalated", errs)
	}
	// The endpoint's turns (one, two failed, four) and the fallback's (two,
	// three) are counted apart.
	turns, _, fallback := obs.snapshot()
	if turns[primary.ID] != 3 || len(fallback) != 1 || fallback[string(primary.ID)+" ok"] != 2 {
		t.Fatalf("observed turns = %v, fallback turns = %v; want 3 and 2 ok", turns, fallback)
	}
	// The consumer closes: the fallback's state of the conversation goes.
	if code, body := c.Request("cm.UpdateConversationField", map[string]any{"conversationId": c.ConvID,
		"conversationField": []any{map[string]any{"field": "ConversationStateField", "conversationState": "CLOSE"}}}); code != 200 {
		t.Fatalf("close: %d %s", code, body)
	}
	testrig.Eventually(t, wait, "the fallback's state to be dropped", func() bool {
		st, err := r.Store.FallbackState(context.Background(), primary.ID, botrelay.ConversationID(c.ConvID))
		return err == nil && st == nil
	})
}
