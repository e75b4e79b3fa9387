package botrelay

import (
	"context"
	"encoding/json"
	"time"
)

// ConversationID identifies a messaging conversation. It is a UUID.
type ConversationID string

// DialogID identifies a dialog within a conversation. The main dialog has the
// conversation's id, as in LivePerson; a post-conversation survey dialog gets
// a new UUID.
type DialogID string

// ConsumerID identifies an anonymous consumer (the person chatting on the
// web page). It is a UUID carried in the consumer's signed token.
type ConsumerID string

// ConversationState is OPEN until the conversation is closed.
type ConversationState string

// The conversation states.
const (
	ConversationOpen  ConversationState = "OPEN"
	ConversationClose ConversationState = "CLOSE"
)

// DialogType tells the main dialog from a post-conversation survey dialog.
type DialogType string

// The dialog types.
const (
	DialogMain       DialogType = "MAIN"
	DialogPostSurvey DialogType = "POST_SURVEY"
)

// DialogState is OPEN until the dialog is closed. A conversation has at most
// one open dialog.
type DialogState string

// The dialog states.
const (
	DialogOpen  DialogState = "OPEN"
	DialogClose DialogState = "CLOSE"
)

// ParticipantRole is a participant's role in a conversation, with
// LivePerson's names.
type ParticipantRole string

// The participant roles.
const (
	ParticipantConsumer      ParticipantRole = "CONSUMER"
	ParticipantAssignedAgent ParticipantRole = "ASSIGNED_AGENT"
	ParticipantAgent         ParticipantRole = "AGENT"
	ParticipantManager       ParticipantRole = "MANAGER"
	ParticipantReader        ParticipantRole = "READER"
)

// Valid reports whether r is one of the roles.
func (r ParticipantRole) Valid() bool {
	switch r {
	case ParticipantConsumer, ParticipantAssignedAgent, ParticipantAgent, ParticipantManager, ParticipantReader:
		return true
	}
	return false
}

// ParticipantState is ACTIVE for a participant of the conversation, or
// SUGGESTED for an agent a transfer suggested, until that agent accepts.
type ParticipantState string

// The participant states.
const (
	ParticipantStateActive    ParticipantState = "ACTIVE"
	ParticipantStateSuggested ParticipantState = "SUGGESTED"
)

// TTRType is a conversation's time-to-response class.
type TTRType string

// The TTR types.
const (
	TTRNormal      TTRType = "NORMAL"
	TTRUrgent      TTRType = "URGENT"
	TTRPrioritized TTRType = "PRIORITIZED"
)

// Valid reports whether t is one of the TTR types.
func (t TTRType) Valid() bool { return t == TTRNormal || t == TTRUrgent || t == TTRPrioritized }

// Close reasons, as LivePerson reports who closed a conversation.
const (
	CloseByAgent    = "AGENT"
	CloseByConsumer = "CONSUMER"
	CloseBySystem   = "SYSTEM"
)

// Participant is one member of a conversation: either the consumer
// (ConsumerID set) or a user (UserID set).
type Participant struct {
	UserID     UserID     // 0 for the consumer
	ConsumerID ConsumerID // "" for users
	Role       ParticipantRole
	State      ParticipantState
	JoinedAt   time.Time
}

// Dialog is one dialog of a conversation: the main dialog, then possibly a
// post-conversation survey dialog. Message sequences count per dialog.
type Dialog struct {
	ID        DialogID
	Type      DialogType
	State     DialogState
	ClosedBy  string // a Close* reason when closed
	CreatedAt time.Time
	ClosedAt  time.Time // zero while open
	// HandoffSequence is the dialog's last sequence when the conversation
	// last changed hands: a transfer to a skill or an agent, or the assigned
	// agent leaving it to the queue. Consumer messages after it are the next
	// agent's to answer; those at or before it belonged to the previous
	// agent's part. 0 for a conversation that never changed hands.
	HandoffSequence int64
	// LastConsumerSequence is the sequence of the dialog's last event the
	// consumer wrote, as the store held it when it read the dialog (0: none).
	// The hub keeps the live value; a connector that held the conversation
	// through this sequence has nothing to catch up on when it resumes.
	LastConsumerSequence int64
}

// Conversation is a messaging conversation between a consumer and the agents
// (human or bot) that take part in it. The hub owns its state machine; the
// store keeps it so that open conversations survive a restart.
type Conversation struct {
	ID         ConversationID
	AccountID  AccountID
	ConsumerID ConsumerID
	// SkillID is the skill the conversation is routed to; a transfer changes it.
	SkillID SkillID
	State   ConversationState
	TTR     TTRType
	// ManualETTR is an agent-set expected time to response, or zero.
	ManualETTR  time.Time
	CloseReason string // a Close* reason once closed
	// Context is the consumer's conversationContext, opaque JSON ("" when none).
	Context      json.RawMessage
	Participants []Participant // in joining order
	Dialogs      []Dialog      // in creation order; the first is the main dialog
	CreatedAt    time.Time
	UpdatedAt    time.Time
	ClosedAt     time.Time // zero while open
}

// Clone returns a deep copy of c, so a copy can be changed and stored while
// readers keep the original.
func (c *Conversation) Clone() *Conversation {
	cp := *c
	cp.Context = append(json.RawMessage(nil), c.Context...)
	cp.Participants = append([]Participant(nil), c.Participants...)
	cp.Dialogs = append([]Dialog(nil), c.Dialogs...)
	return &cp
}

// OpenDialog returns the conversation's open dialog, or nil.
func (c *Conversation) OpenDialog() *Dialog {
	for i := range c.Dialogs {
		if c.Dialogs[i].State == DialogOpen {
			return &c.Dialogs[i]
		}
	}
	return nil
}

