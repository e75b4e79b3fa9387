package botrelay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"
)

// The vendor contract: how the connector talks to an AI vendor. A
// VendorConnector is registered once per vendor id; it makes a VendorBot for each
// configured bot. The relay owns ordering, persistence, timeouts, retries
// and escalation; a VendorBot only translates between the relay's Turn and Reply
// and the vendor's wire format, and classifies its errors.

// VendorConnector is implemented once per vendor ("function", "watson_v1",
// ...). It must be safe for concurrent use.
type VendorConnector interface {
	// Info returns static metadata. It does no I/O.
	Info() VendorInfo
	// NewBot checks cfg (the bot's vendor settings, secrets included, as
	// JSON) and returns a client for it. It does no I/O: connectivity
	// problems surface through CheckHealth and Converse. Invalid settings
	// give an EINVALID *Error whose message names the field.
	NewBot(cfg json.RawMessage, env BotEnv) (VendorBot, error)
}

// VendorInfo describes a vendor connector.
type VendorInfo struct {
	// ID is the stable lower_snake id stored with each bot (DESIGN.md's
	// vendor ids); never renamed.
	ID          string
	DisplayName string
	// Secrets names the settings (top-level JSON keys) that are credentials:
	// stored encrypted, accepted on write, never returned by the API.
	Secrets []string
	// Endpoint names the settings (top-level JSON keys) that decide where
	// the vendor calls go, and so where the secrets are sent: base URLs,
	// hosts, regions, token URLs, project, environment and agent ids.
	// The stored secrets are bound to their values: a change that does not
	// give the secrets again is refused (API), and secrets sealed for other
	// values are not used. Every vendor with Secrets must name at least
	// one; the registry test fails otherwise.
	Endpoint []string
	// Survey reports whether the vendor can run survey bots (F41).
	Survey bool
	// SurveyOnly reports that the vendor runs survey bots and nothing else
	// (Medallia): agent bots are refused.
	SurveyOnly bool
	// RetriesInternally reports that the connector applies its vendor's
	// documented retry policy itself (e.g. Custom Endpoint, F42), so the
	// relay calls it once per turn instead of retrying on top.
	RetriesInternally bool
	// StrictStart reports that the bot may start only when the vendor's
	// connection test passes (Custom Endpoint's /state must be online, F2):
	// an operator's start is refused with the reason and the bot stays
	// Offline. Other vendors start in Vendor Interruption instead (F4).
	StrictStart bool
	// Errors are the error-log codes the connector's errors carry,
	// declared beside it and listed in its docs/vendors page.
	Errors VendorErrors
	// Fields describe the settings, in the order a form shows them
	// (GET /api/v1/vendors, the dashboard's generated forms). Empty: the
	// dashboard offers the raw JSON box only.
	Fields []VendorField
}

// VendorErrors declares a connector's error-log codes (Appendix A, without
// ErrorCodePrefix).
type VendorErrors struct {
	// Timeout is the code the relay logs when a call to the vendor does
	// not answer within the bot's vendor timeout.
	Timeout string
	// Codes is every code the connector's errors carry, Timeout included.
	Codes []string
}

// BotEnv is what the host gives a VendorBot.
type BotEnv struct {
	BotID     BotID
	AccountID AccountID
	// Logger is the host's logger without the bot's keys: the connector
	// adds vendor and bot_id itself (WithDefaults does), so the host must
	// not, or a record would carry those keys twice.
	Logger *slog.Logger
	// HTTPClient is the client for vendor calls; the relay sets deadlines
	// through the context of each call.
	HTTPClient *http.Client
	Now        func() time.Time
	// Signer signs the JWTs that vendors such as Custom Endpoint verify; its
	// public keys are served at the JWKS URL. Nil where not available.
	Signer TokenSigner
	// EscalationSkill is the name of the bot's escalation skill (F31): the
	// target of a vendor's "hand over to an agent" answer that names no
	// skill (Watson connect_to_agent). "" when the bot has none.
	EscalationSkill string
}

