// Package ebot7 is the vendor connector "ebot7": botrelay talks to an
// e-bot7 bot through e-bot7's applications API (spec third-party-bots.md
// §3.10, vendors.md §8):
//
//	POST  {baseUrl}/v1/bots/{botId}/convs                    create a conversation
//	POST  {baseUrl}/v1/bots/{botId}/convs/{convId}/messages  the visitor's message
//	GET   {baseUrl}/v1/bots/{botId}/convs/{convId}/messages  the bot's answers (polled)
//	GET   {baseUrl}/v1/bots/{botId}/convs/{convId}           End Flow (archived)
//
// every call with "Authorization: Bearer <app key>". e-bot7 answers
// asynchronously, so after posting the visitor's message the connector
// polls the conversation's messages until the bot response delay has
// elapsed and answers with every bot message that arrived. The e-bot7
// conversation id and how many of its messages were consumed travel in the
// conversation's vendor state. See docs/vendors/ebot7.md.
package ebot7

import (
	"encoding/json"
	"math"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/internal/jsonobj"
	"github.com/botrelay/botrelay/connectors/kit"
)

// VendorID is the connector's id.
const VendorID = "ebot7"

// Defaults.
const (
	DefaultBaseURL = "https://api.e-bot7.de"
	// DefaultResponseDelay is the bot response delay when none is set.
	DefaultResponseDelay = time.Second
	// MaxResponseDelay bounds the setting: the relay's vendor timeout must
	// be longer.
	MaxResponseDelay = 60 * time.Second
	// DefaultPollInterval is the pause between two reads of the messages.
	DefaultPollInterval = 250 * time.Millisecond
)

// Error codes (without botrelay.ErrorCodePrefix).
const (
	CodeCreateConversation = "aivendor.ebot7.create-conversation"
	CodeSendMessage        = "aivendor.ebot7.send-message"
	CodeGetMessages        = "aivendor.ebot7.get-messages"
	CodeGetConversation    = "aivendor.ebot7.get-conversation"
	CodeTestConnection     = "aivendor.ebot7.test-connection"
	CodeArchive            = "aivendor.ebot7.archive-conversation"
	// CodeInvalidBody is the reference product's "ebot7-invalid-body".
	CodeInvalidBody     = "aivendor.ebot7.invalid-body"
	CodeUnsupportedTurn = "aivendor.ebot7.unsupported-event"
)

// errorCodes are the codes above, as docs/vendors/ebot7.md lists them.
var errorCodes = botrelay.VendorErrors{Timeout: CodeSendMessage, Codes: []string{
	CodeCreateConversation, CodeSendMessage, CodeGetMessages, CodeGetConversation, CodeTestConnection,
	CodeArchive, CodeInvalidBody, CodeUnsupportedTurn}}

// Connector is the ebot7 VendorConnector. The zero value is ready to use.
type Connector struct{}

var _ botrelay.VendorConnector = Connector{}

// Info implements botrelay.VendorConnector.
func (Connector) Info() botrelay.VendorInfo {
	return botrelay.VendorInfo{ID: VendorID, DisplayName: "e-bot7", Secrets: []string{"appKey"},
		Endpoint: []string{"baseUrl", "botId"}, Errors: errorCodes, Fields: fields}
}

// Config is a bot's ebot7 settings. Unknown keys are refused.
type Config struct {
	// AppKey is the e-bot7 application's key ("xapp…"). Secret, required.
	AppKey string `json:"appKey"`
	// BotID is the e-bot7 bot id. Required.
	BotID string `json:"botId"`
	// BotResponseDelay is how long, in seconds, to collect the bot's
	// asynchronous answers after each message; default 1, at most 60.
	BotResponseDelay *float64 `json:"botResponseDelay,omitempty"`
	// BaseURL is the API; default https://api.e-bot7.de (staging:
	// https://api.staging.e-bot7.de).
	BaseURL string `json:"baseUrl,omitempty"`

	delay time.Duration
}

var botIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Validate fills defaults and checks the settings.
func (c *Config) Validate() error {
	c.AppKey = strings.TrimSpace(c.AppKey)
	if c.AppKey == "" {
		return botrelay.Errorf(botrelay.EINVALID, "appKey is required")
	}
	if !strings.HasPrefix(c.AppKey, "xapp") || strings.ContainsAny(c.AppKey, " \r\n\t") {
		return botrelay.Errorf(botrelay.EINVALID, "appKey must be the e-bot7 application key, which starts with \"xapp\"")
	}
	if !botIDPattern.MatchString(c.BotID) {
		return botrelay.Errorf(botrelay.EINVALID, "botId %q must be 1 to 64 letters, digits, '-' or '_'", c.BotID)
	}
	c.delay = DefaultResponseDelay
	if d := c.BotResponseDelay; d != nil {
		if math.IsNaN(*d) || *d < 0 || time.Duration(*d*float64(time.Second)) > MaxResponseDelay {
			return botrelay.Errorf(botrelay.EINVALID, "botResponseDelay must be between 0 and %d seconds", int(MaxResponseDelay/time.Second))
		}
		c.delay = time.Duration(*d * float64(time.Second))
	}
	c.BaseURL = strings.TrimRight(strings.TrimSpace(c.BaseURL), "/")
	if c.BaseURL == "" {
		c.BaseURL = DefaultBaseURL
	}
	c.BaseURL = strings.TrimSuffix(c.BaseURL, "/v1")
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return botrelay.Errorf(botrelay.EINVALID, "baseUrl %q must be an absolute http or https URL", c.BaseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return botrelay.Errorf(botrelay.EINVALID, "baseUrl must not carry a query, a fragment or user credentials")
	}
	return nil
}

// NewBot implements botrelay.VendorConnector. It does no I/O.
func (Connector) NewBot(cfg json.RawMessage, env botrelay.BotEnv) (botrelay.VendorBot, error) {
	var c Config
	if err := jsonobj.DecodeStrict(cfg, &c, "ebot7 settings"); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	env = env.WithDefaults(VendorID)
	return &Bot{cfg: c, env: env, http: kit.NewClient(env, c.AppKey), poll: DefaultPollInterval, botPath: "/v1/bots/" + url.PathEscape(c.BotID)}, nil
}

func vendorErr(class error, code, format string, args ...any) error {
	return botrelay.NewVendorError(class, code, format, args...)
}
