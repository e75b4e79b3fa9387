package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
)

// TestPostgresBatchDeadlockRetried: a batch holds the rows of every dialog
// it appended to until it commits. Another transaction that holds one of
// them and then waits for another makes a deadlock; when PostgreSQL aborts
// the batch for it, the batch runs again and its callers never see the
// deadlock.
func TestPostgresBatchDeadlockRetried(t *testing.T) {
	base := os.Getenv("BOTRELAY_TEST_POSTGRES")
	if base == "" {
		t.Skip("BOTRELAY_TEST_POSTGRES is not set; .ci/run sets it")
	}
	ctx := context.Background()
	s, admin := openTestPostgres(t, base)
	d := make([]botrelay.DialogID, 3)
	for i := range d {
		d[i] = botrelay.DialogID(fmt.Sprintf("00000000-0000-4000-8000-0000000000d%d", i))
		createTestConversation(t, s, d[i])
	}
	// lockRow holds id's row in a transaction of its own and tells its
	// backend's pid.
	lockRow := func(id botrelay.DialogID) (*sql.Tx, int) {
		tx, err := admin.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		var pid int
		if err := tx.QueryRow(`SELECT pg_backend_pid() FROM conversation_dialogs WHERE id = $1 FOR UPDATE`, string(id)).Scan(&pid); err != nil {
			t.Fatal(err)
		}
		return tx, pid
	}
	// y holds d0, so the first append (to d0, committed alone on its
	// caller's goroutine: batch_direct.go) waits and the next two appends
	// queue behind it; x holds d2.
	y, ypid := lockRow(d[0])
	x, xpid := lockRow(d[2])
	_, _ = x.Exec(`SET LOCAL deadlock_timeout = '30s'`) // x is not the one PostgreSQL aborts (where allowed)
	results := make(chan error, 3)
	appendTo := func(id botrelay.DialogID) {
		ev, _ := json.Marshal(map[string]string{"message": string(id)})
		results <- s.AppendEvent(ctx, &botrelay.MessageEvent{ConversationID: botrelay.ConversationID(id), DialogID: id,
			Type: "ContentEvent", OriginatorID: "x", OriginatorPID: "x", OriginatorRole: botrelay.ParticipantConsumer, Event: ev})
	}
	go appendTo(d[0])
	waitFor(t, "the first batch waits for d0", func() bool { return blocked(t, admin, ypid) })
	go appendTo(d[1])
	waitFor(t, "an append queued", func() bool { return s.batch.pending.Load() == 1 })
	go appendTo(d[2])
	waitFor(t, "two appends queued", func() bool { return s.batch.pending.Load() == 2 })
	// The next batch appends to d1, then waits for x's d2.
	if err := y.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-results; err != nil {
		t.Fatalf("append to d0: %v", err)
	}
	waitFor(t, "the second batch waits for d2", func() bool { return blocked(t, admin, xpid) })
	// x now waits for the batch's d1: a deadlock, which the batch (waiting
	// first) finds and loses.
	xdone := make(chan error, 1)
	go func() {
		_, err := x.Exec(`UPDATE conversation_dialogs SET closed_by = closed_by WHERE id = $1`, string(d[1]))
		if err == nil {
			err = x.Commit()
		}
		xdone <- err
	}()
	for range 2 {
		if err := <-results; err != nil {
			t.Errorf("append after a deadlock = %v; want it retried", err)
		}
	}
	if err := <-xdone; err != nil {
		t.Errorf("the other transaction: %v", err)
	}
	for _, id := range d {
		evs, err := s.Events(ctx, botrelay.ConversationID(id), id, 0, 0)
		if err != nil || len(evs) != 1 || evs[0].Sequence != 1 {
			t.Errorf("dialog %s: %d events (%v); want one, sequence 1", id, len(evs), err)
		}
	}
}

