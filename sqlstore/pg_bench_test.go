package sqlstore_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/sqlstore"
)

// pgBenchStore opens a PostgreSQL store on a fresh schema of
// BOTRELAY_BENCH_POSTGRES (a server set up for measuring: fsync and
// synchronous_commit on), with an account, a skill and one open
// conversation; it skips without it.
func pgBenchStore(b *testing.B) (*sqlstore.Store, *botrelay.Conversation) {
	b.Helper()
	base := os.Getenv("BOTRELAY_BENCH_POSTGRES")
	if base == "" {
		b.Skip("BOTRELAY_BENCH_POSTGRES is not set (a postgres:// URL of a server to measure on)")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { admin.Close() })
	schema := "bench_" + randomHex(6)
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`) })
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, sqlstore.Options{Dialect: sqlstore.Postgres, DSN: withSearchPath(b, base, schema),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	boot := &botrelay.Bootstrap{Account: &botrelay.Account{ID: "1000", Name: "Bench"}, Profiles: botrelay.BuiltInProfiles(),
		Skills: []*botrelay.Skill{{Name: botrelay.SkillNameBot}, {Name: botrelay.SkillNameHuman}},
		Admin:  &botrelay.User{Type: botrelay.UserHuman, LoginName: "admin", Enabled: true}}
	if _, err := s.Bootstrap(ctx, boot); err != nil {
		b.Fatal(err)
	}
	return s, benchConversation(b, s, boot.Skills[0].ID, 1)
}

// BenchmarkPostgresAppendEvent is one consumer message committed on
// PostgreSQL by a lone writer: its latency, round trips included.
func BenchmarkPostgresAppendEvent(b *testing.B) {
	s, cv := pgBenchStore(b)
	ev := json.RawMessage(`{"type":"ContentEvent","contentType":"text/plain","message":"I would like to change the delivery address of my order"}`)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		e := &botrelay.MessageEvent{ConversationID: cv.ID, DialogID: botrelay.DialogID(cv.ID), Type: "ContentEvent",
			OriginatorID: string(cv.ConsumerID), OriginatorPID: string(cv.ConsumerID), OriginatorRole: botrelay.ParticipantConsumer, Event: ev}
		if err := s.AppendEvent(ctx, e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPostgresAppendEventParallel appends from 64 goroutines to their
// own conversations, as the hub does under load.
func BenchmarkPostgresAppendEventParallel(b *testing.B) {
	s, cv := pgBenchStore(b)
	ev := json.RawMessage(`{"type":"ContentEvent","contentType":"text/plain","message":"hello"}`)
	convs := make(chan *botrelay.Conversation, 64)
	for i := range 64 {
		convs <- benchConversation(b, s, cv.SkillID, i+2)
	}
	ctx := context.Background()
	b.SetParallelism(32)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c := <-convs
		for pb.Next() {
			e := &botrelay.MessageEvent{ConversationID: c.ID, DialogID: botrelay.DialogID(c.ID), Type: "ContentEvent",
				OriginatorID: string(c.ConsumerID), OriginatorPID: string(c.ConsumerID), OriginatorRole: botrelay.ParticipantConsumer, Event: ev}
			if err := s.AppendEvent(ctx, e); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
