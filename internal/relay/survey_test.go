package relay_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/testrig"
)

// surveyBot asks two questions and closes the survey with a result; the
// answer "fail" makes it throw.
const surveyBot = `function lambda(input, cb) {
  var p = input.payload, s = p.context.session;
  if (p.event && p.event.name === "SURVEY") {
    cb(null, {messages: ["How would you rate us, 1 to 5?"]});
    return;
  }
  if (p.message === "fail") { throw new Error("survey backend down"); }
  if (!s.rating) {
    s.rating = p.message;
    cb(null, {messages: ["Anything we could do better?"]});
    return;
  }
  cb(null, {messages: ["Thank you, goodbye"], context: {action: "CLOSE_CONVERSATION",
    actionParameters: {result: {rating: Number(s.rating), comment: p.message}}}});
}`

// closerBot answers once and closes the main dialog, so that the survey
// can run (withoutPcs false).
const closerBot = `function lambda(input, cb) {
  cb(null, {messages: ["bye from the agent bot"], context: {action: "CLOSE_CONVERSATION"}});
}`

func surveyRig(t *testing.T, start bool) (*testrig.Rig, *botrelay.Bot) {
	r := newRig(t)
	sv := addSurveyBot(r, "survey", testrig.BotOptions{Vendor: "function", Settings: map[string]any{"code": surveyBot, "timeoutMs": 2000}},
		func(b *botrelay.Bot) { b.Settings.Survey.ErrorMessage = "Survey failed, sorry. Goodbye" })
	if start {
		r.Start(sv, botrelay.BotOnline)
	}
	return r, sv
}

// addSurveyBot gives skill bot a post-conversation survey, starts an agent
// bot on it that closes at once, and adds (not starts) a survey bot of the
// skill with o.
func addSurveyBot(r *testrig.Rig, name string, o testrig.BotOptions, edit func(*botrelay.Bot)) *botrelay.Bot {
	t := r.T
	t.Helper()
	ctx := context.Background()
	sk, err := r.Store.Skill(ctx, r.Skills["bot"])
	if err != nil {
		t.Fatal(err)
	}
	sk.PostSurvey = true
	if err := r.Store.UpdateSkill(ctx, sk); err != nil {
		t.Fatal(err)
	}
	r.Start(fnBot(r, "agent", closerBot, nil), botrelay.BotOnline)
	o.Skills = []string{"survey-skill"}
	o.Edit = func(b *botrelay.Bot) {
		b.Type = botrelay.BotSurvey
		b.Settings.Survey.Skills = []string{"bot"}
		if edit != nil {
			edit(b)
		}
	}
	return r.AddBot(name, o)
}

// TestF41_SurveyBot: closing a conversation on a skill with a survey opens
// the survey dialog; the survey bot asks, the consumer answers, the bot
// closes the dialog, and the answers and result are stored.
func TestF41_SurveyBot(t *testing.T) {
	r, sv := surveyRig(t, true)
	c := testrig.NewConsumer(t, r.URL, "1000")
	c.Open("bot")
	c.Say("hello")
	c.WaitTexts(wait, "bye from the agent bot")

	survey := c.WaitSurvey(wait)
	c.WaitTexts(wait, "How would you rate us, 1 to 5?")
	conv := r.Conversation(c.ConvID)
	if conv.State != botrelay.ConversationOpen || conv.AssignedAgent() == 0 || conv.OpenDialog().ID != botrelay.DialogID(survey) {
		t.Fatalf("during the survey: state %s, open dialog %+v, agent %d", conv.State, conv.OpenDialog(), conv.AssignedAgent())
	}
	c.Say("5")
	c.WaitTexts(wait, "Anything we could do better?")
	c.Say("nothing, all good")
	c.WaitTexts(wait, "Thank you, goodbye")
	testrig.Eventually(t, wait, "the conversation to close", func() bool {
		return r.Conversation(c.ConvID).State == botrelay.ConversationClose
	})

	var got *botrelay.Survey
	testrig.Eventually(t, wait, "the survey to be recorded as completed", func() bool {
		s, err := r.Store.Survey(context.Background(), botrelay.DialogID(survey))
		got = s
		return err == nil && s.State == botrelay.SurveyCompleted
	})
	if got.BotID != sv.ID || got.ConversationID != botrelay.ConversationID(c.ConvID) || got.SkillID != r.Skills["bot"] ||
		len(got.Answers) != 2 || got.EndedAt.IsZero() {
		t.Fatalf("survey = %+v", got)
	}
	if a := got.Answers[0]; a.Question != "How would you rate us, 1 to 5?" || a.Answer != "5" {
		t.Errorf("first answer = %+v", a)
	}
	if a := got.Answers[1]; a.Question != "Anything we could do better?" || a.Answer != "nothing, all good" {
		t.Errorf("second answer = %+v", a)
	}
	var result map[string]any
	if err := json.Unmarshal(got.Result, &result); err != nil || result["rating"] != float64(5) || result["comment"] != "nothing, all good" {
		t.Errorf("result = %s", got.Result)
	}
	// The agent bot never saw the survey's messages.
	for _, e := range c.Events() {
		if e.DialogID == survey && e.FromAgent() && e.Text() == "bye from the agent bot" {
			t.Error("the agent bot spoke in the survey dialog")
		}
	}
}

