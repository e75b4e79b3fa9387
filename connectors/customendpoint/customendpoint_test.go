package customendpoint

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"github.com/botrelay/botrelay/internal/golden"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/jwtsign"
)

// signer is botrelay's signing key for the whole test binary (RSA key
// generation is slow under -race).
var signer, otherSigner *jwtsign.Signer

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "customendpoint-test-")
	if err != nil {
		panic(err)
	}
	signer, err = jwtsign.LoadOrCreate(filepath.Join(dir, "a"))
	if err == nil {
		otherSigner, err = jwtsign.LoadOrCreate(filepath.Join(dir, "b"))
	}
	if err != nil {
		panic(err)
	}
	signer.SetJWKSURL("https://botrelay.example/.well-known/jwks.json")
	otherSigner.SetJWKSURL("https://other.example/.well-known/jwks.json")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testPauses replaces the 5 s / 10 s retry pauses in tests.
var testPauses = []time.Duration{time.Millisecond, 2 * time.Millisecond}

type botOpt func(cfg map[string]any, env *botrelay.BotEnv)

func newTestBot(t *testing.T, f *fakeEndpoint, opts ...botOpt) *Bot {
	t.Helper()
	cfg := map[string]any{"baseUrl": f.base + "/", "botId": fakeBot, "clientId": "botrelay-app", "clientSecret": "s3cret"}
	env := botrelay.BotEnv{BotID: "42", AccountID: fakeAccount, Signer: signer, HTTPClient: f.srv.Client()}
	for _, o := range opts {
		o(cfg, &env)
	}
	raw, _ := json.Marshal(cfg)
	vb, err := Connector{}.NewBot(raw, env)
	if err != nil {
		t.Fatalf("NewBot: %v", err)
	}
	b := vb.(*Bot)
	b.pauses = testPauses
	return b
}

func withEnv(name string) botOpt {
	return func(cfg map[string]any, _ *botrelay.BotEnv) { cfg["environment"] = name }
}

func withBot(id string) botOpt {
	return func(cfg map[string]any, _ *botrelay.BotEnv) { cfg["botId"] = id }
}

const lpEvent = `{"sequence":0,"serverTimestamp":1649331017991,"event":{"type":"ContentEvent","message":"Hi","contentType":"text/plain"},"conversationId":"608b2868-f686-4b89-891f-497816958cfc","dialogId":"608b2868-f686-4b89-891f-497816958cfc","metadata":[],"messageAudience":"ALL","conversationContext":{"skillId":"1234567","campaignId":987665546,"engagementId":123498765,"type":"MESSAGING","visitor":{"sharkVisitorId":"ABCDEFGHIJKLMNOPQRST","sharkSessionId":"ABcdEFGH12JKLM0iuSTU","ipAddress":"127.0.0.1","language":"en-US"}}}`

const sdes = `{"authenticatedSdes":{},"unauthenticatedSdes":{"customerInfo":{"customerInfo":{"customerStatus":"vip"}}}}`

func turn(kind botrelay.TurnKind, conv, text string) *botrelay.Turn {
	return &botrelay.Turn{
		Kind: kind,
		Conversation: botrelay.ConversationRef{
			ID: botrelay.ConversationID(conv), DialogID: botrelay.DialogID(conv), Type: botrelay.Messaging,
			ConsumerID: "c0ffee00-0000-4000-8000-000000000001", SkillID: 1234567, SkillName: "bot",
		},
		Text:    text,
		LPEvent: json.RawMessage(lpEvent),
		SDEs:    json.RawMessage(sdes),
	}
}

// replyJSON is the golden form of a Reply.
func replyJSON(t *testing.T, r *botrelay.Reply) []byte {
	t.Helper()
	out, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(out, '\n')
}

// TestGoldenReplies replays every documented reply shape through the fake
// and compares the Reply with testdata/replies/<name>.golden.
func TestGoldenReplies(t *testing.T) {
	files, _ := filepath.Glob("testdata/replies/*.json")
	if len(files) == 0 {
		t.Fatal("no golden inputs")
	}
	f := newFake(t, signer.JWKS())
	b := newTestBot(t, f)
	for _, in := range files {
		name := strings.TrimSuffix(filepath.Base(in), ".json")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			f.reply = func(map[string]any) (int, string) { return 200, string(body) }
			r, err := b.Converse(context.Background(), turn(botrelay.TurnText, "conv-"+name, "hello"))
			if err != nil {
				t.Fatalf("Converse: %v", err)
			}
			r.VendorState = nil // covered by TestConversationLifecycle
			golden.Check(t, strings.TrimSuffix(in, ".json")+".golden", replyJSON(t, r))
		})
	}
}

