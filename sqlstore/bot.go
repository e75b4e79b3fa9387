package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/uuid"
)

const botColumns = `id, account_id, name, user_id, type, conversation_type, vendor, settings, secrets, started, created_at, updated_at`

func scanBot(row interface{ Scan(...any) error }) (*botrelay.Bot, error) {
	b := &botrelay.Bot{}
	var created, updated int64
	var settings string
	if err := row.Scan(&b.ID, &b.AccountID, &b.Name, &b.UserID, &b.Type, &b.ConversationType, &b.Vendor,
		&settings, &b.Secrets, &b.Started, &created, &updated); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(settings), &b.Settings); err != nil {
		return nil, fmt.Errorf("decode settings of bot %s: %w", b.ID, err)
	}
	b.CreatedAt, b.UpdatedAt = fromMillis(created), fromMillis(updated)
	return b, nil
}

func encodeSettings(b *botrelay.Bot) (string, error) {
	raw, err := json.Marshal(b.Settings)
	return string(raw), err
}

// checkBotUser enforces that a bot's user exists in its account and is a bot
// user. The one-bot-per-user rule is the UNIQUE constraint on bots.user_id,
// so it also holds for concurrent requests and across nodes.
func (s *Store) checkBotUser(ctx context.Context, c conn, b *botrelay.Bot) error {
	var typ botrelay.UserType
	err := c.queryRow(ctx, `SELECT type FROM users WHERE id = $1 AND account_id = $2`, int64(b.UserID), string(b.AccountID)).Scan(&typ)
	if errors.Is(err, sql.ErrNoRows) {
		return botrelay.Errorf(botrelay.EINVALID, "user %d does not exist", b.UserID)
	} else if err != nil {
		return fmt.Errorf("get bot user: %w", err)
	}
	if typ != botrelay.UserBot {
		return botrelay.Errorf(botrelay.EINVALID, "user %d is not a bot user; bots need a user of type %s", b.UserID, botrelay.UserBot)
	}
	return nil
}

func botUserTaken(b *botrelay.Bot) string {
	return fmt.Sprintf("user %d is already bound to another bot; each bot needs its own bot user", b.UserID)
}

// CreateBot implements botrelay.BotStore.
func (s *Store) CreateBot(ctx context.Context, b *botrelay.Bot) error {
	if err := b.Validate(); err != nil {
		return err
	}
	settings, err := encodeSettings(b)
	if err != nil {
		return err
	}
	if b.ID == "" {
		b.ID = botrelay.BotID(uuid.New())
	}
	return s.inTx(ctx, func(c conn) error {
		if err := s.checkBotUser(ctx, c, b); err != nil {
			return err
		}
		b.CreatedAt = s.nowTime()
		b.UpdatedAt = b.CreatedAt
		_, err := c.exec(ctx, `INSERT INTO bots (`+botColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)`,
			string(b.ID), string(b.AccountID), b.Name, int64(b.UserID), string(b.Type), string(b.ConversationType), b.Vendor,
			settings, b.Secrets, b.Started, millis(b.CreatedAt))
		return normalize(err, "insert bot", "", botUserTaken(b), fmt.Sprintf("account %q does not exist", b.AccountID))
	})
}

// Bot implements botrelay.BotStore.
func (s *Store) Bot(ctx context.Context, id botrelay.BotID) (*botrelay.Bot, error) {
	b, err := scanBot(s.pool().queryRow(ctx, `SELECT `+botColumns+` FROM bots WHERE id = $1`, string(id)))
	return b, normalize(err, "get bot", fmt.Sprintf("bot %s not found", id), "", "")
}

// Bots implements botrelay.BotStore.
func (s *Store) Bots(ctx context.Context, account botrelay.AccountID) ([]*botrelay.Bot, error) {
	rows, err := s.pool().query(ctx, `SELECT `+botColumns+` FROM bots WHERE account_id = $1 ORDER BY created_at, id`, string(account))
	if err != nil {
		return nil, fmt.Errorf("list bots: %w", err)
	}
	defer rows.Close()
	var out []*botrelay.Bot
	for rows.Next() {
		b, err := scanBot(rows)
		if err != nil {
			return nil, fmt.Errorf("scan bot: %w", err)
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// UpdateBot implements botrelay.BotStore.
func (s *Store) UpdateBot(ctx context.Context, b *botrelay.Bot) error {
	err := s.inTx(ctx, func(c conn) error {
		if err := c.queryRow(ctx, `SELECT account_id, type, conversation_type, vendor FROM bots WHERE id = $1`, string(b.ID)).
			Scan(&b.AccountID, &b.Type, &b.ConversationType, &b.Vendor); err != nil {
			return normalize(err, "get bot", fmt.Sprintf("bot %s not found", b.ID), "", "")
		}
		if err := b.Validate(); err != nil {
			return err
		}
		settings, err := encodeSettings(b)
		if err != nil {
			return err
		}
		if err := s.checkBotUser(ctx, c, b); err != nil {
			return err
		}
		_, err = c.exec(ctx, `UPDATE bots SET name = $1, user_id = $2, settings = $3, secrets = $4, updated_at = $5 WHERE id = $6`,
			b.Name, int64(b.UserID), settings, b.Secrets, millis(s.nowTime()), string(b.ID))
		return normalize(err, "update bot", "", botUserTaken(b), "")
	})
	if err != nil {
		return err
	}
	cur, err := s.Bot(ctx, b.ID)
	if err == nil {
		*b = *cur
	}
	return err
}

// SetBotStarted implements botrelay.BotStore.
func (s *Store) SetBotStarted(ctx context.Context, id botrelay.BotID, started bool) error {
	res, err := s.pool().exec(ctx, `UPDATE bots SET started = $1 WHERE id = $2`, started, string(id))
	return mustAffect(res, err, "set bot started", fmt.Sprintf("bot %s not found", id), "")
}

// DeleteBot implements botrelay.BotStore.
func (s *Store) DeleteBot(ctx context.Context, id botrelay.BotID) error {
	res, err := s.pool().exec(ctx, `DELETE FROM bots WHERE id = $1`, string(id))
	return mustAffect(res, err, "delete bot", fmt.Sprintf("bot %s not found", id), "")
}
