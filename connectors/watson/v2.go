package watson

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/kit"
)

// BotV2 is one configured watson_v2 bot. It implements
// botrelay.HookableBot, botrelay.HealthChecker and botrelay.Ender and is
// safe for concurrent use.
type BotV2 struct {
	cfg    ConfigV2
	client *client
	path   string // /v2/assistants/{assistantId}
}

var (
	_ botrelay.HealthChecker = (*BotV2)(nil)
	_ botrelay.Ender         = (*BotV2)(nil)
	_ botrelay.HookableBot   = (*BotV2)(nil)
)

// mainSkill is the v2 context key of the dialog skill whose user_defined
// variables carry lpEvent, lpSdes and convId.
const mainSkill = "main skill"

// stateV2 is a v2 conversation's vendor state: its Watson session, the
// assistant the session belongs to, and the sticky encodedMetadata (F22)
// so it survives a new session.
type stateV2 struct {
	Assistant       string `json:"assistant"`
	SessionID       string `json:"sessionId"`
	EncodedMetadata string `json:"encodedMetadata,omitempty"`
}

type messageV2 struct {
	Input   inputV2 `json:"input"`
	Context any     `json:"context"`
}

type inputV2 struct {
	MessageType string         `json:"message_type"`
	Text        string         `json:"text"`
	Options     map[string]any `json:"options"`
}

// Converse implements botrelay.VendorBot. The conversation's session is
// created on its first turn (and for a welcome turn, which starts a new
// Watson conversation); when Watson answers 404 for the stored session
// (expired: 5 to 60 minutes idle) a new session is created and the message
// sent once more. lpEvent, lpSdes and convId go in
// context.skills["main skill"].user_defined; the context comes back
// (return_context) for the sticky encodedMetadata.
func (b *BotV2) Converse(ctx context.Context, t *botrelay.Turn) (*botrelay.Reply, error) {
	return kit.Converse(ctx, b, t, b.client.secrets()...)
}

// HookInfo implements botrelay.HookableBot with the reference product's
// names (F36).
func (b *BotV2) HookInfo() botrelay.HookInfo {
	return botrelay.HookInfo{Vendor: "WatsonAssistantV2", RequestKey: "watsonV2Payload", ResponseKey: "watsonv2"}
}

// prevState is the conversation's state before t: none for a welcome turn
// or after the assistant changed.
func (b *BotV2) prevState(t *botrelay.Turn) stateV2 {
	var st stateV2
	if len(t.VendorState) > 0 {
		_ = json.Unmarshal(t.VendorState, &st)
	}
	if st.Assistant != b.cfg.AssistantID || t.Kind == botrelay.TurnStart {
		st = stateV2{Assistant: b.cfg.AssistantID}
	}
	return st
}

// BuildRequest implements botrelay.HookableBot: the message body (the
// session goes in the URL).
func (b *BotV2) BuildRequest(ctx context.Context, t *botrelay.Turn) (json.RawMessage, error) {
	if t.Kind == botrelay.TurnSurvey {
		return nil, vendorErr(botrelay.ErrUnsupported, CodeSendQueryV2, "Watson bots cannot run surveys")
	}
	return json.Marshal(messageV2{
		Input: inputV2{MessageType: "text", Text: queryText(t), Options: map[string]any{"return_context": true}},
		Context: map[string]any{"skills": map[string]any{mainSkill: map[string]any{"user_defined": map[string]any{
			"convId": string(t.Conversation.ID), "lpEvent": lpEvent(t), "lpSdes": lpSdes(t),
		}}}},
	})
}

// Exchange implements botrelay.HookableBot: it creates the session when
// needed (again after a 404) and sends req; the new vendor state holds the
// session and the sticky encodedMetadata.
func (b *BotV2) Exchange(ctx context.Context, t *botrelay.Turn, req json.RawMessage) (json.RawMessage, json.RawMessage, error) {
	st := b.prevState(t)
	fresh := false
	if st.SessionID == "" {
		sid, err := b.createSession(ctx, CodeCreateSession)
		if err != nil {
			return nil, nil, err
		}
		st.SessionID, fresh = sid, true
	}
	res, err := b.message(ctx, st.SessionID, req)
	if err != nil {
		return nil, nil, err
	}
	if res.status == http.StatusNotFound {
		if fresh {
			return nil, nil, vendorErr(botrelay.ErrVendorBadReply, CodeInvalidSession, "send the message: Watson does not know the session it just created (HTTP 404%s)", kit.Snippet(res.body, b.client.secrets()...))
		}
		b.client.env.Logger.InfoContext(ctx, "watson session expired; creating a new one", "conversation_id", string(t.Conversation.ID))
		sid, err := b.createSession(ctx, CodeInvalidSession)
		if err != nil {
			return nil, nil, err
		}
		st.SessionID = sid
		if res, err = b.message(ctx, sid, req); err != nil {
			return nil, nil, err
		}
		if res.status == http.StatusNotFound {
			return nil, nil, vendorErr(botrelay.ErrVendorBadReply, CodeInvalidSession, "send the message: HTTP 404 again with a new session%s", kit.Snippet(res.body, b.client.secrets()...))
		}
	}
	if !success(res) {
		return nil, nil, b.client.statusErr(CodeSendQueryV2, CodeSendQueryV2, "send the message", res)
	}
	if top, ok := asObject(res.body); ok {
		st.EncodedMetadata, _ = stickyMetadata(userDefined(top["context"]), st.EncodedMetadata)
	}
	return res.body, mustJSON(st), nil
}