// WithDefaults returns e with a plain HTTP client, time.Now and a discarding
// logger where unset, and the logger tagged with vendor and the bot id:
// what every connector's NewBot starts from.
func (e BotEnv) WithDefaults(vendor string) BotEnv {
	if e.HTTPClient == nil {
		e.HTTPClient = &http.Client{}
	}
	if e.Now == nil {
		e.Now = time.Now
	}
	if e.Logger == nil {
		e.Logger = slog.New(slog.DiscardHandler)
	}
	e.Logger = e.Logger.With("vendor", vendor, "bot_id", string(e.BotID))
	return e
}

// TokenSigner issues JWTs signed with botrelay's own key.
type TokenSigner interface {
	// SignJWT returns a compact JWS (RS256) over the claims, with the key id
	// in the header.
	SignJWT(claims map[string]any) (string, error)
	// JWKSURL is where the public key set is published.
	JWKSURL() string
}

// VendorBot is one configured bot's vendor client. It must be safe for concurrent
// use; the relay makes at most one call per conversation at a time.
type VendorBot interface {
	// Converse sends one turn to the vendor and returns its reply. It must
	// honour ctx's deadline. Errors wrap one of the ErrVendor* classes,
	// usually through a *VendorError that carries the error-log code.
	Converse(ctx context.Context, t *Turn) (*Reply, error)
}

// HealthChecker is implemented by bots whose vendor can be probed without a
// conversation: the start-up connection test and the Vendor Interruption
// health check (F1, F4) call it.
type HealthChecker interface {
	VendorBot
	CheckHealth(ctx context.Context) error
}

// Ender is implemented by bots that release vendor-side sessions when a
// conversation closes or leaves the bot.
type Ender interface {
	VendorBot
	EndConversation(ctx context.Context, conv ConversationRef, vendorState json.RawMessage) error
}

// HookableBot is implemented by vendor bots whose raw requests and
// responses the bot's hooks may rewrite (F36): the relay builds the request,
// passes it through the pre-hook, exchanges it with the vendor, passes the
// raw response through the post-hook, and only then parses it. Converse must
// be equivalent to BuildRequest, Exchange and ParseResponse in a row.
type HookableBot interface {
	VendorBot
	// HookInfo names the vendor and the keys of its request and response in
	// an error-hook payload (spec F36), e.g. "CustomIntegration",
	// "faasPayload", "faas".
	HookInfo() HookInfo
	// BuildRequest makes the vendor request for t. No I/O.
	BuildRequest(ctx context.Context, t *Turn) (json.RawMessage, error)
	// Exchange sends req to the vendor and returns its raw response and the
	// conversation's new vendor state (nil: unchanged).
	Exchange(ctx context.Context, t *Turn, req json.RawMessage) (resp, vendorState json.RawMessage, err error)
	// ParseResponse translates a raw response into a Reply. No I/O.
	ParseResponse(ctx context.Context, t *Turn, resp json.RawMessage) (*Reply, error)
}

// HookInfo describes a vendor for hooks.
type HookInfo struct {
	Vendor      string
	RequestKey  string
	ResponseKey string
}

// ScriptRunner runs the JavaScript functions that replies invoke
// (INVOKE_FUNCTION, F30), in the shape of LivePerson Functions: input is
// {"headers":[],"payload":…}, the result is what the function called back
// with.
type ScriptRunner interface {
	RunScript(ctx context.Context, code string, input json.RawMessage) (json.RawMessage, error)
}

// Bots holding connections also implement io.Closer; the relay closes them
// when the bot stops.

// ConversationType is chat or messaging (spec §1.5).
type ConversationType string

// The conversation types.
const (
	Messaging ConversationType = "MESSAGING"
	Chat      ConversationType = "CHAT"
)

// ConversationRef identifies the conversation a turn belongs to.
type ConversationRef struct {
	ID         ConversationID
	DialogID   DialogID
	Type       ConversationType
	ConsumerID ConsumerID
	SkillID    SkillID
	SkillName  string
}

// TurnKind says what triggered a vendor call.
type TurnKind string

// The turn kinds.
const (
	// TurnStart is the welcome event: a chat starts, or a messaging
	// conversation reaches the bot with the Welcome Message option (F11, F12).
	TurnStart TurnKind = "START"
	// TurnText is consumer text (several messages when combined, F10).
	TurnText TurnKind = "TEXT"
	// TurnRichContent is a consumer rich-content event (F7).
	TurnRichContent TurnKind = "RICH_CONTENT"
	// TurnFile is a consumer file upload (F8).
	TurnFile TurnKind = "FILE"
	// TurnSurvey starts a post-conversation survey for a survey bot (F41).
	TurnSurvey TurnKind = "SURVEY"
)

