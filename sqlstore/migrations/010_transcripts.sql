-- Conversation search and transcripts (issue 18). conversation_changes is
-- a conversation's history of system events (participants joining and
-- leaving, agents suggested, transfers, TTR changes, new dialogs, the
-- close), written by UpdateConversation in the same transaction as the
-- change; participants who left are otherwise forgotten. consumer_name is
-- the consumer's name from the conversation context, for the search.
-- The search walks conversations_started newest first and stops at a
-- full page; the other indexes answer its per-row checks (bot,
-- participant, transfers) and the error log of one conversation.

CREATE TABLE conversation_changes (
	seq             {{serial}},
	conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
	kind            TEXT NOT NULL,
	user_id         BIGINT NOT NULL DEFAULT 0,
	role            TEXT NOT NULL DEFAULT '',
	skill_id        BIGINT NOT NULL DEFAULT 0,
	from_skill_id   BIGINT NOT NULL DEFAULT 0,
	ttr_type        TEXT NOT NULL DEFAULT '',
	manual_ettr     BIGINT NOT NULL DEFAULT 0,
	value           TEXT NOT NULL DEFAULT '',
	at              BIGINT NOT NULL
);

CREATE INDEX conversation_changes_conversation ON conversation_changes (conversation_id, seq);
CREATE INDEX conversation_changes_user ON conversation_changes (user_id, conversation_id);

ALTER TABLE conversations ADD COLUMN consumer_name TEXT NOT NULL DEFAULT '';

CREATE INDEX conversations_started ON conversations (account_id, created_at, id);
CREATE INDEX conversation_participants_user ON conversation_participants (user_id, conversation_id);
CREATE INDEX bot_conversations_conversation ON bot_conversations (conversation_id);
CREATE INDEX bot_errors_conversation ON bot_errors (conversation_id, seq);
