-- Canned replies (issue 18): ready-made answers of an account that human
-- agents insert into the agent console. title_key is the title folded to
-- lower case by the application, so titles are unique case-insensitively.
-- Times are Unix milliseconds.
CREATE TABLE canned_replies (
	id         {{serial}},
	account_id TEXT NOT NULL REFERENCES accounts (id),
	title      TEXT NOT NULL,
	title_key  TEXT NOT NULL,
	text       TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL,
	UNIQUE (account_id, title_key)
);

-- The built-in profiles of existing accounts get the new permissions as
-- fresh accounts do: Admin reads and manages canned replies, Agent and
-- Agent Manager read them.
INSERT INTO profile_permissions (profile_id, permission)
	SELECT id, 'canned:view' FROM profiles
	WHERE built_in = TRUE AND role IN ('ADMIN', 'AGENT_MANAGER', 'AGENT');
INSERT INTO profile_permissions (profile_id, permission)
	SELECT id, 'canned:manage' FROM profiles WHERE built_in = TRUE AND role = 'ADMIN';
