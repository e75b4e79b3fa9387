package directline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/kit"
)

// vendorState is what the relay stores per conversation for this
// connector.
type vendorState struct {
	// Endpoint is the endpoint the conversation was started at; a settings
	// change to another endpoint starts a new conversation.
	Endpoint       string `json:"endpoint"`
	ConversationID string `json:"conversationId"`
	// Token and TokenExpires (Unix seconds) are the conversation token
	// (auth "token").
	Token        string `json:"token,omitempty"`
	TokenExpires int64  `json:"tokenExpires,omitempty"`
	Watermark    string `json:"watermark,omitempty"`
	// StreamURL is the unused stream URL of the start answer; once used it
	// is dropped and the next turn reconnects for a new one.
	StreamURL string `json:"streamUrl,omitempty"`
}

// Channel data of the activities botrelay posts.
type outContext struct {
	ConvID           string          `json:"convId"`
	MSConversationID string          `json:"msConversationId"`
	LPEvent          json.RawMessage `json:"lpEvent"`
	LPSdes           json.RawMessage `json:"lpSdes"`
}

type outAction struct {
	Name string `json:"name"`
}

type outChannelData struct {
	Context outContext `json:"context"`
	Action  *outAction `json:"action,omitempty"`
}

type account struct {
	ID string `json:"id"`
}

// outActivity is an activity botrelay posts.
type outActivity struct {
	Type        string         `json:"type"`
	Name        string         `json:"name,omitempty"`
	Text        *string        `json:"text,omitempty"`
	From        account        `json:"from"`
	ChannelData outChannelData `json:"channelData"`
}

// WelcomeAction is the channelData action name of the welcome message;
// PVAWelcomeEvent is the event name of the Power Virtual Agents welcome.
const (
	WelcomeAction   = "WELCOME"
	PVAWelcomeEvent = "startConversation"
)

// Converse implements botrelay.VendorBot.
func (b *Bot) Converse(ctx context.Context, t *botrelay.Turn) (*botrelay.Reply, error) {
	return kit.Converse(ctx, b, t, b.cfg.Secret)
}

// HookInfo implements botrelay.HookableBot with the reference product's
// names (F36).
func (b *Bot) HookInfo() botrelay.HookInfo {
	return botrelay.HookInfo{Vendor: "MicrosoftBotFramework", RequestKey: "msPayload", ResponseKey: "microsoft"}
}

// userID is the Direct Line user of a conversation: the consumer, or the
// conversation when the consumer is unknown.
func userID(t *botrelay.Turn) string {
	if t.Conversation.ConsumerID != "" {
		return string(t.Conversation.ConsumerID)
	}
	return "lp-" + string(t.Conversation.ID)
}

// BuildRequest implements botrelay.HookableBot: the activity to post, with
// channelData.context (F14). msConversationId is empty until the Direct
// Line conversation exists; Exchange fills it in then.
func (b *Bot) BuildRequest(ctx context.Context, t *botrelay.Turn) (json.RawMessage, error) {
	if t.Conversation.ID == "" {
		return nil, vendorErr(botrelay.ErrUnsupported, CodeSendQuery, "the turn has no conversation id")
	}
	st := b.state(t)
	// The consumer message's metadata (a quick reply's ExternalId) is at
	// lpEvent.metadata (F14), unless the platform event has it already.
	add := map[string]any{}
	if len(bytes.TrimSpace(t.Metadata)) > 0 {
		add["metadata"] = t.Metadata
	}
	a := outActivity{Type: "message", From: account{ID: userID(t)}}
	a.ChannelData.Context = outContext{
		ConvID:           string(t.Conversation.ID),
		MSConversationID: st.ConversationID,
		LPEvent:          objectOr(t.LPEvent, add),
		LPSdes:           objectOr(t.SDEs, nil),
	}
	text := t.Text
	switch t.Kind {
	case botrelay.TurnText:
	case botrelay.TurnRichContent:
		if text == "" {
			text = botrelay.EventConsumerRichContent
		}
	case botrelay.TurnFile:
		if text == "" {
			text = botrelay.EventConsumerFile
		}
	case botrelay.TurnStart:
		if t.LastConsumerMessage != "" {
			add["lastConsumerMessage"] = t.LastConsumerMessage
		}
		a.ChannelData.Context.LPEvent = objectOr(t.LPEvent, add)
		text = ""
		if b.cfg.PVA {
			a.Type, a.Name = "event", PVAWelcomeEvent
		} else {
			a.ChannelData.Action = &outAction{Name: WelcomeAction}
		}
	default:
		return nil, vendorErr(botrelay.ErrUnsupported, CodeSendQuery, "Direct Line bots have no event for a %s turn", t.Kind)
	}
	if a.Type == "message" {
		a.Text = &text
	}
	return json.Marshal(a)
}

