package liveperson

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/botrelay/botrelay"
)

// lpEvent is what vendors get as lpEvent (F14): the message notification
// as LivePerson's Third-Party Bots forward it — conversationId, dialogId,
// metadata ([] when none), messageAudience (ALL unless the event says
// otherwise) and conversationContext (channel type, skill, visitor), which
// LivePerson's Custom Endpoint reference service requires and bots branch
// on.
func (a *Adapter) lpEvent(raw json.RawMessage, ref botrelay.ConversationRef) json.RawMessage {
	raw = bytes.TrimSpace(raw)
	var ev map[string]json.RawMessage
	if json.Unmarshal(raw, &ev) != nil || ev == nil {
		return append(json.RawMessage(nil), raw...)
	}
	set := func(k string, v any) {
		if cur := nonEmpty(ev[k]); len(cur) == 0 || string(cur) == `""` {
			b, _ := json.Marshal(v)
			ev[k] = b
		}
	}
	set("conversationId", string(ref.ID))
	if ref.DialogID != "" {
		set("dialogId", string(ref.DialogID))
	}
	set("metadata", []any{})
	set("messageAudience", "ALL")
	set("conversationContext", a.conversationContext(ref))
	out, err := json.Marshal(ev)
	if err != nil {
		return append(json.RawMessage(nil), raw...)
	}
	return out
}

// conversationContext is LivePerson's conversationContext of a
// conversation: its type, skill id (a string, as LivePerson sends it),
// the campaign and engagement when the consumer's context names them, and
// the visitor from the consumer's context (visitorId, sessionId, language
// and ipAddress as sharkVisitorId, sharkSessionId, language and
// ipAddress).
func (a *Adapter) conversationContext(ref botrelay.ConversationRef) map[string]any {
	a.mu.Lock()
	var raw json.RawMessage
	if st := a.convs[string(ref.ID)]; st != nil {
		raw = st.context
	}
	a.mu.Unlock()
	typ := string(ref.Type)
	if typ == "" {
		typ = string(botrelay.Messaging)
	}
	out := map[string]any{"type": typ}
	if ref.SkillID != 0 {
		out["skillId"] = strconv.FormatInt(int64(ref.SkillID), 10)
	}
	var c map[string]any
	_ = json.Unmarshal(raw, &c)
	for _, k := range []string{"campaignId", "engagementId"} {
		if v, ok := c[k]; ok {
			out[k] = v
		}
	}
	if ci, ok := c["campaignInfo"].(map[string]any); ok {
		for _, k := range []string{"campaignId", "engagementId"} {
			if v, ok := ci[k]; ok {
				out[k] = v
			}
		}
	}
	visitor := map[string]any{}
	for from, to := range map[string]string{"visitorId": "sharkVisitorId", "sharkVisitorId": "sharkVisitorId",
		"sessionId": "sharkSessionId", "sharkSessionId": "sharkSessionId", "lang": "language", "language": "language",
		"ipAddress": "ipAddress"} {
		if v, ok := c[from]; ok {
			visitor[to] = v
		}
	}
	if v, ok := c["visitor"].(map[string]any); ok {
		for k, x := range v {
			visitor[k] = x
		}
	}
	if len(visitor) > 0 {
		out["visitor"] = visitor
	}
	return out
}