// openTestPostgres opens a store on a fresh schema of base, and a pool
// working in that schema.
func openTestPostgres(t *testing.T, base string) (*Store, *sql.DB) {
	t.Helper()
	setup, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { setup.Close() })
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	if _, err := setup.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { setup.Exec(`DROP SCHEMA ` + schema + ` CASCADE`) })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	s, err := Open(context.Background(), Options{Dialect: Postgres, DSN: u.String(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close(); s.Close() })
	return s, admin
}

// createTestConversation stores an open conversation whose id is its main
// dialog's, on an account made for it.
func createTestConversation(t *testing.T, s *Store, d botrelay.DialogID) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Account(ctx, "1000"); err != nil {
		b := &botrelay.Bootstrap{
			Account:  &botrelay.Account{ID: "1000", Name: "Test account"},
			Profiles: botrelay.BuiltInProfiles(),
			Skills:   []*botrelay.Skill{{Name: botrelay.SkillNameBot}, {Name: botrelay.SkillNameHuman}},
			Admin:    &botrelay.User{Type: botrelay.UserHuman, LoginName: "admin", Enabled: true, ChatSlots: 1, MessagingSlots: 1},
		}
		if _, err := s.Bootstrap(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	skills, err := s.Skills(ctx, "1000")
	if err != nil || len(skills) == 0 {
		t.Fatalf("skills: %v", err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	cv := &botrelay.Conversation{
		ID: botrelay.ConversationID(d), AccountID: "1000", ConsumerID: "c0ffee00-0000-4000-8000-0000000000c1",
		SkillID: skills[0].ID, State: botrelay.ConversationOpen, TTR: botrelay.TTRNormal, Context: json.RawMessage(`{}`),
		Dialogs: []botrelay.Dialog{{ID: d, Type: botrelay.DialogMain, State: botrelay.DialogOpen, CreatedAt: now}},
	}
	if err := s.CreateConversation(ctx, cv); err != nil {
		t.Fatal(err)
	}
}

// blocked reports whether some backend waits for a lock pid holds.
func blocked(t *testing.T, db *sql.DB, pid int) bool {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid))`, pid).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// waitFor polls cond until it holds, for up to 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

// TestPostgresBatcherReconnects: when PostgreSQL ends the batcher's
// connection (an administrator, a restart), the next writes take a new one
// and succeed.
func TestPostgresBatcherReconnects(t *testing.T) {
	base := os.Getenv("BOTRELAY_TEST_POSTGRES")
	if base == "" {
		t.Skip("BOTRELAY_TEST_POSTGRES is not set; .ci/run sets it")
	}
	ctx := context.Background()
	s, admin := openTestPostgres(t, base)
	id := botrelay.DialogID("00000000-0000-4000-8000-0000000000e1")
	createTestConversation(t, s, id)
	appendOne := func() (int64, error) {
		ev := &botrelay.MessageEvent{ConversationID: botrelay.ConversationID(id), DialogID: id, Type: "ContentEvent",
			OriginatorID: "x", OriginatorPID: "x", OriginatorRole: botrelay.ParticipantConsumer, Event: json.RawMessage(`{}`)}
		err := s.AppendEvent(ctx, ev)
		return ev.Sequence, err
	}
	for want := int64(1); want <= 3; want++ {
		var pid int
		if err := s.batch.conn.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
			t.Fatal(err)
		}
		var ok bool
		if err := admin.QueryRow(`SELECT pg_terminate_backend($1)`, pid).Scan(&ok); err != nil || !ok {
			t.Fatalf("terminate the batcher's backend: %v, %v", ok, err)
		}
		waitFor(t, "the backend is gone", func() bool {
			var n int
			_ = admin.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE pid = $1`, pid).Scan(&n)
			return n == 0
		})
		if seq, err := appendOne(); err != nil || seq != want {
			t.Fatalf("append after the connection was ended = %d, %v; want %d, nil", seq, err, want)
		}
	}
}
