package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/botrelay/botrelay"
)

// Run delivers due deliveries until ctx ends, while Options.Active reports
// true; it prunes finished deliveries older than Retention once an hour.
// Up to Concurrency attempts run at once, each on its own: it claims only
// as many deliveries as it has free slots and refills a slot as soon as an
// attempt ends, so a slow attempt holds one slot, not a batch. (A receiver
// that hangs with Concurrency or more deliveries due can still hold every
// slot for up to Timeout.) When it stops it waits for the
// attempts in flight, then releases the leases it still holds, so another
// node (or the next start) takes those deliveries at once.
func (s *Service) Run(ctx context.Context) error {
	tick := time.NewTicker(s.o.Poll)
	defer tick.Stop()
	p := &pool{slots: make(chan struct{}, s.o.Concurrency), freed: make(chan struct{}, 1)}
	defer func() {
		p.wg.Wait()
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), emitTimeout)
		defer cancel()
		if _, err := s.o.Store.ReleaseDeliveries(rctx, s.owner); err != nil {
			s.log.Warn("release webhook deliveries", "err", err)
		}
	}()
	var lastPrune time.Time
	for {
		if s.o.Active() {
			s.deliverDue(ctx, p)
			if now := s.o.Now(); now.Sub(lastPrune) > time.Hour {
				lastPrune = now
				if n, err := s.o.Store.PruneDeliveries(ctx, now.Add(-s.o.Retention)); err != nil && ctx.Err() == nil {
					s.log.Warn("prune webhook deliveries", "err", err)
				} else if n > 0 {
					s.log.Info("pruned webhook deliveries", "count", n)
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-s.wake:
		case <-p.freed:
		}
	}
}

// pool holds the running attempts: one slot each. Only Run's goroutine
// takes slots; attempts give theirs back and signal freed.
type pool struct {
	slots chan struct{}
	freed chan struct{}
	wg    sync.WaitGroup
}

func (p *pool) free() int { return cap(p.slots) - len(p.slots) }

// lease is how long a claim holds a delivery: longer than an attempt can
// take, so a live holder always finishes first.
func (s *Service) lease() time.Duration { return 2*s.o.Timeout + 10*time.Second }

// deliverDue claims due deliveries for the free slots and starts their
// attempts, until no slot is free or nothing is due.
func (s *Service) deliverDue(ctx context.Context, p *pool) {
	for ctx.Err() == nil && s.o.Active() && p.free() > 0 {
		now := s.o.Now()
		// The claim runs to its end even if ctx ends meanwhile: a claim
		// cut short may still commit (PostgreSQL carries on with a
		// statement whose client gave up), after the release at shutdown,
		// and its leases would then keep the deliveries from every node
		// for a whole lease. Claimed while stopping, they are released
		// with the rest when Run returns.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), emitTimeout)
		batch, err := s.o.Store.ClaimDeliveries(cctx, s.owner, now, now.Add(s.lease()), p.free())
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("claim webhook deliveries", "err", err)
			}
			return
		}
		if len(batch) == 0 || ctx.Err() != nil {
			return
		}
		hooks := map[botrelay.WebhookID]*botrelay.Webhook{}
		for _, d := range batch {
			if _, ok := hooks[d.WebhookID]; !ok {
				w, err := s.o.Store.Webhook(ctx, d.WebhookID)
				if err != nil && !errors.Is(err, botrelay.ErrNotFound) {
					s.log.Error("load webhook", "webhook_id", int64(d.WebhookID), "err", err)
				}
				hooks[d.WebhookID] = w // nil when deleted meanwhile
			}
		}
		for _, d := range batch {
			w := hooks[d.WebhookID]
			if w == nil {
				continue // deleted: its deliveries went with it; else the lease runs out
			}
			p.slots <- struct{}{} // never blocks: the claim took at most the free slots
			p.wg.Go(func() {
				defer func() {
					<-p.slots
					select {
					case p.freed <- struct{}{}:
					default:
					}
				}()
				s.attempt(ctx, w, d)
			})
		}
	}
}

