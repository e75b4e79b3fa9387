package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
)

func newWebhook(t *testing.T, s botrelay.Store, url string, kinds ...botrelay.EventKind) *botrelay.Webhook {
	t.Helper()
	w := &botrelay.Webhook{AccountID: acct, URL: url, Events: kinds, Enabled: true, SealedSecret: "sealed-" + url}
	must(t, s.CreateWebhook(context.Background(), w))
	return w
}

func testWebhooks(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	s, _ := seeded(t, newDB)
	w := &botrelay.Webhook{AccountID: acct, URL: " https://hooks.example.com/in ", Description: "CRM",
		Events:  []botrelay.EventKind{botrelay.EventConversationClosed, botrelay.EventConversationOpened, botrelay.EventConversationClosed},
		Enabled: true, SealedSecret: "s1"}
	must(t, s.CreateWebhook(ctx, w))
	if w.ID == 0 || w.CreatedAt.IsZero() || w.URL != "https://hooks.example.com/in" {
		t.Fatalf("created = %+v", w)
	}
	got, err := s.Webhook(ctx, w.ID)
	must(t, err)
	if got.URL != w.URL || got.Description != "CRM" || fmt.Sprint(got.Events) != "[conversation.closed conversation.opened]" ||
		!got.Enabled || got.SealedSecret != "s1" || got.SealedOldSecret != "" || !got.OldSecretUntil.IsZero() {
		t.Fatalf("stored = %+v", got)
	}
	until := time.Now().Add(time.Hour).Truncate(time.Millisecond).UTC()
	got.SealedOldSecret, got.SealedSecret, got.OldSecretUntil, got.Enabled, got.Events = "s1", "s2", until, false, nil
	must(t, s.UpdateWebhook(ctx, got))
	again, err := s.Webhook(ctx, w.ID)
	must(t, err)
	if again.SealedSecret != "s2" || again.SealedOldSecret != "s1" || !again.OldSecretUntil.Equal(until) || again.Enabled ||
		len(again.Events) != 0 {
		t.Fatalf("updated = %+v", again)
	}
	wantCode(t, s.CreateWebhook(ctx, &botrelay.Webhook{AccountID: acct, URL: "ftp://x", SealedSecret: "s"}), botrelay.EINVALID)
	wantCode(t, s.CreateWebhook(ctx, &botrelay.Webhook{AccountID: acct, URL: "https://x", Events: []botrelay.EventKind{"nope"},
		SealedSecret: "s"}), botrelay.EINVALID)
	wantCode(t, s.CreateWebhook(ctx, &botrelay.Webhook{AccountID: "nobody", URL: "https://x", SealedSecret: "s"}), botrelay.EINVALID)
	second := newWebhook(t, s, "https://two.example.com")
	list, err := s.Webhooks(ctx, acct)
	must(t, err)
	if len(list) != 2 || list[0].ID != w.ID || list[1].ID != second.ID {
		t.Fatalf("list = %+v", list)
	}
	must(t, s.DeleteWebhook(ctx, w.ID))
	_, err = s.Webhook(ctx, w.ID)
	wantCode(t, err, botrelay.ENOTFOUND)
	wantCode(t, s.DeleteWebhook(ctx, w.ID), botrelay.ENOTFOUND)
	wantCode(t, s.UpdateWebhook(ctx, got), botrelay.ENOTFOUND)
}

func testWebhookDeliveries(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	s, _ := seeded(t, newDB)
	all := newWebhook(t, s, "https://all.example.com")
	closedOnly := newWebhook(t, s, "https://closed.example.com", botrelay.EventConversationClosed)
	off := newWebhook(t, s, "https://off.example.com")
	off.Enabled = false
	must(t, s.UpdateWebhook(ctx, off))

	ev := &botrelay.Event{ID: "evt-1", AccountID: acct, Kind: botrelay.EventConversationOpened, At: time.Now()}
	n, err := s.AddEvent(ctx, ev, json.RawMessage(`{"id":"evt-1"}`))
	must(t, err)
	if n != 1 {
		t.Fatalf("opened event added %d deliveries, want 1 (the all-kinds subscription)", n)
	}
	// The same event again (a source repeating itself) adds nothing.
	if n, err = s.AddEvent(ctx, ev, json.RawMessage(`{"id":"evt-1"}`)); err != nil || n != 0 {
		t.Fatalf("repeated AddEvent = %d, %v; want 0, nil", n, err)
	}
	closed := &botrelay.Event{ID: "evt-2", AccountID: acct, Kind: botrelay.EventConversationClosed, At: time.Now()}
	if n, err = s.AddEvent(ctx, closed, json.RawMessage(`{"id":"evt-2"}`)); err != nil || n != 2 {
		t.Fatalf("closed AddEvent = %d, %v; want 2, nil", n, err)
	}

	now := time.Now().Add(time.Second)
	claimed, err := s.ClaimDeliveries(ctx, "node-a", now, now.Add(time.Minute), 10)
	must(t, err)
	if len(claimed) != 3 {
		t.Fatalf("claimed %d, want 3", len(claimed))
	}
	// Leased rows are not claimed again until the lease ends.
	if again, err := s.ClaimDeliveries(ctx, "node-b", now, now.Add(time.Minute), 10); err != nil || len(again) != 0 {
		t.Fatalf("second claim = %d, %v; want none", len(again), err)
	}
	first := claimed[0]
	if first.EventID != "evt-1" || first.WebhookID != all.ID || string(first.Payload) != `{"id":"evt-1"}` ||
		first.State != botrelay.DeliveryPending || first.Attempts != 0 {
		t.Fatalf("first claimed = %+v", first)
	}
	// Only the lease holder finishes.
	if ok, err := s.FinishDelivery(ctx, first.ID, "node-b", botrelay.DeliveryResult{State: botrelay.DeliveryDelivered, At: now}); err != nil || ok {
		t.Fatalf("finish by a stranger = %v, %v; want false", ok, err)
	}
	retry := now.Add(30 * time.Second)
	res := botrelay.DeliveryResult{State: botrelay.DeliveryPending, Status: 503, Error: "HTTP 503", At: now, NextAttemptAt: retry}
	if ok, err := s.FinishDelivery(ctx, first.ID, "node-a", res); err != nil || !ok {
		t.Fatalf("finish = %v, %v", ok, err)
	}
	// A stopping deliverer releases the rest of its leases: they can be
	// claimed again at once, with no attempt counted.
	if n, err := s.ReleaseDeliveries(ctx, "node-a"); err != nil || n != 2 {
		t.Fatalf("release = %d, %v; want the 2 still leased", n, err)
	}
	if again, err := s.ClaimDeliveries(ctx, "node-a", now, now.Add(time.Minute), 10); err != nil || len(again) != 2 || again[0].Attempts != 0 {
		t.Fatalf("claim after release = %d, %v", len(again), err)
	}
	settleDeliveries(t, s, now, all, closedOnly, first)
}

