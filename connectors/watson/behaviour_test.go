package watson_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/botrelay/botrelay/internal/golden"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/watson"
)

func mustMap(t *testing.T, raw json.RawMessage) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return m
}

func texts(r *botrelay.Reply) []string {
	var out []string
	for _, it := range r.Items {
		if it.Message != nil {
			out = append(out, it.Message.Text)
		}
	}
	return out
}

func TestV1ContextRoundTrip(t *testing.T) {
	f := newFake(t)
	b := v1Bot(t, f)
	ctx := context.Background()

	// Welcome: no input, a new Watson conversation, lpEvent filled in.
	start := turn(botrelay.TurnStart, "")
	start.LastConsumerMessage = "where is my order"
	start.VendorState = json.RawMessage(`{"workspace":"` + fakeWorkspace + `","context":{"conversation_id":"old"}}`)
	r0, err := b.Converse(ctx, start)
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(r0); len(got) != 1 || got[0] != "Welcome! last=where is my order" {
		t.Fatalf("welcome reply = %q", got)
	}
	req := f.calls()[0].Body
	if _, has := req["input"]; has {
		t.Errorf("welcome request has input: %v", req["input"])
	}
	wctx := req["context"].(map[string]any)
	if _, has := wctx["conversation_id"]; has {
		t.Error("welcome reused the stored Watson conversation")
	}
	lp := wctx["lpEvent"].(map[string]any)
	if lp["content"] != "welcome" || lp["contentType"] != "welcome" || lp["lastConsumerMessage"] != "where is my order" || lp["sequence"] != 3.0 {
		t.Errorf("welcome lpEvent = %v", lp)
	}

	// First text: convId, lpEvent, lpSdes in context; text stripped (F6).
	t1 := turn(botrelay.TurnText, "line one\nline\ttwo\r")
	t1.VendorState = r0.VendorState
	r1, err := b.Converse(ctx, t1)
	if err != nil {
		t.Fatal(err)
	}
	req = f.calls()[1].Body
	if in := req["input"].(map[string]any); in["text"] != "line onelinetwo" {
		t.Errorf("input.text = %q", in["text"])
	}
	wctx = req["context"].(map[string]any)
	if wctx["convId"] != convID || wctx["conversation_id"] != "watson-conv-2" {
		t.Errorf("context = %v", wctx)
	}
	if got, _ := json.Marshal(wctx["lpSdes"]); string(got) != sdesJSON {
		t.Errorf("lpSdes = %s", got)
	}
	if lp := wctx["lpEvent"].(map[string]any); lp["conversationId"] != convID {
		t.Errorf("lpEvent = %v", lp)
	}
	if sys := wctx["system"].(map[string]any); sys["dialog_turn_counter"] != 1.0 {
		t.Errorf("system = %v", sys)
	}
	if got := texts(r1); got[0] != "You said: line onelinetwo | convId=true sdes=true" {
		t.Errorf("reply = %q", got)
	}
	st := mustMap(t, r1.VendorState)
	sc := st["context"].(map[string]any)
	if st["workspace"] != fakeWorkspace || sc["conversation_id"] != "watson-conv-2" || sc["lpEvent"] != nil || sc["lpSdes"] == nil {
		t.Errorf("vendor state = %s", r1.VendorState)
	}
	if len(r1.Intents) != 1 || r1.Intents[0].ID != "echo" || r1.Intents[0].Confidence != 0.91 {
		t.Errorf("intents = %+v", r1.Intents)
	}

	// Second turn echoes the stored context.
	t2 := turn(botrelay.TurnText, "again")
	t2.VendorState = r1.VendorState
	if _, err := b.Converse(ctx, t2); err != nil {
		t.Fatal(err)
	}
	wctx = f.calls()[2].Body["context"].(map[string]any)
	if wctx["conversation_id"] != "watson-conv-2" || wctx["system"].(map[string]any)["dialog_turn_counter"] != 2.0 {
		t.Errorf("second context = %v", wctx)
	}

	// State of another workspace is not used.
	t3 := turn(botrelay.TurnText, "other")
	t3.VendorState = json.RawMessage(`{"workspace":"another","context":{"conversation_id":"foreign"}}`)
	if _, err := b.Converse(ctx, t3); err != nil {
		t.Fatal(err)
	}
	if c := f.calls()[3].Body["context"].(map[string]any); c["conversation_id"] == "foreign" {
		t.Error("context of another workspace was sent")
	}
}

