-- Appending a message event is the store's hottest write (two per consumer
-- message), and on SQLite each page a commit changes is written to the WAL
-- again. Before this migration an append changed four pages: the dialog's
-- row (last_sequence), the events table, its primary key and its
-- conversation_id index. Now the events live in a table clustered on
-- (dialog_id, sequence), so an append changes the one page where the
-- dialog's events end; the next sequence is read from that page
-- (MAX(sequence) + 1, safe because the store runs SQLite writes one at a
-- time), so conversation_dialogs.last_sequence is no longer kept on
-- SQLite; and events are found by conversation through
-- conversation_dialogs, so the conversation_id index goes.

CREATE TABLE conversation_events_new (
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
) WITHOUT ROWID;

INSERT INTO conversation_events_new (dialog_id, sequence, conversation_id, type, originator_id, originator_pid,
		originator_role, originator_name, originator_type, audience, event, metadata, encoded_metadata, created_at)
	SELECT dialog_id, sequence, conversation_id, type, originator_id, originator_pid,
		originator_role, originator_name, originator_type, audience, event, metadata, encoded_metadata, created_at
	FROM conversation_events;

DROP TABLE conversation_events;

ALTER TABLE conversation_events_new RENAME TO conversation_events;
