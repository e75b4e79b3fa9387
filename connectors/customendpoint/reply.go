package customendpoint

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/botrelay/botrelay"
)

// Response item types (§4.4).
const (
	ItemText              = "TEXT"
	ItemStructuredContent = "STRUCTURED_CONTENT"
	ItemDelay             = "DELAY"
	ItemAction            = "ACTION"
)

// Action names (§4.4).
const (
	ActionTransfer          = "TRANSFER"
	ActionCloseConversation = "CLOSE_CONVERSATION"
	ActionChangeTTR         = "CHANGE_TTR"
	ActionInvokeFunction    = "INVOKE_FUNCTION"
)

// badReply is a §4.7 validation failure.
func badReply(format string, args ...any) error {
	return vendorErr(botrelay.ErrVendorBadReply, CodeInvalidBody, format, args...)
}

// obj is a decoded JSON object whose members are read with typed getters
// that produce precise messages.
type obj struct {
	where string // e.g. "response[2].data"
	m     map[string]json.RawMessage
}

func decodeObj(where string, raw json.RawMessage, required bool) (obj, error) {
	o := obj{where: where, m: map[string]json.RawMessage{}}
	if isAbsent(raw) {
		if required {
			return o, badReply("%s is required", where)
		}
		return o, nil
	}
	if err := json.Unmarshal(raw, &o.m); err != nil || o.m == nil {
		return o, badReply("%s must be a JSON object", where)
	}
	return o, nil
}

func isAbsent(raw json.RawMessage) bool {
	s := bytes.TrimSpace(raw)
	return len(s) == 0 || bytes.Equal(s, []byte("null"))
}

func (o obj) has(name string) bool { return !isAbsent(o.m[name]) }

// str reads an optional string member.
func (o obj) str(name string) (string, bool, error) {
	raw := o.m[name]
	if isAbsent(raw) {
		return "", false, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false, badReply("%s.%s must be a string", o.where, name)
	}
	return s, true, nil
}

// boolean reads an optional boolean member.
func (o obj) boolean(name string, def bool) (bool, error) {
	raw := o.m[name]
	if isAbsent(raw) {
		return def, nil
	}
	var v bool
	if err := json.Unmarshal(raw, &v); err != nil {
		return false, badReply("%s.%s must be true or false", o.where, name)
	}
	return v, nil
}

// object reads an optional member that must be a JSON object, returned raw.
func (o obj) object(name string) (json.RawMessage, error) {
	raw := o.m[name]
	if isAbsent(raw) {
		return nil, nil
	}
	if t := bytes.TrimSpace(raw); t[0] != '{' {
		return nil, badReply("%s.%s must be a JSON object", o.where, name)
	}
	return raw, nil
}

// metadata reads metadata: an array of objects, or a single object that
// becomes a one-element array (F23).
func (o obj) metadata() (json.RawMessage, error) {
	raw := o.m["metadata"]
	if isAbsent(raw) {
		return nil, nil
	}
	t := bytes.TrimSpace(raw)
	switch t[0] {
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(t, &items); err != nil {
			return nil, badReply("%s.metadata must be an array of objects", o.where)
		}
		for _, it := range items {
			if s := bytes.TrimSpace(it); len(s) == 0 || s[0] != '{' {
				return nil, badReply("%s.metadata must be an array of objects", o.where)
			}
		}
		if len(items) == 0 {
			return nil, nil
		}
		return t, nil
	case '{':
		return json.RawMessage("[" + string(t) + "]"), nil
	}
	return nil, badReply("%s.metadata must be an object or an array of objects", o.where)
}

