package openai

import (
	"bytes"
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

const testKey = "sk-test-0123456789abcdefSECRET"

func newTestBot(t *testing.T, f *fakeOpenAI, edit func(map[string]any)) *Bot {
	t.Helper()
	cfg := map[string]any{"baseUrl": f.base() + "/", "model": fakeModel, "apiKey": testKey, "systemPrompt": "You are the help desk of Example Ltd."}
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

func turn(kind botrelay.TurnKind, text string, state string) *botrelay.Turn {
	t := &botrelay.Turn{Kind: kind, Text: text,
		Conversation: botrelay.ConversationRef{ID: "conv-1", Type: botrelay.Messaging, SkillName: "bot"},
		LPEvent:      json.RawMessage(`{}`), SDEs: json.RawMessage(`{}`)}
	if state != "" {
		t.VendorState = json.RawMessage(state)
	}
	return t
}

const priorState = `{"history":[{"role":"user","content":"hi"},{"role":"assistant","content":"Hello! How can I help?"}],"tokens":100}`

// TestGoldenReplies replays each completion shape (testdata/replies/*.json)
// through the fake, with a prior history, and compares the Reply (vendor
// state included) with the golden file.
func TestGoldenReplies(t *testing.T) {
	files, _ := filepath.Glob("testdata/replies/*.json")
	if len(files) == 0 {
		t.Fatal("no golden inputs")
	}
	f := newFakeOpenAI(t, testKey)
	b := newTestBot(t, f, nil)
	for _, in := range files {
		name := strings.TrimSuffix(filepath.Base(in), ".json")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			f.setReply(func(ChatRequest) (int, string) { return 200, string(body) })
			r, err := b.Converse(context.Background(), turn(botrelay.TurnText, "I want to talk to someone", priorState))
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
	f := newFakeOpenAI(t, testKey)
	b := newTestBot(t, f, nil)
	for _, in := range files {
		name := strings.TrimSuffix(filepath.Base(in), ".json")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			f.setReply(func(ChatRequest) (int, string) { return 200, string(body) })
			r, err := b.Converse(context.Background(), turn(botrelay.TurnText, "hello", ""))
			if err == nil {
				t.Fatalf("Converse accepted the completion: %+v", r)
			}
			if !errors.Is(err, botrelay.ErrVendorBadReply) || golden.VendorCode(err) != CodeInvalidBody {
				t.Fatalf("err = %v; want ErrVendorBadReply with %s", err, CodeInvalidBody)
			}
			golden.Check(t, strings.TrimSuffix(in, ".json")+".golden", []byte(err.Error()+"\n"))
		})
	}
}

// TestRequest checks the request body of each turn kind against
// testdata/requests/<case>.golden.
func TestRequest(t *testing.T) {
	temp := 0.2
	cases := map[string]struct {
		turn func() *botrelay.Turn
		edit func(map[string]any)
	}{
		"text-with-history": {turn: func() *botrelay.Turn { return turn(botrelay.TurnText, "Where is my order?", priorState) }},
		"welcome": {turn: func() *botrelay.Turn {
			tt := turn(botrelay.TurnStart, "", "")
			tt.LastConsumerMessage = "my parcel is late"
			return tt
		}, edit: func(m map[string]any) { m["temperature"] = temp; m["transferSkills"] = []string{"human", "billing"} }},
		"rich-content": {turn: func() *botrelay.Turn {
			tt := turn(botrelay.TurnRichContent, botrelay.EventConsumerRichContent, "")
			tt.RichContent = json.RawMessage(`{ "type": "map", "la": 1.5, "lo": 2.5 }`)
			return tt
		}, edit: func(m map[string]any) { delete(m, "systemPrompt"); m["disableTools"] = true }},
		"file": {turn: func() *botrelay.Turn {
			tt := turn(botrelay.TurnFile, botrelay.EventConsumerFile, "")
			tt.File = &botrelay.File{RelativePath: "a/b.png", FileType: "PNG", Caption: "receipt"}
			return tt
		}, edit: func(m map[string]any) { m["welcomePrompt"] = "Say hi." }},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFakeOpenAI(t, testKey)
			b := newTestBot(t, f, c.edit)
			if _, err := b.Converse(context.Background(), c.turn()); err != nil {
				t.Fatal(err)
			}
			raw := f.Raw()
			if len(raw) != 1 {
				t.Fatalf("%d requests", len(raw))
			}
			var pretty bytes.Buffer
			_ = json.Indent(&pretty, raw[0], "", "  ")
			pretty.WriteByte('\n')
			golden.Check(t, filepath.Join("testdata", "requests", name+".golden"), pretty.Bytes())
		})
	}
	t.Run("survey unsupported", func(t *testing.T) {
		f := newFakeOpenAI(t, testKey)
		_, err := newTestBot(t, f, nil).Converse(context.Background(), turn(botrelay.TurnSurvey, "", ""))
		if !errors.Is(err, botrelay.ErrUnsupported) || len(f.Requests()) != 0 {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestHistory: the history goes round through the vendor state and stays
// within its bounds, oldest turns dropped first, always starting with a
// user message.
func TestHistory(t *testing.T) {
	f := newFakeOpenAI(t, testKey)
	b := newTestBot(t, f, func(m map[string]any) { m["maxHistoryMessages"] = 4; m["maxHistoryBytes"] = 200 })
	var state json.RawMessage
	for i, text := range []string{"one", "two", "three", "four"} {
		tt := turn(botrelay.TurnText, text, "")
		tt.VendorState = state
		r, err := b.Converse(context.Background(), tt)
		if err != nil {
			t.Fatal(err)
		}
		state = r.VendorState
		var st State
		_ = json.Unmarshal(state, &st)
		if st.Tokens != 30*(i+1) {
			t.Errorf("turn %d: tokens %d", i, st.Tokens)
		}
		if len(st.History) > 4 || st.History[0].Role != "user" || st.History[len(st.History)-1].Content != "OpenAI heard: "+text {
			t.Errorf("turn %d: history %+v", i, st.History)
		}
	}
	reqs := f.Requests()
	last := reqs[len(reqs)-1].Messages
	var got []string
	for _, m := range last {
		got = append(got, m.Role+":"+m.Content)
	}
	want := "system:You are the help desk of Example Ltd.|user:two|assistant:OpenAI heard: two|user:three|assistant:OpenAI heard: three|user:four"
	if strings.Join(got, "|") != want {
		t.Errorf("messages of the last call:\n%s\nwant\n%s", strings.Join(got, "|"), want)
	}

	trimCases := map[string]struct {
		in       []ChatMessage
		msgs     int
		bytes    int
		wantLen  int
		wantHead string
	}{
		"within bounds":      {in: hist("u:a", "a:b"), msgs: 4, bytes: 100, wantLen: 2, wantHead: "a"},
		"too many":           {in: hist("u:a", "a:b", "u:c", "a:d", "u:e"), msgs: 3, bytes: 100, wantLen: 3, wantHead: "c"},
		"too many bytes":     {in: hist("u:aaaa", "a:bbbb", "u:cc", "a:dd"), msgs: 10, bytes: 6, wantLen: 2, wantHead: "cc"},
		"assistant at start": {in: hist("a:x", "u:y"), msgs: 10, bytes: 100, wantLen: 1, wantHead: "y"},
		"one huge message":   {in: hist("u:" + strings.Repeat("z", 50)), msgs: 10, bytes: 10, wantLen: 0},
	}
	for name, c := range trimCases {
		t.Run(name, func(t *testing.T) {
			got := trim(c.in, c.msgs, c.bytes)
			if len(got) != c.wantLen || (c.wantLen > 0 && got[0].Content != c.wantHead) {
				t.Fatalf("trim = %+v", got)
			}
		})
	}
}

func hist(specs ...string) []ChatMessage {
	var out []ChatMessage
	for _, s := range specs {
		role := "user"
		if s[0] == 'a' {
			role = "assistant"
		}
		out = append(out, ChatMessage{Role: role, Content: s[2:]})
	}
	return out
}

// TestBudgets: a conversation that has used its token budget fails before
// a call; a turn that takes it past the budget fails; a call slower than
// the latency budget is unavailability with the latency code.
func TestBudgets(t *testing.T) {
	t.Run("tokens used up", func(t *testing.T) {
		f := newFakeOpenAI(t, testKey)
		b := newTestBot(t, f, func(m map[string]any) { m["maxTokensPerConversation"] = 100 })
		_, err := b.Converse(context.Background(), turn(botrelay.TurnText, "hi", priorState))
		if !errors.Is(err, botrelay.ErrUnsupported) || golden.VendorCode(err) != CodeTokenBudget {
			t.Fatalf("err = %v", err)
		}
		if len(f.Requests()) != 0 {
			t.Fatal("the model was called")
		}
	})
	t.Run("turn exceeds", func(t *testing.T) {
		f := newFakeOpenAI(t, testKey)
		b := newTestBot(t, f, func(m map[string]any) { m["maxTokensPerConversation"] = 120 })
		_, err := b.Converse(context.Background(), turn(botrelay.TurnText, "hi", priorState))
		if !errors.Is(err, botrelay.ErrUnsupported) || golden.VendorCode(err) != CodeTokenBudget || !strings.Contains(err.Error(), "130 tokens") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("within budget", func(t *testing.T) {
		f := newFakeOpenAI(t, testKey)
		b := newTestBot(t, f, func(m map[string]any) { m["maxTokensPerConversation"] = 130 })
		r, err := b.Converse(context.Background(), turn(botrelay.TurnText, "hi", priorState))
		if err != nil || !strings.Contains(string(r.VendorState), `"tokens":130`) {
			t.Fatalf("err = %v, state %s", err, r.VendorState)
		}
	})
	t.Run("no usage reported", func(t *testing.T) {
		f := newFakeOpenAI(t, testKey)
		f.setReply(func(ChatRequest) (int, string) {
			return 200, `{"object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"12345678"},"finish_reason":"stop"}]}`
		})
		b := newTestBot(t, f, func(m map[string]any) { delete(m, "systemPrompt") })
		r, err := b.Converse(context.Background(), turn(botrelay.TurnText, "abcd", ""))
		if err != nil || !strings.Contains(string(r.VendorState), `"tokens":3`) {
			t.Fatalf("err = %v, state %s", err, r.VendorState)
		}
	})
	t.Run("latency", func(t *testing.T) {
		f := newFakeOpenAI(t, testKey)
		release := make(chan struct{})
		defer close(release)
		f.setReply(func(ChatRequest) (int, string) { <-release; return 200, `{}` })
		b := newTestBot(t, f, func(m map[string]any) { m["maxLatencyMs"] = 50 })
		start := time.Now()
		_, err := b.Converse(context.Background(), turn(botrelay.TurnText, "hi", ""))
		if !errors.Is(err, botrelay.ErrVendorUnavailable) || golden.VendorCode(err) != CodeLatencyBudget {
			t.Fatalf("err = %v", err)
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("the latency budget did not cut the call short")
		}
	})
	t.Run("caller deadline is not the budget", func(t *testing.T) {
		f := newFakeOpenAI(t, testKey)
		release := make(chan struct{})
		defer close(release)
		f.setReply(func(ChatRequest) (int, string) { <-release; return 200, `{}` })
		b := newTestBot(t, f, func(m map[string]any) { m["maxLatencyMs"] = 60000 })
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := b.Converse(ctx, turn(botrelay.TurnText, "hi", ""))
		if !errors.Is(err, botrelay.ErrVendorUnavailable) || golden.VendorCode(err) != CodeSendRequest {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestErrors(t *testing.T) {
	cases := map[string]struct {
		status int
		body   string
		key    string
		class  error
		want   string
	}{
		"wrong key":     {key: "sk-wrong-key-98765SECRET", class: botrelay.ErrVendorAuth, want: "code invalid_api_key"},
		"rate limited":  {status: 429, body: `{"error":{"message":"Rate limit reached for gpt-4o-mini","type":"requests","code":"rate_limit_exceeded"}}`, class: botrelay.ErrVendorUnavailable, want: "Rate limit reached"},
		"server error":  {status: 500, body: `{"error":{"message":"The server had an error while processing your request.","type":"server_error"}}`, class: botrelay.ErrVendorUnavailable, want: "HTTP 500"},
		"overloaded":    {status: 503, body: `upstream overloaded`, class: botrelay.ErrVendorUnavailable, want: "upstream overloaded"},
		"bad request":   {status: 400, body: `{"error":{"message":"This model's maximum context length is 128000 tokens.","type":"invalid_request_error","code":"context_length_exceeded"}}`, class: botrelay.ErrVendorBadReply, want: "context_length_exceeded"},
		"model missing": {status: 404, body: `{"error":{"message":"The model does not exist","type":"invalid_request_error","code":"model_not_found"}}`, class: botrelay.ErrVendorBadReply, want: "model_not_found"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFakeOpenAI(t, testKey)
			f.setReply(func(ChatRequest) (int, string) { return c.status, c.body })
			b := newTestBot(t, f, func(m map[string]any) {
				if c.key != "" {
					m["apiKey"] = c.key
				}
			})
			_, err := b.Converse(context.Background(), turn(botrelay.TurnText, "hi", ""))
			if !errors.Is(err, c.class) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v; want %v mentioning %q", err, c.class, c.want)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Fatalf("error echoes the key: %v", err)
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		f := newFakeOpenAI(t, testKey)
		b := newTestBot(t, f, nil)
		f.srv.Close()
		_, err := b.Converse(context.Background(), turn(botrelay.TurnText, "hi", ""))
		if !errors.Is(err, botrelay.ErrVendorUnavailable) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestCheckHealth(t *testing.T) {
	cases := map[string]struct {
		key, model string
		class      error
	}{
		"ok":            {key: testKey, model: fakeModel},
		"wrong key":     {key: "sk-nope-SECRET", model: fakeModel, class: botrelay.ErrVendorAuth},
		"no key":        {key: "", model: fakeModel, class: botrelay.ErrVendorAuth},
		"unknown model": {key: testKey, model: "gpt-9", class: botrelay.ErrVendorBadReply},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFakeOpenAI(t, testKey)
			b := newTestBot(t, f, func(m map[string]any) { m["apiKey"] = c.key; m["model"] = c.model })
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

func TestSettings(t *testing.T) {
	cases := map[string]struct {
		cfg  string
		want string
	}{
		"minimal":          {cfg: `{"model":"gpt-4o-mini"}`},
		"full":             {cfg: `{"baseUrl":"http://localhost:11434/v1","model":"llama3","apiKey":"k","systemPrompt":"s","welcomePrompt":"w","temperature":0,"maxHistoryMessages":6,"maxHistoryBytes":4000,"maxTokensPerConversation":5000,"maxLatencyMs":8000,"transferSkills":["human"],"disableTools":false}`},
		"no model":         {cfg: `{}`, want: "model is required"},
		"bad base":         {cfg: `{"model":"m","baseUrl":"ftp://x"}`, want: "baseUrl"},
		"temperature":      {cfg: `{"model":"m","temperature":3}`, want: "temperature"},
		"negative history": {cfg: `{"model":"m","maxHistoryMessages":-1}`, want: "maxHistoryMessages"},
		"huge history":     {cfg: `{"model":"m","maxHistoryBytes":99999999}`, want: "maxHistoryBytes"},
		"negative budget":  {cfg: `{"model":"m","maxTokensPerConversation":-5}`, want: "maxTokensPerConversation"},
		"negative latency": {cfg: `{"model":"m","maxLatencyMs":-5}`, want: "maxLatencyMs"},
		"empty skill":      {cfg: `{"model":"m","transferSkills":[""]}`, want: "transferSkills[0]"},
		"key with newline": {cfg: `{"model":"m","apiKey":"a\nb"}`, want: "apiKey"},
		"unknown key":      {cfg: `{"model":"m","max_tokens":5}`, want: "unknown field"},
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
	if info := (Connector{}).Info(); info.ID != "openai" || len(info.Secrets) != 1 || info.Secrets[0] != "apiKey" {
		t.Errorf("Info = %+v", info)
	}
}
