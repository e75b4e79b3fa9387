// Package customendpoint is the vendor connector "custom_endpoint": the client
// side of LivePerson's published Custom Endpoint contract
// (spec/third-party-bots.md §4). A brand runs an HTTP service with four
// endpoints under its Base URL; botrelay calls them:
//
//	GET  {base}/v1/bots/{botId}/environments
//	GET  {base}/v1/bots/{botId}/environments/{environment}/state
//	PUT  {base}/v1/bots/{botId}/environments/{environment}/conversations/{convId}
//	POST {base}/v1/bots/{botId}/environments/{environment}/conversations/{convId}/events
//
// Every request carries "Authorization: Bearer <JWT>". By default the JWT is
// signed with botrelay's own key (BotEnv.Signer, published as a JWKS); with
// the tokenUrl setting it is fetched with the client credentials instead
// (LivePerson Sentinel or any OAuth 2.0 token endpoint). docs/vendors/custom-endpoint.md
// is the guide for endpoint authors.
//
// The connector keeps no state across calls except a cached bearer token;
// whether a conversation was created at the endpoint travels in the
// conversation's vendor state (Reply.VendorState / Turn.VendorState).
package customendpoint

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/botrelay/botrelay"
)

// VendorID is the connector's id.
const VendorID = "custom_endpoint"

// DefaultEnvironment is used when the environment setting is empty.
const DefaultEnvironment = "draft"

// Connector is the custom_endpoint VendorConnector. The zero value is ready
// to use and safe for concurrent use.
type Connector struct{}

var _ botrelay.VendorConnector = Connector{}

// Info implements botrelay.VendorConnector. Survey is true through a
// botrelay extension of the contract: LivePerson documents Medallia as the
// only survey vendor (§4.10) and §4 defines no survey start, so a survey
// starts with a START event marked as such (see buildEvent and
// docs/vendors/custom-endpoint.md, "Survey bots").
func (Connector) Info() botrelay.VendorInfo {
	return botrelay.VendorInfo{
		ID:          VendorID,
		DisplayName: "Custom Endpoint",
		Secrets:     []string{"clientSecret"},
		Endpoint:    []string{"baseUrl", "tokenUrl", "botId", "environment"},
		Survey:      true,
		// The connector applies F42's Custom Endpoint retry policy itself.
		RetriesInternally: true,
		Errors:            errorCodes,
		// F2: the start sequence needs GET …/state to answer online.
		StrictStart: true,
		Fields:      fields,
	}
}

// Config is a bot's custom_endpoint settings (the JSON the management API
// stores). Unknown keys are refused so a misspelt setting is reported.
type Config struct {
	// BaseURL is the endpoint service's base URL, http or https, e.g.
	// "https://bots.example.com/api". A trailing "/" is removed. Required.
	BaseURL string `json:"baseUrl"`
	// BotID is the bot's id at the endpoint: letters, digits and "-", at most
	// 36 characters (a UUID is recommended). Required.
	BotID string `json:"botId"`
	// Environment is the bot environment to talk to. Default: "draft".
	Environment string `json:"environment,omitempty"`
	// ClientID identifies botrelay to the endpoint: the sub claim of the JWT
	// botrelay signs, or the client_id sent to TokenURL. Optional without
	// TokenURL.
	ClientID string `json:"clientId,omitempty"`
	// ClientSecret is the client secret sent to TokenURL. It is never put in
	// a token botrelay signs. Required with TokenURL, unused without.
	ClientSecret string `json:"clientSecret,omitempty"`
	// TokenURL, when set, is an OAuth 2.0 token endpoint (client credentials
	// grant, e.g. LivePerson Sentinel's
	// https://{sentinel}/sentinel/api/account/{account}/app/token?v=1.0&grant_type=client_credentials);
	// the bearer is fetched there instead of being signed by botrelay.
	// Default: "" (botrelay signs).
	TokenURL string `json:"tokenUrl,omitempty"`
}

var botIDPattern = regexp.MustCompile(`^[A-Za-z0-9-]{1,36}$`)

