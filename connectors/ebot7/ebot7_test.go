package ebot7

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

const (
	testKey = "xapp-0123456789abcdefSECRET"
	testBot = "s6j68d6ej3w21mnj01c03e0a"
	// testDelay is the bot response delay of the tests. Any positive delay
	// gives at least two reads of the messages (the last one starts after
	// the delay), and the fake shows answers from the second read on, so
	// the tests do not depend on timing.
	testDelay = 0.05
)

func newTestBot(t *testing.T, f *fakeEbot7, edit func(map[string]any)) *Bot {
	t.Helper()
	cfg := map[string]any{"baseUrl": f.srv.URL + "/v1/", "appKey": testKey, "botId": testBot, "botResponseDelay": testDelay}
	if edit != nil {
		edit(cfg)
	}
	raw, _ := json.Marshal(cfg)
	vb, err := Connector{}.NewBot(raw, botrelay.BotEnv{BotID: "b1", AccountID: "1000", HTTPClient: f.srv.Client()})
	if err != nil {
		t.Fatalf("NewBot: %v", err)
	}
	b := vb.(*Bot)
	b.poll = 10 * time.Millisecond
	return b
}

func turn(kind botrelay.TurnKind, text string, typ botrelay.ConversationType, state json.RawMessage) *botrelay.Turn {
	return &botrelay.Turn{Kind: kind, Text: text, VendorState: state,
		Conversation: botrelay.ConversationRef{ID: "lp-conv-1", Type: typ, SkillName: "bot"},
		LPEvent:      json.RawMessage(`{}`), SDEs: json.RawMessage(`{}`)}
}

// script is a golden input: what the flow says after the visitor's
// message, and whether it reaches End Flow.
type script struct {
	Messages []fakeMsg `json:"messages"`
	Archive  bool      `json:"archive"`
}

func loadScript(t *testing.T, path string) script {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s script
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return s
}

// TestGoldenReplies plays each flow answer (testdata/replies/*.json)
// through the fake; files named chat-* run in a chat conversation.
func TestGoldenReplies(t *testing.T) {
	files, _ := filepath.Glob("testdata/replies/*.json")
	if len(files) == 0 {
		t.Fatal("no golden inputs")
	}
	for _, in := range files {
		name := strings.TrimSuffix(filepath.Base(in), ".json")
		t.Run(name, func(t *testing.T) {
			s := loadScript(t, in)
			f := newFakeEbot7(t, testKey, testBot)
			f.setFlow(func(string) ([]fakeMsg, bool) { return s.Messages, s.Archive })
			typ := botrelay.Messaging
			if strings.HasPrefix(name, "chat-") {
				typ = botrelay.Chat
			}
			r, err := newTestBot(t, f, nil).Converse(context.Background(), turn(botrelay.TurnText, "hello", typ, nil))
			if err != nil {
				t.Fatalf("Converse: %v", err)
			}
			out, _ := json.MarshalIndent(r, "", "  ")
			golden.Check(t, strings.TrimSuffix(in, ".json")+".golden", append(out, '\n'))
		})
	}
}

func TestGoldenInvalid(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*.json")
	if len(files) == 0 {
		t.Fatal("no golden inputs")
	}
	for _, in := range files {
		name := strings.TrimSuffix(filepath.Base(in), ".json")
		t.Run(name, func(t *testing.T) {
			s := loadScript(t, in)
			f := newFakeEbot7(t, testKey, testBot)
			f.setFlow(func(string) ([]fakeMsg, bool) { return s.Messages, s.Archive })
			r, err := newTestBot(t, f, nil).Converse(context.Background(), turn(botrelay.TurnText, "hello", botrelay.Messaging, nil))
			if err == nil {
				t.Fatalf("Converse accepted the answer: %+v", r)
			}
			if !errors.Is(err, botrelay.ErrVendorBadReply) || golden.VendorCode(err) != CodeInvalidBody {
				t.Fatalf("err = %v; want ErrVendorBadReply with %s", err, CodeInvalidBody)
			}
			golden.Check(t, strings.TrimSuffix(in, ".json")+".golden", []byte(err.Error()+"\n"))
		})
	}
	t.Run("hook rewrote the response", func(t *testing.T) {
		f := newFakeEbot7(t, testKey, testBot)
		_, err := newTestBot(t, f, nil).ParseResponse(context.Background(), turn(botrelay.TurnText, "x", botrelay.Messaging, nil), json.RawMessage(`[1]`))
		if !errors.Is(err, botrelay.ErrVendorBadReply) || golden.VendorCode(err) != CodeInvalidBody {
			t.Fatalf("err = %v", err)
		}
	})
}

