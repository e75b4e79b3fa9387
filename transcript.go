package botrelay

import (
	"context"
	"encoding/json"
	"strings"
	"time"
)

// ChangeKind names a system event of a conversation's history.
type ChangeKind string

// The system events the store records when a conversation changes.
const (
	// ChangeJoined: a user became an active participant (UserID, Role).
	ChangeJoined ChangeKind = "PARTICIPANT_JOINED"
	// ChangeLeft: an active participant left or was removed (UserID, Role).
	ChangeLeft ChangeKind = "PARTICIPANT_LEFT"
	// ChangeSuggested: a transfer suggested an agent (UserID, Role).
	ChangeSuggested ChangeKind = "AGENT_SUGGESTED"
	// ChangeTransferred: the conversation moved from FromSkillID to SkillID.
	ChangeTransferred ChangeKind = "TRANSFERRED"
	// ChangeTTR: the TTR type (TTR) or the agent-set expected time to
	// response (ManualETTR) changed.
	ChangeTTR ChangeKind = "TTR_CHANGED"
	// ChangeDialogOpened: a new dialog opened (Value: its type, e.g. POST_SURVEY).
	ChangeDialogOpened ChangeKind = "DIALOG_OPENED"
	// ChangeClosed: the conversation closed (Value: who closed it, a Close* reason).
	ChangeClosed ChangeKind = "CONVERSATION_CLOSED"
)

// ConversationChange is one system event of a conversation: who joined or
// left, a transfer, a TTR change, a survey dialog, the close. The store
// records them when a conversation is updated, so the history outlives the
// participants list, which only holds the current participants.
type ConversationChange struct {
	ConversationID ConversationID
	Kind           ChangeKind
	UserID         UserID
	Role           ParticipantRole
	SkillID        SkillID
	FromSkillID    SkillID
	TTR            TTRType
	ManualETTR     time.Time
	Value          string
	At             time.Time
}

// DiffConversation lists the system events that turn old into nc, in a
// fixed order: participants leaving, joining and suggested, the transfer,
// the TTR, new dialogs, the close. A nil old is a new conversation: its
// participants other than the consumer join.
func DiffConversation(old, nc *Conversation, at time.Time) []ConversationChange {
	var out []ConversationChange
	add := func(c ConversationChange) {
		c.ConversationID, c.At = nc.ID, at
		out = append(out, c)
	}
	var oldParts []Participant
	if old != nil {
		oldParts = old.Participants
	}
	has := func(list []Participant, p Participant) bool {
		for _, q := range list {
			if q.UserID == p.UserID && q.ConsumerID == p.ConsumerID && q.Role == p.Role && q.State == p.State {
				return true
			}
		}
		return false
	}
	for _, p := range oldParts {
		if p.UserID != 0 && p.State == ParticipantStateActive && !has(nc.Participants, p) {
			add(ConversationChange{Kind: ChangeLeft, UserID: p.UserID, Role: p.Role})
		}
	}
	for _, p := range nc.Participants {
		if p.UserID == 0 || has(oldParts, p) {
			continue
		}
		kind := ChangeJoined
		if p.State == ParticipantStateSuggested {
			kind = ChangeSuggested
		}
		add(ConversationChange{Kind: kind, UserID: p.UserID, Role: p.Role})
	}
	if old == nil {
		return out
	}
	if old.SkillID != nc.SkillID {
		add(ConversationChange{Kind: ChangeTransferred, SkillID: nc.SkillID, FromSkillID: old.SkillID})
	}
	if old.TTR != nc.TTR || !old.ManualETTR.Equal(nc.ManualETTR) {
		add(ConversationChange{Kind: ChangeTTR, TTR: nc.TTR, ManualETTR: nc.ManualETTR})
	}
	for _, d := range nc.Dialogs {
		if old.Dialog(d.ID) == nil {
			add(ConversationChange{Kind: ChangeDialogOpened, Value: string(d.Type)})
		}
	}
	if old.State == ConversationOpen && nc.State == ConversationClose {
		add(ConversationChange{Kind: ChangeClosed, Value: nc.CloseReason})
	}
	return out
}

