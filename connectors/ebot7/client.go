package ebot7

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/kit"
)

const (
	maxBody  = 4 << 20
	pageSize = 100
	// maxPages bounds one collection (pageSize messages a page).
	maxPages = 20
)

// Message sources.
const (
	SourceVisitor = "visitor"
	SourceBot     = "bot"
	SourceAgent   = "agent"
)

// Bot is one configured ebot7 bot. It implements botrelay.HookableBot,
// botrelay.HealthChecker and botrelay.Ender and is safe for concurrent use.
type Bot struct {
	cfg     Config
	env     botrelay.BotEnv
	http    *kit.Client
	poll    time.Duration
	botPath string // /v1/bots/{botId}
}

var (
	_ botrelay.HealthChecker = (*Bot)(nil)
	_ botrelay.HookableBot   = (*Bot)(nil)
	_ botrelay.Ender         = (*Bot)(nil)
)

// State is the conversation's vendor state.
type State struct {
	BotID  string `json:"botId"`
	ConvID string `json:"convId"`
	// Offset is how many of the e-bot7 conversation's messages were read.
	Offset int `json:"offset"`
}

// MessageInput is the body of POST …/messages.
type MessageInput struct {
	Data *MessageData `json:"data,omitempty"`
}

// MessageData is a message to create.
type MessageData struct {
	Body   string `json:"body"`
	Source string `json:"source"`
}

// Message is an e-bot7 message as the API lists it.
type Message struct {
	ID            string          `json:"id"`
	BotID         string          `json:"botId,omitempty"`
	ConvID        string          `json:"convId,omitempty"`
	Body          string          `json:"body"`
	Source        string          `json:"source"`
	SeqInConv     int             `json:"seqInConv"`
	IsGreeting    bool            `json:"isGreeting,omitempty"`
	PromptOptions json.RawMessage `json:"promptOptions,omitempty"`
	CreatedAt     string          `json:"createdAt,omitempty"`
}

// Collected is the raw response the hooks see: the bot messages that
// arrived within the response delay, and whether the conversation is
// archived (its flow reached End Flow).
type Collected struct {
	ConvID     string    `json:"convId"`
	IsArchived bool      `json:"isArchived"`
	Messages   []Message `json:"messages"`
}

// Converse implements botrelay.VendorBot.
func (b *Bot) Converse(ctx context.Context, t *botrelay.Turn) (*botrelay.Reply, error) {
	return kit.Converse(ctx, b, t, b.cfg.AppKey)
}

// HookInfo implements botrelay.HookableBot.
func (b *Bot) HookInfo() botrelay.HookInfo {
	return botrelay.HookInfo{Vendor: "Ebot7", RequestKey: "ebot7Payload", ResponseKey: "ebot7"}
}

// BuildRequest implements botrelay.HookableBot: the body of POST
// …/messages, or {} for a welcome turn (nothing is posted then).
func (b *Bot) BuildRequest(ctx context.Context, t *botrelay.Turn) (json.RawMessage, error) {
	var in MessageInput
	switch t.Kind {
	case botrelay.TurnStart:
	case botrelay.TurnText, botrelay.TurnRichContent, botrelay.TurnFile:
		// Rich content and files go as their event identifiers (F7, F8).
		in.Data = &MessageData{Body: t.Text, Source: SourceVisitor}
	default:
		return nil, vendorErr(botrelay.ErrUnsupported, CodeUnsupportedTurn, "e-bot7 bots cannot answer a %s turn", t.Kind)
	}
	out, _ := json.Marshal(in)
	return out, nil
}

