package botrelay

import (
	"context"
	"time"
)

// HubStore keeps what the embedded hub must share between the nodes of a
// cluster and keep across restarts: agent sessions, uploaded files and the
// hub's signing key. Secrets are never stored in clear: sessions are found
// by the SHA-256 of their tokens, and the signing key is sealed by the
// caller.
type HubStore interface {
	// CreateAgentSession stores a new session and ends every other live
	// session of the same user with AgentSessionReplaced, in one
	// transaction: a user has one session. ECONFLICT when a hash is taken.
	CreateAgentSession(ctx context.Context, s *AgentSession) error
	// AgentSession returns a session by the hash of its bearer, ended or
	// not (the caller checks Ended and Expires), or ENOTFOUND.
	AgentSession(ctx context.Context, bearerHash string) (*AgentSession, error)
	// AgentSessions returns the stored sessions among the bearer hashes,
	// ended or not, in any order; hashes without a session are left out.
	// One call reads many sessions (a node re-checks its agents' sessions
	// with it).
	AgentSessions(ctx context.Context, bearerHashes []string) ([]*AgentSession, error)
	// AgentSessionByCookie returns a session by the hash of its cookie,
	// like AgentSession.
	AgentSessionByCookie(ctx context.Context, cookieHash string) (*AgentSession, error)
	// ExtendAgentSession sets the expiry of a live session. ENOTFOUND when
	// the session is absent or ended.
	ExtendAgentSession(ctx context.Context, bearerHash string, expires time.Time) error
	// EndAgentSession ends a live session with the reason (AgentSessionLoggedOut
	// or AgentSessionReplaced). ENOTFOUND when it is absent or already ended.
	EndAgentSession(ctx context.Context, bearerHash, reason string) error
	// DeleteAgentSessions removes the sessions that expired before the
	// time, ended or not, and returns how many.
	DeleteAgentSessions(ctx context.Context, expiredBefore time.Time) (int, error)

	// PutHubFile stores an uploaded file. ECONFLICT when the path is taken.
	PutHubFile(ctx context.Context, f *HubFile) error
	// HubFile returns a file of the account by its relative path, or
	// ENOTFOUND.
	HubFile(ctx context.Context, account AccountID, path string) (*HubFile, error)

	// HubKey returns the sealed key stored under the name, or ENOTFOUND.
	HubKey(ctx context.Context, name string) (string, error)
	// PutHubKeyOnce stores sealed under the name unless a key is already
	// there, and returns the key that is stored afterwards: when nodes
	// start at the same time, they all get the first one's key.
	PutHubKeyOnce(ctx context.Context, name, sealed string) (string, error)
	// DeleteHubKey removes the key of the name; absent is not an error.
	DeleteHubKey(ctx context.Context, name string) error
}

// Why an agent session ended (AgentSession.Ended); "" while it is live.
const (
	AgentSessionLoggedOut = "logout"
	AgentSessionReplaced  = "replaced"
)

// AgentSession is a logged-in agent (or bot user) of the hub, as stored:
// the tokens appear only as hex SHA-256 hashes.
type AgentSession struct {
	BearerHash string
	CookieHash string
	CSRFHash   string
	AccountID  AccountID
	UserID     UserID
	CreatedAt  time.Time
	ExpiresAt  time.Time
	// Ended is "" for a live session, else AgentSessionLoggedOut or
	// AgentSessionReplaced.
	Ended string
}

// HubFile is a file a consumer uploaded to the hub.
type HubFile struct {
	AccountID AccountID
	// Path is "<consumerId>/<random>.<ext>", the relativePath clients use.
	Path       string
	ConsumerID ConsumerID
	Content    []byte
	CreatedAt  time.Time
}
