-- The account model: accounts, profiles with their permissions, skills,
-- users with their skills and API keys, and the bot records that bind bot
-- users. Times are Unix milliseconds.

CREATE TABLE accounts (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	created_at BIGINT NOT NULL
);

CREATE TABLE profiles (
	id          {{serial}},
	account_id  TEXT NOT NULL REFERENCES accounts (id),
	name        TEXT NOT NULL,
	description TEXT NOT NULL DEFAULT '',
	role        TEXT NOT NULL CHECK (role IN ('ADMIN', 'CAMPAIGN_MANAGER', 'AGENT_MANAGER', 'AGENT')),
	built_in    BOOLEAN NOT NULL DEFAULT FALSE,
	created_at  BIGINT NOT NULL,
	updated_at  BIGINT NOT NULL,
	UNIQUE (account_id, name)
);

CREATE TABLE profile_permissions (
	profile_id BIGINT NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
	permission TEXT NOT NULL,
	PRIMARY KEY (profile_id, permission)
);

CREATE TABLE skills (
	id          {{serial}},
	account_id  TEXT NOT NULL REFERENCES accounts (id),
	name        TEXT NOT NULL,
	description TEXT NOT NULL DEFAULT '',
	post_survey BOOLEAN NOT NULL DEFAULT FALSE,
	created_at  BIGINT NOT NULL,
	updated_at  BIGINT NOT NULL,
	UNIQUE (account_id, name)
);

-- login_key is the login name folded to lower case by the application (SQL
-- lower() differs between the engines outside ASCII); it carries uniqueness.
CREATE TABLE users (
	id              {{serial}},
	account_id      TEXT NOT NULL REFERENCES accounts (id),
	pid             TEXT NOT NULL UNIQUE,
	type            TEXT NOT NULL CHECK (type IN ('HUMAN', 'BOT')),
	login_name      TEXT NOT NULL,
	login_key       TEXT NOT NULL,
	nickname        TEXT NOT NULL,
	email           TEXT NOT NULL DEFAULT '',
	profile_id      BIGINT NOT NULL REFERENCES profiles (id),
	chat_slots      INTEGER NOT NULL DEFAULT 0,
	messaging_slots INTEGER NOT NULL DEFAULT 0,
	enabled         BOOLEAN NOT NULL DEFAULT TRUE,
	password_hash   TEXT NOT NULL DEFAULT '',
	created_at      BIGINT NOT NULL,
	updated_at      BIGINT NOT NULL,
	UNIQUE (account_id, login_key)
);

CREATE INDEX users_profile ON users (profile_id);

CREATE TABLE user_skills (
	user_id  BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	skill_id BIGINT NOT NULL REFERENCES skills (id) ON DELETE CASCADE,
	PRIMARY KEY (user_id, skill_id)
);

CREATE INDEX user_skills_skill ON user_skills (skill_id);

-- API key sets as LivePerson issues them. Both secrets are stored as hashes.
CREATE TABLE api_keys (
	app_key                  TEXT PRIMARY KEY,
	user_id                  BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	access_token             TEXT NOT NULL,
	description              TEXT NOT NULL DEFAULT '',
	secret_hash              TEXT NOT NULL,
	access_token_secret_hash TEXT NOT NULL,
	created_at               BIGINT NOT NULL,
	last_used_at             BIGINT NOT NULL DEFAULT 0
);

CREATE INDEX api_keys_user ON api_keys (user_id);

-- A bot user is bound to at most one bot: the UNIQUE on user_id is the rule.
CREATE TABLE bots (
	id         TEXT PRIMARY KEY,
	account_id TEXT NOT NULL REFERENCES accounts (id),
	name       TEXT NOT NULL,
	user_id    BIGINT NOT NULL UNIQUE REFERENCES users (id),
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
