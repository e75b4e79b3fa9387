package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/botrelay/botrelay"
)

// The Public API's commands (spec §5): each route checks its body, stores
// the command as waiting for the bot that holds the conversation, wakes
// this node's relay and answers {"commandId"}.

// maxStructuredContent bounds a message's structured content (§5, F18).
const maxStructuredContent = 15000

// maxCommandDelay bounds one delay item of a messages command, in seconds.
const maxCommandDelay = 60

// commandTarget is what a command is checked against: the conversation and
// the bot that holds it.
type commandTarget struct {
	conv *botrelay.Conversation
	bot  *botrelay.Bot
}

// commandParser checks a command's body and returns its normalised
// payload.
type commandParser func(body []byte, t *commandTarget) (any, error)

// commandHandler is the route of one command type.
func (a *API) commandHandler(typ botrelay.CommandType, parse commandParser) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		ttl, err := commandTTL(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			a.writeError(w, r, botrelay.Errorf(botrelay.EINVALID, "the request body is larger than %d bytes", maxBody))
			return
		}
		t, err := a.commandTarget(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		payload, err := parse(body, t)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		raw, err := json.Marshal(payload)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		c := &botrelay.Command{AccountID: a.o.Account, BotID: t.bot.ID, ConversationID: t.conv.ID, Type: typ,
			Payload: raw, TimeoutAt: a.o.Now().Add(ttl)}
		if err := a.o.Store.CreateCommand(ctx, c); err != nil {
			a.writeError(w, r, err)
			return
		}
		a.o.Relay.WakeCommands()
		writeJSON(w, http.StatusOK, map[string]string{"commandId": c.ID})
	}
}

// commandTTL parses ?ttl (seconds, 10–120, default 30).
func commandTTL(r *http.Request) (time.Duration, error) {
	s := r.URL.Query().Get("ttl")
	if s == "" {
		return botrelay.CommandDefaultTTL, nil
	}
	n, err := strconv.Atoi(s)
	d := time.Duration(n) * time.Second
	if err != nil || d < botrelay.CommandMinTTL || d > botrelay.CommandMaxTTL {
		return 0, botrelay.Errorf(botrelay.EINVALID, "ttl must be a whole number of seconds from %d to %d",
			int(botrelay.CommandMinTTL/time.Second), int(botrelay.CommandMaxTTL/time.Second))
	}
	return d, nil
}

// commandTarget finds the conversation of the path and the bot that holds
// it: ENOTFOUND unless the conversation is open in this account and its
// assigned agent is a bot's user.
func (a *API) commandTarget(r *http.Request) (*commandTarget, error) {
	ctx := r.Context()
	id := botrelay.ConversationID(r.PathValue("conversationId"))
	notHandled := botrelay.Errorf(botrelay.ENOTFOUND, "conversation %q is not an active conversation handled by a bot", id)
	conv, err := a.o.Store.Conversation(ctx, id)
	if botrelay.ErrorCode(err) == botrelay.ENOTFOUND {
		return nil, notHandled
	} else if err != nil {
		return nil, err
	}
	agent := conv.AssignedAgent()
	if conv.AccountID != a.o.Account || conv.State != botrelay.ConversationOpen || agent == 0 {
		return nil, notHandled
	}
	b, err := a.botOfUser(ctx, agent)
	if err != nil {
		return nil, err
	}
	if b == nil || b.Type != botrelay.BotAgent {
		return nil, notHandled
	}
	return &commandTarget{conv: conv, bot: b}, nil
}

