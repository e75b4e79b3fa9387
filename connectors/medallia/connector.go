// Package medallia is the vendor connector "medallia": survey bots (F41)
// that run a post-conversation survey with a Medallia survey service.
// LivePerson's own Medallia adapter contract is private, so botrelay
// defines the one documented in docs/vendors/medallia.md, which a survey
// service (or a thin adapter in front of Medallia) implements:
//
//	POST   {tokenUrl}                                 OAuth 2.0 client credentials, scope ihub.medallia.bot
//	POST   {baseUrl}/v1/surveys/{surveyAppId}/sessions  start a survey → sessionId and the first messages
//	POST   {baseUrl}/v1/sessions/{sessionId}/answers    one consumer answer → the next messages, done, result
//	DELETE {baseUrl}/v1/sessions/{sessionId}            the survey ended before it was done
//	GET    {baseUrl}/v1/health                          the connection test
//
// Every call but the token request carries "Authorization: Bearer <token>".
// The session id travels in the conversation's vendor state
// ({"sessionId": "…"}); the connector keeps only the cached token.
package medallia

import (
	"encoding/json"
	"net/url"
	"strings"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/internal/jsonobj"
)

// VendorID is the connector's id.
const VendorID = "medallia"

// Scope is the OAuth scope botrelay asks for: the scope of LivePerson's
// Medallia app installations.
const Scope = "ihub.medallia.bot"

// DefaultTokenPath is the token endpoint below baseUrl when tokenUrl is
// not set.
const DefaultTokenPath = "/oauth/token"

// Error codes (without botrelay.ErrorCodePrefix). Appendix A of the spec
// has no Medallia entries; these follow its aivendor.<vendor>.<operation>
// pattern.
const (
	// CodeGetToken: the token request failed or was refused.
	CodeGetToken = "aivendor.medallia.get-token"
	// CodeStartSurvey: POST …/surveys/{surveyAppId}/sessions failed.
	CodeStartSurvey = "aivendor.medallia.start-survey"
	// CodeSendAnswer: POST …/sessions/{sessionId}/answers failed.
	CodeSendAnswer = "aivendor.medallia.send-answer"
	// CodeEndSession: DELETE …/sessions/{sessionId} failed.
	CodeEndSession = "aivendor.medallia.end-session"
	// CodeTestConnection: GET /v1/health failed.
	CodeTestConnection = "aivendor.medallia.test-connection"
	// CodeInvalidBody: a response broke the contract.
	CodeInvalidBody = "aivendor.medallia.invalid-body"
	// CodeNoSession: an answer arrived for a conversation without a survey
	// session (the vendor state was lost).
	CodeNoSession = "aivendor.medallia.no-session"
	// CodeUnsupportedTurn: the turn is not part of a survey.
	CodeUnsupportedTurn = "aivendor.medallia.unsupported-event"
)

// errorCodes are the codes above, as docs/vendors/medallia.md lists them.
var errorCodes = botrelay.VendorErrors{Timeout: CodeSendAnswer, Codes: []string{
	CodeGetToken, CodeStartSurvey, CodeSendAnswer, CodeEndSession, CodeTestConnection,
	CodeInvalidBody, CodeNoSession, CodeUnsupportedTurn}}

// Connector is the medallia VendorConnector. The zero value is ready to
// use and safe for concurrent use.
type Connector struct{}

var _ botrelay.VendorConnector = Connector{}

// Info implements botrelay.VendorConnector.
func (Connector) Info() botrelay.VendorInfo {
	return botrelay.VendorInfo{
		ID:          VendorID,
		DisplayName: "Medallia (survey bots)",
		Secrets:     []string{"clientSecret"},
		Endpoint:    []string{"baseUrl", "tokenUrl", "surveyAppId"},
		Survey:      true,
		SurveyOnly:  true,
		Errors:      errorCodes,
		Fields:      fields,
	}
}

// Config is a bot's medallia settings. Unknown keys are refused.
type Config struct {
	// BaseURL is the survey service, http or https, e.g.
	// "https://surveys.example.com/api". A trailing "/" is removed. Required.
	BaseURL string `json:"baseUrl"`
	// ClientID is the OAuth client id (the app installation's Client ID).
	// Required.
	ClientID string `json:"clientId"`
	// ClientSecret is the OAuth client secret. Required; secret.
	ClientSecret string `json:"clientSecret"`
	// SurveyAppID is the survey the bot runs (the "Survey App ID" of the
	// reference product). Required.
	SurveyAppID string `json:"surveyAppId"`
	// TokenURL is the OAuth 2.0 token endpoint. Default:
	// {baseUrl}/oauth/token.
	TokenURL string `json:"tokenUrl,omitempty"`
}

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
	c.ClientID = strings.TrimSpace(c.ClientID)
	if c.ClientID == "" {
		return botrelay.Errorf(botrelay.EINVALID, "clientId is required")
	}
	if c.ClientSecret == "" {
		return botrelay.Errorf(botrelay.EINVALID, "clientSecret is required")
	}
	if strings.ContainsAny(c.ClientID+c.ClientSecret, "\r\n") {
		return botrelay.Errorf(botrelay.EINVALID, "clientId and clientSecret must not contain line breaks")
	}
	c.SurveyAppID = strings.TrimSpace(c.SurveyAppID)
	if c.SurveyAppID == "" {
		return botrelay.Errorf(botrelay.EINVALID, "surveyAppId is required (the Survey App ID of the survey this bot runs)")
	}
	if strings.ContainsAny(c.SurveyAppID, "/?#") || len(c.SurveyAppID) > 200 {
		return botrelay.Errorf(botrelay.EINVALID, "surveyAppId %q must be a single path segment of at most 200 characters", c.SurveyAppID)
	}
	c.TokenURL = strings.TrimSpace(c.TokenURL)
	if c.TokenURL == "" {
		c.TokenURL = c.BaseURL + DefaultTokenPath
		return nil
	}
	t, err := url.Parse(c.TokenURL)
	if err != nil || (t.Scheme != "http" && t.Scheme != "https") || t.Host == "" {
		return botrelay.Errorf(botrelay.EINVALID, "tokenUrl %q must be an absolute http or https URL", c.TokenURL)
	}
	if t.User != nil || t.Fragment != "" {
		return botrelay.Errorf(botrelay.EINVALID, "tokenUrl must not carry user credentials or a fragment")
	}
	return nil
}

// NewBot implements botrelay.VendorConnector. It decodes and validates cfg
// and does no I/O.
func (Connector) NewBot(cfg json.RawMessage, env botrelay.BotEnv) (botrelay.VendorBot, error) {
	var c Config
	if err := jsonobj.DecodeStrict(cfg, &c, "medallia settings"); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	env = env.WithDefaults(VendorID)
	return &Bot{cfg: c, env: env}, nil
}

func vendorErr(class error, code, format string, args ...any) error {
	return botrelay.NewVendorError(class, code, format, args...)
}