func TestTurnKinds(t *testing.T) {
	rich := turn(botrelay.TurnRichContent, botrelay.EventConsumerRichContent)
	rich.RichContent = json.RawMessage(`{"type":"vertical","elements":[{"type":"map","la":49.82,"lo":2.02}]}`)
	rich.LPEvent = json.RawMessage(`{"conversationId":"` + convID + `"}`)
	file := turn(botrelay.TurnFile, "")
	file.File = &botrelay.File{RelativePath: "/v1/x.png", FileType: "PNG", Caption: "photo"}
	file.LPEvent = nil
	qr := turn(botrelay.TurnText, "yes")
	qr.Metadata = json.RawMessage(`[{"type":"ExternalId","id":"YES-1"}]`)
	qr.LPEvent = json.RawMessage(`{"event":{"type":"ContentEvent","message":"yes"}}`)
	chat := turn(botrelay.TurnStart, "")
	chat.Conversation.Type = botrelay.Chat
	chat.LPEvent = json.RawMessage(`{"@id":"1","text":""}`)
	cases := map[string]struct {
		turn  *botrelay.Turn
		text  any // input.text; nil for none
		check map[string]string
	}{
		"rich content": {rich, botrelay.EventConsumerRichContent, map[string]string{"event": `{"content":{"elements":[{"la":49.82,"lo":2.02,"type":"map"}],"type":"vertical"},"type":"RichContentEvent"}`}},
		"file":         {file, botrelay.EventConsumerFile, map[string]string{"event": `{"contentType":"hosted/file","message":{"caption":"photo","fileType":"PNG","relativePath":"/v1/x.png"},"type":"ContentEvent"}`}},
		"metadata":     {qr, "yes", map[string]string{"metadata": `[{"id":"YES-1","type":"ExternalId"}]`}},
		"chat welcome": {chat, nil, map[string]string{"isWelcomeEvent": `true`, "@id": `"1"`}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			for _, v2 := range []bool{false, true} {
				var f *fakeWatson
				var b botrelay.VendorBot
				if v2 {
					f = newFake(t, v2Fake)
					b = v2Bot(t, f)
				} else {
					f = newFake(t)
					b = v1Bot(t, f)
				}
				if _, err := b.Converse(context.Background(), c.turn); err != nil {
					t.Fatalf("v2=%v: %v", v2, err)
				}
				calls := f.calls()
				body := calls[len(calls)-1].Body
				var lp map[string]any
				in, _ := body["input"].(map[string]any)
				if v2 {
					ud := body["context"].(map[string]any)["skills"].(map[string]any)["main skill"].(map[string]any)["user_defined"].(map[string]any)
					lp = ud["lpEvent"].(map[string]any)
					if ud["convId"] != convID {
						t.Errorf("v2 convId = %v", ud["convId"])
					}
					want := c.text
					if want == nil {
						want = ""
					}
					if in["text"] != want || in["message_type"] != "text" {
						t.Errorf("v2 input = %v", in)
					}
				} else {
					lp = body["context"].(map[string]any)["lpEvent"].(map[string]any)
					if c.text == nil && in != nil || c.text != nil && in["text"] != c.text {
						t.Errorf("v1 input = %v", in)
					}
				}
				for k, want := range c.check {
					if got, _ := json.Marshal(lp[k]); string(got) != want {
						t.Errorf("v2=%v lpEvent.%s = %s, want %s", v2, k, got, want)
					}
				}
			}
		})
	}
}

