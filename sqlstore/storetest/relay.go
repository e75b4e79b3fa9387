package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/botrelay/botrelay"
)

func newBot(t *testing.T, s botrelay.Store, login string) *botrelay.Bot {
	t.Helper()
	u := newUser(t, s, login, botrelay.UserBot)
	b := &botrelay.Bot{AccountID: acct, Name: "Bot " + login, UserID: u.ID, Vendor: "function"}
	must(t, s.CreateBot(context.Background(), b))
	return b
}

func testBotSettings(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	s, _ := seeded(t, newDB)
	u := newUser(t, s, "settings-bot", botrelay.UserBot)
	b := &botrelay.Bot{AccountID: acct, Name: "Greeter", UserID: u.ID, Vendor: "custom_endpoint",
		Settings: botrelay.BotSettings{
			Vendor:        json.RawMessage(`{"baseUrl":"https://example.test/api"}`),
			ErrorHandling: botrelay.ErrorHandling{EscalationSkill: "human", MessageToConsumer: "One moment"},
			Messaging:     botrelay.MessagingSettings{WelcomeMessage: true, Combine: botrelay.CombineSetting{Enabled: true, MaxMessages: 3, WindowSeconds: 5}},
			Limits:        botrelay.BotLimits{MaxOpenConversations: 10},
		},
		Secrets: "sealed-blob"}
	must(t, s.CreateBot(ctx, b))
	got, err := s.Bot(ctx, b.ID)
	must(t, err)
	if got.Type != botrelay.BotAgent || got.ConversationType != botrelay.Messaging || got.Vendor != "custom_endpoint" ||
		got.Secrets != "sealed-blob" || got.Started || got.Settings.ErrorHandling.EscalationSkill != "human" ||
		!got.Settings.Messaging.Combine.Enabled || got.Settings.Limits.MaxOpen() != 10 ||
		string(got.Settings.Vendor) != `{"baseUrl":"https://example.test/api"}` {
		t.Fatalf("Bot = %+v", got)
	}
	// Type, conversation type and vendor are fixed at creation.
	got.Vendor, got.Type = "watson_v1", botrelay.BotSurvey
	got.Settings.ErrorHandling.MessageToConsumer = "Please hold"
	got.Secrets = "new-blob"
	must(t, s.UpdateBot(ctx, got))
	again, err := s.Bot(ctx, b.ID)
	must(t, err)
	if again.Vendor != "custom_endpoint" || again.Type != botrelay.BotAgent ||
		again.Settings.ErrorHandling.MessageToConsumer != "Please hold" || again.Secrets != "new-blob" {
		t.Fatalf("after update: %+v", again)
	}
	must(t, s.SetBotStarted(ctx, b.ID, true))
	again, err = s.Bot(ctx, b.ID)
	must(t, err)
	if !again.Started {
		t.Fatal("Started not stored")
	}
	wantCode(t, s.SetBotStarted(ctx, "no-such-bot", true), botrelay.ENOTFOUND)
	u2 := newUser(t, s, "bad-bot", botrelay.UserBot)
	wantCode(t, s.CreateBot(ctx, &botrelay.Bot{AccountID: acct, Name: "x", UserID: u2.ID}), botrelay.EINVALID) // no vendor
}

func testBotConversations(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	s, _ := seeded(t, newDB)
	b := newBot(t, s, "conv-bot")
	other := newBot(t, s, "other-bot")
	_, err := s.BotConversation(ctx, b.ID, "c1")
	wantCode(t, err, botrelay.ENOTFOUND)

	c := &botrelay.BotConversation{BotID: b.ID, ConversationID: "c1", DialogID: "c1", ConsumerID: "cons", SkillID: 7,
		Open: true, VendorState: json.RawMessage(`{"session":"abc"}`), LastSequence: 3}
	must(t, s.SaveBotConversation(ctx, c))
	must(t, s.SaveBotConversation(ctx, &botrelay.BotConversation{BotID: b.ID, ConversationID: "c2", DialogID: "c2", Open: true}))
	must(t, s.SaveBotConversation(ctx, &botrelay.BotConversation{BotID: other.ID, ConversationID: "c3", DialogID: "c3", Open: true}))

	c.LastSequence = 5
	c.Outbox = json.RawMessage(`{"seq":5}`)
	c.Welcomed = true
	c.Escalations = 1
	must(t, s.SaveBotConversation(ctx, c))
	got, err := s.BotConversation(ctx, b.ID, "c1")
	must(t, err)
	if got.LastSequence != 5 || string(got.Outbox) != `{"seq":5}` || !got.Welcomed || got.Escalations != 1 ||
		string(got.VendorState) != `{"session":"abc"}` || got.SkillID != 7 || got.ConsumerID != "cons" || !got.Open {
		t.Fatalf("BotConversation = %+v", got)
	}
	n, err := s.CountOpenBotConversations(ctx, b.ID)
	must(t, err)
	if n != 2 {
		t.Fatalf("open conversations = %d, want 2", n)
	}
	got.Open = false
	got.Outbox = nil
	must(t, s.SaveBotConversation(ctx, got))
	open, err := s.OpenBotConversations(ctx, b.ID)
	must(t, err)
	if len(open) != 1 || open[0].ConversationID != "c2" {
		t.Fatalf("open conversations = %+v", open)
	}
	closed, err := s.BotConversation(ctx, b.ID, "c1")
	must(t, err)
	if closed.Outbox != nil {
		t.Fatalf("outbox not cleared: %s", closed.Outbox)
	}
	// State goes with its bot.
	must(t, s.DeleteBot(ctx, other.ID))
	_, err = s.BotConversation(ctx, other.ID, "c3")
	wantCode(t, err, botrelay.ENOTFOUND)
}