// parseReply turns a send-event response into a Reply, applying §4.7:
// the body must be a JSON object with a "response" array; an unknown item
// type, a TEXT without message, a DELAY whose seconds is not an integer
// >= 1, a known action with invalid parameters are invalid bodies. Blank
// texts are skipped. The first valid action is kept; unknown action names
// and any action after it go to Skipped. Analytics are optional; malformed
// intents are ignored. currentSkill fills TRANSFER{agentId} without
// skillName (F27: the agent's skill is the current one).
func parseReply(body []byte, currentSkill string) (*botrelay.Reply, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, badReply("the reply has an empty body; want {\"response\":[…],\"analytics\":{…}}")
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil || top == nil {
		return nil, badReply("the reply is not a JSON object%s", snippet(body))
	}
	if isAbsent(top["response"]) {
		return nil, badReply("the reply has no \"response\" array")
	}
	var items []json.RawMessage
	if err := json.Unmarshal(top["response"], &items); err != nil {
		return nil, badReply("\"response\" must be an array of items")
	}
	reply := &botrelay.Reply{}
	for i, raw := range items {
		where := "response[" + strconv.Itoa(i) + "]"
		it, err := decodeObj(where, raw, true)
		if err != nil {
			return nil, err
		}
		typ, ok, err := it.str("type")
		if err != nil {
			return nil, err
		} else if !ok {
			return nil, badReply("%s.type is required", where)
		}
		switch typ {
		case ItemText, ItemStructuredContent, ItemDelay, ItemAction:
		default:
			return nil, badReply("%s.type %q is not one of TEXT, STRUCTURED_CONTENT, DELAY, ACTION", where, typ)
		}
		where += " (" + typ + ")"
		data, err := decodeObj(where+".data", it.m["data"], true)
		if err != nil {
			return nil, err
		}
		switch typ {
		case ItemText:
			m, err := parseText(data)
			if err != nil {
				return nil, err
			}
			if m != nil {
				reply.Items = append(reply.Items, botrelay.Item{Message: m})
			}
		case ItemStructuredContent:
			m, err := parseStructured(data)
			if err != nil {
				return nil, err
			}
			reply.Items = append(reply.Items, botrelay.Item{Message: m})
		case ItemDelay:
			d, err := parseDelay(data)
			if err != nil {
				return nil, err
			}
			reply.Items = append(reply.Items, botrelay.Item{Delay: d})
		case ItemAction:
			name, ok, err := data.str("name")
			if err != nil {
				return nil, err
			} else if !ok || name == "" {
				return nil, badReply("%s.data.name is required", where)
			}
			if reply.Action != nil || !knownAction(name) {
				reply.Skipped = append(reply.Skipped, name)
				continue
			}
			params, err := decodeObj(where+".data.parameters", data.m["parameters"], false)
			if err != nil {
				return nil, err
			}
			a, err := parseAction(name, params, currentSkill)
			if err != nil {
				return nil, err
			}
			reply.Action = a
		}
	}
	reply.Intents = parseIntents(top["analytics"])
	return reply, nil
}

func parseText(d obj) (*botrelay.Message, error) {
	text, ok, err := d.str("message")
	if err != nil {
		return nil, err
	} else if !ok {
		return nil, badReply("%s.message is required", d.where)
	}
	aud, _, err := d.str("messageAudience")
	if err != nil {
		return nil, err
	}
	switch aud {
	case "", "ALL":
		aud = botrelay.AudienceAll
	case botrelay.AudienceAgentsAndManagers:
	default:
		return nil, badReply("%s.messageAudience %q is not ALL or AGENTS_AND_MANAGERS", d.where, aud)
	}
	enc, _, err := d.str("encodedMetadata")
	if err != nil {
		return nil, err
	}
	md, err := d.metadata()
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(text) == "" {
		return nil, nil // F17, §4.7: blank texts are skipped
	}
	return &botrelay.Message{Text: text, Audience: aud, EncodedMetadata: enc, Metadata: md}, nil
}

// parseStructured maps STRUCTURED_CONTENT. Structured content with a
// quickReplies member is quick replies (F19): its message is the text sent
// with them.
func parseStructured(d obj) (*botrelay.Message, error) {
	sc, err := d.object("structuredContent")
	if err != nil {
		return nil, err
	} else if sc == nil {
		return nil, badReply("%s.structuredContent is required", d.where)
	}
	enc, _, err := d.str("encodedMetadata")
	if err != nil {
		return nil, err
	}
	md, err := d.metadata()
	if err != nil {
		return nil, err
	}
	m := &botrelay.Message{EncodedMetadata: enc, Metadata: md}
	sco, _ := decodeObj(d.where+".structuredContent", sc, true)
	if sco.has("quickReplies") {
		qr, err := sco.object("quickReplies")
		if err != nil {
			return nil, err
		}
		text, _, err := sco.str("message")
		if err != nil {
			return nil, err
		}
		if strings.TrimSpace(text) == "" {
			return nil, badReply("%s.structuredContent.message is required with quickReplies", d.where)
		}
		m.Text, m.QuickReplies = text, qr
		return m, nil
	}
	m.StructuredContent = sc
	return m, nil
}

