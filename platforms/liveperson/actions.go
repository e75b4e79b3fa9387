package liveperson

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/ums"
)

func invalidf(format string, args ...any) error {
	return botrelay.Errorf(botrelay.EINVALID, "liveperson: "+format, args...)
}

func dialogOf(conv botrelay.ConversationRef) string {
	if conv.DialogID != "" {
		return string(conv.DialogID)
	}
	return string(conv.ID)
}

// metadataArray normalises message metadata to a JSON array (an object
// becomes a one-element array, F23); nil when empty.
func metadataArray(raw json.RawMessage) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	switch raw[0] {
	case '[':
		if !json.Valid(raw) {
			return nil, invalidf("metadata is not valid JSON")
		}
		return raw, nil
	case '{':
		if !json.Valid(raw) {
			return nil, invalidf("metadata is not valid JSON")
		}
		return append(append(json.RawMessage{'['}, raw...), ']'), nil
	}
	return nil, invalidf("metadata must be a JSON array or object")
}

// Publish sends m into the conversation's dialog: a ContentEvent
// (text/plain, with m.QuickReplies attached) for text, a RichContentEvent
// for structured content; m.Audience AGENTS_AND_MANAGERS makes it a private
// note. m.Metadata and m.EncodedMetadata ride on the request. It returns
// the event's sequence.
func (a *Adapter) Publish(ctx context.Context, conv botrelay.ConversationRef, m *botrelay.Message) (int64, error) {
	if m == nil {
		return 0, invalidf("publish: no message")
	}
	body, err := publishBody(conv, m)
	if err != nil {
		return 0, err
	}
	meta, err := metadataArray(m.Metadata)
	if err != nil {
		return 0, err
	}
	var resp json.RawMessage
	if len(bytes.TrimSpace(m.StructuredContent)) == 0 {
		// A text: its frame is written directly (publishTextFrame).
		resp, err = a.requestFrame(ctx, ".ams.ms.PublishEvent", func(id string) ([]byte, error) {
			return publishTextFrame(id, conv, m, meta)
		})
	} else {
		resp, err = a.request(ctx, ".ams.ms.PublishEvent", body, meta, m.EncodedMetadata)
	}
	if err != nil {
		return 0, err
	}
	var r struct {
		Sequence int64 `json:"sequence"`
	}
	_ = json.Unmarshal(resp, &r)
	return r.Sequence, nil
}

// publishBody is the body of the PublishEvent request of m: a ContentEvent
// (text/plain, with m.QuickReplies attached) for text, a RichContentEvent
// for structured content, and the audience unless it is ALL.
func publishBody(conv botrelay.ConversationRef, m *botrelay.Message) (map[string]any, error) {
	var event map[string]any
	switch {
	case len(bytes.TrimSpace(m.StructuredContent)) > 0:
		if !json.Valid(m.StructuredContent) {
			return nil, invalidf("publish: structured content is not valid JSON")
		}
		event = map[string]any{"type": "RichContentEvent", "content": json.RawMessage(m.StructuredContent)}
	case m.Text != "":
		event = map[string]any{"type": "ContentEvent", "contentType": "text/plain", "message": m.Text}
		if qr := quickReplies(m); qr != nil {
			if !json.Valid(qr) {
				return nil, invalidf("publish: quick replies are not valid JSON")
			}
			event["quickReplies"] = qr
		}
	default:
		return nil, invalidf("publish: the message has neither text nor structured content")
	}
	body := map[string]any{"dialogId": dialogOf(conv), "event": event}
	if m.Audience != "" && m.Audience != "ALL" {
		body["messageAudience"] = m.Audience
	}
	return body, nil
}

// quickReplies are m's quick replies, or nil.
func quickReplies(m *botrelay.Message) json.RawMessage {
	if qr := bytes.TrimSpace(m.QuickReplies); len(qr) > 0 && string(qr) != "null" {
		return json.RawMessage(qr)
	}
	return nil
}