func texts(r *botrelay.Reply) []string {
	var out []string
	for _, it := range r.Items {
		if it.Message != nil && it.Message.Text != "" {
			out = append(out, it.Message.Text)
		}
	}
	return out
}

func stateOf(t *testing.T, raw json.RawMessage) State {
	t.Helper()
	var s State
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("state %s: %v", raw, err)
	}
	return s
}

// TestConversationLifecycle: the e-bot7 conversation is created once and
// kept in the vendor state; greetings are skipped on text turns and are
// the answer of a welcome turn, which starts a new e-bot7 conversation; a
// conversation e-bot7 forgot is created again; End Flow closes; ending the
// conversation archives it.
func TestConversationLifecycle(t *testing.T) {
	f := newFakeEbot7(t, testKey, testBot)
	b := newTestBot(t, f, nil)
	ctx := context.Background()

	r1, err := b.Converse(ctx, turn(botrelay.TurnText, "hi", botrelay.Messaging, nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(r1); len(got) != 1 || got[0] != "e-bot7 heard: hi" {
		t.Fatalf("first reply texts = %q (greetings must be skipped)", got)
	}
	st1 := stateOf(t, r1.VendorState)
	if st1.ConvID == "" || st1.BotID != testBot || st1.Offset != 3 {
		t.Fatalf("state = %+v; want the conversation and 3 messages read (visitor, greeting, answer)", st1)
	}
	c := f.Conv(st1.ConvID)
	if c == nil {
		t.Fatal("the conversation was not created")
	}
	integ, _ := json.Marshal(c.Integrations)
	if !strings.Contains(string(integ), `"id":"lp-conv-1"`) {
		t.Errorf("integrations = %s", integ)
	}

	r2, err := b.Converse(ctx, turn(botrelay.TurnText, "again", botrelay.Messaging, r1.VendorState))
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(r2); len(got) != 1 || got[0] != "e-bot7 heard: again" {
		t.Fatalf("second reply texts = %q", got)
	}
	if st2 := stateOf(t, r2.VendorState); st2.ConvID != st1.ConvID || st2.Offset != 5 {
		t.Fatalf("second state = %+v", st2)
	}
	creates := 0
	for _, l := range f.Log() {
		if strings.HasPrefix(l, "POST /v1/bots/"+testBot+"/convs ") {
			creates++
		}
	}
	if creates != 1 {
		t.Errorf("%d conversations created, want 1:\n%s", creates, strings.Join(f.Log(), "\n"))
	}

	// Welcome: a new e-bot7 conversation, whose greeting is the answer.
	w, err := b.Converse(ctx, turn(botrelay.TurnStart, "", botrelay.Chat, r2.VendorState))
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(w); len(got) != 1 || got[0] != "Welcome to Example!" {
		t.Fatalf("welcome texts = %q", got)
	}
	stw := stateOf(t, w.VendorState)
	if stw.ConvID == st1.ConvID {
		t.Error("the welcome did not start a new e-bot7 conversation")
	}

	// e-bot7 forgot the conversation: created again, the message resent.
	f.mu.Lock()
	delete(f.convs, stw.ConvID)
	f.mu.Unlock()
	r3, err := b.Converse(ctx, turn(botrelay.TurnText, "still there?", botrelay.Messaging, w.VendorState))
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(r3); len(got) != 1 || got[0] != "e-bot7 heard: still there?" {
		t.Fatalf("texts after re-creation = %q", got)
	}
	st3 := stateOf(t, r3.VendorState)
	if st3.ConvID == stw.ConvID {
		t.Fatal("state still names the forgotten conversation")
	}

	// End Flow closes.
	r4, err := b.Converse(ctx, turn(botrelay.TurnText, "bye", botrelay.Messaging, r3.VendorState))
	if err != nil {
		t.Fatal(err)
	}
	if r4.Action == nil || r4.Action.Kind != botrelay.ActionClose || texts(r4)[0] != "Goodbye!" {
		t.Fatalf("reply = %+v", r4)
	}

	// Another bot id in the settings: a new conversation of that bot.
	f2 := newFakeEbot7(t, testKey, "otherbot")
	b2 := newTestBot(t, f2, func(m map[string]any) { m["botId"] = "otherbot" })
	r5, err := b2.Converse(ctx, turn(botrelay.TurnText, "hi", botrelay.Messaging, r2.VendorState))
	if err != nil {
		t.Fatal(err)
	}
	if st := stateOf(t, r5.VendorState); st.BotID != "otherbot" {
		t.Fatalf("state = %+v", st)
	}

	// Ending archives.
	if err := b.EndConversation(ctx, botrelay.ConversationRef{ID: "lp-conv-1"}, r1.VendorState); err != nil {
		t.Fatal(err)
	}
	if !f.Conv(st1.ConvID).Archived {
		t.Error("EndConversation did not archive the conversation")
	}
	if err := b.EndConversation(ctx, botrelay.ConversationRef{ID: "lp-conv-1"}, nil); err != nil {
		t.Fatalf("EndConversation without state: %v", err)
	}
}

// TestRequest: each turn kind's message body, and surveys refused.
func TestRequest(t *testing.T) {
	cases := map[string]struct {
		kind botrelay.TurnKind
		text string
		want string
	}{
		"text":         {botrelay.TurnText, "hello", `{"data":{"body":"hello","source":"visitor"}}`},
		"rich content": {botrelay.TurnRichContent, botrelay.EventConsumerRichContent, `{"data":{"body":"` + botrelay.EventConsumerRichContent + `","source":"visitor"}}`},
		"file":         {botrelay.TurnFile, botrelay.EventConsumerFile, `{"data":{"body":"` + botrelay.EventConsumerFile + `","source":"visitor"}}`},
		"welcome":      {botrelay.TurnStart, "", `{}`},
	}
	f := newFakeEbot7(t, testKey, testBot)
	b := newTestBot(t, f, nil)
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := b.BuildRequest(context.Background(), turn(c.kind, c.text, botrelay.Messaging, nil))
			if err != nil || string(got) != c.want {
				t.Fatalf("request = %s, %v; want %s", got, err, c.want)
			}
		})
	}
	if _, err := b.Converse(context.Background(), turn(botrelay.TurnSurvey, "", botrelay.Messaging, nil)); !errors.Is(err, botrelay.ErrUnsupported) {
		t.Fatalf("survey: %v", err)
	}
}

