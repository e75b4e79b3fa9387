package sqlstore_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/fence"
	"github.com/botrelay/botrelay/sqlstore"
)

// openPostgres opens a store on a fresh schema of BOTRELAY_TEST_POSTGRES,
// dropped at the end.
func openPostgres(t *testing.T) *sqlstore.Store {
	t.Helper()
	base := os.Getenv("BOTRELAY_TEST_POSTGRES")
	if base == "" {
		t.Skip("BOTRELAY_TEST_POSTGRES is not set; .ci/run sets it")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	schema := "t_" + randomHex(8)
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`) })
	s, err := sqlstore.Open(context.Background(), sqlstore.Options{Dialect: sqlstore.Postgres, DSN: withSearchPath(t, base, schema), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestPostgresFencedWritesInBatches: PostgreSQL group-commits the hot
// writes, fenced ones among them. Writes made under a lease the node lost
// are refused with fence.ErrLost, and the writes of the same moment under
// a lease it holds all commit, gapless.
func TestPostgresFencedWritesInBatches(t *testing.T) {
	s := openPostgres(t)
	ctx := context.Background()
	b := &botrelay.Bootstrap{
		Account:  &botrelay.Account{ID: "1000", Name: "Test account"},
		Profiles: botrelay.BuiltInProfiles(),
		Skills:   []*botrelay.Skill{{Name: botrelay.SkillNameBot}, {Name: botrelay.SkillNameHuman}},
		Admin:    &botrelay.User{Type: botrelay.UserHuman, LoginName: "admin", Enabled: true, ChatSlots: 1, MessagingSlots: 1},
	}
	if _, err := s.Bootstrap(ctx, b); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	cv := &botrelay.Conversation{
		ID: "00000000-0000-4000-8000-0000000000f1", AccountID: "1000", ConsumerID: "c0ffee00-0000-4000-8000-0000000000f1",
		SkillID: b.Skills[0].ID, State: botrelay.ConversationOpen, TTR: botrelay.TTRNormal, Context: json.RawMessage(`{}`),
		Dialogs: []botrelay.Dialog{{ID: "00000000-0000-4000-8000-0000000000f1", Type: botrelay.DialogMain, State: botrelay.DialogOpen, CreatedAt: now}},
	}
	if err := s.CreateConversation(ctx, cv); err != nil {
		t.Fatal(err)
	}
	held := fence.Token{Lease: "router", Node: "n1", Incarnation: "i1"}
	lost := fence.Token{Lease: "bot:gone", Node: "n1", Incarnation: "i1"}
	var ok bool
	var err error
	if held.Epoch, ok, err = s.AcquireLease(ctx, held.Lease, held.Node, held.Incarnation, time.Minute); err != nil || !ok {
		t.Fatalf("acquire router = %v, %v", ok, err)
	}
	if lost.Epoch, ok, err = s.AcquireLease(ctx, lost.Lease, lost.Node, lost.Incarnation, time.Minute); err != nil || !ok {
		t.Fatalf("acquire bot:gone = %v, %v", ok, err)
	}
	if err := s.ReleaseLease(ctx, lost); err != nil {
		t.Fatal(err)
	}
	var most atomic.Int64
	s.ObserveCommits(func(writes int, _ time.Duration) {
		for m := most.Load(); int64(writes) > m && !most.CompareAndSwap(m, int64(writes)); m = most.Load() {
		}
	})
	const n = 60
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok := held
			if i%3 == 2 {
				tok = lost
			}
			ev, _ := json.Marshal(map[string]string{"type": "ContentEvent", "message": fmt.Sprint(i)})
			errs[i] = s.AppendEvent(fence.With(ctx, tok), &botrelay.MessageEvent{
				ConversationID: cv.ID, DialogID: cv.Dialogs[0].ID, Type: "ContentEvent",
				OriginatorID: "x", OriginatorPID: "x", OriginatorRole: botrelay.ParticipantConsumer, Event: ev,
			})
		}()
	}
	wg.Wait()
	good := 0
	for i, err := range errs {
		switch {
		case i%3 == 2 && !errors.Is(err, fence.ErrLost):
			t.Errorf("append %d under a released lease = %v, want fence.ErrLost", i, err)
		case i%3 != 2 && err != nil:
			t.Errorf("append %d under a held lease = %v", i, err)
		case err == nil:
			good++
		}
	}
	evs, err := s.Events(ctx, cv.ID, "", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != good {
		t.Fatalf("%d events stored, want %d", len(evs), good)
	}
	for i, e := range evs {
		if e.Sequence != int64(i+1) {
			t.Fatalf("event %d has sequence %d", i, e.Sequence)
		}
	}
	t.Logf("%d writes, at most %d in one commit", n, most.Load())
}
