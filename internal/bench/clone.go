package bench

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Replicated idle conversations (--idle-clone). Opening a conversation
// through the protocol takes several durable writes, a few hundred a
// second, so a million would take hours. The bench instead opens --idle
// conversations through the real protocol (the templates), stops the
// server, and copies each template's rows in the store under new ids until
// the store holds IdleClone open idle conversations: every table that
// holds an open conversation (the hub's conversation, its dialogs,
// participants, changes, engagement attributes and events, the bot's
// conversation state and outcome), each clone on the bot that holds its
// template. Then it starts the server on that store and measures what an
// operator restarting a node with that many open conversations lives
// with: /healthz, the bots ONLINE again, the server quiet (every bot
// resumed), and its memory.

// cloneTables copies a template conversation's rows; {ID} is replaced with
// the dialect's expression for a clone's id made from a template's id.
// Every statement reads its rows through bench_clone_src (template id and
// clone number g) joined to the table.
var cloneTables = []string{
	`INSERT INTO conversations (id, account_id, consumer_id, skill_id, state, ttr_type, manual_ettr, close_reason,
		context, created_at, updated_at, closed_at, consumer_name)
	SELECT {ID:c.id}, c.account_id, {ID:c.consumer_id}, c.skill_id, c.state, c.ttr_type, c.manual_ettr, c.close_reason,
		c.context, c.created_at, c.updated_at, c.closed_at, c.consumer_name
	FROM bench_clone_src s JOIN conversations c ON c.id = s.id`,
	`INSERT INTO conversation_dialogs (id, conversation_id, position, type, state, closed_by, last_sequence, created_at,
		closed_at, handoff_sequence)
	SELECT {ID:d.id}, {ID:d.conversation_id}, d.position, d.type, d.state, d.closed_by, d.last_sequence, d.created_at,
		d.closed_at, d.handoff_sequence
	FROM bench_clone_src s JOIN conversation_dialogs d ON d.conversation_id = s.id`,
	`INSERT INTO conversation_participants (conversation_id, position, user_id, consumer_id, role, state, joined_at)
	SELECT {ID:p.conversation_id}, p.position, p.user_id, CASE WHEN p.consumer_id = '' THEN '' ELSE {ID:p.consumer_id} END,
		p.role, p.state, p.joined_at
	FROM bench_clone_src s JOIN conversation_participants p ON p.conversation_id = s.id`,
	`INSERT INTO conversation_changes (conversation_id, kind, user_id, role, skill_id, from_skill_id, ttr_type, manual_ettr, value, at)
	SELECT {ID:x.conversation_id}, x.kind, x.user_id, x.role, x.skill_id, x.from_skill_id, x.ttr_type, x.manual_ettr, x.value, x.at
	FROM bench_clone_src s JOIN conversation_changes x ON x.conversation_id = s.id ORDER BY s.g, x.seq`,
	`INSERT INTO conversation_sdes (conversation_id, sdes, updated_at)
	SELECT {ID:x.conversation_id}, x.sdes, x.updated_at
	FROM bench_clone_src s JOIN conversation_sdes x ON x.conversation_id = s.id`,
	`INSERT INTO conversation_events (dialog_id, sequence, conversation_id, type, originator_id, originator_pid, originator_role,
		originator_name, originator_type, audience, event, metadata, encoded_metadata, created_at)
	SELECT {ID:e.dialog_id}, e.sequence, {ID:e.conversation_id}, e.type,
		CASE WHEN e.originator_id = c.consumer_id THEN {ID:e.originator_id} ELSE e.originator_id END,
		CASE WHEN e.originator_pid = c.consumer_id THEN {ID:e.originator_pid} ELSE e.originator_pid END,
		e.originator_role, e.originator_name, e.originator_type, e.audience, e.event, e.metadata, e.encoded_metadata, e.created_at
	FROM bench_clone_src s JOIN conversations c ON c.id = s.id JOIN conversation_dialogs d ON d.conversation_id = s.id
		JOIN conversation_events e ON e.dialog_id = d.id`,
	`INSERT INTO bot_conversations (bot_id, conversation_id, dialog_id, consumer_id, skill_id, open, vendor_state, last_sequence,
		outbox, welcomed, escalations, created_at, updated_at)
	SELECT b.bot_id, {ID:b.conversation_id}, {ID:b.dialog_id}, CASE WHEN b.consumer_id = '' THEN '' ELSE {ID:b.consumer_id} END,
		b.skill_id, b.open, b.vendor_state, b.last_sequence, b.outbox, b.welcomed, b.escalations, b.created_at, b.updated_at
	FROM bench_clone_src s JOIN bot_conversations b ON b.conversation_id = s.id`,
	`INSERT INTO bot_outcomes (bot_id, conversation_id, skill_id, outcome, updated_at)
	SELECT o.bot_id, {ID:o.conversation_id}, o.skill_id, o.outcome, o.updated_at
	FROM bench_clone_src s JOIN bot_conversations b ON b.conversation_id = s.id
		JOIN bot_outcomes o ON o.bot_id = b.bot_id AND o.conversation_id = s.id`,
}

