package medallia

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/botrelay/botrelay/internal/golden"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
)

const sdes = `{"unauthenticatedSdes":{"customerInfo":{"customerInfo":{"customerStatus":"vip"}}}}`

func newTestBot(t *testing.T, f *fakeMedallia, edit func(map[string]any)) *Bot {
	t.Helper()
	cfg := map[string]any{"baseUrl": f.srv.URL + "/", "clientId": testID, "clientSecret": testSecret, "surveyAppId": testApp}
	if edit != nil {
		edit(cfg)
	}
	raw, _ := json.Marshal(cfg)
	vb, err := Connector{}.NewBot(raw, botrelay.BotEnv{BotID: "b1", AccountID: "1000", HTTPClient: f.srv.Client(), Now: f.clock.Now})
	if err != nil {
		t.Fatalf("NewBot: %v", err)
	}
	return vb.(*Bot)
}

func surveyTurn(conv string) *botrelay.Turn {
	return &botrelay.Turn{Kind: botrelay.TurnSurvey,
		Conversation: botrelay.ConversationRef{ID: botrelay.ConversationID(conv), DialogID: "dlg-survey-1", Type: botrelay.Messaging,
			ConsumerID: "cons-1", SkillID: 7, SkillName: "survey_test"},
		LastConsumerMessage: "thanks, bye", SDEs: json.RawMessage(sdes), LPEvent: json.RawMessage(`{"sequence":4}`)}
}

func answerTurn(conv, text string, state json.RawMessage) *botrelay.Turn {
	return &botrelay.Turn{Kind: botrelay.TurnText, Text: text, VendorState: state,
		Conversation: botrelay.ConversationRef{ID: botrelay.ConversationID(conv), DialogID: "dlg-survey-1", Type: botrelay.Messaging,
			ConsumerID: "cons-1", SkillID: 7, SkillName: "survey_test"}}
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("body %s: %v", b, err)
	}
	return m
}

// TestSurvey runs a whole survey against the fake: start, two answers,
// done with the result as the close action's payload.
func TestSurvey(t *testing.T) {
	f := newFake(t)
	b := newTestBot(t, f, nil)
	ctx := context.Background()

	r1, err := b.Converse(ctx, surveyTurn("conv-1"))
	if err != nil {
		t.Fatal(err)
	}
	if string(r1.VendorState) != `{"sessionId":"sess-1"}` {
		t.Errorf("VendorState = %s", r1.VendorState)
	}
	if len(r1.Items) != 2 || r1.Items[1].Message.Text != "Did we solve your problem?" || r1.Items[1].Message.QuickReplies == nil || r1.Action != nil {
		t.Errorf("start reply = %+v", r1)
	}
	start := decode(t, f.calls()[0].Body)
	want := map[string]any{"conversationId": "conv-1", "dialogId": "dlg-survey-1", "consumerId": "cons-1",
		"skill": map[string]any{"id": float64(7), "name": "survey_test"}, "lastConsumerMessage": "thanks, bye",
		"sdes": decode(t, []byte(sdes))}
	if g, w := mustMarshal(start), mustMarshal(want); g != w {
		t.Errorf("start body = %s\nwant %s", g, w)
	}

	r2, err := b.Converse(ctx, answerTurn("conv-1", "Yes", r1.VendorState))
	if err != nil {
		t.Fatal(err)
	}
	if r2.VendorState != nil || r2.Action != nil || len(r2.Items) != 1 {
		t.Errorf("second reply = %+v", r2)
	}
	r3, err := b.Converse(ctx, answerTurn("conv-1", "Quick and kind", r1.VendorState))
	if err != nil {
		t.Fatal(err)
	}
	if r3.Action == nil || r3.Action.Kind != botrelay.ActionClose || string(r3.Action.Payload) != `{"comment":"Quick and kind","solved":"Yes"}` {
		t.Errorf("close = %+v", r3.Action)
	}
	if string(r3.VendorState) != `{"sessionId":"sess-1","done":true}` {
		t.Errorf("VendorState = %s", r3.VendorState)
	}
	if got := decode(t, f.calls()[2].Body); got["text"] != "Quick and kind" {
		t.Errorf("answer body = %v", got)
	}
	// Done: ending the conversation calls nothing.
	if err := b.EndConversation(ctx, botrelay.ConversationRef{ID: "conv-1"}, r3.VendorState); err != nil {
		t.Fatal(err)
	}
	wantCalls := []string{"POST /v1/surveys/" + testApp + "/sessions 201", "POST /v1/sessions/sess-1/answers 200", "POST /v1/sessions/sess-1/answers 200"}
	if got := f.summary(); strings.Join(got, "\n") != strings.Join(wantCalls, "\n") {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantCalls, "\n"))
	}
	if n := f.tokensIssued(); n != 1 {
		t.Errorf("fetched %d tokens, want 1 (cached)", n)
	}
	// A turn after done is refused without a call.
	if _, err := b.Converse(ctx, answerTurn("conv-1", "more", r3.VendorState)); !errors.Is(err, botrelay.ErrVendorBadReply) || golden.VendorCode(err) != CodeNoSession {
		t.Errorf("err = %v", err)
	}
}