// Dialog returns the dialog with the id, or nil.
func (c *Conversation) Dialog(id DialogID) *Dialog {
	for i := range c.Dialogs {
		if c.Dialogs[i].ID == id {
			return &c.Dialogs[i]
		}
	}
	return nil
}

// AssignedAgent returns the user of the active ASSIGNED_AGENT participant,
// or 0 when the conversation waits for an agent.
func (c *Conversation) AssignedAgent() UserID {
	for _, p := range c.Participants {
		if p.Role == ParticipantAssignedAgent && p.State == ParticipantStateActive && p.UserID != 0 {
			return p.UserID
		}
	}
	return 0
}

// HasUser reports whether the user is an active participant, in any role.
func (c *Conversation) HasUser(id UserID) bool {
	for _, p := range c.Participants {
		if p.UserID == id && p.State == ParticipantStateActive {
			return true
		}
	}
	return false
}

// Validate reports the first rule c breaks.
func (c *Conversation) Validate() error {
	if c.ID == "" || c.ConsumerID == "" {
		return Errorf(EINVALID, "a conversation needs an id and a consumer")
	}
	if c.State != ConversationOpen && c.State != ConversationClose {
		return Errorf(EINVALID, "conversation state must be %s or %s", ConversationOpen, ConversationClose)
	}
	if c.TTR == "" {
		c.TTR = TTRNormal
	}
	if !c.TTR.Valid() {
		return Errorf(EINVALID, "ttr must be %s, %s or %s", TTRNormal, TTRUrgent, TTRPrioritized)
	}
	if len(c.Dialogs) == 0 {
		return Errorf(EINVALID, "a conversation needs its main dialog")
	}
	for _, d := range c.Dialogs {
		if d.ID == "" || (d.Type != DialogMain && d.Type != DialogPostSurvey) || (d.State != DialogOpen && d.State != DialogClose) {
			return Errorf(EINVALID, "dialog %q is malformed", d.ID)
		}
	}
	for _, p := range c.Participants {
		if !p.Role.Valid() || (p.State != ParticipantStateActive && p.State != ParticipantStateSuggested) ||
			(p.UserID == 0) == (p.ConsumerID == "") {
			return Errorf(EINVALID, "participant %+v is malformed", p)
		}
	}
	if len(c.Context) > 0 && !json.Valid(c.Context) {
		return Errorf(EINVALID, "conversation context must be JSON")
	}
	return nil
}

// Message audiences. An event for AudienceAgentsAndManagers is a private
// note: it is never delivered to the consumer.
const (
	AudienceAll               = ""
	AudienceAgentsAndManagers = "AGENTS_AND_MANAGERS"
)

// MessageEvent is one stored event of a dialog: a text, rich content, a file,
// an accept or read receipt. Chat-state (typing) events are not stored.
type MessageEvent struct {
	ConversationID ConversationID
	DialogID       DialogID
	// Sequence is assigned by the store: 1 for a dialog's first event, then
	// one more for each event.
	Sequence int64
	// Type is the event's type field, e.g. "ContentEvent".
	Type string
	// OriginatorID is the legacy id ("<account>.<userId>") of a user or the
	// consumer id; OriginatorPID the user's PID or the consumer id.
	OriginatorID   string
	OriginatorPID  string
	OriginatorRole ParticipantRole
	OriginatorName string // the agent's nickname, "" for the consumer
	// OriginatorType tells a bot user's events from a human agent's; "" for
	// the consumer.
	OriginatorType UserType
	Audience       string // AudienceAll or AudienceAgentsAndManagers
	// Event, Metadata and EncodedMetadata are passed through as sent.
	Event           json.RawMessage
	Metadata        json.RawMessage // a JSON array, or empty
	EncodedMetadata string
	CreatedAt       time.Time // set by the store
}

// ConversationFilter selects conversations in ConversationStore.Conversations.
// Zero fields match everything.
type ConversationFilter struct {
	State      ConversationState
	ConsumerID ConsumerID
	// Limit keeps only the newest Limit conversations (0: all).
	Limit int
}

// ConversationStore keeps conversations, their dialogs, participants and
// message events.
type ConversationStore interface {
	// CreateConversation stores a new conversation with its dialogs and
	// participants (after c.Validate) and sets CreatedAt and UpdatedAt.
	// ECONFLICT when the id is taken; EINVALID when the account does not exist.
	CreateConversation(ctx context.Context, c *Conversation) error
	// UpdateConversation replaces the conversation's state, skill, TTR,
	// close reason, participants and dialogs (dialogs are added or updated,
	// never removed) and sets UpdatedAt. ENOTFOUND when absent.
	UpdateConversation(ctx context.Context, c *Conversation) error
	// Conversation returns one conversation, or ENOTFOUND.
	Conversation(ctx context.Context, id ConversationID) (*Conversation, error)
	// Conversations lists an account's conversations, oldest first.
	Conversations(ctx context.Context, account AccountID, f ConversationFilter) ([]*Conversation, error)
	// AppendEvent stores e with the next sequence of its dialog, in one
	// transaction, and fills Sequence and CreatedAt. The event is durable
	// when AppendEvent returns. ENOTFOUND when the dialog does not belong to
	// the conversation.
	AppendEvent(ctx context.Context, e *MessageEvent) error
	// Events lists a conversation's events with a sequence above
	// afterSequence, ordered by dialog then sequence, at most limit of them
	// (0: no limit). A non-empty dialog restricts the list to that dialog.
	Events(ctx context.Context, conversation ConversationID, dialog DialogID, afterSequence int64, limit int) ([]*MessageEvent, error)
}
