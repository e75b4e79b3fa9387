package watson_test

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
	"github.com/botrelay/botrelay/connectors/watson"
)

// clock is a settable time source for BotEnv.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func v2Fake(f *fakeWatson) { f.version = watson.DefaultVersionV2 }

// settings returns the settings of a bot for f: IAM when f has an API
// key, basic otherwise.
func settings(f *fakeWatson, v2 bool) map[string]any {
	s := map[string]any{}
	if v2 {
		s["url"], s["assistantId"] = f.URL, f.assistant
	} else {
		s["workspaceUrl"], s["workspaceId"] = f.URL, f.workspace
	}
	if f.apiKey != "" {
		s["apiKey"], s["tokenEndpointUrl"] = f.apiKey, f.TokenURL
	} else {
		s["username"], s["password"] = f.user, f.pass
	}
	return s
}

func newBot(t *testing.T, conn botrelay.VendorConnector, cfg map[string]any, env botrelay.BotEnv) botrelay.VendorBot {
	t.Helper()
	raw, _ := json.Marshal(cfg)
	if env.BotID == "" {
		env.BotID = "bot-1"
	}
	b, err := conn.NewBot(raw, env)
	if err != nil {
		t.Fatalf("NewBot: %v", err)
	}
	return b
}

func v1Bot(t *testing.T, f *fakeWatson, edit ...func(map[string]any)) *watson.BotV1 {
	t.Helper()
	cfg := settings(f, false)
	for _, e := range edit {
		e(cfg)
	}
	return newBot(t, watson.V1{}, cfg, botrelay.BotEnv{}).(*watson.BotV1)
}

func v2Bot(t *testing.T, f *fakeWatson, edit ...func(map[string]any)) *watson.BotV2 {
	t.Helper()
	cfg := settings(f, true)
	for _, e := range edit {
		e(cfg)
	}
	return newBot(t, watson.V2{}, cfg, botrelay.BotEnv{}).(*watson.BotV2)
}

const lpEventJSON = `{"sequence":3,"serverTimestamp":1649331017991,"event":{"type":"ContentEvent","message":"hello","contentType":"text/plain"},"conversationId":"608b2868-f686-4b89-891f-497816958cfc","dialogId":"608b2868-f686-4b89-891f-497816958cfc","metadata":[],"messageAudience":"ALL","conversationContext":{"skillId":"1234567","type":"MESSAGING","visitor":{"sharkVisitorId":"ABCDEFGHIJKLMNOPQRST"}}}`

const sdesJSON = `{"authenticatedSdes":{},"unauthenticatedSdes":{"customerInfo":{"customerInfo":{"customerStatus":"vip"}}}}`

const convID = "608b2868-f686-4b89-891f-497816958cfc"

func turn(kind botrelay.TurnKind, text string) *botrelay.Turn {
	return &botrelay.Turn{
		Kind: kind,
		Conversation: botrelay.ConversationRef{ID: convID, DialogID: convID, Type: botrelay.Messaging,
			ConsumerID: "c0ffee00-0000-4000-8000-000000000001", SkillID: 1234567, SkillName: "bot"},
		Text: text, LPEvent: json.RawMessage(lpEventJSON), SDEs: json.RawMessage(sdesJSON),
	}
}

// asV2 turns a v1 answer into the v2 answer of the same dialog: actions and
// intents move into output, context.encodedMetadata into the main skill's
// user_defined variables. Anything that is not a JSON object is kept.
func asV2(body []byte) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil || m == nil {
		return string(body)
	}
	var out map[string]json.RawMessage
	if json.Unmarshal(m["output"], &out) != nil || out == nil {
		return string(body)
	}
	if a, ok := m["actions"]; ok {
		out["actions"] = a
	}
	if in, ok := m["intents"]; ok {
		out["intents"] = in
	}
	ud := map[string]json.RawMessage{}
	var c map[string]json.RawMessage
	if json.Unmarshal(m["context"], &c) == nil {
		if em, ok := c["encodedMetadata"]; ok {
			ud["encodedMetadata"] = em
		}
	}
	v2 := map[string]any{"output": out, "context": map[string]any{"global": map[string]any{"system": map[string]any{"turn_count": 1}},
		"skills": map[string]any{"main skill": map[string]any{"user_defined": ud}}}}
	raw, _ := json.Marshal(v2)
	return string(raw)
}

