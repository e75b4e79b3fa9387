package function

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

// The callback result (spec §3.8, F17–F25) and its translation to a Reply.

// badReply is a result that breaks the contract.
func badReply(format string, args ...any) error {
	return invokeError(botrelay.ErrVendorBadReply, CodeInvokeLambda, "invalid result: "+format, args...)
}

// fields is a decoded JSON object.
type fields map[string]json.RawMessage

// get returns the field's raw value, nil when absent or null.
func (f fields) get(key string) json.RawMessage {
	v, ok := f[key]
	if !ok || isNull(v) {
		return nil
	}
	return v
}

func isNull(raw json.RawMessage) bool { return len(raw) == 0 || string(raw) == "null" }

func decodeObject(raw json.RawMessage) (fields, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, false
	}
	var f fields
	if json.Unmarshal(raw, &f) != nil {
		return nil, false
	}
	return f, true
}

// str decodes an optional string field.
func (f fields) str(key, path string) (string, error) {
	v := f.get(key)
	if v == nil {
		return "", nil
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return "", badReply("%s must be a string", path)
	}
	return s, nil
}

// boolean decodes an optional boolean field; "true" and "false" strings are
// accepted, as templates often write them.
func (f fields) boolean(key, path string) (bool, error) {
	v := f.get(key)
	if v == nil {
		return false, nil
	}
	var b bool
	if json.Unmarshal(v, &b) == nil {
		return b, nil
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		if b, err := strconv.ParseBool(s); err == nil {
			return b, nil
		}
	}
	return false, badReply("%s must be a boolean", path)
}

// number decodes an optional number field; numeric strings are accepted.
func (f fields) number(key, path string) (float64, bool, error) {
	v := f.get(key)
	if v == nil {
		return 0, false, nil
	}
	var n float64
	if json.Unmarshal(v, &n) == nil {
		return n, true, nil
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		if n, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
			return n, true, nil
		}
	}
	return 0, false, badReply("%s must be a number", path)
}

// metadata normalises a metadata value: an object becomes a one-element
// array (F23).
func metadata(raw json.RawMessage, path string) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if isNull(raw) {
		return nil, nil
	}
	switch raw[0] {
	case '[':
		return raw, nil
	case '{':
		return json.RawMessage("[" + string(raw) + "]"), nil
	}
	return nil, badReply("%s must be an object or an array", path)
}

// defaults are the reply-wide values of context that messages inherit.
type defaults struct {
	encodedMetadata string
	metadata        json.RawMessage // nil when context.metadata belongs to the legacy structured content
}

// parseResult translates the callback result's JSON.
func parseResult(result []byte) (*botrelay.Reply, error) {
	top, ok := decodeObject(result)
	if !ok {
		if isNull(bytes.TrimSpace(result)) {
			return nil, invokeError(botrelay.ErrVendorBadReply, CodeMissingResponseBody, "the function called back without a result")
		}
		return nil, badReply("the result must be an object")
	}
	ctx := fields{}
	if raw := top.get("context"); raw != nil {
		if ctx, ok = decodeObject(raw); !ok {
			return nil, badReply("context must be an object")
		}
	}
	var d defaults
	var err error
	if d.encodedMetadata, err = ctx.str("encodedMetadata", "context.encodedMetadata"); err != nil {
		return nil, err
	}
	ctxMeta, err := metadata(ctx.get("metadata"), "context.metadata")
	if err != nil {
		return nil, err
	}
	legacy := ctx.get("structuredContent")
	if legacy == nil {
		d.metadata = ctxMeta
	}

	reply := &botrelay.Reply{}
	if raw := top.get("messages"); raw != nil {
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return nil, badReply("messages must be an array")
		}
		for i, item := range items {
			it, err := parseItem(item, fmt.Sprintf("messages[%d]", i), d)
			if err != nil {
				return nil, err
			}
			if it != nil {
				reply.Items = append(reply.Items, *it)
			}
		}
	}
	if legacy != nil {
		// Legacy: the single structured content of context goes last (F24).
		m, err := structured(legacy, "context.structuredContent")
		if err != nil {
			return nil, err
		}
		m.Metadata = ctxMeta
		m.EncodedMetadata = d.encodedMetadata
		reply.Items = append(reply.Items, botrelay.Item{Message: m})
	}
	if err := parseActions(ctx, reply); err != nil {
		return nil, err
	}
	if id, _ := ctx.str("intentId", "context.intentId"); id != "" {
		name, _ := ctx.str("intentName", "context.intentName")
		score, _, _ := ctx.number("confidenceScore", "context.confidenceScore")
		reply.Intents = []botrelay.Intent{{ID: id, Name: name, Confidence: score}}
	}
	return reply, nil
}

