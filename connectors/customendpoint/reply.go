package customendpoint

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/internal/jsonobj"
	"github.com/botrelay/botrelay/connectors/kit"
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

// obj is a reply object read member by member; its errors are invalid
// bodies.
type obj = jsonobj.Obj

func decodeObj(where string, raw json.RawMessage, required bool) (obj, error) {
	return jsonobj.Decode(badReply, where, raw, required)
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
		return nil, badReply("the reply is not a JSON object%s", kit.Snippet(body))
	}
	if jsonobj.Absent(top["response"]) {
		return nil, badReply("the reply has no \"response\" array")
	}
	var items []json.RawMessage
	if err := json.Unmarshal(top["response"], &items); err != nil {
		return nil, badReply("\"response\" must be an array of items")
	}
	reply := &botrelay.Reply{}
	for i, raw := range items {
		if err := parseItem(reply, "response["+strconv.Itoa(i)+"]", raw, currentSkill); err != nil {
			return nil, err
		}
	}
	reply.Intents = parseIntents(top["analytics"])
	return reply, nil
}

// parseItem adds one item of the reply's "response" array to reply.
func parseItem(reply *botrelay.Reply, where string, raw json.RawMessage, currentSkill string) error {
	it, err := decodeObj(where, raw, true)
	if err != nil {
		return err
	}
	typ, ok, err := it.Str("type")
	if err != nil {
		return err
	} else if !ok {
		return badReply("%s.type is required", where)
	}
	switch typ {
	case ItemText, ItemStructuredContent, ItemDelay, ItemAction:
	default:
		return badReply("%s.type %q is not one of TEXT, STRUCTURED_CONTENT, DELAY, ACTION", where, typ)
	}
	where += " (" + typ + ")"
	data, err := decodeObj(where+".data", it.M["data"], true)
	if err != nil {
		return err
	}
	switch typ {
	case ItemText:
		m, err := parseText(data)
		if err != nil {
			return err
		}
		if m != nil {
			reply.Items = append(reply.Items, botrelay.Item{Message: m})
		}
	case ItemStructuredContent:
		m, err := parseStructured(data)
		if err != nil {
			return err
		}
		reply.Items = append(reply.Items, botrelay.Item{Message: m})
	case ItemDelay:
		d, err := parseDelay(data)
		if err != nil {
			return err
		}
		reply.Items = append(reply.Items, botrelay.Item{Delay: d})
	case ItemAction:
		name, ok, err := data.Str("name")
		if err != nil {
			return err
		} else if !ok || name == "" {
			return badReply("%s.data.name is required", where)
		}
		if reply.Action != nil || !knownAction(name) {
			reply.Skipped = append(reply.Skipped, name)
			return nil
		}
		params, err := decodeObj(where+".data.parameters", data.M["parameters"], false)
		if err != nil {
			return err
		}
		a, err := parseAction(name, params, currentSkill)
		if err != nil {
			return err
		}
		reply.Action = a
	}
	return nil
}

func parseText(d obj) (*botrelay.Message, error) {
	text, ok, err := d.Str("message")
	if err != nil {
		return nil, err
	} else if !ok {
		return nil, badReply("%s.message is required", d.Where)
	}
	aud, _, err := d.Str("messageAudience")
	if err != nil {
		return nil, err
	}
	switch aud {
	case "", "ALL":
		aud = botrelay.AudienceAll
	case botrelay.AudienceAgentsAndManagers:
	default:
		return nil, badReply("%s.messageAudience %q is not ALL or AGENTS_AND_MANAGERS", d.Where, aud)
	}
	enc, _, err := d.Str("encodedMetadata")
	if err != nil {
		return nil, err
	}
	md, err := d.Metadata()
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
	sc, err := d.RawObject("structuredContent")
	if err != nil {
		return nil, err
	} else if sc == nil {
		return nil, badReply("%s.structuredContent is required", d.Where)
	}
	enc, _, err := d.Str("encodedMetadata")
	if err != nil {
		return nil, err
	}
	md, err := d.Metadata()
	if err != nil {
		return nil, err
	}
	m := &botrelay.Message{EncodedMetadata: enc, Metadata: md}
	sco, _ := decodeObj(d.Where+".structuredContent", sc, true)
	if sco.Has("quickReplies") {
		qr, err := sco.RawObject("quickReplies")
		if err != nil {
			return nil, err
		}
		text, _, err := sco.Str("message")
		if err != nil {
			return nil, err
		}
		if strings.TrimSpace(text) == "" {
			return nil, badReply("%s.structuredContent.message is required with quickReplies", d.Where)
		}
		m.Text, m.QuickReplies = text, qr
		return m, nil
	}
	m.StructuredContent = sc
	return m, nil
}

func parseDelay(d obj) (*botrelay.Delay, error) {
	raw := d.M["seconds"]
	if jsonobj.Absent(raw) {
		return nil, badReply("%s.seconds is required", d.Where)
	}
	var n json.Number
	if t := bytes.TrimSpace(raw); t[0] == '"' || json.Unmarshal(t, &n) != nil {
		return nil, badReply("%s.seconds must be an integer >= 1", d.Where)
	}
	f, err := n.Float64()
	if err != nil || f < 1 || f != math.Trunc(f) || f > 24*3600 {
		return nil, badReply("%s.seconds must be an integer >= 1 (at most 86400), got %s", d.Where, n)
	}
	typing, err := d.Bool("typing", true)
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
		skill, _, err := p.Str("skillName")
		if err != nil {
			return nil, err
		}
		agent, err := p.ID("agentId")
		if err != nil {
			return nil, err
		}
		skill = strings.TrimSpace(skill)
		if skill == "" && agent == "" {
			return nil, badReply("%s needs skillName, agentId or both", p.Where)
		}
		if skill == "" {
			skill = currentSkill
		}
		return &botrelay.Action{Kind: botrelay.ActionTransfer, Skill: skill, AgentID: agent}, nil
	case ActionCloseConversation:
		w, err := p.Bool("withoutPcs", false)
		if err != nil {
			return nil, err
		}
		a := &botrelay.Action{Kind: botrelay.ActionClose, WithoutPCS: w}
		// A survey bot's result (any JSON), stored with the survey's
		// answers; null or absent is none.
		if p.Has("result") {
			a.Payload = bytes.TrimSpace(p.M["result"])
		}
		return a, nil
	case ActionChangeTTR:
		return p.ChangeTTR()
	case ActionInvokeFunction:
		return p.InvokeFunction("is required")
	}
	return nil, badReply("unknown action %q", name)
}

// parseIntents reads analytics.intents leniently (§4.7: analytics may be
// missing; malformed entries are dropped).
func parseIntents(raw json.RawMessage) []botrelay.Intent {
	if jsonobj.Absent(raw) {
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
