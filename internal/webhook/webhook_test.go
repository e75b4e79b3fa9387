package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/testrig"
	"github.com/botrelay/botrelay/internal/webhook"
	"github.com/botrelay/botrelay/secretbox"
	"github.com/botrelay/botrelay/sqlstore"
)

const acct botrelay.AccountID = "1000"

// fixture is a seeded SQLite store and a webhook service on it, running.
type fixture struct {
	store *sqlstore.Store
	svc   *webhook.Service
	dsn   string
}

func newFixture(t *testing.T, o webhook.Options) *fixture {
	t.Helper()
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	dsn := filepath.Join(t.TempDir(), "db")
	st, err := sqlstore.Open(ctx, sqlstore.Options{Dialect: sqlstore.SQLite, DSN: dsn, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Bootstrap(ctx, &botrelay.Bootstrap{Account: &botrelay.Account{ID: acct, Name: "A"},
		Profiles: botrelay.BuiltInProfiles(), Admin: &botrelay.User{Type: botrelay.UserHuman, LoginName: "admin", Enabled: true}}); err != nil {
		t.Fatal(err)
	}
	box, _ := secretbox.New(make([]byte, 32))
	o.Store, o.Box, o.Logger = st, box, quiet
	if o.Poll == 0 {
		o.Poll = 20 * time.Millisecond
	}
	svc := webhook.New(o)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { svc.Run(rctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return &fixture{store: st, svc: svc, dsn: dsn}
}

// subscribe creates a subscription to url and returns it with its secret.
func (f *fixture) subscribe(t *testing.T, url string, kinds ...botrelay.EventKind) (*botrelay.Webhook, string) {
	t.Helper()
	secret := webhook.NewSecret()
	sealed, err := f.svc.Seal(acct, secret)
	if err != nil {
		t.Fatal(err)
	}
	w := &botrelay.Webhook{AccountID: acct, URL: url, Events: kinds, Enabled: true, SealedSecret: sealed}
	if err := f.store.CreateWebhook(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	return w, secret
}

func event(id string, kind botrelay.EventKind) *botrelay.Event {
	return &botrelay.Event{ID: id, AccountID: acct, Kind: kind, Data: json.RawMessage(`{"conversationId":"c-1"}`)}
}

func TestSignAndVerify(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"id":"e1"}`)
	h := webhook.Sign(now, body, "new", "old")
	for _, secret := range []string{"new", "old"} {
		if err := webhook.Verify(h, body, secret, webhook.DefaultTolerance, now.Add(time.Minute)); err != nil {
			t.Fatalf("verify with %s: %v", secret, err)
		}
	}
	if err := webhook.Verify(h, []byte(`{"id":"e2"}`), "new", webhook.DefaultTolerance, now); err != webhook.ErrBadSignature {
		t.Fatalf("tampered body: %v", err)
	}
	if err := webhook.Verify(h, body, "other", webhook.DefaultTolerance, now); err != webhook.ErrBadSignature {
		t.Fatalf("other secret: %v", err)
	}
	if err := webhook.Verify(h, body, "new", webhook.DefaultTolerance, now.Add(6*time.Minute)); err != webhook.ErrStaleSignature {
		t.Fatalf("replayed after 6 min: %v", err)
	}
	if err := webhook.Verify("v1=abc", body, "new", webhook.DefaultTolerance, now); err != webhook.ErrMalformedSignature {
		t.Fatalf("no timestamp: %v", err)
	}
}

func TestCheckTarget(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1/x", "http://localhost:8080/", "http://10.1.2.3/", "http://169.254.169.254/latest",
		"http://[::1]/", "http://192.168.0.10/", "http://100.64.1.1/", "http://0.0.0.0/", "http://[::ffff:127.0.0.1]/", "http://api.localhost/"} {
		if err := webhook.CheckTarget(u, false); botrelay.ErrorCode(err) != botrelay.EINVALID {
			t.Errorf("CheckTarget(%s) = %v, want invalid", u, err)
		}
		if err := webhook.CheckTarget(u, true); err != nil {
			t.Errorf("CheckTarget(%s, allowed) = %v", u, err)
		}
	}
	for _, u := range []string{"https://hooks.example.com/in", "http://93.184.216.34/"} {
		if err := webhook.CheckTarget(u, false); err != nil {
			t.Errorf("CheckTarget(%s) = %v", u, err)
		}
	}
}

// TestDeliversSignedOncePerKey: an event reaches the subscriptions that
// want it, signed, once, with its idempotency key; emitting it again
// (a source repeating itself) sends nothing more.
func TestDeliversSignedOncePerKey(t *testing.T) {
	f := newFixture(t, webhook.Options{AllowPrivateTargets: true})
	all := testrig.NewWebhookReceiver(t)
	closedOnly := testrig.NewWebhookReceiver(t)
	w1, s1 := f.subscribe(t, all.URL)
	_, s2 := f.subscribe(t, closedOnly.URL, botrelay.EventConversationClosed)
	all.SetSecrets(s1)
	closedOnly.SetSecrets(s2)
	ctx := context.Background()
	f.svc.Emit(ctx, event("k-open", botrelay.EventConversationOpened))
	f.svc.Emit(ctx, event("k-close", botrelay.EventConversationClosed))
	f.svc.Emit(ctx, event("k-open", botrelay.EventConversationOpened))
	all.WaitFor(5*time.Second, "the closed event", func(h *testrig.Hook) bool { return h.ID == "k-close" })
	closedOnly.WaitFor(5*time.Second, "the closed event", func(h *testrig.Hook) bool { return h.ID == "k-close" })
	// Both of the first subscription's deliveries are settled: nothing is
	// left to send, so the receiver has seen everything it will.
	testrig.Eventually(t, 5*time.Second, "both deliveries recorded", func() bool {
		ds, _ := f.store.Deliveries(ctx, w1.ID, botrelay.DeliveryDelivered, 0)
		return len(ds) == 2
	})
	if ds, _ := f.store.Deliveries(ctx, w1.ID, "", 0); len(ds) != 2 {
		t.Fatalf("log has %d deliveries, want 2 (one per key)", len(ds))
	}
	// Deliveries run concurrently: the order between events is not promised.
	if got := ids(all.Accepted()); got != "[k-close k-open]" {
		t.Fatalf("all-kinds receiver got %s", got)
	}
	if got := ids(closedOnly.Accepted()); got != "[k-close]" {
		t.Fatalf("closed-only receiver got %s", got)
	}
	h := all.WaitFor(time.Second, "the opened event", func(h *testrig.Hook) bool { return h.ID == "k-open" })
	if h.Type != "conversation.opened" || h.AccountID != "1000" || string(h.Data) != `{"conversationId":"c-1"}` || h.Attempt != 1 {
		t.Fatalf("delivery = %+v", h)
	}
}

func ids(hs []*testrig.Hook) string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.ID
	}
	slices.Sort(out)
	return fmt.Sprint(out)
}

// TestRetriesUntilTheReceiverIsBack: 503s and a closed port are retried
// with backoff, with the same idempotency key, and logged per attempt.
func TestRetriesUntilTheReceiverIsBack(t *testing.T) {
	f := newFixture(t, webhook.Options{AllowPrivateTargets: true, RetryBase: 50 * time.Millisecond, RetryMax: 200 * time.Millisecond})
	rcv := testrig.NewWebhookReceiver(t)
	w, secret := f.subscribe(t, rcv.URL)
	rcv.SetSecrets(secret)
	rcv.SetDown(true)
	f.svc.Emit(context.Background(), event("k-1", botrelay.EventConversationEscalated))
	testrig.Eventually(t, 5*time.Second, "two refused attempts", func() bool { _, refused := rcv.Rejected(); return refused >= 2 })
	rcv.Close()
	testrig.Eventually(t, 5*time.Second, "an attempt without an answer", func() bool {
		ds, _ := f.store.Deliveries(context.Background(), w.ID, "", 0)
		return len(ds) == 1 && ds[0].LastStatus == 0 && ds[0].LastError != "" && ds[0].Attempts >= 3
	})
	rcv.SetDown(false)
	rcv.Reopen()
	h := rcv.WaitFor(10*time.Second, "the retried delivery", func(h *testrig.Hook) bool { return h.ID == "k-1" })
	if h.Attempt < 4 {
		t.Fatalf("delivered on attempt %d, want a retry after at least 3 failures", h.Attempt)
	}
	var ds []*botrelay.Delivery
	testrig.Eventually(t, 5*time.Second, "the delivery recorded as delivered", func() bool {
		ds, _ = f.store.Deliveries(context.Background(), w.ID, "", 0)
		return len(ds) == 1 && ds[0].State == botrelay.DeliveryDelivered
	})
	if ds[0].LastStatus != http.StatusNoContent || ds[0].LastError != "" || ds[0].Attempts != h.Attempt {
		t.Fatalf("log = %+v", ds[0])
	}
}

// TestGivesUpAfterMaxAge: a delivery still failing past MaxAge is FAILED
// and never sent again.
func TestGivesUpAfterMaxAge(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer srv.Close()
	f := newFixture(t, webhook.Options{AllowPrivateTargets: true, RetryBase: 30 * time.Millisecond, RetryMax: 30 * time.Millisecond, MaxAge: 300 * time.Millisecond})
	w, _ := f.subscribe(t, srv.URL)
	f.svc.Emit(context.Background(), event("k-1", botrelay.EventBotStateChanged))
	var d *botrelay.Delivery
	testrig.Eventually(t, 5*time.Second, "the delivery to fail for good", func() bool {
		ds, _ := f.store.Deliveries(context.Background(), w.ID, "", 0)
		if len(ds) == 1 {
			d = ds[0]
		}
		return d != nil && d.State == botrelay.DeliveryFailed
	})
	n := calls.Load()
	if d.LastStatus != 500 || d.LastError != "HTTP 500" || int(n) != d.Attempts || n < 2 {
		t.Fatalf("failed delivery = %+v after %d calls", d, n)
	}
	if pending, _ := f.store.Deliveries(context.Background(), w.ID, botrelay.DeliveryPending, 0); len(pending) != 0 {
		t.Fatal("a failed delivery is still pending")
	}
}

// TestRefusesPrivateTargetsAndRedirects: without AllowPrivateTargets the
// dialer refuses a loopback receiver; a redirect is never followed.
func TestRefusesPrivateTargetsAndRedirects(t *testing.T) {
	var hit atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit.Add(1) }))
	defer target.Close()
	redirect := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusTemporaryRedirect))
	defer redirect.Close()

	strict := newFixture(t, webhook.Options{})
	w, _ := strict.subscribe(t, target.URL)
	strict.svc.Emit(context.Background(), event("k-1", botrelay.EventConversationOpened))
	testrig.Eventually(t, 5*time.Second, "a refused attempt", func() bool {
		ds, _ := strict.store.Deliveries(context.Background(), w.ID, "", 0)
		return len(ds) == 1 && ds[0].Attempts == 1
	})
	ds, _ := strict.store.Deliveries(context.Background(), w.ID, "", 0)
	if ds[0].State != botrelay.DeliveryPending || ds[0].LastStatus != 0 || hit.Load() != 0 {
		t.Fatalf("loopback target: %+v, %d hits", ds[0], hit.Load())
	}

	open := newFixture(t, webhook.Options{AllowPrivateTargets: true})
	w2, _ := open.subscribe(t, redirect.URL)
	open.svc.Emit(context.Background(), event("k-2", botrelay.EventConversationOpened))
	testrig.Eventually(t, 5*time.Second, "the redirected attempt", func() bool {
		ds, _ := open.store.Deliveries(context.Background(), w2.ID, "", 0)
		return len(ds) == 1 && ds[0].Attempts == 1
	})
	ds, _ = open.store.Deliveries(context.Background(), w2.ID, "", 0)
	if ds[0].LastStatus != http.StatusTemporaryRedirect || ds[0].LastError != "HTTP 307: redirects are not followed" || hit.Load() != 0 {
		t.Fatalf("redirect: %+v, %d hits", ds[0], hit.Load())
	}
}

// TestRotationSignsWithBothDuringTheOverlap: after a rotation a delivery
// carries a v1 for the new and the old secret; after the overlap only the
// new one.
func TestRotationSignsWithBothDuringTheOverlap(t *testing.T) {
	f := newFixture(t, webhook.Options{AllowPrivateTargets: true})
	rcv := testrig.NewWebhookReceiver(t)
	w, old := f.subscribe(t, rcv.URL)
	ctx := context.Background()
	newSecret, err := f.svc.Rotate(w, 300*time.Millisecond)
	if err != nil || newSecret == old {
		t.Fatal(err)
	}
	if err := f.store.UpdateWebhook(ctx, w); err != nil {
		t.Fatal(err)
	}
	rcv.SetSecrets(old, newSecret)
	f.svc.Emit(ctx, event("during", botrelay.EventConversationOpened))
	h := rcv.WaitFor(5*time.Second, "the delivery during the overlap", func(h *testrig.Hook) bool { return h.ID == "during" })
	if fmt.Sprint(h.Matched) != "[0 1]" {
		t.Fatalf("during the overlap matched secrets %v, want both", h.Matched)
	}
	time.Sleep(350 * time.Millisecond)
	f.svc.Emit(ctx, event("after", botrelay.EventConversationOpened))
	h = rcv.WaitFor(5*time.Second, "the delivery after the overlap", func(h *testrig.Hook) bool { return h.ID == "after" })
	if fmt.Sprint(h.Matched) != "[1]" {
		t.Fatalf("after the overlap matched secrets %v, want only the new one", h.Matched)
	}
	// A receiver that only knows a wrong secret rejects every delivery.
	rcv.SetSecrets("whsec_wrong")
	f.svc.Emit(ctx, event("tampered", botrelay.EventConversationOpened))
	testrig.Eventually(t, 5*time.Second, "a rejected delivery", func() bool { bad, _ := rcv.Rejected(); return bad >= 1 })
}

// TestInactiveNodeDeliversNothing: with Active false the loop leaves the
// deliveries for the active node.
func TestInactiveNodeDeliversNothing(t *testing.T) {
	var active atomic.Bool
	f := newFixture(t, webhook.Options{AllowPrivateTargets: true, Active: active.Load})
	rcv := testrig.NewWebhookReceiver(t)
	_, secret := f.subscribe(t, rcv.URL)
	rcv.SetSecrets(secret)
	f.svc.Emit(context.Background(), event("k-1", botrelay.EventConversationOpened))
	time.Sleep(150 * time.Millisecond)
	if n := len(rcv.Accepted()); n != 0 {
		t.Fatalf("an inactive node delivered %d", n)
	}
	active.Store(true)
	rcv.WaitFor(5*time.Second, "the delivery once active", func(h *testrig.Hook) bool { return h.ID == "k-1" })
}

// TestTwoDeliverersSendEachEventOnce: two services (two nodes) on one
// database, both active, share 200 events: the receiver gets each once.
func TestTwoDeliverersSendEachEventOnce(t *testing.T) {
	f := newFixture(t, webhook.Options{AllowPrivateTargets: true})
	second, err := sqlstore.Open(context.Background(), sqlstore.Options{Dialect: sqlstore.SQLite, DSN: f.dsn,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	box, _ := secretbox.New(make([]byte, 32))
	other := webhook.New(webhook.Options{Store: second, Box: box, AllowPrivateTargets: true, Poll: 5 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { other.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	rcv := testrig.NewWebhookReceiver(t)
	_, secret := f.subscribe(t, rcv.URL)
	rcv.SetSecrets(secret)
	const n = 200
	for i := range n {
		sink := f.svc
		if i%2 == 1 {
			sink = other // events come from both nodes
		}
		sink.Emit(context.Background(), event(fmt.Sprintf("e-%d", i), botrelay.EventConversationOpened))
	}
	testrig.Eventually(t, 30*time.Second, "all events", func() bool { return len(rcv.Accepted()) >= n })
	seen := map[string]int{}
	for _, h := range rcv.Accepted() {
		seen[h.ID]++
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("%s received %d times", id, c)
		}
	}
	if len(seen) != n {
		t.Fatalf("%d distinct events, want %d", len(seen), n)
	}
}
