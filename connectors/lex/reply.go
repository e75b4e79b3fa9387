package lex

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/botrelay/botrelay"
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
		return vendorErr(botrelay.ErrVendorBadReply, CodeCompositeNotSupported, "the Composite message is not {\"messages\":[…]}: %s", strconv.Quote(clip(value)))
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
type pobj struct {
	where string
	m     map[string]json.RawMessage
}

func absent(raw json.RawMessage) bool {
	s := bytes.TrimSpace(raw)
	return len(s) == 0 || bytes.Equal(s, []byte("null"))
}

func (o pobj) has(k string) bool { return !absent(o.m[k]) }

func (o pobj) str(k string) (string, bool, error) {
	raw := o.m[k]
	if absent(raw) {
		return "", false, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false, malformed("%s.%s must be a string", o.where, k)
	}
	return s, true, nil
}

func (o pobj) boolean(k string, def bool) (bool, error) {
	raw := o.m[k]
	if absent(raw) {
		return def, nil
	}
	var v bool
	if err := json.Unmarshal(raw, &v); err != nil {
		return false, malformed("%s.%s must be true or false", o.where, k)
	}
	return v, nil
}

func (o pobj) object(k string) (pobj, bool, error) {
	p := pobj{where: o.where + "." + k, m: map[string]json.RawMessage{}}
	raw := o.m[k]
	if absent(raw) {
		return p, false, nil
	}
	if err := json.Unmarshal(raw, &p.m); err != nil || p.m == nil {
		return p, false, malformed("%s must be a JSON object", p.where)
	}
	return p, true, nil
}

// metadata reads metadata: an array of objects, or one object (F23).
func (o pobj) metadata() (json.RawMessage, error) {
	raw := o.m["metadata"]
	if absent(raw) {
		return nil, nil
	}
	t := bytes.TrimSpace(raw)
	switch t[0] {
	case '[':
		var items []map[string]json.RawMessage
		if err := json.Unmarshal(t, &items); err != nil {
			return nil, malformed("%s.metadata must be an array of objects", o.where)
		}
		if len(items) == 0 {
			return nil, nil
		}
		return t, nil
	case '{':
		return json.RawMessage("[" + string(t) + "]"), nil
	}
	return nil, malformed("%s.metadata must be an object or an array of objects", o.where)
}

// customPayload maps a CustomPayload message (§3.6, F18–F22, F26–F30).
func (b *builder) customPayload(where, content string) error {
	o := pobj{where: where, m: map[string]json.RawMessage{}}
	if err := json.Unmarshal([]byte(content), &o.m); err != nil || o.m == nil {
		return malformed("%s: the custom payload is not a JSON object: %s", where, strconv.Quote(clip(content)))
	}
	switch {
	case o.has("type"):
		typ, _, err := o.str("type")
		if err != nil {
			return vendorErr(botrelay.ErrVendorBadReply, CodePayloadTypeUnsupported, "%s.type must be a string", where)
		}
		if typ != "ACTION" {
			return vendorErr(botrelay.ErrVendorBadReply, CodePayloadTypeUnsupported, "%s.type %q is not supported; the only custom payload type is ACTION", where, typ)
		}
		return b.action(o)
	case o.has("structuredContent"):
		return b.structured(o)
	case o.has("delay"):
		return b.delay(o)
	case o.has("messageAudience"):
		return b.private(o)
	case o.has("textResponse"):
		return b.textResponse(o)
	}
	return vendorErr(botrelay.ErrVendorBadReply, CodePayloadTypeUnsupported, "%s: the custom payload has none of structuredContent, delay, messageAudience, textResponse or type:\"ACTION\": %s", where, strconv.Quote(clip(content)))
}

// structured maps {structuredContent, metadata?, encodedMetadata?}; a
// structuredContent with quickReplies is a text (its message) with quick
// replies (F19).
func (b *builder) structured(o pobj) error {
	sc, _, err := o.object("structuredContent")
	if err != nil {
		return err
	}
	enc, _, err := o.str("encodedMetadata")
	if err != nil {
		return err
	}
	md, err := o.metadata()
	if err != nil {
		return err
	}
	m := &botrelay.Message{EncodedMetadata: enc, Metadata: md}
	if sc.has("quickReplies") {
		if _, _, err := sc.object("quickReplies"); err != nil {
			return err
		}
		text, _, err := sc.str("message")
		if err != nil {
			return err
		}
		if strings.TrimSpace(text) == "" {
			return malformed("%s.message is required with quickReplies", sc.where)
		}
		m.Text, m.QuickReplies = text, sc.m["quickReplies"]
		b.add(m)
		return nil
	}
	m.StructuredContent = o.m["structuredContent"]
	b.add(m)
	return nil
}

