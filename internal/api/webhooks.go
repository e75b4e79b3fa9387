package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/webhook"
)

// Webhook subscriptions (docs/webhooks.md): CRUD, secret rotation and the
// delivery log, all under webhook:manage. The secret is in the answer of a
// create and a rotation only.

// webhookRoutes are the webhook routes of the route table.
func (a *API) webhookRoutes(v1 string) []Route {
	p := botrelay.PermWebhookManage
	return []Route{
		{http.MethodGet, v1 + "/webhooks", p, a.listWebhooks},
		{http.MethodPost, v1 + "/webhooks", p, a.createWebhook},
		{http.MethodGet, v1 + "/webhooks/{id}", p, a.getWebhook},
		{http.MethodPut, v1 + "/webhooks/{id}", p, a.updateWebhook},
		{http.MethodDelete, v1 + "/webhooks/{id}", p, a.deleteWebhook},
		{http.MethodPost, v1 + "/webhooks/{id}/rotate-secret", p, a.rotateWebhookSecret},
		{http.MethodGet, v1 + "/webhooks/{id}/deliveries", p, a.webhookDeliveries},
	}
}

type webhookJSON struct {
	ID          botrelay.WebhookID   `json:"id"`
	URL         string               `json:"url"`
	Description string               `json:"description"`
	Events      []botrelay.EventKind `json:"events"`
	Enabled     bool                 `json:"enabled"`
	// PreviousSecretExpiresAt is the end of a rotation's overlap, while
	// deliveries are still signed with the previous secret too.
	PreviousSecretExpiresAt *string `json:"previousSecretExpiresAt"`
	CreatedAt               string  `json:"createdAt"`
	UpdatedAt               string  `json:"updatedAt"`
	// Secret is set in the answers of a create and a rotation only.
	Secret string `json:"secret,omitempty"`
}

func (a *API) toWebhookJSON(w *botrelay.Webhook) webhookJSON {
	out := webhookJSON{ID: w.ID, URL: w.URL, Description: w.Description, Events: nonNil(w.Events), Enabled: w.Enabled,
		CreatedAt: timeString(w.CreatedAt), UpdatedAt: timeString(w.UpdatedAt)}
	if w.SealedOldSecret != "" && a.o.Now().Before(w.OldSecretUntil) {
		s := timeString(w.OldSecretUntil)
		out.PreviousSecretExpiresAt = &s
	}
	return out
}

type webhookRequest struct {
	URL         string               `json:"url"`
	Description string               `json:"description"`
	Events      []botrelay.EventKind `json:"events"`
	Enabled     *bool                `json:"enabled"`
}

// apply copies the request into w and checks the target.
func (a *API) applyWebhookRequest(w *botrelay.Webhook, req webhookRequest) error {
	w.URL, w.Description, w.Events = req.URL, req.Description, req.Events
	if req.Enabled != nil {
		w.Enabled = *req.Enabled
	}
	if err := w.Validate(); err != nil {
		return err
	}
	return webhook.CheckTarget(w.URL, a.o.Webhooks.AllowPrivateTargets())
}

// webhooksOn refuses the webhook routes of an API built without the service.
func (a *API) webhooksOn() error {
	if a.o.Webhooks == nil {
		return botrelay.Errorf(botrelay.ENOTIMPLEMENTED, "webhooks are not enabled on this server")
	}
	return nil
}

func (a *API) webhook(ctx context.Context, r *http.Request) (*botrelay.Webhook, error) {
	if err := a.webhooksOn(); err != nil {
		return nil, err
	}
	id, err := pathInt(r, "id")
	if err != nil {
		return nil, err
	}
	w, err := a.o.Store.Webhook(ctx, botrelay.WebhookID(id))
	if err == nil && w.AccountID != a.o.Account {
		err = botrelay.Errorf(botrelay.ENOTFOUND, "webhook %d not found", id)
	}
	return w, err
}

func (a *API) listWebhooks(w http.ResponseWriter, r *http.Request) {
	if err := a.webhooksOn(); err != nil {
		a.writeError(w, r, err)
		return
	}
	hooks, err := a.o.Store.Webhooks(r.Context(), a.o.Account)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make([]webhookJSON, 0, len(hooks))
	for _, h := range hooks {
		out = append(out, a.toWebhookJSON(h))
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) createWebhook(w http.ResponseWriter, r *http.Request) {
	var req webhookRequest
	err := a.webhooksOn()
	if err == nil {
		err = decode(w, r, &req)
	}
	hook := &botrelay.Webhook{AccountID: a.o.Account, Enabled: true}
	if err == nil {
		err = a.applyWebhookRequest(hook, req)
	}
	secret := webhook.NewSecret()
	if err == nil {
		hook.SealedSecret, err = a.o.Webhooks.Seal(a.o.Account, secret)
	}
	if err == nil {
		err = a.o.Store.CreateWebhook(r.Context(), hook)
	}
	a.o.Webhooks.InvalidateSubscriptions(a.o.Account)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := a.toWebhookJSON(hook)
	out.Secret = secret
	writeJSON(w, http.StatusCreated, out)
}

func (a *API) getWebhook(w http.ResponseWriter, r *http.Request) {
	hook, err := a.webhook(r.Context(), r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a.toWebhookJSON(hook))
}

func (a *API) updateWebhook(w http.ResponseWriter, r *http.Request) {
	hook, err := a.webhook(r.Context(), r)
	var req webhookRequest
	if err == nil {
		err = decode(w, r, &req)
	}
	if err == nil {
		err = a.applyWebhookRequest(hook, req)
	}
	if err == nil {
		err = a.o.Store.UpdateWebhook(r.Context(), hook)
	}
	a.o.Webhooks.InvalidateSubscriptions(a.o.Account)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a.toWebhookJSON(hook))
}

