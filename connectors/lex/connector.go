// Package lex holds the Amazon Lex vendor connectors: "lex_v1" (Lex V1
// runtime, PostText, API 2016-11-28: the vendor of the reference product,
// spec/third-party-bots.md §3.6) and "lex_v2" (Lex V2 runtime,
// RecognizeText, API 2020-08-07: the same conventions carried over to the
// current Lex). Both speak the vendor's REST/JSON wire over net/http and sign
// every request with AWS Signature Version 4 (service "lex") using the core
// module of aws-sdk-go-v2; no Lex service module is used.
//
//	V1 turn:   POST {endpoint}/bot/{botName}/alias/{botAlias}/user/{userId}/text
//	V1 health: GET  {endpoint}/bot/{botName}/alias/{botAlias}/user/{userId}/session
//	V2 turn:   POST {endpoint}/bots/{botId}/botAliases/{botAliasId}/botLocales/{localeId}/sessions/{sessionId}/text
//	V2 health: GET  {endpoint}/bots/{botId}/botAliases/{botAliasId}/botLocales/{localeId}/sessions/{sessionId}
//	V2 end:    DELETE the same session path
//
// # Request
//
// The user id (V1) or session id (V2) is the conversation id, with every
// character outside Lex's [0-9a-zA-Z._:-] replaced by "_" (and cut to
// 100 characters with a hash suffix when longer). The text is the
// consumer's text, the rich-content or file identifier (F7, F8), or
// "WELCOME-INTENT" for the welcome turn (F11, F12), cut to Lex's 1024
// characters. requestAttributes["BC-LP-CONTEXT"] is the JSON string of
// {"lpEvent":…,"lpSdes":…} (F14); the session attributes the previous reply
// returned go back, with "convId" set to the conversation id (F46).
//
// # Reply
//
// Messages (V1: the message with its messageFormat, a Composite split into
// its groups in order; V2: messages[]) map as follows:
//
//	PlainText                            text (blank ones dropped)
//	CustomPayload {structuredContent, metadata?, encodedMetadata?}
//	                                     structured content; with quickReplies
//	                                     and message inside: text with quick replies
//	CustomPayload {delay, typing?}       delay (seconds; typing default true)
//	CustomPayload {messageAudience:"AGENTS_AND_MANAGERS", text}
//	                                     private text
//	CustomPayload {textResponse, encodedMetadata?}
//	                                     text with encoded metadata
//	CustomPayload {type:"ACTION", params:{action, data}}
//	                                     TRANSFER {skill, agentId?}, CLOSE_CONVERSATION
//	                                     {withoutPcs?}, CHANGE_TTR {ttrType, value?},
//	                                     INVOCATION {lambdaUuid, payload?, failOnError?}
//	SSML, audio, anything else           error lex.message-format-not-supported
//
// Response cards (V1 responseCard, V2 ImageResponseCard) are not supported by
// the reference product; botrelay maps them (a choice, see below).
//
// # Choices where the spec leaves room
//
//   - Composite (V1): §3.6 and Appendix C.8 decide to split the groups in
//     order instead of failing, because a V1 reply carries one message and
//     the official template bot needs several (text, then an action). A
//     Composite whose value is not {"messages":[…]} is the error
//     lex.composite-format-not-supported.
//   - Response cards: in messaging, a card with a title and buttons only
//     becomes the title as text with quick replies (each button publishes its
//     value); any other card, and every card in chat, becomes structured
//     content (a vertical card: image, title, subtitle, one publishText
//     button per button; the image links to attachmentLinkUrl); several V1
//     attachments become a carousel.
//   - A dialog that failed (V1 dialogState "Failed", V2 intent state
//     "Failed": Lex's maximum retries were reached) is the error
//     lex.send-query with ErrVendorBadReply, so the relay escalates (§3.6)
//     without retrying the utterance.
//   - Unknown action names and any action after the first are skipped
//     (F16, F25).
//   - Errors of a custom payload's content (a delay that is not a number, a
//     private text without text, a TRANSFER without skill or agent) are
//     lex.custom-payload-malformed; an unknown "type", or an object none of
//     the documented shapes matches, is lex.custom-payload-type-not-supported.
//   - The connection test (HealthChecker) reads the session of the fixed
//     user/session id "botrelay-health-check" (GetSession, no side
//     effects, no intent run). 200, or a 404/400 whose message mentions the
//     session or user (the bot exists, the session does not), passes; 401/403 is ErrVendorAuth; other answers fail with
//     the error code lex.test-connection (not in Appendix A; it follows
//     dialogflowcx.test-connection).
//   - lex_v2 sends sessionState with the session attributes only, so Lex
//     keeps its own dialog state (intent, slots, dialog action) between
//     turns; only the attributes travel in the vendor state.
//   - lex_v2 implements botrelay.Ender: it deletes the Lex session when the
//     conversation leaves the bot. lex_v1 keeps the reference product's
//     behaviour (the session expires by itself).
//
// Errors: transport failures, 408, 429 and 5xx are ErrVendorUnavailable
// (the relay retries them); 401 and 403 are ErrVendorAuth; other statuses
// and unreadable replies are ErrVendorBadReply. Messages name the
// operation, the HTTP status and AWS's error type and message, never the
// secret key or the session token.
//
// docs/vendors/lex.md is the user guide (IAM policy, settings, payloads).
package lex

