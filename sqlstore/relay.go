package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/fence"
	"github.com/botrelay/botrelay/internal/uuid"
)

const botConvColumns = `bot_id, conversation_id, dialog_id, consumer_id, skill_id, open, vendor_state, last_sequence,
	outbox, welcomed, escalations, created_at, updated_at`

func scanBotConversation(row interface{ Scan(...any) error }) (*botrelay.BotConversation, error) {
	c := &botrelay.BotConversation{}
	var vendorState, outbox string
	var created, updated int64
	if err := row.Scan(&c.BotID, &c.ConversationID, &c.DialogID, &c.ConsumerID, &c.SkillID, &c.Open, &vendorState,
		&c.LastSequence, &outbox, &c.Welcomed, &c.Escalations, &created, &updated); err != nil {
		return nil, err
	}
	if vendorState != "" {
		c.VendorState = []byte(vendorState)
	}
	if outbox != "" {
		c.Outbox = []byte(outbox)
	}
	c.CreatedAt, c.UpdatedAt = fromMillis(created), fromMillis(updated)
	return c, nil
}

// SaveBotConversation implements botrelay.RelayStore.
func (s *Store) SaveBotConversation(ctx context.Context, c *botrelay.BotConversation) error {
	now := s.nowTime()
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now
	}
	c.UpdatedAt = now
	fn, pg := execWrite(`INSERT INTO bot_conversations (`+botConvColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
		ON CONFLICT (bot_id, conversation_id) DO UPDATE SET
			dialog_id = excluded.dialog_id, consumer_id = excluded.consumer_id, skill_id = excluded.skill_id,
			open = excluded.open, vendor_state = excluded.vendor_state, last_sequence = excluded.last_sequence,
			outbox = excluded.outbox, welcomed = excluded.welcomed, escalations = excluded.escalations,
			updated_at = excluded.updated_at`,
		[]any{string(c.BotID), string(c.ConversationID), string(c.DialogID), string(c.ConsumerID), int64(c.SkillID), c.Open,
			string(c.VendorState), c.LastSequence, string(c.Outbox), c.Welcomed, c.Escalations, millis(c.CreatedAt), millis(now)},
		func(err error) error {
			return normalize(err, "save bot conversation", "", "", fmt.Sprintf("bot %s not found", c.BotID))
		})
	return s.batchedWrite(ctx, fn, pg)
}

// BotConversation implements botrelay.RelayStore.
func (s *Store) BotConversation(ctx context.Context, bot botrelay.BotID, conv botrelay.ConversationID) (*botrelay.BotConversation, error) {
	c, err := scanBotConversation(s.pool().queryRow(ctx, `SELECT `+botConvColumns+` FROM bot_conversations
		WHERE bot_id = $1 AND conversation_id = $2`, string(bot), string(conv)))
	return c, normalize(err, "get bot conversation", fmt.Sprintf("conversation %s of bot %s not found", conv, bot), "", "")
}

// OpenBotConversations implements botrelay.RelayStore.
func (s *Store) OpenBotConversations(ctx context.Context, bot botrelay.BotID) ([]*botrelay.BotConversation, error) {
	rows, err := s.pool().query(ctx, `SELECT `+botConvColumns+` FROM bot_conversations
		WHERE bot_id = $1 AND open = $2 ORDER BY created_at, conversation_id`, string(bot), true)
	if err != nil {
		return nil, fmt.Errorf("list bot conversations: %w", err)
	}
	defer rows.Close()
	var out []*botrelay.BotConversation
	for rows.Next() {
		c, err := scanBotConversation(rows)
		if err != nil {
			return nil, fmt.Errorf("scan bot conversation: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// CountOpenBotConversations implements botrelay.RelayStore.
func (s *Store) CountOpenBotConversations(ctx context.Context, bot botrelay.BotID) (int, error) {
	var n int
	err := s.pool().queryRow(ctx, `SELECT COUNT(*) FROM bot_conversations WHERE bot_id = $1 AND open = $2`, string(bot), true).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count bot conversations: %w", err)
	}
	return n, nil
}

// AddBotStateEvent implements botrelay.RelayStore.
func (s *Store) AddBotStateEvent(ctx context.Context, e *botrelay.BotStateEvent) error {
	if e.At.IsZero() {
		e.At = s.nowTime()
	}
	insert := func(c conn) error {
		_, err := c.exec(ctx, `INSERT INTO bot_state_events (bot_id, state, code, message, error_id, at)
		VALUES ($1, $2, $3, $4, $5, $6)`, string(e.BotID), string(e.State), e.Code, e.Message, e.ErrorID, millis(e.At))
		return normalize(err, "add bot state event", "", "", fmt.Sprintf("bot %s not found", e.BotID))
	}
	if _, fenced := fence.From(ctx); fenced {
		// A bot's state is shown by every node of a cluster: a node that
		// lost the bot must not record it Offline over the new holder's.
		return s.inTx(ctx, insert)
	}
	return insert(s.pool())
}

// BotStateEvents implements botrelay.RelayStore.
func (s *Store) BotStateEvents(ctx context.Context, bot botrelay.BotID, limit int) ([]*botrelay.BotStateEvent, error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := s.pool().query(ctx, `SELECT bot_id, state, code, message, error_id, at FROM bot_state_events
		WHERE bot_id = $1 ORDER BY id DESC LIMIT $2`, string(bot), limit)
	if err != nil {
		return nil, fmt.Errorf("list bot state events: %w", err)
	}
	defer rows.Close()
	var out []*botrelay.BotStateEvent
	for rows.Next() {
		e := &botrelay.BotStateEvent{}
		var at int64
		if err := rows.Scan(&e.BotID, &e.State, &e.Code, &e.Message, &e.ErrorID, &at); err != nil {
			return nil, fmt.Errorf("scan bot state event: %w", err)
		}
		e.At = fromMillis(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// ClearBotStateEvents implements botrelay.RelayStore.
func (s *Store) ClearBotStateEvents(ctx context.Context, bot botrelay.BotID) error {
	_, err := s.pool().exec(ctx, `DELETE FROM bot_state_events WHERE bot_id = $1`, string(bot))
	return normalize(err, "clear bot state events", "", "", "")
}

// AddBotError implements botrelay.RelayStore. Retention runs in the same
// transaction, so the log never holds more than MaxBotErrors entries.
func (s *Store) AddBotError(ctx context.Context, e *botrelay.BotError) error {
	if e.At.IsZero() {
		e.At = s.nowTime()
	}
	if e.ID == "" {
		e.ID = uuid.New()
	}
	return s.inTx(ctx, func(c conn) error {
		_, err := c.exec(ctx, `INSERT INTO bot_errors (id, bot_id, conversation_id, code, message, details, at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			e.ID, string(e.BotID), string(e.ConversationID), e.Code, e.Message, string(e.Details), millis(e.At))
		if err != nil {
			return normalize(err, "add bot error", "", "error id is taken", fmt.Sprintf("bot %s not found", e.BotID))
		}
		if _, err := c.exec(ctx, `DELETE FROM bot_errors WHERE bot_id = $1 AND at < $2`,
			string(e.BotID), millis(s.nowTime().Add(-botrelay.BotErrorMaxAge))); err != nil {
			return fmt.Errorf("expire bot errors: %w", err)
		}
		_, err = c.exec(ctx, `DELETE FROM bot_errors WHERE bot_id = $1 AND seq <= (
			SELECT seq FROM bot_errors WHERE bot_id = $1 ORDER BY seq DESC LIMIT 1 OFFSET $2)`,
			string(e.BotID), botrelay.MaxBotErrors)
		if err != nil {
			return fmt.Errorf("evict bot errors: %w", err)
		}
		return nil
	})
}

