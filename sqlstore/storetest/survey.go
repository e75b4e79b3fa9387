package storetest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
)

func testSurveys(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	s, _ := seeded(t, newDB)
	b := newBot(t, s, "survey-bot")
	started := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	sv := &botrelay.Survey{BotID: b.ID, ConversationID: "conv-1", DialogID: "dialog-1", ConsumerID: "consumer-1",
		SkillID: 7, State: botrelay.SurveyOpen, StartedAt: started}
	must(t, s.SaveSurvey(ctx, sv))
	got, err := s.Survey(ctx, "dialog-1")
	must(t, err)
	if got.State != botrelay.SurveyOpen || got.BotID != b.ID || got.SkillID != 7 || got.ConsumerID != "consumer-1" ||
		!got.StartedAt.Equal(started) || !got.EndedAt.IsZero() || got.Answers == nil || len(got.Answers) != 0 || got.Result != nil {
		t.Fatalf("new survey = %+v", got)
	}

	// Answers are recorded once per sequence; the end replaces the row.
	a := botrelay.SurveyAnswer{Sequence: 2, Question: "How did we do (1-5)?", Answer: "5", At: started.Add(time.Second)}
	if !got.AddAnswer(a) || got.AddAnswer(a) {
		t.Fatal("AddAnswer must record a sequence once")
	}
	got.AddAnswer(botrelay.SurveyAnswer{Sequence: 4, Question: "Anything else?", Answer: "", RichContent: json.RawMessage(`{"type":"button"}`), At: started.Add(2 * time.Second)})
	got.State, got.EndedAt, got.Result = botrelay.SurveyCompleted, started.Add(3*time.Second), json.RawMessage(`{"csat":5}`)
	must(t, s.SaveSurvey(ctx, got))
	again, err := s.Survey(ctx, "dialog-1")
	must(t, err)
	if again.State != botrelay.SurveyCompleted || len(again.Answers) != 2 || again.Answers[0].Answer != "5" ||
		again.Answers[1].Sequence != 4 || string(again.Answers[1].RichContent) != `{"type":"button"}` ||
		string(again.Result) != `{"csat":5}` || !again.EndedAt.Equal(started.Add(3*time.Second)) {
		t.Fatalf("ended survey = %+v", again)
	}

	// Listing: newest first, by bot and by conversation.
	must(t, s.SaveSurvey(ctx, &botrelay.Survey{BotID: b.ID, ConversationID: "conv-2", DialogID: "dialog-2", State: botrelay.SurveyFailed, Error: "vendor down"}))
	must(t, s.SaveSurvey(ctx, &botrelay.Survey{BotID: "other-bot", ConversationID: "conv-3", DialogID: "dialog-3", State: botrelay.SurveyAbandoned}))
	list, err := s.Surveys(ctx, botrelay.SurveyFilter{BotID: b.ID})
	must(t, err)
	if len(list) != 2 || list[0].DialogID != "dialog-2" || list[0].Error != "vendor down" || list[1].DialogID != "dialog-1" {
		t.Fatalf("surveys of the bot = %+v", list)
	}
	list, err = s.Surveys(ctx, botrelay.SurveyFilter{ConversationID: "conv-3"})
	must(t, err)
	if len(list) != 1 || list[0].BotID != "other-bot" {
		t.Fatalf("surveys of conv-3 = %+v", list)
	}
	list, err = s.Surveys(ctx, botrelay.SurveyFilter{Limit: 1})
	must(t, err)
	if len(list) != 1 || list[0].DialogID != "dialog-3" {
		t.Fatalf("newest survey = %+v", list)
	}

	// Answers outlive the bot.
	must(t, s.DeleteBot(ctx, b.ID))
	if _, err := s.Survey(ctx, "dialog-1"); err != nil {
		t.Fatalf("survey after the bot was deleted: %v", err)
	}
	_, err = s.Survey(ctx, "no-such-dialog")
	wantCode(t, err, botrelay.ENOTFOUND)
	wantCode(t, s.SaveSurvey(ctx, &botrelay.Survey{BotID: b.ID, ConversationID: "c", DialogID: "d", State: "DONE"}), botrelay.EINVALID)
	wantCode(t, s.SaveSurvey(ctx, &botrelay.Survey{BotID: b.ID, DialogID: "d", State: botrelay.SurveyOpen}), botrelay.EINVALID)
}