func TestErrors(t *testing.T) {
	cases := map[string]struct {
		key, bot string
		status   int // the fake answers every message list with it
		class    error
	}{
		"wrong key":     {key: "xapp-wrong-SECRET", bot: testBot, class: botrelay.ErrVendorAuth},
		"foreign bot":   {key: testKey, bot: "notmybot", class: botrelay.ErrVendorAuth},
		"server error":  {key: testKey, bot: testBot, status: 502, class: botrelay.ErrVendorUnavailable},
		"rate limited":  {key: testKey, bot: testBot, status: 429, class: botrelay.ErrVendorUnavailable},
		"bad request":   {key: testKey, bot: testBot, status: 400, class: botrelay.ErrVendorBadReply},
		"not a listing": {key: testKey, bot: testBot, status: 299, class: botrelay.ErrVendorBadReply},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFakeEbot7(t, testKey, testBot)
			b := newTestBot(t, f, func(m map[string]any) { m["appKey"] = c.key; m["botId"] = c.bot })
			if c.status != 0 {
				inner := f.srv.Config.Handler
				f.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/messages") {
						w.WriteHeader(c.status)
						w.Write([]byte(`oops`))
						return
					}
					inner.ServeHTTP(w, r)
				})
			}
			_, err := b.Converse(context.Background(), turn(botrelay.TurnText, "hi", botrelay.Messaging, nil))
			if !errors.Is(err, c.class) {
				t.Fatalf("err = %v; want %v", err, c.class)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Fatalf("error echoes the key: %v", err)
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		f := newFakeEbot7(t, testKey, testBot)
		b := newTestBot(t, f, nil)
		f.srv.Close()
		_, err := b.Converse(context.Background(), turn(botrelay.TurnText, "hi", botrelay.Messaging, nil))
		if !errors.Is(err, botrelay.ErrVendorUnavailable) || golden.VendorCode(err) != CodeCreateConversation {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("deadline shorter than the delay", func(t *testing.T) {
		f := newFakeEbot7(t, testKey, testBot)
		b := newTestBot(t, f, func(m map[string]any) { m["botResponseDelay"] = 30 })
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := b.Converse(ctx, turn(botrelay.TurnText, "hi", botrelay.Messaging, nil))
		if !errors.Is(err, botrelay.ErrVendorUnavailable) || !strings.Contains(err.Error(), "vendor timeout must be longer") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestCheckHealth(t *testing.T) {
	cases := map[string]struct {
		key, bot string
		class    error
	}{
		"ok":          {key: testKey, bot: testBot},
		"wrong key":   {key: "xapp-nope-SECRET", bot: testBot, class: botrelay.ErrVendorAuth},
		"foreign bot": {key: testKey, bot: "notmybot", class: botrelay.ErrVendorAuth},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFakeEbot7(t, testKey, testBot)
			b := newTestBot(t, f, func(m map[string]any) { m["appKey"] = c.key; m["botId"] = c.bot })
			err := b.CheckHealth(context.Background())
			if c.class == nil && err != nil || c.class != nil && (!errors.Is(err, c.class) || golden.VendorCode(err) != CodeTestConnection) {
				t.Fatalf("err = %v; want %v", err, c.class)
			}
			if err != nil && strings.Contains(err.Error(), "SECRET") {
				t.Fatalf("error echoes the key: %v", err)
			}
		})
	}
}

func TestHTML(t *testing.T) {
	cases := map[string]struct {
		in, text string
		media    int
	}{
		"plain":      {in: "Hello", text: "Hello"},
		"paragraphs": {in: "<p>Hello <b>there</b></p><p>Second&nbsp;line &amp; more</p>", text: "Hello there\nSecond line & more"},
		"breaks":     {in: "a<br>b<br/>c<BR />d", text: "a\nb\nc\nd"},
		"list":       {in: "<ul><li>one</li><li>two</li></ul>", text: "one\ntwo"},
		"link":       {in: `See <a href="https://x.example">our site</a>.`, text: "See our site."},
		"image":      {in: `<p>Map:</p><img src="https://x.example/m.png" alt="map">`, text: "Map:", media: 1},
		"video":      {in: `<video controls><source src="https://x.example/v.mp4" type="video/mp4"></video>`, text: "", media: 1},
		"iframe":     {in: `<iframe src="https://www.youtube.com/embed/abc"></iframe>`, text: "", media: 1},
		"script":     {in: `<script>alert(1)</script>ok`, text: "ok"},
		"entities":   {in: "5 &lt; 6 &quot;x&quot; &#39;y&#39;", text: `5 < 6 "x" 'y'`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			text, media := fromHTML(c.in)
			if text != c.text || len(media) != c.media {
				t.Fatalf("fromHTML = %q, %d media; want %q, %d", text, len(media), c.text, c.media)
			}
		})
	}
}

func TestSettings(t *testing.T) {
	cases := map[string]struct {
		cfg  string
		want string
	}{
		"minimal":        {cfg: `{"appKey":"xapp-1","botId":"s6j68d6ej3w21mnj01c03e0a"}`},
		"full":           {cfg: `{"appKey":"xapp-1","botId":"b","botResponseDelay":2.5,"baseUrl":"https://api.staging.e-bot7.de/v1"}`},
		"no key":         {cfg: `{"botId":"b"}`, want: "appKey is required"},
		"not an app key": {cfg: `{"appKey":"sk-1","botId":"b"}`, want: "which starts with"},
		"no bot":         {cfg: `{"appKey":"xapp-1"}`, want: "botId"},
		"bad bot":        {cfg: `{"appKey":"xapp-1","botId":"a/b"}`, want: "botId"},
		"negative delay": {cfg: `{"appKey":"xapp-1","botId":"b","botResponseDelay":-1}`, want: "botResponseDelay"},
		"huge delay":     {cfg: `{"appKey":"xapp-1","botId":"b","botResponseDelay":600}`, want: "botResponseDelay"},
		"bad base":       {cfg: `{"appKey":"xapp-1","botId":"b","baseUrl":"api.e-bot7.de"}`, want: "baseUrl"},
		"unknown key":    {cfg: `{"appKey":"xapp-1","botId":"b","delay":1}`, want: "unknown field"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Connector{}.NewBot(json.RawMessage(c.cfg), botrelay.BotEnv{})
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if botrelay.ErrorCode(err) != botrelay.EINVALID || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v; want EINVALID mentioning %q", err, c.want)
			}
		})
	}
	if info := (Connector{}).Info(); info.ID != "ebot7" || len(info.Secrets) != 1 || info.Secrets[0] != "appKey" {
		t.Errorf("Info = %+v", info)
	}
}