func (a *API) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	hook, err := a.webhook(r.Context(), r)
	if err == nil {
		err = a.o.Store.DeleteWebhook(r.Context(), hook.ID)
	}
	a.o.Webhooks.InvalidateSubscriptions(a.o.Account)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// Bounds of a rotation's overlap.
const (
	defaultRotationOverlap = 24 * time.Hour
	maxRotationOverlap     = 7 * 24 * time.Hour
)

type rotateRequest struct {
	// OverlapSeconds is how long the previous secret still signs; absent
	// for 24 h, 0 to drop it at once.
	OverlapSeconds *int64 `json:"overlapSeconds"`
}

func (a *API) rotateWebhookSecret(w http.ResponseWriter, r *http.Request) {
	hook, err := a.webhook(r.Context(), r)
	var req rotateRequest
	if err == nil && r.ContentLength != 0 {
		err = decode(w, r, &req)
	}
	overlap := defaultRotationOverlap
	if err == nil && req.OverlapSeconds != nil {
		overlap = time.Duration(*req.OverlapSeconds) * time.Second
		if *req.OverlapSeconds < 0 || overlap > maxRotationOverlap {
			err = botrelay.Errorf(botrelay.EINVALID, "overlapSeconds must be between 0 and %d (7 days)", int64(maxRotationOverlap/time.Second))
		}
	}
	var secret string
	if err == nil {
		secret, err = a.o.Webhooks.Rotate(hook, overlap)
	}
	if err == nil {
		err = a.o.Store.UpdateWebhook(r.Context(), hook)
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := a.toWebhookJSON(hook)
	out.Secret = secret
	writeJSON(w, http.StatusOK, out)
}

type deliveryJSON struct {
	ID            int64              `json:"id"`
	EventID       string             `json:"eventId"`
	Type          botrelay.EventKind `json:"type"`
	State         string             `json:"state"`
	Attempts      int                `json:"attempts"`
	NextAttemptAt *string            `json:"nextAttemptAt"`
	LastStatus    int                `json:"lastStatus"`
	LastError     string             `json:"lastError"`
	LastAttemptAt *string            `json:"lastAttemptAt"`
	DeliveredAt   *string            `json:"deliveredAt"`
	CreatedAt     string             `json:"createdAt"`
	Payload       json.RawMessage    `json:"payload"`
}

func optTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := timeString(t)
	return &s
}

func toDeliveryJSON(d *botrelay.Delivery) deliveryJSON {
	out := deliveryJSON{ID: d.ID, EventID: d.EventID, Type: d.Kind, State: string(d.State), Attempts: d.Attempts,
		LastStatus: d.LastStatus, LastError: d.LastError, LastAttemptAt: optTime(d.LastAttemptAt),
		DeliveredAt: optTime(d.DeliveredAt), CreatedAt: timeString(d.CreatedAt), Payload: d.Payload}
	if d.State == botrelay.DeliveryPending {
		out.NextAttemptAt = optTime(d.NextAttemptAt)
	}
	return out
}

func (a *API) webhookDeliveries(w http.ResponseWriter, r *http.Request) {
	hook, err := a.webhook(r.Context(), r)
	limit := 0
	if err == nil {
		limit, err = queryLimit(r, 100, 500)
	}
	state := botrelay.DeliveryState(r.URL.Query().Get("state"))
	switch state {
	case "", botrelay.DeliveryPending, botrelay.DeliveryDelivered, botrelay.DeliveryFailed:
	default:
		if err == nil {
			err = botrelay.Errorf(botrelay.EINVALID, "state must be PENDING, DELIVERED or FAILED")
		}
	}
	var ds []*botrelay.Delivery
	if err == nil {
		ds, err = a.o.Store.Deliveries(r.Context(), hook.ID, state, limit)
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make([]deliveryJSON, 0, len(ds))
	for _, d := range ds {
		out = append(out, toDeliveryJSON(d))
	}
	writeJSON(w, http.StatusOK, out)
}
