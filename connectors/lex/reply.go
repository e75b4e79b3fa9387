package lex

import (
	"bytes"
	"encoding/json"
	"github.com/botrelay/botrelay/connectors/internal/jsonobj"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/kit"
)

// Lex message formats / content types.
const (
	FormatPlainText     = "PlainText"
	FormatCustomPayload = "CustomPayload"
	FormatSSML          = "SSML"
	FormatComposite     = "Composite"
	FormatImageCard     = "ImageResponseCard"
)

// Custom payload action names (§3.6).
const (
	ActionTransfer   = "TRANSFER"
	ActionClose      = "CLOSE_CONVERSATION"
	ActionChangeTTR  = "CHANGE_TTR"
	ActionInvocation = "INVOCATION"
)

// builder accumulates a Reply from Lex messages.
type builder struct {
	reply    botrelay.Reply
	convType botrelay.ConversationType
}

func (b *builder) add(m *botrelay.Message) {
	b.reply.Items = append(b.reply.Items, botrelay.Item{Message: m})
}

// message maps one Lex message of the given format; where names it in
// errors (e.g. "message", "messages[2]").
func (b *builder) message(where, format, content string) error {
	switch format {
	case FormatPlainText, "":
		if strings.TrimSpace(content) != "" {
			b.add(&botrelay.Message{Text: content})
		}
		return nil
	case FormatCustomPayload:
		return b.customPayload(where, content)
	}
	return vendorErr(botrelay.ErrVendorBadReply, CodeFormatNotSupported, "%s has format %q; botrelay takes PlainText and CustomPayload messages", where, format)
}

// composite splits a V1 Composite message into its groups, in group order
// (stable for equal groups).
func (b *builder) composite(value string) error {
	var c struct {
		Messages []struct {
			Type  string          `json:"type"`
			Group json.RawMessage `json:"group"`
			Value string          `json:"value"`
		} `json:"messages"`
	}
	if err := json.Unmarshal([]byte(value), &c); err != nil || c.Messages == nil {
		return vendorErr(botrelay.ErrVendorBadReply, CodeCompositeNotSupported, "the Composite message is not {\"messages\":[…]}%s", kit.Quote(value))
	}
	type grp struct {
		n    float64
		i    int
		typ  string
		text string
	}
	gs := make([]grp, len(c.Messages))
	for i, m := range c.Messages {
		var n float64
		if len(m.Group) > 0 {
			if err := json.Unmarshal(m.Group, &n); err != nil {
				return vendorErr(botrelay.ErrVendorBadReply, CodeCompositeNotSupported, "Composite messages[%d].group must be a number", i)
			}
		}
		gs[i] = grp{n, i, m.Type, m.Value}
	}
	// insertion sort: stable and the lists are tiny (at most 5 groups)
	for i := 1; i < len(gs); i++ {
		for j := i; j > 0 && gs[j].n < gs[j-1].n; j-- {
			gs[j], gs[j-1] = gs[j-1], gs[j]
		}
	}
	for _, g := range gs {
		if err := b.message("Composite messages["+strconv.Itoa(g.i)+"]", g.typ, g.text); err != nil {
			return err
		}
	}
	return nil
}

func malformed(format string, args ...any) error {
	return vendorErr(botrelay.ErrVendorBadReply, CodePayloadMalformed, format, args...)
}

// pobj is a decoded custom payload object.
// pobj is a custom payload object read member by member; its errors are
// custom-payload-malformed.
type pobj = jsonobj.Obj

// customPayload maps a CustomPayload message (§3.6, F18–F22, F26–F30).
func (b *builder) customPayload(where, content string) error {
	o, err := jsonobj.Decode(malformed, where, json.RawMessage(content), true)
	if err != nil {
		return malformed("%s: the custom payload is not a JSON object%s", where, kit.Quote(content))
	}
	switch {
	case o.Has("type"):
		typ, _, err := o.Str("type")
		if err != nil {
			return vendorErr(botrelay.ErrVendorBadReply, CodePayloadTypeUnsupported, "%s.type must be a string", where)
		}
		if typ != "ACTION" {
			return vendorErr(botrelay.ErrVendorBadReply, CodePayloadTypeUnsupported, "%s.type %q is not supported; the only custom payload type is ACTION", where, typ)
		}
		return b.action(o)
	case o.Has("structuredContent"):
		return b.structured(o)
	case o.Has("delay"):
		return b.delay(o)
	case o.Has("messageAudience"):
		return b.private(o)
	case o.Has("textResponse"):
		return b.textResponse(o)
	}
	return vendorErr(botrelay.ErrVendorBadReply, CodePayloadTypeUnsupported, "%s: the custom payload has none of structuredContent, delay, messageAudience, textResponse or type:\"ACTION\"%s", where, kit.Quote(content))
}