// TestStickyEncodedMetadata: context.encodedMetadata applies to the reply
// and to later replies until it changes (F22).
func TestStickyEncodedMetadata(t *testing.T) {
	ctx := context.Background()
	answer := func(context string) string {
		return `{"output":{"generic":[{"response_type":"text","text":"hi"}]},"context":` + context + `}`
	}
	t.Run("v1", func(t *testing.T) {
		f := newFake(t)
		b := v1Bot(t, f)
		steps := []struct{ context, want string }{
			{`{"conversation_id":"c","encodedMetadata":"Rmlyc3Q="}`, "Rmlyc3Q="},
			{`{"conversation_id":"c"}`, "Rmlyc3Q="}, // key absent: still in effect
			{`{"conversation_id":"c","encodedMetadata":"U2Vjb25k"}`, "U2Vjb25k"},
			{`{"conversation_id":"c","encodedMetadata":null}`, ""},
			{`{"conversation_id":"c"}`, ""},
		}
		var state json.RawMessage
		for i, s := range steps {
			var sent map[string]any
			f.setReplyV1(func(req map[string]any) (int, string) { sent = req; return 200, answer(s.context) })
			tr := turn(botrelay.TurnText, "x")
			tr.VendorState = state
			r, err := b.Converse(ctx, tr)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Items[0].Message.EncodedMetadata; got != s.want {
				t.Errorf("step %d: encodedMetadata = %q, want %q", i, got, s.want)
			}
			if i == 2 {
				if em := sent["context"].(map[string]any)["encodedMetadata"]; em != "Rmlyc3Q=" {
					t.Errorf("step 2 sent context.encodedMetadata = %v; the carried value must be echoed", em)
				}
			}
			state = r.VendorState
		}
	})
	t.Run("v2", func(t *testing.T) {
		f := newFake(t, v2Fake)
		b := v2Bot(t, f)
		ud := func(v string) string {
			return `{"skills":{"main skill":{"user_defined":` + v + `}}}`
		}
		steps := []struct{ context, want string }{
			{ud(`{"encodedMetadata":"Rmlyc3Q="}`), "Rmlyc3Q="},
			{ud(`{}`), "Rmlyc3Q="},
			{`{}`, "Rmlyc3Q="},
			{ud(`{"encodedMetadata":null}`), ""},
		}
		var state json.RawMessage
		for i, s := range steps {
			f.setReplyV2(func(map[string]any) (int, string) { return 200, answer(s.context) })
			tr := turn(botrelay.TurnText, "x")
			tr.VendorState = state
			r, err := b.Converse(ctx, tr)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Items[0].Message.EncodedMetadata; got != s.want {
				t.Errorf("step %d: encodedMetadata = %q, want %q", i, got, s.want)
			}
			state = r.VendorState
		}
	})
}

func TestIAMCachingAndRefresh(t *testing.T) {
	f := newFake(t)
	clk := newClock()
	cfg := settings(f, false)
	b := newBot(t, watson.V1{}, cfg, botrelay.BotEnv{Now: clk.Now}).(*watson.BotV1)
	ctx := context.Background()
	say := func() string {
		t.Helper()
		if _, err := b.Converse(ctx, turn(botrelay.TurnText, "x")); err != nil {
			t.Fatal(err)
		}
		calls := f.calls()
		return calls[len(calls)-1].Bearer
	}
	first := say()
	if err := b.CheckHealth(ctx); err != nil {
		t.Fatal(err)
	}
	say()
	if n := f.exchangeCount(); n != 1 {
		t.Fatalf("exchanges = %d after 3 calls, want 1 (cached)", n)
	}
	clk.Advance(2879 * time.Second) // just under 80% of 3600 s
	if say() != first || f.exchangeCount() != 1 {
		t.Fatal("the token was refreshed before 80% of its lifetime")
	}
	clk.Advance(2 * time.Second) // past 80%
	second := say()
	if f.exchangeCount() != 2 || second == first {
		t.Fatalf("exchanges = %d, bearer %s → %s; want a refresh past 80%% of the lifetime", f.exchangeCount(), first, second)
	}

	// Watson refuses the token: it is dropped, exchanged again, and the
	// call made once more.
	f.revokeTokens()
	third := say()
	if f.exchangeCount() != 3 || third == second {
		t.Fatalf("exchanges = %d after a 401", f.exchangeCount())
	}
	calls := f.calls()
	if last2 := calls[len(calls)-2]; last2.Status != 401 || last2.Bearer != second {
		t.Errorf("the call before the retry = %+v, want a 401 with the revoked token", last2)
	}
}

