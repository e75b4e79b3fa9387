package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/botrelay/botrelay"
)

const surveyColumns = `dialog_id, bot_id, conversation_id, consumer_id, skill_id, state, answers, result, error, started_at, ended_at`

func scanSurvey(row interface{ Scan(...any) error }) (*botrelay.Survey, error) {
	sv := &botrelay.Survey{}
	var answers, result string
	var started, ended int64
	if err := row.Scan(&sv.DialogID, &sv.BotID, &sv.ConversationID, &sv.ConsumerID, &sv.SkillID, &sv.State,
		&answers, &result, &sv.Error, &started, &ended); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(answers), &sv.Answers); err != nil {
		return nil, fmt.Errorf("survey %s: stored answers are not JSON: %w", sv.DialogID, err)
	}
	if sv.Answers == nil {
		sv.Answers = []botrelay.SurveyAnswer{}
	}
	if result != "" {
		sv.Result = json.RawMessage(result)
	}
	sv.StartedAt, sv.EndedAt = fromMillis(started), fromMillis(ended)
	return sv, nil
}

// SaveSurvey implements botrelay.SurveyStore.
func (s *Store) SaveSurvey(ctx context.Context, sv *botrelay.Survey) error {
	if sv.DialogID == "" || sv.BotID == "" || sv.ConversationID == "" {
		return botrelay.Errorf(botrelay.EINVALID, "a survey needs a dialog, a bot and a conversation")
	}
	switch sv.State {
	case botrelay.SurveyOpen, botrelay.SurveyCompleted, botrelay.SurveyFailed, botrelay.SurveyAbandoned:
	default:
		return botrelay.Errorf(botrelay.EINVALID, "survey state %q is not OPEN, COMPLETED, ERROR or ABANDONED", sv.State)
	}
	if len(sv.Result) > 0 && !json.Valid(sv.Result) {
		return botrelay.Errorf(botrelay.EINVALID, "survey result must be JSON")
	}
	if sv.StartedAt.IsZero() {
		sv.StartedAt = s.nowTime()
	}
	if sv.Answers == nil {
		sv.Answers = []botrelay.SurveyAnswer{}
	}
	answers, err := json.Marshal(sv.Answers)
	if err != nil {
		return fmt.Errorf("encode survey answers: %w", err)
	}
	result := strings.TrimSpace(string(sv.Result))
	if result == "null" {
		result = ""
	}
	_, err = s.pool().exec(ctx, `INSERT INTO surveys (`+surveyColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (dialog_id) DO UPDATE SET
			state = excluded.state, answers = excluded.answers, result = excluded.result,
			error = excluded.error, ended_at = excluded.ended_at`,
		string(sv.DialogID), string(sv.BotID), string(sv.ConversationID), string(sv.ConsumerID), int64(sv.SkillID),
		string(sv.State), string(answers), result, sv.Error, millis(sv.StartedAt), millis(sv.EndedAt))
	return normalize(err, "save survey", "", "", "")
}

// Survey implements botrelay.SurveyStore.
func (s *Store) Survey(ctx context.Context, dialog botrelay.DialogID) (*botrelay.Survey, error) {
	sv, err := scanSurvey(s.pool().queryRow(ctx, `SELECT `+surveyColumns+` FROM surveys WHERE dialog_id = $1`, string(dialog)))
	return sv, normalize(err, "get survey", fmt.Sprintf("survey of dialog %s not found", dialog), "", "")
}

// Surveys implements botrelay.SurveyStore.
func (s *Store) Surveys(ctx context.Context, f botrelay.SurveyFilter) ([]*botrelay.Survey, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	var where []string
	var args []any
	if f.BotID != "" {
		args = append(args, string(f.BotID))
		where = append(where, fmt.Sprintf("bot_id = $%d", len(args)))
	}
	if f.ConversationID != "" {
		args = append(args, string(f.ConversationID))
		where = append(where, fmt.Sprintf("conversation_id = $%d", len(args)))
	}
	q := `SELECT ` + surveyColumns + ` FROM surveys`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	args = append(args, limit)
	q += fmt.Sprintf(` ORDER BY seq DESC LIMIT $%d`, len(args))
	rows, err := s.pool().query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list surveys: %w", err)
	}
	defer rows.Close()
	out := []*botrelay.Survey{}
	for rows.Next() {
		sv, err := scanSurvey(rows)
		if err != nil {
			return nil, fmt.Errorf("scan survey: %w", err)
		}
		out = append(out, sv)
	}
	return out, rows.Err()
}
