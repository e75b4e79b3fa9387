// Package directline is the vendor connector "directline": Microsoft Bot
// Framework bots (and Composer / Power Virtual Agents bots) through the
// Direct Line 3.0 API (spec/third-party-bots.md §3.7, spec/vendors.md §7).
//
// One Direct Line conversation is started per LivePerson conversation. Each
// turn posts one activity and collects the bot's activities that answer it
// (replyToId = the posted activity's id), over the conversation's websocket
// stream when Direct Line offers one and by polling with the watermark
// otherwise. The conversation id, its token, the watermark and the stream
// URL travel in the conversation's vendor state, so the connector keeps no
// state of its own. docs/vendors/directline.md is the guide for bot authors.
package directline

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/kit"
)

// VendorID is the connector's id.
const VendorID = "directline"

// DefaultEndpoint is Direct Line's global endpoint, base path included.
const DefaultEndpoint = "https://directline.botframework.com/v3/directline"

// Auth modes of the auth setting.
const (
	// AuthSecret sends the Direct Line secret on every call.
	AuthSecret = "secret"
	// AuthToken exchanges the secret for a conversation token
	// (tokens/generate) and uses only the token, refreshed before it
	// expires, for the conversation.
	AuthToken = "token"
)

// Defaults of the timing settings.
const (
	DefaultPollInterval = 500 * time.Millisecond
	DefaultReplyTimeout = 10 * time.Second
)

// Connector is the directline VendorConnector. The zero value is ready to
// use and safe for concurrent use.
type Connector struct{}

var _ botrelay.VendorConnector = Connector{}

// Info implements botrelay.VendorConnector.
func (Connector) Info() botrelay.VendorInfo {
	return botrelay.VendorInfo{
		ID:          VendorID,
		DisplayName: "Microsoft Direct Line",
		Errors:      errorCodes,
		Secrets:     []string{"secret"},
		Endpoint:    []string{"endpoint"},
		// Direct Line's rule (F42): resend on server errors up to 2 times,
		// never after a 502. The connector applies it itself.
		RetriesInternally: true,
		Fields:            fields,
	}
}

// Config is a bot's directline settings. Unknown keys are refused.
type Config struct {
	// Secret is the Direct Line secret (a key of the bot's Direct Line
	// channel). Required; secret.
	Secret string `json:"secret"`
	// Endpoint is the Direct Line base URL including its base path.
	// Default: DefaultEndpoint. Regional endpoints work the same; a local
	// stack such as offline-directline, which serves /directline/... without
	// /v3, is "http://127.0.0.1:3000/directline".
	Endpoint string `json:"endpoint,omitempty"`
	// Auth is "secret" (default) or "token".
	Auth string `json:"auth,omitempty"`
	// MultipleActivitiesMs is the Multiple Activities setting: 0 (default)
	// stops collecting as soon as reply activities are found; N > 0 waits N
	// ms after each batch of replies and collects again while new ones keep
	// coming.
	MultipleActivitiesMs int `json:"multipleActivitiesMs,omitempty"`
	// PVA is the Power Virtual Agents toggle: the welcome is Direct Line's
	// native startConversation event instead of a WELCOME action message.
	PVA bool `json:"pva,omitempty"`
	// Polling, when true, never uses the websocket stream. Default false:
	// the stream when Direct Line offers one, polling otherwise.
	Polling bool `json:"polling,omitempty"`
	// PollIntervalMs is the pause between polls. Default 500, at least 50.
	PollIntervalMs int `json:"pollIntervalMs,omitempty"`
	// ReplyTimeoutMs is how long a turn waits for the first reply activity
	// before it fails with response-missing. Default 10000; the relay's
	// vendor timeout bounds it too.
	ReplyTimeoutMs int `json:"replyTimeoutMs,omitempty"`
}