// publishTextFrame is the PublishEvent request frame of the text message m
// (publishBody checked it), written directly: the bytes json.Marshal gives
// for the request with publishBody's body.
func publishTextFrame(id string, conv botrelay.ConversationRef, m *botrelay.Message, meta json.RawMessage) ([]byte, error) {
	qr := quickReplies(m)
	b := make([]byte, 0, 200+len(id)+len(conv.ID)+len(conv.DialogID)+len(m.Text)+len(qr)+len(meta)+len(m.EncodedMetadata))
	b = append(b, `{"kind":"req","id":`...)
	b = ums.AppendString(b, id)
	b = append(b, `,"type":".ams.ms.PublishEvent","body":{"dialogId":`...)
	b = ums.AppendString(b, dialogOf(conv))
	b = append(b, `,"event":{"contentType":"text/plain","message":`...)
	b = ums.AppendString(b, m.Text)
	var err error
	if qr != nil {
		b = append(b, `,"quickReplies":`...)
		if b, err = ums.AppendRaw(b, qr); err != nil {
			return nil, err
		}
	}
	b = append(b, `,"type":"ContentEvent"}`...)
	if m.Audience != "" && m.Audience != "ALL" {
		b = append(b, `,"messageAudience":`...)
		b = ums.AppendString(b, m.Audience)
	}
	b = append(b, '}')
	if len(meta) > 0 {
		b = append(b, `,"metadata":`...)
		if b, err = ums.AppendRaw(b, meta); err != nil {
			return nil, err
		}
	}
	if m.EncodedMetadata != "" {
		b = append(b, `,"encodedMetadata":`...)
		b = ums.AppendString(b, m.EncodedMetadata)
	}
	return append(b, '}'), nil
}

// SetTyping publishes a ChatStateEvent: COMPOSING when on, ACTIVE when off.
func (a *Adapter) SetTyping(ctx context.Context, conv botrelay.ConversationRef, on bool) error {
	state := "ACTIVE"
	if on {
		state = "COMPOSING"
	}
	_, err := a.request(ctx, ".ams.ms.PublishEvent", map[string]any{
		"dialogId": dialogOf(conv),
		"event":    map[string]any{"type": "ChatStateEvent", "chatState": state},
	}, nil, "")
	return err
}

// transferMetadata marks a transfer as the bot's decision.
var transferMetadata = json.RawMessage(`[{"type":"ActionReason","reason":"escalated_by_bot","reasonId":"3"}]`)

// Transfer removes the bot as assigned agent and moves the conversation to
// skill; with agentID it also suggests that agent ("<account>.<id>" or
// the bare user id). skill 0 keeps the conversation's skill.
func (a *Adapter) Transfer(ctx context.Context, conv botrelay.ConversationRef, skill botrelay.SkillID, agentID string) error {
	if skill == 0 {
		skill = conv.SkillID
	}
	if skill == 0 {
		return invalidf("transfer: no target skill")
	}
	fields := []map[string]any{
		// Without userId the platform removes the caller itself.
		{"field": "ParticipantsChange", "type": "REMOVE", "role": "ASSIGNED_AGENT"},
	}
	if agentID = strings.TrimSpace(agentID); agentID != "" {
		if !strings.Contains(agentID, ".") {
			agentID = a.cfg.Account + "." + agentID
		}
		fields = append(fields, map[string]any{"field": "ParticipantsChange", "type": "SUGGEST", "role": "ASSIGNED_AGENT", "userId": agentID})
	}
	fields = append(fields, map[string]any{"field": "Skill", "type": "UPDATE", "skill": fmt.Sprint(int64(skill))})
	return a.updateConversation(ctx, conv, fields, transferMetadata)
}

// Close closes the conversation. withoutPCS closes it outright
// (ConversationStateField CLOSE); otherwise the main dialog is closed
// (DialogChange), which lets the platform open a post-conversation survey
// when the skill has one and closes the conversation when it has none. A
// survey bot's Close closes the survey dialog, which ends the conversation.
func (a *Adapter) Close(ctx context.Context, conv botrelay.ConversationRef, withoutPCS bool) error {
	if withoutPCS {
		return a.updateConversation(ctx, conv, []map[string]any{
			{"field": "ConversationStateField", "conversationState": "CLOSE"},
		}, nil)
	}
	// The dialog to close: the survey dialog a survey bot runs, else the
	// main dialog.
	dialog := string(conv.ID)
	a.mu.Lock()
	if st := a.convs[string(conv.ID)]; st != nil {
		if typ, _ := st.dialogs.get(string(conv.DialogID)); typ == dialogSurvey {
			dialog = string(conv.DialogID)
		} else if st.main != "" {
			dialog = st.main
		}
	}
	a.mu.Unlock()
	return a.updateConversation(ctx, conv, []map[string]any{
		{"field": "DialogChange", "type": "UPDATE", "dialog": map[string]string{"dialogId": dialog, "state": "CLOSE"}},
	}, nil)
}

// SetTTR changes the conversation's time to response: URGENT, NORMAL,
// PRIORITIZED, or CUSTOM with a time in seconds (LivePerson's TTRField
// with value).
func (a *Adapter) SetTTR(ctx context.Context, conv botrelay.ConversationRef, ttr string, seconds int) error {
	field, err := ttrField(ttr, seconds)
	if err != nil {
		return err
	}
	return a.updateConversation(ctx, conv, []map[string]any{field}, nil)
}

