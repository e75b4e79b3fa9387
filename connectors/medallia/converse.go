package medallia

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/kit"
)

// HealthPath is the connection test's path below baseUrl.
const HealthPath = "/v1/health"

func startPath(surveyAppID string) string {
	return "/v1/surveys/" + url.PathEscape(surveyAppID) + "/sessions"
}

func sessionPath(sessionID string) string { return "/v1/sessions/" + url.PathEscape(sessionID) }

// State is the conversation's vendor state: the survey session, and
// whether the service said the survey is done (then there is nothing to
// end).
type State struct {
	SessionID string `json:"sessionId"`
	Done      bool   `json:"done,omitempty"`
}

func readState(raw json.RawMessage) State {
	var st State
	if len(bytes.TrimSpace(raw)) > 0 {
		_ = json.Unmarshal(raw, &st) // unreadable state: no session
	}
	return st
}

// StartRequest is the body of POST /v1/surveys/{surveyAppId}/sessions.
type StartRequest struct {
	ConversationID string `json:"conversationId"`
	DialogID       string `json:"dialogId,omitempty"`
	ConsumerID     string `json:"consumerId,omitempty"`
	Skill          Skill  `json:"skill"`
	// SDEs are the engagement attributes, when the bot collects them.
	SDEs json.RawMessage `json:"sdes,omitempty"`
	// LastConsumerMessage is the consumer's last text of the conversation.
	LastConsumerMessage string `json:"lastConsumerMessage,omitempty"`
}