func parseDelay(d obj) (*botrelay.Delay, error) {
	raw := d.m["seconds"]
	if isAbsent(raw) {
		return nil, badReply("%s.seconds is required", d.where)
	}
	var n json.Number
	if t := bytes.TrimSpace(raw); t[0] == '"' || json.Unmarshal(t, &n) != nil {
		return nil, badReply("%s.seconds must be an integer >= 1", d.where)
	}
	f, err := n.Float64()
	if err != nil || f < 1 || f != math.Trunc(f) || f > 24*3600 {
		return nil, badReply("%s.seconds must be an integer >= 1 (at most 86400), got %s", d.where, n)
	}
	typing, err := d.boolean("typing", true)
	if err != nil {
		return nil, err
	}
	return &botrelay.Delay{Duration: time.Duration(f) * time.Second, Typing: typing}, nil
}

func knownAction(name string) bool {
	switch name {
	case ActionTransfer, ActionCloseConversation, ActionChangeTTR, ActionInvokeFunction:
		return true
	}
	return false
}

func parseAction(name string, p obj, currentSkill string) (*botrelay.Action, error) {
	switch name {
	case ActionTransfer:
		skill, _, err := p.str("skillName")
		if err != nil {
			return nil, err
		}
		agent, err := idString(p, "agentId")
		if err != nil {
			return nil, err
		}
		skill = strings.TrimSpace(skill)
		if skill == "" && agent == "" {
			return nil, badReply("%s needs skillName, agentId or both", p.where)
		}
		if skill == "" {
			skill = currentSkill
		}
		return &botrelay.Action{Kind: botrelay.ActionTransfer, Skill: skill, AgentID: agent}, nil
	case ActionCloseConversation:
		w, err := p.boolean("withoutPcs", false)
		if err != nil {
			return nil, err
		}
		return &botrelay.Action{Kind: botrelay.ActionClose, WithoutPCS: w}, nil
	case ActionChangeTTR:
		ttr, _, err := p.str("ttrType")
		if err != nil {
			return nil, err
		}
		a := &botrelay.Action{Kind: botrelay.ActionChangeTTR, TTR: ttr}
		switch ttr {
		case "URGENT", "NORMAL", "PRIORITIZED":
		case "CUSTOM":
			secs, err := ttrValue(p)
			if err != nil {
				return nil, err
			}
			a.TTRSeconds = secs
		default:
			return nil, badReply("%s.ttrType %q is not URGENT, NORMAL, PRIORITIZED or CUSTOM", p.where, ttr)
		}
		return a, nil
	case ActionInvokeFunction:
		id, _, err := p.str("lambdaUuid")
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

// idString reads an id given as a string or a number.
func idString(p obj, name string) (string, error) {
	raw := p.m[name]
	if isAbsent(raw) {
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
	return "", badReply("%s.%s must be a string or a number", p.where, name)
}

// ttrValue reads CHANGE_TTR CUSTOM's value: seconds, a number or a
// non-empty string holding one.
func ttrValue(p obj) (int, error) {
	raw := p.m["value"]
	if isAbsent(raw) {
		return 0, badReply("%s.value (seconds) is required with ttrType CUSTOM", p.where)
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		var n json.Number
		if json.Unmarshal(raw, &n) != nil {
			return 0, badReply("%s.value must be a number of seconds", p.where)
		}
		s = n.String()
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f < 0 || f != math.Trunc(f) || f > math.MaxInt32 {
		return 0, badReply("%s.value %q must be a whole number of seconds", p.where, s)
	}
	return int(f), nil
}

// parseIntents reads analytics.intents leniently (§4.7: analytics may be
// missing; malformed entries are dropped).
func parseIntents(raw json.RawMessage) []botrelay.Intent {
	if isAbsent(raw) {
		return nil
	}
	var a struct {
		Intents []json.RawMessage `json:"intents"`
	}
	if json.Unmarshal(raw, &a) != nil {
		return nil
	}
	var out []botrelay.Intent
	for _, r := range a.Intents {
		var in struct {
			ID              string   `json:"id"`
			Description     string   `json:"description"`
			ConfidenceScore *float64 `json:"confidenceScore"`
		}
		if json.Unmarshal(r, &in) != nil || in.ID == "" {
			continue
		}
		it := botrelay.Intent{ID: in.ID, Name: in.Description}
		if in.ConfidenceScore != nil {
			it.Confidence = *in.ConfidenceScore
		}
		out = append(out, it)
	}
	return out
}
