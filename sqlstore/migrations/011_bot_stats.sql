-- Per-bot figures over time (GET /api/v1/bots/{id}/stats): one additive
-- counter per bot, bucket resolution (60 or 3600 seconds), bucket start
-- (Unix milliseconds) and metric name. Minute buckets are kept 24 hours and
-- hour buckets 30 days (internal/botstats prunes them). No foreign key to
-- bots: a deleted bot's figures age out with the others.

CREATE TABLE bot_stats (
	bot_id     TEXT NOT NULL,
	resolution INTEGER NOT NULL,
	bucket     BIGINT NOT NULL,
	metric     TEXT NOT NULL,
	value      BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (bot_id, resolution, bucket, metric)
);

CREATE INDEX bot_stats_age ON bot_stats (resolution, bucket);
