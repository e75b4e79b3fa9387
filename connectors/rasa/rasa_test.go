package rasa

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/botrelay/botrelay/internal/golden"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
)

const (
	testToken = "rasa-Secret-Token-0123456789"
	lpEvent   = `{"sequence":3,"event":{"type":"ContentEvent","message":"hi","contentType":"text/plain"},"conversationId":"conv-1","conversationContext":{"type":"MESSAGING"}}`
	sdes      = `{"unauthenticatedSdes":{"customerInfo":{"customerInfo":{"customerStatus":"vip"}}}}`
)

func newTestBot(t *testing.T, f *fakeRasa, edit func(map[string]any)) *Bot {
	t.Helper()
	cfg := map[string]any{"baseUrl": f.srv.URL + "/", "token": f.token, "authMode": f.mode}
	if edit != nil {
		edit(cfg)
	}
	raw, _ := json.Marshal(cfg)
	vb, err := Connector{}.NewBot(raw, botrelay.BotEnv{BotID: "b1", AccountID: "1000", HTTPClient: f.srv.Client()})
	if err != nil {
		t.Fatalf("NewBot: %v", err)
	}
	return vb.(*Bot)
}

func turn(kind botrelay.TurnKind, text string, typ botrelay.ConversationType) *botrelay.Turn {
	return &botrelay.Turn{Kind: kind, Text: text,
		Conversation: botrelay.ConversationRef{ID: "conv-1", Type: typ, ConsumerID: "cons-1", SkillID: 7, SkillName: "bot"},
		LPEvent:      json.RawMessage(lpEvent), SDEs: json.RawMessage(sdes)}
}

// TestGoldenReplies replays each reply shape (testdata/replies/*.json, the
// webhook's answer) through the fake; files named chat-* run in a chat
// conversation.
func TestGoldenReplies(t *testing.T) {
	files, _ := filepath.Glob("testdata/replies/*.json")
	if len(files) == 0 {
		t.Fatal("no golden inputs")
	}
	f := newFakeRasa(t, testToken, AuthQuery)
	b := newTestBot(t, f, nil)
	for _, in := range files {
		name := strings.TrimSuffix(filepath.Base(in), ".json")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			f.setReply(func(Request) (int, string) { return 200, string(body) })
			typ := botrelay.Messaging
			if strings.HasPrefix(name, "chat-") {
				typ = botrelay.Chat
			}
			r, err := b.Converse(context.Background(), turn(botrelay.TurnText, "hello", typ))
			if err != nil {
				t.Fatalf("Converse: %v", err)
			}
			out, _ := json.MarshalIndent(r, "", "  ")
			golden.Check(t, strings.TrimSuffix(in, ".json")+".golden", append(out, '\n'))
		})
	}
}

// TestGoldenInvalid: answers that break the documented shapes are
// ErrVendorBadReply with the invalid-body code.
func TestGoldenInvalid(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*.json")
	if len(files) == 0 {
		t.Fatal("no golden inputs")
	}
	f := newFakeRasa(t, testToken, AuthQuery)
	b := newTestBot(t, f, nil)
	for _, in := range files {
		name := strings.TrimSuffix(filepath.Base(in), ".json")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			f.setReply(func(Request) (int, string) { return 200, string(body) })
			r, err := b.Converse(context.Background(), turn(botrelay.TurnText, "hello", botrelay.Messaging))
			if err == nil {
				t.Fatalf("Converse accepted the answer: %+v", r)
			}
			if !errors.Is(err, botrelay.ErrVendorBadReply) || golden.VendorCode(err) != CodeInvalidBody {
				t.Fatalf("err = %v; want ErrVendorBadReply with %s", err, CodeInvalidBody)
			}
			golden.Check(t, strings.TrimSuffix(in, ".json")+".golden", []byte(err.Error()+"\n"))
		})
	}
}