// TestF41_SurveyErrorEndsTheSurvey: an error sends the Error Message, closes
// the survey and is logged; the run is stored as failed.
func TestF41_SurveyErrorEndsTheSurvey(t *testing.T) {
	r, sv := surveyRig(t, true)
	c := testrig.NewConsumer(t, r.URL, "1000")
	c.Open("bot")
	c.Say("hello")
	survey := c.WaitSurvey(wait)
	c.WaitTexts(wait, "How would you rate us, 1 to 5?")
	c.Say("fail")
	c.WaitTexts(wait, "Survey failed, sorry. Goodbye")
	testrig.Eventually(t, wait, "the conversation to close", func() bool {
		return r.Conversation(c.ConvID).State == botrelay.ConversationClose
	})
	testrig.Eventually(t, wait, "the survey to be recorded as failed", func() bool {
		s, err := r.Store.Survey(context.Background(), botrelay.DialogID(survey))
		return err == nil && s.State == botrelay.SurveyFailed && s.Error != "" && len(s.Answers) == 1
	})
	errs, err := r.Store.BotErrors(context.Background(), sv.ID, botrelay.ConversationID(c.ConvID), 0)
	if err != nil || len(errs) == 0 {
		t.Fatalf("the survey error was not logged: %v %v", errs, err)
	}
}

// TestF41_NoSurveyBotClosesOutright: without a survey bot of the skill the
// conversation closes instead of waiting in a survey nobody runs.
func TestF41_NoSurveyBotClosesOutright(t *testing.T) {
	r, _ := surveyRig(t, false)
	c := testrig.NewConsumer(t, r.URL, "1000")
	c.Open("bot")
	c.Say("hello")
	c.WaitTexts(wait, "bye from the agent bot")
	testrig.Eventually(t, wait, "the conversation to close", func() bool {
		return r.Conversation(c.ConvID).State == botrelay.ConversationClose
	})
	if d := r.Conversation(c.ConvID).Dialogs; len(d) != 1 {
		t.Fatalf("dialogs = %+v, want only the main dialog", d)
	}
}

// TestF41_CustomEndpointSurvey runs a survey with a Custom Endpoint survey
// bot: START with data.survey, the answer as TEXT, then CLOSE_CONVERSATION
// with parameters.result.
func TestF41_CustomEndpointSurvey(t *testing.T) {
	var mu sync.Mutex
	var events []map[string]any
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/bots/{bot}/environments/{env}/state", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"state":"online"}`))
	})
	mux.HandleFunc("PUT /v1/bots/{bot}/environments/{env}/conversations/{conv}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("POST /v1/bots/{bot}/environments/{env}/conversations/{conv}/events", func(w http.ResponseWriter, r *http.Request) {
		var ev map[string]any
		_ = json.NewDecoder(r.Body).Decode(&ev)
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if ev["type"] == "START" {
			_, _ = w.Write([]byte(`{"response":[{"type":"TEXT","data":{"message":"How likely are you to recommend us?"}}]}`))
			return
		}
		_, _ = w.Write([]byte(`{"response":[{"type":"TEXT","data":{"message":"Thank you!"}},
			{"type":"ACTION","data":{"name":"CLOSE_CONVERSATION","parameters":{"result":{"nps":10}}}}]}`))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	r := newRig(t)
	ctx := context.Background()
	sv := addSurveyBot(r, "ce-survey", testrig.BotOptions{Vendor: "custom_endpoint", Settings: map[string]any{"baseUrl": srv.URL, "botId": "b1"}}, nil)
	r.Start(sv, botrelay.BotOnline)

	c := testrig.NewConsumer(t, r.URL, "1000")
	c.Open("bot")
	c.Say("hello")
	survey := c.WaitSurvey(wait)
	c.WaitTexts(wait, "How likely are you to recommend us?")
	c.Say("10")
	c.WaitTexts(wait, "Thank you!")
	testrig.Eventually(t, wait, "the survey stored as completed", func() bool {
		s, err := r.Store.Survey(ctx, botrelay.DialogID(survey))
		return err == nil && s.State == botrelay.SurveyCompleted && len(s.Answers) == 1 && s.Answers[0].Answer == "10" &&
			string(s.Result) == `{"nps":10}`
	})
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 2 || events[0]["type"] != "START" || get(events[0], "data", "survey") != true ||
		get(events[0], "context", "lpEvent", "dialogType") != "POST_SURVEY" || events[1]["type"] != "TEXT" {
		t.Fatalf("events = %v", events)
	}
}

// get walks nested JSON objects.
func get(v any, path ...string) any {
	for _, k := range path {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	return v
}
