package sqlstore

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/botrelay/botrelay"
)

// TestEventLogMigration upgrades a data folder written before migration 5
// (sequences from conversation_dialogs, an index on conversation_id): the
// history is still there, in order, and the next message gets the next
// sequence.
func TestEventLogMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "botrelay.db")
	db, err := sql.Open("sqlite", sqliteDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	migs, err := loadMigrations(SQLite)
	if err != nil {
		t.Fatal(err)
	}
	old := []string{`CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`}
	for _, m := range migs[:4] {
		old = append(old, m.sql, `INSERT INTO schema_migrations VALUES (`+strconv.Itoa(m.version)+`, '`+m.name+`', 0)`)
	}
	old = append(old,
		`INSERT INTO accounts VALUES ('1000', 'Old', 0)`,
		`INSERT INTO conversations (id, account_id, consumer_id, skill_id, state, created_at, updated_at) VALUES ('c1', '1000', 'u1', 1, 'OPEN', 0, 0)`,
		`INSERT INTO conversation_dialogs (id, conversation_id, position, type, state, last_sequence, created_at) VALUES ('c1', 'c1', 0, 'MAIN', 'OPEN', 2, 0)`,
		`INSERT INTO conversation_events (dialog_id, sequence, conversation_id, type, originator_id, originator_pid, originator_role, event, created_at)
			VALUES ('c1', 1, 'c1', 'ContentEvent', 'u1', 'u1', 'CONSUMER', '{"type":"ContentEvent","message":"hello"}', 0),
			       ('c1', 2, 'c1', 'ContentEvent', 'b1', 'b1', 'ASSIGNED_AGENT', '{"type":"ContentEvent","message":"hi there"}', 0)`)
	for _, q := range old {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("build the old data folder: %v\n%s", err, q)
		}
	}
	db.Close()

	s, err := Open(ctx, Options{Dialect: SQLite, DSN: path, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.SchemaVersion(ctx); err != nil || v < 5 {
		t.Fatalf("schema version %d, %v", v, err)
	}
	e := &botrelay.MessageEvent{ConversationID: "c1", DialogID: "c1", Type: "ContentEvent", OriginatorID: "u1", OriginatorPID: "u1",
		OriginatorRole: botrelay.ParticipantConsumer, Event: []byte(`{"type":"ContentEvent","message":"still there?"}`)}
	if err := s.AppendEvent(ctx, e); err != nil {
		t.Fatal(err)
	}
	if e.Sequence != 3 {
		t.Fatalf("the first message after the upgrade got sequence %d, want 3", e.Sequence)
	}
	evs, err := s.Events(ctx, "c1", "", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range evs {
		got = append(got, strconv.Itoa(int(ev.Sequence))+" "+string(ev.Event))
	}
	want := []string{`1 {"type":"ContentEvent","message":"hello"}`, `2 {"type":"ContentEvent","message":"hi there"}`,
		`3 {"type":"ContentEvent","message":"still there?"}`}
	if len(got) != len(want) {
		t.Fatalf("history after the upgrade: %q", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("history after the upgrade: %q, want %q", got, want)
		}
	}
}
