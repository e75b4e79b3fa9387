package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/function"
)

// testerCode is a function bot that greets on the welcome event, counts
// turns in its session, fails on "boom" and answers nothing on "nothing".
const testerCode = `function lambda(input, callback) {
  const p = input.payload;
  const session = p.context.session;
  session.turns = (session.turns || 0) + 1;
  if (p.event && p.event.name === "WELCOME") {
    return callback(null, { messages: ["Welcome!"] });
  }
  if (p.message === "boom") { throw new Error("kaboom"); }
  if (p.message === "nothing") { return callback(null, {}); }
  if (p.message === "agent") {
    return callback(null, { messages: ["Transferring."], context: { action: "TRANSFER", actionParameters: { skill: "human" } } });
  }
  callback(null, { messages: ["Turn " + session.turns + ": " + p.message] });
}`

type converseResult struct {
	ConversationID string          `json:"conversationId"`
	Turn           int             `json:"turn"`
	Kind           string          `json:"kind"`
	Status         string          `json:"status"`
	Reply          *botrelay.Reply `json:"reply"`
	Error          *testerError    `json:"error"`
	Vendor         struct {
		Raw      bool            `json:"raw"`
		Request  json.RawMessage `json:"request"`
		Response json.RawMessage `json:"response"`
		Note     string          `json:"note"`
	} `json:"vendor"`
}

func (e *env) converse(token, bot string, body any, want int) converseResult {
	e.t.Helper()
	r := e.do(nil, http.MethodPost, "/api/v1/bots/"+bot+"/converse", token, body)
	if r.status != want {
		e.t.Fatalf("converse %v: status %d, want %d: %s", body, r.status, want, r.body)
	}
	var out converseResult
	if want == http.StatusOK {
		r.decode(e.t, &out)
	}
	return out
}

func replyTexts(r *botrelay.Reply) []string {
	var out []string
	if r == nil {
		return nil
	}
	for _, it := range r.Items {
		if it.Message != nil {
			out = append(out, it.Message.Text)
		}
	}
	return out
}

// TestConverseFunctionBot chats with a stopped function bot: the welcome
// event and text turns give the function's replies, the session carries
// over between turns, and each turn shows the function's raw input and
// callback result.
func TestConverseFunctionBot(t *testing.T) {
	e := newEnv(t)
	e.rig.Registry.RegisterVendor(function.Connector{})
	var b botJSON
	e.admin(http.MethodPost, "/api/v1/bots", map[string]any{"name": "tester", "vendor": "function", "userId": e.newBotUser(),
		"settings": map[string]any{"vendor": map[string]any{"code": testerCode},
			"errorHandling": map[string]any{"escalationSkill": "human"}}}, http.StatusCreated).decode(t, &b)
	admin := e.tokens["Admin"]
	id := string(b.ID)

	welcome := e.converse(admin, id, map[string]any{"kind": "START"}, http.StatusOK)
	if welcome.Status != "PROCESSED" || welcome.Turn != 1 || welcome.Kind != "START" || !strings.HasPrefix(welcome.ConversationID, "tester-") {
		t.Fatalf("welcome turn: %+v", welcome)
	}
	if got := replyTexts(welcome.Reply); len(got) != 1 || got[0] != "Welcome!" {
		t.Errorf("welcome reply %q", got)
	}
	if !welcome.Vendor.Raw || !strings.Contains(string(welcome.Vendor.Request), `"event":{"name":"WELCOME"}`) {
		t.Errorf("welcome request not the function input: raw=%v %s", welcome.Vendor.Raw, welcome.Vendor.Request)
	}

	conv := welcome.ConversationID
	second := e.converse(admin, id, map[string]any{"conversationId": conv, "text": "hello"}, http.StatusOK)
	if got := replyTexts(second.Reply); second.Status != "PROCESSED" || len(got) != 1 || got[0] != "Turn 2: hello" {
		t.Fatalf("second turn: status %s, texts %q (the session must carry over)", second.Status, got)
	}
	if second.Turn != 2 || second.ConversationID != conv {
		t.Errorf("second turn: turn %d in %s, want 2 in %s", second.Turn, second.ConversationID, conv)
	}
	var input struct {
		Payload struct {
			Message string `json:"message"`
			ConvID  string `json:"convId"`
			Context struct {
				Session map[string]any `json:"session"`
			} `json:"context"`
		} `json:"payload"`
	}
	if err := json.Unmarshal(second.Vendor.Request, &input); err != nil {
		t.Fatalf("request %s: %v", second.Vendor.Request, err)
	}
	if input.Payload.Message != "hello" || input.Payload.ConvID != conv || input.Payload.Context.Session["turns"] != float64(1) {
		t.Errorf("function input %s", second.Vendor.Request)
	}
	if !strings.Contains(string(second.Vendor.Response), `"Turn 2: hello"`) {
		t.Errorf("raw response %s", second.Vendor.Response)
	}
	if second.Reply.VendorState != nil || strings.Contains(string(e.bodies[len(e.bodies)-1]), "vendorState") {
		t.Error("the tester shows the vendor state in the reply")
	}

	// An action is shown, not carried out.
	transfer := e.converse(admin, id, map[string]any{"conversationId": conv, "text": "agent"}, http.StatusOK)
	if transfer.Reply == nil || transfer.Reply.Action == nil || transfer.Reply.Action.Kind != botrelay.ActionTransfer || transfer.Reply.Action.Skill != "human" {
		t.Errorf("transfer turn: %+v", transfer.Reply)
	}

	// A reply without content is an error with the relay's code, and the raw
	// response is still shown.
	empty := e.converse(admin, id, map[string]any{"conversationId": conv, "text": "nothing"}, http.StatusOK)
	if empty.Status != "ERROR" || empty.Error == nil || empty.Error.Code != "pipes.verify-ai-response.missing-action-and-messages" || empty.Reply != nil {
		t.Errorf("empty reply: %+v", empty)
	}
	if string(empty.Vendor.Response) != "{}" {
		t.Errorf("empty reply: raw response %s, want {}", empty.Vendor.Response)
	}

	// A throwing function is the vendor's error code, with the request shown.
	boom := e.converse(admin, id, map[string]any{"conversationId": conv, "text": "boom"}, http.StatusOK)
	if boom.Status != "ERROR" || boom.Error == nil || !strings.HasPrefix(boom.Error.Code, "aivendor.faas") ||
		!strings.Contains(boom.Error.Message, "kaboom") {
		t.Errorf("throwing function: %+v", boom.Error)
	}
	if !strings.Contains(string(boom.Vendor.Request), `"message":"boom"`) || string(boom.Vendor.Response) != "null" {
		t.Errorf("throwing function: request %s response %s", boom.Vendor.Request, boom.Vendor.Response)
	}

	// The tester never touched the bot: still stopped, no conversation.
	var st statusJSON
	e.admin(http.MethodGet, "/api/v1/bots/"+id+"/status", nil, http.StatusOK).decode(t, &st)
	if st.Started || st.State != botrelay.BotOffline || st.OpenConversations != 0 {
		t.Errorf("status after testing: %+v", st)
	}
}

