package watson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/botrelay/botrelay"
)

// Translation of a Watson answer (output, actions, intents, context) into a
// botrelay Reply (spec §3.2 content mapping and actions; F17–F25).

// The LivePerson action names (spec §3.1, Watson column).
const (
	ActionTransfer          = "TRANSFER"
	ActionCloseConversation = "CLOSE_CONVERSATION"
	ActionChangeTTR         = "CHANGE_TTR"
	ActionInvocation        = "INVOCATION"
)

// parseErr is a reply the parser cannot translate.
func parseErr(code, format string, args ...any) error {
	return vendorErr(botrelay.ErrVendorBadReply, code, format, args...)
}

// parseInput is what a reply is made of, taken from a v1 or v2 answer.
type parseInput struct {
	output  json.RawMessage // the output object
	actions json.RawMessage // the client actions array
	intents json.RawMessage // the intents array
	// encodedMetadata is the context's encodedMetadata in effect for this
	// reply ("" for none).
	encodedMetadata string
	convType        botrelay.ConversationType
	currentSkill    string
	// escalationSkill is the bot's escalation skill, the target of a
	// connect_to_agent answer that names none.
	escalationSkill string
}

// translate builds the Reply. Texts from output.generic, or from the
// legacy output.text when there is no generic output; then the first
// known client action; intents for analytics.
func translate(in parseInput) (*botrelay.Reply, error) {
	r := &botrelay.Reply{}
	p := &parser{in: in, r: r}
	if !absent(in.output) {
		out, ok := asObject(in.output)
		if !ok {
			return nil, parseErr(CodeParseMessageFailed, "output must be a JSON object")
		}
		switch {
		case out.has("generic") && !isEmptyArray(out["generic"]):
			var items []json.RawMessage
			if json.Unmarshal(out["generic"], &items) != nil {
				return nil, parseErr(CodeParseMessageFailed, "output.generic must be an array")
			}
			for i, raw := range items {
				if err := p.generic(fmt.Sprintf("output.generic[%d]", i), raw); err != nil {
					return nil, err
				}
			}
		case out.has("text"):
			if err := p.legacyText(out["text"]); err != nil {
				return nil, err
			}
		}
	}
	if err := p.actions(in.actions); err != nil {
		return nil, err
	}
	if p.agentTransfer != nil {
		if r.Action == nil {
			r.Action = p.agentTransfer
		} else {
			r.Skipped = append(r.Skipped, "connect_to_agent")
		}
	}
	r.Intents = intents(in.intents)
	if in.encodedMetadata != "" && in.convType != botrelay.Chat {
		for _, it := range r.Items {
			if m := it.Message; m != nil && m.EncodedMetadata == "" {
				m.EncodedMetadata = in.encodedMetadata
			}
		}
	}
	if in.convType == botrelay.Chat {
		for _, it := range r.Items {
			if it.Message != nil {
				it.Message.EncodedMetadata = "" // F22: not for chat
			}
		}
	}
	return r, nil
}

func isEmptyArray(raw json.RawMessage) bool {
	var a []json.RawMessage
	return json.Unmarshal(raw, &a) == nil && len(a) == 0
}

type parser struct {
	in parseInput
	r  *botrelay.Reply
	// agentTransfer is the transfer a connect_to_agent answer asks for.
	agentTransfer *botrelay.Action
}

func (p *parser) add(m *botrelay.Message) {
	if m != nil {
		p.r.Items = append(p.r.Items, botrelay.Item{Message: m})
	}
}

// generic translates one output.generic item.
func (p *parser) generic(where string, raw json.RawMessage) error {
	it, ok := asObject(raw)
	if !ok {
		return parseErr(CodeParseMessageFailed, "%s must be a JSON object", where)
	}
	typ, err := it.text("response_type", where, CodeParseMessageFailed)
	if err != nil {
		return err
	} else if typ == "" {
		return parseErr(CodeParseMessageFailed, "%s.response_type is required", where)
	}
	where += " (" + typ + ")"
	switch typ {
	case "text":
		if it.has("text") {
			return p.textValue(where+".text", it["text"])
		}
		if it.has("values") {
			return p.values(where, it)
		}
		return parseErr(CodeUndefinedText, "%s has no text", where)
	case "pause":
		return p.pause(where, it)
	case "image":
		return p.image(where, it)
	case "option":
		return p.choice(where, it, "options")
	case "suggestion":
		return p.choice(where, it, "suggestions")
	case "user_defined":
		ud, ok := asObject(it["user_defined"])
		if !ok {
			return parseErr(CodeUndefinedStructuredContent, "%s.user_defined must be an object with structuredContent", where)
		}
		return p.custom(where+".user_defined", ud)
	case "search":
		return p.search(where, it)
	case "connect_to_agent":
		return p.connectToAgent(where, it)
	}
	return parseErr(CodeFormatNotSupported, "%s: response type %q is not supported", where, typ)
}