import (
	"bytes"
	"encoding/json"
	"net/url"
	"regexp"
	"strings"

	"github.com/botrelay/botrelay"
)

// Vendor ids.
const (
	VendorIDV1 = "lex_v1"
	VendorIDV2 = "lex_v2"
)

// Error codes (without botrelay.ErrorCodePrefix), Appendix A.
const (
	CodeCompositeNotSupported  = "aivendor.lex.composite-format-not-supported"
	CodePayloadMalformed       = "aivendor.lex.custom-payload-malformed"
	CodePayloadNoParams        = "aivendor.lex.custom-payload-no-params"
	CodePayloadTypeUnsupported = "aivendor.lex.custom-payload-type-not-supported"
	CodeFormatNotSupported     = "aivendor.lex.message-format-not-supported"
	CodeParserCrashed          = "aivendor.lex.parser-crashed"
	CodeSendQuery              = "aivendor.lex.send-query"
	// CodeTestConnection is the connection test's code (botrelay's own).
	CodeTestConnection = "aivendor.lex.test-connection"
)

// errorCodes are the codes above, as docs/vendors/lex.md lists them.
var errorCodes = botrelay.VendorErrors{Timeout: CodeSendQuery, Codes: []string{
	CodeCompositeNotSupported, CodePayloadMalformed, CodePayloadNoParams, CodePayloadTypeUnsupported, CodeFormatNotSupported, CodeParserCrashed, CodeSendQuery, CodeTestConnection}}

// WelcomeUtterance is the text sent for the welcome turn (F11).
const WelcomeUtterance = "WELCOME-INTENT"

// ContextAttribute is the request attribute that carries {lpEvent, lpSdes}
// as a JSON string (F14).
const ContextAttribute = "BC-LP-CONTEXT"

// HealthCheckSession is the user id (V1) / session id (V2) of the
// connection test.
const HealthCheckSession = "botrelay-health-check"

// MaxInputText is Lex's limit on inputText / text, in characters.
const MaxInputText = 1024

// Secret settings (both connectors).
var secretKeys = []string{"secretAccessKey", "sessionToken"}

// ConnectorV1 is the lex_v1 VendorConnector. The zero value is ready to use.
type ConnectorV1 struct{}

// ConnectorV2 is the lex_v2 VendorConnector. The zero value is ready to use.
type ConnectorV2 struct{}

var (
	_ botrelay.VendorConnector = ConnectorV1{}
	_ botrelay.VendorConnector = ConnectorV2{}
	_ botrelay.HookableBot     = (*BotV1)(nil)
	_ botrelay.HookableBot     = (*BotV2)(nil)
)

