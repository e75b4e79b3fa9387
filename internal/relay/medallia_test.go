package relay_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/function"
	"github.com/botrelay/botrelay/connectors/medallia"
	"github.com/botrelay/botrelay/internal/testrig"
)

// surveyService is a minimal survey service on the medallia contract
// (docs/vendors/medallia.md): client credentials, one session per survey
// dialog, two questions, then done with a result.
type surveyService struct {
	mu       sync.Mutex
	sessions map[string][]string // session id → answers
	starts   []map[string]any
}

func (s *surveyService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	reply := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	if r.URL.Path == "/oauth/token" {
		id, secret, ok := r.BasicAuth()
		if !ok || id != "relay" || secret != "survey-secret" || r.FormValue("scope") != "ihub.medallia.bot" {
			reply(http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
			return
		}
		reply(http.StatusOK, map[string]any{"access_token": "tok-1", "token_type": "Bearer", "expires_in": 3600})
		return
	}
	if r.Header.Get("Authorization") != "Bearer tok-1" {
		reply(http.StatusUnauthorized, map[string]string{"error": "bad token"})
		return
	}
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/v1/health":
		reply(http.StatusOK, map[string]string{"status": "ok"})
	case r.Method == http.MethodPost && r.URL.Path == "/v1/surveys/csat/sessions":
		var start map[string]any
		_ = json.NewDecoder(r.Body).Decode(&start)
		s.starts = append(s.starts, start)
		id := "s-" + start["dialogId"].(string)
		s.sessions[id] = nil
		reply(http.StatusCreated, map[string]any{"sessionId": id, "done": false, "result": nil, "messages": []any{
			map[string]any{"type": "text", "text": "Did we solve your issue?", "quickReplies": []string{"Yes", "No"}}}})
	case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/v1/sessions/") && strings.HasSuffix(r.URL.Path, "/answers"):
		id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v1/sessions/"), "/answers")
		var a struct {
			Text string `json:"text"`
		}
		_ = json.NewDecoder(r.Body).Decode(&a)
		s.sessions[id] = append(s.sessions[id], a.Text)
		if len(s.sessions[id]) == 1 {
			reply(http.StatusOK, map[string]any{"done": false, "messages": []any{map[string]any{"type": "text", "text": "Rate us 1 to 10"}}})
			return
		}
		reply(http.StatusOK, map[string]any{"done": true, "result": map[string]any{"solved": s.sessions[id][0], "nps": s.sessions[id][1]},
			"messages": []any{map[string]any{"type": "text", "text": "Thanks for your feedback"}}})
	default:
		reply(http.StatusNotFound, map[string]string{"error": "no route"})
	}
}

// TestMedalliaSurveyEndToEnd runs a post-conversation survey through the
// hub, the connector and the medallia vendor: the agent bot closes, the
// medallia survey bot asks with quick replies, the consumer answers, the
// service ends the survey, and its result is stored with the answers.
func TestMedalliaSurveyEndToEnd(t *testing.T) {
	svc := &surveyService{sessions: map[string][]string{}}
	srv := httptest.NewServer(svc)
	t.Cleanup(srv.Close)
	r := testrig.NewRig(t, testrig.RigOptions{Vendors: []botrelay.VendorConnector{function.Connector{}, medallia.Connector{}},
		Skills: []string{"survey-skill"}})
	ctx := context.Background()
	sv := addSurveyBot(r, "medallia", testrig.BotOptions{Vendor: "medallia",
		Settings: map[string]any{"baseUrl": srv.URL, "clientId": "relay", "surveyAppId": "csat"},
		Secrets:  map[string]any{"clientSecret": "survey-secret"}}, nil)
	r.Start(sv, botrelay.BotOnline)

	c := testrig.NewConsumer(t, r.URL, "1000")
	c.Open("bot")
	c.Say("hello")
	survey := c.WaitSurvey(wait)
	c.WaitTexts(wait, "Did we solve your issue?")
	var quick json.RawMessage
	for _, e := range c.Events() {
		if e.DialogID == survey && e.Text() == "Did we solve your issue?" {
			quick = e.QuickReplies()
		}
	}
	if !strings.Contains(string(quick), `"Yes"`) || !strings.Contains(string(quick), `"No"`) {
		t.Errorf("the question's quick replies = %s", quick)
	}
	c.Say("Yes")
	c.WaitTexts(wait, "Rate us 1 to 10")
	c.Say("9")
	c.WaitTexts(wait, "Thanks for your feedback")
	testrig.Eventually(t, wait, "the conversation to close", func() bool {
		return r.Conversation(c.ConvID).State == botrelay.ConversationClose
	})
	var got *botrelay.Survey
	testrig.Eventually(t, wait, "the survey stored as completed", func() bool {
		s, err := r.Store.Survey(ctx, botrelay.DialogID(survey))
		got = s
		return err == nil && s.State == botrelay.SurveyCompleted
	})
	if len(got.Answers) != 2 || got.Answers[0].Question != "Did we solve your issue?" || got.Answers[0].Answer != "Yes" ||
		got.Answers[1].Question != "Rate us 1 to 10" || got.Answers[1].Answer != "9" || string(got.Result) != `{"nps":"9","solved":"Yes"}` {
		t.Fatalf("survey = %+v (result %s)", got, got.Result)
	}
	svc.mu.Lock()
	defer svc.mu.Unlock()
	if len(svc.starts) != 1 || svc.starts[0]["conversationId"] != c.ConvID || svc.starts[0]["dialogId"] != survey {
		t.Errorf("session starts = %v", svc.starts)
	}
}
