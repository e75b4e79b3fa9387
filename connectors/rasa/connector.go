// Package rasa is the vendor connector "rasa": botrelay talks to a Rasa
// assistant through Rasa's REST input channel,
//
//	POST {baseUrl}/webhooks/rest/webhook
//	{"sender": "<conversation id>", "message": "<text>", "metadata": {…}}
//
// and reads the array of bot messages Rasa answers ({"recipient_id", "text",
// "image", "buttons", "custom", "attachment"}). The conversation id is the
// sender, so Rasa's tracker holds the dialogue state and the connector keeps
// none. Buttons become quick replies, images structured content, and
// "custom" payloads carry botrelay's conventions (structured content,
// delays, private notes, encoded metadata and the actions); see
// docs/vendors/rasa.md.
package rasa

import (
	"encoding/json"
	"net/url"
	"strings"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/internal/jsonobj"
	"github.com/botrelay/botrelay/connectors/kit"
)

// VendorID is the connector's id.
const VendorID = "rasa"

// WebhookPath is the REST channel's path below the base URL.
const WebhookPath = "/webhooks/rest/webhook"

// DefaultWelcomeMessage is sent as the message of a welcome turn: Rasa
// treats a message starting with "/" as the intent of that name.
const DefaultWelcomeMessage = "/welcome"

// Auth modes: how the token setting travels.
const (
	AuthQuery  = "query"  // ?token=… (Rasa's --auth-token)
	AuthBearer = "bearer" // Authorization: Bearer … (Rasa's JWT, or a proxy)
)

// Error codes (without botrelay.ErrorCodePrefix), in the reference
// product's aivendor.<vendor>.<operation> pattern.
const (
	CodeSendMessage     = "aivendor.rasa.send-message"
	CodeTestConnection  = "aivendor.rasa.test-connection"
	CodeInvalidBody     = "aivendor.rasa.invalid-body"
	CodeUnsupportedTurn = "aivendor.rasa.unsupported-event"
)

// errorCodes are the codes above, as docs/vendors/rasa.md lists them.
var errorCodes = botrelay.VendorErrors{Timeout: CodeSendMessage,
	Codes: []string{CodeSendMessage, CodeTestConnection, CodeInvalidBody, CodeUnsupportedTurn}}

// Connector is the rasa VendorConnector. The zero value is ready to use.
type Connector struct{}

var _ botrelay.VendorConnector = Connector{}

// Info implements botrelay.VendorConnector.
func (Connector) Info() botrelay.VendorInfo {
	return botrelay.VendorInfo{ID: VendorID, DisplayName: "Rasa", Secrets: []string{"token"},
		Endpoint: []string{"baseUrl"}, Errors: errorCodes, Fields: fields}
}

// Config is a bot's rasa settings. Unknown keys are refused.
type Config struct {
	// BaseURL is the Rasa server, e.g. "https://rasa.example.com:5005".
	// Required; a trailing "/" is removed.
	BaseURL string `json:"baseUrl"`
	// Token, when set, is sent with every request. Secret.
	Token string `json:"token,omitempty"`
	// AuthMode is "query" (default: ?token=, Rasa's --auth-token) or
	// "bearer" (Authorization: Bearer).
	AuthMode string `json:"authMode,omitempty"`
	// WelcomeMessage is the message of a welcome turn; default "/welcome".
	WelcomeMessage string `json:"welcomeMessage,omitempty"`
}

// Validate fills defaults and checks the settings.
func (c *Config) Validate() error {
	c.BaseURL = strings.TrimRight(strings.TrimSpace(c.BaseURL), "/")
	if c.BaseURL == "" {
		return botrelay.Errorf(botrelay.EINVALID, "baseUrl is required")
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return botrelay.Errorf(botrelay.EINVALID, "baseUrl %q must be an absolute http or https URL", c.BaseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return botrelay.Errorf(botrelay.EINVALID, "baseUrl must not carry a query, a fragment or user credentials")
	}
	switch c.AuthMode {
	case "":
		c.AuthMode = AuthQuery
	case AuthQuery, AuthBearer:
	default:
		return botrelay.Errorf(botrelay.EINVALID, "authMode %q must be %q or %q", c.AuthMode, AuthQuery, AuthBearer)
	}
	if strings.ContainsAny(c.Token, " \r\n\t") {
		return botrelay.Errorf(botrelay.EINVALID, "token must not contain spaces or line breaks")
	}
	c.WelcomeMessage = strings.TrimSpace(c.WelcomeMessage)
	if c.WelcomeMessage == "" {
		c.WelcomeMessage = DefaultWelcomeMessage
	}
	return nil
}

// NewBot implements botrelay.VendorConnector. It does no I/O.
func (Connector) NewBot(cfg json.RawMessage, env botrelay.BotEnv) (botrelay.VendorBot, error) {
	var c Config
	if err := jsonobj.DecodeStrict(cfg, &c, "rasa settings"); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	env = env.WithDefaults(VendorID)
	return &Bot{cfg: c, env: env, http: kit.NewClient(env, c.Token)}, nil
}

func vendorErr(class error, code, format string, args ...any) error {
	return botrelay.NewVendorError(class, code, format, args...)
}
