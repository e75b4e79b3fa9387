package botrelay

import (
	"context"
	"encoding/json"
	"time"
)

// BotConversation is the relay's durable state of one conversation a bot
// holds (F45, F46): what survives a restart so the bot resumes where it was.
type BotConversation struct {
	BotID          BotID
	ConversationID ConversationID
	DialogID       DialogID
	ConsumerID     ConsumerID
	SkillID        SkillID
	// Open is false once the bot no longer holds the conversation.
	Open bool
	// VendorState is the vendor's opaque session data.
	VendorState json.RawMessage
	// LastSequence is the sequence of the last consumer message fully
	// handled; later ones are processed after a restart.
	LastSequence int64
	// Outbox is a reply the relay is publishing (relay-owned JSON), so a
	// restart finishes it instead of asking the vendor again.
	Outbox json.RawMessage
	// Welcomed records that the welcome of the current assignment is
	// settled (F12): sent, or not wanted when the bot got the conversation.
	// A resumed conversation is never welcomed again.
	Welcomed bool
	// Escalations counts error escalations, for loop protection (F32).
	Escalations int
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// RelayStore keeps what the connector needs across restarts.
type RelayStore interface {
	// SaveBotConversation inserts or replaces the state and sets the times.
	SaveBotConversation(ctx context.Context, c *BotConversation) error
	// BotConversation returns one state, or ENOTFOUND.
	BotConversation(ctx context.Context, bot BotID, conv ConversationID) (*BotConversation, error)
	// OpenBotConversations lists the bot's open conversations, oldest first.
	OpenBotConversations(ctx context.Context, bot BotID) ([]*BotConversation, error)
	// CountOpenBotConversations counts them.
	CountOpenBotConversations(ctx context.Context, bot BotID) (int, error)

	// AddBotStateEvent appends to the state history (F38).
	AddBotStateEvent(ctx context.Context, e *BotStateEvent) error
	// BotStateEvents returns the newest events first, at most limit.
	BotStateEvents(ctx context.Context, bot BotID, limit int) ([]*BotStateEvent, error)
	// ClearBotStateEvents empties the history; a restart clears it (§1.7).
	ClearBotStateEvents(ctx context.Context, bot BotID) error

	// AddBotError appends to the error log and applies its retention: at most
	// MaxBotErrors per bot, none older than BotErrorMaxAge (F37).
	AddBotError(ctx context.Context, e *BotError) error
	// BotErrors returns the newest errors first, optionally for one
	// conversation, at most limit (0: all kept).
	BotErrors(ctx context.Context, bot BotID, conv ConversationID, limit int) ([]*BotError, error)
}
