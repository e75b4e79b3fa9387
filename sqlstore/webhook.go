package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/botrelay/botrelay"
)

const webhookColumns = `id, account_id, url, description, events, enabled, secret, old_secret, old_secret_until, created_at, updated_at`

func scanWebhook(row interface{ Scan(...any) error }) (*botrelay.Webhook, error) {
	w := &botrelay.Webhook{}
	var events string
	var until, created, updated int64
	if err := row.Scan(&w.ID, &w.AccountID, &w.URL, &w.Description, &events, &w.Enabled, &w.SealedSecret,
		&w.SealedOldSecret, &until, &created, &updated); err != nil {
		return nil, err
	}
	w.Events = splitKinds(events)
	w.OldSecretUntil, w.CreatedAt, w.UpdatedAt = fromMillis(until), fromMillis(created), fromMillis(updated)
	return w, nil
}

func splitKinds(s string) []botrelay.EventKind {
	out := []botrelay.EventKind{}
	for k := range strings.SplitSeq(s, ",") {
		if k != "" {
			out = append(out, botrelay.EventKind(k))
		}
	}
	return out
}

func joinKinds(ks []botrelay.EventKind) string {
	parts := make([]string, len(ks))
	for i, k := range ks {
		parts[i] = string(k)
	}
	return strings.Join(parts, ",")
}

// CreateWebhook implements botrelay.WebhookStore.
func (s *Store) CreateWebhook(ctx context.Context, w *botrelay.Webhook) error {
	if err := w.Validate(); err != nil {
		return err
	}
	if w.SealedSecret == "" {
		return botrelay.Errorf(botrelay.EINVALID, "a webhook needs a secret")
	}
	w.CreatedAt = s.nowTime()
	w.UpdatedAt = w.CreatedAt
	err := s.pool().queryRow(ctx, `INSERT INTO webhooks (account_id, url, description, events, enabled, secret, old_secret,
		old_secret_until, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) RETURNING id`,
		string(w.AccountID), w.URL, w.Description, joinKinds(w.Events), w.Enabled, w.SealedSecret, w.SealedOldSecret,
		millis(w.OldSecretUntil), millis(w.CreatedAt)).Scan(&w.ID)
	return normalize(err, "insert webhook", "", "", fmt.Sprintf("account %q does not exist", w.AccountID))
}

