package ebot7

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"regexp"
	"strconv"
	"strings"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/kit"
)

// TransferPrefix starts the text of a Bot Message that transfers:
// "CONVERSATION_TRANSFER <skill>" or "CONVERSATION_TRANSFER <skill> <agentId>".
const TransferPrefix = "CONVERSATION_TRANSFER"

var transferPattern = regexp.MustCompile(`^CONVERSATION_TRANSFER ([^ ]+)(?: ([^ ]+))?$`)

// VideoButtonTitle is the title of the link button a video becomes.
const VideoButtonTitle = "Watch the video"

func badReply(format string, args ...any) error {
	return vendorErr(botrelay.ErrVendorBadReply, CodeInvalidBody, format, args...)
}

// ParseResponse implements botrelay.HookableBot: it turns the collected
// bot messages into a Reply. Each message's text comes first (with its
// selection options as quick replies), then its images and videos. A text
// that is a CONVERSATION_TRANSFER command is the transfer action and is not
// sent; an archived conversation (End Flow) closes. One action per reply:
// later ones go to Skipped.
func (b *Bot) ParseResponse(ctx context.Context, t *botrelay.Turn, resp json.RawMessage) (*botrelay.Reply, error) {
	var c Collected
	if s := bytes.TrimSpace(resp); len(s) == 0 || s[0] != '{' || json.Unmarshal(s, &c) != nil {
		return nil, badReply("the collected answer is not {\"convId\",\"isArchived\",\"messages\":[…]}%s", kit.Snippet(resp))
	}
	reply := &botrelay.Reply{}
	setAction := func(a *botrelay.Action) {
		if reply.Action != nil {
			reply.Skipped = append(reply.Skipped, string(a.Kind))
			return
		}
		reply.Action = a
	}
	for i, m := range c.Messages {
		where := "messages[" + strconv.Itoa(i) + "]"
		text, media := fromHTML(m.Body)
		trimmed := strings.TrimSpace(text)
		switch {
		case strings.HasPrefix(trimmed, TransferPrefix):
			g := transferPattern.FindStringSubmatch(trimmed)
			if g == nil {
				return nil, badReply("%s: %q is not \"CONVERSATION_TRANSFER <skill>\" or \"CONVERSATION_TRANSFER <skill> <agentId>\" (single spaces)", where, trimmed)
			}
			setAction(&botrelay.Action{Kind: botrelay.ActionTransfer, Skill: g[1], AgentID: g[2]})
		case trimmed != "":
			msg, err := withOptions(where, text, m.PromptOptions, t.Conversation.Type)
			if err != nil {
				return nil, err
			}
			reply.Items = append(reply.Items, botrelay.Item{Message: msg})
		}
		for _, md := range media {
			reply.Items = append(reply.Items, botrelay.Item{Message: &botrelay.Message{StructuredContent: md}})
		}
	}
	if c.IsArchived {
		setAction(&botrelay.Action{Kind: botrelay.ActionClose})
	}
	return reply, nil
}

// option is one choice of a Visitor Input: Selection.
type option struct {
	Body   string `json:"body"`
	Href   string `json:"href"`
	IsFile bool   `json:"isFile"`
}

// withOptions attaches a message's prompt options: in a messaging
// conversation, options without a link are quick replies publishing their
// text; otherwise (chat, or any link among them) a vertical card of the
// text and one button per option (publishText, or link for href).
func withOptions(where, text string, raw json.RawMessage, typ botrelay.ConversationType) (*botrelay.Message, error) {
	var opts []option
	if s := bytes.TrimSpace(raw); len(s) > 0 && !bytes.Equal(s, []byte("null")) {
		switch s[0] {
		case '[':
			if json.Unmarshal(s, &opts) != nil {
				return nil, badReply("%s.promptOptions must be an array of {body, href, isFile}", where)
			}
		case '{':
			var o option
			if json.Unmarshal(s, &o) != nil {
				return nil, badReply("%s.promptOptions must be {body, href, isFile}", where)
			}
			opts = []option{o}
		default:
			return nil, badReply("%s.promptOptions must be an array of {body, href, isFile}", where)
		}
	}
	var keep []option
	links := false
	for _, o := range opts {
		o.Body = strings.TrimSpace(plain(o.Body))
		if o.Body == "" {
			continue
		}
		links = links || o.Href != ""
		keep = append(keep, o)
	}
	if len(keep) == 0 {
		return &botrelay.Message{Text: text}, nil
	}
	if typ != botrelay.Chat && !links {
		var replies []any
		for _, o := range keep {
			replies = append(replies, map[string]any{"type": "button", "title": o.Body, "tooltip": o.Body,
				"click": map[string]any{"actions": []any{map[string]any{"type": "publishText", "text": o.Body}}}})
		}
		return &botrelay.Message{Text: text, QuickReplies: mustJSON(map[string]any{"type": "quickReplies", "itemsPerRow": 8, "replies": replies})}, nil
	}
	els := []any{map[string]any{"type": "text", "text": text}}
	for _, o := range keep {
		act := map[string]any{"type": "publishText", "text": o.Body}
		if o.Href != "" {
			act = map[string]any{"type": "link", "name": o.Body, "uri": o.Href}
		}
		els = append(els, map[string]any{"type": "button", "title": o.Body, "tooltip": o.Body, "click": map[string]any{"actions": []any{act}}})
	}
	return &botrelay.Message{StructuredContent: mustJSON(map[string]any{"type": "vertical", "elements": els})}, nil
}

