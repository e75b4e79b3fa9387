package rasa

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/kit"
)

// Action names in a custom payload's "action" (the names of the
// reference product's Dialogflow CX convention).
const (
	ActionTransfer   = "TRANSFER"
	ActionClose      = "CLOSE_CONVERSATION"
	ActionChangeTTR  = "CHANGE_TTR"
	ActionInvocation = "INVOCATION"
)

// maxDelay bounds a custom payload's delay.
const maxDelay = 24 * time.Hour

func badReply(format string, args ...any) error {
	return vendorErr(botrelay.ErrVendorBadReply, CodeInvalidBody, format, args...)
}

// jobj is a decoded JSON object with typed getters that name the field in
// their errors.
type jobj struct {
	where string
	m     map[string]json.RawMessage
}

func asObj(where string, raw json.RawMessage) (jobj, error) {
	o := jobj{where: where}
	if s := bytes.TrimSpace(raw); len(s) == 0 || s[0] != '{' || json.Unmarshal(s, &o.m) != nil {
		return o, badReply("%s must be a JSON object", where)
	}
	return o, nil
}

func absent(raw json.RawMessage) bool {
	s := bytes.TrimSpace(raw)
	return len(s) == 0 || bytes.Equal(s, []byte("null"))
}

func (o jobj) has(k string) bool { return !absent(o.m[k]) }

func (o jobj) str(k string) (string, error) {
	if !o.has(k) {
		return "", nil
	}
	var s string
	if json.Unmarshal(o.m[k], &s) != nil {
		return "", badReply("%s.%s must be a string", o.where, k)
	}
	return s, nil
}

func (o jobj) boolean(k string, def bool) (bool, error) {
	if !o.has(k) {
		return def, nil
	}
	var v bool
	if json.Unmarshal(o.m[k], &v) != nil {
		return false, badReply("%s.%s must be true or false", o.where, k)
	}
	return v, nil
}

// id reads an id given as a string or a number.
func (o jobj) id(k string) (string, error) {
	if !o.has(k) {
		return "", nil
	}
	var s string
	if json.Unmarshal(o.m[k], &s) == nil {
		return strings.TrimSpace(s), nil
	}
	var n json.Number
	if json.Unmarshal(o.m[k], &n) == nil {
		return n.String(), nil
	}
	return "", badReply("%s.%s must be a string or a number", o.where, k)
}

func (o jobj) object(k string) (json.RawMessage, error) {
	if !o.has(k) {
		return nil, nil
	}
	if s := bytes.TrimSpace(o.m[k]); s[0] != '{' {
		return nil, badReply("%s.%s must be a JSON object", o.where, k)
	}
	return o.m[k], nil
}

// metadata reads "metadata": an array of objects, or one object.
func (o jobj) metadata() (json.RawMessage, error) {
	if !o.has("metadata") {
		return nil, nil
	}
	s := bytes.TrimSpace(o.m["metadata"])
	if s[0] == '{' {
		return json.RawMessage("[" + string(s) + "]"), nil
	}
	var items []map[string]any
	if json.Unmarshal(s, &items) != nil {
		return nil, badReply("%s.metadata must be an object or an array of objects", o.where)
	}
	if len(items) == 0 {
		return nil, nil
	}
	return s, nil
}

type parser struct {
	reply    *botrelay.Reply
	convType botrelay.ConversationType
	skill    string
	skipped  []string
}

func (p *parser) add(m *botrelay.Message) {
	p.reply.Items = append(p.reply.Items, botrelay.Item{Message: m})
}

// parseReply turns the webhook's answer (a JSON array of bot messages) into
// a Reply. Each message's parts are taken in the order text (with its
// buttons), image, attachment, custom. The first action is kept, later
// ones go to Skipped. Custom payloads of no known shape are returned in
// skipped (compact JSON) and otherwise ignored: they may be meant for
// another channel of the same assistant.
func parseReply(body []byte, convType botrelay.ConversationType, skill string) (*botrelay.Reply, []string, error) {
	s := bytes.TrimSpace(body)
	var msgs []json.RawMessage
	if len(s) == 0 || s[0] != '[' || json.Unmarshal(s, &msgs) != nil {
		return nil, nil, badReply("the webhook's answer is not a JSON array of messages%s", kit.Snippet(body))
	}
	p := &parser{reply: &botrelay.Reply{}, convType: convType, skill: skill}
	for i, raw := range msgs {
		m, err := asObj("["+strconv.Itoa(i)+"]", raw)
		if err != nil {
			return nil, nil, err
		}
		if err := p.message(m); err != nil {
			return nil, nil, err
		}
	}
	return p.reply, p.skipped, nil
}

