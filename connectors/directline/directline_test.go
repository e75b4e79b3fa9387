package directline

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/botrelay/botrelay/internal/golden"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
)

const lpEvent = `{"sequence":3,"event":{"type":"ContentEvent","message":"hi","contentType":"text/plain"},"conversationId":"conv-1","dialogId":"conv-1","conversationContext":{"skillId":"12","type":"MESSAGING"}}`
const sdes = `{"unauthenticatedSdes":{"customerInfo":{"customerInfo":{"customerStatus":"vip"}}}}`

func newTestBot(t *testing.T, endpoint string, edit func(map[string]any)) *Bot {
	t.Helper()
	cfg := map[string]any{"secret": fakeSecret, "endpoint": endpoint, "pollIntervalMs": 50, "replyTimeoutMs": 2000}
	if edit != nil {
		edit(cfg)
	}
	raw, _ := json.Marshal(cfg)
	vb, err := Connector{}.NewBot(raw, botrelay.BotEnv{BotID: "b1", AccountID: "1000"})
	if err != nil {
		t.Fatalf("NewBot: %v", err)
	}
	b := vb.(*Bot)
	b.resendPauses = []time.Duration{time.Millisecond}
	return b
}

func turn(kind botrelay.TurnKind, conv, text string) *botrelay.Turn {
	return &botrelay.Turn{Kind: kind, Text: text, LPEvent: json.RawMessage(lpEvent), SDEs: json.RawMessage(sdes),
		Conversation: botrelay.ConversationRef{ID: botrelay.ConversationID(conv), Type: botrelay.Messaging, ConsumerID: "consumer-1", SkillName: "bot"}}
}

func botReplies(t *testing.T, path string) func(map[string]any) []map[string]any {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return func(map[string]any) []map[string]any {
		var acts []map[string]any
		if err := json.Unmarshal(data, &acts); err != nil {
			t.Errorf("%s: %v", path, err)
		}
		return acts
	}
}

// TestGoldenReplies sends a turn for every reply shape in testdata/replies
// (the bot's activities) through the fake and compares the Reply with the
// .golden file next to it.
func TestGoldenReplies(t *testing.T) {
	files, _ := filepath.Glob("testdata/replies/*.json")
	if len(files) == 0 {
		t.Fatal("no golden inputs")
	}
	f := newFakeDirectLine(t)
	b := newTestBot(t, f.endpoint(), func(c map[string]any) { c["polling"] = true })
	for _, in := range files {
		name := strings.TrimSuffix(filepath.Base(in), ".json")
		t.Run(name, func(t *testing.T) {
			f.mu.Lock()
			f.bot = botReplies(t, in)
			f.mu.Unlock()
			r, err := b.Converse(context.Background(), turn(botrelay.TurnText, "conv-"+name, "hello"))
			if err != nil {
				t.Fatalf("Converse: %v", err)
			}
			r.VendorState = nil
			out, _ := json.MarshalIndent(r, "", "  ")
			golden.Check(t, strings.TrimSuffix(in, ".json")+".golden", append(out, '\n'))
		})
	}
}

// TestGoldenInvalid: activities with no mapping fail with the Appendix A
// code and a message that says what is wrong.
func TestGoldenInvalid(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*.json")
	if len(files) == 0 {
		t.Fatal("no golden inputs")
	}
	f := newFakeDirectLine(t)
	b := newTestBot(t, f.endpoint(), func(c map[string]any) { c["polling"] = true })
	for _, in := range files {
		name := strings.TrimSuffix(filepath.Base(in), ".json")
		t.Run(name, func(t *testing.T) {
			f.mu.Lock()
			f.bot = botReplies(t, in)
			f.mu.Unlock()
			r, err := b.Converse(context.Background(), turn(botrelay.TurnText, "conv-"+name, "hello"))
			if err == nil {
				t.Fatalf("Converse accepted the reply: %+v", r)
			}
			if !errors.Is(err, botrelay.ErrVendorBadReply) {
				t.Errorf("err = %v; want ErrVendorBadReply", err)
			}
			golden.Check(t, strings.TrimSuffix(in, ".json")+".golden", []byte(err.Error()+"\n"))
		})
	}
}