// Validate fills defaults and checks the settings. Errors are EINVALID and
// name the setting; none of them quotes the secret.
func (c *Config) Validate() error {
	c.Secret = strings.TrimSpace(c.Secret)
	if c.Secret == "" {
		return botrelay.Errorf(botrelay.EINVALID, "secret is required (the Direct Line secret of the bot's Direct Line channel)")
	}
	if strings.ContainsAny(c.Secret, " \t\r\n") {
		return botrelay.Errorf(botrelay.EINVALID, "secret must not contain spaces or line breaks")
	}
	c.Endpoint = strings.TrimRight(strings.TrimSpace(c.Endpoint), "/")
	if c.Endpoint == "" {
		c.Endpoint = DefaultEndpoint
	}
	u, err := url.Parse(c.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return botrelay.Errorf(botrelay.EINVALID, "endpoint %q must be an absolute http or https URL", c.Endpoint)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return botrelay.Errorf(botrelay.EINVALID, "endpoint must not carry a query, a fragment or user credentials")
	}
	switch c.Auth {
	case "":
		c.Auth = AuthSecret
	case AuthSecret, AuthToken:
	default:
		return botrelay.Errorf(botrelay.EINVALID, "auth %q must be %q or %q", c.Auth, AuthSecret, AuthToken)
	}
	if c.MultipleActivitiesMs < 0 || c.MultipleActivitiesMs > 60000 {
		return botrelay.Errorf(botrelay.EINVALID, "multipleActivitiesMs must be between 0 and 60000, got %d", c.MultipleActivitiesMs)
	}
	switch {
	case c.PollIntervalMs == 0:
		c.PollIntervalMs = int(DefaultPollInterval / time.Millisecond)
	case c.PollIntervalMs < 50 || c.PollIntervalMs > 60000:
		return botrelay.Errorf(botrelay.EINVALID, "pollIntervalMs must be between 50 and 60000, got %d", c.PollIntervalMs)
	}
	switch {
	case c.ReplyTimeoutMs == 0:
		c.ReplyTimeoutMs = int(DefaultReplyTimeout / time.Millisecond)
	case c.ReplyTimeoutMs < 100 || c.ReplyTimeoutMs > 300000:
		return botrelay.Errorf(botrelay.EINVALID, "replyTimeoutMs must be between 100 and 300000, got %d", c.ReplyTimeoutMs)
	}
	return nil
}

// NewBot implements botrelay.VendorConnector. It decodes and validates cfg
// and does no I/O.
func (Connector) NewBot(cfg json.RawMessage, env botrelay.BotEnv) (botrelay.VendorBot, error) {
	var c Config
	dec := json.NewDecoder(bytes.NewReader(cfg))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, botrelay.Errorf(botrelay.EINVALID, "directline settings: %v", kit.Redact(err.Error(), c.Secret))
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return newBot(c, env), nil
}

func newBot(c Config, env botrelay.BotEnv) *Bot {
	b := &Bot{cfg: c, env: env, resendPauses: DefaultResendPauses}
	if b.env.HTTPClient == nil {
		b.env.HTTPClient = &http.Client{}
	}
	if b.env.Now == nil {
		b.env.Now = time.Now
	}
	if b.env.Logger == nil {
		b.env.Logger = slog.New(slog.DiscardHandler)
	}
	b.env.Logger = b.env.Logger.With("vendor", VendorID, "bot_id", string(env.BotID))
	return b
}

// Error codes (without botrelay.ErrorCodePrefix), Appendix A.
const (
	// CodeSendQuery: a Direct Line call failed, timed out or was refused
	// (also 502: the bot did not acknowledge).
	CodeSendQuery = "aivendor.microsoft.send-query"
	// CodeParserCrashed: a Direct Line answer or an activity is malformed.
	CodeParserCrashed = "aivendor.microsoft.parser-crashed"
	// CodeResponseMissing: the bot sent no activity answering ours.
	CodeResponseMissing = "aivendor.microsoft.response-missing"
	// CodeInvalidType: an activity or attachment type with no mapping.
	CodeInvalidType = "aivendor.microsoft.activity.invalid-type"
	// CodeInvalidName: an unknown channelData action or event name.
	CodeInvalidName = "aivendor.microsoft.activity.invalid-name"
)

// errorCodes are the codes above, as docs/vendors/directline.md lists them.
var errorCodes = botrelay.VendorErrors{Timeout: CodeSendQuery, Codes: []string{
	CodeSendQuery, CodeParserCrashed, CodeResponseMissing, CodeInvalidType, CodeInvalidName}}

func vendorErr(class error, code, format string, args ...any) error {
	return botrelay.NewVendorError(class, code, format, args...)
}
