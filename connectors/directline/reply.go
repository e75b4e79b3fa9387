package directline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/botrelay/botrelay"
)

// inActivity holds the fields of a bot activity that the mapping reads.
type inActivity struct {
	Type             string          `json:"type"`
	ID               string          `json:"id"`
	Name             string          `json:"name"`
	Text             string          `json:"text"`
	Value            json.RawMessage `json:"value"`
	AttachmentLayout string          `json:"attachmentLayout"`
	Attachments      []attachment    `json:"attachments"`
	SuggestedActions *struct {
		Actions []cardAction `json:"actions"`
	} `json:"suggestedActions"`
	ChannelData json.RawMessage `json:"channelData"`
}

type attachment struct {
	ContentType string          `json:"contentType"`
	ContentURL  string          `json:"contentUrl"`
	Name        string          `json:"name"`
	Content     json.RawMessage `json:"content"`
}

type cardAction struct {
	Type  string          `json:"type"`
	Title string          `json:"title"`
	Value json.RawMessage `json:"value"`
}

// channelData is the LivePerson convention for Direct Line bots (§3.7).
type channelData struct {
	StructuredContent json.RawMessage   `json:"structuredContent"`
	Metadata          json.RawMessage   `json:"metadata"`
	Delay             json.RawMessage   `json:"delay"`
	Typing            *bool             `json:"typing"`
	MessageAudience   string            `json:"messageAudience"`
	EncodedMetadata   string            `json:"encodedMetadata"`
	MultiMessage      []json.RawMessage `json:"multiMessage"`
	Action            *struct {
		Name       string          `json:"name"`
		Parameters json.RawMessage `json:"parameters"`
	} `json:"action"`
}

// Action names of channelData.action.
const (
	ActionTransfer   = "TRANSFER"
	ActionClose      = "CLOSE_CONVERSATION"
	ActionChangeTTR  = "CHANGE_TTR"
	ActionInvocation = "INVOCATION"
)

// HandoffEvent is the event name of Bot Framework's handoff initiation
// (EventFactory.createHandoffInitiation): a transfer to value.skill.
const HandoffEvent = "handoff.initiate"

func parserErr(format string, args ...any) error {
	return vendorErr(botrelay.ErrVendorBadReply, CodeParserCrashed, format, args...)
}

func present(raw json.RawMessage) bool {
	s := bytes.TrimSpace(raw)
	return len(s) > 0 && !bytes.Equal(s, []byte("null"))
}

// parseActivities maps the reply activities, in order, to a Reply (§3.7's
// content mapping). currentSkill fills a TRANSFER with only an agentId.
func parseActivities(raws []json.RawMessage, currentSkill string) (*botrelay.Reply, error) {
	r := &botrelay.Reply{}
	for i, raw := range raws {
		var a inActivity
		if err := json.Unmarshal(raw, &a); err != nil {
			return nil, parserErr("activity %d is malformed: %v", i, err)
		}
		where := fmt.Sprintf("activity %d (%s)", i, a.Type)
		switch a.Type {
		case "message":
			if err := parseMessage(r, where, &a, currentSkill); err != nil {
				return nil, err
			}
		case "endOfConversation":
			setAction(r, &botrelay.Action{Kind: botrelay.ActionClose}, "endOfConversation")
		case "event":
			if a.Name != HandoffEvent {
				return nil, vendorErr(botrelay.ErrVendorBadReply, CodeInvalidName, "%s: event %q is not supported (only %s)", where, a.Name, HandoffEvent)
			}
			var v struct {
				Skill   string          `json:"skill"`
				AgentID json.RawMessage `json:"agentId"`
			}
			if present(a.Value) && json.Unmarshal(a.Value, &v) != nil {
				return nil, parserErr("%s: value must be an object", where)
			}
			act, err := transfer(where, strings.TrimSpace(v.Skill), idString(v.AgentID), currentSkill)
			if err != nil {
				return nil, err
			}
			setAction(r, act, HandoffEvent)
		case "typing":
			// Typing indicators carry nothing to publish.
		default:
			return nil, vendorErr(botrelay.ErrVendorBadReply, CodeInvalidType, "%s: activity type %q is not supported", where, a.Type)
		}
	}
	return r, nil
}

