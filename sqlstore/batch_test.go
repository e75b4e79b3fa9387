package sqlstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/sqlstore"
)

func appendText(ctx context.Context, s *sqlstore.Store, c *botrelay.Conversation, text string) (*botrelay.MessageEvent, error) {
	ev, _ := json.Marshal(map[string]string{"type": "ContentEvent", "contentType": "text/plain", "message": text})
	e := &botrelay.MessageEvent{ConversationID: c.ID, DialogID: botrelay.DialogID(c.ID), Type: "ContentEvent",
		OriginatorID: string(c.ConsumerID), OriginatorPID: string(c.ConsumerID), OriginatorRole: botrelay.ParticipantConsumer, Event: ev}
	return e, s.AppendEvent(ctx, e)
}

// commitCounter counts the store's commits and the writes they held.
type commitCounter struct{ commits, writes atomic.Int64 }

func (c *commitCounter) observe(writes int, _ time.Duration) {
	c.commits.Add(1)
	c.writes.Add(int64(writes))
}

// A write made while no other is under way commits in a transaction of its
// own, and its sequence is the dialog's next one.
func TestLoneWritesCommitAlone(t *testing.T) {
	s, cv := benchStore(t)
	var cc commitCounter
	s.ObserveCommits(cc.observe)
	for i := 1; i <= 5; i++ {
		e, err := appendText(context.Background(), s, cv, fmt.Sprint("m", i))
		if err != nil {
			t.Fatal(err)
		}
		if e.Sequence != int64(i) {
			t.Fatalf("append %d got sequence %d", i, e.Sequence)
		}
	}
	if c, w := cc.commits.Load(), cc.writes.Load(); c != 5 || w != 5 {
		t.Fatalf("5 appends one after another: %d commits holding %d writes, want 5 of one write each", c, w)
	}
}

// Many writers at once share commits (one fsync for many writes), and every
// dialog's sequences stay gapless and in order.
func TestConcurrentWritesShareCommits(t *testing.T) {
	s, cv := benchStore(t)
	const writers, each = 32, 25
	convs := make([]*botrelay.Conversation, writers)
	for i := range convs {
		convs[i] = benchConversation(t, s, cv.SkillID, i+2)
	}
	var cc commitCounter
	s.ObserveCommits(cc.observe)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for _, c := range convs {
		wg.Go(func() {
			for j := 1; j <= each; j++ {
				e, err := appendText(context.Background(), s, c, fmt.Sprint("m", j))
				if err == nil && e.Sequence != int64(j) {
					err = fmt.Errorf("conversation %s: append %d got sequence %d", c.ID, j, e.Sequence)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	commits, writes := cc.commits.Load(), cc.writes.Load()
	if writes != writers*each {
		t.Fatalf("commits held %d writes, want %d", writes, writers*each)
	}
	if commits*2 > writes {
		t.Fatalf("%d concurrent writes took %d commits: they did not share commits", writes, commits)
	}
	t.Logf("%d writes in %d commits", writes, commits)
	for _, c := range convs {
		evs, err := s.Events(context.Background(), c.ID, "", 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != each || evs[0].Sequence != 1 || evs[each-1].Sequence != each {
			t.Fatalf("conversation %s has %d events, want sequences 1..%d", c.ID, len(evs), each)
		}
	}
}

// Close while writers are busy: every write that reported success is in the
// store when it is opened again, every other one was refused because the
// store closed, and no writer is left waiting.
func TestCloseAnswersEveryWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "close.db")
	s, cv := benchStoreAt(t, path)
	const writers = 16
	convs := make([]*botrelay.Conversation, writers)
	for i := range convs {
		convs[i] = benchConversation(t, s, cv.SkillID, i+2)
	}
	stored := make([]int, writers)
	var total atomic.Int64
	var wg sync.WaitGroup
	refused := make(chan error, writers)
	for i, c := range convs {
		wg.Go(func() {
			for {
				if _, err := appendText(context.Background(), s, c, "m"); err != nil {
					refused <- err
					return
				}
				stored[i]++
				total.Add(1)
			}
		})
	}
	deadline := time.Now().Add(10 * time.Second)
	for total.Load() < 200 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("writers still waiting 10 s after Close")
	}
	close(refused)
	for err := range refused {
		if !strings.Contains(err.Error(), "closed") {
			t.Fatalf("a write after Close failed with %v, want the store-closed error", err)
		}
	}
	s2, err := sqlstore.Open(context.Background(), sqlstore.Options{Dialect: sqlstore.SQLite, DSN: path, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	for i, c := range convs {
		evs, err := s2.Events(context.Background(), c.ID, "", 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != stored[i] {
			t.Fatalf("conversation %s: %d writes reported stored, %d in the store after reopening", c.ID, stored[i], len(evs))
		}
	}
}

// A write that fails inside a shared commit gets its own error and leaves
// the writes committed with it alone.
func TestFailingWriteLeavesItsBatch(t *testing.T) {
	s, cv := benchStore(t)
	const writers, each = 16, 20
	convs := make([]*botrelay.Conversation, writers)
	for i := range convs {
		convs[i] = benchConversation(t, s, cv.SkillID, i+2)
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i, c := range convs {
		wg.Go(func() {
			for j := 1; j <= each; j++ {
				if i%4 == 0 {
					// No such dialog: every one of these must fail alone.
					bad := *c
					bad.ID = botrelay.ConversationID(fmt.Sprintf("00000000-0000-4000-9000-9999%08d", j))
					_, err := appendText(context.Background(), s, &bad, "lost")
					if botrelay.ErrorCode(err) != botrelay.ENOTFOUND {
						errs <- fmt.Errorf("append to a missing dialog: %v, want ENOTFOUND", err)
						return
					}
					continue
				}
				e, err := appendText(context.Background(), s, c, fmt.Sprint("m", j))
				if err == nil && e.Sequence != int64(j) {
					err = fmt.Errorf("append %d got sequence %d", j, e.Sequence)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i, c := range convs {
		evs, err := s.Events(context.Background(), c.ID, "", 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		want := each
		if i%4 == 0 {
			want = 0
		}
		if len(evs) != want {
			t.Fatalf("conversation %s has %d events, want %d", c.ID, len(evs), want)
		}
	}
}
