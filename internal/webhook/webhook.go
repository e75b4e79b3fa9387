// Package webhook delivers botrelay's outbound events to the accounts'
// webhook subscriptions (docs/webhooks.md).
//
// The Service is the hub's and the relay's botrelay.EventSink: Emit turns
// an event into its JSON body and records one pending delivery per
// subscription that wants it, in the store. Run is the delivery loop: it
// claims due deliveries with a lease, POSTs each body signed with the
// subscription's secret (and, during a rotation's overlap, its previous
// one), and records the result; failures are retried with exponential
// backoff and jitter until MaxAge. Because deliveries live in the store,
// a restart resumes them, and because claims are leased, several nodes may
// run the loop (Options.Active picks which do) without sending an attempt
// twice at once.
package webhook

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/sealed"
	"github.com/botrelay/botrelay/internal/uuid"
)

// Options configure New. Store and Box are required.
type Options struct {
	Store botrelay.Store
	// Box seals the subscriptions' secrets in the store.
	Box    sealed.Sealer
	Logger *slog.Logger
	// Now is the clock. Default: time.Now.
	Now func() time.Time
	// AllowPrivateTargets lets subscriptions reach loopback, private and
	// link-local addresses (config webhooks.allow_private_targets).
	AllowPrivateTargets bool
	// Active reports whether this node delivers (cluster: the router
	// node). Default: always.
	Active func() bool
	// Timeout bounds one attempt. Default: 10s.
	Timeout time.Duration
	// Poll is how often the loop looks for due deliveries when nothing
	// wakes it. Default: 1s.
	Poll time.Duration
	// RetryBase is the first retry's delay, doubled for each further
	// attempt up to RetryMax, each with ±20% jitter. Defaults: 10s, 1h.
	RetryBase time.Duration
	RetryMax  time.Duration
	// MaxAge is how long a delivery is retried before it is FAILED.
	// Default: 24h.
	MaxAge time.Duration
	// Retention is how long finished deliveries stay in the log.
	// Default: 7 days.
	Retention time.Duration
	// Concurrency is how many attempts run at once. Default: 8.
	Concurrency int
	// Client replaces the delivery HTTP client (tests). Default: a client
	// that follows no redirects, uses no proxy and, unless
	// AllowPrivateTargets, refuses private addresses.
	Client *http.Client
}

// Service is the webhook event sink and delivery loop. It is safe for
// concurrent use.
type Service struct {
	o     Options
	log   *slog.Logger
	owner string
	wake  chan struct{}

	// subs caches, per account, whether any enabled subscription exists,
	// for subsCacheTTL: an account without webhooks pays no store access
	// per event.
	subsMu sync.Mutex
	subs   map[botrelay.AccountID]subsEntry
}

type subsEntry struct {
	any bool
	at  time.Time
}

// subsCacheTTL is how long Emit trusts its knowledge that an account has
// no enabled subscription: a subscription created (on any node) gets the
// events from at most this long after its creation on.
const subsCacheTTL = 2 * time.Second

// InvalidateSubscriptions forgets the cached subscription state of account
// (the API calls it after a change on this node).
func (s *Service) InvalidateSubscriptions(account botrelay.AccountID) {
	if s == nil {
		return
	}
	s.subsMu.Lock()
	delete(s.subs, account)
	s.subsMu.Unlock()
}

// anySubscription reports whether account may have an enabled subscription
// (true when the store cannot tell).
func (s *Service) anySubscription(ctx context.Context, account botrelay.AccountID) bool {
	now := time.Now()
	s.subsMu.Lock()
	e, ok := s.subs[account]
	s.subsMu.Unlock()
	if ok && now.Sub(e.at) < subsCacheTTL {
		return e.any
	}
	hooks, err := s.o.Store.Webhooks(ctx, account)
	if err != nil {
		return true
	}
	anyOn := false
	for _, w := range hooks {
		anyOn = anyOn || w.Enabled
	}
	s.subsMu.Lock()
	if s.subs == nil {
		s.subs = map[botrelay.AccountID]subsEntry{}
	}
	s.subs[account] = subsEntry{any: anyOn, at: now}
	s.subsMu.Unlock()
	return anyOn
}

var _ botrelay.EventSink = (*Service)(nil)

