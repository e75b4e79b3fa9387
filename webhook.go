package botrelay

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"time"
)

// EventKind names one kind of outbound conversation or bot event that a
// webhook subscription can receive (docs/webhooks.md).
type EventKind string

// The event kinds.
const (
	// EventConversationOpened: a consumer opened a conversation.
	EventConversationOpened EventKind = "conversation.opened"
	// EventConversationAssigned: an agent or a bot became the assigned
	// agent of a conversation.
	EventConversationAssigned EventKind = "conversation.assigned"
	// EventConversationTransferred: a conversation moved to another skill
	// or was offered to another agent.
	EventConversationTransferred EventKind = "conversation.transferred"
	// EventConversationEscalated: a bot escalated a conversation (F31),
	// with the error code.
	EventConversationEscalated EventKind = "conversation.escalated"
	// EventConversationClosed: a conversation was closed.
	EventConversationClosed EventKind = "conversation.closed"
	// EventSurveyCompleted: a survey bot finished a post-conversation
	// survey.
	EventSurveyCompleted EventKind = "survey.completed"
	// EventBotStateChanged: a bot's state changed (Online, Vendor
	// Interruption, …).
	EventBotStateChanged EventKind = "bot.state_changed"
)

// AllEventKinds lists every event kind, in display order.
var AllEventKinds = []EventKind{
	EventConversationOpened, EventConversationAssigned, EventConversationTransferred,
	EventConversationEscalated, EventConversationClosed, EventSurveyCompleted, EventBotStateChanged,
}

// Valid reports whether k is a known event kind.
func (k EventKind) Valid() bool { return slices.Contains(AllEventKinds, k) }

// Event is one outbound event. ID is its idempotency key: the same on every
// delivery attempt and after a restart, and the same when a source reports
// the same happening twice (a restart that repeats a step), so that the
// store records it once per subscription.
type Event struct {
	ID        string
	AccountID AccountID
	Kind      EventKind
	At        time.Time
	// Data is the kind's payload object (docs/webhooks.md).
	Data json.RawMessage
}

// EventSink receives the events of the hub and the relay. Emit must not
// block for long and never fails the caller's operation: an event it
// cannot record is logged and lost (docs/webhooks.md says when).
type EventSink interface {
	Emit(ctx context.Context, e *Event)
}

// WebhookID identifies a webhook subscription.
type WebhookID int64

