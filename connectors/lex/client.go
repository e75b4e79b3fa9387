package lex

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/kit"
)

// SigningService is the SigV4 service name of both Lex runtimes.
const SigningService = "lex"

// client signs and sends Lex runtime requests.
type client struct {
	settings AWSSettings
	env      botrelay.BotEnv
	signer   *v4.Signer
	log      *slog.Logger
	http     *kit.Client
}

func newClient(s AWSSettings, env botrelay.BotEnv, vendor string) *client {
	if env.HTTPClient == nil {
		env.HTTPClient = &http.Client{}
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("vendor", vendor, "bot_id", string(env.BotID))
	hc := &kit.Client{HTTP: env.HTTPClient, Now: env.Now, Logger: log, Secrets: []string{s.SecretAccessKey, s.SessionToken}}
	return &client{settings: s, env: env, signer: v4.NewSigner(), log: log, http: hc}
}

// escapeSegment percent-encodes everything but RFC 3986's unreserved
// characters, so the path on the wire is the once-encoded form SigV4's
// canonical URI encodes a second time.
func escapeSegment(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// buildPath joins segments with each escaped.
func buildPath(segments ...string) string {
	var b strings.Builder
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(escapeSegment(s))
	}
	return b.String()
}

// response is a Lex answer with a 2xx status or a status passed through.
type response struct {
	status int
	body   []byte
	errTyp string // AWS error type, for non-2xx
	errMsg string // AWS error message, for non-2xx
	// retryAfter is a Retry-After the call had no time for.
	retryAfter time.Duration
}

// do signs and sends one request. what names the operation in errors; code
// is the error code of failures. Non-2xx statuses come back as errors
// classified by status, except those in pass.
func (c *client) do(ctx context.Context, code, what, method, path string, body []byte, pass ...int) (*response, error) {
	u := c.settings.Endpoint + path
	sign := func(req *http.Request) error {
		// Keep the path exactly as encoded: the signature covers it.
		if pu, err := url.Parse(u); err == nil {
			req.URL.RawPath = pu.EscapedPath()
		}
		sum := sha256.Sum256(body)
		creds := aws.Credentials{AccessKeyID: c.settings.AccessKeyID, SecretAccessKey: c.settings.SecretAccessKey,
			SessionToken: c.settings.SessionToken, Source: "botrelay"}
		if err := c.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), SigningService, c.settings.Region, c.env.Now().UTC()); err != nil {
			return vendorErr(botrelay.ErrVendorAuth, code, "%s: sign the request: %v", what, err)
		}
		return nil
	}
	res, err := c.http.Send(ctx, kit.Request{Code: code, What: what, Method: method, URL: u, Body: body, Prepare: sign})
	if err != nil {
		return nil, err
	}
	r := &response{status: res.Status, body: res.Body}
	if kit.Classify(res.Status) == kit.Success {
		return r, nil
	}
	r.errTyp, r.errMsg = awsError(res.Header, res.Body)
	r.retryAfter = res.RetryAfter
	for _, p := range pass {
		if p == res.Status {
			return r, nil
		}
	}
	return nil, c.statusErr(code, what, r)
}

// statusErr classifies a non-2xx answer.
func (c *client) statusErr(code, what string, r *response) error {
	return c.http.StatusErrorDetail(code, what, "AWS rejected the credentials or their permissions; check accessKeyId, secretAccessKey, sessionToken, region and the IAM policy",
		&kit.Response{Status: r.status, Body: r.body, RetryAfter: r.retryAfter}, c.detail(r))
}

// describe renders "HTTP 403 InvalidSignatureException: message".
func (c *client) describe(r *response) string { return "HTTP " + strconv.Itoa(r.status) + c.detail(r) }

// detail renders " InvalidSignatureException: message" (or the body's
// start) with the credentials hidden.
func (c *client) detail(r *response) string {
	s := ""
	if r.errTyp != "" {
		s += " " + r.errTyp
	}
	if r.errMsg != "" {
		s += ": " + c.http.Redact(r.errMsg)
	} else {
		s += c.http.Snippet(r.body)
	}
	return s
}

// awsError reads AWS's REST-JSON error: the type from the x-amzn-ErrorType
// header or the body's __type/code, the message from message/Message.
func awsError(h http.Header, body []byte) (typ, msg string) {
	typ = h.Get("X-Amzn-Errortype")
	var b struct {
		Type     string `json:"__type"`
		Code     string `json:"code"`
		Message  string `json:"message"`
		Message2 string `json:"Message"`
	}
	_ = json.Unmarshal(body, &b)
	if typ == "" {
		typ = b.Type
	}
	if typ == "" {
		typ = b.Code
	}
	if i := strings.IndexAny(typ, ":"); i >= 0 {
		typ = typ[:i]
	}
	if i := strings.LastIndex(typ, "#"); i >= 0 {
		typ = typ[i+1:]
	}
	msg = b.Message
	if msg == "" {
		msg = b.Message2
	}
	return strings.TrimSpace(typ), strings.TrimSpace(msg)
}

// jsonProblem describes a JSON decoding error without Go type names.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return fmt.Sprintf("%s is a JSON %s, which is not what Lex documents", te.Field, te.Value)
		}
		return fmt.Sprintf("the body is a JSON %s, not an object", te.Value)
	}
	return err.Error()
}