var (
	imgPattern   = regexp.MustCompile(`(?is)<img\b[^>]*?\bsrc\s*=\s*["']([^"']+)["'][^>]*>`)
	videoPattern = regexp.MustCompile(`(?is)<(?:video|source|iframe)\b[^>]*?\bsrc\s*=\s*["']([^"']+)["'][^>]*>`)
	dropPattern  = regexp.MustCompile(`(?is)<(script|style|video|iframe)\b.*?</\s*(script|style|video|iframe)\s*>`)
	breakPattern = regexp.MustCompile(`(?i)<\s*br\s*/?\s*>|</\s*(p|div|li|h[1-6])\s*>`)
	tagPattern   = regexp.MustCompile(`(?s)<[^>]*>`)
	spacePattern = regexp.MustCompile(`[ \t]+`)
	linesPattern = regexp.MustCompile(`\n{3,}`)
)

// fromHTML splits an e-bot7 message body (HTML) into its plain text and
// its media as structured content: each image as an image, each video as a
// button linking to it.
func fromHTML(body string) (string, []json.RawMessage) {
	var media []json.RawMessage
	for _, m := range mediaMatches(body) {
		if m.video {
			media = append(media, mustJSON(map[string]any{"type": "vertical", "elements": []any{map[string]any{
				"type": "button", "title": VideoButtonTitle, "tooltip": VideoButtonTitle,
				"click": map[string]any{"actions": []any{map[string]any{"type": "link", "name": VideoButtonTitle, "uri": m.url}}}}}}))
		} else {
			media = append(media, mustJSON(map[string]any{"type": "vertical", "elements": []any{map[string]any{"type": "image", "url": m.url}}}))
		}
	}
	return plain(body), media
}

type mediaRef struct {
	pos   int
	url   string
	video bool
}

func mediaMatches(body string) []mediaRef {
	var out []mediaRef
	for _, m := range imgPattern.FindAllStringSubmatchIndex(body, -1) {
		out = append(out, mediaRef{pos: m[0], url: html.UnescapeString(body[m[2]:m[3]])})
	}
	seen := map[string]bool{}
	for _, m := range videoPattern.FindAllStringSubmatchIndex(body, -1) {
		u := html.UnescapeString(body[m[2]:m[3]])
		if seen[u] {
			continue
		}
		seen[u] = true
		out = append(out, mediaRef{pos: m[0], url: u, video: true})
	}
	// In the order they appear.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].pos < out[j-1].pos; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// plain turns HTML into plain text: line breaks for <br> and block ends,
// tags dropped, entities decoded, spaces collapsed.
func plain(s string) string {
	s = dropPattern.ReplaceAllString(s, "")
	s = breakPattern.ReplaceAllString(s, "\n")
	s = tagPattern.ReplaceAllString(s, "")
	s = html.UnescapeString(s)
	s = strings.ReplaceAll(s, "\u00a0", " ")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(spacePattern.ReplaceAllString(l, " "))
	}
	return strings.TrimSpace(linesPattern.ReplaceAllString(strings.Join(lines, "\n"), "\n\n"))
}

func mustJSON(v any) json.RawMessage {
	out, _ := json.Marshal(v)
	return out
}