// TestRequest checks the webhook body of each turn kind and both auth modes.
func TestRequest(t *testing.T) {
	cases := map[string]struct {
		turn    func() *botrelay.Turn
		mode    string
		message string
		check   func(t *testing.T, md map[string]any)
	}{
		"text": {
			turn: func() *botrelay.Turn { return turn(botrelay.TurnText, "I need help", botrelay.Messaging) },
			mode: AuthQuery, message: "I need help",
			check: func(t *testing.T, md map[string]any) {
				if md["lpSdes"].(map[string]any)["unauthenticatedSdes"] == nil || md["lpEvent"].(map[string]any)["sequence"] != float64(3) {
					t.Errorf("context = %v", md)
				}
			},
		},
		"welcome": {
			turn: func() *botrelay.Turn {
				tt := turn(botrelay.TurnStart, "", botrelay.Chat)
				tt.LastConsumerMessage = "earlier words"
				return tt
			},
			mode: AuthBearer, message: "/welcome",
			check: func(t *testing.T, md map[string]any) {
				if md["welcome"] != true || md["lastConsumerMessage"] != "earlier words" || md["conversationType"] != "CHAT" {
					t.Errorf("metadata = %v", md)
				}
			},
		},
		"rich content": {
			turn: func() *botrelay.Turn {
				tt := turn(botrelay.TurnRichContent, botrelay.EventConsumerRichContent, botrelay.Messaging)
				tt.RichContent = json.RawMessage(`{"type":"map","la":1.5,"lo":2.5}`)
				return tt
			},
			mode: AuthQuery, message: botrelay.EventConsumerRichContent,
			check: func(t *testing.T, md map[string]any) {
				if md["richContent"].(map[string]any)["type"] != "map" {
					t.Errorf("metadata = %v", md)
				}
			},
		},
		"file": {
			turn: func() *botrelay.Turn {
				tt := turn(botrelay.TurnFile, botrelay.EventConsumerFile, botrelay.Messaging)
				tt.File = &botrelay.File{RelativePath: "a/b.png", FileType: "PNG", Caption: "receipt"}
				return tt
			},
			mode: AuthQuery, message: botrelay.EventConsumerFile,
			check: func(t *testing.T, md map[string]any) {
				if md["file"].(map[string]any)["relativePath"] != "a/b.png" {
					t.Errorf("metadata = %v", md)
				}
			},
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFakeRasa(t, testToken, c.mode)
			b := newTestBot(t, f, nil)
			if _, err := b.Converse(context.Background(), c.turn()); err != nil {
				t.Fatal(err)
			}
			reqs := f.Requests()
			if len(reqs) != 1 || reqs[0].Sender != "conv-1" || reqs[0].Message != c.message || reqs[0].Metadata.ConvID != "conv-1" {
				t.Fatalf("requests = %+v", reqs)
			}
			raw, _ := json.Marshal(reqs[0].Metadata)
			var md map[string]any
			_ = json.Unmarshal(raw, &md)
			c.check(t, md)
		})
	}
	t.Run("survey unsupported", func(t *testing.T) {
		f := newFakeRasa(t, "", AuthQuery)
		b := newTestBot(t, f, nil)
		_, err := b.Converse(context.Background(), turn(botrelay.TurnSurvey, "", botrelay.Messaging))
		if !errors.Is(err, botrelay.ErrUnsupported) {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestErrors classifies transport and HTTP failures; no message carries
// the token.
func TestErrors(t *testing.T) {
	cases := map[string]struct {
		status int
		body   string
		token  string // the bot's token; the fake wants testToken
		class  error
	}{
		"wrong token":  {token: "wrong-token", class: botrelay.ErrVendorAuth},
		"forbidden":    {status: 403, body: `{}`, token: testToken, class: botrelay.ErrVendorAuth},
		"rate limited": {status: 429, body: `{}`, token: testToken, class: botrelay.ErrVendorUnavailable},
		"server error": {status: 500, body: `oops`, token: testToken, class: botrelay.ErrVendorUnavailable},
		"unavailable":  {status: 503, body: ``, token: testToken, class: botrelay.ErrVendorUnavailable},
		"no channel":   {status: 404, body: `not found`, token: testToken, class: botrelay.ErrVendorBadReply},
		"bad request":  {status: 400, body: `bad`, token: testToken, class: botrelay.ErrVendorBadReply},
		"not an array": {status: 200, body: `{"text":"x"}`, token: testToken, class: botrelay.ErrVendorBadReply},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFakeRasa(t, testToken, AuthQuery)
			f.setReply(func(Request) (int, string) { return c.status, c.body })
			b := newTestBot(t, f, func(m map[string]any) { m["token"] = c.token })
			_, err := b.Converse(context.Background(), turn(botrelay.TurnText, "hi", botrelay.Messaging))
			if !errors.Is(err, c.class) {
				t.Fatalf("err = %v; want %v", err, c.class)
			}
			if strings.Contains(err.Error(), c.token) || strings.Contains(err.Error(), testToken) {
				t.Fatalf("error echoes the token: %v", err)
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		f := newFakeRasa(t, testToken, AuthQuery)
		b := newTestBot(t, f, nil)
		f.srv.Close()
		_, err := b.Converse(context.Background(), turn(botrelay.TurnText, "hi", botrelay.Messaging))
		if !errors.Is(err, botrelay.ErrVendorUnavailable) || strings.Contains(err.Error(), testToken) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		f := newFakeRasa(t, testToken, AuthQuery)
		release := make(chan struct{})
		defer close(release)
		f.setReply(func(Request) (int, string) { <-release; return 200, `[]` })
		b := newTestBot(t, f, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := b.Converse(ctx, turn(botrelay.TurnText, "hi", botrelay.Messaging))
		if !errors.Is(err, botrelay.ErrVendorUnavailable) || golden.VendorCode(err) != CodeSendMessage {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestCheckHealth(t *testing.T) {
	cases := map[string]struct {
		fakeToken, botToken, mode string
		class                     error
	}{
		"no token":      {mode: AuthQuery},
		"query token":   {fakeToken: testToken, botToken: testToken, mode: AuthQuery},
		"bearer token":  {fakeToken: testToken, botToken: testToken, mode: AuthBearer},
		"wrong token":   {fakeToken: testToken, botToken: "nope", mode: AuthQuery, class: botrelay.ErrVendorAuth},
		"missing token": {fakeToken: testToken, mode: AuthBearer, class: botrelay.ErrVendorAuth},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFakeRasa(t, c.fakeToken, c.mode)
			b := newTestBot(t, f, func(m map[string]any) { m["token"] = c.botToken })
			err := b.CheckHealth(context.Background())
			if c.class == nil && err != nil || c.class != nil && !errors.Is(err, c.class) {
				t.Fatalf("err = %v; want %v", err, c.class)
			}
		})
	}
	t.Run("not rasa", func(t *testing.T) {
		f := newFakeRasa(t, "", AuthQuery)
		b := newTestBot(t, f, nil)
		b.cfg.BaseURL += "/nothing"
		if err := b.CheckHealth(context.Background()); !errors.Is(err, botrelay.ErrVendorBadReply) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestSettings(t *testing.T) {
	cases := map[string]struct {
		cfg  string
		want string // substring of the EINVALID message; "" = valid
	}{
		"minimal":          {cfg: `{"baseUrl":"http://localhost:5005"}`},
		"full":             {cfg: `{"baseUrl":"https://rasa.example.com/","token":"t","authMode":"bearer","welcomeMessage":"/greet"}`},
		"missing base":     {cfg: `{}`, want: "baseUrl is required"},
		"relative base":    {cfg: `{"baseUrl":"rasa:5005"}`, want: "baseUrl"},
		"base with query":  {cfg: `{"baseUrl":"http://h/?token=x"}`, want: "baseUrl must not carry a query"},
		"bad mode":         {cfg: `{"baseUrl":"http://h","authMode":"basic"}`, want: "authMode"},
		"token with space": {cfg: `{"baseUrl":"http://h","token":"a b"}`, want: "token must not"},
		"unknown key":      {cfg: `{"baseUrl":"http://h","url":"x"}`, want: "unknown field"},
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
	if info := (Connector{}).Info(); info.ID != "rasa" || len(info.Secrets) != 1 || info.Secrets[0] != "token" {
		t.Errorf("Info = %+v", info)
	}
}