// SessionID maps a conversation id to Lex's user/session id syntax: 2 to
// 100 characters of [0-9a-zA-Z._:-]. Other characters become "_"; a
// shorter id is padded with "_"; a longer one keeps its first 83 characters
// and gets "-" and 16 hex digits of its SHA-256.
func SessionID(conv string) string {
	b := []byte(conv)
	for i, c := range b {
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			b[i] = '_'
		}
	}
	s := string(b)
	for len(s) < 2 {
		s += "_"
	}
	if len(s) > 100 {
		sum := sha256.Sum256([]byte(conv))
		s = s[:83] + "-" + hex.EncodeToString(sum[:8])
	}
	return s
}

// inputText is the utterance of a turn.
func inputText(t *botrelay.Turn) (string, error) {
	var s string
	switch t.Kind {
	case botrelay.TurnStart:
		s = WelcomeUtterance
	case botrelay.TurnText:
		s = t.Text
	case botrelay.TurnRichContent:
		s = botrelay.EventConsumerRichContent
	case botrelay.TurnFile:
		s = botrelay.EventConsumerFile
	default:
		return "", vendorErr(botrelay.ErrUnsupported, CodeSendQuery, "Lex has no input for a %s turn", t.Kind)
	}
	if utf8.RuneCountInString(s) > MaxInputText {
		r := []rune(s)
		s = string(r[:MaxInputText])
	}
	return s, nil
}

// lpContext renders the BC-LP-CONTEXT attribute: the JSON string of
// {"lpEvent":…,"lpSdes":…}. lpEvent is the relay's event with the gaps the
// reference product's bots rely on filled: a welcome turn gets type,
// content and contentType "welcome" and lastConsumerMessage (messaging) or
// isWelcomeEvent (chat); a rich-content turn gets event {type:
// "RichContentEvent", content}; a file turn gets the hosted-file event; the
// consumer message's metadata lands in metadata.
func lpContext(t *botrelay.Turn) string {
	ev := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(t.LPEvent)) > 0 {
		if json.Unmarshal(t.LPEvent, &ev) != nil || ev == nil {
			ev = map[string]json.RawMessage{}
		}
	}
	set := func(k string, v any) {
		if _, ok := ev[k]; ok {
			return
		}
		if raw, err := json.Marshal(v); err == nil {
			ev[k] = raw
		}
	}
	switch t.Kind {
	case botrelay.TurnStart:
		if t.Conversation.Type == botrelay.Chat {
			set("isWelcomeEvent", true)
		} else {
			set("type", "ContentEvent")
			set("content", "welcome")
			set("contentType", "welcome")
		}
		if t.LastConsumerMessage != "" {
			set("lastConsumerMessage", t.LastConsumerMessage)
		}
	case botrelay.TurnRichContent:
		if len(bytes.TrimSpace(t.RichContent)) > 0 && json.Valid(t.RichContent) {
			set("event", map[string]any{"type": "RichContentEvent", "content": t.RichContent})
		}
	case botrelay.TurnFile:
		if f := t.File; f != nil {
			msg := map[string]any{"relativePath": f.RelativePath, "fileType": f.FileType}
			if f.Caption != "" {
				msg["caption"] = f.Caption
			}
			set("event", map[string]any{"type": "ContentEvent", "contentType": "hosted/file", "message": msg})
		}
	}
	if len(bytes.TrimSpace(t.Metadata)) > 0 && json.Valid(t.Metadata) {
		set("metadata", t.Metadata)
	}
	sdes := json.RawMessage(`{}`)
	if s := bytes.TrimSpace(t.SDEs); len(s) > 0 && s[0] == '{' && json.Valid(s) {
		sdes = s
	}
	out, _ := json.Marshal(struct {
		LPEvent map[string]json.RawMessage `json:"lpEvent"`
		LPSdes  json.RawMessage            `json:"lpSdes"`
	}{ev, sdes})
	return string(out)
}

// vendorState is what the relay stores per conversation: Lex's session
// attributes (F46).
type vendorState struct {
	SessionAttributes map[string]string `json:"sessionAttributes"`
}

// sessionAttributes returns the stored attributes with convId set.
func sessionAttributes(t *botrelay.Turn) map[string]string {
	var st vendorState
	if len(t.VendorState) > 0 {
		_ = json.Unmarshal(t.VendorState, &st) // unreadable state: start afresh
	}
	attrs := map[string]string{}
	for k, v := range st.SessionAttributes {
		attrs[k] = v
	}
	attrs["convId"] = string(t.Conversation.ID)
	return attrs
}

func encodeState(attrs map[string]string) json.RawMessage {
	if attrs == nil {
		attrs = map[string]string{}
	}
	raw, _ := json.Marshal(vendorState{SessionAttributes: attrs})
	return raw
}

// isSessionNotFound reports whether a not-found answer is about the
// session rather than the bot, alias or locale.
func isSessionNotFound(r *response) bool {
	if r.status != http.StatusNotFound && r.status != http.StatusBadRequest {
		return false
	}
	m := strings.ToLower(r.errMsg)
	return strings.Contains(m, "session") || strings.Contains(m, "user")
}
