package dialogflow

import (
	"encoding/json"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/botrelay/botrelay"
)

// Action names (spec §3.1, case sensitive).
const (
	ActionTransfer   = "TRANSFER"
	ActionClose      = "CLOSE_CONVERSATION"
	ActionChangeTTR  = "CHANGE_TTR"
	ActionInvocation = "INVOCATION"
)

// parser turns Dialogflow messages into a Reply. It is shared by both
// connectors; code is the parse error code.
type parser struct {
	code  string
	skill string // the conversation's skill, for a transfer to an agent without skill
	reply botrelay.Reply
	// actions counts the actions seen (known or not), for CX's one-action rule.
	actions int
	// ignored lists payloads that were skipped, for the log.
	ignored []string
}

func (p *parser) bad(format string, args ...any) error {
	return botrelay.NewVendorError(botrelay.ErrVendorBadReply, p.code, format, args...)
}

func (p *parser) text(s string) {
	if strings.TrimSpace(s) == "" {
		return // blank texts are dropped (F17)
	}
	p.reply.Items = append(p.reply.Items, botrelay.Item{Message: &botrelay.Message{Text: s}})
}

func (p *parser) message(m *botrelay.Message) {
	p.reply.Items = append(p.reply.Items, botrelay.Item{Message: m})
}

// payload maps one custom payload (where names it in errors). With
// allowAction, {"action": {...}} is an action (CX).
func (p *parser) payload(where string, s *structpb.Struct, allowAction bool) error {
	m := s.AsMap()
	switch {
	case allowAction && has(m, "action"):
		return p.payloadAction(where, m)
	case has(m, "delay"):
		return p.payloadDelay(where, m)
	case has(m, "messageAudience"):
		aud, _ := m["messageAudience"].(string)
		text, ok := m["text"].(string)
		if !ok {
			return p.bad("%s.text must be a string with messageAudience", where)
		}
		switch aud {
		case botrelay.AudienceAgentsAndManagers:
			if strings.TrimSpace(text) != "" {
				p.message(&botrelay.Message{Text: text, Audience: aud})
			}
		case "ALL", "":
			p.text(text)
		default:
			return p.bad("%s.messageAudience must be AGENTS_AND_MANAGERS or ALL", where)
		}
	case has(m, "textResponse"):
		text, ok := m["textResponse"].(string)
		if !ok {
			return p.bad("%s.textResponse must be a string", where)
		}
		msg := &botrelay.Message{Text: text}
		if err := p.extras(where, m, msg); err != nil {
			return err
		}
		if strings.TrimSpace(text) != "" {
			p.message(msg)
		}
	case has(m, "structuredContent"):
		return p.payloadStructured(where, m)
	default:
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		p.ignored = append(p.ignored, where+" {"+strings.Join(sortStrings(keys), ",")+"}")
	}
	return nil
}

// payloadAction maps a CX payload's {"action": {...}}.
func (p *parser) payloadAction(where string, m map[string]any) error {
	a, ok := m["action"].(map[string]any)
	if !ok {
		return p.bad("%s.action must be an object", where)
	}
	name, ok := a["name"].(string)
	if !ok || name == "" {
		return p.bad("%s.action.name must be a non-empty string", where)
	}
	params := map[string]any{}
	if v, ok := a["parameters"]; ok && v != nil {
		if params, ok = v.(map[string]any); !ok {
			return p.bad("%s.action.parameters must be an object", where)
		}
	}
	return p.action(where+".action", name, params)
}

// payloadDelay maps {"delay": seconds, "typing": bool}.
func (p *parser) payloadDelay(where string, m map[string]any) error {
	secs, ok := number(m["delay"])
	if !ok || secs < 0 || secs > 3600 {
		return p.bad("%s.delay must be a number of seconds between 0 and 3600", where)
	}
	typing := true
	if v, ok := m["typing"]; ok && v != nil {
		if typing, ok = boolean(v); !ok {
			return p.bad("%s.typing must be a boolean", where)
		}
	}
	p.reply.Items = append(p.reply.Items, botrelay.Item{Delay: &botrelay.Delay{Duration: time.Duration(secs * float64(time.Second)), Typing: typing}})
	return nil
}

// payloadStructured maps {"structuredContent": {...}}: quick replies or
// a card.
func (p *parser) payloadStructured(where string, m map[string]any) error {
	sc, ok := m["structuredContent"].(map[string]any)
	if !ok {
		return p.bad("%s.structuredContent must be an object", where)
	}
	msg := &botrelay.Message{}
	if qr, ok := sc["quickReplies"]; ok {
		text, ok := sc["message"].(string)
		if !ok || strings.TrimSpace(text) == "" {
			return p.bad("%s.structuredContent.message is required with quickReplies", where)
		}
		if _, ok := qr.(map[string]any); !ok {
			return p.bad("%s.structuredContent.quickReplies must be an object", where)
		}
		msg.Text, msg.QuickReplies = text, mustJSON(qr)
	} else {
		msg.StructuredContent = mustJSON(sc)
	}
	if err := p.extras(where, m, msg); err != nil {
		return err
	}
	p.message(msg)
	return nil
}