// Exchange implements botrelay.HookableBot. A welcome turn starts a new
// e-bot7 conversation (so the flow runs from Start Flow) and collects what
// the bot says first; any other turn creates the conversation when the
// state has none, posts the visitor's message (creating the conversation
// again once if e-bot7 no longer knows it) and collects the bot's answers.
// Greeting messages are skipped except on a welcome turn.
func (b *Bot) Exchange(ctx context.Context, t *botrelay.Turn, req json.RawMessage) (json.RawMessage, json.RawMessage, error) {
	var in MessageInput
	if err := json.Unmarshal(req, &in); err != nil {
		return nil, nil, vendorErr(botrelay.ErrVendorBadReply, CodeSendMessage, "the request is not {\"data\":{\"body\",\"source\"}}: %v", err)
	}
	var st State
	if len(bytes.TrimSpace(t.VendorState)) > 0 {
		_ = json.Unmarshal(t.VendorState, &st) // unreadable: start afresh
	}
	welcome := in.Data == nil
	if welcome || st.ConvID == "" || st.BotID != b.cfg.BotID {
		id, err := b.createConversation(ctx, t)
		if err != nil {
			return nil, nil, err
		}
		st = State{BotID: b.cfg.BotID, ConvID: id}
	}
	if !welcome {
		found, err := b.postMessage(ctx, st.ConvID, in)
		if err != nil {
			return nil, nil, err
		}
		if !found {
			b.env.Logger.InfoContext(ctx, "e-bot7 does not know the conversation; creating it again", "conversation_id", string(t.Conversation.ID))
			id, err := b.createConversation(ctx, t)
			if err != nil {
				return nil, nil, err
			}
			st = State{BotID: b.cfg.BotID, ConvID: id}
			if found, err = b.postMessage(ctx, st.ConvID, in); err != nil {
				return nil, nil, err
			} else if !found {
				return nil, nil, vendorErr(botrelay.ErrVendorBadReply, CodeSendMessage, "post the message: HTTP 404 again after creating the conversation")
			}
		}
	}
	msgs, err := b.collect(ctx, &st)
	if err != nil {
		return nil, nil, err
	}
	out := Collected{ConvID: st.ConvID, Messages: []Message{}}
	for _, m := range msgs {
		if m.Source == SourceBot && (welcome || !m.IsGreeting) {
			out.Messages = append(out.Messages, m)
		}
	}
	if out.IsArchived, err = b.archived(ctx, st.ConvID); err != nil {
		return nil, nil, err
	}
	resp, _ := json.Marshal(out)
	state, _ := json.Marshal(st)
	return resp, state, nil
}

// createConversation creates an e-bot7 conversation linked to the
// LivePerson conversation and returns its id.
func (b *Bot) createConversation(ctx context.Context, t *botrelay.Turn) (string, error) {
	meta := map[string]string{"conversationType": string(t.Conversation.Type), "skill": t.Conversation.SkillName}
	body, _ := json.Marshal(map[string]any{"needsInteraction": false, "isArchived": false,
		"integrations": []any{map[string]any{"id": string(t.Conversation.ID), "name": "botrelay", "meta": meta}}})
	st, data, err := b.do(ctx, http.MethodPost, b.botPath+"/convs", body, CodeCreateConversation)
	if err != nil {
		return "", err
	}
	if kit.Classify(st) != kit.Success {
		return "", vendorErr(botrelay.ErrVendorBadReply, CodeCreateConversation, "create the conversation: HTTP %d%s", st, kit.Snippet(data))
	}
	var out struct {
		Item struct {
			ID string `json:"id"`
		} `json:"item"`
	}
	if json.Unmarshal(data, &out) != nil || out.Item.ID == "" {
		return "", vendorErr(botrelay.ErrVendorBadReply, CodeCreateConversation, "create the conversation: the answer has no item.id%s", kit.Snippet(data))
	}
	return out.Item.ID, nil
}

// postMessage posts the visitor's message; false means HTTP 404.
func (b *Bot) postMessage(ctx context.Context, convID string, in MessageInput) (bool, error) {
	body, _ := json.Marshal(in)
	st, data, err := b.do(ctx, http.MethodPost, b.convPath(convID)+"/messages", body, CodeSendMessage)
	if err != nil {
		return false, err
	}
	if st == http.StatusNotFound {
		return false, nil
	}
	if kit.Classify(st) != kit.Success {
		return false, vendorErr(botrelay.ErrVendorBadReply, CodeSendMessage, "post the message: HTTP %d%s", st, kit.Snippet(data))
	}
	return true, nil
}

func (b *Bot) convPath(convID string) string { return b.botPath + "/convs/" + url.PathEscape(convID) }

// collect reads the conversation's new messages every poll interval until
// a read that started once the response delay had elapsed, and advances
// st.Offset past them.
func (b *Bot) collect(ctx context.Context, st *State) ([]Message, error) {
	end := b.env.Now().Add(b.cfg.delay)
	var all []Message
	for {
		started := b.env.Now()
		msgs, err := b.readNew(ctx, st)
		if err != nil {
			if ctx.Err() != nil {
				return nil, b.tooLong(ctx)
			}
			return nil, err
		}
		all = append(all, msgs...)
		if !started.Before(end) {
			break
		}
		timer := time.NewTimer(max(0, min(end.Sub(b.env.Now()), b.poll)))
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, b.tooLong(ctx)
		case <-timer.C:
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].SeqInConv < all[j].SeqInConv })
	return all, nil
}

func (b *Bot) tooLong(ctx context.Context) error {
	return vendorErr(botrelay.ErrVendorUnavailable, CodeGetMessages, "collecting the bot's answers: %v (the bot response delay is %v; the vendor timeout must be longer)", ctx.Err(), b.cfg.delay)
}

