package watson

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/botrelay/botrelay"
)

// actions reads the client actions: items of another type (server,
// cloud_function, webhook, web_action) belong to Watson and are ignored.
// The first known action is the Reply's; unknown names and every later
// action go to Skipped (F25).
func (p *parser) actions(raw json.RawMessage) error {
	if absent(raw) {
		return nil
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) != nil {
		return parseErr(CodeParseMessageFailed, "actions must be an array")
	}
	for i, item := range list {
		where := fmt.Sprintf("actions[%d]", i)
		a, ok := asObject(item)
		if !ok {
			return parseErr(CodeParseMessageFailed, "%s must be a JSON object", where)
		}
		typ, _, _ := a.str("type")
		if typ != "" && !strings.EqualFold(typ, "client") {
			continue
		}
		name, err := a.text("name", where, CodeParseMessageFailed)
		if err != nil {
			return err
		}
		if strings.TrimSpace(name) == "" {
			return parseErr(CodeParseMessageFailed, "%s.name is required", where)
		}
		if p.r.Action != nil || !knownAction(name) {
			p.r.Skipped = append(p.r.Skipped, name)
			continue
		}
		params := jobj{}
		if a.has("parameters") {
			if params, ok = asObject(a["parameters"]); !ok {
				return parseErr(CodeParseMessageFailed, "%s.parameters must be a JSON object", where)
			}
		}
		act, err := p.action(name, where+".parameters", params)
		if err != nil {
			return err
		}
		p.r.Action = act
	}
	return nil
}

func knownAction(name string) bool {
	switch name {
	case ActionTransfer, ActionCloseConversation, ActionChangeTTR, ActionInvocation:
		return true
	}
	return false
}

func (p *parser) action(name, where string, o jobj) (*botrelay.Action, error) {
	switch name {
	case ActionTransfer:
		skill, err := o.text("skill", where, CodeParseMessageFailed)
		if err != nil {
			return nil, err
		}
		agent, err := idString(o, "agentId", where)
		if err != nil {
			return nil, err
		}
		skill = strings.TrimSpace(skill)
		if skill == "" && agent == "" {
			return nil, parseErr(CodeParseMessageFailed, "%s needs skill, agentId or both", where)
		}
		if skill == "" {
			skill = p.in.currentSkill
		}
		return &botrelay.Action{Kind: botrelay.ActionTransfer, Skill: skill, AgentID: agent}, nil
	case ActionCloseConversation:
		w, err := o.boolean("withoutPcs", where, false)
		if err != nil {
			return nil, err
		}
		return &botrelay.Action{Kind: botrelay.ActionClose, WithoutPCS: w}, nil
	case ActionChangeTTR:
		ttr, err := o.text("ttrType", where, CodeParseMessageFailed)
		if err != nil {
			return nil, err
		}
		a := &botrelay.Action{Kind: botrelay.ActionChangeTTR, TTR: ttr}
		switch ttr {
		case "URGENT", "NORMAL", "PRIORITIZED":
		case "CUSTOM":
			secs, err := ttrValue(o, where)
			if err != nil {
				return nil, err
			}
			a.TTRSeconds = secs
		default:
			return nil, parseErr(CodeParseMessageFailed, "%s.ttrType %q is not URGENT, NORMAL, PRIORITIZED or CUSTOM", where, ttr)
		}
		return a, nil
	case ActionInvocation:
		id, err := o.text("lambdaUuid", where, CodeParseMessageFailed)
		if err != nil {
			return nil, err
		}
		if strings.TrimSpace(id) == "" {
			return nil, parseErr(CodeParseMessageFailed, "%s.lambdaUuid is required", where)
		}
		fail, err := o.boolean("failOnError", where, false)
		if err != nil {
			return nil, err
		}
		var payload json.RawMessage
		if o.has("payload") {
			payload = compact(o["payload"])
		}
		return &botrelay.Action{Kind: botrelay.ActionInvokeFunction, FunctionID: strings.TrimSpace(id), Payload: payload, FailOnError: fail}, nil
	}
	return nil, parseErr(CodeParseMessageFailed, "unknown action %q", name)
}

// idString reads an id given as a string or a number.
func idString(o jobj, k, where string) (string, error) {
	if !o.has(k) {
		return "", nil
	}
	var s string
	if json.Unmarshal(o[k], &s) == nil {
		return strings.TrimSpace(s), nil
	}
	var n json.Number
	if json.Unmarshal(o[k], &n) == nil {
		return n.String(), nil
	}
	return "", parseErr(CodeParseMessageFailed, "%s.%s must be a string or a number", where, k)
}

// ttrValue reads CHANGE_TTR CUSTOM's value: whole seconds, as a number or
// a string.
func ttrValue(o jobj, where string) (int, error) {
	if !o.has("value") {
		return 0, parseErr(CodeParseMessageFailed, "%s.value (seconds) is required with ttrType CUSTOM", where)
	}
	var s string
	if json.Unmarshal(o["value"], &s) != nil {
		var n json.Number
		if json.Unmarshal(o["value"], &n) != nil {
			return 0, parseErr(CodeParseMessageFailed, "%s.value must be a number of seconds", where)
		}
		s = n.String()
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f < 0 || f != math.Trunc(f) || f > math.MaxInt32 {
		return 0, parseErr(CodeParseMessageFailed, "%s.value %q must be a whole number of seconds", where, s)
	}
	return int(f), nil
}

// intents reads Watson's intents [{intent, confidence}] leniently.
func intents(raw json.RawMessage) []botrelay.Intent {
	if absent(raw) {
		return nil
	}
	var list []struct {
		Intent     string  `json:"intent"`
		Confidence float64 `json:"confidence"`
	}
	if json.Unmarshal(raw, &list) != nil {
		return nil
	}
	var out []botrelay.Intent
	for _, in := range list {
		if in.Intent != "" {
			out = append(out, botrelay.Intent{ID: in.Intent, Name: in.Intent, Confidence: in.Confidence})
		}
	}
	return out
}