// ConsumerName returns the consumer's name when the conversation context
// carries one: a "name" string, or the "personal" entry of LivePerson's
// engagement attributes ("firstname", "lastname"). "" when it carries none.
func ConsumerName(convCtx json.RawMessage) string {
	if len(convCtx) == 0 {
		return ""
	}
	var c struct {
		Name     any `json:"name"`
		Personal struct {
			First any `json:"firstname"`
			Last  any `json:"lastname"`
		} `json:"personal"`
	}
	if json.Unmarshal(convCtx, &c) != nil {
		return ""
	}
	str := func(v any) string { s, _ := v.(string); return strings.TrimSpace(s) }
	if n := str(c.Name); n != "" {
		return limitRunes(n, 128)
	}
	return limitRunes(strings.TrimSpace(str(c.Personal.First)+" "+str(c.Personal.Last)), 128)
}

func limitRunes(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n])
	}
	return s
}

// ConsumerDisplayName is how people see a consumer: the name from the
// conversation context, else "Consumer " and the first eight characters of
// the consumer id, as the agent console shows them.
func ConsumerDisplayName(id ConsumerID, convCtx json.RawMessage) string {
	if n := ConsumerName(convCtx); n != "" {
		return n
	}
	s := string(id)
	if len(s) > 8 {
		s = s[:8]
	}
	return "Consumer " + s
}

// MaxConversationSearch caps one page of ConversationSearchStore.SearchConversations.
const MaxConversationSearch = 200

// ConversationQuery selects conversations in SearchConversations. Zero
// fields match everything.
type ConversationQuery struct {
	// Consumer matches the consumer id exactly, the consumer's name (a
	// case-insensitive substring), or a prefix of at least four characters
	// of the consumer id ("Consumer 1a2b3c4d", as displayed, works too).
	Consumer string
	// BotID: conversations the bot held at some point.
	BotID BotID
	// SkillID: conversations routed to the skill now or before a transfer.
	SkillID SkillID
	State   ConversationState
	// From and To bound the start time: From <= CreatedAt < To.
	From, To time.Time
	// Participant: conversations the user took part in (joined at some point).
	Participant UserID
	// Limit is the page size, 1 to MaxConversationSearch.
	Limit int
	// After continues a search: only conversations older than this one, in
	// the order of the results (newest first; ties by id, descending).
	After *ConversationCursor
}

// ConversationCursor is the position after a page of SearchConversations:
// the last conversation's start time and id.
type ConversationCursor struct {
	CreatedAt time.Time
	ID        ConversationID
}

// ConversationSearchStore answers the conversation search and the pieces of
// a transcript besides the message events.
type ConversationSearchStore interface {
	// SearchConversations lists an account's conversations matching q,
	// newest first (by start time, then id), at most q.Limit, with their
	// dialogs and participants.
	SearchConversations(ctx context.Context, account AccountID, q ConversationQuery) ([]*Conversation, error)
	// ConversationChanges lists a conversation's system events in the order
	// they happened.
	ConversationChanges(ctx context.Context, id ConversationID) ([]*ConversationChange, error)
	// ConversationBotErrors lists the error log entries of a conversation,
	// every bot's, oldest first, within the log's retention (F37).
	ConversationBotErrors(ctx context.Context, id ConversationID) ([]*BotError, error)
	// ConversationBots returns, for each given conversation, the bots that
	// held it, in the order they got it.
	ConversationBots(ctx context.Context, ids []ConversationID) (map[ConversationID][]BotID, error)
	// Participated reports whether the user is or was an active participant
	// of the conversation.
	Participated(ctx context.Context, id ConversationID, user UserID) (bool, error)
}
