package botrelay

import (
	"context"
	"encoding/json"
	"time"
)

// The Third-Party Bots Public API (spec F40, §5): a brand's system sends
// commands (messages, transfer, close, engagement attributes, TTR) into a
// conversation a bot holds. A command is stored, queued per conversation,
// and carried out in order by the bot that owns the conversation, on
// whatever node that bot runs: the store is the only channel between the
// node that took the request and the bot.

// CommandType names what a Public API command does; the values are the
// path segments of §5 and the "type" of a command record.
type CommandType string

// The command types.
const (
	CommandMessages CommandType = "messages"
	CommandTransfer CommandType = "transfer"
	CommandClose    CommandType = "close"
	CommandSDEs     CommandType = "sdes"
	CommandTTR      CommandType = "ttr"
)

// CommandState is a command's state: waiting until the bot carries it out
// or its time to live passes, then completed or failed.
type CommandState string

// The command states.
const (
	CommandWaiting   CommandState = "waiting"
	CommandCompleted CommandState = "completed"
	CommandFailed    CommandState = "failed"
)

// Command time to live (§5: ttl query parameter, seconds).
const (
	CommandMinTTL     = 10 * time.Second
	CommandMaxTTL     = 120 * time.Second
	CommandDefaultTTL = 30 * time.Second
)

// MaxCommandsPerBot is how many commands the store keeps per bot: the
// newest ones (§5: "last 200 commands per bot/agent").
const MaxCommandsPerBot = 200

// CommandFailedName is the error name of every failed command (spec §5 and
// Appendix A: public-api.execution-failed); Command.ErrorCause names the
// cause more precisely with an Appendix A name where one fits.
const CommandFailedName = ErrorCodePrefix + "public-api.execution-failed"

// Command is one Public API command.
type Command struct {
	// ID is assigned by the store: a decimal number, increasing.
	ID             string
	AccountID      AccountID
	BotID          BotID
	ConversationID ConversationID
	Type           CommandType
	// Payload is the command's normalised body (see §5's command record).
	Payload json.RawMessage
	State   CommandState
	// TimeoutAt is when a command still waiting fails: creation plus ttl.
	TimeoutAt time.Time
	CreatedAt time.Time
	// StartedAt is when the bot took the command (zero until then); a
	// taken command stays waiting until it ends, whatever its TTL.
	StartedAt time.Time
	EndedAt   time.Time // zero while waiting
	// ErrorCause and ErrorMessage say why a failed command failed.
	ErrorCause   string
	ErrorMessage string
}

// CommandStore keeps Public API commands and the engagement attributes
// commands set.
type CommandStore interface {
	// CreateCommand stores c as waiting, assigns its ID and CreatedAt, and
	// drops the bot's commands beyond the newest MaxCommandsPerBot.
	CreateCommand(ctx context.Context, c *Command) error
	// Command returns one command, or ENOTFOUND.
	Command(ctx context.Context, id string) (*Command, error)
	// Commands lists a conversation's commands, oldest first, at most limit
	// (the newest ones; 0: all kept).
	Commands(ctx context.Context, conv ConversationID, limit int) ([]*Command, error)
	// WaitingCommands lists the account's commands that wait and were not
	// taken yet, oldest first, at most limit.
	WaitingCommands(ctx context.Context, account AccountID, limit int) ([]*Command, error)
	// TakeCommand marks a waiting, untaken command whose TimeoutAt is after
	// now as taken at now; false when it is not such a command any more.
	TakeCommand(ctx context.Context, id string, now time.Time) (bool, error)
	// FinishCommand ends the waiting command c.ID with c's State (completed
	// or failed), ErrorCause, ErrorMessage and EndedAt; false when it had
	// ended already.
	FinishCommand(ctx context.Context, c *Command) (bool, error)
	// ExpireCommands fails the waiting commands that were not taken by their
	// TimeoutAt, and the taken ones that started before staleBefore (their
	// bot was stopped in the middle), at now; it returns how many.
	ExpireCommands(ctx context.Context, now, staleBefore time.Time, cause, msg string) (int, error)

	// SetEngagementAttributes stores the engagement attributes a command set
	// on a conversation (replacing earlier ones).
	SetEngagementAttributes(ctx context.Context, conv ConversationID, sdes json.RawMessage, at time.Time) error
	// EngagementAttributes returns them, or ENOTFOUND when none were set.
	EngagementAttributes(ctx context.Context, conv ConversationID) (json.RawMessage, time.Time, error)

	// SavePublicAPIToken stores a Public API login (the hash of its bearer
	// token) and ends the user's earlier ones: a user has one session (F47).
	SavePublicAPIToken(ctx context.Context, t *PublicAPIToken) error
	// PublicAPIToken returns the login of a token hash, expired or not, or
	// ENOTFOUND.
	PublicAPIToken(ctx context.Context, hash string) (*PublicAPIToken, error)
}

// PublicAPIToken is one Public API login: the hash of its bearer token, its
// user and when it ends.
type PublicAPIToken struct {
	Hash      string
	AccountID AccountID
	UserID    UserID
	ExpiresAt time.Time
}

// The normalised payloads of commands, as the store keeps them and a
// command record shows them (§5). The API builds them from the request
// bodies; the relay carries them out.

// CommandMessage is one item of a messages command: a text (Payload a JSON
// string), structured content (Payload the content) or a delay.
type CommandMessage struct {
	// Type is "text", "structuredContent" or "delay".
	Type     string          `json:"type"`
	Payload  json.RawMessage `json:"payload,omitempty"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
	// EncodedMetadata is passed on as is (F22, messaging only).
	EncodedMetadata string `json:"encodedMetadata,omitempty"`
	// MessageAudience is "" or AGENTS_AND_MANAGERS (a private text, F21).
	MessageAudience string `json:"messageAudience,omitempty"`
	// QuickReplies go with a text (messaging only).
	QuickReplies json.RawMessage `json:"quickReplies,omitempty"`
	// Delay (seconds) and Typing describe a delay item.
	Delay  float64 `json:"delay,omitempty"`
	Typing bool    `json:"typing,omitempty"`
}

// MessagesPayload is a messages command's payload.
type MessagesPayload struct {
	// Context is the analytics context {intentId, intentName,
	// confidenceScore}, kept as sent.
	Context  json.RawMessage  `json:"context,omitempty"`
	Messages []CommandMessage `json:"messages"`
}

// TransferPayload is a transfer command's payload: a skill name (case
// sensitive) and optionally an agent on it.
type TransferPayload struct {
	Skill   string `json:"skill"`
	AgentID string `json:"agentId,omitempty"`
}

// TTRPayload is a ttr command's payload.
type TTRPayload struct {
	TTRType string `json:"ttrType"`
}

// SDEsPayload is an sdes command's payload: engagement attribute entries in
// LivePerson's shape ({"type":"personal","personal":{…}}) and the visitor
// and session ids they belong to.
type SDEsPayload struct {
	SDEs           json.RawMessage `json:"sdes"`
	SharkVisitorID string          `json:"sharkVisitorId"`
	SharkSessionID string          `json:"sharkSessionId"`
}
