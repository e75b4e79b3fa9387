-- Appending a message event is the store's hottest write (two per consumer
-- message), and each page a SQLite commit changes is written to the WAL
-- again. An append changed four pages: the dialog's row
-- (last_sequence), the events table, its primary key and its
-- conversation_id index. Events are now found by conversation through
-- conversation_dialogs and the primary key, so the conversation_id index
-- goes. On SQLite the next sequence is also read from the primary key
-- (MAX(sequence) + 1, safe because the store runs SQLite's writes one at a
-- time), so conversation_dialogs.last_sequence is no longer kept there;
-- PostgreSQL, whose appends run concurrently, keeps allocating with it.

DROP INDEX conversation_events_conversation;