// Skill is the conversation's skill.
type Skill struct {
	ID   int64  `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

// AnswerRequest is the body of POST /v1/sessions/{sessionId}/answers.
type AnswerRequest struct {
	// Text is the consumer's answer; for rich content and files the event
	// identifier (botrelay.EventConsumerRichContent, EventConsumerFile).
	Text string `json:"text"`
	// RichContent is the consumer's structured content (e.g. a location).
	RichContent json.RawMessage `json:"richContent,omitempty"`
	// File describes a consumer upload.
	File *File `json:"file,omitempty"`
	// Metadata is the consumer message's metadata, e.g. a tapped quick
	// reply's ExternalId.
	Metadata json.RawMessage `json:"metadata,omitempty"`
}

// File is a consumer upload.
type File struct {
	RelativePath string `json:"relativePath,omitempty"`
	FileType     string `json:"fileType,omitempty"`
	Caption      string `json:"caption,omitempty"`
	URL          string `json:"url,omitempty"`
}

// Converse implements botrelay.VendorBot: a survey turn starts a session,
// a consumer turn sends an answer to the session in t.VendorState.
func (b *Bot) Converse(ctx context.Context, t *botrelay.Turn) (*botrelay.Reply, error) {
	return kit.Converse(ctx, b, t, b.cfg.ClientSecret)
}

// HookInfo implements botrelay.HookableBot. The reference product names no
// hook keys for Medallia; these follow its pattern.
func (b *Bot) HookInfo() botrelay.HookInfo {
	return botrelay.HookInfo{Vendor: "Medallia", RequestKey: "medalliaPayload", ResponseKey: "medallia"}
}

// BuildRequest implements botrelay.HookableBot: the start body for a
// survey turn, the answer body for a consumer turn. Other turns (the
// agent-bot welcome) are ErrUnsupported. No I/O.
func (b *Bot) BuildRequest(ctx context.Context, t *botrelay.Turn) (json.RawMessage, error) {
	var v any
	switch t.Kind {
	case botrelay.TurnSurvey:
		ref := t.Conversation
		if ref.ID == "" {
			return nil, vendorErr(botrelay.ErrUnsupported, CodeStartSurvey, "the survey turn has no conversation id")
		}
		r := StartRequest{ConversationID: string(ref.ID), DialogID: string(ref.DialogID), ConsumerID: string(ref.ConsumerID),
			Skill: Skill{ID: int64(ref.SkillID), Name: ref.SkillName}, LastConsumerMessage: t.LastConsumerMessage}
		if s := bytes.TrimSpace(t.SDEs); len(s) > 0 && !bytes.Equal(s, []byte("null")) && !bytes.Equal(s, []byte("{}")) {
			r.SDEs = s
		}
		v = r
	case botrelay.TurnText, botrelay.TurnRichContent, botrelay.TurnFile:
		r := AnswerRequest{Text: t.Text}
		if t.Kind == botrelay.TurnRichContent && len(bytes.TrimSpace(t.RichContent)) > 0 {
			r.RichContent = t.RichContent
		}
		if f := t.File; t.Kind == botrelay.TurnFile && f != nil {
			r.File = &File{RelativePath: f.RelativePath, FileType: f.FileType, Caption: f.Caption, URL: f.URL}
		}
		if t.Kind == botrelay.TurnFile && r.Text == "" {
			r.Text = botrelay.EventConsumerFile
		}
		if s := bytes.TrimSpace(t.Metadata); len(s) > 0 && !bytes.Equal(s, []byte("null")) {
			r.Metadata = s
		}
		v = r
	default:
		return nil, vendorErr(botrelay.ErrUnsupported, CodeUnsupportedTurn, "medallia runs survey bots only (got a %s turn)", t.Kind)
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil, vendorErr(botrelay.ErrUnsupported, CodeUnsupportedTurn, "encode the request: %v", err)
	}
	return out, nil
}

// Exchange implements botrelay.HookableBot. A survey turn POSTs req to
// /v1/surveys/{surveyAppId}/sessions and returns the new session as vendor
// state; a consumer turn POSTs it to /v1/sessions/{sessionId}/answers, the
// session taken from t.VendorState, and returns vendor state only when the
// service says the survey is done.
func (b *Bot) Exchange(ctx context.Context, t *botrelay.Turn, req json.RawMessage) (json.RawMessage, json.RawMessage, error) {
	if t.Kind == botrelay.TurnSurvey {
		c := call{code: CodeStartSurvey, what: "start survey", method: http.MethodPost, path: startPath(b.cfg.SurveyAppID), body: req}
		status, body, err := b.do(ctx, c)
		if err != nil {
			return nil, nil, err
		}
		if status == http.StatusNotFound {
			return nil, nil, vendorErr(botrelay.ErrVendorBadReply, c.code, "start survey: HTTP 404: the survey service has no survey %q%s", b.cfg.SurveyAppID, b.snippet(body, b.cachedToken()))
		}
		if err := b.okStatus(c, status, body); err != nil {
			return nil, nil, err
		}
		var head map[string]json.RawMessage
		var id string
		if json.Unmarshal(body, &head) != nil || json.Unmarshal(head["sessionId"], &id) != nil || id == "" {
			return nil, nil, badReply("start survey: the response has no sessionId string%s", b.snippet(body, b.cachedToken()))
		}
		var done bool
		_ = json.Unmarshal(head["done"], &done) // checked by ParseResponse
		state, _ := json.Marshal(State{SessionID: id, Done: done})
		return body, state, nil
	}
	st := readState(t.VendorState)
	if st.SessionID == "" {
		return nil, nil, vendorErr(botrelay.ErrVendorBadReply, CodeNoSession, "the conversation has no survey session (its vendor state was lost); the survey cannot go on")
	}
	if st.Done {
		return nil, nil, vendorErr(botrelay.ErrVendorBadReply, CodeNoSession, "survey session %q is already done", st.SessionID)
	}
	c := call{code: CodeSendAnswer, what: "send answer", method: http.MethodPost, path: sessionPath(st.SessionID) + "/answers", body: req}
	status, body, err := b.do(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	if status == http.StatusNotFound {
		return nil, nil, vendorErr(botrelay.ErrVendorBadReply, c.code, "send answer: HTTP 404: the survey service does not know session %q (expired?)%s", st.SessionID, b.snippet(body, b.cachedToken()))
	}
	if err := b.okStatus(c, status, body); err != nil {
		return nil, nil, err
	}
	var head struct {
		Done json.RawMessage `json:"done"`
	}
	if json.Unmarshal(body, &head) == nil && string(bytes.TrimSpace(head.Done)) == "true" {
		state, _ := json.Marshal(State{SessionID: st.SessionID, Done: true})
		return body, state, nil
	}
	return body, nil, nil
}

func (b *Bot) okStatus(c call, status int, body []byte) error {
	if kit.Classify(status) != kit.Success {
		return vendorErr(botrelay.ErrVendorBadReply, c.code, "%s: unexpected HTTP %d%s", c.what, status, b.snippet(body, b.cachedToken()))
	}
	return nil
}

// ParseResponse implements botrelay.HookableBot. No I/O.
func (b *Bot) ParseResponse(ctx context.Context, t *botrelay.Turn, resp json.RawMessage) (*botrelay.Reply, error) {
	reply, unknown, err := parseReply(resp)
	if err != nil {
		return nil, err
	}
	for _, typ := range unknown {
		b.env.Logger.WarnContext(ctx, "medallia message of unknown type skipped", "conversation_id", string(t.Conversation.ID), "type", typ)
	}
	return reply, nil
}
