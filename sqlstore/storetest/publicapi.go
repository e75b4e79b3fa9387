package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
)

// testCommands checks the Public API command queue: ids in order, the
// waiting list, taking a command once, finishing it once, expiry, and the
// retention of MaxCommandsPerBot per bot.
func testCommands(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	s, _ := seeded(t, newDB)
	b := newBot(t, s, "papi-bot")
	other := newBot(t, s, "papi-other")
	now := time.Now().UTC().Truncate(time.Millisecond)
	mk := func(bot botrelay.BotID, conv string, ttl time.Duration) *botrelay.Command {
		c := &botrelay.Command{AccountID: acct, BotID: bot, ConversationID: botrelay.ConversationID(conv),
			Type: botrelay.CommandMessages, Payload: json.RawMessage(`{"messages":[]}`), TimeoutAt: now.Add(ttl)}
		must(t, s.CreateCommand(ctx, c))
		return c
	}
	first := mk(b.ID, "c1", time.Minute)
	second := mk(b.ID, "c1", time.Minute)
	expired := mk(other.ID, "c2", -time.Second)
	if first.ID == "" || first.ID >= second.ID && len(first.ID) == len(second.ID) || first.State != botrelay.CommandWaiting {
		t.Fatalf("ids %q, %q; state %q", first.ID, second.ID, first.State)
	}
	got, err := s.Command(ctx, first.ID)
	must(t, err)
	if got.BotID != b.ID || got.ConversationID != "c1" || got.Type != botrelay.CommandMessages ||
		string(got.Payload) != `{"messages":[]}` || !got.TimeoutAt.Equal(first.TimeoutAt) || !got.StartedAt.IsZero() {
		t.Fatalf("Command = %+v", got)
	}
	if _, err := s.Command(ctx, "999999"); botrelay.ErrorCode(err) != botrelay.ENOTFOUND {
		t.Fatalf("unknown command: %v", err)
	}
	if _, err := s.Command(ctx, "x"); botrelay.ErrorCode(err) != botrelay.ENOTFOUND {
		t.Fatalf("malformed id: %v", err)
	}
	waiting, err := s.WaitingCommands(ctx, acct, 10)
	must(t, err)
	if ids := commandIDs(waiting); ids != fmt.Sprint([]string{first.ID, second.ID, expired.ID}) {
		t.Fatalf("waiting = %s", ids)
	}
	// Taking: once, and never after the time to live.
	if ok, err := s.TakeCommand(ctx, first.ID, now); err != nil || !ok {
		t.Fatalf("take = %v, %v", ok, err)
	}
	if ok, _ := s.TakeCommand(ctx, first.ID, now); ok {
		t.Fatal("a command was taken twice")
	}
	if ok, _ := s.TakeCommand(ctx, expired.ID, now); ok {
		t.Fatal("an expired command was taken")
	}
	waiting, _ = s.WaitingCommands(ctx, acct, 10)
	if ids := commandIDs(waiting); ids != fmt.Sprint([]string{second.ID, expired.ID}) {
		t.Fatalf("waiting after take = %s", ids)
	}
	// Expiry fails the untaken expired command, not the taken one.
	n, err := s.ExpireCommands(ctx, now, now.Add(-time.Minute), "cause", "expired")
	must(t, err)
	if n != 1 {
		t.Fatalf("expired %d, want 1", n)
	}
	got, _ = s.Command(ctx, expired.ID)
	if got.State != botrelay.CommandFailed || got.ErrorCause != "cause" || got.ErrorMessage != "expired" || got.EndedAt.IsZero() {
		t.Fatalf("expired command = %+v", got)
	}
	// Finishing: once.
	done := &botrelay.Command{ID: first.ID, State: botrelay.CommandCompleted, EndedAt: now.Add(time.Second)}
	if ok, err := s.FinishCommand(ctx, done); err != nil || !ok {
		t.Fatalf("finish = %v, %v", ok, err)
	}
	if ok, _ := s.FinishCommand(ctx, &botrelay.Command{ID: first.ID, State: botrelay.CommandFailed}); ok {
		t.Fatal("a command ended twice")
	}
	got, _ = s.Command(ctx, first.ID)
	if got.State != botrelay.CommandCompleted || !got.EndedAt.Equal(now.Add(time.Second)) || got.StartedAt.IsZero() {
		t.Fatalf("completed command = %+v", got)
	}
}

