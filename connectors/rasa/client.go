package rasa

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/kit"
)

// Bot is one configured rasa bot. It implements botrelay.HookableBot and
// botrelay.HealthChecker and is safe for concurrent use.
type Bot struct {
	cfg  Config
	env  botrelay.BotEnv
	http *kit.Client
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
	return kit.Converse(ctx, b, t, b.cfg.Token)
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
	if kit.Classify(status) != kit.Success {
		return nil, nil, vendorErr(botrelay.ErrVendorBadReply, CodeSendMessage, "unexpected HTTP %d from %s%s", status, WebhookPath, kit.Snippet(body))
	}
	return body, nil, nil
}

// ParseResponse implements botrelay.HookableBot.
func (b *Bot) ParseResponse(ctx context.Context, t *botrelay.Turn, resp json.RawMessage) (*botrelay.Reply, error) {
	reply, skipped, err := parseReply(resp, t.Conversation.Type, t.Conversation.SkillName)
	for _, s := range skipped {
		b.env.Logger.WarnContext(ctx, "rasa custom payload ignored", "conversation_id", string(t.Conversation.ID), "payload", b.http.Redact(s))
	}
	return reply, b.http.Clean(err)
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
	if kit.Classify(status) != kit.Success {
		return vendorErr(botrelay.ErrVendorBadReply, CodeTestConnection, "connection test: GET %s answered HTTP %d%s", path, status, kit.Snippet(body))
	}
	if path == "/" && !strings.Contains(string(body), "Rasa") {
		return vendorErr(botrelay.ErrVendorBadReply, CodeTestConnection, "connection test: GET / does not look like a Rasa server%s", kit.Snippet(body))
	}
	return nil
}

// do makes one request through the connector kit. Transport failures,
// 408, 429 and 5xx are ErrVendorUnavailable, 401 and 403 ErrVendorAuth;
// other statuses come back to the caller. Messages never carry the token.
func (b *Bot) do(ctx context.Context, method, path string, body []byte, code string) (int, []byte, error) {
	u := b.cfg.BaseURL + path
	if b.cfg.Token != "" && b.cfg.AuthMode == AuthQuery {
		u += "?token=" + url.QueryEscape(b.cfg.Token)
	}
	h := http.Header{}
	if b.cfg.Token != "" && b.cfg.AuthMode == AuthBearer {
		h.Set("Authorization", "Bearer "+b.cfg.Token)
	}
	what := method + " " + path
	res, err := b.http.Send(ctx, kit.Request{Code: code, What: what, Method: method, URL: u, Header: h, Body: body})
	if err != nil {
		return 0, nil, err
	}
	switch kit.Classify(res.Status) {
	case kit.Auth, kit.Unavailable:
		return 0, nil, b.http.StatusError(code, what, "Rasa rejected the token", res)
	}
	return res.Status, res.Body, nil
}
