-- The connector: the bots' configuration beyond the binding, their
-- per-conversation state, state history and conversation error log.

ALTER TABLE bots ADD COLUMN type TEXT NOT NULL DEFAULT 'AGENT';
ALTER TABLE bots ADD COLUMN conversation_type TEXT NOT NULL DEFAULT 'MESSAGING';
ALTER TABLE bots ADD COLUMN vendor TEXT NOT NULL DEFAULT '';
ALTER TABLE bots ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';
ALTER TABLE bots ADD COLUMN secrets TEXT NOT NULL DEFAULT '';
ALTER TABLE bots ADD COLUMN started BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE bot_conversations (
	bot_id          TEXT NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
	conversation_id TEXT NOT NULL,
	dialog_id       TEXT NOT NULL,
	consumer_id     TEXT NOT NULL DEFAULT '',
	skill_id        BIGINT NOT NULL DEFAULT 0,
	open            BOOLEAN NOT NULL,
	vendor_state    TEXT NOT NULL DEFAULT '',
	last_sequence   BIGINT NOT NULL DEFAULT 0,
	outbox          TEXT NOT NULL DEFAULT '',
	welcomed        BOOLEAN NOT NULL DEFAULT FALSE,
	escalations     INTEGER NOT NULL DEFAULT 0,
	created_at      BIGINT NOT NULL,
	updated_at      BIGINT NOT NULL,
	PRIMARY KEY (bot_id, conversation_id)
);

CREATE INDEX bot_conversations_open ON bot_conversations (bot_id, open);

CREATE TABLE bot_state_events (
	id       {{serial}},
	bot_id   TEXT NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
	state    TEXT NOT NULL,
	code     TEXT NOT NULL DEFAULT '',
	message  TEXT NOT NULL DEFAULT '',
	error_id TEXT NOT NULL DEFAULT '',
	at       BIGINT NOT NULL
);

CREATE INDEX bot_state_events_bot ON bot_state_events (bot_id, id);

CREATE TABLE bot_errors (
	seq             {{serial}},
	id              TEXT NOT NULL UNIQUE,
	bot_id          TEXT NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
	conversation_id TEXT NOT NULL DEFAULT '',
	code            TEXT NOT NULL,
	message         TEXT NOT NULL,
	details         TEXT NOT NULL DEFAULT '',
	at              BIGINT NOT NULL
);

CREATE INDEX bot_errors_bot ON bot_errors (bot_id, seq);