// ParseResponse implements botrelay.HookableBot. The vendor state comes
// from Exchange.
func (b *BotV2) ParseResponse(ctx context.Context, t *botrelay.Turn, resp json.RawMessage) (*botrelay.Reply, error) {
	top, err := decodeAnswer(resp)
	if err != nil {
		return nil, err
	}
	out := jobj{}
	if top.has("output") {
		var isObj bool
		if out, isObj = asObject(top["output"]); !isObj {
			return nil, parseErr(CodeParseMessageFailed, "output must be a JSON object")
		}
	}
	em, _ := stickyMetadata(userDefined(top["context"]), b.prevState(t).EncodedMetadata)
	return translate(parseInput{
		output: top["output"], actions: out["actions"], intents: out["intents"],
		encodedMetadata: em, convType: t.Conversation.Type, currentSkill: t.Conversation.SkillName,
		escalationSkill: b.client.env.EscalationSkill,
	})
}

// userDefined returns context.skills["main skill"].user_defined, or an
// empty object.
func userDefined(ctxRaw json.RawMessage) jobj {
	if c, ok := asObject(ctxRaw); ok {
		if skills, ok := asObject(c["skills"]); ok {
			if main, ok := asObject(skills[mainSkill]); ok {
				if ud, ok := asObject(main["user_defined"]); ok {
					return ud
				}
			}
		}
	}
	return jobj{}
}

func (b *BotV2) sessionsURL() string { return b.cfg.URL + b.path + "/sessions" }

// message sends req on session sid; 404 comes back as a result.
func (b *BotV2) message(ctx context.Context, sid string, req json.RawMessage) (*result, error) {
	return b.client.do(ctx, CodeSendQueryV2, "send the message", http.MethodPost, b.sessionsURL()+"/"+url.PathEscape(sid)+"/message", req)
}

// createSession creates a Watson session; failures carry code.
func (b *BotV2) createSession(ctx context.Context, code string) (string, error) {
	res, err := b.client.do(ctx, code, "create a session", http.MethodPost, b.sessionsURL(), nil)
	if err != nil {
		return "", err
	}
	if !success(res) {
		if res.status == http.StatusNotFound {
			return "", vendorErr(botrelay.ErrVendorBadReply, code, "create a session: assistant %q not found at %s (HTTP 404%s)", b.cfg.AssistantID, b.cfg.URL, kit.Snippet(res.body, b.client.secrets()...))
		}
		return "", b.client.statusErr(code, code, "create a session", res)
	}
	var s struct {
		SessionID string `json:"session_id"`
	}
	if json.Unmarshal(res.body, &s) != nil || s.SessionID == "" {
		return "", vendorErr(botrelay.ErrVendorBadReply, code, "create a session: the answer has no session_id%s", kit.Snippet(res.body))
	}
	return s.SessionID, nil
}

// deleteSession deletes a session; a session Watson no longer knows counts
// as deleted.
func (b *BotV2) deleteSession(ctx context.Context, code, sid string) error {
	res, err := b.client.do(ctx, code, "delete the session", http.MethodDelete, b.sessionsURL()+"/"+url.PathEscape(sid), nil)
	if err != nil {
		return err
	}
	if success(res) || res.status == http.StatusNotFound {
		return nil
	}
	return b.client.statusErr(code, code, "delete the session", res)
}

// EndConversation implements botrelay.Ender: it deletes the conversation's
// Watson session when the conversation closes or leaves the bot.
func (b *BotV2) EndConversation(ctx context.Context, _ botrelay.ConversationRef, vendorState json.RawMessage) error {
	var st stateV2
	if len(vendorState) == 0 || json.Unmarshal(vendorState, &st) != nil || st.SessionID == "" || st.Assistant != b.cfg.AssistantID {
		return nil
	}
	return b.deleteSession(ctx, CodeSendQueryV2, st.SessionID)
}

// CheckHealth implements botrelay.HealthChecker: the connection test. It
// exchanges the API key (IAM), then creates a session and deletes it.
func (b *BotV2) CheckHealth(ctx context.Context) error {
	sid, err := b.createSession(ctx, CodeTestConnectionV2)
	if err != nil {
		return checkErr(prefix(err, "connection test: "))
	}
	if err := b.deleteSession(ctx, CodeTestConnectionV2, sid); err != nil {
		return checkErr(prefix(err, "connection test: "))
	}
	return nil
}

// prefix adds p to a VendorError's message (not for IAM errors, which
// checkErr names).
func prefix(err error, p string) error {
	ve, isVE := err.(*botrelay.VendorError)
	if !isVE || ve.Code == CodeIAMToken || ve.Code == CodeIAMTokenV2 {
		return err
	}
	return vendorErr(ve.Class, ve.Code, "%s%s", p, ve.Message)
}