// structured maps {structuredContent, metadata?, encodedMetadata?}; a
// structuredContent with quickReplies is a text (its message) with quick
// replies (F19).
func (b *builder) structured(o pobj) error {
	sc, _, err := o.Object("structuredContent")
	if err != nil {
		return err
	}
	enc, _, err := o.Str("encodedMetadata")
	if err != nil {
		return err
	}
	md, err := o.Metadata()
	if err != nil {
		return err
	}
	m := &botrelay.Message{EncodedMetadata: enc, Metadata: md}
	if sc.Has("quickReplies") {
		if _, _, err := sc.Object("quickReplies"); err != nil {
			return err
		}
		text, _, err := sc.Str("message")
		if err != nil {
			return err
		}
		if strings.TrimSpace(text) == "" {
			return malformed("%s.message is required with quickReplies", sc.Where)
		}
		m.Text, m.QuickReplies = text, sc.M["quickReplies"]
		b.add(m)
		return nil
	}
	m.StructuredContent = o.M["structuredContent"]
	b.add(m)
	return nil
}

// delay maps {delay: seconds, typing?}.
func (b *builder) delay(o pobj) error {
	var n json.Number
	raw := bytes.TrimSpace(o.M["delay"])
	if raw[0] == '"' || json.Unmarshal(raw, &n) != nil {
		return malformed("%s.delay must be a number of seconds", o.Where)
	}
	f, err := n.Float64()
	if err != nil || f < 0 || f > 24*3600 || math.IsNaN(f) {
		return malformed("%s.delay must be between 0 and 86400 seconds, got %s", o.Where, n)
	}
	typing, err := o.Bool("typing", true)
	if err != nil {
		return err
	}
	b.reply.Items = append(b.reply.Items, botrelay.Item{Delay: &botrelay.Delay{Duration: time.Duration(f * float64(time.Second)), Typing: typing}})
	return nil
}

// private maps {messageAudience:"AGENTS_AND_MANAGERS", text} (F21).
func (b *builder) private(o pobj) error {
	aud, _, err := o.Str("messageAudience")
	if err != nil {
		return err
	}
	if aud != botrelay.AudienceAgentsAndManagers {
		return malformed("%s.messageAudience %q must be \"AGENTS_AND_MANAGERS\"", o.Where, aud)
	}
	text, _, err := o.Str("text")
	if err != nil {
		return err
	}
	if strings.TrimSpace(text) == "" {
		return malformed("%s.text is required for a private message", o.Where)
	}
	b.add(&botrelay.Message{Text: text, Audience: botrelay.AudienceAgentsAndManagers})
	return nil
}

// textResponse maps {textResponse, encodedMetadata?} (F22).
func (b *builder) textResponse(o pobj) error {
	text, _, err := o.Str("textResponse")
	if err != nil {
		return err
	}
	enc, _, err := o.Str("encodedMetadata")
	if err != nil {
		return err
	}
	md, err := o.Metadata()
	if err != nil {
		return err
	}
	if strings.TrimSpace(text) == "" {
		return nil // F17: blank texts are dropped
	}
	b.add(&botrelay.Message{Text: text, EncodedMetadata: enc, Metadata: md})
	return nil
}

// action maps {type:"ACTION", params:{action, data}}. Unknown names and
// actions after the first go to Skipped.
func (b *builder) action(o pobj) error {
	params, ok, err := o.Object("params")
	if err != nil {
		return vendorErr(botrelay.ErrVendorBadReply, CodePayloadNoParams, "%s.params must be an object", o.Where)
	}
	if !ok {
		return vendorErr(botrelay.ErrVendorBadReply, CodePayloadNoParams, "%s: an ACTION payload needs params {action, data}", o.Where)
	}
	name, _, err := params.Str("action")
	if err != nil {
		return err
	}
	if name == "" {
		return vendorErr(botrelay.ErrVendorBadReply, CodePayloadNoParams, "%s.action is required", params.Where)
	}
	switch name {
	case ActionTransfer, ActionClose, ActionChangeTTR, ActionInvocation:
	default:
		b.reply.Skipped = append(b.reply.Skipped, name)
		return nil
	}
	if b.reply.Action != nil {
		b.reply.Skipped = append(b.reply.Skipped, name)
		return nil
	}
	data, _, err := params.Object("data")
	if err != nil {
		return err
	}
	a, err := parseAction(name, data)
	if err != nil {
		return err
	}
	b.reply.Action = a
	return nil
}