// extras reads metadata (object or array, normalised to an array, F23) and
// encodedMetadata (F22).
func (p *parser) extras(where string, m map[string]any, msg *botrelay.Message) error {
	if v, ok := m["metadata"]; ok && v != nil {
		switch x := v.(type) {
		case []any:
			msg.Metadata = mustJSON(x)
		case map[string]any:
			msg.Metadata = mustJSON([]any{x})
		default:
			return p.bad("%s.metadata must be an array or an object", where)
		}
	}
	if v, ok := m["encodedMetadata"]; ok && v != nil {
		s, ok := v.(string)
		if !ok {
			return p.bad("%s.encodedMetadata must be a string", where)
		}
		msg.EncodedMetadata = s
	}
	return nil
}

var upperName = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// action maps an action name and its parameters (spec §3.1). Unknown names
// go to Skipped; the first known action is kept.
func (p *parser) action(where, name string, params map[string]any) error {
	p.actions++
	var a botrelay.Action
	switch name {
	case ActionTransfer:
		a.Kind = botrelay.ActionTransfer
		a.Skill, _ = str(params["skill"])
		a.AgentID, _ = str(params["agentId"])
		if a.Skill == "" && a.AgentID == "" {
			return p.bad("%s: TRANSFER needs the parameter skill", where)
		}
		if a.Skill == "" {
			a.Skill = p.skill
		}
	case ActionClose:
		a.Kind = botrelay.ActionClose
		if v, ok := params["withoutPcs"]; ok && v != nil {
			b, ok := boolean(v)
			if !ok {
				return p.bad("%s: withoutPcs must be a boolean", where)
			}
			a.WithoutPCS = b
		}
	case ActionChangeTTR:
		a.Kind = botrelay.ActionChangeTTR
		a.TTR, _ = str(params["ttrType"])
		switch a.TTR {
		case "URGENT", "NORMAL", "PRIORITIZED":
		case "CUSTOM":
			secs, ok := number(params["value"])
			if !ok || secs <= 0 || secs > math.MaxInt32 {
				return p.bad("%s: CHANGE_TTR CUSTOM needs a positive value in seconds", where)
			}
			a.TTRSeconds = int(secs)
		default:
			return p.bad("%s: ttrType must be URGENT, NORMAL, PRIORITIZED or CUSTOM", where)
		}
	case ActionInvocation:
		a.Kind = botrelay.ActionInvokeFunction
		a.FunctionID, _ = str(params["lambdaUuid"])
		if a.FunctionID == "" {
			return p.bad("%s: INVOCATION needs the parameter lambdaUuid", where)
		}
		switch v := params["payload"].(type) {
		case nil:
		case string:
			if json.Valid([]byte(v)) {
				a.Payload = json.RawMessage(v)
			} else {
				a.Payload = mustJSON(v)
			}
		default:
			a.Payload = mustJSON(v)
		}
		if v, ok := params["failOnError"]; ok && v != nil {
			b, ok := boolean(v)
			if !ok {
				return p.bad("%s: failOnError must be a boolean", where)
			}
			a.FailOnError = b
		}
	default:
		p.reply.Skipped = append(p.reply.Skipped, name)
		return nil
	}
	if p.reply.Action != nil {
		p.reply.Skipped = append(p.reply.Skipped, name)
		return nil
	}
	p.reply.Action = &a
	return nil
}

// intent records the matched intent (F35).
func (p *parser) intent(name, displayName string, confidence float32) {
	if name == "" && displayName == "" {
		return
	}
	id := name
	if i := strings.LastIndex(id, "/"); i >= 0 {
		id = id[i+1:]
	}
	if id == "" {
		id = strings.ReplaceAll(displayName, " ", "_")
	}
	c := float64(confidence)
	c = math.Round(c*1e6) / 1e6 // float32 noise
	p.reply.Intents = append(p.reply.Intents, botrelay.Intent{ID: id, Name: displayName, Confidence: c})
}

func has(m map[string]any, k string) bool {
	_, ok := m[k]
	return ok
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage("null")
	}
	return b
}

// str reads a string parameter; Dialogflow list parameters give their first
// element, numbers their decimal form.
func str(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case []any:
		if len(x) > 0 {
			return str(x[0])
		}
	}
	return "", false
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, !math.IsNaN(x) && !math.IsInf(x, 0)
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	return 0, false
}

func boolean(v any) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true":
			return true, true
		case "false", "":
			return false, true
		}
	}
	return false, false
}

func sortStrings(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}