func TestSettings(t *testing.T) {
	cases := map[string]struct {
		cfg  string
		want string // "" = valid; else a part of the message
	}{
		"minimal":             {`{"secret":"s3cret"}`, ""},
		"all":                 {`{"secret":"s3cret","endpoint":"http://127.0.0.1:3000/directline/","auth":"token","multipleActivitiesMs":1000,"pva":true,"polling":true,"pollIntervalMs":100,"replyTimeoutMs":5000}`, ""},
		"no secret":           {`{"endpoint":"https://x.example/v3/directline"}`, "secret is required"},
		"secret with space":   {`{"secret":"ab cd"}`, "secret must not contain"},
		"relative endpoint":   {`{"secret":"s3cret","endpoint":"/v3/directline"}`, "endpoint"},
		"endpoint with query": {`{"secret":"s3cret","endpoint":"https://x.example/v3?a=b"}`, "endpoint must not carry"},
		"bad auth":            {`{"secret":"s3cret","auth":"oauth"}`, "auth \"oauth\""},
		"negative multiple":   {`{"secret":"s3cret","multipleActivitiesMs":-1}`, "multipleActivitiesMs"},
		"tiny poll interval":  {`{"secret":"s3cret","pollIntervalMs":1}`, "pollIntervalMs"},
		"reply timeout":       {`{"secret":"s3cret","replyTimeoutMs":5}`, "replyTimeoutMs"},
		"unknown key":         {`{"secret":"s3cret","botId":"x"}`, "unknown field"},
		"wrong type":          {`{"secret":"s3cret","pva":"yes"}`, "directline settings"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Connector{}.NewBot(json.RawMessage(c.cfg), botrelay.BotEnv{})
			if c.want == "" {
				if err != nil {
					t.Fatalf("NewBot: %v", err)
				}
				return
			}
			if botrelay.ErrorCode(err) != botrelay.EINVALID || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v; want EINVALID mentioning %q", err, c.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("the error quotes the secret: %v", err)
			}
		})
	}
}

func lastPost(t *testing.T, f *fakeDirectLine) fakeCall {
	t.Helper()
	calls := f.Calls()
	for i := len(calls) - 1; i >= 0; i-- {
		if calls[i].Method == "POST" && strings.HasSuffix(calls[i].Path, "/activities") {
			return calls[i]
		}
	}
	t.Fatal("no activity was posted")
	return fakeCall{}
}

