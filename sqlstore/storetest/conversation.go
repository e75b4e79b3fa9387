package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
)

var convCounter struct {
	sync.Mutex
	n int
}

// newConversation returns an open conversation with its main dialog and its
// consumer, not yet stored. Ids are UUID-shaped and unique per process.
func newConversation(skill botrelay.SkillID, consumer botrelay.ConsumerID) *botrelay.Conversation {
	convCounter.Lock()
	convCounter.n++
	n := convCounter.n
	convCounter.Unlock()
	id := botrelay.ConversationID(fmt.Sprintf("00000000-0000-4000-8000-%012d", n))
	now := time.Now().UTC().Truncate(time.Millisecond)
	return &botrelay.Conversation{
		ID: id, AccountID: acct, ConsumerID: consumer, SkillID: skill,
		State: botrelay.ConversationOpen, TTR: botrelay.TTRNormal,
		Context: json.RawMessage(`{"type":"SharkContext","lang":"en-US"}`),
		Participants: []botrelay.Participant{
			{ConsumerID: consumer, Role: botrelay.ParticipantConsumer, State: botrelay.ParticipantStateActive, JoinedAt: now},
		},
		Dialogs: []botrelay.Dialog{{ID: botrelay.DialogID(id), Type: botrelay.DialogMain, State: botrelay.DialogOpen, CreatedAt: now}},
	}
}

func textEvent(cv *botrelay.Conversation, d botrelay.DialogID, text string) *botrelay.MessageEvent {
	ev, _ := json.Marshal(map[string]string{"type": "ContentEvent", "contentType": "text/plain", "message": text})
	return &botrelay.MessageEvent{
		ConversationID: cv.ID, DialogID: d, Type: "ContentEvent",
		OriginatorID: string(cv.ConsumerID), OriginatorPID: string(cv.ConsumerID), OriginatorRole: botrelay.ParticipantConsumer,
		Event: ev,
	}
}