// TestGoldenInvalid: replies that break §4.7 are ErrVendorBadReply with the
// invalid-body code and a message that says what is wrong.
func TestGoldenInvalid(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*.json")
	if len(files) == 0 {
		t.Fatal("no golden inputs")
	}
	f := newFake(t, signer.JWKS())
	b := newTestBot(t, f)
	for _, in := range files {
		name := strings.TrimSuffix(filepath.Base(in), ".json")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			f.reply = func(map[string]any) (int, string) { return 200, string(body) }
			r, err := b.Converse(context.Background(), turn(botrelay.TurnText, "conv-"+name, "hello"))
			if err == nil {
				t.Fatalf("Converse accepted the reply: %+v", r)
			}
			if !errors.Is(err, botrelay.ErrVendorBadReply) || golden.VendorCode(err) != CodeInvalidBody {
				t.Fatalf("err = %v; want ErrVendorBadReply with code %s", err, CodeInvalidBody)
			}
			golden.Check(t, strings.TrimSuffix(in, ".json")+".golden", []byte(err.Error()+"\n"))
		})
	}
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("body %s: %v", b, err)
	}
	return m
}

func TestConversationLifecycle(t *testing.T) {
	f := newFake(t, signer.JWKS())
	b := newTestBot(t, f)
	ctx := context.Background()
	const conv = "608b2868-f686-4b89-891f-497816958cfc"

	// First turn: PUT then POST; the reply carries the new vendor state.
	t1 := turn(botrelay.TurnText, conv, "Hi")
	r1, err := b.Converse(ctx, t1)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"PUT /environments/draft/conversations/" + conv + " 204",
		"POST /environments/draft/conversations/" + conv + "/events 200",
	}
	if got := f.summary(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if string(r1.VendorState) != `{"created":"`+fakeBot+`/draft"}` {
		t.Errorf("VendorState = %s", r1.VendorState)
	}
	if len(r1.Items) != 1 || r1.Items[0].Message.Text != "echo Hi" {
		t.Errorf("reply = %+v", r1)
	}
	calls := f.calls()
	if calls[0].Path != "/v1/bots/"+fakeBot+"/environments/draft/conversations/"+conv {
		t.Errorf("path %s does not keep the base URL's path below /api", calls[0].Path)
	}
	put := decode(t, calls[0].Body)
	if got, _ := json.Marshal(put["sdes"]); string(got) != sdes {
		t.Errorf("sdes = %s, want %s", got, sdes)
	}
	pctx := put["context"].(map[string]any)
	if pctx["type"] != "MESSAGING" || pctx["skillId"] != float64(1234567) || pctx["engagementId"] != float64(123498765) || pctx["campaignId"] != float64(987665546) {
		t.Errorf("context = %v", pctx)
	}
	visitor := pctx["visitor"].(map[string]any)
	if visitor["consumerId"] != "c0ffee00-0000-4000-8000-000000000001" || visitor["sharkVisitorId"] != "ABCDEFGHIJKLMNOPQRST" {
		t.Errorf("visitor = %v", visitor)
	}
	ev := decode(t, calls[1].Body)
	if ev["type"] != "TEXT" || ev["source"] != "CONSUMER" || ev["data"].(map[string]any)["message"] != "Hi" {
		t.Errorf("event = %v", ev)
	}
	if _, ok := ev["sdes"]; ok {
		t.Error("event carries sdes; they belong to the create call only")
	}
	if got, _ := json.Marshal(ev["context"].(map[string]any)["lpEvent"]); string(got) != string(mustCompact(t, lpEvent)) {
		t.Errorf("lpEvent = %s", got)
	}

	// Second turn with the stored state: only the event.
	t2 := turn(botrelay.TurnText, conv, "again")
	t2.VendorState = r1.VendorState
	r2, err := b.Converse(ctx, t2)
	if err != nil {
		t.Fatal(err)
	}
	if r2.VendorState != nil {
		t.Errorf("unchanged state must be nil, got %s", r2.VendorState)
	}
	if n := len(f.calls()); n != 3 {
		t.Errorf("second turn made %d calls, want 1", n-2)
	}

	// The same stored state on a bot configured for another environment:
	// the conversation is created there.
	bp := newTestBot(t, f, withEnv("production"))
	t3 := turn(botrelay.TurnText, conv, "prod")
	t3.VendorState = r1.VendorState
	r3, err := bp.Converse(ctx, t3)
	if err != nil {
		t.Fatal(err)
	}
	if string(r3.VendorState) != `{"created":"`+fakeBot+`/production"}` {
		t.Errorf("VendorState = %s", r3.VendorState)
	}
	if got := f.summary()[3]; got != "PUT /environments/production/conversations/"+conv+" 204" {
		t.Errorf("call = %s", got)
	}
}

func mustCompact(t *testing.T, s string) []byte {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(v)
	return out
}

