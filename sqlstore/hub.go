package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/botrelay/botrelay"
)

const agentSessionColumns = `bearer_hash, cookie_hash, csrf_hash, account_id, user_id, created_at, expires_at, ended`

func scanAgentSession(row interface{ Scan(...any) error }) (*botrelay.AgentSession, error) {
	s := &botrelay.AgentSession{}
	var user, created, expires int64
	if err := row.Scan(&s.BearerHash, &s.CookieHash, &s.CSRFHash, &s.AccountID, &user, &created, &expires, &s.Ended); err != nil {
		return nil, err
	}
	s.UserID = botrelay.UserID(user)
	s.CreatedAt, s.ExpiresAt = fromMillis(created), fromMillis(expires)
	return s, nil
}

// CreateAgentSession implements botrelay.HubStore.
func (s *Store) CreateAgentSession(ctx context.Context, a *botrelay.AgentSession) error {
	if a.BearerHash == "" || a.CookieHash == "" || a.CSRFHash == "" || a.UserID == 0 || a.ExpiresAt.IsZero() {
		return botrelay.Errorf(botrelay.EINVALID, "an agent session needs its token hashes, a user and an expiry")
	}
	if a.CreatedAt.IsZero() {
		a.CreatedAt = s.nowTime()
	}
	a.Ended = ""
	return s.inTx(ctx, func(c conn) error {
		if _, err := c.exec(ctx, `UPDATE agent_sessions SET ended = $1 WHERE user_id = $2 AND ended = ''`,
			botrelay.AgentSessionReplaced, int64(a.UserID)); err != nil {
			return fmt.Errorf("end previous agent sessions: %w", err)
		}
		_, err := c.exec(ctx, `INSERT INTO agent_sessions (`+agentSessionColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, '')`,
			a.BearerHash, a.CookieHash, a.CSRFHash, string(a.AccountID), int64(a.UserID), millis(a.CreatedAt), millis(a.ExpiresAt))
		return normalize(err, "create agent session", "", "agent session token collision",
			fmt.Sprintf("user %d of account %s does not exist", a.UserID, a.AccountID))
	})
}

// AgentSession implements botrelay.HubStore.
func (s *Store) AgentSession(ctx context.Context, bearerHash string) (*botrelay.AgentSession, error) {
	a, err := scanAgentSession(s.pool().queryRow(ctx, `SELECT `+agentSessionColumns+` FROM agent_sessions WHERE bearer_hash = $1`, bearerHash))
	return a, normalize(err, "get agent session", "agent session not found", "", "")
}

// AgentSessions implements botrelay.HubStore. It reads up to 500 hashes a
// query.
func (s *Store) AgentSessions(ctx context.Context, bearerHashes []string) ([]*botrelay.AgentSession, error) {
	out := []*botrelay.AgentSession{}
	for len(bearerHashes) > 0 {
		chunk := bearerHashes[:min(len(bearerHashes), 500)]
		bearerHashes = bearerHashes[len(chunk):]
		marks := make([]string, len(chunk))
		args := make([]any, len(chunk))
		for i, h := range chunk {
			marks[i] = fmt.Sprintf("$%d", i+1)
			args[i] = h
		}
		rows, err := s.pool().query(ctx, `SELECT `+agentSessionColumns+` FROM agent_sessions WHERE bearer_hash IN (`+strings.Join(marks, ", ")+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("list agent sessions: %w", err)
		}
		for rows.Next() {
			a, err := scanAgentSession(rows)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("scan agent session: %w", err)
			}
			out = append(out, a)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("list agent sessions: %w", err)
		}
	}
	return out, nil
}

// AgentSessionByCookie implements botrelay.HubStore.
func (s *Store) AgentSessionByCookie(ctx context.Context, cookieHash string) (*botrelay.AgentSession, error) {
	a, err := scanAgentSession(s.pool().queryRow(ctx, `SELECT `+agentSessionColumns+` FROM agent_sessions WHERE cookie_hash = $1`, cookieHash))
	return a, normalize(err, "get agent session", "agent session not found", "", "")
}

// ExtendAgentSession implements botrelay.HubStore.
func (s *Store) ExtendAgentSession(ctx context.Context, bearerHash string, expires time.Time) error {
	res, err := s.pool().exec(ctx, `UPDATE agent_sessions SET expires_at = $1 WHERE bearer_hash = $2 AND ended = ''`,
		millis(expires), bearerHash)
	return mustAffect(res, err, "extend agent session", "agent session not found or ended", "")
}

// EndAgentSession implements botrelay.HubStore.
func (s *Store) EndAgentSession(ctx context.Context, bearerHash, reason string) error {
	if reason != botrelay.AgentSessionLoggedOut && reason != botrelay.AgentSessionReplaced {
		return botrelay.Errorf(botrelay.EINVALID, "an agent session ends with %q or %q", botrelay.AgentSessionLoggedOut, botrelay.AgentSessionReplaced)
	}
	res, err := s.pool().exec(ctx, `UPDATE agent_sessions SET ended = $1 WHERE bearer_hash = $2 AND ended = ''`, reason, bearerHash)
	return mustAffect(res, err, "end agent session", "agent session not found or ended", "")
}

// DeleteAgentSessions implements botrelay.HubStore.
func (s *Store) DeleteAgentSessions(ctx context.Context, expiredBefore time.Time) (int, error) {
	res, err := s.pool().exec(ctx, `DELETE FROM agent_sessions WHERE expires_at < $1`, millis(expiredBefore))
	if err != nil {
		return 0, fmt.Errorf("delete expired agent sessions: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// PutHubFile implements botrelay.HubStore.
func (s *Store) PutHubFile(ctx context.Context, f *botrelay.HubFile) error {
	if f.Path == "" || f.ConsumerID == "" || f.Content == nil {
		return botrelay.Errorf(botrelay.EINVALID, "a file needs a path, a consumer and content")
	}
	if f.CreatedAt.IsZero() {
		f.CreatedAt = s.nowTime()
	}
	_, err := s.pool().exec(ctx, `INSERT INTO hub_files (account_id, path, consumer_id, content, created_at) VALUES ($1, $2, $3, $4, $5)`,
		string(f.AccountID), f.Path, string(f.ConsumerID), f.Content, millis(f.CreatedAt))
	return normalize(err, "put hub file", "", fmt.Sprintf("file %s exists", f.Path), fmt.Sprintf("account %s does not exist", f.AccountID))
}

// HubFile implements botrelay.HubStore.
func (s *Store) HubFile(ctx context.Context, account botrelay.AccountID, path string) (*botrelay.HubFile, error) {
	f := &botrelay.HubFile{AccountID: account, Path: path}
	var created int64
	err := s.pool().queryRow(ctx, `SELECT consumer_id, content, created_at FROM hub_files WHERE account_id = $1 AND path = $2`,
		string(account), path).Scan(&f.ConsumerID, &f.Content, &created)
	if err != nil {
		return nil, normalize(err, "get hub file", fmt.Sprintf("file %s not found", path), "", "")
	}
	f.CreatedAt = fromMillis(created)
	return f, nil
}

// HubKey implements botrelay.HubStore.
func (s *Store) HubKey(ctx context.Context, name string) (string, error) {
	var sealed string
	err := s.pool().queryRow(ctx, `SELECT sealed FROM hub_keys WHERE name = $1`, name).Scan(&sealed)
	return sealed, normalize(err, "get hub key", fmt.Sprintf("hub key %q not found", name), "", "")
}

// PutHubKeyOnce implements botrelay.HubStore.
func (s *Store) PutHubKeyOnce(ctx context.Context, name, sealed string) (string, error) {
	if name == "" || sealed == "" {
		return "", botrelay.Errorf(botrelay.EINVALID, "a hub key needs a name and a value")
	}
	if _, err := s.pool().exec(ctx, `INSERT INTO hub_keys (name, sealed, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING`,
		name, sealed, millis(s.nowTime())); err != nil {
		return "", fmt.Errorf("put hub key: %w", err)
	}
	return s.HubKey(ctx, name)
}

// DeleteHubKey implements botrelay.HubStore.
func (s *Store) DeleteHubKey(ctx context.Context, name string) error {
	_, err := s.pool().exec(ctx, `DELETE FROM hub_keys WHERE name = $1`, name)
	if err != nil {
		return fmt.Errorf("delete hub key: %w", err)
	}
	return nil
}