func parseAction(name string, d pobj) (*botrelay.Action, error) {
	switch name {
	case ActionTransfer:
		skill, _, err := d.Str("skill")
		if err != nil {
			return nil, err
		}
		agent, err := d.ID("agentId")
		if err != nil {
			return nil, err
		}
		skill = strings.TrimSpace(skill)
		if skill == "" {
			return nil, malformed("%s.skill is required for TRANSFER", d.Where)
		}
		return &botrelay.Action{Kind: botrelay.ActionTransfer, Skill: skill, AgentID: agent}, nil
	case ActionClose:
		w, err := d.Bool("withoutPcs", false)
		if err != nil {
			return nil, err
		}
		return &botrelay.Action{Kind: botrelay.ActionClose, WithoutPCS: w}, nil
	case ActionChangeTTR:
		return d.ChangeTTR()
	case ActionInvocation:
		return d.InvokeFunction("is required for INVOCATION")
	}
	return nil, malformed("unknown action %q", name)
}

// card is a response card (V1 generic attachment or V2 image response
// card).
type card struct {
	Title    string `json:"title"`
	Subtitle string `json:"subtitle"`
	SubTitle string `json:"subTitle"` // V1 spelling
	ImageURL string `json:"imageUrl"`
	LinkURL  string `json:"attachmentLinkUrl"`
	Buttons  []struct {
		Text  string `json:"text"`
		Value string `json:"value"`
	} `json:"buttons"`
}

func (c card) subtitle() string {
	if c.Subtitle != "" {
		return c.Subtitle
	}
	return c.SubTitle
}

// cards maps response cards: in messaging, one card with a title and
// buttons only is the title with quick replies; otherwise structured
// content (one vertical card, or a carousel of several).
func (b *builder) cards(cs []card) {
	var keep []card
	for _, c := range cs {
		if c.Title != "" || c.subtitle() != "" || c.ImageURL != "" || len(c.Buttons) > 0 {
			keep = append(keep, c)
		}
	}
	if len(keep) == 0 {
		return
	}
	if c := keep[0]; len(keep) == 1 && b.convType != botrelay.Chat && c.Title != "" && len(c.Buttons) > 0 &&
		c.subtitle() == "" && c.ImageURL == "" && c.LinkURL == "" {
		var replies []any
		for _, bt := range c.Buttons {
			value := bt.Value
			if value == "" {
				value = bt.Text
			}
			replies = append(replies, map[string]any{
				"type": "button", "tooltip": bt.Text, "title": bt.Text,
				"click": map[string]any{
					"actions":  []any{map[string]any{"type": "publishText", "text": value}},
					"metadata": []any{map[string]any{"type": "ExternalId", "id": value}},
				},
			})
		}
		qr, _ := json.Marshal(map[string]any{"type": "quickReplies", "itemsPerRow": 8, "replies": replies})
		b.add(&botrelay.Message{Text: c.Title, QuickReplies: qr})
		return
	}
	var sc any
	if len(keep) == 1 {
		sc = cardContent(keep[0])
	} else {
		var els []any
		for _, c := range keep {
			els = append(els, cardContent(c))
		}
		sc = map[string]any{"type": "carousel", "padding": 10, "elements": els}
	}
	raw, _ := json.Marshal(sc)
	b.add(&botrelay.Message{StructuredContent: raw})
}

func cardContent(c card) map[string]any {
	var els []any
	if c.ImageURL != "" {
		img := map[string]any{"type": "image", "url": c.ImageURL, "tooltip": c.Title}
		if c.LinkURL != "" {
			img["click"] = map[string]any{"actions": []any{map[string]any{"type": "link", "name": c.Title, "uri": c.LinkURL}}}
		}
		els = append(els, img)
	}
	if c.Title != "" {
		els = append(els, map[string]any{"type": "text", "text": c.Title, "style": map[string]any{"bold": true}})
	}
	if s := c.subtitle(); s != "" {
		els = append(els, map[string]any{"type": "text", "text": s})
	}
	for _, bt := range c.Buttons {
		value := bt.Value
		if value == "" {
			value = bt.Text
		}
		els = append(els, map[string]any{"type": "button", "title": bt.Text, "tooltip": bt.Text,
			"click": map[string]any{"actions": []any{map[string]any{"type": "publishText", "text": value}}}})
	}
	return map[string]any{"type": "vertical", "elements": els}
}