// values translates the JSON-editor form {values:[{text}…],
// selection_policy}: every value with selection_policy "multiline", else
// the first.
func (p *parser) values(where string, it jobj) error {
	var vals []json.RawMessage
	if json.Unmarshal(it["values"], &vals) != nil || len(vals) == 0 {
		return parseErr(CodeUndefinedText, "%s.values must be a non-empty array", where)
	}
	policy, _, _ := it.str("selection_policy")
	if policy != "multiline" {
		vals = vals[:1]
	}
	for i, v := range vals {
		w := fmt.Sprintf("%s.values[%d]", where, i)
		if o, ok := asObject(v); ok && !o.has("structuredContent") && o.has("text") {
			// {"text": "..."} is a value wrapper; the text itself may hold
			// JSON.
			if err := p.textValue(w+".text", o["text"]); err != nil {
				return err
			}
			continue
		}
		if err := p.textValue(w, v); err != nil {
			return err
		}
	}
	return nil
}

// legacyText translates output.text: an array of strings or objects, or
// the JSON-editor object {values, selection_policy}.
func (p *parser) legacyText(raw json.RawMessage) error {
	if o, ok := asObject(raw); ok {
		if !o.has("values") {
			return p.textValue("output.text", raw)
		}
		var vals []json.RawMessage
		if json.Unmarshal(o["values"], &vals) != nil {
			return parseErr(CodeUndefinedText, "output.text.values must be an array")
		}
		policy, _, _ := o.str("selection_policy")
		if policy != "multiline" && len(vals) > 1 {
			vals = vals[:1]
		}
		for i, v := range vals {
			if err := p.textValue(fmt.Sprintf("output.text.values[%d]", i), v); err != nil {
				return err
			}
		}
		return nil
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return p.textValue("output.text", raw)
		}
		return parseErr(CodeUndefinedText, "output.text must be an array of texts")
	}
	for i, v := range items {
		if err := p.textValue(fmt.Sprintf("output.text[%d]", i), v); err != nil {
			return err
		}
	}
	return nil
}

// textValue translates a text: a plain string; a string holding a JSON
// object (structured content, or a text with messageAudience / metadata /
// encodedMetadata, as the reference product reads it); or such an object
// itself.
func (p *parser) textValue(where string, raw json.RawMessage) error {
	if absent(raw) {
		return parseErr(CodeUndefinedText, "%s is undefined", where)
	}
	if o, ok := asObject(raw); ok {
		return p.custom(where, o)
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return parseErr(CodeUndefinedText, "%s must be a string", where)
	}
	if t := strings.TrimSpace(s); strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}") {
		if o, ok := asObject(json.RawMessage(t)); ok {
			return p.custom(where, o)
		}
	}
	if strings.TrimSpace(s) == "" {
		return nil // F17: blank texts are skipped
	}
	p.add(&botrelay.Message{Text: s})
	return nil
}

// custom translates a JSON object the bot wrote: {structuredContent,
// metadata?, encodedMetadata?} is structured content (or quick replies when
// structuredContent has quickReplies and message); {text,
// messageAudience?, metadata?, encodedMetadata?} is a text, private for
// messageAudience AGENTS_AND_MANAGERS.
func (p *parser) custom(where string, o jobj) error {
	enc, err := o.text("encodedMetadata", where, CodeParseMessageFailed)
	if err != nil {
		return err
	}
	md, err := o.metadata(where)
	if err != nil {
		return err
	}
	if o.has("structuredContent") {
		sc, ok := asObject(o["structuredContent"])
		if !ok {
			return parseErr(CodeUndefinedStructuredContent, "%s.structuredContent must be a JSON object", where)
		}
		m := &botrelay.Message{Metadata: md, EncodedMetadata: enc}
		if sc.has("quickReplies") {
			if _, ok := asObject(sc["quickReplies"]); !ok {
				return parseErr(CodeUndefinedStructuredContent, "%s.structuredContent.quickReplies must be a JSON object", where)
			}
			msg, _, _ := sc.str("message")
			if strings.TrimSpace(msg) == "" {
				return parseErr(CodeUndefinedText, "%s.structuredContent.message (the text sent with the quick replies) is required", where)
			}
			m.Text, m.QuickReplies = msg, sc["quickReplies"]
		} else {
			m.StructuredContent = compact(o["structuredContent"])
		}
		p.add(m)
		return nil
	}
	if !o.has("text") {
		return parseErr(CodeUndefinedStructuredContent, "%s has neither structuredContent nor text", where)
	}
	text, err := o.text("text", where, CodeUndefinedText)
	if err != nil {
		return err
	}
	aud, err := o.text("messageAudience", where, CodeParseMessageFailed)
	if err != nil {
		return err
	}
	switch aud {
	case "", "ALL":
		aud = botrelay.AudienceAll
	case botrelay.AudienceAgentsAndManagers:
	default:
		return parseErr(CodeFormatNotSupported, "%s.messageAudience %q is not AGENTS_AND_MANAGERS or ALL (case sensitive)", where, aud)
	}
	if strings.TrimSpace(text) == "" {
		return nil
	}
	p.add(&botrelay.Message{Text: text, Audience: aud, Metadata: md, EncodedMetadata: enc})
	return nil
}