// Webhook is a subscription of an account to outbound events: every event
// of a kind in Events (all kinds when Events is empty) is delivered to URL,
// signed with the secret.
type Webhook struct {
	ID          WebhookID
	AccountID   AccountID
	URL         string
	Description string
	Events      []EventKind // sorted, without duplicates; empty for all
	Enabled     bool
	// SealedSecret is the signing secret, sealed by the webhook service;
	// the store keeps it as given.
	SealedSecret string
	// SealedOldSecret is the previous secret during a rotation's overlap,
	// which lasts until OldSecretUntil; "" when there is none.
	SealedOldSecret string
	OldSecretUntil  time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// Wants reports whether the subscription receives events of kind k.
func (w *Webhook) Wants(k EventKind) bool {
	return w.Enabled && (len(w.Events) == 0 || slices.Contains(w.Events, k))
}

// Validate normalises w (trims the URL, sorts Events) and reports the first
// rule it breaks. It checks the URL's form only; whether its host may be
// reached is the webhook service's decision.
func (w *Webhook) Validate() error {
	w.URL = strings.TrimSpace(w.URL)
	w.Description = trimmed(w.Description)
	u, err := url.Parse(w.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" || len(w.URL) > 2048 {
		return Errorf(EINVALID, "url must be an absolute http:// or https:// URL of at most 2048 bytes")
	}
	if u.User != nil {
		return Errorf(EINVALID, "url must not carry a user name or password; put credentials in the receiver's checks of the signature")
	}
	if u.Fragment != "" {
		return Errorf(EINVALID, "url must not have a #fragment")
	}
	if len(w.Description) > 1024 {
		return Errorf(EINVALID, "description must be at most 1024 bytes")
	}
	for _, k := range w.Events {
		if !k.Valid() {
			return Errorf(EINVALID, "event kind %q is not known", string(k))
		}
	}
	slices.Sort(w.Events)
	w.Events = slices.Compact(w.Events)
	return nil
}

// DeliveryState is where a delivery stands.
type DeliveryState string

// The delivery states.
const (
	// DeliveryPending: not yet accepted by the receiver; another attempt is
	// due at NextAttemptAt.
	DeliveryPending DeliveryState = "PENDING"
	// DeliveryDelivered: the receiver answered 2xx.
	DeliveryDelivered DeliveryState = "DELIVERED"
	// DeliveryFailed: the retry period ended without a 2xx answer.
	DeliveryFailed DeliveryState = "FAILED"
)

// Delivery is one event for one subscription, with the outcome of its
// attempts.
type Delivery struct {
	ID        int64
	WebhookID WebhookID
	// EventID is the event's idempotency key.
	EventID       string
	Kind          EventKind
	Payload       json.RawMessage // the exact body sent
	State         DeliveryState
	Attempts      int
	NextAttemptAt time.Time
	// LastStatus is the HTTP status of the last attempt, 0 when it got no
	// answer; LastError says what went wrong ("" after a success).
	LastStatus    int
	LastError     string
	LastAttemptAt time.Time
	DeliveredAt   time.Time
	CreatedAt     time.Time
}

// DeliveryResult is the outcome of one attempt, for FinishDelivery.
type DeliveryResult struct {
	State         DeliveryState
	Status        int
	Error         string
	At            time.Time
	NextAttemptAt time.Time // when State is DeliveryPending
}

// WebhookStore keeps webhook subscriptions and their deliveries.
type WebhookStore interface {
	// CreateWebhook stores w (after w.Validate) and fills ID and times.
	// EINVALID when the account does not exist.
	CreateWebhook(ctx context.Context, w *Webhook) error
	// Webhook returns one subscription, or ENOTFOUND.
	Webhook(ctx context.Context, id WebhookID) (*Webhook, error)
	// Webhooks lists an account's subscriptions ordered by id.
	Webhooks(ctx context.Context, account AccountID) ([]*Webhook, error)
	// UpdateWebhook replaces URL, description, events, enabled and both
	// secrets with their overlap end. ENOTFOUND when absent.
	UpdateWebhook(ctx context.Context, w *Webhook) error
	// DeleteWebhook removes a subscription with its deliveries, or ENOTFOUND.
	DeleteWebhook(ctx context.Context, id WebhookID) error

	// AddEvent records e as a pending delivery, due now, for each enabled
	// subscription of its account that wants its kind, in one transaction.
	// An event whose ID a subscription has already recorded is skipped
	// for it. It returns how many deliveries it added.
	AddEvent(ctx context.Context, e *Event, payload json.RawMessage) (int, error)
	// ClaimDeliveries leases up to limit pending deliveries that are due at
	// now and not leased, to owner until leaseUntil, oldest due first. Two
	// callers never hold the same delivery at once.
	ClaimDeliveries(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]*Delivery, error)
	// FinishDelivery records an attempt's result and releases the lease,
	// if owner still holds it; it reports whether it did.
	FinishDelivery(ctx context.Context, id int64, owner string, r DeliveryResult) (bool, error)
	// ReleaseDeliveries gives up owner's leases on pending deliveries
	// without recording an attempt, so another deliverer may claim them at
	// once (a deliverer that stops). It returns how many it released.
	ReleaseDeliveries(ctx context.Context, owner string) (int, error)
	// Deliveries lists a subscription's deliveries, newest first, at most
	// limit (0: 100). A non-empty state selects one state.
	Deliveries(ctx context.Context, id WebhookID, state DeliveryState, limit int) ([]*Delivery, error)
	// PruneDeliveries removes finished (delivered or failed) deliveries
	// created before before; it returns how many.
	PruneDeliveries(ctx context.Context, before time.Time) (int, error)
}