func TestIAMConcurrentUse(t *testing.T) {
	f := newFake(t)
	b := v1Bot(t, f)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := turn(botrelay.TurnText, fmt.Sprint("msg ", i))
			tr.Conversation.ID = botrelay.ConversationID(fmt.Sprint("conv-", i))
			_, err := b.Converse(context.Background(), tr)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := f.exchangeCount(); n != 1 {
		t.Fatalf("20 concurrent calls made %d token exchanges, want 1", n)
	}
}

func TestIAMKeepsValidTokenWhenRefreshFails(t *testing.T) {
	f := newFake(t)
	clk := newClock()
	b := newBot(t, watson.V1{}, settings(f, false), botrelay.BotEnv{Now: clk.Now}).(*watson.BotV1)
	ctx := context.Background()
	if _, err := b.Converse(ctx, turn(botrelay.TurnText, "x")); err != nil {
		t.Fatal(err)
	}
	f.iamSrv.Close() // the token endpoint goes away
	clk.Advance(3000 * time.Second)
	if _, err := b.Converse(ctx, turn(botrelay.TurnText, "y")); err != nil {
		t.Fatalf("a failed refresh must keep the still valid token: %v", err)
	}
	clk.Advance(700 * time.Second) // expired
	_, err := b.Converse(ctx, turn(botrelay.TurnText, "z"))
	if !errors.Is(err, botrelay.ErrVendorUnavailable) || golden.VendorCode(err) != watson.CodeIAMToken {
		t.Fatalf("err = %v", err)
	}
}