func setAction(r *botrelay.Reply, a *botrelay.Action, name string) {
	if r.Action != nil {
		r.Skipped = append(r.Skipped, name)
		return
	}
	r.Action = a
}

// parseMessage adds one message activity to r: its delay, text, cards,
// structured content, multi-message items and action, in that order.
func parseMessage(r *botrelay.Reply, where string, a *inActivity, currentSkill string) error {
	var cd channelData
	if present(a.ChannelData) {
		if err := json.Unmarshal(a.ChannelData, &cd); err != nil {
			return parserErr("%s: channelData is malformed: %v", where, err)
		}
	}
	// A delay comes before the activity's text and action (F24).
	if present(cd.Delay) {
		d, err := parseDelay(where+": channelData.delay", cd.Delay, cd.Typing)
		if err != nil {
			return err
		}
		r.Items = append(r.Items, botrelay.Item{Delay: d})
	}
	md, err := metadata(where+": channelData.metadata", cd.Metadata)
	if err != nil {
		return err
	}
	msgs, err := textMessage(where, a, cd.MessageAudience)
	if err != nil {
		return err
	}
	cards, err := attachments(where, a.AttachmentLayout, a.Attachments)
	if err != nil {
		return err
	}
	msgs = append(msgs, cards...)
	if present(cd.StructuredContent) {
		m, err := structured(where+": channelData.structuredContent", cd.StructuredContent)
		if err != nil {
			return err
		}
		msgs = append(msgs, m)
	}
	for _, m := range msgs {
		if m.Audience == botrelay.AudienceAll {
			m.EncodedMetadata = cd.EncodedMetadata
		}
	}
	// Metadata goes with the structured content, else with the text.
	if md != nil && len(msgs) > 0 {
		target := msgs[0]
		for _, m := range msgs {
			if m.StructuredContent != nil || m.QuickReplies != nil {
				target = m
				break
			}
		}
		target.Metadata = md
	}
	for _, m := range msgs {
		r.Items = append(r.Items, botrelay.Item{Message: m})
	}
	for j, raw := range cd.MultiMessage {
		if err := multiMessage(r, fmt.Sprintf("%s: channelData.multiMessage[%d]", where, j), raw); err != nil {
			return err
		}
	}
	if cd.Action != nil {
		act, err := action(where+": channelData.action", cd.Action.Name, cd.Action.Parameters, currentSkill)
		if err != nil {
			return err
		}
		setAction(r, act, cd.Action.Name)
	}
	return nil
}

// textMessage is the activity's text with its audience and suggested
// actions (as quick replies), or none when the text is blank.
func textMessage(where string, a *inActivity, audience string) ([]*botrelay.Message, error) {
	suggested := a.SuggestedActions != nil && len(a.SuggestedActions.Actions) > 0
	if strings.TrimSpace(a.Text) == "" {
		if suggested {
			return nil, parserErr("%s: suggestedActions need a text to go with them", where)
		}
		return nil, nil
	}
	m := &botrelay.Message{Text: a.Text}
	switch audience {
	case "", "ALL":
	case botrelay.AudienceAgentsAndManagers:
		m.Audience = botrelay.AudienceAgentsAndManagers
	default:
		return nil, parserErr("%s: channelData.messageAudience %q is not AGENTS_AND_MANAGERS", where, audience)
	}
	if suggested {
		qr, err := quickReplies(where, a.SuggestedActions.Actions)
		if err != nil {
			return nil, err
		}
		m.QuickReplies = qr
	}
	return []*botrelay.Message{m}, nil
}

