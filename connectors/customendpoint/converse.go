package customendpoint

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/kit"
)

// vendorState is the per-conversation state the relay stores for this
// connector. Created is "<botId>/<environment>" once PUT …/conversations/{convId}
// succeeded there, so a settings change to another bot or environment
// creates the conversation again.
type vendorState struct {
	Created string `json:"created,omitempty"`
}

// Event types and sources of §4.3.4.
const (
	EventText              = "TEXT"
	EventRichContent       = "RICH_CONTENT"
	EventStart             = "START"
	EventCloseConversation = "CLOSE_CONVERSATION"
	SourceConsumer         = "CONSUMER"
	SourceConversation     = "CONVERSATION"
)

// DialogTypePostSurvey is lpEvent.dialogType of the START event that begins
// a survey (botrelay's extension).
const DialogTypePostSurvey = "POST_SURVEY"

// Event is the body of POST …/events (a ConversationChange).
type Event struct {
	Type    string       `json:"type"`
	Source  string       `json:"source"`
	Data    any          `json:"data"`
	Context EventContext `json:"context"`
}

// EventContext is an event's context: the platform event that caused it.
type EventContext struct {
	LPEvent json.RawMessage `json:"lpEvent"`
}

// CreateConversation is the body of PUT …/conversations/{convId}.
type CreateConversation struct {
	// SDEs are the engagement attributes; present only when the bot
	// collects them, and sent only here.
	SDEs    json.RawMessage `json:"sdes,omitempty"`
	Context map[string]any  `json:"context"`
}

// Converse implements botrelay.VendorBot. For a conversation the endpoint
// has not seen (no vendor state, or state for another bot/environment) it
// first PUTs the conversation, then POSTs the event; a 404 on the event
// PUTs the conversation again and resends the event once (§4.6). The reply
// carries new vendor state only when a PUT happened.
func (b *Bot) Converse(ctx context.Context, t *botrelay.Turn) (*botrelay.Reply, error) {
	return kit.Converse(ctx, b, t, b.cfg.ClientSecret)
}

// HookInfo implements botrelay.HookableBot. The reference product names no
// hook keys for Custom Endpoint bots; these follow its pattern.
func (b *Bot) HookInfo() botrelay.HookInfo {
	return botrelay.HookInfo{Vendor: "CustomEndpoint", RequestKey: "customEndpointPayload", ResponseKey: "customEndpoint"}
}

// BuildRequest implements botrelay.HookableBot: the event body to POST.
func (b *Bot) BuildRequest(ctx context.Context, t *botrelay.Turn) (json.RawMessage, error) {
	if t.Conversation.ID == "" {
		return nil, vendorErr(botrelay.ErrUnsupported, CodeSendEvent, "the turn has no conversation id")
	}
	ev, err := buildEvent(t)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return nil, vendorErr(botrelay.ErrUnsupported, CodeSendEvent, "encode the %s event: %v", ev.Type, err)
	}
	return body, nil
}

// ParseResponse implements botrelay.HookableBot.
func (b *Bot) ParseResponse(ctx context.Context, t *botrelay.Turn, resp json.RawMessage) (*botrelay.Reply, error) {
	return parseReply(resp, t.Conversation.SkillName)
}

// Exchange implements botrelay.HookableBot: it creates the conversation
// when needed (and again after a 404), POSTs the event body and returns the
// raw response with the new vendor state.
func (b *Bot) Exchange(ctx context.Context, t *botrelay.Turn, body json.RawMessage) (json.RawMessage, json.RawMessage, error) {
	var ev struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(body, &ev)
	var st vendorState
	if len(t.VendorState) > 0 {
		_ = json.Unmarshal(t.VendorState, &st) // unreadable state: create again
	}
	convPath := b.envPath + "/conversations/" + url.PathEscape(string(t.Conversation.ID))
	var newState json.RawMessage
	if st.Created != b.target {
		if err := b.createConversation(ctx, convPath, t); err != nil {
			return nil, nil, err
		}
		newState = b.createdState()
	}
	send := call{code: CodeSendEvent, what: "send " + ev.Type + " event", method: http.MethodPost, path: convPath + "/events", body: body, pass: []int{http.StatusNotFound}}
	res, err := b.do(ctx, send)
	if err != nil {
		return nil, nil, err
	}
	if res.status == http.StatusNotFound {
		b.env.Logger.InfoContext(ctx, "custom endpoint does not know the conversation; creating it again", "conversation_id", string(t.Conversation.ID))
		if err := b.createConversation(ctx, convPath, t); err != nil {
			return nil, nil, err
		}
		newState = b.createdState()
		if res, err = b.do(ctx, send); err != nil {
			return nil, nil, err
		}
		if res.status == http.StatusNotFound {
			return nil, nil, vendorErr(botrelay.ErrVendorBadReply, CodeSendEvent, "send %s event: HTTP 404 again after creating the conversation%s", ev.Type, kit.Snippet(res.body))
		}
	}
	return res.body, newState, nil
}

func (b *Bot) createdState() json.RawMessage {
	s, _ := json.Marshal(vendorState{Created: b.target})
	return s
}

