package chatclient

import (
	"encoding/json"
	"strings"
)

// contentEvent is the part of a messaging event the client prints.
type contentEvent struct {
	Type         string          `json:"type"`
	ContentType  string          `json:"contentType"`
	Message      json.RawMessage `json:"message"`
	QuickReplies *quickReplies   `json:"quickReplies"`
	Content      json.RawMessage `json:"content"`
}

// quickReplies is LivePerson's quick replies object.
type quickReplies struct {
	Replies []struct {
		Title string `json:"title"`
	} `json:"replies"`
}

// hostedFile is the message of a hosted/file ContentEvent.
type hostedFile struct {
	RelativePath string `json:"relativePath"`
	FileType     string `json:"fileType"`
	Caption      string `json:"caption"`
}

// formatEvent returns who sent ev ("bot" or "agent") and its text as one
// line. ok is false for events that are not printed: the consumer's own
// messages, chat states, receipts and anything unknown.
func formatEvent(ev messagingEvent, consumerID string) (who, text string, ok bool) {
	m := ev.OriginatorMetadata
	if m.Role == "CONSUMER" || (m.Role == "" && ev.OriginatorID == consumerID) {
		return "", "", false
	}
	var e contentEvent
	if err := json.Unmarshal(ev.Event, &e); err != nil {
		return "", "", false
	}
	switch {
	case e.Type == "RichContentEvent":
		var sc any
		if err := json.Unmarshal(e.Content, &sc); err != nil {
			return "", "", false
		}
		text = structuredText(sc)
	case e.Type == "ContentEvent" && e.ContentType == "hosted/file":
		var f hostedFile
		_ = json.Unmarshal(e.Message, &f)
		name := f.Caption
		if name == "" {
			name = f.RelativePath
		}
		text = "[file: " + oneLine(name) + "]"
	case e.Type == "ContentEvent":
		var s string
		if err := json.Unmarshal(e.Message, &s); err != nil {
			return "", "", false
		}
		text = oneLine(s)
		if e.QuickReplies != nil && len(e.QuickReplies.Replies) > 0 {
			titles := make([]string, 0, len(e.QuickReplies.Replies))
			for _, r := range e.QuickReplies.Replies {
				titles = append(titles, oneLine(r.Title))
			}
			text += " [quick replies: " + strings.Join(titles, " | ") + "]"
		}
	default:
		return "", "", false
	}
	who = "agent"
	if strings.EqualFold(m.UserType, "BOT") {
		who = "bot"
	}
	return who, text, true
}

// oneLine folds line breaks and surrounding space so a message prints as one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// structuredText flattens LivePerson structured content into one line (see
// the package documentation for the format).
func structuredText(v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	str := func(k string) string { s, _ := m[k].(string); return oneLine(s) }
	children := func(sep string) string {
		els, _ := m["elements"].([]any)
		parts := make([]string, 0, len(els))
		for _, e := range els {
			if t := structuredText(e); t != "" {
				parts = append(parts, t)
			}
		}
		return strings.Join(parts, sep)
	}
	switch t := str("type"); t {
	case "vertical":
		return children(" / ")
	case "horizontal":
		return children(" | ")
	case "carousel":
		return children(" || ")
	case "text":
		return str("text")
	case "image":
		caption, u := str("caption"), str("url")
		switch {
		case caption != "" && u != "":
			return "[image: " + caption + " <" + u + ">]"
		case caption != "":
			return "[image: " + caption + "]"
		default:
			return "[image: " + u + "]"
		}
	case "button":
		if uri := linkAction(m); uri != "" {
			return "[button: " + str("title") + " <" + uri + ">]"
		}
		return "[button: " + str("title") + "]"
	case "link":
		title, uri := str("title"), str("uri")
		if uri == "" {
			uri = str("url")
		}
		if title == "" {
			return "[link: <" + uri + ">]"
		}
		return "[link: " + title + " <" + uri + ">]"
	case "map":
		return "[map: " + oneLine(jsonText(m["la"])) + "," + oneLine(jsonText(m["lo"])) + "]"
	case "":
		return ""
	default:
		return "[" + t + "]"
	}
}

// linkAction returns the uri of the first link action of a clickable element.
func linkAction(m map[string]any) string {
	click, _ := m["click"].(map[string]any)
	actions, _ := click["actions"].([]any)
	for _, a := range actions {
		am, _ := a.(map[string]any)
		if am["type"] == "link" {
			s, _ := am["uri"].(string)
			return s
		}
	}
	return ""
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return strings.Trim(string(b), `"`)
}
