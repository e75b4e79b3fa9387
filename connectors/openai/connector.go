// Package openai is the vendor connector "openai": a bot answered by a
// large language model behind any OpenAI-compatible chat-completions
// endpoint (OpenAI itself, or a gateway or local server that speaks the
// same API):
//
//	POST {baseUrl}/chat/completions   Authorization: Bearer <apiKey>
//	{"model", "messages": [system, history…, user], "tools": [...]}
//
// The conversation's history lives in the relay's stored vendor state
// (Reply.VendorState), bounded by message count and size; the oldest turns
// are dropped first. The model hands over through two tools,
// transfer_to_skill(skill, message) and close_conversation(), which become
// the reply's action. Per-bot budgets cap the tokens a conversation may use
// and the latency of each call; exceeding one escalates. See
// docs/vendors/openai.md.
package openai

import (
	"encoding/json"
	"math"
	"net/url"
	"strings"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/internal/jsonobj"
	"github.com/botrelay/botrelay/connectors/kit"
)

// VendorID is the connector's id.
const VendorID = "openai"

// Defaults.
const (
	DefaultBaseURL            = "https://api.openai.com/v1"
	DefaultMaxHistoryMessages = 20
	DefaultMaxHistoryBytes    = 16000
	DefaultWelcomePrompt      = "The customer has just opened the conversation and has not written anything yet. Greet them in one or two short sentences and ask how you can help."
)

// Tool names the model may call.
const (
	ToolTransfer = "transfer_to_skill"
	ToolClose    = "close_conversation"
)

// Error codes (without botrelay.ErrorCodePrefix).
const (
	// CodeSendRequest: POST /chat/completions failed (transport, status).
	CodeSendRequest = "aivendor.openai.send-request"
	// CodeTestConnection: GET /models failed or does not offer the model.
	CodeTestConnection = "aivendor.openai.test-connection"
	// CodeInvalidBody: the completion could not be understood.
	CodeInvalidBody = "aivendor.openai.invalid-body"
	// CodeTokenBudget: the conversation used up maxTokensPerConversation.
	CodeTokenBudget = "aivendor.openai.token-budget-exceeded"
	// CodeLatencyBudget: the call took longer than maxLatencyMs.
	CodeLatencyBudget = "aivendor.openai.latency-budget-exceeded"
	// CodeUnsupportedTurn: the turn cannot be put to the model (surveys).
	CodeUnsupportedTurn = "aivendor.openai.unsupported-event"
)

// errorCodes are the codes above, as docs/vendors/openai.md lists them.
var errorCodes = botrelay.VendorErrors{Timeout: CodeSendRequest, Codes: []string{
	CodeSendRequest, CodeTestConnection, CodeInvalidBody, CodeTokenBudget, CodeLatencyBudget, CodeUnsupportedTurn}}

// Connector is the openai VendorConnector. The zero value is ready to use.
type Connector struct{}

var _ botrelay.VendorConnector = Connector{}

// Info implements botrelay.VendorConnector.
func (Connector) Info() botrelay.VendorInfo {
	return botrelay.VendorInfo{ID: VendorID, DisplayName: "OpenAI-compatible chat completions", Secrets: []string{"apiKey"},
		Endpoint: []string{"baseUrl"}, Errors: errorCodes, Fields: fields}
}

