package liveperson

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"

	"github.com/botrelay/botrelay"
)

// lpEvent is what vendors get as lpEvent (F14): the message notification
// as LivePerson's Third-Party Bots forward it — conversationId, dialogId,
// metadata ([] when none), messageAudience (ALL unless the event says
// otherwise) and conversationContext (channel type, skill, visitor), which
// LivePerson's Custom Endpoint reference service requires and bots branch
// on. raw is valid JSON (the caller decoded it).
//
// The result is json.Marshal's encoding of the notification's members with
// the missing ones added: keys sorted, values compact, <, > and & escaped.
// A notification already in that plain form (the hub's are) is copied
// member by member (lpEventPlain); any other goes through encoding/json
// (lpEventSlow). Both give the same bytes.
func (a *Adapter) lpEvent(raw json.RawMessage, ref botrelay.ConversationRef) json.RawMessage {
	raw = bytes.TrimSpace(raw)
	var buf [12]member
	if ms, ok := plainMembers(raw, buf[:0]); ok {
		return a.lpEventPlain(ms, ref)
	}
	return a.lpEventSlow(raw, ref)
}

// lpEventSlow is lpEvent through encoding/json, for any notification.
func (a *Adapter) lpEventSlow(raw json.RawMessage, ref botrelay.ConversationRef) json.RawMessage {
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
	set("conversationContext", a.conversationContextJSON(ref))
	out, err := json.Marshal(ev)
	if err != nil {
		return append(json.RawMessage(nil), raw...)
	}
	return out
}

// lpEventPlain is lpEvent for a notification split by plainMembers.
func (a *Adapter) lpEventPlain(ms []member, ref botrelay.ConversationRef) json.RawMessage {
	set := func(k string, v func() []byte) {
		for i := range ms {
			if string(ms[i].key) == k {
				if cur := ms[i].val; string(cur) != "null" && string(cur) != `""` {
					return
				}
				ms[i].val = v()
				return
			}
		}
		ms = append(ms, member{key: []byte(k), val: v()})
	}
	set("conversationId", func() []byte { return jsonString(string(ref.ID)) })
	if ref.DialogID != "" {
		set("dialogId", func() []byte { return jsonString(string(ref.DialogID)) })
	}
	set("metadata", func() []byte { return []byte("[]") })
	set("messageAudience", func() []byte { return []byte(`"ALL"`) })
	set("conversationContext", func() []byte { return a.conversationContextJSON(ref) })
	slices.SortFunc(ms, func(x, y member) int { return bytes.Compare(x.key, y.key) })
	n := 2
	for _, m := range ms {
		n += len(m.key) + len(m.val) + 4
	}
	out := make([]byte, 0, n)
	out = append(out, '{')
	for i, m := range ms {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, '"')
		out = append(out, m.key...)
		out = append(out, '"', ':')
		out = append(out, m.val...)
	}
	return append(out, '}')
}

// jsonString is json.Marshal's encoding of s.
func jsonString(s string) []byte {
	b, _ := json.Marshal(s)
	return b
}

// conversationContextJSON is the encoded conversationContext of ref's
// conversation, kept with the conversation until its context, type or
// skill changes.
func (a *Adapter) conversationContextJSON(ref botrelay.ConversationRef) json.RawMessage {
	a.mu.Lock()
	st := a.convs[string(ref.ID)]
	if st != nil && st.ctx != nil && st.ctx.typ == ref.Type && st.ctx.skill == ref.SkillID {
		b := st.ctx.json
		a.mu.Unlock()
		return b
	}
	a.mu.Unlock()
	b, _ := json.Marshal(a.conversationContext(ref))
	a.mu.Lock()
	if cur := a.convs[string(ref.ID)]; cur != nil && cur == st {
		st.ctx = &ctxCache{json: b, typ: ref.Type, skill: ref.SkillID}
	}
	a.mu.Unlock()
	return b
}

// member is one member of a JSON object: its key without the quotes and its
// value as it appears.
type member struct{ key, val []byte }

// plainMembers splits raw, a valid JSON object, into its members, appended
// to out. ok is false unless raw is already what json.Marshal makes of it as
// a map of raw values, member by member: no whitespace outside strings, no
// key with an escape or a byte outside printable ASCII, no repeated key, no
// <, > or & and no U+2028 or U+2029 (which json.Marshal escapes).
func plainMembers(raw []byte, out []member) ([]member, bool) {
	if len(raw) < 2 || raw[0] != '{' {
		return nil, false
	}
	if string(raw) == "{}" {
		return out, true
	}
	i := 1
	for {
		if i >= len(raw) || raw[i] != '"' {
			return nil, false
		}
		k := i + 1
		for k < len(raw) && raw[k] != '"' {
			if c := raw[k]; c == '\\' || c < 0x20 || c >= 0x80 || c == '<' || c == '>' || c == '&' {
				return nil, false
			}
			k++
		}
		if k+1 >= len(raw) || raw[k+1] != ':' {
			return nil, false
		}
		key := raw[i+1 : k]
		for _, m := range out {
			if bytes.Equal(m.key, key) {
				return nil, false
			}
		}
		end, ok := plainValue(raw, k+2)
		if !ok || end >= len(raw) {
			return nil, false
		}
		out = append(out, member{key: key, val: raw[k+2 : end]})
		switch raw[end] {
		case ',':
			i = end + 1
		case '}':
			return out, end == len(raw)-1
		default:
			return nil, false
		}
	}
}

// plainValue returns the end of the value starting at raw[i], with ok
// false when the value is not plain (see plainMembers).
func plainValue(raw []byte, i int) (end int, ok bool) {
	depth := 0
	for i < len(raw) {
		switch c := raw[i]; c {
		case '"':
			if i, ok = plainString(raw, i); !ok {
				return 0, false
			}
		case '{', '[':
			depth++
			i++
		case '}', ']':
			if depth == 0 {
				return i, true
			}
			depth--
			i++
		case ',':
			if depth == 0 {
				return i, true
			}
			i++
		case ' ', '\t', '\n', '\r':
			return 0, false
		default:
			i++
		}
		if depth == 0 && i < len(raw) && (raw[i] == ',' || raw[i] == '}') {
			return i, true
		}
	}
	return 0, false
}

// plainString returns the index after the string starting at raw[i].
func plainString(raw []byte, i int) (int, bool) {
	for i++; i < len(raw); i++ {
		switch c := raw[i]; {
		case c == '"':
			return i + 1, true
		case c == '\\':
			i++
		case c == '<' || c == '>' || c == '&':
			return 0, false
		case c == 0xE2 && i+2 < len(raw) && raw[i+1] == 0x80 && (raw[i+2] == 0xA8 || raw[i+2] == 0xA9):
			return 0, false
		}
	}
	return 0, false
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