func TestWrongCredentials(t *testing.T) {
	ctx := context.Background()
	cases := map[string]struct {
		v2     bool
		basic  bool
		edit   func(map[string]any)
		code   string
		class  error
		has    string
		secret string
	}{
		"v1 wrong api key": {edit: func(c map[string]any) { c["apiKey"] = "wrong-key-123456" }, code: watson.CodeIAMToken, class: botrelay.ErrVendorAuth,
			has: "connection test (IAM check): IAM token exchange at", secret: "wrong-key-123456"},
		"v2 wrong api key": {v2: true, edit: func(c map[string]any) { c["apiKey"] = "wrong-key-123456" }, code: watson.CodeIAMTokenV2, class: botrelay.ErrVendorAuth,
			has: "connection test (IAM check): IAM token exchange at", secret: "wrong-key-123456"},
		"v1 wrong password": {basic: true, edit: func(c map[string]any) { c["password"] = "wrong-pass-654321" }, code: watson.CodeTestConnection, class: botrelay.ErrVendorAuth,
			has: "connection test (get workspace " + fakeWorkspace + "): Watson refused the username and password (HTTP 401", secret: "wrong-pass-654321"},
		"v2 wrong password": {v2: true, basic: true, edit: func(c map[string]any) { c["password"] = "wrong-pass-654321" }, code: watson.CodeTestConnectionV2, class: botrelay.ErrVendorAuth,
			has: "connection test: create a session: Watson refused the username and password (HTTP 401", secret: "wrong-pass-654321"},
		"v1 unknown workspace": {edit: func(c map[string]any) { c["workspaceId"] = "00000000-0000-0000-0000-000000000000" }, code: watson.CodeTestConnection, class: botrelay.ErrVendorBadReply,
			has: `workspace "00000000-0000-0000-0000-000000000000" not found`},
		"v2 unknown assistant": {v2: true, edit: func(c map[string]any) { c["assistantId"] = "00000000-0000-0000-0000-000000000000" }, code: watson.CodeTestConnectionV2, class: botrelay.ErrVendorBadReply,
			has: `assistant "00000000-0000-0000-0000-000000000000" not found`},
		"v1 wrong version": {edit: func(c map[string]any) { c["versionDate"] = "2017-05-26" }, code: watson.CodeTestConnection, class: botrelay.ErrVendorBadReply, has: "HTTP 400"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			opts := []fakeOpt{}
			if c.v2 {
				opts = append(opts, v2Fake)
			}
			if c.basic {
				opts = append(opts, basicAuth)
			}
			f := newFake(t, opts...)
			var b botrelay.VendorBot
			if c.v2 {
				b = v2Bot(t, f, c.edit)
			} else {
				b = v1Bot(t, f, c.edit)
			}
			err := b.(botrelay.HealthChecker).CheckHealth(ctx)
			if !errors.Is(err, c.class) || golden.VendorCode(err) != c.code || !strings.Contains(err.Error(), c.has) {
				t.Fatalf("CheckHealth err = %v; want %v, code %s, containing %q", err, c.class, c.code, c.has)
			}
			if c.secret != "" && strings.Contains(err.Error(), c.secret) {
				t.Fatalf("the error quotes the secret: %v", err)
			}
			// Converse fails the same way, classified.
			_, err = b.Converse(ctx, turn(botrelay.TurnText, "x"))
			if err == nil || (c.secret != "" && strings.Contains(err.Error(), c.secret)) {
				t.Fatalf("Converse err = %v", err)
			}
		})
	}
	t.Run("basic auth is not retried", func(t *testing.T) {
		f := newFake(t, basicAuth)
		b := v1Bot(t, f, func(c map[string]any) { c["password"] = "nope" })
		_, err := b.Converse(ctx, turn(botrelay.TurnText, "x"))
		if !errors.Is(err, botrelay.ErrVendorAuth) || golden.VendorCode(err) != watson.CodeSendQuery {
			t.Fatalf("err = %v", err)
		}
		if n := len(f.calls()); n != 1 {
			t.Errorf("calls = %d, want 1", n)
		}
	})
}

