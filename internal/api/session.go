package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"log/slog"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/auth"
)

// Credentials live in the store (botrelay.APISessionStore), so a session or
// token made on one node is valid on every node sharing the database, and
// survives a restart; a logout or revocation on any node is refused by all
// of them from the next request, because nothing is cached: each request
// costs one primary-key read. Only SHA-256 hashes of session ids, CSRF
// tokens and token values are stored; the values are 256-bit random
// strings, for which an unsalted fast hash is adequate.

// touchEvery is how stale a session's last-seen time or a token's last-used
// time may get: a use writes it only when the stored one is older, so
// ordinary requests are reads only.
const touchEvery = time.Minute

// token is a personal access token.
type token = botrelay.APIToken

// credentials reads and writes the API's sessions and tokens in the store.
type credentials struct {
	store botrelay.APISessionStore
	now   func() time.Time
	log   *slog.Logger
}

func hashValue(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:])
}

// TokenPrefix starts every personal access token, so leaked tokens are easy
// to recognise in logs and by secret scanners.
const TokenPrefix = "brt_"

// newSession creates a session for user and returns its id, CSRF token and
// expiry. Expired sessions are swept as logins come.
func (c *credentials) newSession(ctx context.Context, user botrelay.UserID, ttl time.Duration) (id, csrf string, expires time.Time, err error) {
	now := c.now()
	if _, err := c.store.DeleteExpiredAPISessions(ctx, now); err != nil {
		c.log.WarnContext(ctx, "sweep expired api sessions", "err", err)
	}
	id, csrf = auth.RandomToken(32), auth.RandomToken(32)
	s := &botrelay.APISession{IDHash: hashValue(id), UserID: user, CSRFHash: hashValue(csrf), CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if err := c.store.CreateAPISession(ctx, s); err != nil {
		return "", "", time.Time{}, err
	}
	return id, csrf, s.ExpiresAt, nil
}

// session returns the live session with id, or nil when it does not exist
// or has expired.
func (c *credentials) session(ctx context.Context, id string) (*botrelay.APISession, error) {
	s, err := c.store.APISession(ctx, hashValue(id))
	if errors.Is(err, botrelay.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	now := c.now()
	if now.After(s.ExpiresAt) {
		return nil, nil
	}
	if now.Sub(s.LastSeenAt) >= touchEvery {
		if err := c.store.TouchAPISession(ctx, s.IDHash, now); err != nil {
			c.log.WarnContext(ctx, "record api session use", "err", err)
		}
	}
	return s, nil
}

// csrfMatches reports whether header is the session's CSRF token.
func csrfMatches(s *botrelay.APISession, header string) bool {
	return header != "" && equalSecret(hashValue(header), s.CSRFHash)
}

// endSession removes a session.
func (c *credentials) endSession(ctx context.Context, id string) error {
	return c.store.DeleteAPISession(ctx, hashValue(id))
}

// revokeUser ends every session and token of user.
func (c *credentials) revokeUser(ctx context.Context, user botrelay.UserID) error {
	return c.store.RevokeAPICredentials(ctx, user)
}

// newToken creates a personal token for user and returns its record and
// its value, which is not kept.
func (c *credentials) newToken(ctx context.Context, user botrelay.UserID, desc string) (token, string, error) {
	value := TokenPrefix + auth.RandomToken(32)
	t := &token{ID: auth.RandomToken(9), Hash: hashValue(value), UserID: user, Description: desc, CreatedAt: c.now()}
	if err := c.store.CreateAPIToken(ctx, t); err != nil {
		return token{}, "", err
	}
	return *t, value, nil
}

// token returns the record of a token value and records its use, or nil.
func (c *credentials) token(ctx context.Context, value string) (*token, error) {
	t, err := c.store.APIToken(ctx, hashValue(value))
	if errors.Is(err, botrelay.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	if now := c.now(); now.Sub(t.LastUsedAt) >= touchEvery {
		if err := c.store.TouchAPIToken(ctx, t.Hash, now); err != nil {
			c.log.WarnContext(ctx, "record api token use", "err", err)
		}
	}
	return t, nil
}

// userTokens lists user's tokens, oldest first.
func (c *credentials) userTokens(ctx context.Context, user botrelay.UserID) ([]*token, error) {
	return c.store.APITokens(ctx, user)
}

// deleteToken revokes user's token id; ENOTFOUND when user has no such token.
func (c *credentials) deleteToken(ctx context.Context, user botrelay.UserID, id string) error {
	return c.store.DeleteAPIToken(ctx, user, id)
}

// equalSecret compares two secrets in constant time.
func equalSecret(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
