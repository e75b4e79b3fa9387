-- Post-conversation survey runs (F41): one row per survey dialog, with the
-- consumer's answers. No foreign key to bots: answers outlive a deleted bot.

CREATE TABLE surveys (
	seq             {{serial}},
	dialog_id       TEXT NOT NULL UNIQUE,
	bot_id          TEXT NOT NULL,
	conversation_id TEXT NOT NULL,
	consumer_id     TEXT NOT NULL DEFAULT '',
	skill_id        BIGINT NOT NULL DEFAULT 0,
	state           TEXT NOT NULL,
	answers         TEXT NOT NULL DEFAULT '[]',
	result          TEXT NOT NULL DEFAULT '',
	error           TEXT NOT NULL DEFAULT '',
	started_at      BIGINT NOT NULL,
	ended_at        BIGINT NOT NULL DEFAULT 0
);

CREATE INDEX surveys_bot ON surveys (bot_id, seq);
CREATE INDEX surveys_conversation ON surveys (conversation_id);