func testBotStateEvents(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	s, _ := seeded(t, newDB)
	b := newBot(t, s, "state-bot")
	for _, st := range []botrelay.BotState{botrelay.BotStarting, botrelay.BotServiceInterruption, botrelay.BotOnline} {
		must(t, s.AddBotStateEvent(ctx, &botrelay.BotStateEvent{BotID: b.ID, State: st, Code: "c-" + string(st)}))
	}
	evs, err := s.BotStateEvents(ctx, b.ID, 2)
	must(t, err)
	if len(evs) != 2 || evs[0].State != botrelay.BotOnline || evs[1].State != botrelay.BotServiceInterruption || evs[0].At.IsZero() {
		t.Fatalf("BotStateEvents = %+v", evs)
	}
	must(t, s.ClearBotStateEvents(ctx, b.ID))
	evs, err = s.BotStateEvents(ctx, b.ID, 0)
	must(t, err)
	if len(evs) != 0 {
		t.Fatalf("after clear: %d events", len(evs))
	}
}

func testBotErrors(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	s, _ := seeded(t, newDB)
	b := newBot(t, s, "error-bot")
	total := botrelay.MaxBotErrors + 3
	for i := range total {
		conv := botrelay.ConversationID("even")
		if i%2 == 1 {
			conv = "odd"
		}
		must(t, s.AddBotError(ctx, &botrelay.BotError{BotID: b.ID, ConversationID: conv,
			Code: botrelay.ErrorCodePrefix + "test", Message: fmt.Sprintf("error %d", i), Details: json.RawMessage(`{"n":1}`)}))
	}
	all, err := s.BotErrors(ctx, b.ID, "", 0)
	must(t, err)
	if len(all) != botrelay.MaxBotErrors {
		t.Fatalf("kept %d errors, want %d", len(all), botrelay.MaxBotErrors)
	}
	if all[0].Message != fmt.Sprintf("error %d", total-1) || all[len(all)-1].Message != "error 3" {
		t.Fatalf("kept the wrong errors: newest %q, oldest %q", all[0].Message, all[len(all)-1].Message)
	}
	odd, err := s.BotErrors(ctx, b.ID, "odd", 5)
	must(t, err)
	if len(odd) != 5 || odd[0].ConversationID != "odd" || odd[0].ID == "" || string(odd[0].Details) != `{"n":1}` {
		t.Fatalf("errors of one conversation = %+v", odd)
	}
}

// testConcurrentWrites: many writers at once (on SQLite they share group
// commits): each valid write is stored, each invalid one fails alone with
// its own error, a write whose context is already cancelled stores
// nothing, and everything written survives a restart.
func testConcurrentWrites(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	open := newDB(t)
	s, err := open()
	must(t, err)
	if _, err := s.Bootstrap(ctx, newBootstrap()); err != nil {
		t.Fatal(err)
	}
	b := newBot(t, s, "busy-bot")
	const n = 60
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bot := b.ID
			if i%5 == 4 {
				bot = "no-such-bot" // a foreign-key violation
			}
			errs[i] = s.SaveBotConversation(ctx, &botrelay.BotConversation{BotID: bot, ConversationID: botrelay.ConversationID(fmt.Sprintf("c%d", i)),
				DialogID: "d", Open: true, LastSequence: int64(i)})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if i%5 == 4 {
			wantCode(t, err, botrelay.EINVALID)
		} else if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.SaveBotConversation(cancelled, &botrelay.BotConversation{BotID: b.ID, ConversationID: "late", DialogID: "d", Open: true}); err == nil {
		t.Fatal("a write with a cancelled context succeeded")
	}
	must(t, s.Close())
	if err := s.SaveBotConversation(ctx, &botrelay.BotConversation{BotID: b.ID, ConversationID: "after-close", DialogID: "d", Open: true}); err == nil {
		t.Fatal("a write after Close succeeded")
	}

	s2, err := open()
	must(t, err)
	defer s2.Close()
	got, err := s2.OpenBotConversations(ctx, b.ID)
	must(t, err)
	if len(got) != n-n/5 {
		t.Fatalf("after a restart %d conversations are stored, want %d", len(got), n-n/5)
	}
	for _, c := range got {
		if c.ConversationID == "late" || c.LastSequence%5 == 4 || fmt.Sprintf("c%d", c.LastSequence) != string(c.ConversationID) {
			t.Fatalf("unexpected stored conversation %+v", c)
		}
	}
}
