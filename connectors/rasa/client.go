package rasa

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/botrelay/botrelay"
)

// maxBody bounds a response body.
const maxBody = 4 << 20

// Bot is one configured rasa bot. It implements botrelay.HookableBot and
// botrelay.HealthChecker and is safe for concurrent use.
type Bot struct {
	cfg Config
	env botrelay.BotEnv
}

var (
	_ botrelay.HealthChecker = (*Bot)(nil)
	_ botrelay.HookableBot   = (*Bot)(nil)
)

// Request is the REST channel's request body.
type Request struct {
	Sender   string   `json:"sender"`
	Message  string   `json:"message"`
	Metadata Metadata `json:"metadata"`
}

// Metadata is what the connector sends as the message's metadata; a Rasa
// custom action reads it from tracker.latest_message["metadata"].
type Metadata struct {
	ConvID           string          `json:"convId"`
	ConversationType string          `json:"conversationType,omitempty"`
	Skill            string          `json:"skill,omitempty"`
	ConsumerID       string          `json:"consumerId,omitempty"`
	LPEvent          json.RawMessage `json:"lpEvent"`
	LPSdes           json.RawMessage `json:"lpSdes"`
	// Welcome is true on a welcome turn; LastConsumerMessage goes with it.
	Welcome             bool            `json:"welcome,omitempty"`
	LastConsumerMessage string          `json:"lastConsumerMessage,omitempty"`
	RichContent         json.RawMessage `json:"richContent,omitempty"`
	File                *File           `json:"file,omitempty"`
	MessageMetadata     json.RawMessage `json:"messageMetadata,omitempty"`
}

// File describes a consumer upload in the metadata.
type File struct {
	RelativePath string `json:"relativePath,omitempty"`
	FileType     string `json:"fileType,omitempty"`
	Caption      string `json:"caption,omitempty"`
	URL          string `json:"url,omitempty"`
}

// Converse implements botrelay.VendorBot.
func (b *Bot) Converse(ctx context.Context, t *botrelay.Turn) (*botrelay.Reply, error) {
	req, err := b.BuildRequest(ctx, t)
	if err != nil {
		return nil, err
	}
	resp, _, err := b.Exchange(ctx, t, req)
	if err != nil {
		return nil, err
	}
	return b.ParseResponse(ctx, t, resp)
}

// HookInfo implements botrelay.HookableBot.
func (b *Bot) HookInfo() botrelay.HookInfo {
	return botrelay.HookInfo{Vendor: "Rasa", RequestKey: "rasaPayload", ResponseKey: "rasa"}
}

// BuildRequest implements botrelay.HookableBot.
func (b *Bot) BuildRequest(ctx context.Context, t *botrelay.Turn) (json.RawMessage, error) {
	if t.Conversation.ID == "" {
		return nil, vendorErr(botrelay.ErrUnsupported, CodeUnsupportedTurn, "the turn has no conversation id")
	}
	ref := t.Conversation
	md := Metadata{ConvID: string(ref.ID), ConversationType: string(ref.Type), Skill: ref.SkillName,
		ConsumerID: string(ref.ConsumerID), LPEvent: orEmpty(t.LPEvent), LPSdes: orEmpty(t.SDEs),
		MessageMetadata: t.Metadata}
	r := Request{Sender: string(ref.ID), Message: t.Text}
	switch t.Kind {
	case botrelay.TurnText:
	case botrelay.TurnStart:
		r.Message = b.cfg.WelcomeMessage
		md.Welcome, md.LastConsumerMessage = true, t.LastConsumerMessage
	case botrelay.TurnRichContent:
		r.Message, md.RichContent = botrelay.EventConsumerRichContent, t.RichContent
	case botrelay.TurnFile:
		r.Message = botrelay.EventConsumerFile
		if f := t.File; f != nil {
			md.File = &File{RelativePath: f.RelativePath, FileType: f.FileType, Caption: f.Caption, URL: f.URL}
		}
	default:
		return nil, vendorErr(botrelay.ErrUnsupported, CodeUnsupportedTurn, "rasa bots cannot answer a %s turn", t.Kind)
	}
	r.Metadata = md
	out, err := json.Marshal(r)
	if err != nil {
		return nil, vendorErr(botrelay.ErrUnsupported, CodeSendMessage, "encode the request: %v", err)
	}
	return out, nil
}

func orEmpty(raw json.RawMessage) json.RawMessage {
	if s := bytes.TrimSpace(raw); len(s) == 0 || bytes.Equal(s, []byte("null")) {
		return json.RawMessage("{}")
	}
	return raw
}

