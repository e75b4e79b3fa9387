-- Signed webhooks (issue 19): an account's subscriptions to outbound
-- events, and one delivery row per event and subscription. The delivery row
-- is the outbox: the event's sources write it, the delivery loop claims it
-- with a lease (lease_owner, lease_until) so that two deliverers never send
-- the same attempt at once, and it stays as the delivery log. Times are
-- Unix milliseconds.

CREATE TABLE webhooks (
	id                {{serial}},
	account_id        TEXT NOT NULL REFERENCES accounts (id),
	url               TEXT NOT NULL,
	description       TEXT NOT NULL DEFAULT '',
	-- events is a comma-separated list of event kinds; empty for all.
	events            TEXT NOT NULL DEFAULT '',
	enabled           BOOLEAN NOT NULL DEFAULT TRUE,
	-- The secrets are sealed with the master key.
	secret            TEXT NOT NULL,
	old_secret        TEXT NOT NULL DEFAULT '',
	old_secret_until  BIGINT NOT NULL DEFAULT 0,
	created_at        BIGINT NOT NULL,
	updated_at        BIGINT NOT NULL
);

CREATE INDEX webhooks_account ON webhooks (account_id);

CREATE TABLE webhook_deliveries (
	id              {{serial}},
	webhook_id      BIGINT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
	event_id        TEXT NOT NULL,
	kind            TEXT NOT NULL,
	payload         TEXT NOT NULL,
	state           TEXT NOT NULL CHECK (state IN ('PENDING', 'DELIVERED', 'FAILED')),
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at BIGINT NOT NULL,
	lease_owner     TEXT NOT NULL DEFAULT '',
	lease_until     BIGINT NOT NULL DEFAULT 0,
	last_status     INTEGER NOT NULL DEFAULT 0,
	last_error      TEXT NOT NULL DEFAULT '',
	last_attempt_at BIGINT NOT NULL DEFAULT 0,
	delivered_at    BIGINT NOT NULL DEFAULT 0,
	created_at      BIGINT NOT NULL,
	UNIQUE (webhook_id, event_id)
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);

-- The built-in Admin profiles get the new permission webhook:manage, as
-- new accounts' Admin profiles do (botrelay.BuiltInProfiles).
INSERT INTO profile_permissions (profile_id, permission)
	SELECT id, 'webhook:manage' FROM profiles WHERE built_in AND role = 'ADMIN';
