package api

import (
	"encoding/json"
	"net/http"

	"github.com/botrelay/botrelay"
)

// maxSurveys caps one page of GET /api/v1/surveys.
const maxSurveys = 500

type surveyAnswerJSON struct {
	Sequence    int64           `json:"sequence"`
	Question    string          `json:"question"`
	Answer      string          `json:"answer"`
	RichContent json.RawMessage `json:"richContent,omitempty"`
	At          string          `json:"at"`
}

type surveyJSON struct {
	BotID          botrelay.BotID          `json:"botId"`
	ConversationID botrelay.ConversationID `json:"conversationId"`
	DialogID       botrelay.DialogID       `json:"dialogId"`
	ConsumerID     botrelay.ConsumerID     `json:"consumerId"`
	SkillID        botrelay.SkillID        `json:"skillId"`
	State          botrelay.SurveyState    `json:"state"`
	Answers        []surveyAnswerJSON      `json:"answers"`
	Result         json.RawMessage         `json:"result"`
	Error          string                  `json:"error,omitempty"`
	StartedAt      string                  `json:"startedAt"`
	EndedAt        *string                 `json:"endedAt"`
}

// listSurveys lists post-conversation survey runs with their answers,
// newest first, optionally of one bot or one conversation (F41). Runs of
// deleted bots are kept and listed.
func (a *API) listSurveys(w http.ResponseWriter, r *http.Request) {
	limit, err := queryLimit(r, 100, maxSurveys)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	list, err := a.o.Store.Surveys(r.Context(), botrelay.SurveyFilter{BotID: botrelay.BotID(q.Get("botId")),
		ConversationID: botrelay.ConversationID(q.Get("conversationId")), Limit: limit})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make([]surveyJSON, 0, len(list))
	for _, sv := range list {
		j := surveyJSON{BotID: sv.BotID, ConversationID: sv.ConversationID, DialogID: sv.DialogID, ConsumerID: sv.ConsumerID,
			SkillID: sv.SkillID, State: sv.State, Answers: []surveyAnswerJSON{}, Result: sv.Result, Error: sv.Error,
			StartedAt: timeString(sv.StartedAt)}
		if len(j.Result) == 0 {
			j.Result = json.RawMessage("null")
		}
		if !sv.EndedAt.IsZero() {
			t := timeString(sv.EndedAt)
			j.EndedAt = &t
		}
		for _, an := range sv.Answers {
			j.Answers = append(j.Answers, surveyAnswerJSON{Sequence: an.Sequence, Question: an.Question, Answer: an.Answer,
				RichContent: an.RichContent, At: timeString(an.At)})
		}
		out = append(out, j)
	}
	writeJSON(w, http.StatusOK, out)
}
