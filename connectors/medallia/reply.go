package medallia

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/internal/jsonobj"
)

// Message types of the survey service's messages.
const (
	MessageText       = "text"
	MessageStructured = "structured"
)

// badReply is a response that breaks the contract.
func badReply(format string, args ...any) error {
	return vendorErr(botrelay.ErrVendorBadReply, CodeInvalidBody, format, args...)
}

// parseReply turns a start or answer response,
//
//	{"sessionId"?, "messages": [Message…], "done": bool, "result": any}
//
// into a Reply: texts (with quick replies) and structured content in
// order, and with done true a CLOSE_CONVERSATION action whose payload is
// result (none when null or absent). Messages of unknown types are skipped:
// listed in Reply.Skipped as "message type <t>" and returned in unknown.
// Blank texts are skipped silently.
func parseReply(body []byte) (*botrelay.Reply, []string, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil, badReply("the response has an empty body; want {\"messages\":[…],\"done\":…}")
	}
	top, err := jsonobj.Decode(badReply, "response", body, true)
	if err != nil {
		return nil, nil, err
	}
	done, err := top.Bool("done", false)
	if err != nil {
		return nil, nil, err
	}
	reply := &botrelay.Reply{}
	var unknown []string
	if top.Has("messages") {
		var msgs []json.RawMessage
		if json.Unmarshal(top.M["messages"], &msgs) != nil {
			return nil, nil, badReply("response.messages must be an array")
		}
		for i, raw := range msgs {
			m, err := jsonobj.Decode(badReply, "messages["+strconv.Itoa(i)+"]", raw, true)
			if err != nil {
				return nil, nil, err
			}
			typ, ok, err := m.Str("type")
			if err != nil {
				return nil, nil, err
			} else if !ok || typ == "" {
				return nil, nil, badReply("%s.type is required", m.Where)
			}
			var msg *botrelay.Message
			switch typ {
			case MessageText:
				msg, err = parseText(m)
			case MessageStructured:
				msg, err = parseStructured(m)
			default:
				reply.Skipped = append(reply.Skipped, "message type "+strconv.Quote(typ))
				unknown = append(unknown, typ)
				continue
			}
			if err != nil {
				return nil, nil, err
			}
			if msg != nil {
				reply.Items = append(reply.Items, botrelay.Item{Message: msg})
			}
		}
	}
	if done {
		a := &botrelay.Action{Kind: botrelay.ActionClose}
		if top.Has("result") {
			a.Payload = bytes.TrimSpace(top.M["result"])
		}
		reply.Action = a
	}
	return reply, unknown, nil
}

// parseText reads {"type":"text","text":"…","quickReplies":["Yes","No"]};
// nil for a blank text.
func parseText(m jsonobj.Obj) (*botrelay.Message, error) {
	text, ok, err := m.Str("text")
	if err != nil {
		return nil, err
	} else if !ok {
		return nil, badReply("%s.text is required", m.Where)
	}
	var qrs []string
	if m.Has("quickReplies") {
		if json.Unmarshal(m.M["quickReplies"], &qrs) != nil {
			return nil, badReply("%s.quickReplies must be an array of strings", m.Where)
		}
		for i, q := range qrs {
			if strings.TrimSpace(q) == "" {
				return nil, badReply("%s.quickReplies[%d] is blank", m.Where, i)
			}
		}
	}
	if strings.TrimSpace(text) == "" {
		if len(qrs) > 0 {
			return nil, badReply("%s.text is required with quickReplies", m.Where)
		}
		return nil, nil
	}
	msg := &botrelay.Message{Text: text}
	if len(qrs) > 0 {
		msg.QuickReplies = quickReplies(qrs)
	}
	return msg, nil
}

// quickReplies builds LivePerson quick replies: one button per answer
// whose click publishes the answer and carries it as the ExternalId.
func quickReplies(answers []string) json.RawMessage {
	replies := make([]any, 0, len(answers))
	for _, a := range answers {
		replies = append(replies, map[string]any{"type": "button", "tooltip": a, "title": a,
			"click": map[string]any{
				"actions":  []any{map[string]any{"type": "publishText", "text": a}},
				"metadata": []any{map[string]any{"type": "ExternalId", "id": a}},
			}})
	}
	return mustJSON(map[string]any{"type": "quickReplies", "itemsPerRow": 8, "replies": replies})
}

// parseStructured reads {"type":"structured","content":{…}}: LivePerson
// structured content, forwarded as is.
func parseStructured(m jsonobj.Obj) (*botrelay.Message, error) {
	sc, err := m.RawObject("content")
	if err != nil {
		return nil, err
	} else if sc == nil {
		return nil, badReply("%s.content is required", m.Where)
	}
	return &botrelay.Message{StructuredContent: bytes.TrimSpace(sc)}, nil
}

func mustJSON(v any) json.RawMessage {
	out, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("medallia: marshal: %v", err))
	}
	return out
}