// readNew pages through the messages after st.Offset.
func (b *Bot) readNew(ctx context.Context, st *State) ([]Message, error) {
	var out []Message
	for page := 0; page < maxPages; page++ {
		q := url.Values{"page[limit]": {strconv.Itoa(pageSize)}, "page[offset]": {strconv.Itoa(st.Offset)}}
		code, data, err := b.do(ctx, http.MethodGet, b.convPath(st.ConvID)+"/messages?"+q.Encode(), nil, CodeGetMessages)
		if err != nil {
			return nil, err
		}
		if kit.Classify(code) != kit.Success {
			return nil, vendorErr(botrelay.ErrVendorBadReply, CodeGetMessages, "list the messages: HTTP %d%s", code, kit.Snippet(data))
		}
		var list struct {
			Items []Message `json:"items"`
		}
		if err := json.Unmarshal(data, &list); err != nil {
			return nil, vendorErr(botrelay.ErrVendorBadReply, CodeInvalidBody, "list the messages: the answer is not {\"items\":[…]}%s", kit.Snippet(data))
		}
		out = append(out, list.Items...)
		st.Offset += len(list.Items)
		if len(list.Items) < pageSize {
			break
		}
	}
	return out, nil
}

// archived reads whether the conversation is archived, which e-bot7 does
// when the flow reaches End Flow.
func (b *Bot) archived(ctx context.Context, convID string) (bool, error) {
	st, data, err := b.do(ctx, http.MethodGet, b.convPath(convID), nil, CodeGetConversation)
	if err != nil {
		return false, err
	}
	if kit.Classify(st) != kit.Success {
		return false, vendorErr(botrelay.ErrVendorBadReply, CodeGetConversation, "read the conversation: HTTP %d%s", st, kit.Snippet(data))
	}
	var out struct {
		Item struct {
			IsArchived bool `json:"isArchived"`
		} `json:"item"`
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return false, vendorErr(botrelay.ErrVendorBadReply, CodeInvalidBody, "read the conversation: the answer is not {\"item\":{…}}%s", kit.Snippet(data))
	}
	return out.Item.IsArchived, nil
}

// CheckHealth implements botrelay.HealthChecker: it lists one conversation
// of the bot, which needs a valid app key with access to the bot.
func (b *Bot) CheckHealth(ctx context.Context) error {
	st, data, err := b.do(ctx, http.MethodGet, b.botPath+"/convs?page%5Blimit%5D=1", nil, CodeTestConnection)
	if err != nil {
		return err
	}
	if kit.Classify(st) != kit.Success {
		return vendorErr(botrelay.ErrVendorBadReply, CodeTestConnection, "connection test: list conversations of bot %q: HTTP %d%s", b.cfg.BotID, st, kit.Snippet(data))
	}
	return nil
}

// EndConversation implements botrelay.Ender: it archives the e-bot7
// conversation when the LivePerson one closes or leaves the bot.
func (b *Bot) EndConversation(ctx context.Context, conv botrelay.ConversationRef, vendorState json.RawMessage) error {
	var st State
	if json.Unmarshal(vendorState, &st) != nil || st.ConvID == "" || st.BotID != b.cfg.BotID {
		return nil
	}
	code, data, err := b.do(ctx, http.MethodPatch, b.convPath(st.ConvID), []byte(`{"isArchived":true}`), CodeArchive)
	if err != nil {
		return err
	}
	if (kit.Classify(code) != kit.Success) && code != http.StatusNotFound {
		return vendorErr(botrelay.ErrVendorBadReply, CodeArchive, "archive the conversation: HTTP %d%s", code, kit.Snippet(data))
	}
	return nil
}

// do makes one request through the connector kit. Transport failures,
// 408, 429 and 5xx are ErrVendorUnavailable, 401 and 403 ErrVendorAuth;
// other statuses come back.
func (b *Bot) do(ctx context.Context, method, path string, body []byte, code string) (int, []byte, error) {
	what := method + " " + strings.SplitN(path, "?", 2)[0]
	h := http.Header{}
	h.Set("Authorization", "Bearer "+b.cfg.AppKey)
	res, err := b.http.Send(ctx, kit.Request{Code: code, What: what, Method: method, URL: b.cfg.BaseURL + path, Header: h, Body: body})
	if err != nil {
		return 0, nil, err
	}
	switch kit.Classify(res.Status) {
	case kit.Auth:
		return 0, nil, vendorErr(botrelay.ErrVendorAuth, code, "%s: e-bot7 refused the app key or its access to bot %q (HTTP %d)", what, b.cfg.BotID, res.Status)
	case kit.Unavailable:
		return 0, nil, b.http.StatusError(code, what, "", res)
	}
	return res.Status, res.Body, nil
}
