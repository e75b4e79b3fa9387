package storetest

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/botrelay/botrelay"
)

// testStandIns checks the outcome counters that compare bots splitting a
// skill, and the fallback vendor's per-conversation state.
func testStandIns(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	s, _ := seeded(t, newDB)
	a, b := newBot(t, s, "split-a"), newBot(t, s, "split-b")
	const skill, other botrelay.SkillID = 7, 8
	set := func(bot *botrelay.Bot, conv string, sk botrelay.SkillID, o botrelay.Outcome) {
		t.Helper()
		must(t, s.SetOutcome(ctx, bot.ID, botrelay.ConversationID(conv), sk, o))
	}
	set(a, "c1", skill, botrelay.OutcomeOpen)
	set(a, "c1", skill, botrelay.OutcomeClosed) // replaces: one conversation
	set(a, "c2", skill, botrelay.OutcomeTransferred)
	set(a, "c3", skill, botrelay.OutcomeEscalated)
	set(a, "c4", skill, botrelay.OutcomeHandedBack)
	set(a, "c5", skill, botrelay.OutcomeOpen)
	set(b, "c6", skill, botrelay.OutcomeOpen)
	set(b, "c7", other, botrelay.OutcomeClosed) // another skill
	got, err := s.SplitFigures(ctx, skill)
	must(t, err)
	want := map[botrelay.BotID]botrelay.SplitFigures{
		a.ID: {BotID: a.ID, Assigned: 5, Open: 1, Closed: 1, Transferred: 1, Escalated: 1, HandedBack: 1},
		b.ID: {BotID: b.ID, Assigned: 1, Open: 1},
	}
	if len(got) != len(want) {
		t.Fatalf("SplitFigures = %d bots, want %d", len(got), len(want))
	}
	for _, f := range got {
		if *f != want[f.BotID] {
			t.Fatalf("SplitFigures[%s] = %+v, want %+v", f.BotID, *f, want[f.BotID])
		}
	}
	if none, err := s.SplitFigures(ctx, 99); err != nil || len(none) != 0 {
		t.Fatalf("SplitFigures(unused skill) = %v, %v; want none", none, err)
	}
	wantCode(t, s.SetOutcome(ctx, "no-such-bot", "c9", skill, botrelay.OutcomeOpen), botrelay.EINVALID)

	// The fallback vendor's state: absent, stored, replaced, deleted.
	if st, err := s.FallbackState(ctx, a.ID, "c1"); err != nil || st != nil {
		t.Fatalf("FallbackState before = %s, %v; want nil, nil", st, err)
	}
	must(t, s.SaveFallbackState(ctx, a.ID, "c1", json.RawMessage(`{"n":1}`)))
	must(t, s.SaveFallbackState(ctx, a.ID, "c1", json.RawMessage(`{"n":2}`)))
	if st, err := s.FallbackState(ctx, a.ID, "c1"); err != nil || string(st) != `{"n":2}` {
		t.Fatalf("FallbackState = %s, %v", st, err)
	}
	if st, _ := s.FallbackState(ctx, b.ID, "c1"); st != nil {
		t.Fatalf("another bot's fallback state = %s, want nil", st)
	}
	must(t, s.SaveFallbackState(ctx, a.ID, "c1", nil))
	if st, err := s.FallbackState(ctx, a.ID, "c1"); err != nil || st != nil {
		t.Fatalf("FallbackState after delete = %s, %v", st, err)
	}
}
