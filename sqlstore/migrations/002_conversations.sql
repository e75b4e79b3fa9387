-- Messaging conversations kept by the hub: the conversation, its dialogs
-- (main, then an optional post-conversation survey), its participants and
-- the message events of each dialog. Times are Unix milliseconds. User and
-- skill ids carry no foreign key: the history outlives deleted users and
-- skills.

CREATE TABLE conversations (
	id           TEXT PRIMARY KEY,
	account_id   TEXT NOT NULL REFERENCES accounts (id),
	consumer_id  TEXT NOT NULL,
	skill_id     BIGINT NOT NULL,
	state        TEXT NOT NULL CHECK (state IN ('OPEN', 'CLOSE')),
	ttr_type     TEXT NOT NULL DEFAULT 'NORMAL',
	manual_ettr  BIGINT NOT NULL DEFAULT 0,
	close_reason TEXT NOT NULL DEFAULT '',
	context      TEXT NOT NULL DEFAULT '',
	created_at   BIGINT NOT NULL,
	updated_at   BIGINT NOT NULL,
	closed_at    BIGINT NOT NULL DEFAULT 0
);

CREATE INDEX conversations_state ON conversations (account_id, state, created_at);
CREATE INDEX conversations_consumer ON conversations (account_id, consumer_id, created_at);

-- last_sequence is the sequence of the dialog's newest event; appending an
-- event increments it in the same transaction, which serialises writers of
-- one dialog on both engines.
CREATE TABLE conversation_dialogs (
	id              TEXT PRIMARY KEY,
	conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
	position        INTEGER NOT NULL,
	type            TEXT NOT NULL CHECK (type IN ('MAIN', 'POST_SURVEY')),
	state           TEXT NOT NULL CHECK (state IN ('OPEN', 'CLOSE')),
	closed_by       TEXT NOT NULL DEFAULT '',
	last_sequence   BIGINT NOT NULL DEFAULT 0,
	created_at      BIGINT NOT NULL,
	closed_at       BIGINT NOT NULL DEFAULT 0
);

CREATE INDEX conversation_dialogs_conversation ON conversation_dialogs (conversation_id, position);

CREATE TABLE conversation_participants (
	conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
	position        INTEGER NOT NULL,
	user_id         BIGINT NOT NULL DEFAULT 0,
	consumer_id     TEXT NOT NULL DEFAULT '',
	role            TEXT NOT NULL,
	state           TEXT NOT NULL CHECK (state IN ('ACTIVE', 'SUGGESTED')),
	joined_at       BIGINT NOT NULL,
	PRIMARY KEY (conversation_id, position)
);

CREATE TABLE conversation_events (
	dialog_id        TEXT NOT NULL REFERENCES conversation_dialogs (id) ON DELETE CASCADE,
	sequence         BIGINT NOT NULL,
	conversation_id  TEXT NOT NULL,
	type             TEXT NOT NULL,
	originator_id    TEXT NOT NULL,
	originator_pid   TEXT NOT NULL,
	originator_role  TEXT NOT NULL,
	originator_name  TEXT NOT NULL DEFAULT '',
	originator_type  TEXT NOT NULL DEFAULT '',
	audience         TEXT NOT NULL DEFAULT '',
	event            TEXT NOT NULL,
	metadata         TEXT NOT NULL DEFAULT '',
	encoded_metadata TEXT NOT NULL DEFAULT '',
	created_at       BIGINT NOT NULL,
	PRIMARY KEY (dialog_id, sequence)
);

CREATE INDEX conversation_events_conversation ON conversation_events (conversation_id);
