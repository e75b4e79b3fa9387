package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/botrelay/botrelay"
)

// Public API commands, engagement attributes and logins (spec §5).

const commandColumns = `id, account_id, bot_id, conversation_id, type, payload, state, timeout_at, created_at,
	started_at, ended_at, error_cause, error_message`

func scanCommand(row interface{ Scan(...any) error }) (*botrelay.Command, error) {
	c := &botrelay.Command{}
	var id, timeout, created, started, ended int64
	var payload string
	if err := row.Scan(&id, &c.AccountID, &c.BotID, &c.ConversationID, &c.Type, &payload, &c.State, &timeout, &created,
		&started, &ended, &c.ErrorCause, &c.ErrorMessage); err != nil {
		return nil, err
	}
	c.ID = strconv.FormatInt(id, 10)
	c.Payload = json.RawMessage(payload)
	c.TimeoutAt, c.CreatedAt = fromMillis(timeout), fromMillis(created)
	if started != 0 {
		c.StartedAt = fromMillis(started)
	}
	if ended != 0 {
		c.EndedAt = fromMillis(ended)
	}
	return c, nil
}

func (s *Store) commandRows(ctx context.Context, op, q string, args ...any) ([]*botrelay.Command, error) {
	rows, err := s.pool().query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer rows.Close()
	var out []*botrelay.Command
	for rows.Next() {
		c, err := scanCommand(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// CreateCommand implements botrelay.CommandStore. The bot's oldest commands
// beyond MaxCommandsPerBot go in the same transaction.
func (s *Store) CreateCommand(ctx context.Context, c *botrelay.Command) error {
	if len(c.Payload) == 0 {
		c.Payload = json.RawMessage(`{}`)
	}
	c.State, c.CreatedAt = botrelay.CommandWaiting, s.nowTime()
	c.StartedAt, c.EndedAt = time.Time{}, time.Time{}
	return s.inTx(ctx, func(cn conn) error {
		var id int64
		err := cn.queryRow(ctx, `INSERT INTO public_api_commands (account_id, bot_id, conversation_id, type, payload, state,
			timeout_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
			string(c.AccountID), string(c.BotID), string(c.ConversationID), string(c.Type), string(c.Payload),
			string(c.State), millis(c.TimeoutAt), millis(c.CreatedAt)).Scan(&id)
		if err != nil {
			return normalize(err, "create command", "", "", fmt.Sprintf("bot %s not found", c.BotID))
		}
		c.ID = strconv.FormatInt(id, 10)
		_, err = cn.exec(ctx, `DELETE FROM public_api_commands WHERE bot_id = $1 AND id <= (
			SELECT id FROM public_api_commands WHERE bot_id = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)`,
			string(c.BotID), botrelay.MaxCommandsPerBot)
		if err != nil {
			return fmt.Errorf("evict commands: %w", err)
		}
		return nil
	})
}

// commandID parses a command id; ok is false for anything the store never
// assigned.
func commandID(id string) (int64, bool) {
	n, err := strconv.ParseInt(id, 10, 64)
	return n, err == nil && n > 0
}

// Command implements botrelay.CommandStore.
func (s *Store) Command(ctx context.Context, id string) (*botrelay.Command, error) {
	n, ok := commandID(id)
	if !ok {
		return nil, botrelay.Errorf(botrelay.ENOTFOUND, "command %q not found", id)
	}
	c, err := scanCommand(s.pool().queryRow(ctx, `SELECT `+commandColumns+` FROM public_api_commands WHERE id = $1`, n))
	return c, normalize(err, "get command", fmt.Sprintf("command %q not found", id), "", "")
}

// Commands implements botrelay.CommandStore.
func (s *Store) Commands(ctx context.Context, conv botrelay.ConversationID, limit int) ([]*botrelay.Command, error) {
	if limit <= 0 {
		limit = botrelay.MaxCommandsPerBot
	}
	out, err := s.commandRows(ctx, "list commands", `SELECT `+commandColumns+` FROM public_api_commands
		WHERE conversation_id = $1 ORDER BY id DESC LIMIT $2`, string(conv), limit)
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, err
}

// WaitingCommands implements botrelay.CommandStore.
func (s *Store) WaitingCommands(ctx context.Context, account botrelay.AccountID, limit int) ([]*botrelay.Command, error) {
	return s.commandRows(ctx, "list waiting commands", `SELECT `+commandColumns+` FROM public_api_commands
		WHERE state = $1 AND account_id = $2 AND started_at = 0 ORDER BY id LIMIT $3`,
		string(botrelay.CommandWaiting), string(account), limit)
}

// TakeCommand implements botrelay.CommandStore.
func (s *Store) TakeCommand(ctx context.Context, id string, now time.Time) (bool, error) {
	n, ok := commandID(id)
	if !ok {
		return false, nil
	}
	res, err := s.pool().exec(ctx, `UPDATE public_api_commands SET started_at = $1
		WHERE id = $2 AND state = $3 AND started_at = 0 AND timeout_at > $1`, millis(now), n, string(botrelay.CommandWaiting))
	if err != nil {
		return false, fmt.Errorf("take command: %w", err)
	}
	k, err := res.RowsAffected()
	return k == 1, err
}

// FinishCommand implements botrelay.CommandStore.
func (s *Store) FinishCommand(ctx context.Context, c *botrelay.Command) (bool, error) {
	n, ok := commandID(c.ID)
	if !ok || (c.State != botrelay.CommandCompleted && c.State != botrelay.CommandFailed) {
		return false, botrelay.Errorf(botrelay.EINVALID, "a command ends completed or failed")
	}
	if c.EndedAt.IsZero() {
		c.EndedAt = s.nowTime()
	}
	res, err := s.pool().exec(ctx, `UPDATE public_api_commands SET state = $1, ended_at = $2, error_cause = $3,
		error_message = $4 WHERE id = $5 AND state = $6`, string(c.State), millis(c.EndedAt), c.ErrorCause, c.ErrorMessage,
		n, string(botrelay.CommandWaiting))
	if err != nil {
		return false, fmt.Errorf("finish command: %w", err)
	}
	k, err := res.RowsAffected()
	return k == 1, err
}

// ExpireCommands implements botrelay.CommandStore.
func (s *Store) ExpireCommands(ctx context.Context, now, staleBefore time.Time, cause, msg string) (int, error) {
	res, err := s.pool().exec(ctx, `UPDATE public_api_commands SET state = $1, ended_at = $2, error_cause = $3,
		error_message = $4 WHERE state = $5 AND ((started_at = 0 AND timeout_at <= $2) OR (started_at <> 0 AND started_at < $6))`,
		string(botrelay.CommandFailed), millis(now), cause, msg, string(botrelay.CommandWaiting), millis(staleBefore))
	if err != nil {
		return 0, fmt.Errorf("expire commands: %w", err)
	}
	k, err := res.RowsAffected()
	return int(k), err
}

// SetEngagementAttributes implements botrelay.CommandStore.
func (s *Store) SetEngagementAttributes(ctx context.Context, conv botrelay.ConversationID, sdes json.RawMessage, at time.Time) error {
	if !json.Valid(sdes) {
		return botrelay.Errorf(botrelay.EINVALID, "engagement attributes must be JSON")
	}
	_, err := s.pool().exec(ctx, `INSERT INTO conversation_sdes (conversation_id, sdes, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (conversation_id) DO UPDATE SET sdes = excluded.sdes, updated_at = excluded.updated_at`,
		string(conv), string(sdes), millis(at))
	return normalize(err, "set engagement attributes", "", "", "")
}

// EngagementAttributes implements botrelay.CommandStore.
func (s *Store) EngagementAttributes(ctx context.Context, conv botrelay.ConversationID) (json.RawMessage, time.Time, error) {
	var sdes string
	var at int64
	err := s.pool().queryRow(ctx, `SELECT sdes, updated_at FROM conversation_sdes WHERE conversation_id = $1`,
		string(conv)).Scan(&sdes, &at)
	if err != nil {
		return nil, time.Time{}, normalize(err, "get engagement attributes",
			fmt.Sprintf("conversation %s has no engagement attributes", conv), "", "")
	}
	return json.RawMessage(sdes), fromMillis(at), nil
}

// SavePublicAPIToken implements botrelay.CommandStore.
func (s *Store) SavePublicAPIToken(ctx context.Context, t *botrelay.PublicAPIToken) error {
	return s.inTx(ctx, func(cn conn) error {
		if _, err := cn.exec(ctx, `DELETE FROM public_api_tokens WHERE user_id = $1`, int64(t.UserID)); err != nil {
			return fmt.Errorf("end earlier public api logins: %w", err)
		}
		_, err := cn.exec(ctx, `INSERT INTO public_api_tokens (token_hash, account_id, user_id, expires_at)
			VALUES ($1, $2, $3, $4)`, t.Hash, string(t.AccountID), int64(t.UserID), millis(t.ExpiresAt))
		return normalize(err, "save public api login", "", "the token is taken", fmt.Sprintf("user %d not found", t.UserID))
	})
}

// PublicAPIToken implements botrelay.CommandStore.
func (s *Store) PublicAPIToken(ctx context.Context, hash string) (*botrelay.PublicAPIToken, error) {
	t := &botrelay.PublicAPIToken{Hash: hash}
	var user, expires int64
	err := s.pool().queryRow(ctx, `SELECT account_id, user_id, expires_at FROM public_api_tokens WHERE token_hash = $1`,
		hash).Scan(&t.AccountID, &user, &expires)
	if err != nil {
		return nil, normalize(err, "get public api login", "unknown bearer token", "", "")
	}
	t.UserID, t.ExpiresAt = botrelay.UserID(user), fromMillis(expires)
	return t, nil
}