// cloneID is the dialect's expression for clone g of the UUID in col: its
// first 24 characters (the first four groups) and g in 12 hex digits as the
// last group, so clones of different templates and clones of one template
// never meet, and ids keep the shape of the hub's.
func cloneID(postgres bool, col string) string {
	if postgres {
		return "(substr(" + col + ", 1, 24) || lpad(to_hex(s.g), 12, '0'))"
	}
	return "(substr(" + col + ", 1, 24) || printf('%012x', s.g))"
}

// expandClone replaces each {ID:col} of q with cloneID(col).
func expandClone(q string, postgres bool) string {
	var b strings.Builder
	for {
		i := strings.Index(q, "{ID:")
		if i < 0 {
			b.WriteString(q)
			return b.String()
		}
		j := strings.IndexByte(q[i:], '}')
		b.WriteString(q[:i])
		b.WriteString(cloneID(postgres, q[i+4:i+j]))
		q = q[i+j+1:]
	}
}

// cloneResult is what cloneIdle did.
type cloneResult struct {
	Templates, Clones int
	MaxPerBot         int
	Took              time.Duration
}

// openStore opens the stopped server's store: SQLite in its data folder,
// or its PostgreSQL schema.
func (s *server) openStore() (*sql.DB, bool, error) {
	if s.pg != nil {
		db, err := sql.Open("pgx", s.pg.dsn)
		return db, true, err
	}
	// A large page cache: every chunk inserts next to each of the
	// templates' rows in every index, far more pages than the default
	// 2 MB holds.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(s.data, "botrelay.db")+
		"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)&_pragma=cache_size(-524288)")
	if err == nil {
		db.SetMaxOpenConns(1)
	}
	return db, false, err
}

// cloneIdle copies the open conversations of the stopped server's store
// until it holds total of them; clones go in chunks of one transaction
// each, so progress shows and no transaction grows without bound.
func cloneIdle(ctx context.Context, db *sql.DB, postgres bool, total int, progress func(done int)) (cloneResult, error) {
	t0 := time.Now()
	var res cloneResult
	drop := func() { _, _ = db.ExecContext(context.Background(), "DROP TABLE IF EXISTS bench_clone_templates") }
	drop()
	defer drop()
	if _, err := db.ExecContext(ctx, `CREATE TABLE bench_clone_templates AS
		SELECT id, ROW_NUMBER() OVER (ORDER BY id) - 1 AS i FROM (SELECT DISTINCT b.conversation_id AS id
		FROM bot_conversations b JOIN conversations c ON c.id = b.conversation_id
		WHERE b.open AND c.state = 'OPEN') t`); err != nil {
		return res, fmt.Errorf("clone: list the templates: %w", err)
	}
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM bench_clone_templates").Scan(&res.Templates); err != nil {
		return res, err
	}
	if res.Templates == 0 {
		return res, fmt.Errorf("clone: no open conversation to replicate (open some with --idle)")
	}
	clones := total - res.Templates
	if clones <= 0 {
		return res, nil
	}
	const chunk = 5000 // clones per transaction
	for g0 := 0; g0 < clones; g0 += chunk {
		if err := cloneChunk(ctx, db, postgres, g0, min(g0+chunk, clones)); err != nil {
			return res, err
		}
		res.Clones = min(g0+chunk, clones)
		if progress != nil {
			progress(res.Clones)
		}
	}
	err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) AS n FROM bot_conversations WHERE open GROUP BY bot_id) t`).Scan(&res.MaxPerBot)
	res.Took = time.Since(t0)
	return res, err
}

// cloneChunk makes clones g0+1 … g1 in one transaction: clone g copies
// template (g-1) mod templates, i.e. clones go round the templates, so
// every bot gets its share of them.
func cloneChunk(ctx context.Context, db *sql.DB, postgres bool, g0, g1 int) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "CREATE TEMPORARY TABLE IF NOT EXISTS bench_clone_src (id TEXT NOT NULL, g BIGINT NOT NULL)"); err != nil {
		return fmt.Errorf("clone: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM bench_clone_src"); err != nil {
		return fmt.Errorf("clone: %w", err)
	}
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM bench_clone_templates").Scan(&n); err != nil {
		return err
	}
	src := fmt.Sprintf(`INSERT INTO bench_clone_src (id, g)
		WITH RECURSIVE r(g) AS (SELECT %d UNION ALL SELECT g + 1 FROM r WHERE g < %d)
		SELECT t.id, r.g FROM r JOIN bench_clone_templates t ON t.i = (r.g - 1) %% %d`, g0+1, g1, n)
	if _, err := tx.ExecContext(ctx, src); err != nil {
		return fmt.Errorf("clone: number the clones: %w", err)
	}
	for _, q := range cloneTables {
		if _, err := tx.ExecContext(ctx, expandClone(q, postgres)); err != nil {
			return fmt.Errorf("clone: %s: %w", strings.Fields(q)[2], err)
		}
	}
	return tx.Commit()
}