func testConversations(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	s, b := seeded(t, newDB)
	skill := b.Skills[0].ID
	agent := newUser(t, s, "agent-1", botrelay.UserHuman)

	cv := newConversation(skill, "c0ffee00-0000-4000-8000-000000000001")
	must(t, s.CreateConversation(ctx, cv))
	if cv.CreatedAt.IsZero() || cv.UpdatedAt.IsZero() {
		t.Fatal("timestamps not set")
	}
	wantCode(t, s.CreateConversation(ctx, cv), botrelay.ECONFLICT)
	bad := newConversation(skill, "")
	wantCode(t, s.CreateConversation(ctx, bad), botrelay.EINVALID)
	other := newConversation(skill, "c0ffee00-0000-4000-8000-000000000002")
	other.AccountID = "no-such-account"
	wantCode(t, s.CreateConversation(ctx, other), botrelay.EINVALID)

	got, err := s.Conversation(ctx, cv.ID)
	must(t, err)
	if got.State != botrelay.ConversationOpen || got.SkillID != skill || len(got.Dialogs) != 1 || len(got.Participants) != 1 ||
		got.Participants[0].ConsumerID != cv.ConsumerID || string(got.Context) != string(cv.Context) {
		t.Fatalf("Conversation = %+v", got)
	}
	_, err = s.Conversation(ctx, "missing")
	wantCode(t, err, botrelay.ENOTFOUND)

	// Assign an agent, add a survey dialog, then close.
	now := time.Now().UTC().Truncate(time.Millisecond)
	got.Participants = append(got.Participants, botrelay.Participant{UserID: agent.ID, Role: botrelay.ParticipantAssignedAgent,
		State: botrelay.ParticipantStateActive, JoinedAt: now})
	got.TTR = botrelay.TTRUrgent
	must(t, s.UpdateConversation(ctx, got))
	got.Dialogs[0].State, got.Dialogs[0].ClosedAt, got.Dialogs[0].ClosedBy = botrelay.DialogClose, now, botrelay.CloseByAgent
	got.Dialogs = append(got.Dialogs, botrelay.Dialog{ID: "d1a1d1a1-0000-4000-8000-000000000001", Type: botrelay.DialogPostSurvey,
		State: botrelay.DialogOpen, CreatedAt: now})
	must(t, s.UpdateConversation(ctx, got))
	again, err := s.Conversation(ctx, cv.ID)
	must(t, err)
	if again.AssignedAgent() != agent.ID || again.TTR != botrelay.TTRUrgent || len(again.Dialogs) != 2 ||
		again.Dialogs[0].State != botrelay.DialogClose || again.Dialogs[1].Type != botrelay.DialogPostSurvey ||
		again.OpenDialog().ID != again.Dialogs[1].ID {
		t.Fatalf("after update = %+v", again)
	}
	missing := newConversation(skill, "c0ffee00-0000-4000-8000-000000000003")
	wantCode(t, s.UpdateConversation(ctx, missing), botrelay.ENOTFOUND)

	// Listing by state and consumer.
	second := newConversation(skill, "c0ffee00-0000-4000-8000-000000000001")
	must(t, s.CreateConversation(ctx, second))
	third := newConversation(skill, "c0ffee00-0000-4000-8000-000000000009")
	must(t, s.CreateConversation(ctx, third))
	again.State, again.ClosedAt, again.CloseReason = botrelay.ConversationClose, now, botrelay.CloseByConsumer
	again.Dialogs[1].State = botrelay.DialogClose
	must(t, s.UpdateConversation(ctx, again))

	open, err := s.Conversations(ctx, acct, botrelay.ConversationFilter{State: botrelay.ConversationOpen})
	must(t, err)
	if len(open) != 2 || open[0].ID != second.ID || open[1].ID != third.ID || len(open[0].Dialogs) != 1 {
		t.Fatalf("open conversations = %d %+v", len(open), open)
	}
	mine, err := s.Conversations(ctx, acct, botrelay.ConversationFilter{ConsumerID: "c0ffee00-0000-4000-8000-000000000001"})
	must(t, err)
	if len(mine) != 2 || mine[0].ID != cv.ID || mine[0].State != botrelay.ConversationClose || mine[0].CloseReason != botrelay.CloseByConsumer {
		t.Fatalf("consumer conversations = %+v", mine)
	}
	newest, err := s.Conversations(ctx, acct, botrelay.ConversationFilter{ConsumerID: "c0ffee00-0000-4000-8000-000000000001", Limit: 1})
	must(t, err)
	if len(newest) != 1 || newest[0].ID != second.ID {
		t.Fatalf("newest conversation = %+v", newest)
	}
}