func TestEventBodies(t *testing.T) {
	f := newFake(t, signer.JWKS())
	b := newTestBot(t, f)
	var last map[string]any
	f.reply = func(ev map[string]any) (int, string) {
		last = ev
		return 200, `{"response":[{"type":"TEXT","data":{"message":"ok"}}],"analytics":{"intents":[]}}`
	}
	start := turn(botrelay.TurnStart, "c-start", "")
	start.LastConsumerMessage = "where is my order"
	rich := turn(botrelay.TurnRichContent, "c-rich", botrelay.EventConsumerRichContent)
	rich.RichContent = json.RawMessage(`{"type":"vertical","elements":[{"type":"map","la":49.0,"lo":7.1,"alt":"49.0, 7.1"}]}`)
	file := turn(botrelay.TurnFile, "c-file", botrelay.EventConsumerFile)
	file.File = &botrelay.File{RelativePath: "/v1/AUTH_async/x.png", FileType: "PNG"}
	noLP := turn(botrelay.TurnText, "c-nolp", "no event")
	noLP.LPEvent = nil
	noLP.SDEs = json.RawMessage(`{}`)
	qr := turn(botrelay.TurnText, "c-qr", "yes")
	qr.LPEvent = json.RawMessage(`{"event":{"type":"ContentEvent","message":"yes"}}`)
	qr.Metadata = json.RawMessage(`[{"type":"ExternalId","id":"Yes-1234"}]`)
	chat := turn(botrelay.TurnStart, "c-chat", "")
	chat.Conversation.Type = botrelay.Chat
	chat.LPEvent = json.RawMessage(`{"@id":"1","text":"","isWelcomeEvent":true}`)

	cases := map[string]struct {
		turn     *botrelay.Turn
		typ, src string
		data     string
		lpChecks map[string]any
		noSDEs   bool
		ctxType  string
	}{
		"start":        {turn: start, typ: "START", src: "CONVERSATION", data: `{}`, lpChecks: map[string]any{"lastConsumerMessage": "where is my order", "sequence": float64(0)}},
		"rich content": {turn: rich, typ: "RICH_CONTENT", src: "CONSUMER", data: `{"content":{"elements":[{"alt":"49.0, 7.1","la":49,"lo":7.1,"type":"map"}],"type":"vertical"}}`},
		"file":         {turn: file, typ: "TEXT", src: "CONSUMER", data: `{"message":"` + botrelay.EventConsumerFile + `"}`},
		"no lpEvent":   {turn: noLP, typ: "TEXT", src: "CONSUMER", data: `{"message":"no event"}`, noSDEs: true},
		"metadata":     {turn: qr, typ: "TEXT", src: "CONSUMER", data: `{"message":"yes"}`, lpChecks: map[string]any{"metadata": []any{map[string]any{"type": "ExternalId", "id": "Yes-1234"}}}},
		"chat start":   {turn: chat, typ: "START", src: "CONVERSATION", data: `{}`, ctxType: "CHAT", lpChecks: map[string]any{"isWelcomeEvent": true}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			before := len(f.calls())
			if _, err := b.Converse(context.Background(), c.turn); err != nil {
				t.Fatal(err)
			}
			if last["type"] != c.typ || last["source"] != c.src {
				t.Errorf("type/source = %v/%v, want %s/%s", last["type"], last["source"], c.typ, c.src)
			}
			if got, _ := json.Marshal(last["data"]); string(got) != c.data {
				t.Errorf("data = %s, want %s", got, c.data)
			}
			lp := last["context"].(map[string]any)["lpEvent"].(map[string]any)
			for k, v := range c.lpChecks {
				g, _ := json.Marshal(lp[k])
				w, _ := json.Marshal(v)
				if string(g) != string(w) {
					t.Errorf("lpEvent.%s = %s, want %s", k, g, w)
				}
			}
			put := decode(t, f.calls()[before].Body)
			if _, has := put["sdes"]; has == c.noSDEs {
				t.Errorf("sdes present = %v, want %v", has, !c.noSDEs)
			}
			if c.ctxType != "" && put["context"].(map[string]any)["type"] != c.ctxType {
				t.Errorf("context.type = %v", put["context"])
			}
		})
	}
}

