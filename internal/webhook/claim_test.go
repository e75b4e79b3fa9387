package webhook_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/webhook"
	"github.com/botrelay/botrelay/secretbox"
)

// lateClaims is a store whose claims end as PostgreSQL's may when their
// caller gives up: a claim whose context ends while it runs is answered
// with the context's error and still commits — here, once the service has
// released its leases on its way out, the worst moment.
type lateClaims struct {
	botrelay.Store
	stop     func() // ends the service's Run, as a SIGTERM would
	stopOnce sync.Once
	released chan struct{}
	relOnce  sync.Once
	late     sync.WaitGroup
}

func (l *lateClaims) ClaimDeliveries(ctx context.Context, owner string, now, until time.Time, limit int) ([]*botrelay.Delivery, error) {
	l.stopOnce.Do(l.stop) // the stop arrives while the first claim runs
	if ctx.Err() != nil {
		l.late.Go(func() {
			<-l.released
			_, _ = l.Store.ClaimDeliveries(context.Background(), owner, now, until, limit)
		})
		return nil, ctx.Err()
	}
	return l.Store.ClaimDeliveries(ctx, owner, now, until, limit)
}

func (l *lateClaims) ReleaseDeliveries(ctx context.Context, owner string) (int, error) {
	n, err := l.Store.ReleaseDeliveries(ctx, owner)
	l.relOnce.Do(func() { close(l.released) })
	return n, err
}

// TestStopDuringAClaimLeavesNothingLeased: a node stopped while it claims
// due deliveries leaves none of them leased, so the next node (or the same
// one restarted) delivers them at once rather than a whole lease later. A
// restart in the survey webhook test once waited out such a lease.
func TestStopDuringAClaimLeavesNothingLeased(t *testing.T) {
	f := newFixture(t, webhook.Options{AllowPrivateTargets: true, Active: func() bool { return false }})
	w, _ := f.subscribe(t, "http://127.0.0.1:9/hooks") // nothing is sent: the node stops first
	f.svc.Emit(context.Background(), event("k-1", botrelay.EventConversationOpened))
	if ds, err := f.store.Deliveries(context.Background(), w.ID, botrelay.DeliveryPending, 10); err != nil || len(ds) != 1 {
		t.Fatalf("%d pending deliveries (%v), want 1", len(ds), err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	store := &lateClaims{Store: f.store, stop: cancel, released: make(chan struct{})}
	box, _ := secretbox.New(make([]byte, 32))
	node := webhook.New(webhook.Options{Store: store, Box: box, AllowPrivateTargets: true, Poll: 5 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)})
	done := make(chan struct{})
	go func() { node.Run(ctx); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the stopped node did not return")
	}
	store.late.Wait()
	now := time.Now()
	got, err := f.store.ClaimDeliveries(context.Background(), "next-node", now, now.Add(time.Minute), 10)
	if err != nil || len(got) != 1 || got[0].Attempts != 0 {
		t.Fatalf("the next node claims %d deliveries (%v); want the pending one, not attempted", len(got), err)
	}
}