func mustMarshal(v any) string {
	out, _ := json.Marshal(v)
	return string(out)
}

// TestAnswerBodies checks the answer body of each consumer turn kind.
func TestAnswerBodies(t *testing.T) {
	f := newFake(t)
	b := newTestBot(t, f, nil)
	ctx := context.Background()
	r, err := b.Converse(ctx, surveyTurn("conv-a"))
	if err != nil {
		t.Fatal(err)
	}
	f.set(func(f *fakeMedallia) {
		f.answer = func(string, map[string]any) (int, string) { return 200, `{"messages":[],"done":false}` }
	})
	rich := answerTurn("conv-a", botrelay.EventConsumerRichContent, r.VendorState)
	rich.Kind, rich.RichContent = botrelay.TurnRichContent, json.RawMessage(`{"type":"map","la":1.5,"lo":2.5}`)
	file := answerTurn("conv-a", "", r.VendorState)
	file.Kind, file.File = botrelay.TurnFile, &botrelay.File{RelativePath: "a/b.png", FileType: "PNG"}
	qr := answerTurn("conv-a", "Yes", r.VendorState)
	qr.Metadata = json.RawMessage(`[{"type":"ExternalId","id":"Yes"}]`)
	cases := map[string]struct {
		turn *botrelay.Turn
		want string
	}{
		"text":         {answerTurn("conv-a", "No", r.VendorState), `{"text":"No"}`},
		"quick reply":  {qr, `{"metadata":[{"id":"Yes","type":"ExternalId"}],"text":"Yes"}`},
		"rich content": {rich, `{"richContent":{"la":1.5,"lo":2.5,"type":"map"},"text":"` + botrelay.EventConsumerRichContent + `"}`},
		"file":         {file, `{"file":{"fileType":"PNG","relativePath":"a/b.png"},"text":"` + botrelay.EventConsumerFile + `"}`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			n := len(f.calls())
			if _, err := b.Converse(ctx, c.turn); err != nil {
				t.Fatal(err)
			}
			call := f.calls()[n]
			if call.Path != "/v1/sessions/sess-1/answers" || mustMarshal(decode(t, call.Body)) != c.want {
				t.Errorf("%s %s", call.Path, call.Body)
			}
		})
	}
}

// TestGoldenReplies replays each reply shape (testdata/replies/*.json, an
// answer response) and compares the Reply with the .golden file.
func TestGoldenReplies(t *testing.T) {
	files, _ := filepath.Glob("testdata/replies/*.json")
	if len(files) == 0 {
		t.Fatal("no golden inputs")
	}
	f := newFake(t)
	b := newTestBot(t, f, nil)
	r, err := b.Converse(context.Background(), surveyTurn("conv-g"))
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range files {
		name := strings.TrimSuffix(filepath.Base(in), ".json")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			f.set(func(f *fakeMedallia) {
				f.answer = func(string, map[string]any) (int, string) { return 200, string(body) }
			})
			reply, err := b.Converse(context.Background(), answerTurn("conv-g", "hello", r.VendorState))
			if err != nil {
				t.Fatalf("Converse: %v", err)
			}
			out, _ := json.MarshalIndent(reply, "", "  ")
			golden.Check(t, strings.TrimSuffix(in, ".json")+".golden", append(out, '\n'))
		})
	}
}