// TestRequests: the posted activities carry channelData.context (F14); the
// welcome is a WELCOME action message, or with pva the native
// startConversation event carrying lastConsumerMessage.
func TestRequests(t *testing.T) {
	f := newFakeDirectLine(t)
	cases := map[string]struct {
		pva  bool
		turn *botrelay.Turn
		want func(t *testing.T, a map[string]any)
	}{
		"text": {false, turn(botrelay.TurnText, "c-text", "hi"), func(t *testing.T, a map[string]any) {
			if a["type"] != "message" || a["text"] != "hi" {
				t.Errorf("activity = %v", a)
			}
		}},
		"welcome": {false, turn(botrelay.TurnStart, "c-welcome", ""), func(t *testing.T, a map[string]any) {
			cd, _ := a["channelData"].(map[string]any)
			act, _ := cd["action"].(map[string]any)
			if a["type"] != "message" || a["text"] != "" || act["name"] != "WELCOME" {
				t.Errorf("activity = %v", a)
			}
		}},
		"pva welcome": {true, func() *botrelay.Turn {
			tr := turn(botrelay.TurnStart, "c-pva", "")
			tr.LastConsumerMessage = "where is my order"
			return tr
		}(), func(t *testing.T, a map[string]any) {
			cd, _ := a["channelData"].(map[string]any)
			cx, _ := cd["context"].(map[string]any)
			lp, _ := cx["lpEvent"].(map[string]any)
			if a["type"] != "event" || a["name"] != "startConversation" || cd["action"] != nil || lp["lastConsumerMessage"] != "where is my order" {
				t.Errorf("activity = %v", a)
			}
		}},
		"quick reply metadata": {false, func() *botrelay.Turn {
			tr := turn(botrelay.TurnText, "c-meta", "Yes")
			tr.Metadata = json.RawMessage(`[{"type":"ExternalId","id":"yes-1"}]`)
			return tr
		}(), func(t *testing.T, a map[string]any) {
			cd, _ := a["channelData"].(map[string]any)
			cx, _ := cd["context"].(map[string]any)
			lp, _ := cx["lpEvent"].(map[string]any)
			if md, _ := lp["metadata"].([]any); len(md) != 1 || lp["sequence"] == nil {
				t.Errorf("lpEvent = %v", lp)
			}
		}},
		"rich content": {false, func() *botrelay.Turn {
			tr := turn(botrelay.TurnRichContent, "c-rich", "")
			return tr
		}(), func(t *testing.T, a map[string]any) {
			if a["text"] != botrelay.EventConsumerRichContent {
				t.Errorf("text = %v", a["text"])
			}
		}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			b := newTestBot(t, f.endpoint(), func(m map[string]any) { m["pva"] = c.pva })
			r, err := b.Converse(context.Background(), c.turn)
			if err != nil {
				t.Fatal(err)
			}
			var st vendorState
			_ = json.Unmarshal(r.VendorState, &st)
			a := lastPost(t, f).Body
			c.want(t, a)
			cd, _ := a["channelData"].(map[string]any)
			cx, _ := cd["context"].(map[string]any)
			if cx["convId"] != string(c.turn.Conversation.ID) || cx["msConversationId"] != st.ConversationID || st.ConversationID == "" {
				t.Errorf("context = %v (state %+v)", cx, st)
			}
			if _, ok := cx["lpEvent"].(map[string]any); !ok {
				t.Errorf("lpEvent missing: %v", cx)
			}
			if sd, _ := cx["lpSdes"].(map[string]any); sd["unauthenticatedSdes"] == nil {
				t.Errorf("lpSdes = %v", cx["lpSdes"])
			}
			if from, _ := a["from"].(map[string]any); from["id"] != "consumer-1" {
				t.Errorf("from = %v", a["from"])
			}
		})
	}
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// TestTokenAuthRefreshAndStream: with auth "token" the secret goes only to
// tokens/generate; the conversation uses its token, refreshed when less
// than 5 minutes are left, and a new conversation starts once it expired.
// Replies come over the websocket stream: no polling happens.
func TestTokenAuthRefreshAndStream(t *testing.T) {
	f := newFakeDirectLine(t)
	b := newTestBot(t, f.endpoint(), func(m map[string]any) { m["auth"] = "token" })
	clk := &clock{now: time.Unix(1_800_000_000, 0)}
	b.env.Now = clk.Now
	ctx := context.Background()
	tr := turn(botrelay.TurnText, "c-token", "one")

	converse := func(text string) vendorState {
		t.Helper()
		tr.Text = text
		r, err := b.Converse(ctx, tr)
		if err != nil {
			t.Fatalf("Converse(%q): %v", text, err)
		}
		if len(r.Items) != 1 || r.Items[0].Message.Text != "echo: "+text {
			t.Fatalf("reply = %+v", r.Items)
		}
		tr.VendorState = r.VendorState
		var st vendorState
		_ = json.Unmarshal(r.VendorState, &st)
		return st
	}
	st1 := converse("one")
	if st1.Token == "" || st1.TokenExpires != clk.Now().Unix()+1800 {
		t.Fatalf("state after the first turn: %+v", st1)
	}
	st2 := converse("two")
	if st2.ConversationID != st1.ConversationID {
		t.Fatalf("second turn started a new conversation: %+v", st2)
	}
	clk.add(26 * time.Minute) // 4 minutes left: refresh
	st3 := converse("three")
	if st3.ConversationID != st1.ConversationID || st3.Token == st2.Token {
		t.Fatalf("no refresh: %+v then %+v", st2, st3)
	}
	clk.add(31 * time.Minute) // expired: a new conversation
	st4 := converse("four")
	if st4.ConversationID == st1.ConversationID {
		t.Fatalf("an expired token kept the conversation: %+v", st4)
	}
	cd, _ := lastPost(t, f).Body["channelData"].(map[string]any)
	if cx, _ := cd["context"].(map[string]any); cx["msConversationId"] != st4.ConversationID {
		t.Errorf("msConversationId = %v, want the new conversation %s", cx["msConversationId"], st4.ConversationID)
	}

	var ops []string
	for _, c := range f.Calls() {
		op := c.Method + " " + strings.ReplaceAll(c.Path, st1.ConversationID, "{id}")
		op = strings.ReplaceAll(op, st4.ConversationID, "{id}")
		if strings.HasSuffix(c.Path, "/activities") && c.Method == "GET" {
			t.Errorf("polled although the stream was open: %s", op)
		}
		isGenerate := strings.HasSuffix(c.Path, "/tokens/generate")
		if (c.Bearer == fakeSecret) != isGenerate {
			t.Errorf("%s carried the %s", op, map[bool]string{true: "secret", false: "token"}[c.Bearer == fakeSecret])
		}
		ops = append(ops, op)
	}
	want := []string{
		"POST /v3/directline/tokens/generate", "POST /v3/directline/conversations", "GET /v3/directline/conversations/{id}/stream", "POST /v3/directline/conversations/{id}/activities",
		"GET /v3/directline/conversations/{id}", "GET /v3/directline/conversations/{id}/stream", "POST /v3/directline/conversations/{id}/activities",
		"POST /v3/directline/tokens/refresh", "GET /v3/directline/conversations/{id}", "GET /v3/directline/conversations/{id}/stream", "POST /v3/directline/conversations/{id}/activities",
		"POST /v3/directline/tokens/generate", "POST /v3/directline/conversations", "GET /v3/directline/conversations/{id}/stream", "POST /v3/directline/conversations/{id}/activities",
	}
	if strings.Join(ops, "\n") != strings.Join(want, "\n") {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(ops, "\n"), strings.Join(want, "\n"))
	}
	if f.Rejected() != 0 {
		t.Errorf("the fake rejected %d calls", f.Rejected())
	}
}

