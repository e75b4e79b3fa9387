package relay_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
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
	// The two come from different places (the hub's close, the survey
	// bot's end of the survey) in no fixed order.
	testrig.Eventually(t, wait, "the closed and survey-completed events", func() bool {
		return len(rec.find(botrelay.EventConversationClosed)) == 1 && len(rec.find(botrelay.EventSurveyCompleted)) >= 1
	})

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

// TestEventsOfAnAgentTransfer: an agent transferring a conversation to a
// colleague on another skill tells the sink one transferred event naming
// both skills and both agents, then an assigned event when the colleague
// accepts.
func TestEventsOfAnAgentTransfer(t *testing.T) {
	rec := &sink{}
	r := testrig.NewRig(t, testrig.RigOptions{Vendors: []botrelay.VendorConnector{function.Connector{}},
		Skills: []string{"billing"}, Events: rec})
	annUser := r.AddHuman("ann", "Ann-pass-1234567", "human")
	bobUser := r.AddHuman("bob", "Bob-pass-1234567", "billing")
	ann := testrig.NewAgent(t, r.URL, "1000", "ann", "Ann-pass-1234567")
	bob := testrig.NewAgent(t, r.URL, "1000", "bob", "Bob-pass-1234567")
	c := testrig.NewConsumer(t, r.URL, "1000")
	conv := c.Open("human")
	ann.AcceptRing(conv, wait)
	ann.Transfer(conv, int64(r.Skills["billing"]), bob.UserID)
	bob.AcceptRing(conv, wait)
	testrig.Eventually(t, wait, "bob's assignment", func() bool { return len(rec.find(botrelay.EventConversationAssigned)) == 2 })

	moved := rec.find(botrelay.EventConversationTransferred)
	if len(moved) != 1 {
		t.Fatalf("%d transferred events", len(moved))
	}
	var d struct {
		SkillID int64
		From    struct {
			SkillID int64
			Agent   struct{ UserID int64 }
		}
		To struct {
			SkillID int64
			Agent   struct {
				UserID    int64
				LoginName string
				Type      string
			}
		}
	}
	if err := json.Unmarshal(moved[0].Data, &d); err != nil {
		t.Fatal(err)
	}
	if d.SkillID != int64(r.Skills["billing"]) || d.From.SkillID != int64(r.Skills["human"]) || d.From.Agent.UserID != int64(annUser.ID) ||
		d.To.SkillID != int64(r.Skills["billing"]) || d.To.Agent.UserID != int64(bobUser.ID) || d.To.Agent.LoginName != "bob" ||
		d.To.Agent.Type != "HUMAN" {
		t.Fatalf("transferred data %s", moved[0].Data)
	}
	last := rec.find(botrelay.EventConversationAssigned)[1]
	if !strings.Contains(string(last.Data), `"agent":{"userId":`+strconv.FormatInt(int64(bobUser.ID), 10)+`,"loginName":"bob"`) {
		t.Fatalf("second assignment %s", last.Data)
	}
}