// delay maps {delay: seconds, typing?}.
func (b *builder) delay(o pobj) error {
	var n json.Number
	raw := bytes.TrimSpace(o.m["delay"])
	if raw[0] == '"' || json.Unmarshal(raw, &n) != nil {
		return malformed("%s.delay must be a number of seconds", o.where)
	}
	f, err := n.Float64()
	if err != nil || f < 0 || f > 24*3600 || math.IsNaN(f) {
		return malformed("%s.delay must be between 0 and 86400 seconds, got %s", o.where, n)
	}
	typing, err := o.boolean("typing", true)
	if err != nil {
		return err
	}
	b.reply.Items = append(b.reply.Items, botrelay.Item{Delay: &botrelay.Delay{Duration: time.Duration(f * float64(time.Second)), Typing: typing}})
	return nil
}

// private maps {messageAudience:"AGENTS_AND_MANAGERS", text} (F21).
func (b *builder) private(o pobj) error {
	aud, _, err := o.str("messageAudience")
	if err != nil {
		return err
	}
	if aud != botrelay.AudienceAgentsAndManagers {
		return malformed("%s.messageAudience %q must be \"AGENTS_AND_MANAGERS\"", o.where, aud)
	}
	text, _, err := o.str("text")
	if err != nil {
		return err
	}
	if strings.TrimSpace(text) == "" {
		return malformed("%s.text is required for a private message", o.where)
	}
	b.add(&botrelay.Message{Text: text, Audience: botrelay.AudienceAgentsAndManagers})
	return nil
}

// textResponse maps {textResponse, encodedMetadata?} (F22).
func (b *builder) textResponse(o pobj) error {
	text, _, err := o.str("textResponse")
	if err != nil {
		return err
	}
	enc, _, err := o.str("encodedMetadata")
	if err != nil {
		return err
	}
	md, err := o.metadata()
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
	params, ok, err := o.object("params")
	if err != nil {
		return vendorErr(botrelay.ErrVendorBadReply, CodePayloadNoParams, "%s.params must be an object", o.where)
	}
	if !ok {
		return vendorErr(botrelay.ErrVendorBadReply, CodePayloadNoParams, "%s: an ACTION payload needs params {action, data}", o.where)
	}
	name, _, err := params.str("action")
	if err != nil {
		return err
	}
	if name == "" {
		return vendorErr(botrelay.ErrVendorBadReply, CodePayloadNoParams, "%s.action is required", params.where)
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
	data, _, err := params.object("data")
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
		skill, _, err := d.str("skill")
		if err != nil {
			return nil, err
		}
		agent, err := idString(d, "agentId")
		if err != nil {
			return nil, err
		}
		skill = strings.TrimSpace(skill)
		if skill == "" {
			return nil, malformed("%s.skill is required for TRANSFER", d.where)
		}
		return &botrelay.Action{Kind: botrelay.ActionTransfer, Skill: skill, AgentID: agent}, nil
	case ActionClose:
		w, err := d.boolean("withoutPcs", false)
		if err != nil {
			return nil, err
		}
		return &botrelay.Action{Kind: botrelay.ActionClose, WithoutPCS: w}, nil
	case ActionChangeTTR:
		ttr, _, err := d.str("ttrType")
		if err != nil {
			return nil, err
		}
		a := &botrelay.Action{Kind: botrelay.ActionChangeTTR, TTR: ttr}
		switch ttr {
		case "URGENT", "NORMAL", "PRIORITIZED":
		case "CUSTOM":
			secs, err := ttrValue(d)
			if err != nil {
				return nil, err
			}
			a.TTRSeconds = secs
		default:
			return nil, malformed("%s.ttrType %q is not URGENT, NORMAL, PRIORITIZED or CUSTOM", d.where, ttr)
		}
		return a, nil
	case ActionInvocation:
		id, _, err := d.str("lambdaUuid")
		if err != nil {
			return nil, err
		}
		if strings.TrimSpace(id) == "" {
			return nil, malformed("%s.lambdaUuid is required for INVOCATION", d.where)
		}
		fail, err := d.boolean("failOnError", false)
		if err != nil {
			return nil, err
		}
		var payload json.RawMessage
		if d.has("payload") {
			payload = d.m["payload"]
		}
		return &botrelay.Action{Kind: botrelay.ActionInvokeFunction, FunctionID: id, Payload: payload, FailOnError: fail}, nil
	}
	return nil, malformed("unknown action %q", name)
}

func idString(o pobj, k string) (string, error) {
	raw := o.m[k]
	if absent(raw) {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.TrimSpace(s), nil
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String(), nil
	}
	return "", malformed("%s.%s must be a string or a number", o.where, k)
}

func ttrValue(o pobj) (int, error) {
	raw := o.m["value"]
	if absent(raw) {
		return 0, malformed("%s.value (seconds) is required with ttrType CUSTOM", o.where)
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		var n json.Number
		if json.Unmarshal(raw, &n) != nil {
			return 0, malformed("%s.value must be a number of seconds", o.where)
		}
		s = n.String()
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f < 0 || f != math.Trunc(f) || f > math.MaxInt32 {
		return 0, malformed("%s.value %q must be a whole number of seconds", o.where, s)
	}
	return int(f), nil
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
