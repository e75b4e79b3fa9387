package chatclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/auth"
	"github.com/botrelay/botrelay/hub"
	"github.com/botrelay/botrelay/sqlstore"
)

// startHub runs the real hub on a fresh SQLite store with account 1000,
// skills "bot" and "human" and a human agent "ann" (password pw) on "bot".
func startHub(t *testing.T, pw string) string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := sqlstore.Open(ctx, sqlstore.Options{Dialect: sqlstore.SQLite, DSN: filepath.Join(dir, "botrelay.db"), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	const account = botrelay.AccountID("1000")
	hash, err := auth.HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	botSkill := &botrelay.Skill{Name: "bot"}
	boot := &botrelay.Bootstrap{
		Account:           &botrelay.Account{ID: account, Name: "Test"},
		Profiles:          botrelay.BuiltInProfiles(),
		Skills:            []*botrelay.Skill{botSkill, {Name: "human"}},
		Admin:             &botrelay.User{Type: botrelay.UserHuman, LoginName: "admin", Enabled: true},
		AdminPasswordHash: hash,
	}
	if _, err := store.Bootstrap(ctx, boot); err != nil {
		t.Fatal(err)
	}
	var agentProfile botrelay.ProfileID
	for _, p := range boot.Profiles {
		if p.Role == botrelay.RoleAgent {
			agentProfile = p.ID
		}
	}
	ann := &botrelay.User{
		AccountID: account, Type: botrelay.UserHuman, LoginName: "ann", Nickname: "Ann",
		ProfileID: agentProfile, MessagingSlots: 5, SkillIDs: []botrelay.SkillID{botSkill.ID}, Enabled: true,
	}
	if err := store.CreateUser(ctx, ann); err != nil {
		t.Fatal(err)
	}
	if err := store.SetPasswordHash(ctx, ann.ID, hash); err != nil {
		t.Fatal(err)
	}
	h, err := hub.New(hub.Options{Store: store, Account: account, DataDir: dir, Logger: quiet, SigningKey: bytes.Repeat([]byte("k"), 32)})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = h.Run(runCtx) }()
	mux := http.NewServeMux()
	h.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		_ = h.Close()
		srv.Close()
		stop()
		<-done
	})
	return srv.URL
}

// testAgent is a human agent on the agent protocol, as node-agent-sdk speaks it.
type testAgent struct {
	t      *testing.T
	ctx    context.Context
	conn   *websocket.Conn
	legacy string
	pid    string
	next   int
}

