package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
)

// testConversationChanges: UpdateConversation records each system event in
// the same transaction (an agent joining, a transfer, the agent leaving, a
// TTR change, a survey dialog, the close), and the participation outlives
// the participants list.
func testConversationChanges(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	s, b := seeded(t, newDB)
	botSkill, human := b.Skills[0].ID, b.Skills[1].ID
	agent := newUser(t, s, "changes-agent", botrelay.UserHuman)
	other := newUser(t, s, "changes-other", botrelay.UserHuman)

	cv := newConversation(botSkill, "c0ffee00-0000-4000-8000-00000000c001")
	must(t, s.CreateConversation(ctx, cv))
	now := time.Now().UTC().Truncate(time.Millisecond)
	cv.Participants = append(cv.Participants, botrelay.Participant{UserID: agent.ID, Role: botrelay.ParticipantAssignedAgent,
		State: botrelay.ParticipantStateActive, JoinedAt: now})
	must(t, s.UpdateConversation(ctx, cv))
	cv.Participants = cv.Participants[:1] // the agent transfers to human
	cv.SkillID = human
	cv.TTR = botrelay.TTRUrgent
	must(t, s.UpdateConversation(ctx, cv))
	cv.Participants = append(cv.Participants, botrelay.Participant{UserID: other.ID, Role: botrelay.ParticipantAssignedAgent,
		State: botrelay.ParticipantStateSuggested, JoinedAt: now})
	must(t, s.UpdateConversation(ctx, cv))
	cv.Dialogs[0].State, cv.Dialogs[0].ClosedAt = botrelay.DialogClose, now
	cv.Dialogs = append(cv.Dialogs, botrelay.Dialog{ID: "survey-dialog-c001", Type: botrelay.DialogPostSurvey,
		State: botrelay.DialogOpen, CreatedAt: now})
	must(t, s.UpdateConversation(ctx, cv))
	cv.State, cv.CloseReason, cv.ClosedAt = botrelay.ConversationClose, botrelay.CloseByConsumer, now
	must(t, s.UpdateConversation(ctx, cv))
	must(t, s.UpdateConversation(ctx, cv)) // no change, no event

	changes, err := s.ConversationChanges(ctx, cv.ID)
	must(t, err)
	var got []string
	for _, ch := range changes {
		if ch.ConversationID != cv.ID || ch.At.IsZero() {
			t.Fatalf("change %+v", ch)
		}
		got = append(got, fmt.Sprintf("%s user=%d role=%s skill=%d from=%d ttr=%s value=%s", ch.Kind, ch.UserID, ch.Role,
			ch.SkillID, ch.FromSkillID, ch.TTR, ch.Value))
	}
	want := []string{
		fmt.Sprintf("PARTICIPANT_JOINED user=%d role=ASSIGNED_AGENT skill=0 from=0 ttr= value=", agent.ID),
		fmt.Sprintf("PARTICIPANT_LEFT user=%d role=ASSIGNED_AGENT skill=0 from=0 ttr= value=", agent.ID),
		fmt.Sprintf("TRANSFERRED user=0 role= skill=%d from=%d ttr= value=", human, botSkill),
		"TTR_CHANGED user=0 role= skill=0 from=0 ttr=URGENT value=",
		fmt.Sprintf("AGENT_SUGGESTED user=%d role=ASSIGNED_AGENT skill=0 from=0 ttr= value=", other.ID),
		"DIALOG_OPENED user=0 role= skill=0 from=0 ttr= value=POST_SURVEY",
		"CONVERSATION_CLOSED user=0 role= skill=0 from=0 ttr= value=CONSUMER",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("changes:\n%s\nwant:\n%s", fmt.Sprintln(got), fmt.Sprintln(want))
	}
	for user, want := range map[botrelay.UserID]bool{agent.ID: true, other.ID: false} {
		ok, err := s.Participated(ctx, cv.ID, user)
		must(t, err)
		if ok != want {
			t.Errorf("Participated(%d) = %v, want %v", user, ok, want)
		}
	}
	empty, err := s.ConversationChanges(ctx, "no-such-conversation")
	must(t, err)
	if len(empty) != 0 {
		t.Fatalf("changes of a missing conversation: %+v", empty)
	}
	missing := newConversation(botSkill, "c0ffee00-0000-4000-8000-00000000c002")
	wantCode(t, s.UpdateConversation(ctx, missing), botrelay.ENOTFOUND)
}

