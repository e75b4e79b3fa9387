package webhook_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/botrelay/botrelay/internal/testrig"
)

// closerCode is the agent bot's function: it answers once and closes the
// conversation, which opens the skill's post-conversation survey.
const closerCode = `function lambda(input, callback) {
  callback(null, { messages: ["Bye from the agent bot"], context: { action: "CLOSE_CONVERSATION" } });
}`

// raterCode is the survey bot's function: two questions, then it closes
// the survey with a result.
const raterCode = `function lambda(input, callback) {
  var p = input.payload, s = p.context.session;
  if (p.event && p.event.name === "SURVEY") { return callback(null, { messages: ["How would you rate us, 1 to 5?"] }); }
  if (!s.rating) {
    s.rating = p.message;
    return callback(null, { messages: ["Anything we could do better?"] });
  }
  callback(null, { messages: ["Thank you, goodbye"], context: { action: "CLOSE_CONVERSATION",
    actionParameters: { result: { rating: Number(s.rating), comment: p.message } } } });
}`

// surveyCompleted is the data of survey.completed as docs/webhooks.md
// documents it.
type surveyCompleted struct {
	ConversationID string      `json:"conversationId"`
	DialogID       string      `json:"dialogId"`
	ConsumerID     string      `json:"consumerId"`
	SkillID        json.Number `json:"skillId"`
	BotID          string      `json:"botId"`
	Answers        []struct {
		Sequence    int64           `json:"sequence"`
		Question    string          `json:"question"`
		Answer      string          `json:"answer"`
		RichContent json.RawMessage `json:"richContent"`
		At          time.Time       `json:"at"`
	} `json:"answers"`
	Result    json.RawMessage `json:"result"`
	StartedAt time.Time       `json:"startedAt"`
}

// addFunctionBot creates a bot user and a function bot of typ with
// settings, starts it and returns its id.
func addFunctionBot(t *testing.T, api *testrig.API, name, typ string, skillIDs []json.Number, settings map[string]any) string {
	t.Helper()
	var user struct {
		User struct {
			ID json.Number `json:"id"`
		} `json:"user"`
	}
	api.Do(http.MethodPost, "/api/v1/users", map[string]any{"type": "BOT", "loginName": name, "profileId": api.ID("/api/v1/profiles", "Agent"),
		"messagingSlots": 10, "skillIds": skillIDs}, http.StatusCreated, &user)
	var bot struct {
		ID string `json:"id"`
	}
	api.Do(http.MethodPost, "/api/v1/bots", map[string]any{"name": name, "vendor": "function", "type": typ, "userId": user.User.ID,
		"settings": settings}, http.StatusCreated, &bot)
	api.Do(http.MethodPost, "/api/v1/bots/"+bot.ID+"/start", nil, http.StatusAccepted, nil)
	return bot.ID
}

