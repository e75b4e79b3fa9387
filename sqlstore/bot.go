package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/botrelay/botrelay"
)

const botColumns = `id, account_id, name, user_id, created_at, updated_at`

func scanBot(row interface{ Scan(...any) error }) (*botrelay.Bot, error) {
	b := &botrelay.Bot{}
	var created, updated int64
	if err := row.Scan(&b.ID, &b.AccountID, &b.Name, &b.UserID, &created, &updated); err != nil {
		return nil, err
	}
	b.CreatedAt, b.UpdatedAt = fromMillis(created), fromMillis(updated)
	return b, nil
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
	b.Name = strings.TrimSpace(b.Name)
	if b.Name == "" {
		return botrelay.Errorf(botrelay.EINVALID, "name is required")
	}
	if b.ID == "" {
		b.ID = botrelay.BotID(newUUID())
	}
	return s.inTx(ctx, func(c conn) error {
		if err := s.checkBotUser(ctx, c, b); err != nil {
			return err
		}
		b.CreatedAt = s.nowTime()
		b.UpdatedAt = b.CreatedAt
		_, err := c.exec(ctx, `INSERT INTO bots (`+botColumns+`) VALUES ($1, $2, $3, $4, $5, $5)`,
			string(b.ID), string(b.AccountID), b.Name, int64(b.UserID), millis(b.CreatedAt))
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
	b.Name = strings.TrimSpace(b.Name)
	if b.Name == "" {
		return botrelay.Errorf(botrelay.EINVALID, "name is required")
	}
	err := s.inTx(ctx, func(c conn) error {
		if err := c.queryRow(ctx, `SELECT account_id FROM bots WHERE id = $1`, string(b.ID)).Scan(&b.AccountID); err != nil {
			return normalize(err, "get bot", fmt.Sprintf("bot %s not found", b.ID), "", "")
		}
		if err := s.checkBotUser(ctx, c, b); err != nil {
			return err
		}
		_, err := c.exec(ctx, `UPDATE bots SET name = $1, user_id = $2, updated_at = $3 WHERE id = $4`,
			b.Name, int64(b.UserID), millis(s.nowTime()), string(b.ID))
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

// DeleteBot implements botrelay.BotStore.
func (s *Store) DeleteBot(ctx context.Context, id botrelay.BotID) error {
	res, err := s.pool().exec(ctx, `DELETE FROM bots WHERE id = $1`, string(id))
	return mustAffect(res, err, "delete bot", fmt.Sprintf("bot %s not found", id), "")
}
