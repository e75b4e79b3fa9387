package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/botrelay/botrelay"
)

// testConversationEventsMixed appends from many goroutines to several
// conversations at once, with appends that fail mixed in (an unknown
// dialog, a dialog named with the wrong conversation): the stores group
// such writes into shared transactions, and a failing write must not cost
// the others theirs. Every good append is stored once, under the sequence
// it was answered with; each dialog's sequences are gapless and follow
// each writer's order.
func testConversationEventsMixed(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	s, b := seeded(t, newDB)
	const convs, writers, perWriter = 5, 3, 25
	cvs := make([]*botrelay.Conversation, convs)
	for i := range cvs {
		cvs[i] = newConversation(b.Skills[0].ID, botrelay.ConsumerID(fmt.Sprintf("c0ffee00-0000-4000-8000-%012d", 100+i)))
		must(t, s.CreateConversation(ctx, cvs[i]))
	}
	type told struct {
		conv botrelay.ConversationID
		seq  int64
		text string
	}
	var (
		mu      sync.Mutex
		answers []told
		wg      sync.WaitGroup
	)
	errs := make(chan error, convs*writers*perWriter*2)
	for ci, cv := range cvs {
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				last := int64(0)
				for i := range perWriter {
					text := fmt.Sprintf("w%d-%d", w, i)
					e := textEvent(cv, cv.Dialogs[0].ID, text)
					if err := s.AppendEvent(ctx, e); err != nil {
						errs <- fmt.Errorf("append %s to %s: %w", text, cv.ID, err)
						return
					}
					if e.Sequence <= last {
						errs <- fmt.Errorf("writer %d of %s: sequence %d after %d", w, cv.ID, e.Sequence, last)
					}
					last = e.Sequence
					mu.Lock()
					answers = append(answers, told{cv.ID, e.Sequence, text})
					mu.Unlock()
				}
			}()
		}
		// A writer whose appends all fail, racing the good ones.
		wg.Add(1)
		go func() {
			defer wg.Done()
			appendWrong(s, cv, cvs[(ci+1)%convs], perWriter, errs)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	want := map[botrelay.ConversationID]map[int64]string{}
	for _, a := range answers {
		if want[a.conv] == nil {
			want[a.conv] = map[int64]string{}
		}
		want[a.conv][a.seq] = a.text
	}
	checkTold(t, s, cvs, want, writers*perWriter)
}

// appendWrong appends n events that must fail: to an unknown dialog, and to
// other's dialog named as cv's.
func appendWrong(s botrelay.Store, cv, other *botrelay.Conversation, n int, errs chan<- error) {
	for i := range n {
		bad := textEvent(cv, "no-such-dialog", "lost")
		if i%2 == 1 {
			bad = textEvent(cv, other.Dialogs[0].ID, "misrouted")
		}
		if err := s.AppendEvent(context.Background(), bad); botrelay.ErrorCode(err) != botrelay.ENOTFOUND {
			errs <- fmt.Errorf("append to a wrong dialog = %v, want %s", err, botrelay.ENOTFOUND)
		}
	}
}

// checkTold checks that each conversation holds n events, sequenced 1..n,
// each the one its writer was told it stored under its sequence.
func checkTold(t *testing.T, s botrelay.Store, cvs []*botrelay.Conversation, want map[botrelay.ConversationID]map[int64]string, n int) {
	t.Helper()
	for _, cv := range cvs {
		evs, err := s.Events(context.Background(), cv.ID, "", 0, 0)
		must(t, err)
		if len(evs) != n {
			t.Fatalf("conversation %s: %d events stored, want %d", cv.ID, len(evs), n)
		}
		for i, e := range evs {
			var body struct{ Message string }
			must(t, json.Unmarshal(e.Event, &body))
			if e.Sequence != int64(i+1) || body.Message != want[cv.ID][e.Sequence] {
				t.Fatalf("conversation %s: event %d is %d %q, want %d %q", cv.ID, i, e.Sequence, body.Message, i+1, want[cv.ID][int64(i+1)])
			}
		}
	}
}