// parseDelay reads {delay, typing} or a number of seconds (with typing from
// channelData.typing; default true).
func parseDelay(where string, raw json.RawMessage, typing *bool) (*botrelay.Delay, error) {
	var secs json.Number
	t := true
	if typing != nil {
		t = *typing
	}
	s := bytes.TrimSpace(raw)
	if s[0] == '{' {
		var d struct {
			Delay  json.Number `json:"delay"`
			Typing *bool       `json:"typing"`
		}
		if err := json.Unmarshal(s, &d); err != nil {
			return nil, parserErr("%s must be {\"delay\": seconds, \"typing\": bool} or a number", where)
		}
		secs = d.Delay
		if d.Typing != nil {
			t = *d.Typing
		}
	} else if json.Unmarshal(s, &secs) != nil {
		return nil, parserErr("%s must be a number of seconds", where)
	}
	f, err := secs.Float64()
	if err != nil || f <= 0 || f > 24*3600 || math.IsNaN(f) {
		return nil, parserErr("%s must be more than 0 and at most 86400 seconds, got %q", where, secs.String())
	}
	return &botrelay.Delay{Duration: time.Duration(f * float64(time.Second)), Typing: t}, nil
}

// metadata reads an array of objects or a single object (F23).
func metadata(where string, raw json.RawMessage) (json.RawMessage, error) {
	if !present(raw) {
		return nil, nil
	}
	s := bytes.TrimSpace(raw)
	switch s[0] {
	case '{':
		return json.RawMessage("[" + string(s) + "]"), nil
	case '[':
		var items []map[string]json.RawMessage
		if json.Unmarshal(s, &items) != nil {
			return nil, parserErr("%s must be an array of objects", where)
		}
		if len(items) == 0 {
			return nil, nil
		}
		return s, nil
	}
	return nil, parserErr("%s must be an object or an array of objects", where)
}

// structured maps LivePerson structured content; with quickReplies it is a
// text with quick replies (F19).
func structured(where string, raw json.RawMessage) (*botrelay.Message, error) {
	var sc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &sc); err != nil || sc == nil {
		return nil, parserErr("%s must be an object", where)
	}
	if present(sc["quickReplies"]) {
		var text string
		_ = json.Unmarshal(sc["message"], &text)
		if strings.TrimSpace(text) == "" {
			return nil, parserErr("%s: message is required with quickReplies", where)
		}
		return &botrelay.Message{Text: text, QuickReplies: sc["quickReplies"]}, nil
	}
	return &botrelay.Message{StructuredContent: bytes.TrimSpace(raw)}, nil
}

// multiMessage maps one channelData.multiMessage item.
func multiMessage(r *botrelay.Reply, where string, raw json.RawMessage) error {
	var it struct {
		Type            string          `json:"type"`
		Value           json.RawMessage `json:"value"`
		EncodedMetadata string          `json:"encodedMetadata"`
	}
	if err := json.Unmarshal(raw, &it); err != nil {
		return parserErr("%s must be {type, value}", where)
	}
	if !present(it.Value) {
		return parserErr("%s: value is required", where)
	}
	switch it.Type {
	case "text":
		var s string
		if json.Unmarshal(it.Value, &s) != nil {
			return parserErr("%s: value must be a string", where)
		}
		if strings.TrimSpace(s) != "" {
			r.Items = append(r.Items, botrelay.Item{Message: &botrelay.Message{Text: s, EncodedMetadata: it.EncodedMetadata}})
		}
	case "delay":
		d, err := parseDelay(where+": value", it.Value, nil)
		if err != nil {
			return err
		}
		r.Items = append(r.Items, botrelay.Item{Delay: d})
	case "private-message":
		var v struct {
			Text            string `json:"text"`
			MessageAudience string `json:"messageAudience"`
		}
		if json.Unmarshal(it.Value, &v) != nil || strings.TrimSpace(v.Text) == "" {
			return parserErr("%s: value must be {text, messageAudience} with a text", where)
		}
		if v.MessageAudience != botrelay.AudienceAgentsAndManagers {
			return parserErr("%s: value.messageAudience must be AGENTS_AND_MANAGERS", where)
		}
		r.Items = append(r.Items, botrelay.Item{Message: &botrelay.Message{Text: v.Text, Audience: botrelay.AudienceAgentsAndManagers}})
	case "structured-content":
		var v struct {
			Metadata          json.RawMessage `json:"metadata"`
			StructuredContent json.RawMessage `json:"structuredContent"`
		}
		if json.Unmarshal(it.Value, &v) != nil || !present(v.StructuredContent) {
			return parserErr("%s: value must be {structuredContent, metadata}", where)
		}
		m, err := structured(where+": value.structuredContent", v.StructuredContent)
		if err != nil {
			return err
		}
		if m.Metadata, err = metadata(where+": value.metadata", v.Metadata); err != nil {
			return err
		}
		m.EncodedMetadata = it.EncodedMetadata
		r.Items = append(r.Items, botrelay.Item{Message: m})
	default:
		return vendorErr(botrelay.ErrVendorBadReply, CodeInvalidType, "%s: type %q is not text, delay, private-message or structured-content", where, it.Type)
	}
	return nil
}

