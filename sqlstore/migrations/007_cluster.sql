-- Cluster mode on PostgreSQL (issue 17, docs/cluster.md). Each node of a
-- cluster heartbeats a row; it is alive while expires_at (Unix ms by the
-- database's clock) is in the future. A lease gives one node (one process:
-- its incarnation) a right — running one bot ("bot:<id>") or routing the
-- hub ("router") — until it expires; epoch grows each time the lease
-- changes hands and fences the writes made under it. Rows are never
-- deleted, so an epoch never goes back. SQLite has the tables too (one
-- schema), but cluster mode refuses to start on it.
CREATE TABLE cluster_nodes (
	id           TEXT PRIMARY KEY,
	incarnation  TEXT NOT NULL,
	address      TEXT NOT NULL,
	started_at   BIGINT NOT NULL,
	heartbeat_at BIGINT NOT NULL,
	expires_at   BIGINT NOT NULL
);

CREATE TABLE cluster_leases (
	name        TEXT PRIMARY KEY,
	node_id     TEXT NOT NULL,
	incarnation TEXT NOT NULL,
	epoch       BIGINT NOT NULL,
	acquired_at BIGINT NOT NULL,
	expires_at  BIGINT NOT NULL
);
CREATE INDEX cluster_leases_node ON cluster_leases (node_id, incarnation);