// searchIDs runs a search and returns the ids found, in order.
func searchIDs(t *testing.T, s botrelay.Store, q botrelay.ConversationQuery) []botrelay.ConversationID {
	t.Helper()
	if q.Limit == 0 {
		q.Limit = botrelay.MaxConversationSearch
	}
	list, err := s.SearchConversations(context.Background(), acct, q)
	must(t, err)
	ids := []botrelay.ConversationID{}
	for _, c := range list {
		if len(c.Dialogs) == 0 || len(c.Participants) == 0 {
			t.Fatalf("conversation %s without its parts", c.ID)
		}
		ids = append(ids, c.ID)
	}
	return ids
}

// testConversationSearch: each filter of SearchConversations, newest first,
// and paging with the cursor.
func testConversationSearch(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	s, b := seeded(t, newDB)
	botSkill, human := b.Skills[0].ID, b.Skills[1].ID
	agent := newUser(t, s, "search-agent", botrelay.UserHuman)
	bot := newBot(t, s, "search-bot")

	// a: Alice on bot, held by the bot, then transferred to human, where the
	// agent takes it and closes it. b: Bob on bot, open. c: an anonymous
	// consumer on human, open.
	a := newConversation(botSkill, "aaaa1111-0000-4000-8000-000000000001")
	a.Context = json.RawMessage(`{"personal":{"firstname":"Alice","lastname":"Liddell"}}`)
	must(t, s.CreateConversation(ctx, a))
	must(t, s.SaveBotConversation(ctx, &botrelay.BotConversation{BotID: bot.ID, ConversationID: a.ID, DialogID: a.Dialogs[0].ID, Open: true}))
	a.SkillID = human
	must(t, s.UpdateConversation(ctx, a))
	a.Participants = append(a.Participants, botrelay.Participant{UserID: agent.ID, Role: botrelay.ParticipantAssignedAgent,
		State: botrelay.ParticipantStateActive, JoinedAt: time.Now()})
	must(t, s.UpdateConversation(ctx, a))
	a.Participants = a.Participants[:1]
	a.State, a.ClosedAt = botrelay.ConversationClose, time.Now()
	must(t, s.UpdateConversation(ctx, a))
	time.Sleep(3 * time.Millisecond) // distinct start times (stored in milliseconds)
	bob := newConversation(botSkill, "bbbb2222-0000-4000-8000-000000000002")
	bob.Context = json.RawMessage(`{"name":"Bob_100%"}`)
	must(t, s.CreateConversation(ctx, bob))
	time.Sleep(3 * time.Millisecond)
	c := newConversation(human, "cccc3333-0000-4000-8000-000000000003")
	must(t, s.CreateConversation(ctx, c))

	all := []botrelay.ConversationID{c.ID, bob.ID, a.ID}
	for name, tc := range map[string]struct {
		q    botrelay.ConversationQuery
		want []botrelay.ConversationID
	}{
		"all, newest first":         {botrelay.ConversationQuery{}, all},
		"consumer id":               {botrelay.ConversationQuery{Consumer: string(bob.ConsumerID)}, []botrelay.ConversationID{bob.ID}},
		"consumer name, any case":   {botrelay.ConversationQuery{Consumer: "alice lid"}, []botrelay.ConversationID{a.ID}},
		"name with LIKE characters": {botrelay.ConversationQuery{Consumer: "_100%"}, []botrelay.ConversationID{bob.ID}},
		"wildcard is literal":       {botrelay.ConversationQuery{Consumer: "%"}, []botrelay.ConversationID{bob.ID}},
		"displayed name":            {botrelay.ConversationQuery{Consumer: "Consumer cccc3333"}, []botrelay.ConversationID{c.ID}},
		"short prefix is not a match": {botrelay.ConversationQuery{Consumer: "ccc"},
			[]botrelay.ConversationID{}},
		"bot":                     {botrelay.ConversationQuery{BotID: bot.ID}, []botrelay.ConversationID{a.ID}},
		"skill now or before":     {botrelay.ConversationQuery{SkillID: botSkill}, []botrelay.ConversationID{bob.ID, a.ID}},
		"skill after a transfer":  {botrelay.ConversationQuery{SkillID: human}, []botrelay.ConversationID{c.ID, a.ID}},
		"open":                    {botrelay.ConversationQuery{State: botrelay.ConversationOpen}, []botrelay.ConversationID{c.ID, bob.ID}},
		"closed":                  {botrelay.ConversationQuery{State: botrelay.ConversationClose}, []botrelay.ConversationID{a.ID}},
		"from (inclusive)":        {botrelay.ConversationQuery{From: bob.CreatedAt}, []botrelay.ConversationID{c.ID, bob.ID}},
		"to (exclusive)":          {botrelay.ConversationQuery{To: bob.CreatedAt}, []botrelay.ConversationID{a.ID}},
		"participant who left":    {botrelay.ConversationQuery{Participant: agent.ID}, []botrelay.ConversationID{a.ID}},
		"filters combine":         {botrelay.ConversationQuery{SkillID: botSkill, State: botrelay.ConversationOpen}, []botrelay.ConversationID{bob.ID}},
		"bot and another's skill": {botrelay.ConversationQuery{BotID: bot.ID, State: botrelay.ConversationOpen}, []botrelay.ConversationID{}},
	} {
		if got := searchIDs(t, s, tc.q); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: %v, want %v", name, got, tc.want)
		}
	}

	checkSearchPaging(t, s, all, bob, a, bot.ID)
}

