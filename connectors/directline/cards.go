package directline

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/botrelay/botrelay"
)

// Attachment content types the connector maps to structured content.
const (
	HeroCard      = "application/vnd.microsoft.card.hero"
	ThumbnailCard = "application/vnd.microsoft.card.thumbnail"
	AdaptiveCard  = "application/vnd.microsoft.card.adaptive"
)

// LivePerson structured-content shapes (F18, F19).
type scElement struct {
	Type     string      `json:"type"`
	Text     string      `json:"text,omitempty"`
	Title    string      `json:"title,omitempty"`
	Tooltip  string      `json:"tooltip,omitempty"`
	URL      string      `json:"url,omitempty"`
	Style    *scStyle    `json:"style,omitempty"`
	Click    *scClick    `json:"click,omitempty"`
	Padding  *int        `json:"padding,omitempty"`
	Elements []scElement `json:"elements,omitempty"`
}

type scStyle struct {
	Bold bool   `json:"bold,omitempty"`
	Size string `json:"size,omitempty"`
}

type scClick struct {
	Actions  []scAction   `json:"actions"`
	Metadata []scMetadata `json:"metadata,omitempty"`
}

type scAction struct {
	Type string `json:"type"`
	Text string `json:"text,omitempty"`
	URI  string `json:"uri,omitempty"`
	Name string `json:"name,omitempty"`
}

type scMetadata struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

type scQuickReplies struct {
	Type        string      `json:"type"`
	ItemsPerRow int         `json:"itemsPerRow"`
	Replies     []scElement `json:"replies"`
}

