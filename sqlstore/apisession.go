package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/botrelay/botrelay"
)

// The management API's sessions and personal access tokens (migration 008).
// Every lookup is one primary-key read; the hashes are the keys.

const apiSessionColumns = `id_hash, user_id, csrf_hash, created_at, expires_at, last_seen_at`

// CreateAPISession implements botrelay.APISessionStore.
func (s *Store) CreateAPISession(ctx context.Context, a *botrelay.APISession) error {
	if a.IDHash == "" || a.CSRFHash == "" {
		return botrelay.Errorf(botrelay.EINVALID, "a session needs an id hash and a CSRF hash")
	}
	if a.CreatedAt.IsZero() {
		a.CreatedAt = s.nowTime()
	}
	if a.LastSeenAt.IsZero() {
		a.LastSeenAt = a.CreatedAt
	}
	a.CreatedAt, a.ExpiresAt, a.LastSeenAt = toMillis(a.CreatedAt), toMillis(a.ExpiresAt), toMillis(a.LastSeenAt)
	_, err := s.pool().exec(ctx, `INSERT INTO api_sessions (`+apiSessionColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		a.IDHash, int64(a.UserID), a.CSRFHash, millis(a.CreatedAt), millis(a.ExpiresAt), millis(a.LastSeenAt))
	return normalize(err, "insert api session", "", "session id is taken", fmt.Sprintf("user %d not found", a.UserID))
}

// APISession implements botrelay.APISessionStore.
func (s *Store) APISession(ctx context.Context, idHash string) (*botrelay.APISession, error) {
	a := &botrelay.APISession{}
	var user, created, expires, seen int64
	err := s.pool().queryRow(ctx, `SELECT `+apiSessionColumns+` FROM api_sessions WHERE id_hash = $1`, idHash).
		Scan(&a.IDHash, &user, &a.CSRFHash, &created, &expires, &seen)
	if err != nil {
		return nil, normalize(err, "get api session", "session not found", "", "")
	}
	a.UserID = botrelay.UserID(user)
	a.CreatedAt, a.ExpiresAt, a.LastSeenAt = fromMillis(created), fromMillis(expires), fromMillis(seen)
	return a, nil
}

// TouchAPISession implements botrelay.APISessionStore.
func (s *Store) TouchAPISession(ctx context.Context, idHash string, at time.Time) error {
	_, err := s.pool().exec(ctx, `UPDATE api_sessions SET last_seen_at = $1 WHERE id_hash = $2`, millis(at), idHash)
	return normalize(err, "touch api session", "", "", "")
}

// DeleteAPISession implements botrelay.APISessionStore.
func (s *Store) DeleteAPISession(ctx context.Context, idHash string) error {
	_, err := s.pool().exec(ctx, `DELETE FROM api_sessions WHERE id_hash = $1`, idHash)
	return normalize(err, "delete api session", "", "", "")
}

// DeleteExpiredAPISessions implements botrelay.APISessionStore.
func (s *Store) DeleteExpiredAPISessions(ctx context.Context, t time.Time) (int, error) {
	res, err := s.pool().exec(ctx, `DELETE FROM api_sessions WHERE expires_at < $1`, millis(t))
	if err != nil {
		return 0, normalize(err, "delete expired api sessions", "", "", "")
	}
	n, err := res.RowsAffected()
	return int(n), err
}

const apiTokenColumns = `token_hash, id, user_id, description, created_at, last_used_at`

func scanAPIToken(row interface{ Scan(...any) error }) (*botrelay.APIToken, error) {
	t := &botrelay.APIToken{}
	var user, created, used int64
	if err := row.Scan(&t.Hash, &t.ID, &user, &t.Description, &created, &used); err != nil {
		return nil, err
	}
	t.UserID = botrelay.UserID(user)
	t.CreatedAt, t.LastUsedAt = fromMillis(created), fromMillis(used)
	return t, nil
}

// CreateAPIToken implements botrelay.APISessionStore.
func (s *Store) CreateAPIToken(ctx context.Context, t *botrelay.APIToken) error {
	if t.Hash == "" || t.ID == "" {
		return botrelay.Errorf(botrelay.EINVALID, "a token needs an id and a hash")
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = s.nowTime()
	}
	t.CreatedAt, t.LastUsedAt = toMillis(t.CreatedAt), time.Time{}
	_, err := s.pool().exec(ctx, `INSERT INTO api_tokens (`+apiTokenColumns+`) VALUES ($1, $2, $3, $4, $5, 0)`,
		t.Hash, t.ID, int64(t.UserID), t.Description, millis(t.CreatedAt))
	return normalize(err, "insert api token", "", "token id is taken", fmt.Sprintf("user %d not found", t.UserID))
}

// APIToken implements botrelay.APISessionStore.
func (s *Store) APIToken(ctx context.Context, hash string) (*botrelay.APIToken, error) {
	t, err := scanAPIToken(s.pool().queryRow(ctx, `SELECT `+apiTokenColumns+` FROM api_tokens WHERE token_hash = $1`, hash))
	return t, normalize(err, "get api token", "token not found", "", "")
}

// TouchAPIToken implements botrelay.APISessionStore.
func (s *Store) TouchAPIToken(ctx context.Context, hash string, at time.Time) error {
	_, err := s.pool().exec(ctx, `UPDATE api_tokens SET last_used_at = $1 WHERE token_hash = $2`, millis(at), hash)
	return normalize(err, "touch api token", "", "", "")
}

// APITokens implements botrelay.APISessionStore.
func (s *Store) APITokens(ctx context.Context, user botrelay.UserID) ([]*botrelay.APIToken, error) {
	rows, err := s.pool().query(ctx, `SELECT `+apiTokenColumns+` FROM api_tokens WHERE user_id = $1 ORDER BY created_at, id`, int64(user))
	if err != nil {
		return nil, fmt.Errorf("list api tokens: %w", err)
	}
	defer rows.Close()
	out := []*botrelay.APIToken{}
	for rows.Next() {
		t, err := scanAPIToken(rows)
		if err != nil {
			return nil, fmt.Errorf("scan api token: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// DeleteAPIToken implements botrelay.APISessionStore.
func (s *Store) DeleteAPIToken(ctx context.Context, user botrelay.UserID, id string) error {
	res, err := s.pool().exec(ctx, `DELETE FROM api_tokens WHERE user_id = $1 AND id = $2`, int64(user), id)
	return mustAffect(res, err, "delete api token", fmt.Sprintf("token %q does not exist", id), "")
}

// RevokeAPICredentials implements botrelay.APISessionStore.
func (s *Store) RevokeAPICredentials(ctx context.Context, user botrelay.UserID) error {
	return s.inTx(ctx, func(c conn) error {
		if _, err := c.exec(ctx, `DELETE FROM api_sessions WHERE user_id = $1`, int64(user)); err != nil {
			return fmt.Errorf("revoke api sessions: %w", err)
		}
		if _, err := c.exec(ctx, `DELETE FROM api_tokens WHERE user_id = $1`, int64(user)); err != nil {
			return fmt.Errorf("revoke api tokens: %w", err)
		}
		return nil
	})
}

// toMillis truncates t to what is stored, in UTC; the zero time stays zero.
func toMillis(t time.Time) time.Time { return fromMillis(millis(t)) }