// objectOr returns raw when it is a JSON object ({} when absent), with the
// members of add it lacks.
func objectOr(raw json.RawMessage, add map[string]any) json.RawMessage {
	var m map[string]json.RawMessage
	if s := bytes.TrimSpace(raw); len(s) == 0 || json.Unmarshal(s, &m) != nil || m == nil {
		m = map[string]json.RawMessage{}
		raw = json.RawMessage("{}")
	}
	changed := false
	for k, v := range add {
		if _, ok := m[k]; ok {
			continue
		}
		if enc, err := json.Marshal(v); err == nil {
			m[k] = enc
			changed = true
		}
	}
	if !changed {
		return raw
	}
	out, _ := json.Marshal(m)
	return out
}

// state reads the turn's vendor state; state of another endpoint, or none,
// is an empty state (a new conversation).
func (b *Bot) state(t *botrelay.Turn) vendorState {
	var st vendorState
	if len(t.VendorState) > 0 && json.Unmarshal(t.VendorState, &st) == nil && st.Endpoint == b.cfg.Endpoint && st.ConversationID != "" {
		return st
	}
	return vendorState{}
}

// ParseResponse implements botrelay.HookableBot: resp is an ActivitySet of
// the activities that answered the posted one.
func (b *Bot) ParseResponse(ctx context.Context, t *botrelay.Turn, resp json.RawMessage) (*botrelay.Reply, error) {
	var set activitySet
	if err := json.Unmarshal(resp, &set); err != nil {
		return nil, vendorErr(botrelay.ErrVendorBadReply, CodeParserCrashed, "the response is not an ActivitySet%s", kit.Snippet(resp))
	}
	if len(set.Activities) == 0 {
		return nil, vendorErr(botrelay.ErrVendorBadReply, CodeResponseMissing, "the bot sent no activity in reply")
	}
	return parseActivities(set.Activities, t.Conversation.SkillName)
}

// Exchange implements botrelay.HookableBot: it starts the Direct Line
// conversation when there is none (and again when Direct Line lost it),
// refreshes the conversation token when due, posts the activity and
// collects the replies over the stream or by polling. It returns them as an
// ActivitySet with the new vendor state.
func (b *Bot) Exchange(ctx context.Context, t *botrelay.Turn, req json.RawMessage) (json.RawMessage, json.RawMessage, error) {
	st := b.state(t)
	built := st.ConversationID // the msConversationId BuildRequest put in
	var activity map[string]json.RawMessage
	if err := json.Unmarshal(req, &activity); err != nil || activity == nil {
		return nil, nil, vendorErr(botrelay.ErrVendorBadReply, CodeParserCrashed, "the activity to post is not a JSON object")
	}
	for restarted := false; ; restarted = true {
		if err := b.ensureConversation(ctx, t, &st); err != nil {
			return nil, nil, err
		}
		set, err := b.exchangeOnce(ctx, &st, activity, built, t.ShowTyping)
		if errors.Is(err, errConversationGone) && !restarted {
			b.env.Logger.InfoContext(ctx, "direct line lost the conversation; starting a new one", "conversation_id", string(t.Conversation.ID))
			st = vendorState{}
			continue
		}
		if errors.Is(err, errConversationGone) {
			return nil, nil, vendorErr(botrelay.ErrVendorBadReply, CodeSendQuery, "post activity: HTTP 404 for a conversation just started")
		}
		if err != nil {
			return nil, nil, err
		}
		raw, _ := json.Marshal(set)
		state, _ := json.Marshal(st)
		return raw, state, nil
	}
}