func testConversationEvents(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	s, b := seeded(t, newDB)
	cv := newConversation(b.Skills[0].ID, "c0ffee00-0000-4000-8000-00000000000a")
	must(t, s.CreateConversation(ctx, cv))
	main := cv.Dialogs[0].ID

	for i := 1; i <= 3; i++ {
		e := textEvent(cv, main, fmt.Sprintf("m%d", i))
		if i == 2 {
			e.Audience = botrelay.AudienceAgentsAndManagers
			e.Metadata = json.RawMessage(`[{"type":"BotResponse","intents":[]}]`)
			e.EncodedMetadata = "ZW5jb2RlZA=="
		}
		must(t, s.AppendEvent(ctx, e))
		if e.Sequence != int64(i) || e.CreatedAt.IsZero() {
			t.Fatalf("event %d: sequence %d, created %v", i, e.Sequence, e.CreatedAt)
		}
	}
	wantCode(t, s.AppendEvent(ctx, textEvent(cv, "no-such-dialog", "x")), botrelay.ENOTFOUND)
	bad := textEvent(cv, main, "x")
	bad.Event = json.RawMessage(`{not json`)
	wantCode(t, s.AppendEvent(ctx, bad), botrelay.EINVALID)

	evs, err := s.Events(ctx, cv.ID, main, 1, 0)
	must(t, err)
	if len(evs) != 2 || evs[0].Sequence != 2 || evs[1].Sequence != 3 {
		t.Fatalf("Events after 1 = %+v", evs)
	}
	if evs[0].Audience != botrelay.AudienceAgentsAndManagers || string(evs[0].Metadata) != `[{"type":"BotResponse","intents":[]}]` ||
		evs[0].EncodedMetadata != "ZW5jb2RlZA==" || evs[0].OriginatorRole != botrelay.ParticipantConsumer {
		t.Fatalf("event fields = %+v", evs[0])
	}
	var body map[string]string
	must(t, json.Unmarshal(evs[1].Event, &body))
	if body["message"] != "m3" {
		t.Fatalf("event body = %s", evs[1].Event)
	}
	limited, err := s.Events(ctx, cv.ID, "", 0, 2)
	must(t, err)
	if len(limited) != 2 || limited[0].Sequence != 1 {
		t.Fatalf("limited events = %+v", limited)
	}

	// A survey dialog counts its own sequences; updating the conversation
	// keeps the main dialog's counter.
	cv.Dialogs[0].State = botrelay.DialogClose
	survey := botrelay.DialogID("d1a1d1a1-0000-4000-8000-00000000000a")
	cv.Dialogs = append(cv.Dialogs, botrelay.Dialog{ID: survey, Type: botrelay.DialogPostSurvey, State: botrelay.DialogOpen, CreatedAt: time.Now()})
	must(t, s.UpdateConversation(ctx, cv))
	e := textEvent(cv, survey, "survey")
	e.OriginatorRole, e.OriginatorName, e.OriginatorType = botrelay.ParticipantAssignedAgent, "Survey bot", botrelay.UserBot
	must(t, s.AppendEvent(ctx, e))
	if e.Sequence != 1 {
		t.Fatalf("survey dialog first sequence = %d", e.Sequence)
	}
	e = textEvent(cv, main, "late")
	must(t, s.AppendEvent(ctx, e))
	if e.Sequence != 4 {
		t.Fatalf("main dialog sequence after update = %d, want 4", e.Sequence)
	}
	all, err := s.Events(ctx, cv.ID, "", 0, 0)
	must(t, err)
	if len(all) != 5 || all[4].DialogID != survey || all[4].OriginatorType != botrelay.UserBot || all[4].OriginatorName != "Survey bot" {
		t.Fatalf("all events = %d, last %+v", len(all), all[len(all)-1])
	}
	// A dialog read back carries the sequence of its last consumer event
	// (the hub tells resuming bots whether they have anything to catch up).
	got, err := s.Conversation(ctx, cv.ID)
	must(t, err)
	if len(got.Dialogs) != 2 || got.Dialogs[0].LastConsumerSequence != 4 || got.Dialogs[1].LastConsumerSequence != 0 {
		t.Fatalf("dialogs' last consumer sequences = %+v, want 4 (main) and 0 (survey: only the bot wrote)", got.Dialogs)
	}
}

// testConversationEventsConcurrent appends from many goroutines at once:
// every event gets a distinct sequence and none is lost.
func testConversationEventsConcurrent(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	s, b := seeded(t, newDB)
	cv := newConversation(b.Skills[0].ID, "c0ffee00-0000-4000-8000-00000000000b")
	must(t, s.CreateConversation(ctx, cv))
	const n = 24
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.AppendEvent(ctx, textEvent(cv, cv.Dialogs[0].ID, fmt.Sprint(i)))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}
	evs, err := s.Events(ctx, cv.ID, "", 0, 0)
	must(t, err)
	if len(evs) != n {
		t.Fatalf("%d events stored, want %d", len(evs), n)
	}
	for i, e := range evs {
		if e.Sequence != int64(i+1) {
			t.Fatalf("event %d has sequence %d", i, e.Sequence)
		}
	}
}

