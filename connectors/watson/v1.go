package watson

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/kit"
)

// BotV1 is one configured watson_v1 bot. It implements
// botrelay.HookableBot and botrelay.HealthChecker and is safe for
// concurrent use.
type BotV1 struct {
	cfg    ConfigV1
	client *client
	path   string // /v1/workspaces/{workspaceId}
}

var (
	_ botrelay.HealthChecker = (*BotV1)(nil)
	_ botrelay.HookableBot   = (*BotV1)(nil)
)

// stateV1 is a v1 conversation's vendor state: Watson's context, echoed on
// the next turn, and the workspace it belongs to (a settings change to
// another workspace starts a new Watson conversation).
type stateV1 struct {
	Workspace string          `json:"workspace"`
	Context   json.RawMessage `json:"context"`
}

// messageV1 is the body of POST …/message.
type messageV1 struct {
	Input   *inputV1 `json:"input,omitempty"`
	Context jobj     `json:"context"`
}

type inputV1 struct {
	Text string `json:"text"`
}

// Converse implements botrelay.VendorBot: POST
// {workspaceUrl}/v1/workspaces/{workspaceId}/message with the stored
// context (none for a welcome turn, which starts a new Watson
// conversation) plus convId, lpEvent and lpSdes. The answer's context,
// without lpEvent, is the new vendor state.
func (b *BotV1) Converse(ctx context.Context, t *botrelay.Turn) (*botrelay.Reply, error) {
	return kit.Converse(ctx, b, t, b.client.secrets()...)
}

// HookInfo implements botrelay.HookableBot with the reference product's
// names (F36).
func (b *BotV1) HookInfo() botrelay.HookInfo {
	return botrelay.HookInfo{Vendor: "WatsonAssistant", RequestKey: "watsonV1Payload", ResponseKey: "watson"}
}

// requestContext is the context sent with t: the stored one (none for a
// welcome turn) plus convId, lpEvent and lpSdes, and the encodedMetadata
// in effect before the answer.
func (b *BotV1) requestContext(t *botrelay.Turn) (wctx jobj, prevEM string) {
	wctx = jobj{}
	if t.Kind != botrelay.TurnStart && len(t.VendorState) > 0 {
		var st stateV1
		if json.Unmarshal(t.VendorState, &st) == nil && st.Workspace == b.cfg.WorkspaceID {
			if o, isObj := asObject(st.Context); isObj {
				wctx = o
			}
		}
	}
	prevEM, _ = stickyMetadata(wctx, "")
	wctx["convId"] = mustJSON(string(t.Conversation.ID))
	wctx["lpEvent"] = lpEvent(t)
	wctx["lpSdes"] = lpSdes(t)
	return wctx, prevEM
}

// BuildRequest implements botrelay.HookableBot: the message body.
func (b *BotV1) BuildRequest(ctx context.Context, t *botrelay.Turn) (json.RawMessage, error) {
	if t.Kind == botrelay.TurnSurvey {
		return nil, vendorErr(botrelay.ErrUnsupported, CodeSendQuery, "Watson bots cannot run surveys")
	}
	wctx, _ := b.requestContext(t)
	req := messageV1{Context: wctx}
	if t.Kind != botrelay.TurnStart {
		req.Input = &inputV1{Text: queryText(t)}
	}
	return json.Marshal(req)
}

// Exchange implements botrelay.HookableBot: POST …/message.
func (b *BotV1) Exchange(ctx context.Context, t *botrelay.Turn, req json.RawMessage) (json.RawMessage, json.RawMessage, error) {
	res, err := b.client.do(ctx, CodeSendQuery, "send the message", http.MethodPost, b.cfg.WorkspaceURL+b.path+"/message", req)
	if err != nil {
		return nil, nil, err
	}
	if !success(res) {
		return nil, nil, b.client.statusErr(CodeSendQuery, CodeWatsonError, "send the message", res)
	}
	return res.body, nil, nil
}

// ParseResponse implements botrelay.HookableBot: the reply, and the
// answer's context (the request's when the answer has none) as the vendor
// state.
func (b *BotV1) ParseResponse(ctx context.Context, t *botrelay.Turn, resp json.RawMessage) (*botrelay.Reply, error) {
	top, err := decodeAnswer(resp)
	if err != nil {
		return nil, err
	}
	rctx, prevEM := b.requestContext(t)
	if top.has("context") {
		var isObj bool
		if rctx, isObj = asObject(top["context"]); !isObj {
			return nil, parseErr(CodeParseMessageFailed, "context must be a JSON object")
		}
	}
	em, absentKey := stickyMetadata(rctx, prevEM)
	if absentKey && em != "" {
		rctx["encodedMetadata"] = mustJSON(em)
	}
	reply, err := translate(parseInput{
		output: top["output"], actions: top["actions"], intents: top["intents"],
		encodedMetadata: em, convType: t.Conversation.Type, currentSkill: t.Conversation.SkillName,
		escalationSkill: b.client.env.EscalationSkill,
	})
	if err != nil {
		return nil, err
	}
	delete(rctx, "lpEvent") // sent afresh with every turn
	reply.VendorState = mustJSON(stateV1{Workspace: b.cfg.WorkspaceID, Context: mustJSON(rctx)})
	return reply, nil
}

// decodeAnswer decodes a Watson answer that must be a JSON object.
func decodeAnswer(body []byte) (jobj, error) {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, parseErr(CodeParserCrashed, "the answer is not JSON%s", kit.Snippet(body))
	}
	o, ok := asObject(body)
	if !ok {
		return nil, parseErr(CodeParseMessageFailed, "the answer is not a JSON object%s", kit.Snippet(body))
	}
	return o, nil
}

// CheckHealth implements botrelay.HealthChecker: the connection test. It
// exchanges the API key (IAM) and reads the workspace's metadata (GET
// {workspaceUrl}/v1/workspaces/{workspaceId}?export=false), which sends
// nothing to the dialog and is not a billed message. When the credentials
// may not read workspaces (HTTP 403), it falls back to a message call
// without input and context.
func (b *BotV1) CheckHealth(ctx context.Context) error {
	what := "connection test (get workspace " + b.cfg.WorkspaceID + ")"
	res, err := b.client.do(ctx, CodeTestConnection, what, http.MethodGet, b.cfg.WorkspaceURL+b.path+"?export=false", nil)
	if err != nil {
		return checkErr(err)
	}
	if success(res) {
		return nil
	}
	if res.status == http.StatusForbidden {
		what = "connection test (message to workspace " + b.cfg.WorkspaceID + ")"
		res, err = b.client.do(ctx, CodeTestConnection, what, http.MethodPost, b.cfg.WorkspaceURL+b.path+"/message", messageV1{Context: jobj{}})
		if err != nil {
			return checkErr(err)
		}
		if success(res) {
			return nil
		}
	}
	if res.status == http.StatusNotFound {
		return vendorErr(botrelay.ErrVendorBadReply, CodeTestConnection, "%s: workspace %q not found at %s (HTTP 404%s)", what, b.cfg.WorkspaceID, b.cfg.WorkspaceURL, kit.Snippet(res.body, b.client.secrets()...))
	}
	return b.client.statusErr(CodeTestConnection, CodeTestConnection, what, res)
}

// checkErr marks an IAM failure during the connection test as such.
func checkErr(err error) error {
	var ve *botrelay.VendorError
	if errors.As(err, &ve) && (ve.Code == CodeIAMToken || ve.Code == CodeIAMTokenV2) {
		return vendorErr(ve.Class, ve.Code, "connection test (IAM check): %s", ve.Message)
	}
	return err
}