// Exchange implements botrelay.HookableBot: it POSTs req to the webhook.
// Rasa keeps the dialogue state, so there is no vendor state.
func (b *Bot) Exchange(ctx context.Context, t *botrelay.Turn, req json.RawMessage) (json.RawMessage, json.RawMessage, error) {
	status, body, err := b.do(ctx, http.MethodPost, WebhookPath, req, CodeSendMessage)
	if err != nil {
		return nil, nil, err
	}
	if status == http.StatusNotFound {
		return nil, nil, vendorErr(botrelay.ErrVendorBadReply, CodeSendMessage, "HTTP 404 from %s: is the rest channel enabled in credentials.yml?", WebhookPath)
	}
	if status < 200 || status > 299 {
		return nil, nil, vendorErr(botrelay.ErrVendorBadReply, CodeSendMessage, "unexpected HTTP %d from %s%s", status, WebhookPath, snippet(body))
	}
	return body, nil, nil
}

// ParseResponse implements botrelay.HookableBot.
func (b *Bot) ParseResponse(ctx context.Context, t *botrelay.Turn, resp json.RawMessage) (*botrelay.Reply, error) {
	reply, skipped, err := parseReply(resp, t.Conversation.Type, t.Conversation.SkillName)
	for _, s := range skipped {
		b.env.Logger.WarnContext(ctx, "rasa custom payload ignored", "conversation_id", string(t.Conversation.ID), "payload", s)
	}
	return reply, err
}

// CheckHealth implements botrelay.HealthChecker. With a token it reads
// GET /status, which Rasa's HTTP API protects with the token (so a wrong
// token is reported); without one it reads GET /, which answers
// "Hello from Rasa: <version>".
func (b *Bot) CheckHealth(ctx context.Context) error {
	path := "/"
	if b.cfg.Token != "" {
		path = "/status"
	}
	status, body, err := b.do(ctx, http.MethodGet, path, nil, CodeTestConnection)
	if err != nil {
		return err
	}
	if status < 200 || status > 299 {
		return vendorErr(botrelay.ErrVendorBadReply, CodeTestConnection, "connection test: GET %s answered HTTP %d%s", path, status, snippet(body))
	}
	if path == "/" && !strings.Contains(string(body), "Rasa") {
		return vendorErr(botrelay.ErrVendorBadReply, CodeTestConnection, "connection test: GET / does not look like a Rasa server%s", snippet(body))
	}
	return nil
}

// do makes one request. Transport failures, 429 and 5xx are
// ErrVendorUnavailable, 401 and 403 ErrVendorAuth; other statuses come back
// to the caller. Error messages never carry the token.
func (b *Bot) do(ctx context.Context, method, path string, body []byte, code string) (int, []byte, error) {
	u := b.cfg.BaseURL + path
	if b.cfg.Token != "" && b.cfg.AuthMode == AuthQuery {
		u += "?token=" + url.QueryEscape(b.cfg.Token)
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, nil, vendorErr(botrelay.ErrVendorBadReply, code, "%s %s: build request: %v", method, path, redact(err))
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "botrelay")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if b.cfg.Token != "" && b.cfg.AuthMode == AuthBearer {
		req.Header.Set("Authorization", "Bearer "+b.cfg.Token)
	}
	resp, err := b.env.HTTPClient.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil, vendorErr(botrelay.ErrVendorUnavailable, code, "%s %s: no answer in time: %v", method, path, ctx.Err())
		}
		return 0, nil, vendorErr(botrelay.ErrVendorUnavailable, code, "%s %s: %v", method, path, redact(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return 0, nil, vendorErr(botrelay.ErrVendorUnavailable, code, "%s %s: reading the response: %v", method, path, redact(err))
	}
	if len(data) > maxBody {
		return 0, nil, vendorErr(botrelay.ErrVendorBadReply, code, "%s %s: response exceeds %d bytes", method, path, maxBody)
	}
	st := resp.StatusCode
	switch {
	case st == http.StatusUnauthorized || st == http.StatusForbidden:
		return 0, nil, vendorErr(botrelay.ErrVendorAuth, code, "%s %s: Rasa rejected the token (HTTP %d)%s", method, path, st, snippet(data))
	case st == http.StatusTooManyRequests || st >= 500:
		return 0, nil, vendorErr(botrelay.ErrVendorUnavailable, code, "%s %s: HTTP %d%s", method, path, st, snippet(data))
	}
	return st, data, nil
}

// redact drops the URL (which may carry ?token=) from a *url.Error.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// snippet quotes the start of a response body for error messages.
func snippet(body []byte) string {
	s := strings.TrimSpace(string(body))
	if s == "" {
		return ""
	}
	const max = 200
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return ": " + strconv.Quote(s)
}
