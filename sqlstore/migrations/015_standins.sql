-- Stand-ins, fallbacks and traffic splitting (issue 19, docs/standins.md).

-- How each bot's part in each conversation it got ended, for comparing the
-- bots that split a skill: OPEN while the bot holds it, then CLOSED,
-- TRANSFERRED, ESCALATED or HANDED_BACK.
CREATE TABLE bot_outcomes (
	bot_id          TEXT NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
	conversation_id TEXT NOT NULL,
	skill_id        BIGINT NOT NULL,
	outcome         TEXT NOT NULL,
	updated_at      BIGINT NOT NULL,
	PRIMARY KEY (bot_id, conversation_id)
);

CREATE INDEX bot_outcomes_skill ON bot_outcomes (skill_id, bot_id);

-- The fallback vendor's opaque state of a conversation, kept apart from the
-- primary vendor's (bot_conversations.vendor_state).
CREATE TABLE bot_fallback_states (
	bot_id          TEXT NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
	conversation_id TEXT NOT NULL,
	state           TEXT NOT NULL,
	updated_at      BIGINT NOT NULL,
	PRIMARY KEY (bot_id, conversation_id)
);