// testCommandRetention checks that a bot keeps its newest MaxCommandsPerBot
// commands and that another bot's are untouched.
func testCommandRetention(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	s, _ := seeded(t, newDB)
	b := newBot(t, s, "papi-bot")
	other := newBot(t, s, "papi-other")
	now := time.Now().UTC().Truncate(time.Millisecond)
	mk := func(bot botrelay.BotID, conv string) *botrelay.Command {
		c := &botrelay.Command{AccountID: acct, BotID: bot, ConversationID: botrelay.ConversationID(conv),
			Type: botrelay.CommandTTR, Payload: json.RawMessage(`{"ttrType":"URGENT"}`), TimeoutAt: now.Add(time.Minute)}
		must(t, s.CreateCommand(ctx, c))
		return c
	}
	second := mk(b.ID, "c1")
	kept := mk(other.ID, "c2")
	for range botrelay.MaxCommandsPerBot {
		mk(b.ID, "c3")
	}
	if _, err := s.Command(ctx, second.ID); botrelay.ErrorCode(err) != botrelay.ENOTFOUND {
		t.Fatalf("command beyond the retention: %v", err)
	}
	if _, err := s.Command(ctx, kept.ID); err != nil {
		t.Fatalf("another bot's command was dropped: %v", err)
	}
	list, err := s.Commands(ctx, "c3", 0)
	must(t, err)
	if len(list) != botrelay.MaxCommandsPerBot || list[0].ID >= list[1].ID && len(list[0].ID) == len(list[1].ID) {
		t.Fatalf("Commands: %d, first %s", len(list), list[0].ID)
	}
	if list, _ := s.Commands(ctx, "c1", 0); len(list) != 0 {
		t.Fatalf("c1 still has %d commands", len(list))
	}
	newest, err := s.Commands(ctx, "c3", 5)
	must(t, err)
	if commandIDs(newest) != commandIDs(list[len(list)-5:]) {
		t.Fatalf("Commands limit 5 = %s, want the newest five %s", commandIDs(newest), commandIDs(list[len(list)-5:]))
	}
}

func commandIDs(cs []*botrelay.Command) string {
	ids := []string{}
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	return fmt.Sprint(ids)
}

// testPublicAPIState checks engagement attributes and Public API logins.
func testPublicAPIState(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	s, _ := seeded(t, newDB)
	at := time.Now().UTC().Truncate(time.Millisecond)
	if _, _, err := s.EngagementAttributes(ctx, "conv"); botrelay.ErrorCode(err) != botrelay.ENOTFOUND {
		t.Fatalf("no attributes: %v", err)
	}
	must(t, s.SetEngagementAttributes(ctx, "conv", json.RawMessage(`[{"type":"personal"}]`), at))
	must(t, s.SetEngagementAttributes(ctx, "conv", json.RawMessage(`[{"type":"ctmrinfo"}]`), at.Add(time.Second)))
	sdes, when, err := s.EngagementAttributes(ctx, "conv")
	must(t, err)
	if string(sdes) != `[{"type":"ctmrinfo"}]` || !when.Equal(at.Add(time.Second)) {
		t.Fatalf("attributes = %s at %v", sdes, when)
	}

	u := newUser(t, s, "papi-user", botrelay.UserBot)
	must(t, s.SavePublicAPIToken(ctx, &botrelay.PublicAPIToken{Hash: "h1", AccountID: acct, UserID: u.ID, ExpiresAt: at}))
	tok, err := s.PublicAPIToken(ctx, "h1")
	must(t, err)
	if tok.UserID != u.ID || tok.AccountID != acct || !tok.ExpiresAt.Equal(at) {
		t.Fatalf("token = %+v", tok)
	}
	// A second login ends the first (F47).
	must(t, s.SavePublicAPIToken(ctx, &botrelay.PublicAPIToken{Hash: "h2", AccountID: acct, UserID: u.ID, ExpiresAt: at}))
	if _, err := s.PublicAPIToken(ctx, "h1"); botrelay.ErrorCode(err) != botrelay.ENOTFOUND {
		t.Fatalf("replaced token: %v", err)
	}
	if _, err := s.PublicAPIToken(ctx, "h2"); err != nil {
		t.Fatal(err)
	}
}