// Config is a bot's openai settings. Unknown keys are refused.
type Config struct {
	// BaseURL is the API's base, up to and including the version segment.
	// Default https://api.openai.com/v1.
	BaseURL string `json:"baseUrl,omitempty"`
	// Model is the model id, e.g. "gpt-4o-mini". Required.
	Model string `json:"model"`
	// APIKey is sent as a bearer token. Secret. Optional for servers that
	// need none.
	APIKey string `json:"apiKey,omitempty"`
	// SystemPrompt is the first message of every request.
	SystemPrompt string `json:"systemPrompt,omitempty"`
	// WelcomePrompt is the user message of a welcome turn.
	WelcomePrompt string `json:"welcomePrompt,omitempty"`
	// Temperature, 0 to 2; absent: the server's default.
	Temperature *float64 `json:"temperature,omitempty"`
	// MaxHistoryMessages and MaxHistoryBytes bound the stored history
	// (user and assistant messages; bytes of their contents).
	MaxHistoryMessages int `json:"maxHistoryMessages,omitempty"`
	MaxHistoryBytes    int `json:"maxHistoryBytes,omitempty"`
	// MaxTokensPerConversation is the token budget of one conversation
	// (usage.total_tokens summed over its calls); 0: none.
	MaxTokensPerConversation int `json:"maxTokensPerConversation,omitempty"`
	// MaxLatencyMs is the latency budget of one call; 0: none (the bot's
	// vendor timeout still applies).
	MaxLatencyMs int `json:"maxLatencyMs,omitempty"`
	// TransferSkills, when set, are the only skill names the transfer tool
	// offers the model.
	TransferSkills []string `json:"transferSkills,omitempty"`
	// DisableTools sends no tools (for servers without function calling).
	DisableTools bool `json:"disableTools,omitempty"`
}

// Validate fills defaults and checks the settings.
func (c *Config) Validate() error {
	c.BaseURL = strings.TrimRight(strings.TrimSpace(c.BaseURL), "/")
	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return botrelay.Errorf(botrelay.EINVALID, "baseUrl %q must be an absolute http or https URL", c.BaseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return botrelay.Errorf(botrelay.EINVALID, "baseUrl must not carry a query, a fragment or user credentials")
	}
	c.Model = strings.TrimSpace(c.Model)
	if c.Model == "" {
		return botrelay.Errorf(botrelay.EINVALID, "model is required")
	}
	if strings.ContainsAny(c.APIKey, " \r\n\t") {
		return botrelay.Errorf(botrelay.EINVALID, "apiKey must not contain spaces or line breaks")
	}
	if t := c.Temperature; t != nil && (math.IsNaN(*t) || *t < 0 || *t > 2) {
		return botrelay.Errorf(botrelay.EINVALID, "temperature must be between 0 and 2")
	}
	switch {
	case c.MaxHistoryMessages < 0:
		return botrelay.Errorf(botrelay.EINVALID, "maxHistoryMessages must not be negative")
	case c.MaxHistoryMessages == 0:
		c.MaxHistoryMessages = DefaultMaxHistoryMessages
	}
	switch {
	case c.MaxHistoryBytes < 0:
		return botrelay.Errorf(botrelay.EINVALID, "maxHistoryBytes must not be negative")
	case c.MaxHistoryBytes == 0:
		c.MaxHistoryBytes = DefaultMaxHistoryBytes
	case c.MaxHistoryBytes > 1<<20:
		return botrelay.Errorf(botrelay.EINVALID, "maxHistoryBytes must be at most 1048576 (the history is stored with every conversation)")
	}
	if c.MaxTokensPerConversation < 0 {
		return botrelay.Errorf(botrelay.EINVALID, "maxTokensPerConversation must not be negative")
	}
	if c.MaxLatencyMs < 0 {
		return botrelay.Errorf(botrelay.EINVALID, "maxLatencyMs must not be negative")
	}
	for i, s := range c.TransferSkills {
		if strings.TrimSpace(s) == "" {
			return botrelay.Errorf(botrelay.EINVALID, "transferSkills[%d] is empty", i)
		}
	}
	if strings.TrimSpace(c.WelcomePrompt) == "" {
		c.WelcomePrompt = DefaultWelcomePrompt
	}
	return nil
}

// NewBot implements botrelay.VendorConnector. It does no I/O.
func (Connector) NewBot(cfg json.RawMessage, env botrelay.BotEnv) (botrelay.VendorBot, error) {
	var c Config
	if err := jsonobj.DecodeStrict(cfg, &c, "openai settings"); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	env = env.WithDefaults(VendorID)
	return &Bot{cfg: c, env: env, http: kit.NewClient(env, c.APIKey)}, nil
}

func vendorErr(class error, code, format string, args ...any) error {
	return botrelay.NewVendorError(class, code, format, args...)
}