func loginAgent(t *testing.T, ctx context.Context, base, user, pw string) *testAgent {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": user, "password": pw})
	resp, err := http.Post(base+"/api/account/1000/login?v=1.3", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var login struct {
		Bearer string
		Config struct {
			UserID  json.Number `json:"userId"`
			UserPid string      `json:"userPid"`
		}
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&login); err != nil {
		t.Fatal(err)
	}
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws_api/account/1000/messaging/brand/"+login.Bearer+"?v=2.1", nil)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetReadLimit(4 << 20)
	t.Cleanup(func() { conn.CloseNow() })
	a := &testAgent{t: t, ctx: ctx, conn: conn, legacy: "1000." + login.Config.UserID.String(), pid: login.Config.UserPid}
	a.call(".ams.routing.SetAgentState", map[string]any{"availability": "ONLINE", "channels": []string{"MESSAGING"}, "agentUserId": a.pid})
	a.call(".ams.routing.SubscribeRoutingTasks", map[string]any{})
	a.call(".ams.aam.SubscribeExConversations", map[string]any{"agentIds": []string{a.legacy}, "convState": []string{"OPEN"}})
	return a
}

// call sends a request and waits for its response, skipping notifications.
func (a *testAgent) call(typ string, body any) map[string]any {
	a.t.Helper()
	a.next++
	id := strconv.Itoa(a.next)
	if err := wsjson.Write(a.ctx, a.conn, map[string]any{"kind": "req", "id": id, "type": typ, "body": body}); err != nil {
		a.t.Fatal(err)
	}
	f := a.waitFor(typ+" response", func(f map[string]any) bool { return f["kind"] == "resp" && f["reqId"] == id })
	if code, _ := f["code"].(float64); code >= 400 {
		a.t.Fatalf("%s: %v", typ, f)
	}
	return f
}

// waitFor reads frames until match accepts one (the test context bounds it).
func (a *testAgent) waitFor(what string, match func(map[string]any) bool) map[string]any {
	a.t.Helper()
	for {
		var f map[string]any
		if err := wsjson.Read(a.ctx, a.conn, &f); err != nil {
			a.t.Fatalf("agent waiting for %s: %v", what, err)
		}
		if match(f) {
			return f
		}
	}
}

func field(v any, path ...string) any {
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	return v
}

// TestRunAgainstHub runs the client against the real hub with a human agent
// on the agent protocol: ring, messages both ways, quick replies, close.
func TestRunAgainstHub(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	base := startHub(t, "Secret-pass-42")
	agent := loginAgent(t, ctx, base, "ann", "Secret-pass-42")

	in, inW := io.Pipe()
	defer inW.Close()
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Options{Server: base, In: in, Out: &out, Idle: time.Minute}) }()

	// The client asks for a conversation at once; the agent gets the ring.
	ring := agent.waitFor("ring", func(f map[string]any) bool {
		if f["type"] != ".ams.routing.RoutingTaskNotification" {
			return false
		}
		changes, _ := field(f, "body", "changes").([]any)
		return len(changes) > 0 && field(changes[0], "type") == "UPSERT"
	})
	rc := field(ring, "body", "changes").([]any)[0]
	convID, _ := field(rc, "result", "conversationId").(string)
	rings, _ := field(rc, "result", "ringsDetails").([]any)
	if convID == "" || len(rings) == 0 {
		t.Fatalf("bad ring: %v", ring)
	}
	agent.call(".ams.routing.UpdateRingState", map[string]any{"ringId": field(rings[0], "ringId"), "ringState": "ACCEPTED"})

	if _, err := fmt.Fprintln(inW, "hello from the terminal"); err != nil {
		t.Fatal(err)
	}
	agent.waitFor("consumer text", func(f map[string]any) bool {
		return f["type"] == ".ams.ms.OnlineEventDistribution" && field(f, "body", "event", "message") == "hello from the terminal"
	})
	agent.call(".ams.ms.PublishEvent", map[string]any{"dialogId": convID, "event": map[string]any{
		"type": "ContentEvent", "contentType": "text/plain", "message": "Hi, Ann here. Ok?",
		"quickReplies": map[string]any{"type": "quickReplies", "itemsPerRow": 8, "replies": []any{
			map[string]any{"type": "button", "title": "Yes", "click": map[string]any{"actions": []any{map[string]any{"type": "publishText", "text": "yes"}}}},
			map[string]any{"type": "button", "title": "No", "click": map[string]any{"actions": []any{map[string]any{"type": "publishText", "text": "no"}}}},
		}},
	}})
	agent.call(".ams.ms.PublishEvent", map[string]any{"dialogId": convID, "messageAudience": "AGENTS_AND_MANAGERS",
		"event": map[string]any{"type": "ContentEvent", "contentType": "text/plain", "message": "private note"}})
	agent.call(".ams.ms.PublishEvent", map[string]any{"dialogId": convID, "event": map[string]any{
		"type": "RichContentEvent", "content": map[string]any{"type": "vertical", "elements": []any{
			map[string]any{"type": "text", "text": "Card"},
			map[string]any{"type": "button", "title": "Go", "click": map[string]any{"actions": []any{map[string]any{"type": "publishText", "text": "go"}}}},
		}},
	}})
	out.waitFor(t, "agent: Card / [button: Go]")
	agent.call(".ams.cm.UpdateConversationField", map[string]any{"conversationId": convID, "conversationField": []any{
		map[string]any{"field": "ConversationStateField", "conversationState": "CLOSE"},
	}})

	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-ctx.Done():
		t.Fatalf("Run did not return after the close; output:\n%s", out.String())
	}
	want := "agent: Hi, Ann here. Ok? [quick replies: Yes | No]\nagent: Card / [button: Go]\nsystem: conversation closed\n"
	if got := out.String(); got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
}