// Info implements botrelay.VendorConnector.
func (ConnectorV1) Info() botrelay.VendorInfo {
	return botrelay.VendorInfo{ID: VendorIDV1, DisplayName: "Amazon Lex V1", Secrets: secretKeys,
		Endpoint: []string{"region", "endpoint", "botName", "botAlias"}, Errors: errorCodes, Fields: fieldsV1}
}

// Info implements botrelay.VendorConnector.
func (ConnectorV2) Info() botrelay.VendorInfo {
	return botrelay.VendorInfo{ID: VendorIDV2, DisplayName: "Amazon Lex V2", Secrets: secretKeys,
		Endpoint: []string{"region", "endpoint", "botId", "botAliasId"}, Errors: errorCodes, Fields: fieldsV2}
}

// AWSSettings are the settings both connectors share.
type AWSSettings struct {
	// Region is the AWS region of the bot, e.g. "us-east-1". Required.
	Region string `json:"region"`
	// AccessKeyID is the IAM access key id. Required.
	AccessKeyID string `json:"accessKeyId"`
	// SecretAccessKey is the IAM secret access key. Required; secret.
	SecretAccessKey string `json:"secretAccessKey"`
	// SessionToken is the session token of temporary credentials. Optional;
	// secret.
	SessionToken string `json:"sessionToken,omitempty"`
	// Endpoint overrides the runtime endpoint (scheme and host, optionally a
	// path prefix), for private endpoints and tests. Default: the regional
	// runtime host.
	Endpoint string `json:"endpoint,omitempty"`
}

// ConfigV1 is a lex_v1 bot's settings.
type ConfigV1 struct {
	AWSSettings
	// BotName is the Lex V1 bot's name. Required.
	BotName string `json:"botName"`
	// BotAlias is the alias to talk to (or "$LATEST"). Required.
	BotAlias string `json:"botAlias"`
}

// ConfigV2 is a lex_v2 bot's settings.
type ConfigV2 struct {
	AWSSettings
	// BotID is the bot's 10-character id. Required.
	BotID string `json:"botId"`
	// BotAliasID is the alias id (10 characters; "TSTALIASID" is the
	// draft's test alias). Required.
	BotAliasID string `json:"botAliasId"`
	// LocaleID is the bot locale, e.g. "en_US". Required.
	LocaleID string `json:"localeId"`
}

var (
	regionPattern    = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
	accessKeyPattern = regexp.MustCompile(`^[A-Z0-9]{16,128}$`)
	botNamePattern   = regexp.MustCompile(`^([A-Za-z]_?)+$`)
	aliasPattern     = regexp.MustCompile(`^(([A-Za-z]_?)+|\$LATEST)$`)
	idPattern        = regexp.MustCompile(`^[0-9A-Za-z]{10}$`)
	localePattern    = regexp.MustCompile(`^[a-z]{2}_[A-Z0-9]{2,3}$`)
)

func invalid(format string, args ...any) error {
	return botrelay.Errorf(botrelay.EINVALID, format, args...)
}

// validate checks the shared settings and fills the default endpoint.
func (s *AWSSettings) validate(defaultHost string) error {
	s.Region = strings.TrimSpace(s.Region)
	if s.Region == "" {
		return invalid("region is required, e.g. \"us-east-1\"")
	}
	if !regionPattern.MatchString(s.Region) {
		return invalid("region %q is not an AWS region name such as \"us-east-1\"", s.Region)
	}
	s.AccessKeyID = strings.TrimSpace(s.AccessKeyID)
	if s.AccessKeyID == "" {
		return invalid("accessKeyId is required")
	}
	if !accessKeyPattern.MatchString(s.AccessKeyID) {
		return invalid("accessKeyId must be 16 to 128 capital letters and digits, like AKIA…")
	}
	if s.SecretAccessKey == "" {
		return invalid("secretAccessKey is required")
	}
	if strings.TrimSpace(s.SecretAccessKey) != s.SecretAccessKey || strings.ContainsAny(s.SecretAccessKey, " \t\r\n") {
		return invalid("secretAccessKey must not contain spaces or line breaks")
	}
	if strings.ContainsAny(s.SessionToken, " \t\r\n") {
		return invalid("sessionToken must not contain spaces or line breaks")
	}
	s.Endpoint = strings.TrimRight(strings.TrimSpace(s.Endpoint), "/")
	if s.Endpoint == "" {
		s.Endpoint = "https://" + strings.ReplaceAll(defaultHost, "{region}", s.Region)
		return nil
	}
	u, err := url.Parse(s.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return invalid("endpoint %q must be an absolute http or https URL", s.Endpoint)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return invalid("endpoint must not carry a query, a fragment or user credentials")
	}
	return nil
}