func compact(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return raw
	}
	return b.Bytes()
}

// maxPause bounds a pause (one day), as a sanity limit.
const maxPause = 24 * time.Hour

// pause translates {time (ms), typing}; typing defaults to true (F20).
func (p *parser) pause(where string, it jobj) error {
	if !it.has("time") {
		return parseErr(CodeUndefinedTime, "%s.time (milliseconds) is required", where)
	}
	ms := -1.0
	var n json.Number
	if json.Unmarshal(it["time"], &n) == nil {
		ms, _ = n.Float64()
	}
	if ms < 0 || math.IsNaN(ms) || time.Duration(ms)*time.Millisecond > maxPause {
		return parseErr(CodeUndefinedTime, "%s.time must be a number of milliseconds between 0 and 86400000", where)
	}
	typing, err := it.boolean("typing", where, true)
	if err != nil {
		return err
	}
	p.r.Items = append(p.r.Items, botrelay.Item{Delay: &botrelay.Delay{Duration: time.Duration(ms * float64(time.Millisecond)), Typing: typing}})
	return nil
}

// image translates {source, title, description, alt_text} into structured
// content: the image, then title and description as texts.
func (p *parser) image(where string, it jobj) error {
	src, _, _ := it.str("source")
	if strings.TrimSpace(src) == "" {
		return parseErr(CodeUndefinedSource, "%s.source (the image URL) is required", where)
	}
	title, _, _ := it.str("title")
	desc, _, _ := it.str("description")
	alt, _, _ := it.str("alt_text")
	img := map[string]any{"type": "image", "url": src}
	if tip := firstNonBlank(alt, title); tip != "" {
		img["tooltip"] = tip
	}
	if title != "" {
		img["caption"] = title
	}
	elements := []any{img}
	if strings.TrimSpace(title) != "" {
		elements = append(elements, map[string]any{"type": "text", "text": title, "style": map[string]any{"bold": true}})
	}
	if strings.TrimSpace(desc) != "" {
		elements = append(elements, map[string]any{"type": "text", "text": desc})
	}
	p.add(&botrelay.Message{StructuredContent: mustJSON(map[string]any{"type": "vertical", "elements": elements})})
	return nil
}

