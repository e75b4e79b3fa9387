package function

import (
	"bytes"
	"encoding/json"

	"github.com/botrelay/botrelay"
)

// The request the function receives as input (spec §3.8).

type input struct {
	// Headers mirrors the invocation headers LivePerson Functions passes;
	// there are none in process.
	Headers []string `json:"headers"`
	Payload payload  `json:"payload"`
}

type payload struct {
	Message string         `json:"message"`
	ConvID  string         `json:"convId"`
	Event   *event         `json:"event,omitempty"`
	Context payloadContext `json:"context"`
}

type event struct {
	Name string `json:"name"`
}

type payloadContext struct {
	LPEvent json.RawMessage `json:"lpEvent"`
	LPSdes  json.RawMessage `json:"lpSdes"`
	// Session is botrelay's conversation state for the function (F46).
	Session json.RawMessage `json:"session"`
}

// The welcome and survey event names.
const (
	EventWelcome = "WELCOME"
	EventSurvey  = "SURVEY"
)

// buildInput renders the turn as the function's input JSON.
func buildInput(t *botrelay.Turn, session json.RawMessage) ([]byte, error) {
	p := payload{
		Message: t.Text,
		ConvID:  string(t.Conversation.ID),
		Context: payloadContext{LPSdes: objectOr(t.SDEs), Session: session},
	}
	ev := objectMap(t.LPEvent)
	setIfMissing := func(key string, v any) {
		if _, ok := ev[key]; !ok {
			ev[key] = marshal(v)
		}
	}
	switch t.Kind {
	case botrelay.TurnStart:
		p.Event = &event{Name: EventWelcome}
		if t.Conversation.Type == botrelay.Chat {
			setIfMissing("isWelcomeEvent", true)
		} else {
			setIfMissing("type", "ContentEvent")
			setIfMissing("content", "welcome")
			setIfMissing("contentType", "welcome")
		}
		if t.LastConsumerMessage != "" {
			setIfMissing("lastConsumerMessage", t.LastConsumerMessage)
		}
	case botrelay.TurnSurvey:
		p.Event = &event{Name: EventSurvey}
	case botrelay.TurnRichContent:
		if p.Message == "" {
			p.Message = botrelay.EventConsumerRichContent
		}
		if len(bytes.TrimSpace(t.RichContent)) > 0 && json.Valid(t.RichContent) {
			setIfMissing("event", map[string]any{"type": "RichContentEvent", "content": t.RichContent})
		}
	case botrelay.TurnFile:
		if p.Message == "" {
			p.Message = botrelay.EventConsumerFile
		}
		if f := t.File; f != nil {
			msg := map[string]any{"relativePath": f.RelativePath, "fileType": f.FileType}
			if f.Caption != "" {
				msg["caption"] = f.Caption
			}
			setIfMissing("event", map[string]any{"type": "ContentEvent", "contentType": "hosted/file", "message": msg})
		}
	}
	if len(bytes.TrimSpace(t.Metadata)) > 0 && json.Valid(t.Metadata) {
		setIfMissing("metadata", t.Metadata)
	}
	if len(ev) == 0 {
		p.Context.LPEvent = json.RawMessage("{}")
	} else if len(t.LPEvent) > 0 && len(ev) == countKeys(t.LPEvent) {
		p.Context.LPEvent = t.LPEvent // unchanged: keep the relay's bytes and key order
	} else {
		p.Context.LPEvent = marshal(ev)
	}
	return json.Marshal(input{Headers: []string{}, Payload: p})
}

// objectMap decodes a JSON object; anything else gives an empty map.
func objectMap(raw json.RawMessage) map[string]json.RawMessage {
	m := map[string]json.RawMessage{}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &m); err != nil || m == nil {
			return map[string]json.RawMessage{}
		}
	}
	return m
}

func countKeys(raw json.RawMessage) int {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return -1
	}
	return len(m)
}

// objectOr returns raw when it is a JSON object, else {}.
func objectOr(raw json.RawMessage) json.RawMessage {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '{' && json.Valid(raw) {
		return raw
	}
	return json.RawMessage("{}")
}

// sessionIn is the session handed to the function: the stored state when it
// is a JSON object, else {}.
func sessionIn(state json.RawMessage) json.RawMessage {
	return objectOr(state)
}

// sessionOut turns the session the function left into Reply.VendorState:
// nil when unchanged, {} when cleared.
func sessionOut(in json.RawMessage, out []byte) (json.RawMessage, error) {
	if out == nil {
		return nil, nil
	}
	if bytes.Equal(out, []byte("null")) {
		out = []byte("{}")
	}
	if out[0] != '{' {
		return nil, invokeError(botrelay.ErrVendorBadReply, CodeInvokeLambda, "context.session must be an object")
	}
	if len(out) > MaxSessionBytes {
		return nil, invokeError(botrelay.ErrVendorBadReply, CodeInvokeLambda, "context.session is larger than %d bytes", MaxSessionBytes)
	}
	if bytes.Equal(out, in) {
		return nil, nil
	}
	return json.RawMessage(out), nil
}
