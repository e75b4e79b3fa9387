package botrelay

import (
	"context"
	"encoding/json"
	"time"
)

// SurveyState is where a post-conversation survey run stands (F41).
type SurveyState string

const (
	// SurveyOpen: the survey bot is asking.
	SurveyOpen SurveyState = "OPEN"
	// SurveyCompleted: the survey bot closed the survey dialog.
	SurveyCompleted SurveyState = "COMPLETED"
	// SurveyFailed: an error ended the survey; the bot sent its error
	// message and closed the dialog (F41).
	SurveyFailed SurveyState = "ERROR"
	// SurveyAbandoned: the survey dialog ended without the bot closing it
	// (the conversation was closed or taken away meanwhile).
	SurveyAbandoned SurveyState = "ABANDONED"
)

// Survey is one run of a post-conversation survey by a survey bot: the
// questions the bot asked and what the consumer answered, in order, and
// the result the vendor gave when it finished. It is kept after the bot is
// deleted: answers are the operator's data.
type Survey struct {
	BotID          BotID          `json:"botId"`
	ConversationID ConversationID `json:"conversationId"`
	// DialogID is the survey dialog; one survey per dialog.
	DialogID   DialogID    `json:"dialogId"`
	ConsumerID ConsumerID  `json:"consumerId"`
	SkillID    SkillID     `json:"skillId"`
	State      SurveyState `json:"state"`
	// Answers are the consumer's messages in the survey dialog, each with
	// the bot's last text before it as the question.
	Answers []SurveyAnswer `json:"answers"`
	// Result is the vendor's own summary, when its close action carried
	// one (Action.Payload); null otherwise.
	Result json.RawMessage `json:"result,omitempty"`
	// Error is what ended a failed survey.
	Error     string    `json:"error,omitempty"`
	StartedAt time.Time `json:"startedAt"`
	// EndedAt is zero while the survey is open.
	EndedAt time.Time `json:"endedAt,omitzero"`
}

// SurveyAnswer is one consumer answer of a survey.
type SurveyAnswer struct {
	// Sequence is the consumer message's sequence in the survey dialog;
	// an answer is recorded once per sequence.
	Sequence int64  `json:"sequence"`
	Question string `json:"question"`
	Answer   string `json:"answer"`
	// RichContent is set when the consumer answered with rich content
	// (a button, a form) instead of text.
	RichContent json.RawMessage `json:"richContent,omitempty"`
	At          time.Time       `json:"at"`
}

// AddAnswer appends a to s unless an answer with its sequence is there
// already (a restart replays the messages after the last one handled).
func (s *Survey) AddAnswer(a SurveyAnswer) bool {
	for _, have := range s.Answers {
		if have.Sequence == a.Sequence {
			return false
		}
	}
	s.Answers = append(s.Answers, a)
	return true
}

// SurveyFilter selects surveys; empty fields match all.
type SurveyFilter struct {
	BotID          BotID
	ConversationID ConversationID
	// Limit caps the result, newest first; 0 means 100.
	Limit int
}

// SurveyStore keeps survey runs and their answers.
type SurveyStore interface {
	// SaveSurvey inserts or replaces the survey of s.DialogID.
	SaveSurvey(ctx context.Context, s *Survey) error
	// Survey returns the survey of a dialog, or ENOTFOUND.
	Survey(ctx context.Context, dialog DialogID) (*Survey, error)
	// Surveys lists surveys newest first.
	Surveys(ctx context.Context, f SurveyFilter) ([]*Survey, error)
}