func firstNonBlank(ss ...string) string {
	for _, s := range ss {
		if strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}

func mustJSON(v any) json.RawMessage {
	out, err := json.Marshal(v)
	if err != nil {
		panic(err) // only maps of strings and slices reach here
	}
	return out
}

type choiceItem struct{ label, text string }

// choice translates option ({title, description, options}) and suggestion
// (disambiguation: {title, suggestions}) responses. In messaging they
// become quick replies with the title (and description) as their text; in
// chat, or without a title, a structured-content card with one
// publishText button per choice. Choosing publishes value.input.text (the
// label when there is none).
func (p *parser) choice(where string, it jobj, key string) error {
	var list []json.RawMessage
	if json.Unmarshal(it[key], &list) != nil || len(list) == 0 {
		return parseErr(CodeUndefinedOptions, "%s.%s must be a non-empty array", where, key)
	}
	var items []choiceItem
	for _, raw := range list {
		o, ok := asObject(raw)
		if !ok {
			continue
		}
		label, _, _ := o.str("label")
		text := ""
		if v, ok := asObject(o["value"]); ok {
			if in, ok := asObject(v["input"]); ok {
				text, _, _ = in.str("text")
			}
		}
		label, text = strings.TrimSpace(label), strings.TrimSpace(text)
		if text == "" {
			text = label
		}
		if label == "" {
			label = text
		}
		if label != "" {
			items = append(items, choiceItem{label, text})
		}
	}
	if len(items) == 0 {
		return parseErr(CodeUndefinedOptions, "%s.%s has no choice with a label or value.input.text", where, key)
	}
	title, _, _ := it.str("title")
	desc, _, _ := it.str("description")
	title, desc = strings.TrimSpace(title), strings.TrimSpace(desc)
	if p.in.convType != botrelay.Chat && (title != "" || desc != "") {
		text := title
		if desc != "" {
			text = strings.TrimSpace(title + "\n" + desc)
		}
		replies := make([]any, len(items))
		for i, c := range items {
			replies[i] = map[string]any{
				"type": "button", "title": c.label, "tooltip": c.label,
				"click": map[string]any{
					"actions":  []any{map[string]any{"type": "publishText", "text": c.text}},
					"metadata": []any{map[string]any{"type": "ExternalId", "id": c.text}},
				},
			}
		}
		p.add(&botrelay.Message{Text: text, QuickReplies: mustJSON(map[string]any{"type": "quickReplies", "itemsPerRow": 8, "replies": replies})})
		return nil
	}
	var elements []any
	if title != "" {
		elements = append(elements, map[string]any{"type": "text", "text": title, "style": map[string]any{"bold": true}})
	}
	if desc != "" {
		elements = append(elements, map[string]any{"type": "text", "text": desc})
	}
	for _, c := range items {
		elements = append(elements, map[string]any{
			"type": "button", "title": c.label, "tooltip": c.label,
			"click": map[string]any{"actions": []any{map[string]any{"type": "publishText", "text": c.text}}},
		})
	}
	p.add(&botrelay.Message{StructuredContent: mustJSON(map[string]any{"type": "vertical", "elements": elements})})
	return nil
}

// search translates a search-skill answer (assistant v2
// response_type "search"): the header, then each of primary_results as its
// title and body (additional_results are the "more results" Watson's own
// web chat folds away; they are not sent). IBM renamed results to
// primary_results in December 2020.
func (p *parser) search(where string, it jobj) error {
	header, _, _ := it.str("header")
	if strings.TrimSpace(header) != "" {
		p.add(&botrelay.Message{Text: header})
	}
	var results []jobj
	_ = json.Unmarshal(it["primary_results"], &results)
	n := 0
	for _, r := range results {
		title, _, _ := r.str("title")
		body, _, _ := r.str("body")
		text := strings.TrimSpace(strings.TrimSpace(title) + "\n" + strings.TrimSpace(body))
		if text != "" {
			p.add(&botrelay.Message{Text: text})
			n++
		}
	}
	if n == 0 && strings.TrimSpace(header) == "" {
		return parseErr(CodeUndefinedText, "%s has neither a header nor primary_results with a title or body", where)
	}
	return nil
}

// connectToAgent translates response_type "connect_to_agent": a transfer
// to the skill transfer_info.target names (the first target holding a
// "skill" string, e.g. {"target":{"liveperson":{"skill":"human"}}}), else
// to the bot's escalation skill, with message_to_human_agent as a private
// note for the agent (AGENTS_AND_MANAGERS) before it. The transfer is the
// reply's action unless the answer also carries a client action.
func (p *parser) connectToAgent(where string, it jobj) error {
	if it.has("message_to_human_agent") {
		note, err := it.text("message_to_human_agent", where, CodeParseMessageFailed)
		if err != nil {
			return err
		}
		if strings.TrimSpace(note) != "" {
			p.add(&botrelay.Message{Text: note, Audience: botrelay.AudienceAgentsAndManagers})
		}
	}
	skill := ""
	if ti, ok := asObject(it["transfer_info"]); ok {
		if targets, ok := asObject(ti["target"]); ok {
			names := make([]string, 0, len(targets))
			for k := range targets {
				names = append(names, k)
			}
			sort.Strings(names)
			for _, k := range names {
				if tg, ok := asObject(targets[k]); ok {
					if s, _, isStr := tg.str("skill"); isStr && strings.TrimSpace(s) != "" {
						skill = strings.TrimSpace(s)
						break
					}
				}
			}
		}
	}
	if skill == "" {
		skill = p.in.escalationSkill
	}
	if skill == "" {
		return parseErr(CodeParseMessageFailed, "%s: transfer_info names no skill and the bot has no escalation skill", where)
	}
	if p.agentTransfer == nil {
		p.agentTransfer = &botrelay.Action{Kind: botrelay.ActionTransfer, Skill: skill}
	}
	return nil
}
