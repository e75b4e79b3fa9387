package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"sort"
	"sync"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/auth"
)

// Credentials kept in memory. Only SHA-256 hashes of session ids and tokens
// are kept, so a memory dump does not hand out live credentials; the values
// are 256-bit random strings, for which an unsalted fast hash is adequate.

// session is a cookie login.
type session struct {
	userID  botrelay.UserID
	csrf    string
	expires time.Time
}

// token is a personal access token.
type token struct {
	ID          string
	UserID      botrelay.UserID
	Description string
	CreatedAt   time.Time
	LastUsedAt  time.Time
}

// credentials holds the sessions and tokens; safe for concurrent use.
type credentials struct {
	now      func() time.Time
	mu       sync.Mutex
	sessions map[string]*session // by hash of the session id
	tokens   map[string]*token   // by hash of the token
}

func newCredentials(now func() time.Time) *credentials {
	return &credentials{now: now, sessions: map[string]*session{}, tokens: map[string]*token{}}
}

func hashValue(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:])
}

// TokenPrefix starts every personal access token, so leaked tokens are easy
// to recognise in logs and by secret scanners.
const TokenPrefix = "brt_"

// newSession creates a session for user and returns its id and CSRF token.
func (c *credentials) newSession(user botrelay.UserID, ttl time.Duration) (id, csrf string) {
	id, csrf = auth.RandomToken(32), auth.RandomToken(32)
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for k, s := range c.sessions { // drop expired sessions as we go
		if now.After(s.expires) {
			delete(c.sessions, k)
		}
	}
	c.sessions[hashValue(id)] = &session{userID: user, csrf: csrf, expires: now.Add(ttl)}
	return id, csrf
}

// session returns the live session with id, or nil.
func (c *credentials) session(id string) *session {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sessions[hashValue(id)]
	if s == nil || c.now().After(s.expires) {
		return nil
	}
	cp := *s
	return &cp
}

// endSession removes a session.
func (c *credentials) endSession(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.sessions, hashValue(id))
}

// revokeUser ends every session and token of user.
func (c *credentials) revokeUser(user botrelay.UserID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, s := range c.sessions {
		if s.userID == user {
			delete(c.sessions, k)
		}
	}
	for k, t := range c.tokens {
		if t.UserID == user {
			delete(c.tokens, k)
		}
	}
}

// newToken creates a personal token for user and returns its record and
// its value, which is not kept.
func (c *credentials) newToken(user botrelay.UserID, desc string) (token, string) {
	value := TokenPrefix + auth.RandomToken(32)
	t := &token{ID: auth.RandomToken(9), UserID: user, Description: desc, CreatedAt: c.now()}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tokens[hashValue(value)] = t
	return *t, value
}

// token returns the record of a token value and records its use, or false.
func (c *credentials) token(value string) (token, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.tokens[hashValue(value)]
	if t == nil {
		return token{}, false
	}
	t.LastUsedAt = c.now()
	return *t, true
}

// userTokens lists user's tokens, oldest first.
func (c *credentials) userTokens(user botrelay.UserID) []token {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []token
	for _, t := range c.tokens {
		if t.UserID == user {
			out = append(out, *t)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// deleteToken removes user's token id; false when user has no such token.
func (c *credentials) deleteToken(user botrelay.UserID, id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, t := range c.tokens {
		if t.UserID == user && t.ID == id {
			delete(c.tokens, k)
			return true
		}
	}
	return false
}

// equalSecret compares two secrets in constant time.
func equalSecret(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