// attempt sends one delivery and records the result.
func (s *Service) attempt(ctx context.Context, w *botrelay.Webhook, d *botrelay.Delivery) {
	status, retryAfter, err := s.send(ctx, w, d)
	now := s.o.Now()
	res := botrelay.DeliveryResult{Status: status, At: now}
	switch {
	case err == nil:
		res.State = botrelay.DeliveryDelivered
	case ctx.Err() != nil:
		// Shutting down: the attempt is recorded and retried at once by
		// whichever node delivers next.
		res.State, res.Error, res.NextAttemptAt = botrelay.DeliveryPending, "interrupted by shutdown", now
	default:
		res.Error = err.Error()
		next := now.Add(max(s.backoff(d.Attempts+1), retryAfter))
		if next.Sub(d.CreatedAt) > s.o.MaxAge {
			res.State = botrelay.DeliveryFailed
		} else {
			res.State, res.NextAttemptAt = botrelay.DeliveryPending, next
		}
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), emitTimeout)
	defer cancel()
	if ok, ferr := s.o.Store.FinishDelivery(fctx, d.ID, s.owner, res); ferr != nil {
		s.log.Error("record webhook delivery", "delivery_id", d.ID, "err", ferr)
	} else if !ok {
		s.log.Warn("webhook delivery lease lost before the result was recorded", "delivery_id", d.ID)
	}
	if res.State == botrelay.DeliveryFailed {
		s.log.Warn("webhook delivery failed for good", "webhook_id", int64(w.ID), "delivery_id", d.ID,
			"event_id", d.EventID, "attempts", d.Attempts+1, "err", res.Error)
	}
}

// send POSTs the delivery's body, signed; it returns the HTTP status (0
// without an answer), the receiver's Retry-After and nil for a 2xx answer.
func (s *Service) send(ctx context.Context, w *botrelay.Webhook, d *botrelay.Delivery) (int, time.Duration, error) {
	now := s.o.Now()
	secrets, err := s.secrets(w, now)
	if err != nil {
		return 0, 0, fmt.Errorf("open the webhook secret: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(d.Payload))
	if err != nil {
		return 0, 0, fmt.Errorf("build request: %w", err)
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "botrelay-webhooks/1")
	h.Set(HeaderSignature, Sign(now, d.Payload, secrets...))
	h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	h.Set(HeaderEventID, d.EventID)
	h.Set(HeaderIdempotencyKey, d.EventID)
	h.Set(HeaderEventType, string(d.Kind))
	h.Set(HeaderDelivery, strconv.FormatInt(d.ID, 10))
	h.Set(HeaderAttempt, strconv.Itoa(d.Attempts+1))
	resp, err := s.o.Client.Do(req)
	if err != nil {
		return 0, 0, errors.New(redactURL(err))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, 0, nil
	}
	msg := "HTTP " + strconv.Itoa(resp.StatusCode)
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		msg += ": redirects are not followed"
	}
	return resp.StatusCode, retryAfter(resp.Header.Get("Retry-After"), now), errors.New(msg)
}

// redactURL gives a transport error without the URL, whose query may hold
// a token of the receiver's.
func redactURL(err error) string {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner.Error()
		}
	}
	return "request to the webhook failed"
}

// retryAfter reads a Retry-After header (seconds or an HTTP date), capped
// at an hour; 0 when absent or malformed.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), time.Hour)
}

// backoff is the delay before attempt n+1 after n failed attempts:
// RetryBase doubled n-1 times, at most RetryMax, with ±20% jitter.
func (s *Service) backoff(n int) time.Duration {
	d := s.o.RetryBase
	for i := 1; i < n && d < s.o.RetryMax; i++ {
		d *= 2
	}
	d = min(d, s.o.RetryMax)
	jitter := 0.8 + 0.4*rand.Float64()
	return time.Duration(float64(d) * jitter)
}
