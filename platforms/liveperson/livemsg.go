package liveperson

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/botrelay/botrelay/internal/jsonvalid"
)

// A message notification from the hub is read member by member
// (readLiveBody) instead of through encoding/json's reflection: the frame is
// valid JSON in json.Marshal's plain form (liveMessage checked), so its
// members split cleanly. Whatever is not plainly what the adapter reads —
// a string with an escape, a number that is not an integer, a key that
// differs from a field's name only by case — is left to encoding/json,
// which reads it as before. lpevent_test.go checks both ways agree.

// liveFrame is a message notification frame decoded in one pass.
type liveFrame struct {
	Kind string `json:"kind"`
	Type string `json:"type"`
	Body struct {
		msgEvent
		Event eventFields `json:"event"`
	} `json:"body"`
}

// liveMessage handles a frame that is plainly a notification the adapter
// reads often — its members exactly kind "notification", a type and body,
// in json.Marshal's plain form, as the hub sends them — with fewer passes
// over it: a message notification (OnlineEventDistribution) in one decode
// instead of one for the frame, its body and its event; a conversation
// notification (ExConversationChangeNotification, up to 500 conversations
// in a snapshot chunk) with its body decoded straight from the frame rather
// than copied out of it first. It reports false, having done nothing, for
// any other frame.
func (wc *wsConn) liveMessage(data []byte) bool {
	var buf [4]member
	ms, ok := plainMembers(bytes.TrimSpace(data), buf[:0])
	if !ok || len(ms) != 3 {
		return false
	}
	var body, typ []byte
	for _, m := range ms {
		switch string(m.key) {
		case "kind":
			ok = ok && string(m.val) == `"notification"`
		case "type":
			typ = m.val
		case "body":
			body = m.val
		default:
			return false
		}
	}
	if !ok || body == nil {
		return false
	}
	switch string(typ) {
	case `"` + notifyMessage + `"`:
	case `"` + notifyConversations + `"`:
		if !jsonvalid.Valid(data) {
			return false
		}
		wc.q.push(wc.a.conversationChanges(wc, body)...)
		return true
	default:
		return false
	}
	if !jsonvalid.Valid(data) {
		return false // the general path says what is wrong with it
	}
	var f liveFrame
	if !readLiveBody(body, &f.Body.msgEvent, &f.Body.Event) {
		f = liveFrame{}
		if json.Unmarshal(data, &f) != nil {
			return false
		}
	}
	if ev := wc.a.messageEventOf(&f.Body.msgEvent, &f.Body.Event, body); ev != nil {
		wc.q.push(ev)
	}
	return true
}

// readLiveBody reads a message notification's body into m and its event
// into e; false means: decode it with encoding/json instead.
func readLiveBody(body []byte, m *msgEvent, e *eventFields) bool {
	var buf [12]member
	ms, ok := plainMembers(body, buf[:0])
	if !ok {
		return false
	}
	for _, mb := range ms {
		v := mb.val
		switch string(mb.key) {
		case "sequence":
			ok = plainInt(v, &m.Sequence)
		case "conversationId":
			ok = plainStr(v, &m.ConversationID)
		case "dialogId":
			ok = plainStr(v, &m.DialogID)
		case "serverTimestamp":
			ok = plainInt(v, &m.ServerTimestamp)
		case "originatorId":
			ok = plainStr(v, &m.OriginatorID)
		case "originatorMetadata":
			ok = readOriginator(v, m)
		case "event":
			ok = readEvent(v, e)
		case "metadata":
			m.Metadata = append(json.RawMessage(nil), v...)
		default:
			ok = !foldsToAny(mb.key, "sequence", "conversationId", "dialogId", "serverTimestamp", "originatorId",
				"originatorMetadata", "event", "metadata")
		}
		if !ok {
			return false
		}
	}
	return true
}

func readOriginator(v []byte, m *msgEvent) bool {
	if string(v) == "null" {
		return true
	}
	var buf [6]member
	ms, ok := plainMembers(v, buf[:0])
	if !ok {
		return false
	}
	for _, mb := range ms {
		switch string(mb.key) {
		case "id":
			ok = plainStr(mb.val, &m.OriginatorMetadata.ID)
		case "role":
			ok = plainStr(mb.val, &m.OriginatorMetadata.Role)
		default:
			ok = !foldsToAny(mb.key, "id", "role")
		}
		if !ok {
			return false
		}
	}
	return true
}

func readEvent(v []byte, e *eventFields) bool {
	if string(v) == "null" {
		return true
	}
	var buf [8]member
	ms, ok := plainMembers(v, buf[:0])
	if !ok {
		return false
	}
	for _, mb := range ms {
		switch string(mb.key) {
		case "type":
			ok = plainStr(mb.val, &e.Type)
		case "contentType":
			ok = plainStr(mb.val, &e.ContentType)
		case "message":
			e.Message = append(json.RawMessage(nil), mb.val...)
		case "content":
			e.Content = append(json.RawMessage(nil), mb.val...)
		case "chatState":
			ok = plainStr(mb.val, &e.ChatState)
		default:
			ok = !foldsToAny(mb.key, "type", "contentType", "message", "content", "chatState")
		}
		if !ok {
			return false
		}
	}
	return true
}

// plainStr reads a JSON string without escapes (null leaves dst as it
// is, as encoding/json does).
func plainStr(v []byte, dst *string) bool {
	if string(v) == "null" {
		return true
	}
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return false
	}
	for _, c := range v[1 : len(v)-1] {
		if c == '\\' {
			return false
		}
	}
	*dst = string(v[1 : len(v)-1])
	return true
}

// plainInt reads a JSON integer into an int64 as encoding/json does.
func plainInt(v []byte, dst *int64) bool {
	if string(v) == "null" {
		return true
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil || (len(v) > 1 && v[0] == '+') {
		return false
	}
	*dst = n
	return true
}

// foldsToAny reports whether key equals one of names but for ASCII case
// (encoding/json would match it to that field).
func foldsToAny(key []byte, names ...string) bool {
	for _, n := range names {
		if len(n) != len(key) {
			continue
		}
		same := true
		for i := range key {
			a, b := key[i]|0x20, n[i]|0x20
			if a != b || (a < 'a' || a > 'z') && key[i] != n[i] {
				same = false
				break
			}
		}
		if same {
			return true
		}
	}
	return false
}