// testConversationRestart reopens the store: open conversations, their
// participants and their events are still there.
func testConversationRestart(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	open := newDB(t)
	s, err := open()
	must(t, err)
	b := newBootstrap()
	if _, err := s.Bootstrap(ctx, b); err != nil {
		t.Fatal(err)
	}
	cv := newConversation(b.Skills[1].ID, "c0ffee00-0000-4000-8000-00000000000c")
	cv.Participants = append(cv.Participants, botrelay.Participant{UserID: b.Admin.ID, Role: botrelay.ParticipantAssignedAgent,
		State: botrelay.ParticipantStateActive, JoinedAt: time.Now()})
	must(t, s.CreateConversation(ctx, cv))
	must(t, s.AppendEvent(ctx, textEvent(cv, cv.Dialogs[0].ID, "kept")))
	must(t, s.Close())

	s, err = open()
	must(t, err)
	defer s.Close()
	list, err := s.Conversations(ctx, acct, botrelay.ConversationFilter{State: botrelay.ConversationOpen})
	must(t, err)
	if len(list) != 1 || list[0].AssignedAgent() != b.Admin.ID {
		t.Fatalf("open conversations after restart = %+v", list)
	}
	evs, err := s.Events(ctx, cv.ID, "", 0, 0)
	must(t, err)
	if len(evs) != 1 || evs[0].Sequence != 1 {
		t.Fatalf("events after restart = %+v", evs)
	}
	e := textEvent(cv, cv.Dialogs[0].ID, "next")
	must(t, s.AppendEvent(ctx, e))
	if e.Sequence != 2 {
		t.Fatalf("sequence after restart = %d, want 2", e.Sequence)
	}
}

// testLongListing: a listing long enough for the store to read it in
// parts at once (the hub's at start) gives every open conversation,
// oldest first, with exactly its own dialogs and participants — the same
// as reading the conversation alone — and leaves out the closed ones.
func testLongListing(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	s, b := seeded(t, newDB)
	skill := b.Skills[0].ID
	agents := []*botrelay.User{newUser(t, s, "agent-1", botrelay.UserHuman), newUser(t, s, "agent-2", botrelay.UserBot)}
	const n = 2101
	var open []botrelay.ConversationID
	for i := range n {
		cv := newConversation(skill, botrelay.ConsumerID(fmt.Sprintf("c0ffee00-0000-4000-8000-%012d", i+1)))
		at := time.Now().UTC().Truncate(time.Millisecond)
		switch i % 4 {
		case 1: // an agent of its own
			cv.Participants = append(cv.Participants, botrelay.Participant{UserID: agents[i%2].ID,
				Role: botrelay.ParticipantAssignedAgent, State: botrelay.ParticipantStateActive, JoinedAt: at})
		case 2: // in its survey: the main dialog closed, a survey dialog open, a suggested agent
			cv.Dialogs[0].State, cv.Dialogs[0].ClosedAt, cv.Dialogs[0].ClosedBy = botrelay.DialogClose, at, "AGENT"
			cv.Dialogs = append(cv.Dialogs, botrelay.Dialog{ID: botrelay.DialogID(fmt.Sprintf("5e000000-0000-4000-8000-%012d", i)),
				Type: botrelay.DialogPostSurvey, State: botrelay.DialogOpen, CreatedAt: at})
			cv.Participants = append(cv.Participants,
				botrelay.Participant{UserID: agents[0].ID, Role: botrelay.ParticipantReader, State: botrelay.ParticipantStateActive, JoinedAt: at},
				botrelay.Participant{UserID: agents[1].ID, Role: botrelay.ParticipantAssignedAgent, State: botrelay.ParticipantStateSuggested, JoinedAt: at})
		}
		must(t, s.CreateConversation(ctx, cv))
		if i%97 == 5 {
			last := &cv.Dialogs[len(cv.Dialogs)-1]
			cv.State, cv.CloseReason, cv.ClosedAt = botrelay.ConversationClose, botrelay.CloseByConsumer, at
			last.State, last.ClosedAt = botrelay.DialogClose, at
			must(t, s.UpdateConversation(ctx, cv))
			continue
		}
		open = append(open, cv.ID)
	}
	list, err := s.Conversations(ctx, acct, botrelay.ConversationFilter{State: botrelay.ConversationOpen})
	must(t, err)
	if len(list) != len(open) {
		t.Fatalf("%d conversations listed; want the %d open", len(list), len(open))
	}
	parts := func(c *botrelay.Conversation) string { return fmt.Sprintf("%+v %+v", c.Dialogs, c.Participants) }
	for i, got := range list {
		if got.ID != open[i] {
			t.Fatalf("listed %d: %s; want %s (oldest first)", i, got.ID, open[i])
		}
		alone, err := s.Conversation(ctx, got.ID)
		must(t, err)
		if parts(got) != parts(alone) {
			t.Fatalf("conversation %s listed with %s; read alone: %s", got.ID, parts(got), parts(alone))
		}
	}
}