func TestBasicAuth(t *testing.T) {
	ctx := context.Background()
	f := newFake(t, basicAuth)
	b := v1Bot(t, f)
	if err := b.CheckHealth(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := b.Converse(ctx, turn(botrelay.TurnText, "hi"))
	if err != nil || !strings.HasPrefix(texts(r)[0], "You said: hi") {
		t.Fatalf("reply %+v, err %v", r, err)
	}
	if f.exchangeCount() != 0 {
		t.Error("basic auth exchanged a token")
	}
	f2 := newFake(t, basicAuth, v2Fake)
	b2 := v2Bot(t, f2)
	if err := b2.CheckHealth(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b2.Converse(ctx, turn(botrelay.TurnText, "hi")); err != nil {
		t.Fatal(err)
	}
}

func TestV1HealthFallsBackToMessageOn403(t *testing.T) {
	f := newFake(t)
	f.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodGet {
			writeJSON(w, 403, map[string]any{"error": "Forbidden", "code": 403})
			return true
		}
		return false
	})
	b := v1Bot(t, f)
	if err := b.CheckHealth(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(f.summary(), ",")
	want := "GET /v1/workspaces/" + fakeWorkspace + " 403,POST /v1/workspaces/" + fakeWorkspace + "/message 200"
	if got != want {
		t.Errorf("calls = %s, want %s", got, want)
	}
}

func TestV2Sessions(t *testing.T) {
	f := newFake(t, v2Fake)
	b := v2Bot(t, f)
	ctx := context.Background()
	a := "/v2/assistants/" + fakeAssistant + "/sessions"

	r1, err := b.Converse(ctx, turn(botrelay.TurnText, "one"))
	if err != nil {
		t.Fatal(err)
	}
	st := mustMap(t, r1.VendorState)
	if st["sessionId"] != "session-2" || st["assistant"] != fakeAssistant {
		t.Fatalf("state = %s", r1.VendorState)
	}
	if got := texts(r1)[0]; got != "You said: one | convId=true sdes=true" {
		t.Errorf("reply = %q", got)
	}
	t2 := turn(botrelay.TurnText, "two")
	t2.VendorState = r1.VendorState
	r2, err := b.Converse(ctx, t2)
	if err != nil {
		t.Fatal(err)
	}

	// The session expires at Watson: 404, a new session, the message again.
	f.expireSessions()
	t3 := turn(botrelay.TurnText, "three")
	t3.VendorState = r2.VendorState
	r3, err := b.Converse(ctx, t3)
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(r3)[0]; got != "You said: three | convId=true sdes=true" {
		t.Errorf("reply after expiry = %q", got)
	}
	if st := mustMap(t, r3.VendorState); st["sessionId"] == "session-2" {
		t.Errorf("state still names the expired session: %s", r3.VendorState)
	}
	want := []string{
		"POST " + a + " 201",
		"POST " + a + "/session-2/message 200",
		"POST " + a + "/session-2/message 200",
		"POST " + a + "/session-2/message 404",
		"POST " + a + " 201",
		"POST " + a + "/session-3/message 200",
	}
	if got := f.summary(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// End of the conversation deletes the session.
	if err := b.EndConversation(ctx, t3.Conversation, r3.VendorState); err != nil {
		t.Fatal(err)
	}
	if f.sessionCount() != 0 {
		t.Errorf("sessions left: %d", f.sessionCount())
	}
	if err := b.EndConversation(ctx, t3.Conversation, r3.VendorState); err != nil {
		t.Errorf("deleting a gone session: %v", err)
	}
	if err := b.EndConversation(ctx, t3.Conversation, nil); err != nil {
		t.Errorf("no state: %v", err)
	}

	// The health check leaves no session behind.
	if err := b.CheckHealth(ctx); err != nil {
		t.Fatal(err)
	}
	if f.sessionCount() != 0 {
		t.Errorf("the health check left %d sessions", f.sessionCount())
	}
}

func TestV2InvalidSessionRecreateFails(t *testing.T) {
	f := newFake(t, v2Fake)
	b := v2Bot(t, f)
	ctx := context.Background()
	r1, err := b.Converse(ctx, turn(botrelay.TurnText, "one"))
	if err != nil {
		t.Fatal(err)
	}
	f.expireSessions()
	f.setHook(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/sessions") {
			writeJSON(w, 500, map[string]any{"error": "Internal Server Error", "code": 500})
			return true
		}
		return false
	})
	t2 := turn(botrelay.TurnText, "two")
	t2.VendorState = r1.VendorState
	_, err = b.Converse(ctx, t2)
	if !errors.Is(err, botrelay.ErrVendorUnavailable) || golden.VendorCode(err) != watson.CodeInvalidSession {
		t.Fatalf("err = %v; want ErrVendorUnavailable with %s", err, watson.CodeInvalidSession)
	}
	// Creating the first session fails with the create-session code.
	_, err = b.Converse(ctx, turn(botrelay.TurnText, "new"))
	if !errors.Is(err, botrelay.ErrVendorUnavailable) || golden.VendorCode(err) != watson.CodeCreateSession {
		t.Fatalf("err = %v; want %s", err, watson.CodeCreateSession)
	}
}

