package botrelay

import (
	"encoding/json"
	"time"
)

// BotID identifies a bot (a connector configuration). It is a UUID.
type BotID string

// BotType is fixed at creation (spec §1.4).
type BotType string

// The bot types.
const (
	BotAgent  BotType = "AGENT"
	BotSurvey BotType = "SURVEY"
)

// BotState is a bot's lifecycle state (F1).
type BotState string

// The bot states.
const (
	BotOffline             BotState = "OFFLINE"
	BotStarting            BotState = "STARTING"
	BotOnline              BotState = "ONLINE"
	BotVendorInterruption  BotState = "VENDOR_INTERRUPTION"
	BotServiceInterruption BotState = "SERVICE_INTERRUPTION"
)

// Bot is a connector-side bot: the configuration that makes one bot user act
// as an AI-driven agent (spec §1.6.1).
type Bot struct {
	ID        BotID
	AccountID AccountID
	Name      string
	// UserID is the bound bot user. A bot user is bound to at most one bot
	// (spec §1.2.3, F47); the store refuses a second binding with ECONFLICT.
	UserID UserID
	// Type, ConversationType and Vendor are set at creation.
	Type             BotType
	ConversationType ConversationType
	Vendor           string
	// Settings holds everything else an operator configures.
	Settings BotSettings
	// Secrets is the sealed (secretbox) JSON object of credentials: the
	// vendor's secret settings and the bot user's API key set. The store
	// keeps it opaque; only the relay opens it.
	Secrets string
	// Started records the operator's intent: a started bot runs again after
	// a restart of botrelay.
	Started   bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// BotSettings are the operator's settings of a bot (spec §1.6).
type BotSettings struct {
	// Vendor holds the vendor's non-secret settings as JSON; the secret ones
	// are in Bot.Secrets.
	Vendor        json.RawMessage   `json:"vendor,omitempty"`
	ErrorHandling ErrorHandling     `json:"errorHandling"`
	Messaging     MessagingSettings `json:"messaging"`
	Chat          ChatSettings      `json:"chat"`
	Survey        SurveySettings    `json:"survey"`
	Limits        BotLimits         `json:"limits"`
	// Platform says where the bot user logs in; empty means the embedded hub.
	Platform PlatformSettings `json:"platform"`
	// Hooks are JavaScript functions (LivePerson Functions' shape) the
	// pipeline runs around the vendor call (F36).
	Hooks BotHooks `json:"hooks"`
	// Functions are the JavaScript functions replies may invoke by id
	// (INVOKE_FUNCTION's lambdaUuid, F30): id → source in the shape of
	// LivePerson Functions.
	Functions map[string]string `json:"functions,omitempty"`
	// Routing holds stand-ins, fallbacks and traffic splitting (standin.go).
	Routing RoutingSettings `json:"routing,omitzero"`
}

// BotHooks are the pre-, post- and error-hook sources (F36); empty ones are
// off. The pre-hook gets the vendor request as input.payload and answers the
// request to send; the post-hook gets the vendor's raw response and answers
// the response to parse; the error-hook gets {error, vendor, request,
// response} and its answer is ignored.
type BotHooks struct {
	PreHook   string `json:"preHook,omitempty"`
	PostHook  string `json:"postHook,omitempty"`
	ErrorHook string `json:"errorHook,omitempty"`
}

// Any reports whether a hook is set.
func (h BotHooks) Any() bool { return h.PreHook != "" || h.PostHook != "" || h.ErrorHook != "" }

// ErrorHandling is the Error Handling step (§1.6.3).
type ErrorHandling struct {
	// EscalationSkill is the name of the default escalation skill.
	EscalationSkill        string `json:"escalationSkill"`
	MessageToConsumer      string `json:"messageToConsumer"`
	MessageToAgent         string `json:"messageToAgent"`
	TransferFailureMessage string `json:"transferFailureMessage"`
}

// MessagingSettings is the Conversation Type step for messaging (§1.6.2).
type MessagingSettings struct {
	WelcomeMessage       bool           `json:"welcomeMessage"`
	Combine              CombineSetting `json:"combine"`
	EngagementAttributes bool           `json:"engagementAttributes"`
}

// ChatSettings is the Conversation Type step for chat (§1.6.2, F34): after
// WarningAfterSeconds without a consumer message the consumer gets
// WarningMessage (once per quiet period); after CloseAfterSeconds the bot
// sends CloseMessage and ends the conversation. Zero turns a timer off.
type ChatSettings struct {
	WarningAfterSeconds int    `json:"warningAfterSeconds,omitempty"`
	WarningMessage      string `json:"warningMessage,omitempty"`
	CloseAfterSeconds   int    `json:"closeAfterSeconds,omitempty"`
	CloseMessage        string `json:"closeMessage,omitempty"`
}

// CombineSetting is F10's Combine Messages option.
type CombineSetting struct {
	Enabled            bool `json:"enabled"`
	MaxMessages        int  `json:"maxMessages"`
	WindowSeconds      int  `json:"windowSeconds"`
	AfterTypingSeconds int  `json:"afterTypingSeconds"`
}

// SurveySettings is the Survey Configuration step (§1.6.4).
type SurveySettings struct {
	Skills       []string `json:"skills,omitempty"`
	ErrorMessage string   `json:"errorMessage,omitempty"`
}

// BotLimits are the runtime limits; zero values take the defaults.
type BotLimits struct {
	// MaxOpenConversations caps the conversations the bot holds (F5).
	// Default: 999.
	MaxOpenConversations int `json:"maxOpenConversations,omitempty"`
	// VendorTimeoutSeconds bounds one vendor turn, retries included (F42).
	// Default: 30.
	VendorTimeoutSeconds int `json:"vendorTimeoutSeconds,omitempty"`
	// RestartIntervalSeconds is the Service Interruption restart cadence
	// (F3). Default: 60.
	RestartIntervalSeconds int `json:"restartIntervalSeconds,omitempty"`
	// HealthIntervalSeconds is the vendor health-check cadence (F4).
	// Default: 60.
	HealthIntervalSeconds int `json:"healthIntervalSeconds,omitempty"`
	// VendorFailureThreshold is how many live turns in a row may fail on
	// the vendor's side (unavailable, timed out, credentials refused) before
	// the bot goes to Vendor Interruption (F4). Default: 5.
	VendorFailureThreshold int `json:"vendorFailureThreshold,omitempty"`
}

// PlatformSettings point a bot at a real LivePerson account instead of the
// embedded hub.
type PlatformSettings struct {
	Account    string `json:"account,omitempty"`
	CSDSDomain string `json:"csdsDomain,omitempty"`
}

// Limit defaults.
const (
	DefaultMaxOpenConversations = 999
	DefaultVendorTimeout        = 30 * time.Second
	DefaultRestartInterval      = 60 * time.Second
	DefaultHealthInterval       = 60 * time.Second
	DefaultVendorFailures       = 5
)

// MaxOpen returns the open-conversation cap.
func (l BotLimits) MaxOpen() int {
	if l.MaxOpenConversations > 0 {
		return l.MaxOpenConversations
	}
	return DefaultMaxOpenConversations
}

// VendorTimeout returns the vendor turn timeout.
func (l BotLimits) VendorTimeout() time.Duration {
	return seconds(l.VendorTimeoutSeconds, DefaultVendorTimeout)
}

// RestartInterval returns the Service Interruption restart cadence.
func (l BotLimits) RestartInterval() time.Duration {
	return seconds(l.RestartIntervalSeconds, DefaultRestartInterval)
}

// HealthInterval returns the vendor health-check cadence.
func (l BotLimits) HealthInterval() time.Duration {
	return seconds(l.HealthIntervalSeconds, DefaultHealthInterval)
}

// VendorFailures returns how many failed live turns in a row put the bot in
// Vendor Interruption.
func (l BotLimits) VendorFailures() int {
	if l.VendorFailureThreshold > 0 {
		return l.VendorFailureThreshold
	}
	return DefaultVendorFailures
}

func seconds(n int, def time.Duration) time.Duration {
	if n > 0 {
		return time.Duration(n) * time.Second
	}
	return def
}

// Validate normalises b and reports the first rule it breaks.
func (b *Bot) Validate() error {
	b.Name = trimmed(b.Name)
	if b.Name == "" || len(b.Name) > 128 {
		return Errorf(EINVALID, "name must be 1 to 128 bytes")
	}
	if b.Type == "" {
		b.Type = BotAgent
	}
	if b.Type != BotAgent && b.Type != BotSurvey {
		return Errorf(EINVALID, "type must be %s or %s", BotAgent, BotSurvey)
	}
	if b.ConversationType == "" {
		b.ConversationType = Messaging
	}
	if b.ConversationType != Messaging && b.ConversationType != Chat {
		return Errorf(EINVALID, "conversationType must be %s or %s", Messaging, Chat)
	}
	if b.Type == BotSurvey && b.ConversationType != Messaging {
		return Errorf(EINVALID, "survey bots work on messaging conversations only")
	}
	if b.Vendor == "" {
		return Errorf(EINVALID, "vendor is required")
	}
	l := b.Settings.Limits
	if l.MaxOpenConversations < 0 || l.VendorTimeoutSeconds < 0 || l.RestartIntervalSeconds < 0 || l.HealthIntervalSeconds < 0 ||
		l.VendorFailureThreshold < 0 {
		return Errorf(EINVALID, "limits must not be negative")
	}
	if l.VendorTimeoutSeconds > 300 {
		return Errorf(EINVALID, "limits.vendorTimeoutSeconds must be at most 300")
	}
	if ch := b.Settings.Chat; ch.WarningAfterSeconds < 0 || ch.CloseAfterSeconds < 0 ||
		(ch.WarningAfterSeconds > 0 && ch.CloseAfterSeconds > 0 && ch.WarningAfterSeconds >= ch.CloseAfterSeconds) {
		return Errorf(EINVALID, "chat: warningAfterSeconds must be below closeAfterSeconds, and neither negative")
	}
	c := b.Settings.Messaging.Combine
	if c.Enabled && (c.MaxMessages < 1 || c.WindowSeconds < 1 || c.AfterTypingSeconds < 0) {
		return Errorf(EINVALID, "messaging.combine needs maxMessages and windowSeconds of at least 1")
	}
	for id, code := range b.Settings.Functions {
		if trimmed(id) == "" || trimmed(code) == "" {
			return Errorf(EINVALID, "functions: every function needs an id and code")
		}
	}
	if len(b.Settings.Vendor) > 0 && !json.Valid(b.Settings.Vendor) {
		return Errorf(EINVALID, "settings.vendor must be a JSON object")
	}
	return nil
}

// BotStateEvent is one entry of a bot's state history (F1, F38).
type BotStateEvent struct {
	BotID   BotID
	State   BotState
	Code    string // an error code when the change was caused by an error
	Message string
	ErrorID string // unique id of the error, for support
	At      time.Time
}

// BotError is one entry of a bot's conversation error log (F37).
type BotError struct {
	ID             string // unique error id
	BotID          BotID
	ConversationID ConversationID
	Code           string // full code, with ErrorCodePrefix
	Message        string
	Details        json.RawMessage
	At             time.Time
}

// Error-log retention (F37).
const (
	MaxBotErrors   = 2000
	BotErrorMaxAge = 48 * time.Hour
)
