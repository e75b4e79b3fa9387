package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/kit"
)

func durationMs(ms int) time.Duration { return time.Duration(ms) * time.Millisecond }

func badReply(format string, args ...any) error {
	return vendorErr(botrelay.ErrVendorBadReply, CodeInvalidBody, format, args...)
}

// ParseResponse implements botrelay.HookableBot. The first choice's content
// (or, without content, its refusal) is a text; its first tool call is the action (a transfer's message is a
// text before it); further tool calls go to Skipped. The reply carries the
// new state: the history with this turn's user message and the assistant's
// text, trimmed to the bounds, and the tokens with usage.total_tokens added
// (estimated at 4 bytes a token when the server reports no usage). A turn
// that takes the conversation past its token budget is an error.
func (b *Bot) ParseResponse(ctx context.Context, t *botrelay.Turn, resp json.RawMessage) (*botrelay.Reply, error) {
	var cr ChatResponse
	if s := bytes.TrimSpace(resp); len(s) == 0 || s[0] != '{' || json.Unmarshal(s, &cr) != nil {
		return nil, badReply("the completion is not a chat.completion object%s", kit.Snippet(resp))
	}
	if len(cr.Choices) == 0 {
		return nil, badReply("the completion has no choices")
	}
	ch := cr.Choices[0]
	reply := &botrelay.Reply{}
	var said []string
	text := ""
	if c := ch.Message.Content; c != nil && strings.TrimSpace(*c) != "" {
		text = *c
	} else if r := ch.Message.Refusal; r != nil && strings.TrimSpace(*r) != "" {
		text = *r // the model's refusal is what it says to the customer
	}
	if text != "" {
		reply.Items = append(reply.Items, botrelay.Item{Message: &botrelay.Message{Text: text}})
		said = append(said, text)
	}
	for i, tc := range ch.Message.ToolCalls {
		name := tc.Function.Name
		if reply.Action != nil || (name != ToolTransfer && name != ToolClose) {
			reply.Skipped = append(reply.Skipped, name)
			continue
		}
		var args struct {
			Skill   string `json:"skill"`
			Message string `json:"message"`
		}
		if a := strings.TrimSpace(tc.Function.Arguments); a != "" && json.Unmarshal([]byte(a), &args) != nil {
			return nil, badReply("choices[0].message.tool_calls[%d] (%s): the arguments are not a JSON object", i, name)
		}
		switch name {
		case ToolTransfer:
			args.Skill = strings.TrimSpace(args.Skill)
			if args.Skill == "" {
				return nil, badReply("choices[0].message.tool_calls[%d] (%s): skill is required", i, name)
			}
			if strings.TrimSpace(args.Message) != "" {
				reply.Items = append(reply.Items, botrelay.Item{Message: &botrelay.Message{Text: args.Message}})
				said = append(said, args.Message)
			}
			reply.Action = &botrelay.Action{Kind: botrelay.ActionTransfer, Skill: args.Skill}
		case ToolClose:
			if strings.TrimSpace(args.Message) != "" {
				reply.Items = append(reply.Items, botrelay.Item{Message: &botrelay.Message{Text: args.Message}})
				said = append(said, args.Message)
			}
			reply.Action = &botrelay.Action{Kind: botrelay.ActionClose}
		}
	}
	if len(reply.Items) == 0 && reply.Action == nil {
		return nil, badReply("the completion has no text and no tool call (finish_reason %q)", ch.FinishReason)
	}

	st := decodeState(t.VendorState)
	user, _ := b.userContent(t)
	reported := 0
	if cr.Usage != nil {
		reported = cr.Usage.TotalTokens
	}
	st.Tokens += b.tokensUsed(reported, st.History, user, said)
	if max := b.cfg.MaxTokensPerConversation; max > 0 && st.Tokens > max {
		return nil, vendorErr(botrelay.ErrUnsupported, CodeTokenBudget, "this turn took the conversation to %d tokens; its budget is %d", st.Tokens, max)
	}
	st.History = append(st.History, ChatMessage{Role: "user", Content: user})
	if len(said) > 0 {
		st.History = append(st.History, ChatMessage{Role: "assistant", Content: strings.Join(said, "\n")})
	}
	st.History = trim(st.History, b.cfg.MaxHistoryMessages, b.cfg.MaxHistoryBytes)
	reply.VendorState, _ = json.Marshal(st)
	return reply, nil
}

// tokensUsed is the turn's usage.total_tokens or, when the server reports
// none, an estimate at 4 bytes a token of the system prompt, the history,
// the user's message and what the assistant said.
func (b *Bot) tokensUsed(reported int, history []ChatMessage, user string, said []string) int {
	if reported > 0 {
		return reported
	}
	n := len(b.cfg.SystemPrompt) + len(user) + len(strings.Join(said, "\n"))
	for _, m := range history {
		n += len(m.Content)
	}
	return (n + 3) / 4
}

// trim drops the oldest messages until at most maxMsgs remain whose
// contents add up to at most maxBytes, and then any assistant messages
// left at the start, so the history begins with a user message.
func trim(h []ChatMessage, maxMsgs, maxBytes int) []ChatMessage {
	size := 0
	for _, m := range h {
		size += len(m.Content)
	}
	for len(h) > 0 && (len(h) > maxMsgs || size > maxBytes || h[0].Role != "user") {
		size -= len(h[0].Content)
		h = h[1:]
	}
	return append([]ChatMessage(nil), h...)
}
