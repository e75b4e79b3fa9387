package sqlstore

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
)

// TestCheckpointsRunBesideTheWriter: the writer's connection does not
// checkpoint (see newBatcher), so what it writes reaches the database file
// only through the checkpointer. Without it the file would not grow until
// the store closed, and the WAL would grow without end.
func TestCheckpointsRunBesideTheWriter(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "botrelay.db")
	s, err := Open(ctx, Options{Dialect: SQLite, DSN: path, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, q := range []string{
		`INSERT INTO accounts VALUES ('1000', 'Acme', 0)`,
		`INSERT INTO conversations (id, account_id, consumer_id, skill_id, state, created_at, updated_at) VALUES ('c1', '1000', 'u1', 1, 'OPEN', 0, 0)`,
		`INSERT INTO conversation_dialogs (id, conversation_id, position, type, state, created_at) VALUES ('c1', 'c1', 0, 'MAIN', 'OPEN', 0)`,
		`PRAGMA wal_checkpoint(TRUNCATE)`,
	} {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size()
	text := strings.Repeat("x", 2000)
	for range 500 {
		e := &botrelay.MessageEvent{ConversationID: "c1", DialogID: "c1", Type: "ContentEvent", OriginatorID: "u1", OriginatorPID: "u1",
			OriginatorRole: botrelay.ParticipantConsumer, Event: []byte(`{"type":"ContentEvent","message":"` + text + `"}`)}
		if err := s.AppendEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for size() < before+500*2000 {
		if time.Now().After(deadline) {
			t.Fatalf("the database file is %d bytes after 1 MB of events (%d before): nothing was checkpointed", size(), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