// checkSearchPaging pages through the three conversations of
// testConversationSearch (all, newest first) two at a time.
func checkSearchPaging(t *testing.T, s botrelay.Store, all []botrelay.ConversationID, bob, a *botrelay.Conversation, bot botrelay.BotID) {
	ctx := context.Background()
	page1 := searchIDs(t, s, botrelay.ConversationQuery{Limit: 2})
	if fmt.Sprint(page1) != fmt.Sprint(all[:2]) {
		t.Fatalf("page 1 = %v", page1)
	}
	after := &botrelay.ConversationCursor{CreatedAt: bob.CreatedAt, ID: bob.ID}
	if got := searchIDs(t, s, botrelay.ConversationQuery{Limit: 2, After: after}); fmt.Sprint(got) != fmt.Sprint(all[2:]) {
		t.Fatalf("page 2 = %v", got)
	}
	after = &botrelay.ConversationCursor{CreatedAt: a.CreatedAt, ID: a.ID}
	if got := searchIDs(t, s, botrelay.ConversationQuery{Limit: 2, After: after}); len(got) != 0 {
		t.Fatalf("page 3 = %v", got)
	}
	_, err := s.SearchConversations(ctx, acct, botrelay.ConversationQuery{Limit: botrelay.MaxConversationSearch + 1})
	wantCode(t, err, botrelay.EINVALID)
	if got := searchIDs(t, s, botrelay.ConversationQuery{}); len(got) != 3 {
		t.Fatalf("search changed the data: %v", got)
	}
	bots, err := s.ConversationBots(ctx, []botrelay.ConversationID{a.ID, bob.ID})
	must(t, err)
	if fmt.Sprint(bots) != fmt.Sprint(map[botrelay.ConversationID][]botrelay.BotID{a.ID: {bot}}) {
		t.Fatalf("ConversationBots = %v", bots)
	}
}

// testConversationBotErrors: the error log of one conversation, every
// bot's, oldest first.
func testConversationBotErrors(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	s, _ := seeded(t, newDB)
	b1, b2 := newBot(t, s, "err-bot-1"), newBot(t, s, "err-bot-2")
	for i, e := range []*botrelay.BotError{
		{BotID: b1.ID, ConversationID: "conv-x", Code: botrelay.ErrorCodePrefix + "one"},
		{BotID: b2.ID, ConversationID: "conv-y", Code: botrelay.ErrorCodePrefix + "other"},
		{BotID: b2.ID, ConversationID: "conv-x", Code: botrelay.ErrorCodePrefix + "two"},
	} {
		e.Message = fmt.Sprintf("error %d", i)
		must(t, s.AddBotError(ctx, e))
	}
	list, err := s.ConversationBotErrors(ctx, "conv-x")
	must(t, err)
	var got []string
	for _, e := range list {
		got = append(got, string(e.BotID)+" "+e.Code+" "+e.Message)
	}
	want := []string{string(b1.ID) + " " + botrelay.ErrorCodePrefix + "one error 0", string(b2.ID) + " " + botrelay.ErrorCodePrefix + "two error 2"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("errors = %q, want %q", got, want)
	}
}