// TestMultipleActivities: the stream delivers one reply at once and a
// second 100 ms later. Without Multiple Activities only the first counts;
// with 1000 ms both do.
func TestMultipleActivities(t *testing.T) {
	cases := map[string]struct {
		ms, want int
	}{"off": {0, 1}, "1000ms": {1000, 2}}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFakeDirectLine(t)
			f.bot = func(a map[string]any) []map[string]any {
				id, _ := a["id"].(string)
				conv := strings.SplitN(id, "|", 2)[0]
				go func() {
					time.Sleep(100 * time.Millisecond)
					f.mu.Lock()
					f.convs[conv].appendLocked(map[string]any{"type": "message", "text": "second", "replyToId": id, "id": conv + "|late", "from": map[string]any{"id": "fake-bot"}})
					f.mu.Unlock()
				}()
				return []map[string]any{{"type": "message", "text": "first"}}
			}
			b := newTestBot(t, f.endpoint(), func(m map[string]any) { m["multipleActivitiesMs"] = c.ms })
			r, err := b.Converse(context.Background(), turn(botrelay.TurnText, "c-multi", "hi"))
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Items) != c.want {
				t.Fatalf("items = %d (%+v), want %d", len(r.Items), r.Items, c.want)
			}
		})
	}
}

// TestErrors covers the retry rule (server errors: up to 2 resends; 502:
// none), refused credentials and a bot that does not answer.
func TestErrors(t *testing.T) {
	cases := map[string]struct {
		failPosts int // how many posts fail with status
		status    int
		silent    bool
		wantPosts int
		class     error
		code      string
	}{
		"500 once":   {1, 500, false, 2, nil, ""},
		"500 twice":  {2, 503, false, 3, nil, ""},
		"500 thrice": {3, 500, false, 3, botrelay.ErrVendorUnavailable, CodeSendQuery},
		"502":        {1, 502, false, 1, botrelay.ErrVendorUnavailable, CodeSendQuery},
		"403":        {1, 403, false, 1, botrelay.ErrVendorAuth, CodeSendQuery},
		"400":        {1, 400, false, 1, botrelay.ErrVendorBadReply, CodeSendQuery},
		"no reply":   {0, 0, true, 1, botrelay.ErrVendorBadReply, CodeResponseMissing},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFakeDirectLine(t)
			posts := 0
			f.status = func(method, path string) int {
				if method == "POST" && strings.HasSuffix(path, "/activities") {
					posts++
					if posts <= c.failPosts {
						return c.status
					}
				}
				return 0
			}
			if c.silent {
				f.bot = func(map[string]any) []map[string]any { return nil }
			}
			b := newTestBot(t, f.endpoint(), func(m map[string]any) { m["polling"] = true; m["replyTimeoutMs"] = 300 })
			_, err := b.Converse(context.Background(), turn(botrelay.TurnText, "c-err", "hi"))
			f.mu.Lock()
			got := posts
			f.mu.Unlock()
			if got != c.wantPosts {
				t.Errorf("posts = %d, want %d", got, c.wantPosts)
			}
			if c.class == nil {
				if err != nil {
					t.Fatalf("Converse: %v", err)
				}
				return
			}
			if !errors.Is(err, c.class) || golden.VendorCode(err) != c.code {
				t.Fatalf("err = %v; want %v with %s", err, c.class, c.code)
			}
			if strings.Contains(err.Error(), fakeSecret) {
				t.Fatalf("the error quotes the secret: %v", err)
			}
		})
	}
}

