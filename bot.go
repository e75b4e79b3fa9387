package botrelay

import "time"

// BotID identifies a bot (a connector configuration). It is a UUID.
type BotID string

// Bot is a connector-side bot: the configuration that makes one bot user act
// as an AI-driven agent. This is the part of the record the account model
// needs; the connector adds its configuration.
type Bot struct {
	ID        BotID
	AccountID AccountID
	Name      string
	// UserID is the bound bot user. A bot user is bound to at most one bot
	// (spec §1.2.3, F47); the store refuses a second binding with ECONFLICT.
	UserID    UserID
	CreatedAt time.Time
	UpdatedAt time.Time
}
