package api

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/function"
	"github.com/botrelay/botrelay/internal/testrig"
)

// TestSurveyAnswersThroughTheAPI (F41, issue 6 acceptance 4): with an agent
// bot and a survey bot set up and started through the API, closing the
// conversation on a skill with a survey opens the survey dialog; the survey
// bot asks, the consumer answers, the dialog closes, and GET
// /api/v1/surveys shows the answers.
func TestSurveyAnswersThroughTheAPI(t *testing.T) {
	e := newEnv(t, function.Connector{})
	skill := e.rig.Skills["bot"]
	e.admin(http.MethodPut, fmt.Sprintf("/api/v1/skills/%d", skill), map[string]any{"name": "bot", "postSurvey": true}, http.StatusOK)

	create := func(typ, code string, survey map[string]any) botJSON {
		var b botJSON
		e.admin(http.MethodPost, "/api/v1/bots", map[string]any{"name": e.unique(typ), "type": typ, "vendor": "function",
			"userId": e.newBotUser(), "settings": map[string]any{"vendor": map[string]any{"code": code},
				"errorHandling": map[string]any{"escalationSkill": "human"}, "survey": survey}}, http.StatusCreated).decode(t, &b)
		e.admin(http.MethodPost, "/api/v1/bots/"+string(b.ID)+"/start", nil, http.StatusAccepted)
		e.rig.WaitState(&botrelay.Bot{ID: b.ID}, botrelay.BotOnline, 15*time.Second)
		return b
	}
	create("AGENT", `function lambda(input, cb) { cb(null, {messages: ["closing now"], context: {action: "CLOSE_CONVERSATION"}}); }`, nil)
	sv := create("SURVEY", `function lambda(input, cb) {
  var p = input.payload;
  if (p.event && p.event.name === "SURVEY") { cb(null, {messages: ["Rate us from 1 to 5"]}); return; }
  cb(null, {messages: ["Thanks!"], context: {action: "CLOSE_CONVERSATION", actionParameters: {result: {score: Number(p.message)}}}});
}`, map[string]any{"skills": []string{"bot"}})

	c := testrig.NewConsumer(t, e.rig.URL, string(testrig.Account))
	c.Open("bot")
	c.Say("hi")
	c.WaitTexts(15*time.Second, "closing now")
	c.WaitSurvey(15 * time.Second)
	c.WaitTexts(15*time.Second, "Rate us from 1 to 5")
	c.Say("4")
	c.WaitTexts(15*time.Second, "Thanks!")

	var list []surveyJSON
	testrig.Eventually(t, 15*time.Second, "a completed survey in GET /api/v1/surveys", func() bool {
		e.admin(http.MethodGet, "/api/v1/surveys?conversationId="+c.ConvID, nil, http.StatusOK).decode(t, &list)
		return len(list) == 1 && list[0].State == botrelay.SurveyCompleted
	})
	got := list[0]
	if got.BotID != sv.ID || len(got.Answers) != 1 || got.Answers[0].Question != "Rate us from 1 to 5" ||
		got.Answers[0].Answer != "4" || string(got.Result) != `{"score":4}` || got.EndedAt == nil {
		t.Fatalf("survey = %+v", got)
	}
	if r := e.do(nil, http.MethodGet, "/api/v1/surveys?limit=0", e.tokens["Agent"], nil); r.status != http.StatusBadRequest {
		t.Errorf("limit=0: %d", r.status)
	}
}