// settleDeliveries is the second half of testWebhookDeliveries: claims
// after expired leases, finishing, the log, pruning and deletion.
func settleDeliveries(t *testing.T, s botrelay.Store, now time.Time, all, closedOnly *botrelay.Webhook, first *botrelay.Delivery) {
	ctx := context.Background()
	// An expired lease (the holder died) lets another claimer take it.
	late := now.Add(2 * time.Minute)
	taken, err := s.ClaimDeliveries(ctx, "node-b", late, late.Add(time.Minute), 10)
	must(t, err)
	if len(taken) != 3 || taken[0].ID == first.ID {
		t.Fatalf("after the lease: %d claimed (first %d), want the two others then the retry", len(taken), taken[0].ID)
	}
	for _, d := range taken {
		want := botrelay.DeliveryDelivered
		if d.WebhookID == closedOnly.ID {
			want = botrelay.DeliveryFailed
		}
		ok, err := s.FinishDelivery(ctx, d.ID, "node-b", botrelay.DeliveryResult{State: want, Status: 200, At: late})
		if err != nil || !ok {
			t.Fatalf("finish %d = %v, %v", d.ID, ok, err)
		}
	}
	log, err := s.Deliveries(ctx, all.ID, "", 0)
	must(t, err)
	if len(log) != 2 || log[0].EventID != "evt-2" || log[1].EventID != "evt-1" || log[1].Attempts != 2 ||
		log[1].State != botrelay.DeliveryDelivered || !log[1].DeliveredAt.Equal(late.Truncate(time.Millisecond)) {
		t.Fatalf("log = %+v", log)
	}
	failed, err := s.Deliveries(ctx, closedOnly.ID, botrelay.DeliveryFailed, 0)
	must(t, err)
	if len(failed) != 1 || failed[0].LastStatus != 200 {
		t.Fatalf("failed = %+v", failed)
	}
	if n, err := s.PruneDeliveries(ctx, time.Now().Add(time.Hour)); err != nil || n != 3 {
		t.Fatalf("prune = %d, %v; want 3", n, err)
	}
	// Deleting a subscription drops its deliveries.
	if _, err := s.AddEvent(ctx, &botrelay.Event{ID: "evt-3", AccountID: acct, Kind: botrelay.EventBotStateChanged}, json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	must(t, s.DeleteWebhook(ctx, all.ID))
	if left, err := s.ClaimDeliveries(ctx, "node-a", late.Add(time.Hour), late.Add(2*time.Hour), 10); err != nil || len(left) != 0 {
		t.Fatalf("claim after delete = %d, %v", len(left), err)
	}
}

// testWebhookClaimsConcurrent has four claimers race for 40 deliveries:
// every delivery is claimed exactly once.
func testWebhookClaimsConcurrent(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	s, _ := seeded(t, newDB)
	newWebhook(t, s, "https://race.example.com")
	for i := range 40 {
		id := fmt.Sprintf("evt-%d", i)
		if _, err := s.AddEvent(ctx, &botrelay.Event{ID: id, AccountID: acct, Kind: botrelay.EventConversationOpened}, json.RawMessage(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().Add(time.Second)
	var mu sync.Mutex
	seen := map[int64]string{}
	var wg sync.WaitGroup
	for c := range 4 {
		owner := fmt.Sprintf("node-%d", c)
		wg.Go(func() {
			for {
				got, err := s.ClaimDeliveries(ctx, owner, now, now.Add(time.Minute), 3)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, d := range got {
					if prev, dup := seen[d.ID]; dup {
						t.Errorf("delivery %d claimed by %s and %s", d.ID, prev, owner)
					}
					seen[d.ID] = owner
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != 40 {
		t.Fatalf("claimed %d deliveries, want 40", len(seen))
	}
}
