-- The Third-Party Bots Public API (issue 19, spec F40 and §5). Commands are
-- queued per conversation and carried out by the bot that owns the
-- conversation, on whichever node it runs: this table is the queue. Only the
-- newest 200 commands of a bot are kept (CreateCommand trims).
CREATE TABLE public_api_commands (
	id              {{serial}},
	account_id      TEXT NOT NULL,
	bot_id          TEXT NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
	conversation_id TEXT NOT NULL,
	type            TEXT NOT NULL,
	payload         TEXT NOT NULL,
	state           TEXT NOT NULL,
	timeout_at      BIGINT NOT NULL,
	created_at      BIGINT NOT NULL,
	started_at      BIGINT NOT NULL DEFAULT 0,
	ended_at        BIGINT NOT NULL DEFAULT 0,
	error_cause     TEXT NOT NULL DEFAULT '',
	error_message   TEXT NOT NULL DEFAULT ''
);

CREATE INDEX public_api_commands_conversation ON public_api_commands (conversation_id, id);
CREATE INDEX public_api_commands_bot ON public_api_commands (bot_id, id);
CREATE INDEX public_api_commands_waiting ON public_api_commands (state, account_id, id);

-- The engagement attributes a Public API "sdes" command set on a
-- conversation, shown with the conversation and given to the bot's vendor
-- from then on.
CREATE TABLE conversation_sdes (
	conversation_id TEXT PRIMARY KEY,
	sdes            TEXT NOT NULL,
	updated_at      BIGINT NOT NULL
);

-- Public API logins (bearer tokens, stored as SHA-256 hashes) live in the
-- store so that every node of a cluster accepts them.
CREATE TABLE public_api_tokens (
	token_hash TEXT PRIMARY KEY,
	account_id TEXT NOT NULL,
	user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	expires_at BIGINT NOT NULL
);

CREATE INDEX public_api_tokens_user ON public_api_tokens (user_id);
