package botrelay

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// The platform contract: how a started bot meets its messaging platform. The
// one implementation, platforms/liveperson, speaks the LivePerson agent
// protocol to the embedded hub and to real LivePerson accounts alike.

// PlatformAdapter is one bot user's live session on a platform. Run holds
// the session; the other methods act on conversations and may be called
// concurrently while Run runs.
type PlatformAdapter interface {
	// Run logs in, sets the agent ONLINE, subscribes to conversations and
	// routing tasks, and delivers events to in until ctx ends. Transient
	// failures (a dropped websocket) are retried inside Run and reported
	// through in.PlatformState; Run returns an error only when it cannot go
	// on (bad credentials, the platform refuses the session), and nil when
	// ctx ends. It may be called again after it returns.
	Run(ctx context.Context, in Inbound) error
	// Skills returns the account's skills by name (F2, F26).
	Skills(ctx context.Context) (map[string]SkillID, error)
	// Publish sends one message into the conversation's open dialog and
	// returns its sequence.
	Publish(ctx context.Context, conv ConversationRef, m *Message) (int64, error)
	// SetTyping shows (COMPOSING) or hides (ACTIVE) the typing indicator.
	SetTyping(ctx context.Context, conv ConversationRef, on bool) error
	// Transfer moves the conversation to a skill (agentID empty) or suggests
	// an agent on that skill, and removes the bot from it.
	Transfer(ctx context.Context, conv ConversationRef, skill SkillID, agentID string) error
	// Close closes the conversation, or only its main dialog so that a
	// post-conversation survey can run (withoutPCS false, F28).
	Close(ctx context.Context, conv ConversationRef, withoutPCS bool) error
	// SetTTR changes the conversation's time to response (F29).
	// ttr is URGENT, NORMAL, PRIORITIZED or CUSTOM; seconds goes with
	// CUSTOM.
	SetTTR(ctx context.Context, conv ConversationRef, ttr string, seconds int) error
	// Accept accepts a ring offered through EventRing (F33).
	Accept(ctx context.Context, ringID string) error
	// History returns the message events of a dialog with a sequence above
	// after, oldest first: the consumer's (EventConsumerMessage) and this
	// bot's own (EventBotMessage, with its text and the metadata it was
	// published with),
	// so the relay can catch up after a restart without answering twice.
	History(ctx context.Context, conv ConversationRef, after int64) ([]*PlatformEvent, error)
}

// Inbound is the relay surface a platform adapter talks to.
type Inbound interface {
	// HandleEvent hands over one event. It returns once the relay has taken
	// responsibility for it (queued in memory: the platform keeps the message,
	// so a lost queue is rebuilt from History after a restart).
	HandleEvent(ctx context.Context, ev *PlatformEvent)
	// PlatformState reports the session's health: nil when connected, the
	// cause otherwise.
	PlatformState(err error)
}

// PlatformEventKind tells what happened.
type PlatformEventKind string

// The platform event kinds.
const (
	// EventRing offers a conversation to the bot (RingID set).
	EventRing PlatformEventKind = "RING"
	// EventAssigned: the bot became the conversation's assigned agent (a new
	// conversation, a transfer into the bot, or a resubscription after a
	// restart). Conversation.Sequence-less; the relay catches up through
	// History.
	EventAssigned PlatformEventKind = "ASSIGNED"
	// EventConsumerMessage: the consumer sent text, rich content or a file.
	EventConsumerMessage PlatformEventKind = "MESSAGE"
	// EventConsumerTyping: the consumer started (Typing) or stopped typing.
	EventConsumerTyping PlatformEventKind = "TYPING"
	// EventUnassigned: the bot no longer holds the conversation (transferred
	// away, closed, or the dialog moved to a survey it does not serve).
	EventUnassigned PlatformEventKind = "UNASSIGNED"
	// EventSurveyStarted: a post-conversation survey dialog opened on a skill
	// a survey bot serves.
	EventSurveyStarted PlatformEventKind = "SURVEY"
	// EventBotMessage is a message this bot published; History returns them
	// (live notifications of the bot's own messages are not delivered).
	EventBotMessage PlatformEventKind = "BOT_MESSAGE"
	// EventAgentMessage is a message of another agent or bot of the
	// conversation; History returns them (with Sequence and Text) so that
	// the relay can tell where another agent's part of the conversation
	// ended when the platform does not say (see PlatformEvent.Handoff).
	EventAgentMessage PlatformEventKind = "AGENT_MESSAGE"
	// EventSynced follows the assignments a new platform session listed:
	// every conversation the bot holds was reported (EventAssigned) before
	// it, so a conversation the relay stored as the bot's and that was not
	// reported is not the bot's any more.
	EventSynced PlatformEventKind = "SYNCED"
)

// PlatformEvent is one thing the platform told the bot.
type PlatformEvent struct {
	Kind         PlatformEventKind
	Conversation ConversationRef
	RingID       string
	// Sequence orders a dialog's messages; the relay de-duplicates by it.
	Sequence int64
	// Text, RichContent and File carry EventConsumerMessage content (one of
	// them); Metadata is the message's metadata array.
	Text        string
	RichContent json.RawMessage
	File        *File
	Metadata    json.RawMessage
	// Typing is set for EventConsumerTyping.
	Typing bool
	// Closed is set for EventUnassigned when the conversation closed.
	Closed bool
	// Raw is the platform's event, forwarded to vendors as lpEvent (F14).
	Raw json.RawMessage
	// Context is the conversation's consumer context (conversationContext).
	Context json.RawMessage
	// Handoff, on EventAssigned, is the dialog's last sequence when the
	// conversation last changed hands (a transfer to a skill or an agent):
	// the consumer messages after it are the bot's to answer, the ones at or
	// before it belonged to the previous agent. HandoffKnown is false when
	// the platform does not say (a real LivePerson account); the relay then
	// works it out from History (docs/connector.md, "Handovers").
	Handoff      int64
	HandoffKnown bool
	// LastConsumer, on EventAssigned, is the sequence of the dialog's last
	// event the consumer wrote when the platform sent the assignment (0:
	// none); LastConsumerKnown is false when the platform does not say. A
	// resumed conversation the bot handled through it has nothing to catch
	// up on, and the relay skips reading its history.
	LastConsumer      int64
	LastConsumerKnown bool
	At                time.Time
}

// EngagementAttributesReader is implemented by platforms that can read a
// consumer's engagement attributes (F13) on their own, e.g. through
// LivePerson's GetUserProfile: the relay asks when the conversation's
// context does not carry them. The answer is in the lpSdes shape,
// {"unauthenticatedSdes":{…},"authenticatedSdes":{…}}.
type EngagementAttributesReader interface {
	EngagementAttributes(ctx context.Context, conv ConversationRef) (json.RawMessage, error)
}

// ErrDisconnected is what a platform adapter's conversation methods return
// (wrapped, or as an error whose Is matches it) while its session is down:
// the call may or may not have reached the platform. The relay waits for
// the session to come back, reads the history to see what went out, and
// goes on, instead of escalating.
var ErrDisconnected = errors.New("the platform session is not connected")