// strictJSON decodes body into v, refusing unknown fields; an empty body
// decodes as {} when empty is allowed.
func strictJSON(body []byte, v any, empty bool) error {
	if len(bytes.TrimSpace(body)) == 0 {
		if empty {
			return nil
		}
		return botrelay.Errorf(botrelay.EINVALID, "the request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return botrelay.Errorf(botrelay.EINVALID, "invalid JSON body: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return botrelay.Errorf(botrelay.EINVALID, "invalid JSON body: unexpected data after the object")
	}
	return nil
}

func parseClose(body []byte, _ *commandTarget) (any, error) {
	var v struct{}
	if err := strictJSON(body, &v, true); err != nil {
		return nil, err
	}
	return v, nil
}

func parseTransfer(body []byte, _ *commandTarget) (any, error) {
	var p botrelay.TransferPayload
	if err := strictJSON(body, &p, false); err != nil {
		return nil, err
	}
	if strings.TrimSpace(p.Skill) == "" {
		return nil, botrelay.Errorf(botrelay.EINVALID, "skill is required (the skill's name, case sensitive)")
	}
	return p, nil
}

func parseTTR(body []byte, t *commandTarget) (any, error) {
	var p botrelay.TTRPayload
	if err := strictJSON(body, &p, false); err != nil {
		return nil, err
	}
	if !botrelay.TTRType(p.TTRType).Valid() {
		return nil, botrelay.Errorf(botrelay.EINVALID, "ttrType must be URGENT, NORMAL or PRIORITIZED")
	}
	if t.bot.ConversationType == botrelay.Chat {
		return nil, botrelay.Errorf(botrelay.EINVALID, "ttr is for messaging conversations only; this bot handles chats")
	}
	return p, nil
}

func parseSDEs(body []byte, _ *commandTarget) (any, error) {
	var p botrelay.SDEsPayload
	if err := strictJSON(body, &p, false); err != nil {
		return nil, err
	}
	var entries []map[string]json.RawMessage
	if err := json.Unmarshal(p.SDEs, &entries); err != nil || len(entries) == 0 {
		return nil, botrelay.Errorf(botrelay.EINVALID, "sdes must be a non-empty array of engagement attributes")
	}
	for i, e := range entries {
		var typ string
		if json.Unmarshal(e["type"], &typ) != nil || typ == "" {
			return nil, botrelay.Errorf(botrelay.EINVALID, "sdes[%d].type is required", i)
		}
	}
	if p.SharkVisitorID == "" || p.SharkSessionID == "" {
		return nil, botrelay.Errorf(botrelay.EINVALID, "sharkVisitorId and sharkSessionId are required")
	}
	return p, nil
}

// messagesRequest is the messages command's body.
type messagesRequest struct {
	Context  json.RawMessage   `json:"context"`
	Messages []json.RawMessage `json:"messages"`
}

// messageItem is one object item of a messages command's body.
type messageItem struct {
	Text              *string         `json:"text"`
	StructuredContent json.RawMessage `json:"structuredContent"`
	QuickReplies      json.RawMessage `json:"quickReplies"`
	Metadata          json.RawMessage `json:"metadata"`
	EncodedMetadata   string          `json:"encodedMetadata"`
	MessageAudience   string          `json:"messageAudience"`
	Delay             *float64        `json:"delay"`
	Typing            bool            `json:"typing"`
}

func parseMessages(body []byte, t *commandTarget) (any, error) {
	var req messagesRequest
	if err := strictJSON(body, &req, false); err != nil {
		return nil, err
	}
	if len(req.Messages) == 0 || len(req.Messages) > 50 {
		return nil, botrelay.Errorf(botrelay.EINVALID, "messages must have 1 to 50 items")
	}
	if len(req.Context) > 0 && !isObject(req.Context) {
		return nil, botrelay.Errorf(botrelay.EINVALID, "context must be an object {intentId, intentName, confidenceScore}")
	}
	out := botrelay.MessagesPayload{Context: req.Context}
	for i, raw := range req.Messages {
		m, err := parseMessage(raw, t.bot.ConversationType == botrelay.Chat)
		if err != nil {
			return nil, botrelay.Errorf(botrelay.EINVALID, "messages[%d]: %s", i, botrelay.ErrorMessage(err))
		}
		out.Messages = append(out.Messages, m)
	}
	return out, nil
}

// parseMessage turns one item into its normalised form: a string is a
// text; an object is a delay, structured content or a text.
func parseMessage(raw json.RawMessage, chat bool) (botrelay.CommandMessage, error) {
	var text string
	if json.Unmarshal(raw, &text) == nil {
		if strings.TrimSpace(text) == "" {
			return botrelay.CommandMessage{}, errors.New("a text must not be empty")
		}
		p, _ := json.Marshal(text)
		return botrelay.CommandMessage{Type: "text", Payload: p, Metadata: json.RawMessage(`[]`)}, nil
	}
	var it messageItem
	if err := strictJSON(raw, &it, false); err != nil {
		return botrelay.CommandMessage{}, botrelay.Errorf(botrelay.EINVALID, "an item is a text or an object: %s", botrelay.ErrorMessage(err))
	}
	if it.Delay != nil {
		if it.Text != nil || it.StructuredContent != nil || *it.Delay < 0 || *it.Delay > maxCommandDelay {
			return botrelay.CommandMessage{}, botrelay.Errorf(botrelay.EINVALID, "a delay item has only delay (0 to %d seconds) and typing", maxCommandDelay)
		}
		return botrelay.CommandMessage{Type: "delay", Delay: *it.Delay, Typing: it.Typing}, nil
	}
	if err := checkMessageItem(&it, chat); err != nil {
		return botrelay.CommandMessage{}, err
	}
	m := botrelay.CommandMessage{Metadata: it.Metadata, EncodedMetadata: it.EncodedMetadata, MessageAudience: it.MessageAudience,
		QuickReplies: it.QuickReplies}
	if m.Metadata == nil {
		m.Metadata = json.RawMessage(`[]`)
	}
	if it.StructuredContent != nil {
		m.Type, m.Payload = "structuredContent", it.StructuredContent
	} else {
		m.Type, m.Payload = "text", mustJSON(*it.Text)
	}
	return m, nil
}

// checkMessageItem applies §5's rules to a text or structured content item.
func checkMessageItem(it *messageItem, chat bool) error {
	switch {
	case it.StructuredContent == nil && (it.Text == nil || strings.TrimSpace(*it.Text) == ""):
		return botrelay.Errorf(botrelay.EINVALID, "an item needs text, structuredContent or delay")
	case it.StructuredContent != nil && it.Text != nil:
		return botrelay.Errorf(botrelay.EINVALID, "an item has text or structuredContent, not both")
	case it.StructuredContent != nil && !isObject(it.StructuredContent):
		return botrelay.Errorf(botrelay.EINVALID, "structuredContent must be an object")
	case len(it.StructuredContent) > maxStructuredContent:
		return botrelay.Errorf(botrelay.EINVALID, "structuredContent must be at most %d bytes", maxStructuredContent)
	case it.Metadata != nil && !isArray(it.Metadata):
		return botrelay.Errorf(botrelay.EINVALID, "metadata must be an array")
	case it.MessageAudience != "" && it.MessageAudience != botrelay.AudienceAgentsAndManagers:
		return botrelay.Errorf(botrelay.EINVALID, "messageAudience must be AGENTS_AND_MANAGERS when set")
	case it.QuickReplies != nil && (it.Text == nil || !isObject(it.QuickReplies)):
		return botrelay.Errorf(botrelay.EINVALID, "quickReplies must be an object and go with a text")
	case chat && (it.QuickReplies != nil || it.EncodedMetadata != ""):
		return botrelay.Errorf(botrelay.EINVALID, "quick replies and encoded metadata are for messaging conversations only")
	}
	return nil
}

func isObject(raw json.RawMessage) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(raw, &m) == nil && m != nil
}

func isArray(raw json.RawMessage) bool {
	var a []json.RawMessage
	return json.Unmarshal(raw, &a) == nil && a != nil
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}