// TestConversationLost: a stored conversation Direct Line no longer knows
// (404) is started again and the activity posted there.
func TestConversationLost(t *testing.T) {
	f := newFakeDirectLine(t)
	b := newTestBot(t, f.endpoint(), func(m map[string]any) { m["polling"] = true })
	tr := turn(botrelay.TurnText, "c-lost", "hi")
	tr.VendorState, _ = json.Marshal(vendorState{Endpoint: f.endpoint(), ConversationID: "gone", Watermark: "7"})
	r, err := b.Converse(context.Background(), tr)
	if err != nil {
		t.Fatal(err)
	}
	var st vendorState
	_ = json.Unmarshal(r.VendorState, &st)
	if st.ConversationID == "gone" || st.ConversationID == "" || r.Items[0].Message.Text != "echo: hi" {
		t.Fatalf("state %+v, reply %+v", st, r.Items)
	}
	cd, _ := lastPost(t, f).Body["channelData"].(map[string]any)
	if cx, _ := cd["context"].(map[string]any); cx["msConversationId"] != st.ConversationID {
		t.Errorf("msConversationId = %v, want the new conversation %s", cx["msConversationId"], st.ConversationID)
	}
}

// TestHealth: tokens/generate proves the secret; where the token service
// is missing a conversation start does; a refused secret is ErrVendorAuth
// naming the check without quoting the secret.
func TestHealth(t *testing.T) {
	cases := map[string]struct {
		secret   string
		noTokens bool
		wantErr  bool
		wantPath string
	}{
		"tokens":           {fakeSecret, false, false, "/v3/directline/tokens/generate"},
		"no token service": {fakeSecret, true, false, "/v3/directline/conversations"},
		"wrong secret":     {"wrong-secret-do-not-echo", false, true, "/v3/directline/tokens/generate"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFakeDirectLine(t)
			if c.noTokens {
				f.status = func(method, path string) int {
					if strings.Contains(path, "/tokens/") {
						return 404
					}
					return 0
				}
			}
			b := newTestBot(t, f.endpoint(), func(m map[string]any) { m["secret"] = c.secret })
			err := b.CheckHealth(context.Background())
			calls := f.Calls()
			if last := calls[len(calls)-1]; last.Path != c.wantPath {
				t.Errorf("last call %s, want %s", last.Path, c.wantPath)
			}
			if !c.wantErr {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, botrelay.ErrVendorAuth) || !strings.Contains(err.Error(), "connection test") || strings.Contains(err.Error(), c.secret) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

// TestStreamFallback: when no stream can be had for a turn (the reconnect
// fails), the turn polls instead and still gets its reply.
func TestStreamFallback(t *testing.T) {
	f := newFakeDirectLine(t)
	b := newTestBot(t, f.endpoint(), nil)
	ctx := context.Background()
	tr := turn(botrelay.TurnText, "c-fallback", "one")
	r, err := b.Converse(ctx, tr)
	if err != nil {
		t.Fatal(err)
	}
	var st vendorState
	_ = json.Unmarshal(r.VendorState, &st)
	if f.streamsOpened(st.ConversationID) != 1 {
		t.Fatalf("the first turn opened %d streams", f.streamsOpened(st.ConversationID))
	}
	f.mu.Lock()
	f.status = func(method, path string) int {
		if method == "GET" && strings.HasSuffix(path, "/conversations/"+st.ConversationID) {
			return 404
		}
		return 0
	}
	f.mu.Unlock()
	tr.Text, tr.VendorState = "two", r.VendorState
	r, err = b.Converse(ctx, tr)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Items) != 1 || r.Items[0].Message.Text != "echo: two" {
		t.Fatalf("reply = %+v", r.Items)
	}
	polled := false
	for _, c := range f.Calls() {
		polled = polled || (c.Method == "GET" && strings.HasSuffix(c.Path, "/activities"))
	}
	if !polled || f.streamsOpened(st.ConversationID) != 1 {
		t.Fatalf("polled %v, streams %d", polled, f.streamsOpened(st.ConversationID))
	}
}

// TestHealthCheckCreatesOneConversation (issue 15, point 7): the Vendor
// Interruption check runs every 60 s; only the first creates a Direct
// Line conversation, the later ones read it. When Direct Line forgot it,
// the next check creates one again.
func TestHealthCheckCreatesOneConversation(t *testing.T) {
	for name, noTokens := range map[string]bool{"tokens": false, "no token service": true} {
		t.Run(name, func(t *testing.T) {
			f := newFakeDirectLine(t)
			if noTokens {
				f.status = func(method, path string) int {
					if strings.Contains(path, "/tokens/") {
						return 404
					}
					return 0
				}
			}
			b := newTestBot(t, f.endpoint(), nil)
			convs := func() int {
				f.mu.Lock()
				defer f.mu.Unlock()
				return len(f.convs)
			}
			for i := 0; i < 5; i++ {
				if err := b.CheckHealth(context.Background()); err != nil {
					t.Fatalf("check %d: %v", i+1, err)
				}
			}
			if n := convs(); n != 1 {
				t.Fatalf("5 checks created %d conversations, want 1", n)
			}
			calls := f.Calls()
			if last := calls[len(calls)-1]; last.Method != "GET" || !strings.HasPrefix(last.Path, "/v3/directline/conversations/DL") {
				t.Fatalf("last check called %s %s, want a read of the conversation", last.Method, last.Path)
			}
			f.mu.Lock()
			clear(f.convs)
			f.mu.Unlock()
			if err := b.CheckHealth(context.Background()); err != nil {
				t.Fatal(err)
			}
			if err := b.CheckHealth(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n := convs(); n != 1 {
				t.Fatalf("after Direct Line forgot the conversation: %d conversations, want 1 new one", n)
			}
		})
	}
}