func (a *Adapter) updateConversation(ctx context.Context, conv botrelay.ConversationRef, fields []map[string]any, meta json.RawMessage) error {
	if conv.ID == "" {
		return invalidf("no conversation id")
	}
	_, err := a.request(ctx, ".ams.cm.UpdateConversationField", map[string]any{
		"conversationId":    string(conv.ID),
		"conversationField": fields,
	}, meta, "")
	return err
}

// Accept accepts a ring (RingAcceptManual).
func (a *Adapter) Accept(ctx context.Context, ringID string) error {
	if ringID == "" {
		return invalidf("accept: no ring id")
	}
	_, err := a.request(ctx, ".ams.routing.UpdateRingState", map[string]string{"ringId": ringID, "ringState": "ACCEPTED"}, nil, "")
	return err
}

// textOf is the text of a text ContentEvent, else "".
func textOf(event json.RawMessage) string {
	var e struct {
		Type    string          `json:"type"`
		Message json.RawMessage `json:"message"`
	}
	var text string
	if json.Unmarshal(event, &e) != nil || e.Type != "ContentEvent" || json.Unmarshal(e.Message, &text) != nil {
		return ""
	}
	return text
}

// historyPage is how many events History asks for at a time.
const historyPage = 100

// History returns the consumer's messages in the dialog with a sequence
// above after, oldest first (typing and receipts left out).
func (a *Adapter) History(ctx context.Context, conv botrelay.ConversationRef, after int64) ([]*botrelay.PlatformEvent, error) {
	var out []*botrelay.PlatformEvent
	dialog := dialogOf(conv)
	for page := 0; page < 1000; page++ {
		resp, err := a.request(ctx, ".ams.ms.QueryMessages", map[string]any{
			"dialogId": dialog, "newerThanSequence": after, "maxQuantity": historyPage,
		}, nil, "")
		if err != nil {
			return out, err
		}
		items, err := historyItems(resp)
		if err != nil {
			return out, err
		}
		last := after
		for _, raw := range items {
			var m msgEvent
			if json.Unmarshal(raw, &m) != nil {
				continue
			}
			if m.Sequence <= after {
				continue
			}
			last = max(last, m.Sequence)
			if m.DialogID == "" {
				m.DialogID = dialog
			}
			ref := conv
			ref.DialogID = botrelay.DialogID(m.DialogID)
			if me := a.UserID(); me != "" && m.OriginatorID == me {
				// The bot's own message, with the metadata it was published
				// with: the relay finds its markers here after a restart.
				out = append(out, &botrelay.PlatformEvent{Kind: botrelay.EventBotMessage, Conversation: ref,
					Sequence: m.Sequence, Text: textOf(m.Event), Metadata: nonEmpty(m.Metadata), Raw: raw})
				continue
			}
			if ev := a.consumerEvent(&m, raw, ref); ev != nil && ev.Kind == botrelay.EventConsumerMessage {
				out = append(out, ev)
			} else if ev == nil && isAgentContent(&m, ref) {
				out = append(out, &botrelay.PlatformEvent{Kind: botrelay.EventAgentMessage, Conversation: ref,
					Sequence: m.Sequence, Text: textOf(m.Event), Metadata: nonEmpty(m.Metadata)})
			}
		}
		if len(items) < historyPage || last == after {
			break
		}
		after = last
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Sequence < out[j].Sequence })
	return out, nil
}

// isAgentContent reports whether a history event is a message of another
// agent or bot (not the consumer's, not a chat state or accept status).
func isAgentContent(m *msgEvent, ref botrelay.ConversationRef) bool {
	role := m.OriginatorMetadata.Role
	if role == "CONSUMER" || (role == "" && (m.OriginatorID == "" || m.OriginatorID == string(ref.ConsumerID))) {
		return false
	}
	var e struct {
		Type string `json:"type"`
	}
	return json.Unmarshal(m.Event, &e) == nil && (e.Type == "ContentEvent" || e.Type == "RichContentEvent")
}

// historyItems reads a QueryMessages answer: an array of events, or an
// object holding one.
func historyItems(resp json.RawMessage) ([]json.RawMessage, error) {
	var items []json.RawMessage
	if json.Unmarshal(resp, &items) == nil {
		return items, nil
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(resp, &obj) == nil {
		for _, k := range []string{"messageEventRecords", "events", "changes", "messages"} {
			if v, ok := obj[k]; ok && json.Unmarshal(v, &items) == nil {
				return items, nil
			}
		}
		return nil, nil
	}
	return nil, errors.New("liveperson: QueryMessages: the answer is not a list of events")
}
