package watson

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/botrelay/botrelay"
)

// queryText is the turn's text as Watson gets it: newline, carriage return
// and tab removed (F6; Watson cannot process them). A welcome turn has no
// text, which is what triggers Watson's "welcome" condition.
func queryText(t *botrelay.Turn) string {
	text := t.Text
	switch t.Kind {
	case botrelay.TurnStart:
		return ""
	case botrelay.TurnRichContent:
		if text == "" {
			text = botrelay.EventConsumerRichContent
		}
	case botrelay.TurnFile:
		if text == "" {
			text = botrelay.EventConsumerFile
		}
	}
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' {
			return -1
		}
		return r
	}, text)
}

// lpEvent is the relay's platform event with the documented gaps filled
// (F7, F8, F11, F12, F14): a welcome gets type "ContentEvent", content and
// contentType "welcome" and lastConsumerMessage (messaging) or
// isWelcomeEvent (chat); rich content gets event {type:"RichContentEvent",
// content}; a file gets event {type:"ContentEvent",
// contentType:"hosted/file", message}; the consumer message's metadata goes
// to metadata. It is always a JSON object.
func lpEvent(t *botrelay.Turn) json.RawMessage {
	ev := map[string]json.RawMessage{}
	if raw := bytes.TrimSpace(t.LPEvent); len(raw) > 0 && raw[0] == '{' {
		if json.Unmarshal(raw, &ev) != nil || ev == nil {
			ev = map[string]json.RawMessage{}
		}
	}
	n := len(ev)
	set := func(k string, v any) {
		if _, ok := ev[k]; !ok {
			ev[k] = mustJSON(v)
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
		if rc := bytes.TrimSpace(t.RichContent); len(rc) > 0 && json.Valid(rc) {
			set("event", map[string]any{"type": "RichContentEvent", "content": json.RawMessage(rc)})
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
	if md := bytes.TrimSpace(t.Metadata); len(md) > 0 && json.Valid(md) {
		set("metadata", json.RawMessage(md))
	}
	if len(ev) == n && n > 0 {
		return compact(t.LPEvent)
	}
	return mustJSON(ev)
}

// lpSdes is the turn's engagement attributes, {} when absent.
func lpSdes(t *botrelay.Turn) json.RawMessage {
	if raw := bytes.TrimSpace(t.SDEs); len(raw) > 0 && raw[0] == '{' && json.Valid(raw) {
		return compact(raw)
	}
	return json.RawMessage("{}")
}

// stickyMetadata applies the context encodedMetadata rule (F22): a string
// value is in effect; an explicit null clears it; an absent key keeps the
// previous value. It returns the value in effect and whether the key was
// absent.
func stickyMetadata(ctx jobj, prev string) (value string, absentKey bool) {
	raw, ok := ctx["encodedMetadata"]
	if !ok {
		return prev, true
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, false
	}
	return "", false
}