// parseItem translates one entry of messages; nil for a skipped blank text.
func parseItem(raw json.RawMessage, path string, d defaults) (*botrelay.Item, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil, badReply("%s is not a valid string", path)
		}
		if strings.TrimSpace(s) == "" {
			return nil, nil // F17: blank texts are skipped
		}
		return &botrelay.Item{Message: &botrelay.Message{Text: s, Metadata: d.metadata, EncodedMetadata: d.encodedMetadata}}, nil
	}
	f, ok := decodeObject(raw)
	if !ok {
		return nil, badReply("%s must be a string or an object", path)
	}
	kinds := 0
	for _, k := range []string{"structuredContent", "delay", "text"} {
		if f.get(k) != nil {
			kinds++
		}
	}
	if kinds != 1 {
		return nil, badReply("%s must have exactly one of structuredContent, delay and text", path)
	}
	switch {
	case f.get("delay") != nil:
		secs, _, err := f.number("delay", path+".delay")
		if err != nil {
			return nil, err
		}
		if secs < 0 || math.IsInf(secs, 0) || secs > 24*3600 {
			return nil, badReply("%s.delay must be a number of seconds between 0 and 86400", path)
		}
		typing := true
		if f.get("typing") != nil {
			if typing, err = f.boolean("typing", path+".typing"); err != nil {
				return nil, err
			}
		}
		return &botrelay.Item{Delay: &botrelay.Delay{Duration: time.Duration(secs * float64(time.Second)), Typing: typing}}, nil

	case f.get("text") != nil:
		text, err := f.str("text", path+".text")
		if err != nil {
			return nil, err
		}
		audience, err := f.str("messageAudience", path+".messageAudience")
		if err != nil {
			return nil, err
		}
		m := &botrelay.Message{Text: text}
		switch audience {
		case "", "ALL":
			m.Audience = botrelay.AudienceAll
		case botrelay.AudienceAgentsAndManagers:
			m.Audience = botrelay.AudienceAgentsAndManagers
		default:
			// Never publish a misspelt private note to the consumer.
			return nil, badReply("%s.messageAudience must be %q", path, botrelay.AudienceAgentsAndManagers)
		}
		if strings.TrimSpace(text) == "" {
			return nil, nil
		}
		if err := ownMetadata(f, path, d, m); err != nil {
			return nil, err
		}
		return &botrelay.Item{Message: m}, nil

	default:
		m, err := structured(f.get("structuredContent"), path+".structuredContent")
		if err != nil {
			return nil, err
		}
		if err := ownMetadata(f, path, d, m); err != nil {
			return nil, err
		}
		return &botrelay.Item{Message: m}, nil
	}
}

// ownMetadata sets a message's metadata and encoded metadata: its own when
// it has them, else the reply-wide ones.
func ownMetadata(f fields, path string, d defaults, m *botrelay.Message) error {
	meta, err := metadata(f.get("metadata"), path+".metadata")
	if err != nil {
		return err
	}
	if meta == nil {
		meta = d.metadata
	}
	m.Metadata = meta
	enc, err := f.str("encodedMetadata", path+".encodedMetadata")
	if err != nil {
		return err
	}
	if enc == "" {
		enc = d.encodedMetadata
	}
	m.EncodedMetadata = enc
	return nil
}

// structured translates a structuredContent object: quick replies (F19)
// become a text with QuickReplies, anything else is forwarded as is (F18).
func structured(raw json.RawMessage, path string) (*botrelay.Message, error) {
	sc, ok := decodeObject(raw)
	if !ok {
		return nil, badReply("%s must be an object", path)
	}
	if qr := sc.get("quickReplies"); qr != nil {
		if _, ok := decodeObject(qr); !ok {
			return nil, badReply("%s.quickReplies must be an object", path)
		}
		text, err := sc.str("message", path+".message")
		if err != nil {
			return nil, err
		}
		if strings.TrimSpace(text) == "" {
			return nil, badReply("%s.message is mandatory with quickReplies", path)
		}
		return &botrelay.Message{Text: text, QuickReplies: qr}, nil
	}
	return &botrelay.Message{StructuredContent: bytes.TrimSpace(raw)}, nil
}