// TestSurvey runs a survey through the fake: the START event that begins
// it (compared with testdata/requests/survey-start.golden), an answer as an
// ordinary TEXT event, and the CLOSE_CONVERSATION action whose result
// becomes the action's payload.
func TestSurvey(t *testing.T) {
	if info := (Connector{}).Info(); !info.Survey || info.SurveyOnly {
		t.Errorf("Info = %+v; want Survey and not SurveyOnly", info)
	}
	f := newFake(t, signer.JWKS())
	b := newTestBot(t, f)
	var events []map[string]any
	var bodies [][]byte
	f.reply = func(ev map[string]any) (int, string) {
		events = append(events, ev)
		if ev["type"] == "START" {
			return 200, `{"response":[{"type":"STRUCTURED_CONTENT","data":{"structuredContent":{"message":"How likely are you to recommend us?","quickReplies":{"type":"quickReplies","replies":[{"type":"button","title":"10","click":{"actions":[{"type":"publishText","text":"10"}]}}]}}}}]}`
		}
		return 200, `{"response":[{"type":"TEXT","data":{"message":"Thanks!"}},{"type":"ACTION","data":{"name":"CLOSE_CONVERSATION","parameters":{"result":{"nps":10}}}}]}`
	}
	f.setHook(func(w http.ResponseWriter, r *http.Request, body []byte) bool {
		if r.Method == http.MethodPost {
			bodies = append(bodies, body)
		}
		return false
	})
	const conv = "5c1c7b4e-1d6b-4a0e-9a3c-2b1f6c0d9e11"
	start := turn(botrelay.TurnSurvey, conv, "")
	start.Conversation.DialogID = "d1a1d1a1-0000-4000-8000-000000000001"
	start.LastConsumerMessage = "thanks, bye"
	// The platform event of the survey dialog; a dialogType in it is
	// replaced.
	start.LPEvent = json.RawMessage(`{"sequence":7,"conversationId":"` + conv + `","dialogId":"d1a1d1a1-0000-4000-8000-000000000001","dialogType":"MAIN"}`)
	r1, err := b.Converse(context.Background(), start)
	if err != nil {
		t.Fatal(err)
	}
	if len(r1.Items) != 1 || r1.Items[0].Message.QuickReplies == nil || r1.Action != nil {
		t.Errorf("start reply = %+v", r1)
	}
	ev := events[0]
	lp := ev["context"].(map[string]any)["lpEvent"].(map[string]any)
	if ev["type"] != "START" || ev["source"] != "CONVERSATION" || lp["dialogType"] != "POST_SURVEY" || lp["lastConsumerMessage"] != "thanks, bye" {
		t.Errorf("start event = %v", ev)
	}
	if got, _ := json.Marshal(ev["data"]); string(got) != `{"survey":true}` {
		t.Errorf("data = %s", got)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, bodies[0], "", "  "); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "testdata/requests/survey-start.golden", append(pretty.Bytes(), '\n'))

	// Without a platform event the dialog id comes from the turn.
	bare := turn(botrelay.TurnSurvey, "c-survey-bare", "")
	bare.Conversation.DialogID = "d-2"
	bare.LPEvent = nil
	if _, err := b.Converse(context.Background(), bare); err != nil {
		t.Fatal(err)
	}
	if got, _ := json.Marshal(events[1]["context"]); string(got) != `{"lpEvent":{"dialogId":"d-2","dialogType":"POST_SURVEY"}}` {
		t.Errorf("context = %s", got)
	}

	answer := turn(botrelay.TurnText, conv, "10")
	answer.VendorState = r1.VendorState
	r2, err := b.Converse(context.Background(), answer)
	if err != nil {
		t.Fatal(err)
	}
	if events[2]["type"] != "TEXT" || events[2]["data"].(map[string]any)["message"] != "10" {
		t.Errorf("answer event = %v", events[2])
	}
	if r2.Action == nil || r2.Action.Kind != botrelay.ActionClose || string(r2.Action.Payload) != `{"nps":10}` {
		t.Errorf("close = %+v", r2.Action)
	}
}

func TestEvent404RecreatesOnce(t *testing.T) {
	f := newFake(t, signer.JWKS())
	b := newTestBot(t, f)
	ctx := context.Background()
	r1, err := b.Converse(ctx, turn(botrelay.TurnText, "c-404", "one"))
	if err != nil {
		t.Fatal(err)
	}
	f.forget("c-404") // e.g. the endpoint restarted and lost its cache
	t2 := turn(botrelay.TurnText, "c-404", "two")
	t2.VendorState = r1.VendorState
	r2, err := b.Converse(ctx, t2)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"PUT /environments/draft/conversations/c-404 204",
		"POST /environments/draft/conversations/c-404/events 200",
		"POST /environments/draft/conversations/c-404/events 404",
		"PUT /environments/draft/conversations/c-404 204",
		"POST /environments/draft/conversations/c-404/events 200",
	}
	if got := f.summary(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if r2.Items[0].Message.Text != "echo two" || r2.VendorState == nil {
		t.Errorf("reply = %+v", r2)
	}

	// An endpoint that keeps answering 404: PUT, POST, PUT, POST, then an
	// error.
	f2 := newFake(t, signer.JWKS())
	b2 := newTestBot(t, f2)
	f2.setHook(func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
		if r.Method == http.MethodPost {
			writeJSON(w, 404, map[string]string{"message": "conversation not found"})
			return true
		}
		return false
	})
	_, err = b2.Converse(ctx, turn(botrelay.TurnText, "c-gone", "x"))
	if !errors.Is(err, botrelay.ErrVendorBadReply) || golden.VendorCode(err) != CodeSendEvent || !strings.Contains(err.Error(), "404 again") {
		t.Errorf("err = %v", err)
	}
	if got := strings.Join(f2.summary(), ","); got != "PUT /environments/draft/conversations/c-gone 204,POST /environments/draft/conversations/c-gone/events 404,PUT /environments/draft/conversations/c-gone 204,POST /environments/draft/conversations/c-gone/events 404" {
		t.Errorf("calls = %s", got)
	}
}