// valueText is a card action's value as text: strings as they are, other
// JSON as JSON.
func valueText(raw json.RawMessage) string {
	if !present(raw) {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// click maps a Bot Framework card action: imBack, postBack and messageBack
// publish their value (or title) as the consumer's text; openUrl is a link.
// Other types (call, playAudio, signin...) have no mapping: ok is false.
func click(a cardAction) (c *scClick, ok bool) {
	v := valueText(a.Value)
	switch a.Type {
	case "imBack", "postBack", "messageBack":
		text := v
		if text == "" || strings.HasPrefix(strings.TrimSpace(text), "{") {
			text = a.Title
		}
		if text == "" {
			return nil, false
		}
		return &scClick{Actions: []scAction{{Type: "publishText", Text: text}}, Metadata: []scMetadata{{Type: "ExternalId", ID: text}}}, true
	case "openUrl":
		if v == "" {
			return nil, false
		}
		return &scClick{Actions: []scAction{{Type: "link", URI: v, Name: a.Title}}}, true
	}
	return nil, false
}

// quickReplies maps suggestedActions to a quickReplies object (F19).
func quickReplies(where string, actions []cardAction) (json.RawMessage, error) {
	qr := scQuickReplies{Type: "quickReplies", ItemsPerRow: 8}
	for i, a := range actions {
		c, ok := click(a)
		if !ok {
			return nil, vendorErr(botrelay.ErrVendorBadReply, CodeInvalidType, "%s: suggested action %d of type %q has no quick-reply form", where, i, a.Type)
		}
		title := a.Title
		if title == "" {
			title = valueText(a.Value)
		}
		qr.Replies = append(qr.Replies, scElement{Type: "button", Title: title, Tooltip: title, Click: c})
	}
	return json.Marshal(qr)
}

// attachments maps the activity's attachments to structured content: each
// card a vertical template, several in a carousel layout one carousel.
func attachments(where, layout string, atts []attachment) ([]*botrelay.Message, error) {
	var cards []scElement
	for i, at := range atts {
		w := fmt.Sprintf("%s: attachment %d (%s)", where, i, at.ContentType)
		var el scElement
		var err error
		switch {
		case at.ContentType == HeroCard || at.ContentType == ThumbnailCard:
			el, err = heroCard(w, at.Content)
		case at.ContentType == AdaptiveCard:
			el, err = adaptiveCard(w, at.Content)
		case strings.HasPrefix(at.ContentType, "image/") && at.ContentURL != "":
			el = scElement{Type: "vertical", Elements: []scElement{{Type: "image", URL: at.ContentURL, Tooltip: at.Name}}}
		default:
			return nil, vendorErr(botrelay.ErrVendorBadReply, CodeInvalidType, "%s: attachments of this type are not supported", w)
		}
		if err != nil {
			return nil, err
		}
		cards = append(cards, el)
	}
	var out []*botrelay.Message
	if layout == "carousel" && len(cards) > 1 {
		pad := 10
		raw, err := json.Marshal(scElement{Type: "carousel", Padding: &pad, Elements: cards})
		if err != nil {
			return nil, parserErr("%s: %v", where, err)
		}
		return []*botrelay.Message{{StructuredContent: raw}}, nil
	}
	for _, c := range cards {
		raw, err := json.Marshal(c)
		if err != nil {
			return nil, parserErr("%s: %v", where, err)
		}
		out = append(out, &botrelay.Message{StructuredContent: raw})
	}
	return out, nil
}

// heroCard maps a hero or thumbnail card: images, then title (bold),
// subtitle and text, then one button per mappable action.
func heroCard(where string, raw json.RawMessage) (scElement, error) {
	var c struct {
		Title    string `json:"title"`
		Subtitle string `json:"subtitle"`
		Text     string `json:"text"`
		Images   []struct {
			URL string `json:"url"`
			Alt string `json:"alt"`
		} `json:"images"`
		Buttons []cardAction `json:"buttons"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return scElement{}, parserErr("%s: the card is malformed: %v", where, err)
	}
	el := scElement{Type: "vertical"}
	for _, im := range c.Images {
		if im.URL != "" {
			el.Elements = append(el.Elements, scElement{Type: "image", URL: im.URL, Tooltip: im.Alt})
		}
	}
	if c.Title != "" {
		el.Elements = append(el.Elements, scElement{Type: "text", Text: c.Title, Style: &scStyle{Bold: true, Size: "large"}})
	}
	for _, t := range []string{c.Subtitle, c.Text} {
		if t != "" {
			el.Elements = append(el.Elements, scElement{Type: "text", Text: t})
		}
	}
	for i, b := range c.Buttons {
		cl, ok := click(b)
		if !ok {
			return scElement{}, vendorErr(botrelay.ErrVendorBadReply, CodeInvalidType, "%s: button %d of type %q has no structured-content form", where, i, b.Type)
		}
		el.Elements = append(el.Elements, scElement{Type: "button", Title: b.Title, Tooltip: b.Title, Click: cl})
	}
	if len(el.Elements) == 0 {
		return scElement{}, parserErr("%s: the card has nothing to show", where)
	}
	return el, nil
}

// adaptive is the part of an Adaptive Card that maps: TextBlock, Image,
// Container, ColumnSet, FactSet, and Action.OpenUrl / Action.Submit.
type adaptive struct {
	Type    string          `json:"type"`
	Text    string          `json:"text"`
	Weight  string          `json:"weight"`
	URL     string          `json:"url"`
	AltText string          `json:"altText"`
	Title   string          `json:"title"`
	Data    json.RawMessage `json:"data"`
	Items   []adaptive      `json:"items"`
	Columns []adaptive      `json:"columns"`
	Facts   []struct {
		Title string `json:"title"`
		Value string `json:"value"`
	} `json:"facts"`
	Body    []adaptive `json:"body"`
	Actions []adaptive `json:"actions"`
}

// adaptiveCard maps an Adaptive Card whose elements all have a
// structured-content form; anything else is invalid-type.
func adaptiveCard(where string, raw json.RawMessage) (scElement, error) {
	var c adaptive
	if err := json.Unmarshal(raw, &c); err != nil {
		return scElement{}, parserErr("%s: the card is malformed: %v", where, err)
	}
	el := scElement{Type: "vertical"}
	var walk func(items []adaptive) error
	walk = func(items []adaptive) error {
		for _, it := range items {
			switch it.Type {
			case "TextBlock":
				if it.Text == "" {
					continue
				}
				e := scElement{Type: "text", Text: it.Text}
				if strings.EqualFold(it.Weight, "bolder") {
					e.Style = &scStyle{Bold: true}
				}
				el.Elements = append(el.Elements, e)
			case "Image":
				el.Elements = append(el.Elements, scElement{Type: "image", URL: it.URL, Tooltip: it.AltText})
			case "Container", "Column":
				if err := walk(it.Items); err != nil {
					return err
				}
			case "ColumnSet":
				if err := walk(it.Columns); err != nil {
					return err
				}
			case "FactSet":
				for _, f := range it.Facts {
					el.Elements = append(el.Elements, scElement{Type: "text", Text: f.Title + ": " + f.Value})
				}
			default:
				return vendorErr(botrelay.ErrVendorBadReply, CodeInvalidType, "%s: Adaptive Card element %q has no structured-content form", where, it.Type)
			}
		}
		return nil
	}
	if err := walk(c.Body); err != nil {
		return scElement{}, err
	}
	for _, a := range c.Actions {
		var ca cardAction
		switch a.Type {
		case "Action.OpenUrl":
			ca = cardAction{Type: "openUrl", Title: a.Title, Value: mustJSON(a.URL)}
		case "Action.Submit":
			ca = cardAction{Type: "imBack", Title: a.Title, Value: a.Data}
		default:
			return scElement{}, vendorErr(botrelay.ErrVendorBadReply, CodeInvalidType, "%s: Adaptive Card action %q has no structured-content form", where, a.Type)
		}
		cl, ok := click(ca)
		if !ok {
			return scElement{}, vendorErr(botrelay.ErrVendorBadReply, CodeInvalidType, "%s: Adaptive Card action %q has nothing to publish", where, a.Title)
		}
		el.Elements = append(el.Elements, scElement{Type: "button", Title: a.Title, Tooltip: a.Title, Click: cl})
	}
	if len(el.Elements) == 0 {
		return scElement{}, parserErr("%s: the card has nothing to show", where)
	}
	return el, nil
}

func mustJSON(v any) json.RawMessage {
	raw, _ := json.Marshal(v)
	return raw
}
