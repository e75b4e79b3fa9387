package relay_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/function"
	"github.com/botrelay/botrelay/internal/testrig"
)

// sink records the events it is told.
type sink struct {
	mu  sync.Mutex
	evs []*botrelay.Event
}

func (s *sink) Emit(_ context.Context, e *botrelay.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.evs = append(s.evs, e)
}

func (s *sink) find(kind botrelay.EventKind) []*botrelay.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*botrelay.Event
	for _, e := range s.evs {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// TestEventsOfASurveyedConversation: a conversation that a bot closes into
// a survey, which the survey bot completes, tells the sink it was opened,
// assigned to the agent bot, assigned to the survey bot, that the survey
// completed with its answers and result, and that it closed; each once.
func TestEventsOfASurveyedConversation(t *testing.T) {
	rec := &sink{}
	r := testrig.NewRig(t, testrig.RigOptions{Vendors: []botrelay.VendorConnector{function.Connector{}},
		Skills: []string{"survey-skill"}, Events: rec})
	sv := addSurveyBot(r, "survey", testrig.BotOptions{Vendor: "function", Settings: map[string]any{"code": surveyBot, "timeoutMs": 2000}}, nil)
	r.Start(sv, botrelay.BotOnline)
	c := testrig.NewConsumer(t, r.URL, "1000")
	c.Open("bot")
	c.Say("hello")
	survey := c.WaitSurvey(wait)
	c.WaitTexts(wait, "How would you rate us, 1 to 5?")
	c.Say("4")
	c.WaitTexts(wait, "Anything we could do better?")
	c.Say("faster please")
	testrig.Eventually(t, wait, "the closed event", func() bool { return len(rec.find(botrelay.EventConversationClosed)) == 1 })

	done := rec.find(botrelay.EventSurveyCompleted)
	if len(done) != 1 || done[0].ID != survey+":survey-completed" {
		t.Fatalf("survey.completed events %+v", done)
	}
	var d struct {
		ConversationID, DialogID, BotID string
		Answers                         []struct{ Question, Answer string }
		Result                          map[string]any
	}
	if err := json.Unmarshal(done[0].Data, &d); err != nil || d.ConversationID != c.ConvID || d.DialogID != survey ||
		d.BotID != string(sv.ID) || len(d.Answers) != 2 || d.Answers[0].Answer != "4" || d.Result["comment"] != "faster please" {
		t.Fatalf("survey.completed data %s (%v)", done[0].Data, err)
	}
	if n := len(rec.find(botrelay.EventConversationOpened)); n != 1 {
		t.Errorf("%d opened events", n)
	}
	if n := len(rec.find(botrelay.EventConversationAssigned)); n != 2 {
		t.Errorf("%d assigned events, want the agent bot's and the survey bot's", n)
	}
	closed := rec.find(botrelay.EventConversationClosed)[0]
	if closed.ID != c.ConvID+":closed" || closed.AccountID != testrig.Account {
		t.Errorf("closed event %+v", closed)
	}
	states := rec.find(botrelay.EventBotStateChanged)
	online := 0
	for _, e := range states {
		var s struct{ State, BotID string }
		if json.Unmarshal(e.Data, &s) == nil && s.State == "ONLINE" {
			online++
		}
	}
	if online != 2 {
		t.Errorf("%d ONLINE state events, want one per bot", online)
	}
}
