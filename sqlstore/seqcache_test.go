package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"

	"github.com/botrelay/botrelay"
)

// The tests below are about SQLite's appends, whose next sequence the
// writer remembers (seqcache.go): what a user sees must be what the full
// statement gives, gapless sequences per dialog, whatever happened to the
// transaction or the table in between.

func openTestSQLite(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), Options{Dialect: SQLite, DSN: path, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testDialog(i int) botrelay.DialogID {
	return botrelay.DialogID(fmt.Sprintf("00000000-0000-4000-8000-0000000%05d", i))
}

func appendTo(ctx context.Context, s *Store, conv botrelay.ConversationID, d botrelay.DialogID, text string) (int64, error) {
	ev, _ := json.Marshal(map[string]string{"type": "ContentEvent", "contentType": "text/plain", "message": text})
	e := &botrelay.MessageEvent{ConversationID: conv, DialogID: d, Type: "ContentEvent",
		OriginatorID: "x", OriginatorPID: "x", OriginatorRole: botrelay.ParticipantConsumer, Event: ev}
	err := s.AppendEvent(ctx, e)
	return e.Sequence, err
}

// wantEvents checks that conv's events are exactly the sequences 1..n.
func wantEvents(t *testing.T, s *Store, conv botrelay.ConversationID, n int) {
	t.Helper()
	evs, err := s.Events(context.Background(), conv, "", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != n {
		t.Fatalf("conversation %s has %d events, want %d", conv, len(evs), n)
	}
	for i, e := range evs {
		if e.Sequence != int64(i+1) {
			t.Fatalf("conversation %s: event %d has sequence %d", conv, i+1, e.Sequence)
		}
	}
}

// A dialog named with a conversation it does not belong to is not found,
// also right after appends to it with its own conversation, and nothing is
// stored under it.
func TestAppendWrongConversationAfterAppends(t *testing.T) {
	ctx := context.Background()
	s := openTestSQLite(t, filepath.Join(t.TempDir(), "a.db"))
	a, b := testDialog(1), testDialog(2)
	createTestConversation(t, s, a)
	createTestConversation(t, s, b)
	for want := int64(1); want <= 3; want++ {
		if seq, err := appendTo(ctx, s, botrelay.ConversationID(a), a, "ok"); err != nil || seq != want {
			t.Fatalf("append = %d, %v; want %d", seq, err, want)
		}
	}
	if _, err := appendTo(ctx, s, botrelay.ConversationID(b), a, "wrong"); botrelay.ErrorCode(err) != botrelay.ENOTFOUND {
		t.Fatalf("append to dialog %s naming conversation %s: %v, want ENOTFOUND", a, b, err)
	}
	if seq, err := appendTo(ctx, s, botrelay.ConversationID(a), a, "ok"); err != nil || seq != 4 {
		t.Fatalf("append after the refused one = %d, %v; want 4", seq, err)
	}
	wantEvents(t, s, botrelay.ConversationID(a), 4)
	wantEvents(t, s, botrelay.ConversationID(b), 0)
}

// Events written to the table by someone else than the store's writer
// (another process on the data folder, a repair by hand) do not make an
// append fail or reuse a sequence: it takes the next free one.
func TestAppendAfterAnotherWriter(t *testing.T) {
	ctx := context.Background()
	s := openTestSQLite(t, filepath.Join(t.TempDir(), "a.db"))
	d := testDialog(1)
	createTestConversation(t, s, d)
	for want := int64(1); want <= 2; want++ {
		if seq, err := appendTo(ctx, s, botrelay.ConversationID(d), d, "ok"); err != nil || seq != want {
			t.Fatalf("append = %d, %v; want %d", seq, err, want)
		}
	}
	for seq := 3; seq <= 4; seq++ {
		if _, err := s.DB().ExecContext(ctx, `INSERT INTO conversation_events (dialog_id, sequence, conversation_id, type,
				originator_id, originator_pid, originator_role, event, created_at) VALUES (?, ?, ?, 'ContentEvent', 'y', 'y', 'CONSUMER', '{}', 1)`,
			string(d), seq, string(d)); err != nil {
			t.Fatal(err)
		}
	}
	if seq, err := appendTo(ctx, s, botrelay.ConversationID(d), d, "ok"); err != nil || seq != 5 {
		t.Fatalf("append after two events written elsewhere = %d, %v; want 5", seq, err)
	}
	wantEvents(t, s, botrelay.ConversationID(d), 5)
}

// With more dialogs than the writer remembers, appends still get each
// dialog's next sequence, and what it remembers stays within its bound.
func TestAppendManyDialogsBounded(t *testing.T) {
	defer func(n int) { maxSeqCache = n }(maxSeqCache)
	maxSeqCache = 3
	ctx := context.Background()
	s := openTestSQLite(t, filepath.Join(t.TempDir(), "a.db"))
	const dialogs, rounds = 8, 4
	for i := range dialogs {
		createTestConversation(t, s, testDialog(i))
	}
	for r := 1; r <= rounds; r++ {
		for i := range dialogs {
			d := testDialog(i)
			if seq, err := appendTo(ctx, s, botrelay.ConversationID(d), d, "m"); err != nil || seq != int64(r) {
				t.Fatalf("round %d, dialog %d: append = %d, %v; want %d", r, i, seq, err, r)
			}
		}
	}
	s.batch.writer.Lock()
	n := len(s.batch.seqs.next)
	s.batch.writer.Unlock()
	if n > maxSeqCache {
		t.Fatalf("the writer remembers %d dialogs, bound %d", n, maxSeqCache)
	}
	for i := range dialogs {
		wantEvents(t, s, botrelay.ConversationID(testDialog(i)), rounds)
	}
}

// A batch that rolls back (here: a write in it fails) is run again
// without the failing write; the appends it held keep the sequences they
// would have had, with no gap left by the rolled-back attempt.
func TestAppendSequencesAfterRollback(t *testing.T) {
	ctx := context.Background()
	s := openTestSQLite(t, filepath.Join(t.TempDir(), "a.db"))
	d := testDialog(1)
	createTestConversation(t, s, d)
	if seq, err := appendTo(ctx, s, botrelay.ConversationID(d), d, "first"); err != nil || seq != 1 {
		t.Fatalf("first append = %d, %v", seq, err)
	}
	// Hold the writer so that the next writes queue up and the batcher
	// runs them in one transaction: two appends, a failing write, two
	// more appends.
	s.batch.writer.Lock()
	type result struct {
		seq int64
		err error
	}
	results := make([]chan result, 5)
	var wg sync.WaitGroup
	for i := range results {
		results[i] = make(chan result, 1)
		want := int64(s.batch.pending.Load() + 1)
		wg.Go(func() {
			if i == 2 {
				err := s.batched(ctx, func(context.Context, conn) error { return fmt.Errorf("write %d fails", i) })
				results[i] <- result{0, err}
				return
			}
			seq, err := appendTo(ctx, s, botrelay.ConversationID(d), d, fmt.Sprint("m", i))
			results[i] <- result{seq, err}
		})
		// One at a time, so they queue in this order.
		waitFor(t, fmt.Sprintf("write %d is queued", i), func() bool { return s.batch.pending.Load() >= want })
	}
	s.batch.writer.Unlock()
	wg.Wait()
	want := []int64{2, 3, 0, 4, 5}
	for i, ch := range results {
		r := <-ch
		if i == 2 {
			if r.err == nil {
				t.Fatal("the failing write succeeded")
			}
			continue
		}
		if r.err != nil || r.seq != want[i] {
			t.Fatalf("append %d = %d, %v; want %d", i, r.seq, r.err, want[i])
		}
	}
	wantEvents(t, s, botrelay.ConversationID(d), 5)
	if seq, err := appendTo(ctx, s, botrelay.ConversationID(d), d, "last"); err != nil || seq != 6 {
		t.Fatalf("append after the batch = %d, %v; want 6", seq, err)
	}
}
