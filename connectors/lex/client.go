package lex

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
)

// SigningService is the SigV4 service name of both Lex runtimes.
const SigningService = "lex"

// maxBody bounds a response body.
const maxBody = 4 << 20

// client signs and sends Lex runtime requests.
type client struct {
	settings AWSSettings
	env      botrelay.BotEnv
	signer   *v4.Signer
	log      *slog.Logger
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
	return &client{settings: s, env: env, signer: v4.NewSigner(), log: log.With("vendor", vendor, "bot_id", string(env.BotID))}
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
}

// do signs and sends one request. what names the operation in errors; code
// is the error code of failures. Non-2xx statuses come back as errors
// classified by status, except those in pass.
func (c *client) do(ctx context.Context, code, what, method, path string, body []byte, pass ...int) (*response, error) {
	u := c.settings.Endpoint + path
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, vendorErr(botrelay.ErrVendorBadReply, code, "%s: build request: %v", what, err)
	}
	// Keep the path exactly as encoded: the signature covers it.
	if pu, err := url.Parse(u); err == nil {
		req.URL.RawPath = pu.EscapedPath()
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "botrelay")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: c.settings.AccessKeyID, SecretAccessKey: c.settings.SecretAccessKey,
		SessionToken: c.settings.SessionToken, Source: "botrelay"}
	if err := c.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), SigningService, c.settings.Region, c.env.Now().UTC()); err != nil {
		return nil, vendorErr(botrelay.ErrVendorAuth, code, "%s: sign the request: %v", what, err)
	}
	resp, err := c.env.HTTPClient.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, vendorErr(botrelay.ErrVendorUnavailable, code, "%s: %v", what, ctx.Err())
		}
		return nil, vendorErr(botrelay.ErrVendorUnavailable, code, "%s: request failed: %v", what, redactURL(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, vendorErr(botrelay.ErrVendorUnavailable, code, "%s: reading the response (HTTP %d) failed: %v", what, resp.StatusCode, err)
	}
	if len(data) > maxBody {
		return nil, vendorErr(botrelay.ErrVendorBadReply, code, "%s: response body exceeds %d bytes", what, maxBody)
	}
	st := resp.StatusCode
	if st >= 200 && st < 300 {
		return &response{status: st, body: data}, nil
	}
	r := &response{status: st, body: data}
	r.errTyp, r.errMsg = awsError(resp.Header, data)
	for _, p := range pass {
		if p == st {
			return r, nil
		}
	}
	return nil, statusErr(code, what, r)
}

// statusErr classifies a non-2xx answer.
func statusErr(code, what string, r *response) error {
	detail := describe(r)
	switch st := r.status; {
	case st == http.StatusUnauthorized || st == http.StatusForbidden:
		return vendorErr(botrelay.ErrVendorAuth, code, "%s: AWS rejected the credentials or their permissions (%s); check accessKeyId, secretAccessKey, sessionToken, region and the IAM policy", what, detail)
	case st == http.StatusRequestTimeout || st == http.StatusTooManyRequests || st >= 500:
		return vendorErr(botrelay.ErrVendorUnavailable, code, "%s: %s", what, detail)
	default:
		return vendorErr(botrelay.ErrVendorBadReply, code, "%s: %s", what, detail)
	}
}

// describe renders "HTTP 403 InvalidSignatureException: message".
func describe(r *response) string {
	s := "HTTP " + strconv.Itoa(r.status)
	if r.errTyp != "" {
		s += " " + r.errTyp
	}
	if r.errMsg != "" {
		s += ": " + clip(r.errMsg)
	} else if t := strings.TrimSpace(string(r.body)); t != "" {
		s += ": " + strconv.Quote(clip(t))
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

func clip(s string) string {
	const max = 300
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func redactURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
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