func TestErrorClasses(t *testing.T) {
	ctx := context.Background()
	cases := map[string]struct {
		status      int
		class       error
		v1, v2Code  string
		closeServer bool
	}{
		"500":                {status: 500, class: botrelay.ErrVendorUnavailable, v1: watson.CodeSendQuery, v2Code: watson.CodeSendQueryV2},
		"429 quota":          {status: 429, class: botrelay.ErrVendorUnavailable, v1: watson.CodeSendQuery, v2Code: watson.CodeSendQueryV2},
		"400":                {status: 400, class: botrelay.ErrVendorBadReply, v1: watson.CodeWatsonError, v2Code: watson.CodeSendQueryV2},
		"403":                {status: 403, class: botrelay.ErrVendorAuth, v1: watson.CodeSendQuery, v2Code: watson.CodeSendQueryV2},
		"connection refused": {closeServer: true, class: botrelay.ErrVendorUnavailable, v1: watson.CodeIAMToken, v2Code: watson.CodeIAMTokenV2},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			for _, v2 := range []bool{false, true} {
				var f *fakeWatson
				var b botrelay.VendorBot
				code := c.v1
				if v2 {
					f, code = newFake(t, v2Fake), c.v2Code
					b = v2Bot(t, f)
				} else {
					f = newFake(t)
					b = v1Bot(t, f)
				}
				if c.closeServer {
					f.srv.Close()
					f.iamSrv.Close()
				}
				reply := func(map[string]any) (int, string) {
					return c.status, fmt.Sprintf(`{"error":"status %d","code":%d}`, c.status, c.status)
				}
				f.setReplyV1(reply)
				f.setReplyV2(reply)
				_, err := b.Converse(ctx, turn(botrelay.TurnText, "x"))
				if !errors.Is(err, c.class) || golden.VendorCode(err) != code {
					t.Errorf("v2=%v: err = %v; want %v with %s", v2, err, c.class, code)
				}
			}
		})
	}
}

func TestSurveyUnsupported(t *testing.T) {
	f := newFake(t)
	_, err := v1Bot(t, f).Converse(context.Background(), turn(botrelay.TurnSurvey, ""))
	if !errors.Is(err, botrelay.ErrUnsupported) {
		t.Fatalf("err = %v", err)
	}
	if (watson.V1{}).Info().Survey || (watson.V2{}).Info().Survey {
		t.Error("Survey = true")
	}
}