// Event identifiers the connector sends as text for non-text consumer events
// (F7, F8), as the reference product does.
const (
	EventConsumerRichContent = "com.liveperson.bot-connectors.consumer.send-rich-content"
	EventConsumerFile        = "com.liveperson.bot-connectors.consumer.send-file"
)

// Turn is one vendor call's input.
type Turn struct {
	Kind         TurnKind
	Conversation ConversationRef
	// Text is the consumer's text; for rich content and files it is the
	// event identifier above.
	Text string
	// RichContent is the consumer's structured content (TurnRichContent).
	RichContent json.RawMessage
	// File is the uploaded file (TurnFile).
	File *File
	// LastConsumerMessage is the consumer's last text, for welcome events
	// after a transfer (F12).
	LastConsumerMessage string
	// LPEvent is the platform event that triggered the call, forwarded as
	// context (F14); SDEs are the engagement attributes (F13), {} when off.
	LPEvent json.RawMessage
	SDEs    json.RawMessage
	// Metadata is the consumer message's metadata (quick-reply ExternalId).
	Metadata json.RawMessage
	// VendorState is what the previous Reply of this conversation returned
	// (F46); nil on the first turn.
	VendorState json.RawMessage
	// ShowTyping, when set, shows the consumer the typing indicator until
	// the reply is published: a connector calls it when the vendor says
	// the bot is typing (a Direct Line typing activity) while the call is
	// still collecting the answer. Safe to call more than once.
	ShowTyping func() `json:"-"`
}

// File is a consumer upload.
type File struct {
	RelativePath string
	FileType     string
	Caption      string
	URL          string
}

// Reply is the normalised vendor answer: items published in order, then at
// most one action (F24, F25).
type Reply struct {
	Items  []Item  `json:"items,omitempty"`
	Action *Action `json:"action,omitempty"`
	// Skipped lists actions the vendor asked for that were not carried out
	// (unknown names, or any after the first), for the conversation tester.
	Skipped []string `json:"skipped,omitempty"`
	Intents []Intent `json:"intents,omitempty"`
	// VendorState is stored with the conversation and handed back on the
	// next Turn; nil keeps the stored state.
	VendorState json.RawMessage `json:"vendorState,omitempty"`
}

// Item is one step of a reply: exactly one of Message and Delay is set.
type Item struct {
	Message *Message `json:"message,omitempty"`
	Delay   *Delay   `json:"delay,omitempty"`
}

// Message is one outgoing message: text (optionally with quick replies) or
// structured content (F17–F23).
type Message struct {
	Text string `json:"text,omitempty"`
	// StructuredContent is LivePerson structured content, forwarded as is.
	StructuredContent json.RawMessage `json:"structuredContent,omitempty"`
	// QuickReplies is a quickReplies object attached to Text (messaging only).
	QuickReplies json.RawMessage `json:"quickReplies,omitempty"`
	// Audience is AudienceAll or AudienceAgentsAndManagers (a private note
	// for agents, F21).
	Audience        string          `json:"audience,omitempty"`
	Metadata        json.RawMessage `json:"metadata,omitempty"`
	EncodedMetadata string          `json:"encodedMetadata,omitempty"`
}

// Delay pauses the reply (F20); Typing shows the typing indicator meanwhile.
type Delay struct {
	Duration time.Duration `json:"duration"`
	Typing   bool          `json:"typing"`
}

// ActionKind names an action (the Custom Endpoint names, spec §3.1).
type ActionKind string

// The actions.
const (
	ActionTransfer       ActionKind = "TRANSFER"
	ActionClose          ActionKind = "CLOSE_CONVERSATION"
	ActionChangeTTR      ActionKind = "CHANGE_TTR"
	ActionInvokeFunction ActionKind = "INVOKE_FUNCTION"
)