func (p *parser) message(m jobj) error {
	text, err := m.str("text")
	if err != nil {
		return err
	}
	if m.has("buttons") {
		if err := p.buttons(m, text); err != nil {
			return err
		}
	} else if strings.TrimSpace(text) != "" {
		p.add(&botrelay.Message{Text: text})
	}
	if m.has("image") {
		u, err := m.str("image")
		if err != nil {
			return err
		}
		if strings.TrimSpace(u) == "" {
			return badReply("%s.image must be an image URL", m.where)
		}
		p.add(&botrelay.Message{StructuredContent: mustJSON(map[string]any{"type": "vertical",
			"elements": []any{map[string]any{"type": "image", "url": u}}})})
	}
	if m.has("attachment") {
		if err := p.attachment(m); err != nil {
			return err
		}
	}
	if m.has("custom") {
		return p.custom(m)
	}
	return nil
}

type button struct {
	Title   string `json:"title"`
	Payload string `json:"payload"`
}

// buttons maps Rasa buttons: with a text in a messaging conversation they
// are quick replies whose click publishes the button's payload (Rasa's
// "/intent{…}" form works as is); otherwise (chat, or no text) a vertical
// card of the text and one publishText button each.
func (p *parser) buttons(m jobj, text string) error {
	var bs []button
	if json.Unmarshal(m.m["buttons"], &bs) != nil {
		return badReply("%s.buttons must be an array of {title, payload}", m.where)
	}
	for i := range bs {
		if strings.TrimSpace(bs[i].Title) == "" {
			return badReply("%s.buttons[%d].title is required", m.where, i)
		}
		if bs[i].Payload == "" {
			bs[i].Payload = bs[i].Title
		}
	}
	if len(bs) == 0 {
		if strings.TrimSpace(text) != "" {
			p.add(&botrelay.Message{Text: text})
		}
		return nil
	}
	click := func(b button) map[string]any {
		return map[string]any{"actions": []any{map[string]any{"type": "publishText", "text": b.Payload}}}
	}
	if strings.TrimSpace(text) != "" && p.convType != botrelay.Chat {
		var replies []any
		for _, b := range bs {
			c := click(b)
			c["metadata"] = []any{map[string]any{"type": "ExternalId", "id": b.Payload}}
			replies = append(replies, map[string]any{"type": "button", "tooltip": b.Title, "title": b.Title, "click": c})
		}
		p.add(&botrelay.Message{Text: text, QuickReplies: mustJSON(map[string]any{"type": "quickReplies", "itemsPerRow": 8, "replies": replies})})
		return nil
	}
	var els []any
	if strings.TrimSpace(text) != "" {
		els = append(els, map[string]any{"type": "text", "text": text})
	}
	for _, b := range bs {
		els = append(els, map[string]any{"type": "button", "title": b.Title, "tooltip": b.Title, "click": click(b)})
	}
	p.add(&botrelay.Message{StructuredContent: mustJSON(map[string]any{"type": "vertical", "elements": els})})
	return nil
}

// attachment maps Rasa's attachment: a URL string is sent as a text; an
// object is read like a custom payload.
func (p *parser) attachment(m jobj) error {
	raw := bytes.TrimSpace(m.m["attachment"])
	var u string
	if json.Unmarshal(raw, &u) == nil {
		if strings.TrimSpace(u) != "" {
			p.add(&botrelay.Message{Text: u})
		}
		return nil
	}
	if raw[0] != '{' {
		return badReply("%s.attachment must be a URL or an object", m.where)
	}
	return p.custom(jobj{where: m.where, m: map[string]json.RawMessage{"custom": raw}})
}

// custom maps a custom payload; see docs/vendors/rasa.md. Shapes, by the
// first key present: action, delay, structuredContent, text, textResponse.
func (p *parser) custom(m jobj) error {
	c, err := asObj(m.where+".custom", m.m["custom"])
	if err != nil {
		return err
	}
	switch {
	case c.has("action"):
		a, err := asObj(c.where+".action", c.m["action"])
		if err != nil {
			return err
		}
		return p.action(a)
	case c.has("delay"):
		var secs float64
		if json.Unmarshal(c.m["delay"], &secs) != nil || secs <= 0 || time.Duration(secs*float64(time.Second)) > maxDelay {
			return badReply("%s.delay must be a number of seconds > 0 (at most 86400)", c.where)
		}
		typing, err := c.boolean("typing", true)
		if err != nil {
			return err
		}
		p.reply.Items = append(p.reply.Items, botrelay.Item{Delay: &botrelay.Delay{Duration: time.Duration(secs * float64(time.Second)), Typing: typing}})
		return nil
	case c.has("structuredContent"):
		return p.customStructured(c)
	case c.has("text"), c.has("textResponse"):
		return p.customText(c)

	}
	compact := new(bytes.Buffer)
	_ = json.Compact(compact, m.m["custom"])
	p.skipped = append(p.skipped, compact.String())
	return nil
}