func TestNewBot(t *testing.T) {
	for _, conn := range []botrelay.VendorConnector{watson.V1{}, watson.V2{}} {
		info := conn.Info()
		if strings.Join(info.Secrets, ",") != "apiKey,password" || info.RetriesInternally {
			t.Errorf("%s Info = %+v", info.ID, info)
		}
	}
	if (watson.V1{}).Info().ID != "watson_v1" || (watson.V2{}).Info().ID != "watson_v2" {
		t.Error("vendor ids")
	}
	const u = `"https://api.eu-de.assistant.watson.cloud.ibm.com/instances/x"`
	bad := map[string]struct {
		v2         bool
		cfg, field string
	}{
		"v1 no workspaceUrl":     {cfg: `{"workspaceId":"w","apiKey":"k"}`, field: "workspaceUrl"},
		"v1 relative url":        {cfg: `{"workspaceUrl":"/x","workspaceId":"w","apiKey":"k"}`, field: "workspaceUrl"},
		"v1 watsonplatform":      {cfg: `{"workspaceUrl":"https://gateway.watsonplatform.net/assistant/api","workspaceId":"w","apiKey":"k"}`, field: "workspaceUrl"},
		"v1 no workspaceId":      {cfg: `{"workspaceUrl":` + u + `,"apiKey":"k"}`, field: "workspaceId"},
		"v1 bad workspaceId":     {cfg: `{"workspaceUrl":` + u + `,"workspaceId":"a/b","apiKey":"k"}`, field: "workspaceId"},
		"v1 bad version":         {cfg: `{"workspaceUrl":` + u + `,"workspaceId":"w","versionDate":"201X-xx-xx","apiKey":"k"}`, field: "versionDate"},
		"v1 impossible version":  {cfg: `{"workspaceUrl":` + u + `,"workspaceId":"w","versionDate":"2018-13-40","apiKey":"k"}`, field: "versionDate"},
		"no credentials":         {cfg: `{"workspaceUrl":` + u + `,"workspaceId":"w"}`, field: "apiKey"},
		"both credentials":       {cfg: `{"workspaceUrl":` + u + `,"workspaceId":"w","apiKey":"k","username":"u","password":"p"}`, field: "apiKey"},
		"username only":          {cfg: `{"workspaceUrl":` + u + `,"workspaceId":"w","username":"u"}`, field: "password"},
		"password only":          {cfg: `{"workspaceUrl":` + u + `,"workspaceId":"w","password":"p"}`, field: "username"},
		"bad token url":          {cfg: `{"workspaceUrl":` + u + `,"workspaceId":"w","apiKey":"k","tokenEndpointUrl":"iam"}`, field: "tokenEndpointUrl"},
		"token url with basic":   {cfg: `{"workspaceUrl":` + u + `,"workspaceId":"w","username":"u","password":"p","tokenEndpointUrl":"https://iam"}`, field: "tokenEndpointUrl"},
		"unknown key":            {cfg: `{"workspaceUrl":` + u + `,"workspaceId":"w","apiKey":"k","workspace_id":"x"}`, field: "workspace_id"},
		"wrong type":             {cfg: `{"workspaceUrl":` + u + `,"workspaceId":7,"apiKey":"k"}`, field: "workspaceId"},
		"v2 no url":              {v2: true, cfg: `{"assistantId":"a","apiKey":"k"}`, field: "url"},
		"v2 no assistantId":      {v2: true, cfg: `{"url":` + u + `,"apiKey":"k"}`, field: "assistantId"},
		"v2 workspace key":       {v2: true, cfg: `{"url":` + u + `,"assistantId":"a","workspaceId":"w","apiKey":"k"}`, field: "workspaceId"},
		"v2 bad version":         {v2: true, cfg: `{"url":` + u + `,"assistantId":"a","versionDate":"yesterday","apiKey":"k"}`, field: "versionDate"},
		"v2 query in url":        {v2: true, cfg: `{"url":"https://x/api?version=1","assistantId":"a","apiKey":"k"}`, field: "url"},
		"not an object":          {cfg: `[]`, field: "settings"},
		"secret not echoed (v1)": {cfg: `{"workspaceUrl":` + u + `,"workspaceId":"w","apiKey":"super-secret","username":"u","password":"p2"}`, field: "apiKey"},
	}
	for name, c := range bad {
		t.Run(name, func(t *testing.T) {
			var conn botrelay.VendorConnector = watson.V1{}
			if c.v2 {
				conn = watson.V2{}
			}
			_, err := conn.NewBot(json.RawMessage(c.cfg), botrelay.BotEnv{})
			if botrelay.ErrorCode(err) != botrelay.EINVALID || !strings.Contains(err.Error(), c.field) {
				t.Fatalf("err = %v; want EINVALID naming %s", err, c.field)
			}
			if strings.Contains(err.Error(), "super-secret") || strings.Contains(err.Error(), "p2\"") {
				t.Fatalf("err quotes a secret: %v", err)
			}
		})
	}
	t.Run("defaults", func(t *testing.T) {
		b, err := watson.V1{}.NewBot(json.RawMessage(`{"workspaceUrl":`+u+`,"workspaceId":"w","apiKey":"k"}`), botrelay.BotEnv{})
		if err != nil || b == nil {
			t.Fatal(err)
		}
		b2, err := watson.V2{}.NewBot(json.RawMessage(`{"url":`+u+`,"assistantId":"a","username":"u","password":"p"}`), botrelay.BotEnv{})
		if err != nil || b2 == nil {
			t.Fatal(err)
		}
	})
	t.Run("default versions are sent", func(t *testing.T) {
		// The fakes check version on every call; these pass only with the
		// defaults.
		f := newFake(t)
		if err := newBot(t, watson.V1{}, settings(f, false), botrelay.BotEnv{}).(botrelay.HealthChecker).CheckHealth(context.Background()); err != nil {
			t.Fatal(err)
		}
		f2 := newFake(t, func(f *fakeWatson) { f.version = "2023-06-15" })
		cfg := settings(f2, true)
		cfg["versionDate"] = "2023-06-15"
		if err := newBot(t, watson.V2{}, cfg, botrelay.BotEnv{}).(botrelay.HealthChecker).CheckHealth(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}