// Action is what a reply asks the platform to do after its messages.
type Action struct {
	Kind ActionKind `json:"kind"`
	// Skill is the target skill's name for ActionTransfer (case-sensitive);
	// AgentID, when set, transfers to that agent (F27).
	Skill   string `json:"skill,omitempty"`
	AgentID string `json:"agentId,omitempty"`
	// WithoutPCS closes without the post-conversation survey (F28).
	WithoutPCS bool `json:"withoutPcs,omitempty"`
	// TTR is URGENT, NORMAL, PRIORITIZED or CUSTOM; TTRSeconds goes with CUSTOM.
	TTR        string `json:"ttr,omitempty"`
	TTRSeconds int    `json:"ttrSeconds,omitempty"`
	// FunctionID, Payload and FailOnError describe ActionInvokeFunction (F30).
	// On ActionClose of a survey bot, Payload is the vendor's survey result
	// (a JSON value), stored with the survey's answers.
	FunctionID  string          `json:"functionId,omitempty"`
	Payload     json.RawMessage `json:"payload,omitempty"`
	FailOnError bool            `json:"failOnError,omitempty"`
}

// Intent is analytics information a vendor may return (F35).
type Intent struct {
	ID         string  `json:"id"`
	Name       string  `json:"name,omitempty"`
	Confidence float64 `json:"confidence"`
}

// Error classes every vendor error wraps. The relay retries
// ErrVendorUnavailable (F42) and escalates on all of them (F31).
var (
	// ErrVendorUnavailable: timeouts, connection failures, 5xx and 429.
	ErrVendorUnavailable = errors.New("vendor unavailable")
	// ErrVendorAuth: the vendor rejected the credentials (401/403).
	ErrVendorAuth = errors.New("vendor rejected the credentials")
	// ErrVendorBadReply: the reply could not be parsed or broke the contract.
	ErrVendorBadReply = errors.New("vendor reply not understood")
	// ErrUnsupported: the bot cannot do what was asked.
	ErrUnsupported = errors.New("not supported")
)

// ErrorCodePrefix starts every conversation error code (spec Appendix A).
const ErrorCodePrefix = "com.liveperson.bot-connectors-worker.error."

// VendorError is a classified vendor failure with the error-log code of the
// reference product (Appendix A, without ErrorCodePrefix), e.g.
// "aivendor.faas.invoke-lambda".
type VendorError struct {
	Class   error
	Code    string
	Message string
	// RetryAfter is the wait the vendor asked for (429 or 503 with
	// Retry-After) when it was longer than the call had left; the relay
	// does not call again sooner.
	RetryAfter time.Duration
}

// NewVendorError builds a *VendorError; class is one of the ErrVendor* values.
func NewVendorError(class error, code, format string, args ...any) *VendorError {
	return &VendorError{Class: class, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Error implements error.
func (e *VendorError) Error() string { return e.Code + ": " + e.Message }

// Unwrap returns the class, so errors.Is(err, ErrVendorUnavailable) works.
func (e *VendorError) Unwrap() error { return e.Class }

// EndpointValues returns the values of info's endpoint settings
// (VendorInfo.Endpoint) in settings, a JSON object, each as compact JSON;
// settings that are absent, null or "" are left out, so leaving a setting
// out and sending it empty are the same endpoint.
func EndpointValues(info VendorInfo, settings json.RawMessage) (map[string]string, error) {
	all := map[string]json.RawMessage{}
	if len(settings) > 0 && string(settings) != "null" {
		if err := json.Unmarshal(settings, &all); err != nil {
			return nil, Errorf(EINVALID, "settings.vendor must be a JSON object")
		}
	}
	out := map[string]string{}
	for _, k := range info.Endpoint {
		raw, ok := all[k]
		if !ok {
			continue
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, Errorf(EINVALID, "settings.vendor.%s is not valid JSON", k)
		}
		if v == nil || v == "" {
			continue
		}
		c, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		out[k] = string(c)
	}
	return out, nil
}

// ChangedEndpoint returns the endpoint settings whose values differ between
// two results of EndpointValues, sorted.
func ChangedEndpoint(old, new map[string]string) []string {
	var out []string
	for k, v := range old {
		if new[k] != v {
			out = append(out, k)
		}
	}
	for k := range new {
		if _, ok := old[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
