package botrelay

import (
	"context"
	"time"
)

// APISession is a cookie login session of the management API. The store
// keeps only SHA-256 hashes of the session id and of its CSRF token, so a
// copy of the database hands out no live session.
type APISession struct {
	// IDHash is the hex SHA-256 of the session id (the cookie value).
	IDHash string
	UserID UserID
	// CSRFHash is the hex SHA-256 of the CSRF token that state-changing
	// requests made with the cookie must send.
	CSRFHash  string
	CreatedAt time.Time
	ExpiresAt time.Time
	// LastSeenAt is when the session was last used, to a precision the
	// caller chooses (the API records it at most once a minute).
	LastSeenAt time.Time
}

// APIToken is a personal access token of the management API. The store keeps
// only the hex SHA-256 of the token's value.
type APIToken struct {
	// ID is the token's public id, shown in listings and used to revoke it.
	ID string
	// Hash is the hex SHA-256 of the token's value.
	Hash        string
	UserID      UserID
	Description string
	CreatedAt   time.Time
	// LastUsedAt is the zero time until the token is first used.
	LastUsedAt time.Time
}

// APISessionStore keeps the management API's login sessions and personal
// access tokens, so that they are valid on every node that shares the store
// and survive a restart. Times are the caller's clock, stored to the
// millisecond; a user's sessions and tokens go when the user is deleted.
type APISessionStore interface {
	// CreateAPISession stores a session. ECONFLICT when the id hash is taken;
	// EINVALID when the user does not exist or a hash is empty.
	CreateAPISession(ctx context.Context, s *APISession) error
	// APISession returns a session by id hash, or ENOTFOUND. It returns
	// expired sessions too: the caller compares ExpiresAt with its clock.
	APISession(ctx context.Context, idHash string) (*APISession, error)
	// TouchAPISession records a use of the session; a session that is gone
	// is not an error.
	TouchAPISession(ctx context.Context, idHash string, at time.Time) error
	// DeleteAPISession ends a session; a session that is gone is not an
	// error.
	DeleteAPISession(ctx context.Context, idHash string) error
	// DeleteExpiredAPISessions removes the sessions that expired before t
	// and returns how many.
	DeleteExpiredAPISessions(ctx context.Context, t time.Time) (int, error)

	// CreateAPIToken stores a token. ECONFLICT when its id or hash is
	// taken; EINVALID when the user does not exist or a field is empty.
	CreateAPIToken(ctx context.Context, t *APIToken) error
	// APIToken returns a token by hash, or ENOTFOUND.
	APIToken(ctx context.Context, hash string) (*APIToken, error)
	// TouchAPIToken records a use of the token; a token that is gone is not
	// an error.
	TouchAPIToken(ctx context.Context, hash string, at time.Time) error
	// APITokens lists a user's tokens, oldest first (then by id).
	APITokens(ctx context.Context, user UserID) ([]*APIToken, error)
	// DeleteAPIToken revokes the user's token id; ENOTFOUND when the user
	// has no such token.
	DeleteAPIToken(ctx context.Context, user UserID, id string) error

	// RevokeAPICredentials ends every session and token of user.
	RevokeAPICredentials(ctx context.Context, user UserID) error
}