func goldenTurn(name string) *botrelay.Turn {
	tr := turn(botrelay.TurnText, "hello")
	if strings.Contains(name, "chat") {
		tr.Conversation.Type = botrelay.Chat
	}
	return tr
}

// TestGoldenReplies: every documented reply shape (testdata/replies, as v1
// answers) becomes the Reply in its .golden file, through v1 and, as the
// equivalent v2 answer, through v2.
func TestGoldenReplies(t *testing.T) {
	files, _ := filepath.Glob("testdata/replies/*.json")
	if len(files) == 0 {
		t.Fatal("no golden inputs")
	}
	f1 := newFake(t)
	f2 := newFake(t, v2Fake)
	b1, b2 := v1Bot(t, f1), v2Bot(t, f2)
	for _, in := range files {
		name := strings.TrimSuffix(filepath.Base(in), ".json")
		body, err := os.ReadFile(in)
		if err != nil {
			t.Fatal(err)
		}
		want := strings.TrimSuffix(in, ".json") + ".golden"
		t.Run(name+"/v1", func(t *testing.T) {
			f1.setReplyV1(func(map[string]any) (int, string) { return 200, string(body) })
			r, err := b1.Converse(context.Background(), goldenTurn(name))
			if err != nil {
				t.Fatalf("Converse: %v", err)
			}
			r.VendorState = nil // covered by the context tests
			out, _ := json.MarshalIndent(r, "", "  ")
			golden.Check(t, want, append(out, '\n'))
		})
		t.Run(name+"/v2", func(t *testing.T) {
			if *golden.Update {
				t.Skip("golden files are written by v1")
			}
			f2.setReplyV2(func(map[string]any) (int, string) { return 200, asV2(body) })
			r, err := b2.Converse(context.Background(), goldenTurn(name))
			if err != nil {
				t.Fatalf("Converse: %v", err)
			}
			r.VendorState = nil
			out, _ := json.MarshalIndent(r, "", "  ")
			golden.Check(t, want, append(out, '\n'))
		})
	}
}

// TestGoldenInvalid: answers the parser refuses are ErrVendorBadReply with
// the Appendix A code; the .golden file holds the error.
func TestGoldenInvalid(t *testing.T) {
	files, _ := filepath.Glob("testdata/invalid/*.json")
	if len(files) == 0 {
		t.Fatal("no golden inputs")
	}
	f1 := newFake(t)
	f2 := newFake(t, v2Fake)
	b1, b2 := v1Bot(t, f1), v2Bot(t, f2)
	for _, in := range files {
		name := strings.TrimSuffix(filepath.Base(in), ".json")
		body, err := os.ReadFile(in)
		if err != nil {
			t.Fatal(err)
		}
		want := strings.TrimSuffix(in, ".json") + ".golden"
		t.Run(name+"/v1", func(t *testing.T) {
			f1.setReplyV1(func(map[string]any) (int, string) { return 200, string(body) })
			r, err := b1.Converse(context.Background(), goldenTurn(name))
			if err == nil {
				t.Fatalf("Converse accepted the answer: %+v", r)
			}
			if !errors.Is(err, botrelay.ErrVendorBadReply) || !strings.HasPrefix(golden.VendorCode(err), "aivendor.watson.") {
				t.Fatalf("err = %v; want ErrVendorBadReply with a watson code", err)
			}
			golden.Check(t, want, []byte(err.Error()+"\n"))
		})
		t.Run(name+"/v2", func(t *testing.T) {
			if *golden.Update {
				t.Skip("golden files are written by v1")
			}
			f2.setReplyV2(func(map[string]any) (int, string) { return 200, asV2(body) })
			_, err := b2.Converse(context.Background(), goldenTurn(name))
			if !errors.Is(err, botrelay.ErrVendorBadReply) {
				t.Fatalf("err = %v; want ErrVendorBadReply", err)
			}
			golden.Check(t, want, []byte(err.Error()+"\n"))
		})
	}
}