// action maps channelData.action; an unknown name is invalid-name.
func action(where, name string, raw json.RawMessage, currentSkill string) (*botrelay.Action, error) {
	p := map[string]json.RawMessage{}
	if present(raw) {
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, parserErr("%s.parameters must be an object", where)
		}
	}
	str := func(k string) string {
		var s string
		if json.Unmarshal(p[k], &s) != nil {
			return idString(p[k])
		}
		return strings.TrimSpace(s)
	}
	switch name {
	case ActionTransfer:
		return transfer(where, str("skill"), str("agentId"), currentSkill)
	case ActionClose:
		var w bool
		if present(p["withoutPcs"]) && json.Unmarshal(p["withoutPcs"], &w) != nil {
			return nil, parserErr("%s.parameters.withoutPcs must be true or false", where)
		}
		return &botrelay.Action{Kind: botrelay.ActionClose, WithoutPCS: w}, nil
	case ActionChangeTTR:
		a := &botrelay.Action{Kind: botrelay.ActionChangeTTR, TTR: str("ttrType")}
		switch a.TTR {
		case "URGENT", "NORMAL", "PRIORITIZED":
		case "CUSTOM":
			secs, err := strconv.Atoi(str("value"))
			if err != nil || secs < 0 {
				return nil, parserErr("%s.parameters.value must be a whole number of seconds with ttrType CUSTOM", where)
			}
			a.TTRSeconds = secs
		default:
			return nil, parserErr("%s.parameters.ttrType %q is not URGENT, NORMAL, PRIORITIZED or CUSTOM", where, a.TTR)
		}
		return a, nil
	case ActionInvocation:
		id := str("lambdaUuid")
		if id == "" {
			return nil, parserErr("%s.parameters.lambdaUuid is required", where)
		}
		var fail bool
		if present(p["failOnError"]) && json.Unmarshal(p["failOnError"], &fail) != nil {
			return nil, parserErr("%s.parameters.failOnError must be true or false", where)
		}
		a := &botrelay.Action{Kind: botrelay.ActionInvokeFunction, FunctionID: id, FailOnError: fail}
		if present(p["payload"]) {
			a.Payload = p["payload"]
		}
		return a, nil
	}
	return nil, vendorErr(botrelay.ErrVendorBadReply, CodeInvalidName, "%s: action %q is not TRANSFER, CLOSE_CONVERSATION, CHANGE_TTR or INVOCATION", where, name)
}

func transfer(where, skill, agent, currentSkill string) (*botrelay.Action, error) {
	if skill == "" && agent == "" {
		return nil, parserErr("%s: a transfer needs a skill, an agentId or both", where)
	}
	if skill == "" {
		skill = currentSkill
	}
	return &botrelay.Action{Kind: botrelay.ActionTransfer, Skill: skill, AgentID: agent}, nil
}

// idString reads an id given as a string or a number.
func idString(raw json.RawMessage) string {
	if !present(raw) {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.TrimSpace(s)
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}