// failN makes the first n calls matching method answer status.
func failN(n int32, method string, status int, header map[string]string) func(http.ResponseWriter, *http.Request, []byte) bool {
	var seen atomic.Int32
	return func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
		if r.Method != method || seen.Add(1) > n {
			return false
		}
		for k, v := range header {
			w.Header().Set(k, v)
		}
		writeJSON(w, status, map[string]string{"message": "try later"})
		return true
	}
}

func TestRetries(t *testing.T) {
	if len(DefaultRetryPauses) != 2 || DefaultRetryPauses[0] != 5*time.Second || DefaultRetryPauses[1] != 10*time.Second || MaxAttempts != 3 {
		t.Errorf("documented policy changed: %v, %d attempts", DefaultRetryPauses, MaxAttempts)
	}
	ctx := context.Background()
	cases := map[string]struct {
		hook      func(http.ResponseWriter, *http.Request, []byte) bool
		wantCalls []string // statuses of POSTs
		class     error
	}{
		"503 then 200":       {hook: failN(1, http.MethodPost, 503, nil), wantCalls: []string{"503", "200"}},
		"500, 502 then 200":  {hook: seq(failN(1, http.MethodPost, 500, nil), 502), wantCalls: []string{"500", "502", "200"}},
		"429 then 200":       {hook: failN(1, http.MethodPost, 429, map[string]string{"Retry-After": "0"}), wantCalls: []string{"429", "200"}},
		"503 three times":    {hook: failN(5, http.MethodPost, 503, nil), wantCalls: []string{"503", "503", "503"}, class: botrelay.ErrVendorUnavailable},
		"400 is not retried": {hook: failN(5, http.MethodPost, 400, nil), wantCalls: []string{"400"}, class: botrelay.ErrVendorBadReply},
		"501 is not retried": {hook: failN(5, http.MethodPost, 501, nil), wantCalls: []string{"501"}, class: botrelay.ErrVendorBadReply},
		"401 is not retried": {hook: failN(5, http.MethodPost, 401, nil), wantCalls: []string{"401"}, class: botrelay.ErrVendorAuth},
		"403 is not retried": {hook: failN(5, http.MethodPost, 403, nil), wantCalls: []string{"403"}, class: botrelay.ErrVendorAuth},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFake(t, signer.JWKS())
			b := newTestBot(t, f)
			f.setHook(c.hook)
			_, err := b.Converse(ctx, turn(botrelay.TurnText, "c-retry", "x"))
			if c.class == nil && err != nil {
				t.Fatalf("Converse: %v", err)
			}
			if c.class != nil && (!errors.Is(err, c.class) || golden.VendorCode(err) != CodeSendEvent) {
				t.Fatalf("err = %v, want class %v code %s", err, c.class, CodeSendEvent)
			}
			var got []string
			for _, call := range f.calls() {
				if call.Method == http.MethodPost {
					got = append(got, strconv.Itoa(call.Status))
				}
			}
			if strings.Join(got, ",") != strings.Join(c.wantCalls, ",") {
				t.Errorf("POST statuses = %v, want %v", got, c.wantCalls)
			}
		})
	}

	// The create call is retried too.
	f := newFake(t, signer.JWKS())
	b := newTestBot(t, f)
	f.setHook(failN(2, http.MethodPut, 503, nil))
	if _, err := b.Converse(ctx, turn(botrelay.TurnText, "c-put", "x")); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.summary(), ","); got != "PUT /environments/draft/conversations/c-put 503,PUT /environments/draft/conversations/c-put 503,PUT /environments/draft/conversations/c-put 204,POST /environments/draft/conversations/c-put/events 200" {
		t.Errorf("calls = %s", got)
	}
}

// seq answers the first call with the first hook's status, the second
// with status2, then falls through.
func seq(first func(http.ResponseWriter, *http.Request, []byte) bool, status2 int) func(http.ResponseWriter, *http.Request, []byte) bool {
	var n atomic.Int32
	return func(w http.ResponseWriter, r *http.Request, body []byte) bool {
		if r.Method != http.MethodPost {
			return false
		}
		switch n.Add(1) {
		case 1:
			return first(w, r, body)
		case 2:
			writeJSON(w, status2, map[string]string{"message": "bad gateway"})
			return true
		}
		return false
	}
}