// Webhook implements botrelay.WebhookStore.
func (s *Store) Webhook(ctx context.Context, id botrelay.WebhookID) (*botrelay.Webhook, error) {
	w, err := scanWebhook(s.pool().queryRow(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE id = $1`, int64(id)))
	return w, normalize(err, "get webhook", fmt.Sprintf("webhook %d not found", id), "", "")
}

// Webhooks implements botrelay.WebhookStore.
func (s *Store) Webhooks(ctx context.Context, account botrelay.AccountID) ([]*botrelay.Webhook, error) {
	return s.webhooks(ctx, s.pool(), account)
}

func (s *Store) webhooks(ctx context.Context, c conn, account botrelay.AccountID) ([]*botrelay.Webhook, error) {
	rows, err := c.query(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE account_id = $1 ORDER BY id`, string(account))
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	defer rows.Close()
	var out []*botrelay.Webhook
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return nil, fmt.Errorf("scan webhook: %w", err)
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// UpdateWebhook implements botrelay.WebhookStore.
func (s *Store) UpdateWebhook(ctx context.Context, w *botrelay.Webhook) error {
	if err := w.Validate(); err != nil {
		return err
	}
	if w.SealedSecret == "" {
		return botrelay.Errorf(botrelay.EINVALID, "a webhook needs a secret")
	}
	w.UpdatedAt = s.nowTime()
	res, err := s.pool().exec(ctx, `UPDATE webhooks SET url = $1, description = $2, events = $3, enabled = $4, secret = $5,
		old_secret = $6, old_secret_until = $7, updated_at = $8 WHERE id = $9`,
		w.URL, w.Description, joinKinds(w.Events), w.Enabled, w.SealedSecret, w.SealedOldSecret, millis(w.OldSecretUntil),
		millis(w.UpdatedAt), int64(w.ID))
	return mustAffect(res, err, "update webhook", fmt.Sprintf("webhook %d not found", w.ID), "")
}

// DeleteWebhook implements botrelay.WebhookStore.
func (s *Store) DeleteWebhook(ctx context.Context, id botrelay.WebhookID) error {
	return s.inTx(ctx, func(c conn) error {
		if _, err := c.exec(ctx, `DELETE FROM webhook_deliveries WHERE webhook_id = $1`, int64(id)); err != nil {
			return fmt.Errorf("delete webhook deliveries: %w", err)
		}
		res, err := c.exec(ctx, `DELETE FROM webhooks WHERE id = $1`, int64(id))
		return mustAffect(res, err, "delete webhook", fmt.Sprintf("webhook %d not found", id), "")
	})
}

// AddEvent implements botrelay.WebhookStore. Subscriptions are read
// first, outside a transaction, so that an event nobody wants costs one
// read and never takes SQLite's write lock; the inserts then run in one
// transaction, each only while its subscription still exists and is
// enabled.
func (s *Store) AddEvent(ctx context.Context, e *botrelay.Event, payload json.RawMessage) (int, error) {
	if e.ID == "" || !e.Kind.Valid() || !json.Valid(payload) {
		return 0, botrelay.Errorf(botrelay.EINVALID, "an event needs an id, a known kind and a JSON payload")
	}
	hooks, err := s.webhooks(ctx, s.pool(), e.AccountID)
	if err != nil {
		return 0, err
	}
	var want []botrelay.WebhookID
	for _, w := range hooks {
		if w.Wants(e.Kind) {
			want = append(want, w.ID)
		}
	}
	if len(want) == 0 {
		return 0, nil
	}
	added := 0
	err = s.inTx(ctx, func(c conn) error {
		added = 0
		now := millis(s.nowTime())
		for _, id := range want {
			res, err := c.exec(ctx, `INSERT INTO webhook_deliveries (webhook_id, event_id, kind, payload, state, next_attempt_at, created_at)
				SELECT id, $2, $3, $4, 'PENDING', $5, $5 FROM webhooks WHERE id = $1 AND enabled
				ON CONFLICT (webhook_id, event_id) DO NOTHING`,
				int64(id), e.ID, string(e.Kind), string(payload), now)
			if err != nil {
				return fmt.Errorf("insert delivery: %w", err)
			}
			if n, err := res.RowsAffected(); err == nil {
				added += int(n)
			}
		}
		return nil
	})
	return added, err
}

const deliveryColumns = `id, webhook_id, event_id, kind, payload, state, attempts, next_attempt_at, last_status, last_error,
	last_attempt_at, delivered_at, created_at`

func scanDelivery(row interface{ Scan(...any) error }) (*botrelay.Delivery, error) {
	d := &botrelay.Delivery{}
	var payload string
	var next, last, delivered, created int64
	if err := row.Scan(&d.ID, &d.WebhookID, &d.EventID, &d.Kind, &payload, &d.State, &d.Attempts, &next, &d.LastStatus,
		&d.LastError, &last, &delivered, &created); err != nil {
		return nil, err
	}
	d.Payload = json.RawMessage(payload)
	d.NextAttemptAt, d.LastAttemptAt = fromMillis(next), fromMillis(last)
	d.DeliveredAt, d.CreatedAt = fromMillis(delivered), fromMillis(created)
	return d, nil
}

func (s *Store) deliveries(ctx context.Context, c conn, query string, args ...any) ([]*botrelay.Delivery, error) {
	rows, err := c.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	defer rows.Close()
	out := []*botrelay.Delivery{}
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("scan delivery: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// ClaimDeliveries implements botrelay.WebhookStore. The outer conditions
// repeat the inner ones: on PostgreSQL a concurrent claimer's rows are
// re-checked after its commit and skipped, so no row is leased twice.
func (s *Store) ClaimDeliveries(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]*botrelay.Delivery, error) {
	if owner == "" || limit <= 0 {
		return nil, botrelay.Errorf(botrelay.EINVALID, "claiming deliveries needs an owner and a positive limit")
	}
	out, err := s.deliveries(ctx, s.pool(), `UPDATE webhook_deliveries SET lease_owner = $1, lease_until = $2
		WHERE id IN (SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
			WHERE d.state = 'PENDING' AND d.next_attempt_at <= $3 AND d.lease_until <= $3 AND w.enabled
			ORDER BY d.next_attempt_at, d.id LIMIT $4)
		AND state = 'PENDING' AND lease_until <= $3
		RETURNING `+deliveryColumns, owner, millis(leaseUntil), millis(now), limit)
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].NextAttemptAt.Equal(out[j].NextAttemptAt) {
			return out[i].NextAttemptAt.Before(out[j].NextAttemptAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// FinishDelivery implements botrelay.WebhookStore.
func (s *Store) FinishDelivery(ctx context.Context, id int64, owner string, r botrelay.DeliveryResult) (bool, error) {
	switch r.State {
	case botrelay.DeliveryPending, botrelay.DeliveryDelivered, botrelay.DeliveryFailed:
	default:
		return false, botrelay.Errorf(botrelay.EINVALID, "delivery state %q is not known", r.State)
	}
	delivered := int64(0)
	if r.State == botrelay.DeliveryDelivered {
		delivered = millis(r.At)
	}
	res, err := s.pool().exec(ctx, `UPDATE webhook_deliveries SET state = $1, attempts = attempts + 1, last_status = $2,
		last_error = $3, last_attempt_at = $4, next_attempt_at = $5, delivered_at = $6, lease_owner = '', lease_until = 0
		WHERE id = $7 AND lease_owner = $8`,
		string(r.State), r.Status, r.Error, millis(r.At), millis(r.NextAttemptAt), delivered, id, owner)
	if err != nil {
		return false, fmt.Errorf("finish delivery: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ReleaseDeliveries implements botrelay.WebhookStore.
func (s *Store) ReleaseDeliveries(ctx context.Context, owner string) (int, error) {
	res, err := s.pool().exec(ctx, `UPDATE webhook_deliveries SET lease_owner = '', lease_until = 0
		WHERE lease_owner = $1 AND state = 'PENDING'`, owner)
	if err != nil {
		return 0, fmt.Errorf("release deliveries: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// Deliveries implements botrelay.WebhookStore.
func (s *Store) Deliveries(ctx context.Context, id botrelay.WebhookID, state botrelay.DeliveryState, limit int) ([]*botrelay.Delivery, error) {
	if limit <= 0 {
		limit = 100
	}
	return s.deliveries(ctx, s.pool(), `SELECT `+deliveryColumns+` FROM webhook_deliveries
		WHERE webhook_id = $1 AND ($2 = '' OR state = $2) ORDER BY id DESC LIMIT $3`, int64(id), string(state), limit)
}

// PruneDeliveries implements botrelay.WebhookStore.
func (s *Store) PruneDeliveries(ctx context.Context, before time.Time) (int, error) {
	res, err := s.pool().exec(ctx, `DELETE FROM webhook_deliveries WHERE state <> 'PENDING' AND created_at < $1`, millis(before))
	if err != nil {
		return 0, fmt.Errorf("prune deliveries: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}