// createConversation PUTs the conversation. 409 (exists) counts as success.
func (b *Bot) createConversation(ctx context.Context, path string, t *botrelay.Turn) error {
	body, err := json.Marshal(buildCreate(t))
	if err != nil {
		return vendorErr(botrelay.ErrUnsupported, CodeCreateConversation, "encode the conversation: %v", err)
	}
	_, err = b.do(ctx, call{code: CodeCreateConversation, what: "create conversation", method: http.MethodPut, path: path, body: body, pass: []int{http.StatusConflict}})
	return err
}

// buildCreate makes the PUT body: the conversation context from the
// platform event's conversationContext (F14), with the type, skill and
// consumer of the conversation; the SDEs when the bot collects them.
func buildCreate(t *botrelay.Turn) CreateConversation {
	c := map[string]any{}
	var ev struct {
		ConversationContext map[string]any `json:"conversationContext"`
	}
	if len(t.LPEvent) > 0 && json.Unmarshal(t.LPEvent, &ev) == nil && ev.ConversationContext != nil {
		c = ev.ConversationContext
	}
	ref := t.Conversation
	if ref.Type != "" {
		c["type"] = string(ref.Type)
	} else if _, ok := c["type"]; !ok {
		c["type"] = string(botrelay.Messaging)
	}
	if ref.SkillID != 0 {
		c["skillId"] = int64(ref.SkillID)
	}
	if ref.ConsumerID != "" {
		v, _ := c["visitor"].(map[string]any)
		if v == nil {
			v = map[string]any{}
		}
		v["consumerId"] = string(ref.ConsumerID)
		c["visitor"] = v
	}
	out := CreateConversation{Context: c}
	if s := bytes.TrimSpace(t.SDEs); len(s) > 0 && !bytes.Equal(s, []byte("null")) && !isEmptyObject(s) {
		out.SDEs = s
	}
	return out
}

func isEmptyObject(b []byte) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(b, &m) == nil && len(m) == 0
}

// buildEvent maps a turn to its event (§4.3.4): text and files are TEXT
// (files as the file event identifier, F8), rich content is RICH_CONTENT,
// the welcome is START with lpEvent.lastConsumerMessage (F12), and the
// start of a survey (F41) is START with data {"survey": true} and
// lpEvent.dialogType "POST_SURVEY".
func buildEvent(t *botrelay.Turn) (*Event, error) {
	lp := t.LPEvent
	add := map[string]any{}
	if len(t.Metadata) > 0 {
		add["metadata"] = t.Metadata
	}
	switch t.Kind {
	case botrelay.TurnText:
		return &Event{Type: EventText, Source: SourceConsumer, Data: map[string]string{"message": t.Text}, Context: EventContext{withDefaults(lp, add)}}, nil
	case botrelay.TurnFile:
		text := t.Text
		if text == "" {
			text = botrelay.EventConsumerFile
		}
		return &Event{Type: EventText, Source: SourceConsumer, Data: map[string]string{"message": text}, Context: EventContext{withDefaults(lp, add)}}, nil
	case botrelay.TurnRichContent:
		content := t.RichContent
		if len(bytes.TrimSpace(content)) == 0 {
			content = json.RawMessage("{}")
		}
		return &Event{Type: EventRichContent, Source: SourceConsumer, Data: map[string]json.RawMessage{"content": content}, Context: EventContext{withDefaults(lp, add)}}, nil
	case botrelay.TurnStart:
		if t.LastConsumerMessage != "" {
			add["lastConsumerMessage"] = t.LastConsumerMessage
		}
		return &Event{Type: EventStart, Source: SourceConversation, Data: struct{}{}, Context: EventContext{withDefaults(lp, add)}}, nil
	case botrelay.TurnSurvey:
		// botrelay's extension (docs/vendors/custom-endpoint.md, "Survey
		// bots"): a START whose data says survey and whose lpEvent names
		// the post-conversation survey dialog.
		if t.LastConsumerMessage != "" {
			add["lastConsumerMessage"] = t.LastConsumerMessage
		}
		if t.Conversation.DialogID != "" {
			add["dialogId"] = string(t.Conversation.DialogID)
		}
		lp = withDefaults(lp, add)
		lp = withDefaults(lp, map[string]any{"dialogType": DialogTypePostSurvey}, "dialogType")
		return &Event{Type: EventStart, Source: SourceConversation, Data: map[string]bool{"survey": true}, Context: EventContext{lp}}, nil
	}
	return nil, vendorErr(botrelay.ErrUnsupported, CodeUnsupportedEvent, "the Custom Endpoint contract has no event for a %s turn", t.Kind)
}

// withDefaults returns lpEvent (an object; {} when absent) with the members
// of add that it lacks; the members named in force replace existing ones.
func withDefaults(lpEvent json.RawMessage, add map[string]any, force ...string) json.RawMessage {
	var m map[string]json.RawMessage
	if len(bytes.TrimSpace(lpEvent)) == 0 || json.Unmarshal(lpEvent, &m) != nil || m == nil {
		m = map[string]json.RawMessage{}
		lpEvent = nil
	}
	changed := lpEvent == nil
	for k, v := range add {
		if _, ok := m[k]; ok && !slices.Contains(force, k) {
			continue
		}
		raw, err := json.Marshal(v)
		if err != nil {
			continue
		}
		m[k] = raw
		changed = true
	}
	if !changed {
		return lpEvent
	}
	out, _ := json.Marshal(m)
	return out
}

// decodeSegment decodes a base64url JWT segment.
func decodeSegment(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