// Validate fills defaults and checks the settings. Errors are EINVALID and
// name the setting.
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
	if !botIDPattern.MatchString(c.BotID) {
		return botrelay.Errorf(botrelay.EINVALID, "botId %q must be 1 to 36 letters, digits or '-' (a UUID is recommended)", c.BotID)
	}
	c.Environment = strings.TrimSpace(c.Environment)
	if c.Environment == "" {
		c.Environment = DefaultEnvironment
	}
	if strings.ContainsAny(c.Environment, "/?#") || len(c.Environment) > 100 {
		return botrelay.Errorf(botrelay.EINVALID, "environment %q must be a single path segment of at most 100 characters", c.Environment)
	}
	if c.TokenURL != "" {
		t, err := url.Parse(c.TokenURL)
		if err != nil || (t.Scheme != "http" && t.Scheme != "https") || t.Host == "" {
			return botrelay.Errorf(botrelay.EINVALID, "tokenUrl %q must be an absolute http or https URL", c.TokenURL)
		}
		if c.ClientID == "" || c.ClientSecret == "" {
			return botrelay.Errorf(botrelay.EINVALID, "clientId and clientSecret are required with tokenUrl")
		}
	}
	return nil
}

// NewBot implements botrelay.VendorConnector. It decodes and validates cfg
// and does no I/O. Without tokenUrl it needs env.Signer.
func (Connector) NewBot(cfg json.RawMessage, env botrelay.BotEnv) (botrelay.VendorBot, error) {
	var c Config
	dec := json.NewDecoder(bytes.NewReader(cfg))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, botrelay.Errorf(botrelay.EINVALID, "custom_endpoint settings: %v", err)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if c.TokenURL == "" && env.Signer == nil {
		return nil, botrelay.Errorf(botrelay.EINVALID, "custom_endpoint needs botrelay's JWT signing key, which is not available here; set tokenUrl to fetch tokens instead")
	}
	return newBot(c, env), nil
}

func newBot(c Config, env botrelay.BotEnv) *Bot {
	b := &Bot{cfg: c, env: env, pauses: DefaultRetryPauses, timeout: RequestTimeout}
	if b.env.HTTPClient == nil {
		b.env.HTTPClient = &http.Client{}
	}
	if b.env.Now == nil {
		b.env.Now = time.Now
	}
	if b.env.Logger == nil {
		b.env.Logger = discardLogger
	}
	b.env.Logger = b.env.Logger.With("vendor", VendorID, "bot_id", string(env.BotID))
	b.botPath = "/v1/bots/" + url.PathEscape(c.BotID)
	b.envPath = b.botPath + "/environments/" + url.PathEscape(c.Environment)
	b.target = c.BotID + "/" + c.Environment
	return b
}

// Error codes (without botrelay.ErrorCodePrefix). Appendix A of the spec has
// no Custom Endpoint entries; these follow its aivendor.<vendor>.<operation>
// pattern.
const (
	// CodeSendEvent: POST …/events failed (transport, status, timeout).
	CodeSendEvent = "aivendor.custom-endpoint.send-event"
	// CodeCreateConversation: PUT …/conversations/{convId} failed.
	CodeCreateConversation = "aivendor.custom-endpoint.create-conversation"
	// CodeGetState: GET …/state failed or the bot is not online.
	CodeGetState = "aivendor.custom-endpoint.get-state"
	// CodeGetEnvironments: GET …/environments failed.
	CodeGetEnvironments = "aivendor.custom-endpoint.get-environments"
	// CodeGetToken: the bearer could not be signed or fetched.
	CodeGetToken = "aivendor.custom-endpoint.get-token"
	// CodeInvalidBody: the reply broke the contract (§4.7's
	// "custom-endpoint-invalid-body").
	CodeInvalidBody = "aivendor.custom-endpoint.invalid-body"
	// CodeUnsupportedEvent: the turn has no Custom Endpoint event.
	CodeUnsupportedEvent = "aivendor.custom-endpoint.unsupported-event"
)

// errorCodes are the codes above, as docs/vendors/custom-endpoint.md
// lists them. A call that does not answer within the bot's vendor timeout
// is a failed event.
var errorCodes = botrelay.VendorErrors{Timeout: CodeSendEvent, Codes: []string{
	CodeSendEvent, CodeCreateConversation, CodeGetState, CodeGetEnvironments, CodeGetToken,
	CodeInvalidBody, CodeUnsupportedEvent}}

func vendorErr(class error, code, format string, args ...any) error {
	return botrelay.NewVendorError(class, code, format, args...)
}