// TestConverseOpaqueVendor: for a vendor without raw access the tester
// shows the turn and the translated reply and says so.
func TestConverseOpaqueVendor(t *testing.T) {
	e := newEnv(t)
	b := e.newBot("k1")
	out := e.converse(e.tokens["Admin"], string(b.ID), map[string]any{"text": "hello"}, http.StatusOK)
	if out.Status != "PROCESSED" || out.Vendor.Raw || out.Vendor.Note == "" {
		t.Fatalf("opaque vendor: %+v", out)
	}
	if got := replyTexts(out.Reply); len(got) != 1 || got[0] != "hi" {
		t.Errorf("reply %q", got)
	}
	var turn map[string]any
	if err := json.Unmarshal(out.Vendor.Request, &turn); err != nil || turn["kind"] != "TEXT" || turn["text"] != "hello" ||
		turn["conversationType"] != "MESSAGING" {
		t.Errorf("request shows %s (%v)", out.Vendor.Request, err)
	}
	if !strings.Contains(string(out.Vendor.Response), `"text":"hi"`) {
		t.Errorf("response shows %s", out.Vendor.Response)
	}
}

// TestConverseSessions: tester conversations belong to their bot and user,
// bad input is refused, and a bot keeps at most testerPerBotMax of them.
func TestConverseSessions(t *testing.T) {
	e := newEnv(t)
	admin, manager := e.tokens["Admin"], e.tokens["Campaign Manager"]
	b1, b2 := string(e.newBot("k1").ID), string(e.newBot("k2").ID)
	first := e.converse(admin, b1, map[string]any{"text": "hello"}, http.StatusOK)

	e.converse(admin, b2, map[string]any{"conversationId": first.ConversationID, "text": "x"}, http.StatusNotFound)
	e.converse(manager, b1, map[string]any{"conversationId": first.ConversationID, "text": "x"}, http.StatusNotFound)
	e.converse(admin, b1, map[string]any{"conversationId": "tester-nope", "text": "x"}, http.StatusNotFound)
	e.converse(admin, "no-such-bot", map[string]any{"text": "x"}, http.StatusNotFound)
	e.converse(admin, b1, map[string]any{"text": "  "}, http.StatusBadRequest)
	e.converse(admin, b1, map[string]any{"kind": "FILE", "text": "x"}, http.StatusBadRequest)
	e.converse(admin, b1, map[string]any{"text": strings.Repeat("x", testerTextMax+1)}, http.StatusBadRequest)
	e.converse(admin, b1, map[string]any{"text": "x", "extra": 1}, http.StatusBadRequest)

	if got := e.converse(admin, b1, map[string]any{"conversationId": first.ConversationID, "text": "again"}, http.StatusOK); got.Turn != 2 {
		t.Errorf("continued conversation: turn %d, want 2", got.Turn)
	}
	// testerPerBotMax newer conversations push the first one out.
	for i := range testerPerBotMax {
		e.converse(admin, b1, map[string]any{"text": fmt.Sprint("n", i)}, http.StatusOK)
	}
	e.converse(admin, b1, map[string]any{"conversationId": first.ConversationID, "text": "x"}, http.StatusNotFound)
}
