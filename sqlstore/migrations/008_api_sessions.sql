-- The management API's login sessions and personal access tokens (issue
-- 17), kept in the store so that every node of a cluster accepts them and
-- they survive a restart. Only SHA-256 hashes (hex) of the session id, its
-- CSRF token and the token value are stored. Times are Unix milliseconds.

CREATE TABLE api_sessions (
	id_hash      TEXT PRIMARY KEY,
	user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	csrf_hash    TEXT NOT NULL,
	created_at   BIGINT NOT NULL,
	expires_at   BIGINT NOT NULL,
	last_seen_at BIGINT NOT NULL
);

CREATE INDEX api_sessions_user ON api_sessions (user_id);
CREATE INDEX api_sessions_expires ON api_sessions (expires_at);

CREATE TABLE api_tokens (
	token_hash   TEXT PRIMARY KEY,
	id           TEXT NOT NULL UNIQUE,
	user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	description  TEXT NOT NULL DEFAULT '',
	created_at   BIGINT NOT NULL,
	last_used_at BIGINT NOT NULL DEFAULT 0
);

CREATE INDEX api_tokens_user ON api_tokens (user_id, created_at);