func TestRetryGivesUpBeforeDeadline(t *testing.T) {
	f := newFake(t, signer.JWKS())
	b := newTestBot(t, f)
	b.pauses = []time.Duration{time.Hour}
	f.setHook(failN(5, http.MethodPost, 503, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	_, err := b.Converse(ctx, turn(botrelay.TurnText, "c-dl", "x"))
	if !errors.Is(err, botrelay.ErrVendorUnavailable) || !strings.Contains(err.Error(), "no time for another") {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > 4*time.Second {
		t.Error("waited for a pause that could not fit in the deadline")
	}
}

// deadlineRecorder records the deadline of every outgoing request.
type deadlineRecorder struct {
	next      http.RoundTripper
	deadlines chan time.Time
}

func (d *deadlineRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	dl, ok := r.Context().Deadline()
	if !ok {
		dl = time.Time{}
	}
	d.deadlines <- dl
	return d.next.RoundTrip(r)
}

func TestTimeouts(t *testing.T) {
	f := newFake(t, signer.JWKS())
	rec := &deadlineRecorder{next: f.srv.Client().Transport, deadlines: make(chan time.Time, 10)}
	b := newTestBot(t, f, func(_ map[string]any, env *botrelay.BotEnv) {
		env.HTTPClient = &http.Client{Transport: rec}
	})

	t.Run("60 s cap without a deadline", func(t *testing.T) {
		before := time.Now()
		if _, err := b.Converse(context.Background(), turn(botrelay.TurnText, "c-t1", "x")); err != nil {
			t.Fatal(err)
		}
		after := time.Now()
		for range 2 { // PUT and POST
			dl := <-rec.deadlines
			if dl.Before(before.Add(RequestTimeout)) || dl.After(after.Add(RequestTimeout)) {
				t.Errorf("request deadline %v is not start+60s (%v…%v)", dl, before.Add(RequestTimeout), after.Add(RequestTimeout))
			}
		}
	})

	t.Run("context deadline honoured", func(t *testing.T) {
		hung := make(chan struct{}, 1)
		f.setHook(func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
			if r.Method != http.MethodPost {
				return false
			}
			hung <- struct{}{}
			<-r.Context().Done() // hang until the client gives up
			return true
		})
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		want, _ := ctx.Deadline()
		_, err := b.Converse(ctx, turn(botrelay.TurnText, "c-t2", "x"))
		if !errors.Is(err, botrelay.ErrVendorUnavailable) || golden.VendorCode(err) != CodeSendEvent {
			t.Fatalf("err = %v, want ErrVendorUnavailable", err)
		}
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.Fatalf("Converse returned before the deadline: %v", err)
		}
		for range 2 {
			if dl := <-rec.deadlines; !dl.Equal(want) {
				t.Errorf("request deadline %v, want the context's %v", dl, want)
			}
		}
		if len(hung) != 1 {
			t.Errorf("the hanging request was made %d times, want 1 (no retry after the deadline)", len(hung))
		}
	})
}

func TestCheckHealth(t *testing.T) {
	f := newFake(t, signer.JWKS())
	ctx := context.Background()
	cases := map[string]struct {
		bot, env string
		errHas   string
		class    error
	}{
		"online":      {bot: fakeBot, env: "draft"},
		"offline":     {bot: "36d5de7f-6c83-41ba-836d-28ca1062c1ef", env: "production", errHas: `is "offline", not online`, class: botrelay.ErrVendorUnavailable},
		"error":       {bot: "42773157-adcf-4ec1-a2ae-9b935d80cb81", env: "production", errHas: `is "error", not online`, class: botrelay.ErrVendorUnavailable},
		"maintenance": {bot: "bfb807d6-f6d8-11ec-b939-0242ac120002", env: "alpha", errHas: `is "maintenance", not online`, class: botrelay.ErrVendorUnavailable},
		"no such env": {bot: fakeBot, env: "alpha", errHas: `has no environment "alpha" at the endpoint (HTTP 404); its environments are ["draft" "production"]`, class: botrelay.ErrVendorBadReply},
		"no such bot": {bot: "00000000-0000-0000-0000-000000000000", env: "draft", errHas: "HTTP 404", class: botrelay.ErrVendorBadReply},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			b := newTestBot(t, f, withBot(c.bot), withEnv(c.env))
			err := b.CheckHealth(ctx)
			if c.errHas == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.errHas) || !errors.Is(err, c.class) || golden.VendorCode(err) != CodeGetState {
				t.Fatalf("err = %v; want %v containing %q", err, c.class, c.errHas)
			}
		})
	}
	t.Run("garbage state", func(t *testing.T) {
		f.setHook(func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
			w.Write([]byte(`<html>`))
			return true
		})
		defer f.setHook(nil)
		err := newTestBot(t, f).CheckHealth(ctx)
		if !errors.Is(err, botrelay.ErrVendorBadReply) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("environments", func(t *testing.T) {
		envs, err := newTestBot(t, f).Environments(ctx)
		if err != nil || strings.Join(envs, ",") != "draft,production" {
			t.Fatalf("Environments = %v, %v", envs, err)
		}
	})
}

