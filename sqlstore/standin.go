package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/botrelay/botrelay"
)

var _ botrelay.StandInStore = (*Store)(nil)

// SetOutcome implements botrelay.StandInStore.
func (s *Store) SetOutcome(ctx context.Context, bot botrelay.BotID, conv botrelay.ConversationID, skill botrelay.SkillID, o botrelay.Outcome) error {
	now := millis(s.nowTime())
	fn, pg := execWrite(`INSERT INTO bot_outcomes (bot_id, conversation_id, skill_id, outcome, updated_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (bot_id, conversation_id) DO UPDATE SET
			skill_id = excluded.skill_id, outcome = excluded.outcome, updated_at = excluded.updated_at`,
		[]any{string(bot), string(conv), int64(skill), string(o), now},
		func(err error) error {
			return normalize(err, "set bot outcome", "", "", fmt.Sprintf("bot %s not found", bot))
		})
	return s.batchedWrite(ctx, fn, pg)
}

// SplitFigures implements botrelay.StandInStore.
func (s *Store) SplitFigures(ctx context.Context, skill botrelay.SkillID) ([]*botrelay.SplitFigures, error) {
	rows, err := s.pool().query(ctx, `SELECT bot_id, outcome, COUNT(*) FROM bot_outcomes
		WHERE skill_id = $1 GROUP BY bot_id, outcome ORDER BY bot_id, outcome`, int64(skill))
	if err != nil {
		return nil, fmt.Errorf("count bot outcomes: %w", err)
	}
	defer rows.Close()
	var out []*botrelay.SplitFigures
	for rows.Next() {
		var bot, outcome string
		var n int
		if err := rows.Scan(&bot, &outcome, &n); err != nil {
			return nil, fmt.Errorf("scan bot outcomes: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].BotID != botrelay.BotID(bot) {
			out = append(out, &botrelay.SplitFigures{BotID: botrelay.BotID(bot)})
		}
		f := out[len(out)-1]
		f.Assigned += n
		switch botrelay.Outcome(outcome) {
		case botrelay.OutcomeOpen:
			f.Open += n
		case botrelay.OutcomeClosed:
			f.Closed += n
		case botrelay.OutcomeTransferred:
			f.Transferred += n
		case botrelay.OutcomeEscalated:
			f.Escalated += n
		case botrelay.OutcomeHandedBack:
			f.HandedBack += n
		}
	}
	return out, rows.Err()
}

// SaveFallbackState implements botrelay.StandInStore.
func (s *Store) SaveFallbackState(ctx context.Context, bot botrelay.BotID, conv botrelay.ConversationID, state json.RawMessage) error {
	if state == nil {
		_, err := s.pool().exec(ctx, `DELETE FROM bot_fallback_states WHERE bot_id = $1 AND conversation_id = $2`, string(bot), string(conv))
		return normalize(err, "delete fallback state", "", "", "")
	}
	_, err := s.pool().exec(ctx, `INSERT INTO bot_fallback_states (bot_id, conversation_id, state, updated_at)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (bot_id, conversation_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at`,
		string(bot), string(conv), string(state), millis(s.nowTime()))
	return normalize(err, "save fallback state", "", "", fmt.Sprintf("bot %s not found", bot))
}

// FallbackState implements botrelay.StandInStore.
func (s *Store) FallbackState(ctx context.Context, bot botrelay.BotID, conv botrelay.ConversationID) (json.RawMessage, error) {
	var state string
	err := s.pool().queryRow(ctx, `SELECT state FROM bot_fallback_states WHERE bot_id = $1 AND conversation_id = $2`,
		string(bot), string(conv)).Scan(&state)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		return nil, fmt.Errorf("get fallback state: %w", err)
	}
	return json.RawMessage(state), nil
}