// ensureConversation starts a conversation when st has none, and refreshes
// or renews the conversation token with auth "token".
func (b *Bot) ensureConversation(ctx context.Context, t *botrelay.Turn, st *vendorState) error {
	now := b.env.Now()
	if st.ConversationID != "" && b.cfg.Auth == AuthToken {
		switch {
		case st.Token == "" || now.Unix() >= st.TokenExpires:
			*st = vendorState{} // the token is gone: a new conversation
		case time.Unix(st.TokenExpires, 0).Sub(now) < tokenRefreshBefore:
			ci, err := b.refreshToken(ctx, st.Token)
			if err != nil {
				return err
			}
			st.Token, st.TokenExpires = ci.Token, ci.expires(now)
		}
	}
	if st.ConversationID != "" {
		return nil
	}
	bearer := b.cfg.Secret
	var tok conversationInfo
	if b.cfg.Auth == AuthToken {
		var err error
		if tok, err = b.generateToken(ctx, userID(t)); err != nil {
			return err
		}
		bearer = tok.Token
	}
	ci, err := b.startConversation(ctx, bearer)
	if err != nil {
		return err
	}
	*st = vendorState{Endpoint: b.cfg.Endpoint, ConversationID: ci.ConversationID, StreamURL: ci.StreamURL}
	if b.cfg.Auth == AuthToken {
		st.Token, st.TokenExpires = tok.Token, tok.expires(now)
		if ci.Token != "" {
			st.Token, st.TokenExpires = ci.Token, ci.expires(now)
		}
	}
	b.env.Logger.DebugContext(ctx, "direct line conversation started", "conversation_id", string(t.Conversation.ID), "ms_conversation_id", ci.ConversationID)
	return nil
}

// exchangeOnce opens the stream (unless polling), posts the activity and
// collects its replies.
func (b *Bot) exchangeOnce(ctx context.Context, st *vendorState, activity map[string]json.RawMessage, built string, typing func()) (activitySet, error) {
	body, err := withConversationID(activity, built, st.ConversationID)
	if err != nil {
		return activitySet{}, err
	}
	var s *stream
	if !b.cfg.Polling {
		s = b.openStream(ctx, st)
		if s != nil {
			defer s.close()
		}
	}
	id, err := b.postActivity(ctx, st, body)
	if err != nil {
		return activitySet{}, err
	}
	c := &collector{b: b, st: st, replyTo: id, user: fromID(activity), typing: typing}
	if s != nil {
		return c.fromStream(ctx, s)
	}
	return c.byPolling(ctx)
}

// withConversationID sets channelData.context.msConversationId to id when
// it is empty or still the conversation the request was built for (built):
// the first turn's request is built before the conversation exists, and a
// lost or expired conversation is replaced by a new one. A value a
// pre-hook put there otherwise is kept.
func withConversationID(activity map[string]json.RawMessage, built, id string) (json.RawMessage, error) {
	var cd map[string]json.RawMessage
	if raw, ok := activity["channelData"]; ok && json.Unmarshal(raw, &cd) == nil && cd != nil {
		var cx map[string]json.RawMessage
		if raw, ok := cd["context"]; ok && json.Unmarshal(raw, &cx) == nil && cx != nil {
			var cur string
			_ = json.Unmarshal(cx["msConversationId"], &cur)
			if cur == "" || (cur == built && built != id) {
				cx["msConversationId"], _ = json.Marshal(id)
				cd["context"], _ = json.Marshal(cx)
				activity["channelData"], _ = json.Marshal(cd)
			}
		}
	}
	out, err := json.Marshal(activity)
	if err != nil {
		return nil, vendorErr(botrelay.ErrVendorBadReply, CodeParserCrashed, "encode the activity: %v", err)
	}
	return out, nil
}

func fromID(activity map[string]json.RawMessage) string {
	var from account
	_ = json.Unmarshal(activity["from"], &from)
	return from.ID
}