// customStructured maps {"structuredContent": {...}}: quick replies with
// their message, or a card.
func (p *parser) customStructured(c jobj) error {
	sc, err := c.object("structuredContent")
	if err != nil {
		return err
	}
	msg, err := common(c)
	if err != nil {
		return err
	}
	sco, _ := asObj(c.where+".structuredContent", sc)
	if sco.has("quickReplies") {
		qr, err := sco.object("quickReplies")
		if err != nil {
			return err
		}
		text, err := sco.str("message")
		if err != nil {
			return err
		}
		if strings.TrimSpace(text) == "" {
			return badReply("%s.structuredContent.message is required with quickReplies", c.where)
		}
		msg.Text, msg.QuickReplies = text, qr
	} else {
		msg.StructuredContent = sc
	}
	p.add(msg)
	return nil
}

// customText maps {"text"|"textResponse": "...", "messageAudience": ...}.
func (p *parser) customText(c jobj) error {
	key := "text"
	if !c.has("text") {
		key = "textResponse"
	}
	text, err := c.str(key)
	if err != nil {
		return err
	}
	msg, err := common(c)
	if err != nil {
		return err
	}
	aud, err := c.str("messageAudience")
	if err != nil {
		return err
	}
	switch aud {
	case "", "ALL":
	case botrelay.AudienceAgentsAndManagers:
		msg.Audience = aud
	default:
		return badReply("%s.messageAudience %q is not ALL or AGENTS_AND_MANAGERS", c.where, aud)
	}
	if strings.TrimSpace(text) != "" {
		msg.Text = text
		p.add(msg)
	}
	return nil
}

// common reads the metadata and encodedMetadata of a custom payload.
func common(c jobj) (*botrelay.Message, error) {
	md, err := c.metadata()
	if err != nil {
		return nil, err
	}
	enc, err := c.str("encodedMetadata")
	if err != nil {
		return nil, err
	}
	return &botrelay.Message{Metadata: md, EncodedMetadata: enc}, nil
}

func (p *parser) action(a jobj) error {
	name, err := a.str("name")
	if err != nil {
		return err
	}
	if name == "" {
		return badReply("%s.name is required", a.where)
	}
	known := name == ActionTransfer || name == ActionClose || name == ActionChangeTTR || name == ActionInvocation
	if p.reply.Action != nil || !known {
		p.reply.Skipped = append(p.reply.Skipped, name)
		return nil
	}
	params := jobj{where: a.where + ".parameters", m: map[string]json.RawMessage{}}
	if a.has("parameters") {
		if params, err = asObj(a.where+".parameters", a.m["parameters"]); err != nil {
			return err
		}
	}
	act, err := parseAction(name, params, p.skill)
	if err != nil {
		return err
	}
	p.reply.Action = act
	return nil
}

func parseAction(name string, p jobj, currentSkill string) (*botrelay.Action, error) {
	switch name {
	case ActionTransfer:
		skill, err := p.str("skill")
		if err != nil {
			return nil, err
		}
		agent, err := p.id("agentId")
		if err != nil {
			return nil, err
		}
		skill = strings.TrimSpace(skill)
		if skill == "" && agent == "" {
			return nil, badReply("%s needs skill, agentId or both", p.where)
		}
		if skill == "" {
			skill = currentSkill
		}
		return &botrelay.Action{Kind: botrelay.ActionTransfer, Skill: skill, AgentID: agent}, nil
	case ActionClose:
		w, err := p.boolean("withoutPcs", false)
		if err != nil {
			return nil, err
		}
		return &botrelay.Action{Kind: botrelay.ActionClose, WithoutPCS: w}, nil
	case ActionChangeTTR:
		ttr, err := p.str("ttrType")
		if err != nil {
			return nil, err
		}
		a := &botrelay.Action{Kind: botrelay.ActionChangeTTR, TTR: ttr}
		switch ttr {
		case "URGENT", "NORMAL", "PRIORITIZED":
		case "CUSTOM":
			v, err := p.id("value")
			if err != nil {
				return nil, err
			}
			f, perr := strconv.ParseFloat(v, 64)
			if perr != nil || f < 0 || f != math.Trunc(f) || f > math.MaxInt32 {
				return nil, badReply("%s.value must be a whole number of seconds with ttrType CUSTOM", p.where)
			}
			a.TTRSeconds = int(f)
		default:
			return nil, badReply("%s.ttrType %q is not URGENT, NORMAL, PRIORITIZED or CUSTOM", p.where, ttr)
		}
		return a, nil
	case ActionInvocation:
		id, err := p.str("lambdaUuid")
		if err != nil {
			return nil, err
		}
		if strings.TrimSpace(id) == "" {
			return nil, badReply("%s.lambdaUuid is required", p.where)
		}
		fail, err := p.boolean("failOnError", false)
		if err != nil {
			return nil, err
		}
		var payload json.RawMessage
		if p.has("payload") {
			payload = p.m["payload"]
		}
		return &botrelay.Action{Kind: botrelay.ActionInvokeFunction, FunctionID: id, Payload: payload, FailOnError: fail}, nil
	}
	return nil, badReply("unknown action %q", name)
}

func mustJSON(v any) json.RawMessage {
	out, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("rasa: marshal: %v", err))
	}
	return out
}
