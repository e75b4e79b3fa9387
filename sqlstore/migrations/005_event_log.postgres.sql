-- Events are found by conversation through conversation_dialogs (the
-- primary key (dialog_id, sequence) serves them), so appending an event no
-- longer maintains a second index. PostgreSQL keeps allocating sequences
-- with conversation_dialogs.last_sequence, which serialises concurrent
-- writers of one dialog; the SQLite variant of this migration explains why
-- SQLite does without.

DROP INDEX conversation_events_conversation;