// New returns a Service; it starts nothing until Run.
func New(o Options) *Service {
	if o.Store == nil || o.Box == nil {
		panic("webhook: New needs Store and Box")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Active == nil {
		o.Active = func() bool { return true }
	}
	defaults := []struct {
		d *time.Duration
		v time.Duration
	}{{&o.Timeout, 10 * time.Second}, {&o.Poll, time.Second}, {&o.RetryBase, 10 * time.Second},
		{&o.RetryMax, time.Hour}, {&o.MaxAge, 24 * time.Hour}, {&o.Retention, 7 * 24 * time.Hour}}
	for _, d := range defaults {
		if *d.d <= 0 {
			*d.d = d.v
		}
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.Client == nil {
		o.Client = newClient(o.Timeout, o.AllowPrivateTargets)
	}
	return &Service{o: o, log: o.Logger, owner: uuid.New(), wake: make(chan struct{}, 1)}
}

// AllowPrivateTargets reports the option, for the API's URL check.
func (s *Service) AllowPrivateTargets() bool { return s.o.AllowPrivateTargets }

// Envelope is the JSON body of every delivery.
type Envelope struct {
	// ID is the event's idempotency key.
	ID        string             `json:"id"`
	Type      botrelay.EventKind `json:"type"`
	AccountID botrelay.AccountID `json:"accountId"`
	CreatedAt time.Time          `json:"createdAt"`
	Data      json.RawMessage    `json:"data"`
}

// emitTimeout bounds the store write of one event.
const emitTimeout = 5 * time.Second

// Emit implements botrelay.EventSink: it records the event for every
// subscription that wants it. It never fails the caller; a store error is
// logged and the event is lost for this emission.
func (s *Service) Emit(ctx context.Context, e *botrelay.Event) {
	if e.At.IsZero() {
		e.At = s.o.Now()
	}
	data := e.Data
	if len(data) == 0 {
		data = json.RawMessage(`{}`)
	}
	body, err := json.Marshal(Envelope{ID: e.ID, Type: e.Kind, AccountID: e.AccountID, CreatedAt: e.At.UTC().Truncate(time.Millisecond), Data: data})
	if err != nil {
		s.log.Error("encode webhook event", "event_id", e.ID, "kind", string(e.Kind), "err", err)
		return
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), emitTimeout)
	defer cancel()
	if !s.anySubscription(wctx, e.AccountID) {
		return
	}
	n, err := s.o.Store.AddEvent(wctx, e, body)
	if err != nil {
		s.log.Error("record webhook event", "event_id", e.ID, "kind", string(e.Kind), "err", err)
		return
	}
	if n > 0 {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// secretAD binds sealed secrets to their purpose and account.
func secretAD(account botrelay.AccountID) string { return "webhook-secret:" + string(account) }

// NewSecret returns a fresh signing secret: "whsec_" and 32 random bytes
// in unpadded base64url. The whole string is the HMAC key.
func NewSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return "whsec_" + base64.RawURLEncoding.EncodeToString(b)
}

// Seal seals a secret for w's account.
func (s *Service) Seal(account botrelay.AccountID, secret string) (string, error) {
	return s.o.Box.SealString(secret, secretAD(account))
}

// secrets returns the secrets a delivery to w is signed with at now: the
// current one, then the previous one while the rotation's overlap lasts.
func (s *Service) secrets(w *botrelay.Webhook, now time.Time) ([]string, error) {
	cur, err := s.o.Box.OpenString(w.SealedSecret, secretAD(w.AccountID))
	if err != nil {
		return nil, err
	}
	out := []string{cur}
	if w.SealedOldSecret != "" && now.Before(w.OldSecretUntil) {
		old, err := s.o.Box.OpenString(w.SealedOldSecret, secretAD(w.AccountID))
		if err != nil {
			return nil, err
		}
		out = append(out, old)
	}
	return out, nil
}

// Rotate gives w a new secret and returns it; the current one becomes the
// previous secret, still signed with until now+overlap (an overlap of 0
// drops it at once). A previous secret from an earlier rotation is dropped.
// The caller stores w.
func (s *Service) Rotate(w *botrelay.Webhook, overlap time.Duration) (string, error) {
	secret := NewSecret()
	sealedNew, err := s.Seal(w.AccountID, secret)
	if err != nil {
		return "", err
	}
	w.SealedOldSecret, w.OldSecretUntil = "", time.Time{}
	if overlap > 0 {
		w.SealedOldSecret, w.OldSecretUntil = w.SealedSecret, s.o.Now().Add(overlap)
	}
	w.SealedSecret = sealedNew
	return secret, nil
}