// BotErrors implements botrelay.RelayStore.
func (s *Store) BotErrors(ctx context.Context, bot botrelay.BotID, conv botrelay.ConversationID, limit int) ([]*botrelay.BotError, error) {
	if limit <= 0 {
		limit = botrelay.MaxBotErrors
	}
	q := `SELECT id, bot_id, conversation_id, code, message, details, at FROM bot_errors WHERE bot_id = $1 AND at >= $2`
	args := []any{string(bot), millis(s.nowTime().Add(-botrelay.BotErrorMaxAge))}
	if conv != "" {
		args = append(args, string(conv))
		q += ` AND conversation_id = $3`
	}
	args = append(args, limit)
	q += fmt.Sprintf(` ORDER BY seq DESC LIMIT $%d`, len(args))
	rows, err := s.pool().query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list bot errors: %w", err)
	}
	defer rows.Close()
	return scanBotErrors(rows, nil)
}

// scanBotErrors appends the rows (id, bot_id, conversation_id, code,
// message, details, at) to out.
func scanBotErrors(rows *sql.Rows, out []*botrelay.BotError) ([]*botrelay.BotError, error) {
	for rows.Next() {
		e := &botrelay.BotError{}
		var details string
		var at int64
		if err := rows.Scan(&e.ID, &e.BotID, &e.ConversationID, &e.Code, &e.Message, &details, &at); err != nil {
			return nil, fmt.Errorf("scan bot error: %w", err)
		}
		if details != "" {
			e.Details = []byte(details)
		}
		e.At = fromMillis(at)
		out = append(out, e)
	}
	return out, rows.Err()
}
