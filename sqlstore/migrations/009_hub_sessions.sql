-- The hub's agent sessions, uploaded files and signing key live in the store
-- (issue 17), so that every node of a cluster knows them and a restart keeps
-- them.

-- Agent sessions. The tokens are never stored: a session is found by the
-- hex SHA-256 of its bearer or of its Session_id cookie, and its csrf value
-- is checked against a hash too. ended is '' while the session is live, else
-- why it ended ('logout', 'replaced'); rows go once they expire.
CREATE TABLE agent_sessions (
	bearer_hash TEXT PRIMARY KEY,
	cookie_hash TEXT NOT NULL UNIQUE,
	csrf_hash   TEXT NOT NULL,
	account_id  TEXT NOT NULL REFERENCES accounts (id),
	user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at  BIGINT NOT NULL,
	expires_at  BIGINT NOT NULL,
	ended       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX agent_sessions_user ON agent_sessions (user_id, ended);
CREATE INDEX agent_sessions_expiry ON agent_sessions (expires_at);

-- Files consumers uploaded, by their relative path "<consumerId>/<random>.<ext>".
-- Files of older versions stay under DataDir/files and are still served.
CREATE TABLE hub_files (
	account_id  TEXT NOT NULL REFERENCES accounts (id),
	path        TEXT NOT NULL,
	consumer_id TEXT NOT NULL,
	content     {{blob}} NOT NULL,
	created_at  BIGINT NOT NULL,
	PRIMARY KEY (account_id, path)
);

-- Keys every node must share (the consumer-token and file-link signing
-- key), sealed with the master key.
CREATE TABLE hub_keys (
	name       TEXT PRIMARY KEY,
	sealed     TEXT NOT NULL,
	created_at BIGINT NOT NULL
);
