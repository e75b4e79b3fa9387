package botrelay

import (
	"context"
	"encoding/json"
	"time"
)

// Stand-ins, fallbacks and traffic splitting (docs/standins.md): botrelay's
// own features, beyond the reference product.

// RoutingSettings are a bot's settings.routing: how it shares its skill with
// other bots and who stands in for it.
type RoutingSettings struct {
	// Weight is the bot's share of its skills' new conversations when
	// several bots with a weight serve a skill (traffic splitting); 0 takes
	// no part in splitting (the hub's least-loaded routing applies).
	Weight int `json:"weight,omitempty"`
	// HandBackMessage is what the consumers of the bot's open conversations
	// get when the bot hands them back to their skill (an operator's stop,
	// or a Service Interruption past HandBackAfterSeconds). Default:
	// DefaultHandBackMessage; "-" sends nothing.
	HandBackMessage string `json:"handBackMessage,omitempty"`
	// HandBackAfterSeconds is how long the bot may stay in Service
	// Interruption before its conversations are handed back. Default: 60;
	// a negative value never hands back on a Service Interruption.
	HandBackAfterSeconds int `json:"handBackAfterSeconds,omitempty"`
	// KeepOnStop keeps the bot's open conversations with it when the
	// operator stops it (for a short maintenance stop: they resume when it
	// starts again) instead of handing them back. Default false: a stop
	// hands back.
	KeepOnStop bool `json:"keepOnStop,omitempty"`
	// Fallback is the secondary vendor used while the bot's own is in
	// Vendor Interruption or failing; nil for none.
	Fallback *Fallback `json:"fallback,omitempty"`
}

// Fallback names a secondary vendor configuration: another bot's (BotID:
// its vendor, settings and sealed secrets), or a vendor id with its
// non-secret settings (Vendor, Settings; the secret ones are sealed with
// the bot's secrets under "fallback").
type Fallback struct {
	BotID    BotID           `json:"botId,omitempty"`
	Vendor   string          `json:"vendor,omitempty"`
	Settings json.RawMessage `json:"settings,omitempty"`
}

// DefaultHandBackMessage is what consumers get by default when a bot hands
// their conversation back.
const DefaultHandBackMessage = "Please hold on: another assistant will continue this conversation with you."

// DefaultHandBackAfter is the default Service Interruption grace period.
const DefaultHandBackAfter = 60 * time.Second

// HandBackText returns the hand-back message; "" for none.
func (r RoutingSettings) HandBackText() string {
	switch r.HandBackMessage {
	case "":
		return DefaultHandBackMessage
	case "-":
		return ""
	}
	return r.HandBackMessage
}

// HandBackAfter returns the Service Interruption grace period, or 0 when
// a Service Interruption never hands back.
func (r RoutingSettings) HandBackAfter() time.Duration {
	if r.HandBackAfterSeconds < 0 {
		return 0
	}
	return seconds(r.HandBackAfterSeconds, DefaultHandBackAfter)
}

// Outcome is how a bot's part in a conversation ended, for comparing bots
// that split a skill.
type Outcome string

// The outcomes.
const (
	OutcomeOpen        Outcome = "OPEN"        // the bot holds it
	OutcomeClosed      Outcome = "CLOSED"      // closed by the bot or the consumer: contained
	OutcomeTransferred Outcome = "TRANSFERRED" // the vendor transferred it
	OutcomeEscalated   Outcome = "ESCALATED"   // an error escalated it
	OutcomeHandedBack  Outcome = "HANDED_BACK" // the bot stopped or broke and handed it back
)

// SplitFigures are one bot's counters on one skill.
type SplitFigures struct {
	BotID       BotID
	Assigned    int // conversations the bot got on the skill
	Open        int
	Closed      int
	Transferred int
	Escalated   int
	HandedBack  int
}

// StandInStore keeps what stand-ins, fallbacks and splitting need across
// restarts and nodes.
type StandInStore interface {
	// SetOutcome records the bot's outcome in a conversation it got on
	// skill (insert or replace).
	SetOutcome(ctx context.Context, bot BotID, conv ConversationID, skill SkillID, o Outcome) error
	// SplitFigures counts the outcomes of every bot on skill, by bot id.
	SplitFigures(ctx context.Context, skill SkillID) ([]*SplitFigures, error)
	// SaveFallbackState stores the fallback vendor's state of a
	// conversation (nil deletes it); FallbackState returns it, or nil.
	SaveFallbackState(ctx context.Context, bot BotID, conv ConversationID, state json.RawMessage) error
	FallbackState(ctx context.Context, bot BotID, conv ConversationID) (json.RawMessage, error)
}

// AvailabilitySetter is implemented by platform adapters that can set the
// bot user's routing availability (ONLINE, AWAY, OCCUPIED): a bot handing
// its conversations back goes AWAY first, so they are offered to others.
type AvailabilitySetter interface {
	SetAvailability(ctx context.Context, state string) error
}

// HandBacker moves a conversation a bot user holds back to a skill from
// outside the bot's own platform session, with a message from the bot to
// the consumer first (empty for none): how a bot in Service Interruption
// hands its conversations back. The embedded hub implements it; ECONFLICT
// when the user no longer holds the conversation.
type HandBacker interface {
	HandBack(ctx context.Context, conv ConversationID, user UserID, skill SkillID, text string) error
}