func TestAuth(t *testing.T) {
	ctx := context.Background()
	t.Run("claims and reuse", func(t *testing.T) {
		f := newFake(t, signer.JWKS())
		b := newTestBot(t, f)
		if err := b.CheckHealth(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Converse(ctx, turn(botrelay.TurnText, "c-auth", "x")); err != nil {
			t.Fatal(err)
		}
		calls := f.calls()
		for _, c := range calls[1:] {
			if c.Token != calls[0].Token {
				t.Error("the bearer was not reused")
			}
		}
		claims, err := jwtsign.Verify(signer.JWKS(), calls[0].Token, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"iss": "Sentinel", "aud": "1000", "sub": "botrelay-app", "scope": "thirdpartybots.customendpoint.bot", "botId": fakeBot}
		for k, v := range want {
			if claims[k] != v {
				t.Errorf("claim %s = %v, want %v", k, claims[k], v)
			}
		}
		iat, exp := claims["iat"].(float64), claims["exp"].(float64)
		if exp-iat != TokenLifetime.Seconds() {
			t.Errorf("exp-iat = %v", exp-iat)
		}
		if strings.Contains(calls[0].Token, "s3cret") {
			t.Error("the token carries the client secret")
		}
	})
	t.Run("token from another key", func(t *testing.T) {
		f := newFake(t, signer.JWKS())
		b := newTestBot(t, f, func(_ map[string]any, env *botrelay.BotEnv) { env.Signer = otherSigner })
		_, err := b.Converse(ctx, turn(botrelay.TurnText, "c-bad", "x"))
		if !errors.Is(err, botrelay.ErrVendorAuth) || golden.VendorCode(err) != CodeCreateConversation {
			t.Fatalf("err = %v, want ErrVendorAuth", err)
		}
		if err := b.CheckHealth(ctx); !errors.Is(err, botrelay.ErrVendorAuth) || !strings.Contains(err.Error(), "https://other.example/.well-known/jwks.json") {
			t.Fatalf("CheckHealth err = %v; want ErrVendorAuth naming the JWKS URL", err)
		}
		if got := strings.Join(f.summary(), ","); !strings.Contains(got, " 401") || strings.Count(got, ",") != 1 {
			t.Errorf("calls = %s; want one 401 each, no retries", got)
		}
	})
	t.Run("wrong audience", func(t *testing.T) {
		f := newFake(t, signer.JWKS())
		b := newTestBot(t, f, func(_ map[string]any, env *botrelay.BotEnv) { env.AccountID = "2000" })
		if err := b.CheckHealth(ctx); !errors.Is(err, botrelay.ErrVendorAuth) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("missing token", func(t *testing.T) {
		f := newFake(t, signer.JWKS())
		resp, err := http.Get(f.base + "/v1/bots/" + fakeBot + "/environments/draft/state")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("no Authorization: %d, want 403", resp.StatusCode)
		}
	})
}

func TestTokenURL(t *testing.T) {
	// A Sentinel-like token endpoint issuing tokens signed with its own key.
	f := newFake(t, otherSigner.JWKS())
	var fetches atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("POST /sentinel/api/account/{account}/app/token", func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		if r.FormValue("grant_type") != "client_credentials" || r.FormValue("client_id") != "botrelay-app" || r.FormValue("client_secret") != "s3cret" {
			writeJSON(w, 401, map[string]string{"error": "invalid_client"})
			return
		}
		tok, _ := otherSigner.SignJWT(map[string]any{"iss": "Sentinel", "aud": r.PathValue("account"), "scope": "thirdpartybots.customendpoint.bot", "exp": time.Now().Add(time.Hour).Unix()})
		writeJSON(w, 200, map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3600})
	})
	ts := newServer(t, mux)
	tokenURL := ts + "/sentinel/api/account/1000/app/token?v=1.0&grant_type=client_credentials"
	b := newTestBot(t, f, func(cfg map[string]any, env *botrelay.BotEnv) {
		cfg["tokenUrl"] = tokenURL
		env.Signer = nil
	})
	ctx := context.Background()
	if err := b.CheckHealth(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Converse(ctx, turn(botrelay.TurnText, "c-tok", "x")); err != nil {
		t.Fatal(err)
	}
	if fetches.Load() != 1 {
		t.Errorf("token fetched %d times, want 1", fetches.Load())
	}
	bad := newTestBot(t, f, func(cfg map[string]any, env *botrelay.BotEnv) {
		cfg["tokenUrl"] = tokenURL
		cfg["clientSecret"] = "wrong"
	})
	if err := bad.CheckHealth(ctx); !errors.Is(err, botrelay.ErrVendorAuth) || golden.VendorCode(err) != CodeGetToken {
		t.Errorf("wrong secret: err = %v", err)
	}
}

func newServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestUnavailableAndEmpty(t *testing.T) {
	ctx := context.Background()
	t.Run("500 every time", func(t *testing.T) {
		f := newFake(t, signer.JWKS())
		b := newTestBot(t, f)
		f.reply = func(map[string]any) (int, string) { return 500, `{"message":"boom"}` }
		_, err := b.Converse(ctx, turn(botrelay.TurnText, "c-500", "x"))
		if !errors.Is(err, botrelay.ErrVendorUnavailable) || !strings.Contains(err.Error(), "failed 3 times") || !strings.Contains(err.Error(), "boom") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("204 without body", func(t *testing.T) {
		f := newFake(t, signer.JWKS())
		b := newTestBot(t, f)
		f.reply = func(map[string]any) (int, string) { return 204, `` }
		_, err := b.Converse(ctx, turn(botrelay.TurnText, "c-204", "x"))
		if !errors.Is(err, botrelay.ErrVendorBadReply) || golden.VendorCode(err) != CodeInvalidBody {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		f := newFake(t, signer.JWKS())
		b := newTestBot(t, f)
		f.srv.Close()
		_, err := b.Converse(ctx, turn(botrelay.TurnText, "c-down", "x"))
		if !errors.Is(err, botrelay.ErrVendorUnavailable) || golden.VendorCode(err) != CodeCreateConversation || !strings.Contains(err.Error(), "failed 3 times") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("empty response is an empty reply", func(t *testing.T) {
		f := newFake(t, signer.JWKS())
		b := newTestBot(t, f)
		f.reply = func(map[string]any) (int, string) { return 200, `{"response":[]}` }
		r, err := b.Converse(ctx, turn(botrelay.TurnText, "c-empty", "x"))
		if err != nil || len(r.Items) != 0 || r.Action != nil {
			t.Fatalf("reply %+v, err %v", r, err)
		}
	})
}

func TestNewBot(t *testing.T) {
	env := botrelay.BotEnv{BotID: "1", AccountID: "1000", Signer: signer}
	ok := func(cfg string) *Bot {
		t.Helper()
		b, err := Connector{}.NewBot(json.RawMessage(cfg), env)
		if err != nil {
			t.Fatalf("NewBot(%s): %v", cfg, err)
		}
		return b.(*Bot)
	}
	b := ok(`{"baseUrl":"https://ce.example.com/api/","botId":"abc-123"}`)
	if b.cfg.Environment != "draft" || b.cfg.BaseURL != "https://ce.example.com/api" {
		t.Errorf("defaults: %+v", b.cfg)
	}
	bad := map[string]struct{ cfg, field string }{
		"no baseUrl":         {`{"botId":"a"}`, "baseUrl"},
		"relative baseUrl":   {`{"baseUrl":"/api","botId":"a"}`, "baseUrl"},
		"ftp baseUrl":        {`{"baseUrl":"ftp://x","botId":"a"}`, "baseUrl"},
		"query in baseUrl":   {`{"baseUrl":"https://x/api?k=1","botId":"a"}`, "baseUrl"},
		"no botId":           {`{"baseUrl":"https://x"}`, "botId"},
		"botId too long":     {`{"baseUrl":"https://x","botId":"` + strings.Repeat("a", 37) + `"}`, "botId"},
		"botId with slash":   {`{"baseUrl":"https://x","botId":"a/b"}`, "botId"},
		"env with slash":     {`{"baseUrl":"https://x","botId":"a","environment":"a/b"}`, "environment"},
		"tokenUrl no secret": {`{"baseUrl":"https://x","botId":"a","tokenUrl":"https://s/t","clientId":"c"}`, "clientSecret"},
		"unknown key":        {`{"baseUrl":"https://x","botId":"a","bot_id":"b"}`, "bot_id"},
		"not an object":      {`[]`, "settings"},
	}
	for name, c := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := Connector{}.NewBot(json.RawMessage(c.cfg), env)
			if botrelay.ErrorCode(err) != botrelay.EINVALID || !strings.Contains(err.Error(), c.field) {
				t.Errorf("err = %v; want EINVALID naming %s", err, c.field)
			}
		})
	}
	t.Run("no signer", func(t *testing.T) {
		_, err := Connector{}.NewBot(json.RawMessage(`{"baseUrl":"https://x","botId":"a"}`), botrelay.BotEnv{})
		if botrelay.ErrorCode(err) != botrelay.EINVALID || !strings.Contains(err.Error(), "tokenUrl") {
			t.Errorf("err = %v", err)
		}
	})
	info := Connector{}.Info()
	if info.ID != "custom_endpoint" || len(info.Secrets) != 1 || info.Secrets[0] != "clientSecret" {
		t.Errorf("Info = %+v", info)
	}
}