// TestGoldenInvalid: responses that break the contract are
// ErrVendorBadReply with the invalid-body code.
func TestGoldenInvalid(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*.json")
	if len(files) == 0 {
		t.Fatal("no golden inputs")
	}
	f := newFake(t)
	b := newTestBot(t, f, nil)
	r, err := b.Converse(context.Background(), surveyTurn("conv-i"))
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range files {
		name := strings.TrimSuffix(filepath.Base(in), ".json")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			f.set(func(f *fakeMedallia) {
				f.answer = func(string, map[string]any) (int, string) { return 200, string(body) }
			})
			reply, err := b.Converse(context.Background(), answerTurn("conv-i", "hello", r.VendorState))
			if err == nil {
				t.Fatalf("Converse accepted the response: %+v", reply)
			}
			if !errors.Is(err, botrelay.ErrVendorBadReply) || golden.VendorCode(err) != CodeInvalidBody {
				t.Fatalf("err = %v; want ErrVendorBadReply with %s", err, CodeInvalidBody)
			}
			golden.Check(t, strings.TrimSuffix(in, ".json")+".golden", []byte(err.Error()+"\n"))
		})
	}
}

// TestTokens: the token is cached, replaced shortly before it expires,
// and replaced after a 401 with the call repeated once.
func TestTokens(t *testing.T) {
	ctx := context.Background()
	t.Run("refresh before expiry", func(t *testing.T) {
		f := newFake(t)
		f.set(func(f *fakeMedallia) { f.expiresIn = 300 })
		b := newTestBot(t, f, nil)
		for range 3 {
			if err := b.CheckHealth(ctx); err != nil {
				t.Fatal(err)
			}
		}
		f.clock.Advance(238 * time.Second) // 62 s left: still used
		if err := b.CheckHealth(ctx); err != nil || f.tokensIssued() != 1 {
			t.Fatalf("err = %v, tokens = %d; want the cached one", err, f.tokensIssued())
		}
		f.clock.Advance(3 * time.Second) // 59 s left: replaced
		if err := b.CheckHealth(ctx); err != nil || f.tokensIssued() != 2 {
			t.Fatalf("err = %v, tokens = %d; want a new one", err, f.tokensIssued())
		}
		calls := f.calls()
		if calls[3].Token == calls[4].Token {
			t.Error("the call after the refresh used the old token")
		}
		for _, c := range calls {
			if c.Status != 200 {
				t.Errorf("call %s answered %d", c.Path, c.Status)
			}
		}
	})
	t.Run("401 fetches a new token and repeats the call", func(t *testing.T) {
		f := newFake(t)
		b := newTestBot(t, f, nil)
		r, err := b.Converse(ctx, surveyTurn("conv-t"))
		if err != nil {
			t.Fatal(err)
		}
		f.revokeTokens()
		r2, err := b.Converse(ctx, answerTurn("conv-t", "Yes", r.VendorState))
		if err != nil {
			t.Fatal(err)
		}
		if len(r2.Items) != 1 || r2.Items[0].Message.Text != "Anything else you want to tell us?" {
			t.Errorf("reply = %+v", r2)
		}
		want := []string{"POST /v1/surveys/" + testApp + "/sessions 201", "POST /v1/sessions/sess-1/answers 401", "POST /v1/sessions/sess-1/answers 200"}
		if got := f.summary(); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if f.tokensIssued() != 2 {
			t.Errorf("tokens = %d", f.tokensIssued())
		}
	})
	t.Run("no expires_in: kept until refused", func(t *testing.T) {
		f := newFake(t)
		f.set(func(f *fakeMedallia) { f.expiresIn = 0 })
		b := newTestBot(t, f, nil)
		_ = b.CheckHealth(ctx)
		f.clock.Advance(48 * time.Hour)
		if err := b.CheckHealth(ctx); err != nil || f.tokensIssued() != 1 {
			t.Fatalf("err = %v, tokens = %d", err, f.tokensIssued())
		}
		f.revokeTokens()
		if err := b.CheckHealth(ctx); err != nil || f.tokensIssued() != 2 {
			t.Fatalf("err = %v, tokens = %d", err, f.tokensIssued())
		}
	})
	t.Run("401 twice is an auth error", func(t *testing.T) {
		f := newFake(t)
		f.set(func(f *fakeMedallia) { f.refuseAll = true })
		b := newTestBot(t, f, nil)
		_, err := b.Converse(ctx, surveyTurn("conv-r"))
		if !errors.Is(err, botrelay.ErrVendorAuth) || golden.VendorCode(err) != CodeStartSurvey {
			t.Fatalf("err = %v", err)
		}
		if len(f.calls()) != 2 || f.tokensIssued() != 2 {
			t.Errorf("calls = %q, tokens = %d; want 2 and 2", f.summary(), f.tokensIssued())
		}
		if tok := f.calls()[1].Token; strings.Contains(err.Error(), tok) {
			t.Errorf("the error echoes the token: %v", err)
		}
	})
}