// TestSurveyCompletedWebhookAcrossRestart is acceptance point 2 of issue
// 19 for surveys: a conversation on a skill with a post-conversation survey
// is closed by its agent bot, the survey bot asks, and the consumer answers
// while the receiver is down; the server restarts on the same data, and the
// receiver, back up, gets survey.completed once, verified, with the
// conversation, the survey bot, the answers and the result. A second
// survey, asked before the restart and answered after it, completes once
// with its own key.
func TestSurveyCompletedWebhookAcrossRestart(t *testing.T) {
	dir, database := t.TempDir(), testDatabase(t)
	srv := startServer(t, dir, database)
	api := testrig.LoginAPI(t, srv.base, "admin", adminPassword)
	rcv := testrig.NewWebhookReceiver(t)
	var hook hookJSON
	api.Do(http.MethodPost, "/api/v1/webhooks", map[string]any{"url": rcv.URL}, http.StatusCreated, &hook)
	rcv.SetSecrets(hook.Secret)

	var skill struct {
		ID json.Number `json:"id"`
	}
	api.Do(http.MethodPost, "/api/v1/skills", map[string]any{"name": "rate", "postSurvey": true}, http.StatusCreated, &skill)
	closerID := addFunctionBot(t, api, "closer", "AGENT", []json.Number{skill.ID}, map[string]any{
		"vendor": map[string]any{"code": closerCode}, "errorHandling": map[string]any{"escalationSkill": "human"}})
	raterID := addFunctionBot(t, api, "rater", "SURVEY", []json.Number{}, map[string]any{
		"vendor": map[string]any{"code": raterCode}, "errorHandling": map[string]any{"escalationSkill": "human"},
		"survey": map[string]any{"skills": []string{"rate"}}})
	for _, id := range []string{closerID, raterID} {
		rcv.WaitFor(20*time.Second, "bot "+id+" online", kindOf("bot.state_changed", func(h *testrig.Hook) bool {
			var d struct{ BotID, State string }
			return json.Unmarshal(h.Data, &d) == nil && d.BotID == id && d.State == "ONLINE"
		}))
	}

	c := testrig.NewConsumer(t, srv.base, "1000")
	conv := c.Open("rate")
	c.Say("hi")
	c.WaitTexts(20*time.Second, "Bye from the agent bot")
	survey := c.WaitSurvey(20 * time.Second)
	c.WaitTexts(20*time.Second, "How would you rate us, 1 to 5?")
	rcv.WaitFor(10*time.Second, "assigned to the survey bot", kindOf("conversation.assigned", dataHas(`"type":"BOT","botId":"`+raterID+`"`)))
	// A second consumer's survey is asked now and answered after the
	// restart.
	c2 := testrig.NewConsumer(t, srv.base, "1000")
	conv2 := c2.Open("rate")
	c2.Say("hi")
	survey2 := c2.WaitSurvey(20 * time.Second)
	c2.WaitTexts(20*time.Second, "How would you rate us, 1 to 5?")

	// The receiver goes down; the consumer answers the survey meanwhile.
	rcv.SetDown(true)
	c.Say("4")
	c.WaitTexts(20*time.Second, "Anything we could do better?")
	c.Say("faster please")
	c.WaitTexts(20*time.Second, "Thank you, goodbye")
	path := fmt.Sprintf("/api/v1/webhooks/%d/deliveries", hook.ID)
	testrig.Eventually(t, 10*time.Second, "survey.completed refused twice with 503", func() bool {
		var ds []deliveryJSON
		api.Do(http.MethodGet, path+"?state=PENDING", nil, http.StatusOK, &ds)
		for _, d := range ds {
			if d.Type == "survey.completed" && d.LastStatus == http.StatusServiceUnavailable && d.Attempts >= 2 {
				return true
			}
		}
		return false
	})
	rcv.Close() // now nothing listens at all

	// Restart the server on the same data; the receiver comes back after.
	srv.stop()
	srv = startServer(t, dir, database)
	api = testrig.LoginAPI(t, srv.base, "admin", adminPassword)
	rcv.SetDown(false)
	rcv.Reopen()
	done := rcv.WaitFor(20*time.Second, "survey.completed after the restart", kindOf("survey.completed", nil))
	if done.ID != survey+":survey-completed" || done.AccountID != "1000" || done.Attempt < 3 {
		t.Errorf("survey.completed id %q, account %q, attempt %d; want %s:survey-completed on 1000 after the 503s and the closed port",
			done.ID, done.AccountID, done.Attempt, survey)
	}
	var d surveyCompleted
	if err := json.Unmarshal(done.Data, &d); err != nil {
		t.Fatalf("survey.completed data %s: %v", done.Data, err)
	}
	if d.ConversationID != conv || d.DialogID != survey || d.ConsumerID != c.ID || d.SkillID != skill.ID || d.BotID != raterID {
		t.Errorf("survey.completed names conversation %q dialog %q consumer %q skill %q bot %q; want %q %q %q %q %q",
			d.ConversationID, d.DialogID, d.ConsumerID, d.SkillID, d.BotID, conv, survey, c.ID, skill.ID, raterID)
	}
	type qa struct{ Question, Answer string }
	want := []qa{{"How would you rate us, 1 to 5?", "4"}, {"Anything we could do better?", "faster please"}}
	var got []qa
	for i, a := range d.Answers {
		got = append(got, qa{a.Question, a.Answer})
		if a.RichContent != nil || a.At.Before(d.StartedAt) || a.At.After(done.CreatedAt) || a.Sequence <= 0 ||
			(i > 0 && (a.Sequence <= d.Answers[i-1].Sequence || a.At.Before(d.Answers[i-1].At))) {
			t.Errorf("answer %d: sequence %d at %v (survey started %v, completed %v), rich content %s",
				i, a.Sequence, a.At, d.StartedAt, done.CreatedAt, a.RichContent)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("answers %v; want %v", got, want)
	}
	if !testrig.Equal(d.Result, []byte(`{"rating":4,"comment":"faster please"}`)) {
		t.Errorf("result %s", d.Result)
	}
	if d.StartedAt.IsZero() || d.StartedAt.After(done.CreatedAt) {
		t.Errorf("startedAt %v, completed %v", d.StartedAt, done.CreatedAt)
	}
	rcv.WaitFor(10*time.Second, "the conversation closed", kindOf("conversation.closed", dataHas(`"conversationId":"`+conv+`"`)))

	// The second survey, asked before the restart, is answered after it
	// and gets its own key.
	c2 = testrig.ResumeConsumer(t, srv.base, "1000", c2.Token, c2.ID, conv2)
	if again := c2.WaitSurvey(20 * time.Second); again != survey2 {
		t.Fatalf("survey dialog %s after the restart; was %s", again, survey2)
	}
	c2.WaitTexts(20*time.Second, "How would you rate us, 1 to 5?")
	c2.Say("5")
	c2.WaitTexts(20*time.Second, "Anything we could do better?")
	c2.Say("nothing")
	done2 := rcv.WaitFor(20*time.Second, "the second survey.completed", kindOf("survey.completed", dataHas(`"dialogId":"`+survey2+`"`)))
	if done2.ID != survey2+":survey-completed" || !strings.Contains(string(done2.Data), `"result":{"rating":5,"comment":"nothing"}`) {
		t.Errorf("second survey.completed %s: %s", done2.ID, done2.Data)
	}

	// Once the log settles, every idempotency key arrived once and
	// verified: one survey.completed per survey.
	accepted, seen := settled(t, api, rcv, path)
	completed := 0
	for _, h := range accepted {
		if len(h.Matched) != 1 {
			t.Errorf("delivery %s verified with %v", h.ID, h.Matched)
		}
		if h.Type == "survey.completed" {
			completed++
		}
	}
	if completed != 2 {
		t.Errorf("%d survey.completed deliveries; want one per survey", completed)
	}
	if bad, _ := rcv.Rejected(); bad != 0 {
		t.Errorf("%d deliveries failed verification", bad)
	}
	t.Logf("%d events delivered once each", len(seen))
}