// Default runtime hosts.
const (
	DefaultHostV1 = "runtime.lex.{region}.amazonaws.com"
	DefaultHostV2 = "runtime-v2-lex.{region}.amazonaws.com"
)

// Validate fills defaults and checks the settings; errors are EINVALID and
// name the setting.
func (c *ConfigV1) Validate() error {
	if err := c.AWSSettings.validate(DefaultHostV1); err != nil {
		return err
	}
	c.BotName = strings.TrimSpace(c.BotName)
	if c.BotName == "" {
		return invalid("botName is required")
	}
	if len(c.BotName) < 2 || len(c.BotName) > 50 || !botNamePattern.MatchString(c.BotName) {
		return invalid("botName %q must be 2 to 50 letters, with single underscores between them", c.BotName)
	}
	c.BotAlias = strings.TrimSpace(c.BotAlias)
	if c.BotAlias == "" {
		return invalid("botAlias is required")
	}
	if len(c.BotAlias) > 100 || !aliasPattern.MatchString(c.BotAlias) {
		return invalid("botAlias %q must be up to 100 letters with single underscores between them, or $LATEST", c.BotAlias)
	}
	return nil
}

// Validate fills defaults and checks the settings; errors are EINVALID and
// name the setting.
func (c *ConfigV2) Validate() error {
	if err := c.AWSSettings.validate(DefaultHostV2); err != nil {
		return err
	}
	c.BotID = strings.TrimSpace(c.BotID)
	if !idPattern.MatchString(c.BotID) {
		return invalid("botId %q must be the bot's 10-character id (letters and digits)", c.BotID)
	}
	c.BotAliasID = strings.TrimSpace(c.BotAliasID)
	if !idPattern.MatchString(c.BotAliasID) {
		return invalid("botAliasId %q must be the alias's 10-character id (letters and digits), e.g. TSTALIASID", c.BotAliasID)
	}
	c.LocaleID = strings.TrimSpace(c.LocaleID)
	if !localePattern.MatchString(c.LocaleID) {
		return invalid("localeId %q must be a Lex locale id such as \"en_US\"", c.LocaleID)
	}
	return nil
}

func decodeStrict(cfg json.RawMessage, v any, vendor string) error {
	dec := json.NewDecoder(bytes.NewReader(cfg))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalid("%s settings: %v", vendor, err)
	}
	return nil
}

// NewBot implements botrelay.VendorConnector; it does no I/O.
func (ConnectorV1) NewBot(cfg json.RawMessage, env botrelay.BotEnv) (botrelay.VendorBot, error) {
	var c ConfigV1
	if err := decodeStrict(cfg, &c, VendorIDV1); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &BotV1{client: newClient(c.AWSSettings, env, VendorIDV1), cfg: c}, nil
}

// NewBot implements botrelay.VendorConnector; it does no I/O.
func (ConnectorV2) NewBot(cfg json.RawMessage, env botrelay.BotEnv) (botrelay.VendorBot, error) {
	var c ConfigV2
	if err := decodeStrict(cfg, &c, VendorIDV2); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &BotV2{client: newClient(c.AWSSettings, env, VendorIDV2), cfg: c}, nil
}

func vendorErr(class error, code, format string, args ...any) error {
	return botrelay.NewVendorError(class, code, format, args...)
}