// The action names of the Functions vendor (spec §3.1).
var actionKinds = map[string]botrelay.ActionKind{
	"TRANSFER":           botrelay.ActionTransfer,
	"CLOSE_CONVERSATION": botrelay.ActionClose,
	"CHANGE_TTR":         botrelay.ActionChangeTTR,
	"INVOCATION":         botrelay.ActionInvokeFunction,
}

// parseActions reads context.action and context.actionParameters: the
// first known action is the reply's action (F25), the rest and unknown
// names go to Skipped (F16).
func parseActions(ctx fields, reply *botrelay.Reply) error {
	raw := ctx.get("action")
	if raw == nil {
		return nil
	}
	var names []string
	var one string
	var params []json.RawMessage
	switch {
	case json.Unmarshal(raw, &one) == nil:
		if one == "" {
			return nil
		}
		names = []string{one}
		params = []json.RawMessage{ctx.get("actionParameters")}
	case json.Unmarshal(raw, &names) == nil:
		p := ctx.get("actionParameters")
		if p != nil && bytes.TrimSpace(p)[0] == '[' {
			if json.Unmarshal(p, &params) != nil {
				return badReply("context.actionParameters must be an object or an array of objects")
			}
		} else {
			params = []json.RawMessage{p}
		}
	default:
		return badReply("context.action must be a string")
	}
	for i, name := range names {
		kind, known := actionKinds[name]
		if !known || reply.Action != nil {
			reply.Skipped = append(reply.Skipped, name)
			continue
		}
		var p json.RawMessage
		if i < len(params) {
			p = params[i]
		}
		a, err := parseAction(kind, name, p)
		if err != nil {
			return err
		}
		reply.Action = a
	}
	return nil
}

func parseAction(kind botrelay.ActionKind, name string, raw json.RawMessage) (*botrelay.Action, error) {
	p := fields{}
	if !isNull(raw) {
		var ok bool
		if p, ok = decodeObject(raw); !ok {
			return nil, badReply("context.actionParameters of %s must be an object", name)
		}
	}
	a := &botrelay.Action{Kind: kind}
	var err error
	switch kind {
	case botrelay.ActionTransfer:
		if a.Skill, err = p.str("skill", "context.actionParameters.skill"); err != nil {
			return nil, err
		}
		if a.AgentID, err = idString(p.get("agentId")); err != nil {
			return nil, err
		}
		if a.Skill == "" && a.AgentID == "" {
			return nil, badReply("context.actionParameters.skill is mandatory for TRANSFER")
		}
	case botrelay.ActionClose:
		if a.WithoutPCS, err = p.boolean("withoutPcs", "context.actionParameters.withoutPcs"); err != nil {
			return nil, err
		}
		// A survey bot's result (any JSON), stored with the survey's answers.
		if v := p.get("result"); v != nil {
			a.Payload = bytes.TrimSpace(v)
		}
	case botrelay.ActionChangeTTR:
		// Passed on as given: the platform rejects a bad type or value and
		// the relay logs connector.messaging.change-ttr (F29).
		if a.TTR, err = p.str("ttrType", "context.actionParameters.ttrType"); err != nil {
			return nil, err
		}
		if v, ok, err := p.number("value", "context.actionParameters.value"); err == nil && ok {
			a.TTRSeconds = int(v)
		}
	case botrelay.ActionInvokeFunction:
		if a.FunctionID, err = p.str("lambdaUuid", "context.actionParameters.lambdaUuid"); err != nil {
			return nil, err
		}
		if a.FunctionID == "" {
			return nil, badReply("context.actionParameters.lambdaUuid is mandatory for INVOCATION")
		}
		if v := p.get("payload"); v != nil {
			a.Payload = bytes.TrimSpace(v)
		}
		if a.FailOnError, err = p.boolean("failOnError", "context.actionParameters.failOnError"); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// idString accepts an agent id written as a string or a number.
func idString(raw json.RawMessage) (string, error) {
	if raw == nil {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String(), nil
	}
	return "", badReply("context.actionParameters.agentId must be a string")
}