// TestErrors classifies failures of every call; no message carries the
// client secret or a token.
func TestErrors(t *testing.T) {
	type tc struct {
		edit  func(f *fakeMedallia, cfg map[string]any)
		hook  func(w http.ResponseWriter, r *http.Request) bool
		turn  string // "start" (default), "answer"
		class error
		code  string
	}
	status := func(st int, body string) func(w http.ResponseWriter, r *http.Request) bool {
		return func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(st)
			w.Write([]byte(body))
			return true
		}
	}
	cases := map[string]tc{
		"wrong secret": {edit: func(_ *fakeMedallia, c map[string]any) { c["clientSecret"] = "wrong-secret" }, class: botrelay.ErrVendorAuth, code: CodeGetToken},
		"wrong client": {edit: func(_ *fakeMedallia, c map[string]any) { c["clientId"] = "someone" }, class: botrelay.ErrVendorAuth, code: CodeGetToken},
		"token endpoint missing": {edit: func(f *fakeMedallia, c map[string]any) { c["tokenUrl"] = f.srv.URL + "/nothing" },
			class: botrelay.ErrVendorBadReply, code: CodeGetToken},
		"forbidden":          {hook: status(403, `{"error":"forbidden"}`), class: botrelay.ErrVendorAuth, code: CodeStartSurvey},
		"rate limited":       {hook: status(429, `{}`), class: botrelay.ErrVendorUnavailable, code: CodeStartSurvey},
		"server error":       {hook: status(500, `oops `+testSecret), class: botrelay.ErrVendorUnavailable, code: CodeStartSurvey},
		"unavailable":        {hook: status(503, ``), class: botrelay.ErrVendorUnavailable, code: CodeStartSurvey},
		"bad request":        {hook: status(400, `{"error":"bad"}`), class: botrelay.ErrVendorBadReply, code: CodeStartSurvey},
		"unknown survey":     {edit: func(_ *fakeMedallia, c map[string]any) { c["surveyAppId"] = "other-app" }, class: botrelay.ErrVendorBadReply, code: CodeStartSurvey},
		"start no sessionId": {hook: status(201, `{"messages":[],"done":false}`), class: botrelay.ErrVendorBadReply, code: CodeInvalidBody},
		"start not json":     {hook: status(201, `<html>`), class: botrelay.ErrVendorBadReply, code: CodeInvalidBody},
		"answer 5xx":         {turn: "answer", hook: status(502, `bad gateway`), class: botrelay.ErrVendorUnavailable, code: CodeSendAnswer},
		"answer 409":         {turn: "answer", hook: status(409, `{}`), class: botrelay.ErrVendorBadReply, code: CodeSendAnswer},
		"answer malformed":   {turn: "answer", hook: status(200, `{"messages":{}}`), class: botrelay.ErrVendorBadReply, code: CodeInvalidBody},
		"session expired":    {turn: "answer", class: botrelay.ErrVendorBadReply, code: CodeSendAnswer},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFake(t)
			b := newTestBot(t, f, func(cfg map[string]any) {
				if c.edit != nil {
					c.edit(f, cfg)
				}
			})
			turn := surveyTurn("conv-e")
			if c.turn == "answer" {
				turn = answerTurn("conv-e", "Yes", json.RawMessage(`{"sessionId":"sess-gone"}`))
				if c.hook != nil {
					turn.VendorState = json.RawMessage(`{"sessionId":"sess-x"}`)
				}
			}
			if c.hook != nil {
				f.set(func(f *fakeMedallia) {
					f.hook = func(w http.ResponseWriter, r *http.Request, _ []byte) bool { return c.hook(w, r) }
				})
			}
			_, err := b.Converse(context.Background(), turn)
			if !errors.Is(err, c.class) || golden.VendorCode(err) != c.code {
				t.Fatalf("err = %v; want %v with %s", err, c.class, c.code)
			}
			msg := err.Error()
			if strings.Contains(msg, testSecret) || strings.Contains(msg, "tok-") {
				t.Fatalf("error echoes a secret: %v", err)
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		f := newFake(t)
		b := newTestBot(t, f, nil)
		f.srv.Close()
		_, err := b.Converse(context.Background(), surveyTurn("conv-e"))
		if !errors.Is(err, botrelay.ErrVendorUnavailable) || golden.VendorCode(err) != CodeGetToken {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		f := newFake(t)
		release := make(chan struct{})
		defer close(release)
		f.set(func(f *fakeMedallia) {
			f.hook = func(http.ResponseWriter, *http.Request, []byte) bool { <-release; return false }
		})
		b := newTestBot(t, f, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := b.Converse(ctx, surveyTurn("conv-e"))
		if !errors.Is(err, botrelay.ErrVendorUnavailable) || golden.VendorCode(err) != CodeStartSurvey {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("lost state", func(t *testing.T) {
		f := newFake(t)
		b := newTestBot(t, f, nil)
		for _, st := range []string{"", `{}`, `garbage`} {
			_, err := b.Converse(context.Background(), answerTurn("conv-e", "Yes", json.RawMessage(st)))
			if !errors.Is(err, botrelay.ErrVendorBadReply) || golden.VendorCode(err) != CodeNoSession {
				t.Fatalf("state %q: err = %v", st, err)
			}
		}
		if len(f.calls()) != 0 {
			t.Errorf("calls = %q", f.summary())
		}
	})
	t.Run("agent-bot turns", func(t *testing.T) {
		f := newFake(t)
		b := newTestBot(t, f, nil)
		welcome := surveyTurn("conv-e")
		welcome.Kind = botrelay.TurnStart
		_, err := b.Converse(context.Background(), welcome)
		if !errors.Is(err, botrelay.ErrUnsupported) || golden.VendorCode(err) != CodeUnsupportedTurn || !strings.Contains(err.Error(), "survey bots only") {
			t.Fatalf("err = %v", err)
		}
		if len(f.calls()) != 0 || f.tokensIssued() != 0 {
			t.Errorf("made calls: %q", f.summary())
		}
	})
}

func TestCheckHealth(t *testing.T) {
	ctx := context.Background()
	f := newFake(t)
	if err := newTestBot(t, f, nil).CheckHealth(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.summary(); len(got) != 1 || got[0] != "GET /v1/health 200" {
		t.Errorf("calls = %q", got)
	}
	bad := newTestBot(t, f, func(c map[string]any) { c["clientSecret"] = "nope" })
	if err := bad.CheckHealth(ctx); !errors.Is(err, botrelay.ErrVendorAuth) || golden.VendorCode(err) != CodeGetToken {
		t.Errorf("wrong secret: err = %v", err)
	}
	f.set(func(f *fakeMedallia) {
		f.hook = func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
			writeJSON(w, 503, map[string]string{"status": "maintenance"})
			return true
		}
	})
	if err := newTestBot(t, f, nil).CheckHealth(ctx); !errors.Is(err, botrelay.ErrVendorUnavailable) || golden.VendorCode(err) != CodeTestConnection {
		t.Errorf("503: err = %v", err)
	}
	f.set(func(f *fakeMedallia) {
		f.hook = func(w http.ResponseWriter, r *http.Request, _ []byte) bool { w.WriteHeader(404); return true }
	})
	if err := newTestBot(t, f, nil).CheckHealth(ctx); !errors.Is(err, botrelay.ErrVendorBadReply) || golden.VendorCode(err) != CodeTestConnection {
		t.Errorf("404: err = %v", err)
	}
}

func TestEndConversation(t *testing.T) {
	ctx := context.Background()
	f := newFake(t)
	b := newTestBot(t, f, nil)
	r, err := b.Converse(ctx, surveyTurn("conv-x"))
	if err != nil {
		t.Fatal(err)
	}
	ref := botrelay.ConversationRef{ID: "conv-x"}
	if err := b.EndConversation(ctx, ref, r.VendorState); err != nil {
		t.Fatal(err)
	}
	if err := b.EndConversation(ctx, ref, r.VendorState); err != nil { // 404: already gone
		t.Fatal(err)
	}
	for _, st := range []string{"", `{}`, `{"sessionId":"sess-1","done":true}`} {
		if err := b.EndConversation(ctx, ref, json.RawMessage(st)); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"POST /v1/surveys/" + testApp + "/sessions 201", "DELETE /v1/sessions/sess-1 204", "DELETE /v1/sessions/sess-1 404"}
	if got := f.summary(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	f.set(func(f *fakeMedallia) {
		f.hook = func(w http.ResponseWriter, r *http.Request, _ []byte) bool { w.WriteHeader(500); return true }
	})
	if err := b.EndConversation(ctx, ref, r.VendorState); !errors.Is(err, botrelay.ErrVendorUnavailable) || golden.VendorCode(err) != CodeEndSession {
		t.Errorf("err = %v", err)
	}
}

// TestHooks: a pre-hook's rewrite of the request is what the service gets,
// and Converse equals the three steps.
func TestHooks(t *testing.T) {
	ctx := context.Background()
	f := newFake(t)
	b := newTestBot(t, f, nil)
	if hi := b.HookInfo(); hi.Vendor != "Medallia" || hi.RequestKey != "medalliaPayload" || hi.ResponseKey != "medallia" {
		t.Errorf("HookInfo = %+v", hi)
	}
	turn := surveyTurn("conv-h")
	req, err := b.BuildRequest(ctx, turn)
	if err != nil {
		t.Fatal(err)
	}
	m := decode(t, req)
	m["sdes"] = map[string]any{"rewritten": true}
	req, _ = json.Marshal(m)
	resp, state, err := b.Exchange(ctx, turn, req)
	if err != nil {
		t.Fatal(err)
	}
	if string(state) != `{"sessionId":"sess-1"}` {
		t.Errorf("state = %s", state)
	}
	if got := decode(t, f.calls()[0].Body)["sdes"]; mustMarshal(got) != `{"rewritten":true}` {
		t.Errorf("sent sdes = %v", got)
	}
	reply, err := b.ParseResponse(ctx, turn, resp)
	if err != nil || len(reply.Items) != 2 {
		t.Fatalf("reply = %+v, err = %v", reply, err)
	}
}

func TestSettings(t *testing.T) {
	base := `"baseUrl":"https://surveys.example.com/api/","clientId":"app-1","clientSecret":"s","surveyAppId":"` + testApp + `"`
	cases := map[string]struct {
		cfg  string
		want string // substring of the EINVALID message; "" = valid
	}{
		"minimal":            {cfg: `{` + base + `}`},
		"token url":          {cfg: `{` + base + `,"tokenUrl":"https://sentinel.example.com/token?v=1.0"}`},
		"missing baseUrl":    {cfg: `{"clientId":"a","clientSecret":"s","surveyAppId":"x"}`, want: "baseUrl is required"},
		"relative baseUrl":   {cfg: `{"baseUrl":"surveys.example.com","clientId":"a","clientSecret":"s","surveyAppId":"x"}`, want: "baseUrl"},
		"baseUrl with query": {cfg: `{"baseUrl":"https://h/?x=1","clientId":"a","clientSecret":"s","surveyAppId":"x"}`, want: "baseUrl must not carry"},
		"missing clientId":   {cfg: `{"baseUrl":"https://h","clientSecret":"s","surveyAppId":"x"}`, want: "clientId is required"},
		"blank clientId":     {cfg: `{"baseUrl":"https://h","clientId":"  ","clientSecret":"s","surveyAppId":"x"}`, want: "clientId is required"},
		"missing secret":     {cfg: `{"baseUrl":"https://h","clientId":"a","surveyAppId":"x"}`, want: "clientSecret is required"},
		"missing survey":     {cfg: `{"baseUrl":"https://h","clientId":"a","clientSecret":"s"}`, want: "surveyAppId is required"},
		"survey with slash":  {cfg: `{"baseUrl":"https://h","clientId":"a","clientSecret":"s","surveyAppId":"a/b"}`, want: "surveyAppId"},
		"bad tokenUrl":       {cfg: `{` + base + `,"tokenUrl":"ftp://x"}`, want: "tokenUrl"},
		"unknown key":        {cfg: `{` + base + `,"skill":"x"}`, want: "unknown field"},
		"not an object":      {cfg: `[]`, want: "medallia settings"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			vb, err := Connector{}.NewBot(json.RawMessage(c.cfg), botrelay.BotEnv{})
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if b := vb.(*Bot); !strings.HasSuffix(b.cfg.TokenURL, "/token") && !strings.Contains(b.cfg.TokenURL, "/token?") {
					t.Errorf("tokenUrl = %q", b.cfg.TokenURL)
				}
				return
			}
			if botrelay.ErrorCode(err) != botrelay.EINVALID || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v; want EINVALID mentioning %q", err, c.want)
			}
		})
	}
	vb, _ := Connector{}.NewBot(json.RawMessage(`{`+base+`}`), botrelay.BotEnv{})
	if got := vb.(*Bot).cfg.TokenURL; got != "https://surveys.example.com/api/oauth/token" {
		t.Errorf("default tokenUrl = %q", got)
	}
	info := Connector{}.Info()
	if info.ID != "medallia" || info.DisplayName != "Medallia (survey bots)" || !info.Survey || !info.SurveyOnly ||
		len(info.Secrets) != 1 || info.Secrets[0] != "clientSecret" {
		t.Errorf("Info = %+v", info)
	}
}
