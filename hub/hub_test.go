package hub_test

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
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/auth"
	"github.com/botrelay/botrelay/hub"
	"github.com/botrelay/botrelay/sqlstore"
)

const acct botrelay.AccountID = "1000"

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var signingKey = bytes.Repeat([]byte{7}, 32)

// fixture is a seeded store with agents on skills "bot" and "human".
type fixture struct {
	store  botrelay.Store
	skills map[string]*botrelay.Skill
	users  map[string]*botrelay.User
	keys   map[string]auth.KeySet
}

const password = "correct-horse-battery-9"

// seed creates the account, skills bot, human and survey (with PostSurvey),
// human agents alice (bot), bob (human), a manager mia, and a bot user
// botty (bot) with an API key.
func seed(t testing.TB, path string) *fixture {
	t.Helper()
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, sqlstore.Options{Dialect: sqlstore.SQLite, DSN: path, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: s, skills: map[string]*botrelay.Skill{}, users: map[string]*botrelay.User{}, keys: map[string]auth.KeySet{}}
	b := &botrelay.Bootstrap{
		Account:  &botrelay.Account{ID: acct, Name: "Test"},
		Profiles: botrelay.BuiltInProfiles(),
		Skills: []*botrelay.Skill{{Name: botrelay.SkillNameBot}, {Name: botrelay.SkillNameHuman},
			{Name: "survey", PostSurvey: true}},
	}
	if _, err := s.Bootstrap(ctx, b); err != nil {
		t.Fatal(err)
	}
	for _, sk := range b.Skills {
		f.skills[sk.Name] = sk
	}
	profs := map[string]botrelay.ProfileID{}
	for _, p := range b.Profiles {
		profs[string(p.Role)] = p.ID
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	mk := func(login string, typ botrelay.UserType, role botrelay.Role, skills ...string) {
		u := &botrelay.User{AccountID: acct, Type: typ, LoginName: login, ProfileID: profs[string(role)],
			MessagingSlots: 5, Enabled: true}
		for _, n := range skills {
			u.SkillIDs = append(u.SkillIDs, f.skills[n].ID)
		}
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		if err := s.SetPasswordHash(ctx, u.ID, hash); err != nil {
			t.Fatal(err)
		}
		ks, _ := auth.NewKeySet()
		if err := s.CreateAPIKey(ctx, &botrelay.APIKey{AppKey: ks.AppKey, UserID: u.ID, AccessToken: ks.AccessToken,
			SecretHash: auth.HashSecret(ks.Secret), AccessTokenSecretHash: auth.HashSecret(ks.AccessTokenSecret)}); err != nil {
			t.Fatal(err)
		}
		f.users[login], f.keys[login] = u, ks
	}
	mk("alice", botrelay.UserHuman, botrelay.RoleAgent, "bot", "survey")
	mk("bob", botrelay.UserHuman, botrelay.RoleAgent, "human")
	mk("mia", botrelay.UserHuman, botrelay.RoleAgentManager)
	mk("botty", botrelay.UserBot, botrelay.RoleAgent, "bot")
	mk("viewer", botrelay.UserHuman, botrelay.RoleCampaignManager) // no conversation:handle
	// surveyor is the user of a survey bot of skill survey.
	mk("surveyor", botrelay.UserBot, botrelay.RoleAgent)
	if err := s.CreateBot(ctx, &botrelay.Bot{AccountID: acct, Name: "Surveys", UserID: f.users["surveyor"].ID, Vendor: "function",
		Type: botrelay.BotSurvey, Settings: botrelay.BotSettings{Survey: botrelay.SurveySettings{Skills: []string{"survey"}}}}); err != nil {
		t.Fatal(err)
	}
	return f
}

// startHub runs a hub on a TLS test server.
func startHub(t *testing.T, f *fixture, ringTimeout time.Duration) (*httptest.Server, *hub.Hub) {
	t.Helper()
	return startHubWith(t, f, ringTimeout, nil)
}

// startHubWith is startHub with a chance to change the hub's options.
func startHubWith(t testing.TB, f *fixture, ringTimeout time.Duration, edit func(*hub.Options)) (*httptest.Server, *hub.Hub) {
	t.Helper()
	o := hub.Options{Store: f.store, Account: acct, DataDir: t.TempDir(), SigningKey: signingKey,
		Logger: quiet, RingTimeout: ringTimeout}
	if edit != nil {
		edit(&o)
	}
	h, err := hub.New(o)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Routes(mux)
	srv := httptest.NewUnstartedServer(mux)
	srv.StartTLS()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = h.Run(ctx); close(done) }()
	t.Cleanup(func() {
		h.Close()
		cancel()
		<-done
		srv.Close()
		f.store.Close()
	})
	return srv, h
}

var hubs sync.Map // *httptest.Server -> *hub.Hub

func newFixtureHub(t *testing.T, ringTimeout time.Duration) (*fixture, *httptest.Server) {
	f := seed(t, filepath.Join(t.TempDir(), "botrelay.db"))
	srv, h := startHub(t, f, ringTimeout)
	hubs.Store(srv, h)
	t.Cleanup(func() { hubs.Delete(srv) })
	return f, srv
}

func hubOf(t *testing.T, srv *httptest.Server) *hub.Hub {
	h, ok := hubs.Load(srv)
	if !ok {
		t.Fatal("no hub for the server")
	}
	return h.(*hub.Hub)
}

// postJSON posts body and decodes the answer into out.
func postJSON(t *testing.T, c *http.Client, url string, header http.Header, body, out any) int {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

func login(t *testing.T, base string, c *http.Client, user string) string {
	t.Helper()
	var out struct {
		Bearer string `json:"bearer"`
	}
	if code := postJSON(t, c, base+"/api/account/1000/login?v=1.3", nil, map[string]string{"username": user, "password": password}, &out); code != 200 || out.Bearer == "" {
		t.Fatalf("login %s: %d", user, code)
	}
	return out.Bearer
}

// client is a websocket peer speaking the frame protocol.
type client struct {
	t      *testing.T
	ws     *websocket.Conn
	mu     sync.Mutex
	frames []map[string]any
	signal chan struct{}
	closed chan struct{}
	status websocket.StatusCode
	reason string
	nextID int
	// usedRings are rings acceptRing already answered (guarded by mu).
	usedRings map[string]bool
}

func dial(t *testing.T, httpClient *http.Client, url string, header http.Header) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: httpClient, HTTPHeader: header})
	if err != nil {
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (HTTP %d)", url, err, code)
	}
	ws.SetReadLimit(8 << 20)
	c := &client{t: t, ws: ws, signal: make(chan struct{}, 1), closed: make(chan struct{}), usedRings: map[string]bool{}}
	go func() {
		defer close(c.closed)
		for {
			_, data, err := ws.Read(context.Background())
			if err != nil {
				c.mu.Lock()
				c.status = websocket.CloseStatus(err)
				var ce websocket.CloseError
				if ok := asClose(err, &ce); ok {
					c.reason = ce.Reason
				}
				c.mu.Unlock()
				return
			}
			var m map[string]any
			if json.Unmarshal(data, &m) != nil {
				continue
			}
			c.mu.Lock()
			c.frames = append(c.frames, m)
			c.mu.Unlock()
			select {
			case c.signal <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() { ws.Close(websocket.StatusNormalClosure, "") })
	return c
}

func asClose(err error, ce *websocket.CloseError) bool {
	for e := err; e != nil; {
		if v, ok := e.(websocket.CloseError); ok {
			*ce = v
			return true
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		e = u.Unwrap()
	}
	return false
}

// waitFor waits for a frame matching pred and returns it (frames are not
// consumed, so several waits may see the same frame).
func (c *client) waitFor(what string, pred func(m map[string]any) bool) map[string]any {
	c.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		c.mu.Lock()
		for _, m := range c.frames {
			if pred(m) {
				c.mu.Unlock()
				return m
			}
		}
		c.mu.Unlock()
		select {
		case <-c.signal:
		case <-c.closed:
			c.mu.Lock()
			for _, m := range c.frames {
				if pred(m) {
					c.mu.Unlock()
					return m
				}
			}
			c.mu.Unlock()
			c.t.Fatalf("connection closed (%d %s) while waiting for %s", c.status, c.reason, what)
		case <-deadline:
			c.t.Fatalf("timed out waiting for %s; frames: %s", what, c.dump())
		}
	}
}

func (c *client) dump() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, _ := json.Marshal(c.frames)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func (c *client) sendRaw(s string) {
	c.t.Helper()
	if err := c.ws.Write(context.Background(), websocket.MessageText, []byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

// call sends a request and returns the response's code and body.
func (c *client) call(typ string, body any, extra ...map[string]any) (int, any) {
	c.t.Helper()
	c.mu.Lock()
	c.nextID++
	id := fmt.Sprintf("r%d", c.nextID)
	c.mu.Unlock()
	req := map[string]any{"kind": "req", "id": id, "type": typ, "body": body}
	for _, e := range extra {
		for k, v := range e {
			req[k] = v
		}
	}
	b, _ := json.Marshal(req)
	c.sendRaw(string(b))
	m := c.waitFor("response to "+typ, func(m map[string]any) bool { return m["kind"] == "resp" && m["reqId"] == id })
	return int(m["code"].(float64)), m["body"]
}

func (c *client) mustCall(typ string, body any, extra ...map[string]any) any {
	c.t.Helper()
	code, b := c.call(typ, body, extra...)
	if code != 200 {
		c.t.Fatalf("%s: %d %v", typ, code, b)
	}
	return b
}

func get(m any, path ...string) any {
	for _, p := range path {
		mm, ok := m.(map[string]any)
		if !ok {
			return nil
		}
		m = mm[p]
	}
	return m
}

// agentConn logs in and connects an agent, ONLINE and subscribed to routing
// tasks and its conversations.
func agentConn(t *testing.T, srv *httptest.Server, user string) *client {
	t.Helper()
	bearer := login(t, srv.URL, srv.Client(), user)
	c := dial(t, srv.Client(), wsURL(srv)+"/ws_api/account/1000/messaging/brand/"+bearer+"?v=2.1", nil)
	c.mustCall(".ams.routing.SetAgentState", map[string]any{"availability": "ONLINE"})
	c.mustCall(".ams.routing.SubscribeRoutingTasks", map[string]any{})
	c.mustCall(".ams.aam.SubscribeExConversations", map[string]any{"convState": []string{"OPEN", "CLOSE"}})
	return c
}

func wsURL(srv *httptest.Server) string { return "wss" + strings.TrimPrefix(srv.URL, "https") }

func consumerConn(t *testing.T, srv *httptest.Server) (*client, string) {
	t.Helper()
	var tok struct {
		Token      string `json:"token"`
		ConsumerID string `json:"consumerId"`
	}
	if code := postJSON(t, srv.Client(), srv.URL+"/api/account/1000/consumer/token", nil, map[string]string{}, &tok); code != 200 {
		t.Fatalf("consumer token: %d", code)
	}
	c := dial(t, srv.Client(), wsURL(srv)+"/ws_api/account/1000/messaging/consumer?v=3&token="+tok.Token, nil)
	c.mustCall("cqm.SubscribeExConversations", map[string]any{"brandId": "1000", "convState": []string{"OPEN", "CLOSE"}})
	return c, tok.ConsumerID
}

// acceptRing waits for a ring on conv and accepts it.
func acceptRing(t *testing.T, a *client, conv string) {
	t.Helper()
	m := a.waitFor("ring for "+conv, func(m map[string]any) bool {
		if m["type"] != ".ams.routing.RoutingTaskNotification" {
			return false
		}
		ch := get(m, "body", "changes").([]any)[0]
		rd := get(ch, "result", "ringsDetails").([]any)[0].(map[string]any)
		return get(ch, "result", "conversationId") == conv && get(ch, "type") == "UPSERT" &&
			rd["ringState"] == "WAITING" && !a.usedRings[rd["ringId"].(string)]
	})
	ring := get(get(m, "body", "changes").([]any)[0], "result", "ringsDetails").([]any)[0].(map[string]any)["ringId"].(string)
	a.mu.Lock()
	a.usedRings[ring] = true
	a.mu.Unlock()
	a.mustCall(".ams.routing.UpdateRingState", map[string]any{"ringId": ring, "ringState": "ACCEPTED"})
}

// hasText reports whether a frame carries a message event with the text.
func hasText(typ, text string) func(m map[string]any) bool {
	return func(m map[string]any) bool {
		if m["type"] != typ {
			return false
		}
		b, _ := json.Marshal(m["body"])
		return strings.Contains(string(b), `"message":"`+text+`"`)
	}
}

func TestConversationLifecycle(t *testing.T) {
	f, srv := newFixtureHub(t, 5*time.Second)
	alice := agentConn(t, srv, "alice")
	bob := agentConn(t, srv, "bob")
	cons, consumerID := consumerConn(t, srv)

	conv := cons.mustCall("cm.ConsumerRequestConversation", map[string]any{"brandId": "1000", "channelType": "MESSAGING"}).(map[string]any)["conversationId"].(string)
	// Idempotent while open.
	again := cons.mustCall("cm.ConsumerRequestConversation", map[string]any{}).(map[string]any)["conversationId"]
	if again != conv {
		t.Fatalf("second request = %v, want %s", again, conv)
	}
	cons.mustCall("ms.SubscribeMessagingEvents", map[string]any{"dialogId": conv, "conversationId": conv, "fromSeq": 0})
	seq := cons.mustCall("ms.PublishEvent", map[string]any{"dialogId": conv, "event": map[string]any{"type": "ContentEvent", "contentType": "text/plain", "message": "hello"}})
	if get(seq, "sequence") != float64(1) {
		t.Fatalf("first sequence = %v", seq)
	}

	acceptRing(t, alice, conv)
	up := alice.waitFor("assigned UPSERT", func(m map[string]any) bool {
		if m["type"] != ".ams.aam.ExConversationChangeNotification" {
			return false
		}
		b, _ := json.Marshal(m["body"])
		return strings.Contains(string(b), `"ASSIGNED_AGENT":["1000.`+fmt.Sprint(f.users["alice"].ID)+`"]`)
	})
	details := get(get(up, "body", "changes").([]any)[0], "result", "conversationDetails")
	if get(details, "participantsPId", "ASSIGNED_AGENT").([]any)[0] != f.users["alice"].PID ||
		get(details, "participantsPId", "CONSUMER").([]any)[0] != consumerID {
		t.Fatalf("participantsPId = %v", get(details, "participantsPId"))
	}
	if len(get(details, "dialogs").([]any)[0].(map[string]any)["participantsDetails"].([]any)) != 2 {
		t.Fatalf("dialogs = %v", get(details, "dialogs"))
	}

	// History, then live events.
	hist := alice.mustCall(".ams.ms.QueryMessages", map[string]any{"dialogId": conv, "newerThanSequence": 0}).([]any)
	if len(hist) != 1 || get(hist[0], "event", "message") != "hello" || get(hist[0], "originatorId") != consumerID {
		t.Fatalf("QueryMessages = %v", hist)
	}
	cons.mustCall("ms.PublishEvent", map[string]any{"dialogId": conv, "event": map[string]any{"type": "ContentEvent", "contentType": "text/plain", "message": "are you there"}})
	alice.waitFor("consumer text", hasText(".ams.ms.OnlineEventDistribution", "are you there"))
	cons.mustCall("ms.PublishEvent", map[string]any{"dialogId": conv, "event": map[string]any{"type": "ChatStateEvent", "chatState": "COMPOSING"}})
	alice.waitFor("typing", func(m map[string]any) bool { return get(m, "body", "event", "chatState") == "COMPOSING" })

	// Agent text with quick replies and metadata, rich content, a private note.
	alice.mustCall(".ams.ms.PublishEvent", map[string]any{"dialogId": conv, "event": map[string]any{"type": "ContentEvent",
		"contentType": "text/plain", "message": "hi from alice", "quickReplies": map[string]any{"type": "quickReplies", "replies": []any{}}}},
		map[string]any{"metadata": []any{map[string]any{"type": "ExternalId", "id": "x1"}}})
	alice.mustCall(".ams.ms.PublishEvent", map[string]any{"dialogId": conv, "event": map[string]any{"type": "RichContentEvent",
		"content": map[string]any{"type": "vertical", "elements": []any{map[string]any{"type": "text", "text": "card"}}}}})
	alice.mustCall(".ams.ms.PublishEvent", map[string]any{"dialogId": conv, "messageAudience": "AGENTS_AND_MANAGERS",
		"event": map[string]any{"type": "ContentEvent", "contentType": "text/plain", "message": "private note"}})
	m := cons.waitFor("agent text", hasText("ms.MessagingEventNotification", "hi from alice"))
	ch := get(m, "body", "changes").([]any)[0]
	if get(ch, "originatorMetadata", "role") != "ASSIGNED_AGENT" || get(ch, "originatorMetadata", "name") != "alice" ||
		get(ch, "metadata").([]any)[0].(map[string]any)["id"] != "x1" {
		t.Fatalf("consumer event = %v", ch)
	}
	cons.waitFor("rich content", func(m map[string]any) bool {
		b, _ := json.Marshal(m["body"])
		return m["type"] == "ms.MessagingEventNotification" && strings.Contains(string(b), "RichContentEvent")
	})
	alice.waitFor("private echo", hasText(".ams.ms.OnlineEventDistribution", "private note"))
	consHist := cons.mustCall("ms.QueryMessages", map[string]any{"dialogId": conv, "newerThanSequence": 0}).([]any)
	for _, e := range consHist {
		if get(e, "event", "message") == "private note" {
			t.Fatal("private note reached the consumer through QueryMessages")
		}
	}
	if len(consHist) != 4 {
		t.Fatalf("consumer history has %d events, want 4", len(consHist))
	}

	// Transfer to skill human: bob is rung and accepts.
	alice.mustCall(".ams.cm.UpdateConversationField", map[string]any{"conversationId": conv, "conversationField": []any{
		map[string]any{"field": "ParticipantsChange", "type": "REMOVE", "role": "ASSIGNED_AGENT"},
		map[string]any{"field": "Skill", "type": "UPDATE", "skill": fmt.Sprint(f.skills["human"].ID)},
	}}, map[string]any{"metadata": []any{map[string]any{"type": "ActionReason", "reason": "escalated_by_bot"}}})
	alice.waitFor("DELETE after transfer", func(m map[string]any) bool {
		if m["type"] != ".ams.aam.ExConversationChangeNotification" {
			return false
		}
		return get(get(m, "body", "changes").([]any)[0], "type") == "DELETE"
	})
	acceptRing(t, bob, conv)
	if code, _ := alice.call(".ams.ms.PublishEvent", map[string]any{"dialogId": conv, "event": map[string]any{"type": "ContentEvent", "message": "late"}}); code != 403 {
		t.Fatalf("publish after transfer = %d, want 403", code)
	}
	bob.mustCall(".ams.ms.PublishEvent", map[string]any{"dialogId": conv, "event": map[string]any{"type": "ContentEvent", "contentType": "text/plain", "message": "bob here"}})
	cons.waitFor("bob's text", hasText("ms.MessagingEventNotification", "bob here"))

	// TTR, then close.
	bob.mustCall(".ams.cm.UpdateConversationField", map[string]any{"conversationId": conv, "conversationField": []any{
		map[string]any{"field": "TTRField", "ttrType": "URGENT"}}})
	bob.mustCall(".ams.cm.UpdateConversationField", map[string]any{"conversationId": conv, "conversationField": []any{
		map[string]any{"field": "ConversationStateField", "conversationState": "CLOSE"}}})
	cons.waitFor("closed", func(m map[string]any) bool {
		if m["type"] != "cqm.ExConversationChangeNotification" {
			return false
		}
		return get(get(m, "body", "changes").([]any)[0], "result", "conversationDetails", "state") == "CLOSE"
	})
	stored, err := f.store.Conversation(context.Background(), botrelay.ConversationID(conv))
	if err != nil || stored.State != botrelay.ConversationClose || stored.TTR != botrelay.TTRUrgent || stored.CloseReason != botrelay.CloseByAgent {
		t.Fatalf("stored conversation = %+v, %v", stored, err)
	}
	// A new request opens a new conversation.
	next := cons.mustCall("cm.ConsumerRequestConversation", map[string]any{}).(map[string]any)["conversationId"]
	if next == conv {
		t.Fatal("a closed conversation was returned again")
	}
}

func TestPostSurveyAndSuggest(t *testing.T) {
	f, srv := newFixtureHub(t, 5*time.Second)
	alice := agentConn(t, srv, "alice")
	bob := agentConn(t, srv, "bob")
	cons, _ := consumerConn(t, srv)
	conv := cons.mustCall("cm.ConsumerRequestConversation", map[string]any{"skill": "survey"}).(map[string]any)["conversationId"].(string)
	acceptRing(t, alice, conv)

	// Transfer to bob by SUGGEST: bob is rung first even without the skill.
	alice.mustCall(".ams.cm.UpdateConversationField", map[string]any{"conversationId": conv, "conversationField": []any{
		map[string]any{"field": "ParticipantsChange", "type": "REMOVE", "role": "ASSIGNED_AGENT"},
		map[string]any{"field": "ParticipantsChange", "type": "SUGGEST", "role": "ASSIGNED_AGENT", "userId": bob.t.Name()[:0] + "1000." + fmt.Sprint(f.users["bob"].ID)},
	}})
	acceptRing(t, bob, conv)

	// Closing the main dialog on a survey skill opens a survey dialog,
	// removes bob, and rings the survey bot of the skill (not alice, who
	// has the skill too).
	surveyor := agentConn(t, srv, "surveyor")
	bob.mustCall(".ams.cm.UpdateConversationField", map[string]any{"conversationId": conv, "conversationField": []any{
		map[string]any{"field": "DialogChange", "type": "UPDATE", "dialog": map[string]any{"dialogId": conv, "state": "CLOSE"}}}})
	m := cons.waitFor("survey dialog", func(m map[string]any) bool {
		b, _ := json.Marshal(m["body"])
		return m["type"] == "cqm.ExConversationChangeNotification" && strings.Contains(string(b), `"dialogType":"POST_SURVEY"`)
	})
	dialogs := get(get(m, "body", "changes").([]any)[0], "result", "conversationDetails", "dialogs").([]any)
	survey := dialogs[1].(map[string]any)["dialogId"].(string)
	if get(get(m, "body", "changes").([]any)[0], "result", "conversationDetails", "state") != "OPEN" {
		t.Fatal("conversation closed instead of opening a survey")
	}
	acceptRing(t, surveyor, conv)
	seq := surveyor.mustCall(".ams.ms.PublishEvent", map[string]any{"dialogId": survey, "event": map[string]any{"type": "ContentEvent", "contentType": "text/plain", "message": "rate us"}})
	if get(seq, "sequence") != float64(1) {
		t.Fatalf("survey dialog sequence = %v", seq)
	}
	if code, _ := bob.call(".ams.ms.PublishEvent", map[string]any{"dialogId": survey, "event": map[string]any{"type": "ContentEvent", "message": "x"}}); code != 403 {
		t.Fatalf("publish by the removed agent = %d, want 403", code)
	}
	if code, _ := surveyor.call(".ams.ms.PublishEvent", map[string]any{"dialogId": conv, "event": map[string]any{"type": "ContentEvent", "message": "x"}}); code != 409 {
		t.Fatalf("publish on closed main dialog = %d, want 409", code)
	}
	cons.mustCall("ms.PublishEvent", map[string]any{"dialogId": survey, "event": map[string]any{"type": "ContentEvent", "contentType": "text/plain", "message": "5"}})
	surveyor.waitFor("the consumer's answer", hasText(".ams.ms.OnlineEventDistribution", "5"))
	surveyor.mustCall(".ams.cm.UpdateConversationField", map[string]any{"conversationId": conv, "conversationField": []any{
		map[string]any{"field": "DialogChange", "type": "UPDATE", "dialog": map[string]any{"dialogId": survey, "state": "CLOSE"}}}})
	cons.waitFor("closed", func(m map[string]any) bool {
		return m["type"] == "cqm.ExConversationChangeNotification" &&
			get(get(m, "body", "changes").([]any)[0], "result", "conversationDetails", "state") == "CLOSE"
	})
	if n := ringsFor(alice, conv); n != 1 {
		t.Errorf("alice was rung %d times for the conversation, want once (not for its survey)", n)
	}

	// The consumer closing goes on to the survey too.
	cons2, _ := consumerConn(t, srv)
	conv2 := cons2.mustCall("cm.ConsumerRequestConversation", map[string]any{"skill": "survey"}).(map[string]any)["conversationId"].(string)
	acceptRing(t, alice, conv2)
	cons2.mustCall("cm.UpdateConversationField", map[string]any{"conversationId": conv2, "conversationField": []any{
		map[string]any{"field": "ConversationStateField", "conversationState": "CLOSE"}}})
	acceptRing(t, surveyor, conv2)
	if c, err := f.store.Conversation(context.Background(), botrelay.ConversationID(conv2)); err != nil ||
		c.State != botrelay.ConversationOpen || c.OpenDialog().Type != botrelay.DialogPostSurvey || c.AssignedAgent() != f.users["surveyor"].ID {
		t.Fatalf("after the consumer closed: %+v (%v)", c, err)
	}
}

// ringsFor counts the rings (UPSERT WAITING) a conversation gave an agent.
func ringsFor(a *client, conv string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, m := range a.frames {
		if m["type"] != ".ams.routing.RoutingTaskNotification" {
			continue
		}
		ch := get(m, "body", "changes").([]any)[0]
		rd := get(ch, "result", "ringsDetails").([]any)[0].(map[string]any)
		if get(ch, "result", "conversationId") == conv && get(ch, "type") == "UPSERT" && rd["ringState"] == "WAITING" {
			n++
		}
	}
	return n
}

func TestRingExpiresAndMovesOn(t *testing.T) {
	f, srv := newFixtureHub(t, 300*time.Millisecond)
	_ = f
	alice := agentConn(t, srv, "alice")
	cons, _ := consumerConn(t, srv)
	conv := cons.mustCall("cm.ConsumerRequestConversation", map[string]any{}).(map[string]any)["conversationId"].(string)
	alice.waitFor("expired ring", func(m map[string]any) bool {
		b, _ := json.Marshal(m["body"])
		return m["type"] == ".ams.routing.RoutingTaskNotification" && strings.Contains(string(b), `"ringState":"EXPIRED"`)
	})
	botty := agentConn(t, srv, "botty")
	acceptRing(t, botty, conv)
}

func TestSecondLoginClosesFirst(t *testing.T) {
	_, srv := newFixtureHub(t, 5*time.Second)
	first := agentConn(t, srv, "alice")
	second := agentConn(t, srv, "alice")
	select {
	case <-first.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("first websocket still open")
	}
	if first.status != hub.CloseSessionReplaced {
		t.Fatalf("first closed with %d %q, want %d", first.status, first.reason, hub.CloseSessionReplaced)
	}
	second.mustCall(".GetClock", nil)
}

func TestErrorsKeepConnections(t *testing.T) {
	_, srv := newFixtureHub(t, 5*time.Second)
	alice := agentConn(t, srv, "alice")
	bob := agentConn(t, srv, "bob")
	cons, _ := consumerConn(t, srv)
	other, _ := consumerConn(t, srv)
	conv := cons.mustCall("cm.ConsumerRequestConversation", map[string]any{}).(map[string]any)["conversationId"].(string)

	wantErr := func(c *client, what string, code int, send func() (int, any)) {
		t.Helper()
		got, body := send()
		if got != code || get(body, "error", "message") == "" || get(body, "error", "code") == "" {
			t.Fatalf("%s: %d %v, want %d with an error body", what, got, body, code)
		}
	}
	errorsSeen := func() int { // called by waitFor with alice.mu held
		n := 0
		for _, m := range alice.frames {
			if m["kind"] == "resp" && m["code"] == float64(400) && get(m, "body", "error", "code") == "invalid" && get(m, "body", "error", "message") != "" {
				n++
			}
		}
		return n
	}
	for i, raw := range []string{`not json`, `[1]`, `{"kind":"req"}`, `{"kind":"req","id":"x1","type":5}`, `{"kind":"req","id":"x2","type":"a","body":"s"}`, "\xff\xfe"} {
		alice.sendRaw(raw)
		alice.waitFor(fmt.Sprintf("error for frame %d", i), func(map[string]any) bool { return errorsSeen() > i })
	}
	alice.waitFor("error naming the request id", func(m map[string]any) bool {
		return m["kind"] == "resp" && m["reqId"] == "x2" && m["code"] == float64(400)
	})
	wantErr(alice, "unknown type", 400, func() (int, any) { return alice.call(".ams.nope.Nothing", map[string]any{}) })
	wantErr(cons, "unknown consumer type", 400, func() (int, any) { return cons.call("cm.Nothing", map[string]any{}) })
	wantErr(bob, "publish to a conversation bob is not in", 403, func() (int, any) {
		return bob.call(".ams.ms.PublishEvent", map[string]any{"dialogId": conv, "event": map[string]any{"type": "ContentEvent", "message": "x"}})
	})
	wantErr(bob, "query a conversation bob is not in", 403, func() (int, any) {
		return bob.call(".ams.ms.QueryMessages", map[string]any{"dialogId": conv, "newerThanSequence": 0})
	})
	wantErr(other, "publish to another consumer's conversation", 403, func() (int, any) {
		return other.call("ms.PublishEvent", map[string]any{"dialogId": conv, "event": map[string]any{"type": "ContentEvent", "message": "x"}})
	})
	wantErr(other, "close another consumer's conversation", 403, func() (int, any) {
		return other.call("cm.UpdateConversationField", map[string]any{"conversationId": conv, "conversationField": []any{
			map[string]any{"field": "ConversationStateField", "conversationState": "CLOSE"}}})
	})
	wantErr(alice, "unknown dialog", 404, func() (int, any) {
		return alice.call(".ams.ms.QueryMessages", map[string]any{"dialogId": "nope", "newerThanSequence": 0})
	})
	wantErr(alice, "bad ring", 404, func() (int, any) {
		return alice.call(".ams.routing.UpdateRingState", map[string]any{"ringId": "nope", "ringState": "ACCEPTED"})
	})
	wantErr(cons, "bad event", 400, func() (int, any) {
		return cons.call("ms.PublishEvent", map[string]any{"dialogId": conv, "event": map[string]any{"type": "Bogus"}})
	})
	wantErr(cons, "private from consumer", 403, func() (int, any) {
		return cons.call("ms.PublishEvent", map[string]any{"dialogId": conv, "messageAudience": "AGENTS_AND_MANAGERS",
			"event": map[string]any{"type": "ContentEvent", "message": "x"}})
	})

	// Bad tokens are refused before the upgrade with a JSON error.
	for name, url := range map[string]string{
		"agent bearer":   srv.URL + "/ws_api/account/1000/messaging/brand/not-a-bearer?v=2.1",
		"consumer token": srv.URL + "/ws_api/account/1000/messaging/consumer?v=3&token=abc.def",
		"no token":       srv.URL + "/ws_api/account/1000/messaging/consumer?v=3",
	} {
		resp, err := srv.Client().Get(url)
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != 401 || get(body, "error", "code") != "unauthorized" {
			t.Fatalf("%s: %d %v", name, resp.StatusCode, body)
		}
	}
	var lerr map[string]any
	if code := postJSON(t, srv.Client(), srv.URL+"/api/account/1000/login?v=1.3", nil, map[string]string{"username": "alice", "password": "wrong"}, &lerr); code != 401 || lerr["error"] == nil || lerr["internalCode"] == nil {
		t.Fatalf("bad password login: %d %v", code, lerr)
	}
	if code := postJSON(t, srv.Client(), srv.URL+"/api/account/1000/login?v=1.3", nil, map[string]string{"username": "viewer", "password": password}, &lerr); code != 403 {
		t.Fatalf("login without conversation:handle: %d %v", code, lerr)
	}

	// Every connection still works.
	for _, c := range []*client{alice, bob, cons, other} {
		c.mustCall(".GetClock", nil)
	}
	cons.mustCall("ms.PublishEvent", map[string]any{"dialogId": conv, "event": map[string]any{"type": "ContentEvent", "contentType": "text/plain", "message": "still here"}})
}

func TestLoginRefreshLogoutAndAPIKey(t *testing.T) {
	f, srv := newFixtureHub(t, 5*time.Second)
	ks := f.keys["botty"]
	jar := newJar()
	c := srv.Client()
	c.Jar = jar
	var out map[string]any
	code := postJSON(t, c, srv.URL+"/api/account/1000/login?v=1.3", nil, map[string]string{"username": "botty", "appKey": ks.AppKey,
		"secret": ks.Secret, "accessToken": ks.AccessToken, "accessTokenSecret": ks.AccessTokenSecret}, &out)
	if code != 200 || get(out, "config", "userPid") != f.users["botty"].PID || get(out, "config", "userId") != fmt.Sprint(f.users["botty"].ID) {
		t.Fatalf("API key login: %d %v", code, out)
	}
	bad := map[string]string{"username": "alice", "appKey": ks.AppKey, "secret": ks.Secret, "accessToken": ks.AccessToken, "accessTokenSecret": ks.AccessTokenSecret}
	if code := postJSON(t, srv.Client(), srv.URL+"/api/account/1000/login?v=1.3", nil, bad, nil); code != 401 {
		t.Fatalf("another user's API key: %d", code)
	}
	csrf := out["csrf"].(string)
	if code := postJSON(t, c, srv.URL+"/api/account/1000/refresh?v=1.3", nil, map[string]string{"csrf": csrf}, nil); code != 200 {
		t.Fatalf("refresh: %d", code)
	}
	if code := postJSON(t, c, srv.URL+"/api/account/1000/refresh?v=1.3", nil, map[string]string{"csrf": "wrong"}, nil); code != 401 {
		t.Fatalf("refresh with a wrong csrf: %d", code)
	}
	ws := dial(t, srv.Client(), wsURL(srv)+"/ws_api/account/1000/messaging/brand/-?v=2.1", http.Header{"Authorization": {"Bearer " + out["bearer"].(string)}})
	ws.mustCall(".GetClock", nil)
	if code := postJSON(t, c, srv.URL+"/api/account/1000/logout?v=1.3", nil, map[string]string{"csrf": csrf}, nil); code != 200 {
		t.Fatalf("logout: %d", code)
	}
	<-ws.closed
	if ws.status != hub.CloseSessionEnded {
		t.Fatalf("websocket closed with %d after logout, want %d", ws.status, hub.CloseSessionEnded)
	}
	var csds struct {
		BaseURIs []map[string]string `json:"baseURIs"`
	}
	resp, err := srv.Client().Get(srv.URL + "/api/account/1000/service/baseURI.json?version=1.0")
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(resp.Body).Decode(&csds)
	resp.Body.Close()
	host := strings.TrimPrefix(srv.URL, "https://")
	found := map[string]bool{}
	for _, b := range csds.BaseURIs {
		if b["baseURI"] == host {
			found[b["service"]] = true
		}
	}
	if !found["agentVep"] || !found["asyncMessagingEnt"] {
		t.Fatalf("baseURI.json = %+v", csds)
	}
}

func TestFileUpload(t *testing.T) {
	_, srv := newFixtureHub(t, 5*time.Second)
	alice := agentConn(t, srv, "alice")
	var tok struct {
		Token string `json:"token"`
	}
	postJSON(t, srv.Client(), srv.URL+"/api/account/1000/consumer/token", nil, nil, &tok)
	cons := dial(t, srv.Client(), wsURL(srv)+"/ws_api/account/1000/messaging/consumer?v=3", http.Header{"Authorization": {"jwt " + tok.Token}})
	conv := cons.mustCall("cm.ConsumerRequestConversation", map[string]any{}).(map[string]any)["conversationId"].(string)
	acceptRing(t, alice, conv)

	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0}, 64)...)
	rel := upload(t, srv, tok.Token, "pic.png", png, 200)
	upload(t, srv, tok.Token, "fake.png", []byte("hello, not a png"), 400)
	upload(t, srv, tok.Token, "script.html", []byte("<script>"), 400)
	cons.mustCall("ms.PublishEvent", map[string]any{"dialogId": conv, "event": map[string]any{"type": "ContentEvent",
		"contentType": "hosted/file", "message": map[string]any{"relativePath": rel, "fileType": "PNG", "caption": "look"}}})
	alice.waitFor("hosted file", func(m map[string]any) bool {
		return m["type"] == ".ams.ms.OnlineEventDistribution" && get(m, "body", "event", "contentType") == "hosted/file"
	})
	u := alice.mustCall(".ams.ms.GenerateURLForDownloadFile", map[string]any{"relativePath": rel})
	resp, err := srv.Client().Get(get(u, "url").(string))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, png) {
		t.Fatalf("download: %d, %d bytes", resp.StatusCode, len(got))
	}
	resp, _ = srv.Client().Get(srv.URL + "/api/account/1000/files/" + rel)
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("anonymous download: %d", resp.StatusCode)
	}
}

func upload(t *testing.T, srv *httptest.Server, token, name string, data []byte, want int) string {
	t.Helper()
	var buf bytes.Buffer
	mw := newMultipart(&buf, name, data)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/account/1000/consumer/files", &buf)
	req.Header.Set("Content-Type", mw)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != want {
		t.Fatalf("upload %s: %d %v, want %d", name, resp.StatusCode, out, want)
	}
	return out["relativePath"]
}

func TestBackToQueueDisconnectAndConsumerClose(t *testing.T) {
	f, srv := newFixtureHub(t, 30*time.Second)
	alice := agentConn(t, srv, "alice")
	cons, _ := consumerConn(t, srv)
	conv := cons.mustCall("cm.ConsumerRequestConversation", map[string]any{}).(map[string]any)["conversationId"].(string)
	acceptRing(t, alice, conv)
	// The accepted ring is reported as ACCEPTED, never as cancelled.
	alice.waitFor("ACCEPTED ring", func(m map[string]any) bool {
		b, _ := json.Marshal(m["body"])
		return m["type"] == ".ams.routing.RoutingTaskNotification" && strings.Contains(string(b), `"ringState":"ACCEPTED"`)
	})
	alice.mu.Lock()
	for _, m := range alice.frames {
		b, _ := json.Marshal(m["body"])
		if strings.Contains(string(b), `"ringState":"CANCELLED"`) {
			t.Fatalf("accepted ring reported as cancelled: %s", b)
		}
	}
	alice.mu.Unlock()

	// Back to queue: alice removes herself without a new skill; botty is
	// rung, and disconnecting with the ring pending moves it on to alice.
	botty := agentConn(t, srv, "botty")
	alice.mustCall(".ams.cm.UpdateConversationField", map[string]any{"conversationId": conv, "conversationField": []any{
		map[string]any{"field": "ParticipantsChange", "type": "REMOVE", "role": "ASSIGNED_AGENT"}}})
	ringWaiting := func(m map[string]any) bool {
		b, _ := json.Marshal(m["body"])
		return m["type"] == ".ams.routing.RoutingTaskNotification" && strings.Contains(string(b), `"ringState":"WAITING"`) &&
			strings.Contains(string(b), conv)
	}
	bottyRinged := func() bool {
		botty.mu.Lock()
		defer botty.mu.Unlock()
		for _, m := range botty.frames {
			if ringWaiting(m) {
				return true
			}
		}
		return false
	}
	// Either agent may be rung first; make sure the ring reaches botty by
	// taking alice out of routing, then drop botty with the ring pending.
	if !bottyRinged() {
		alice.mustCall(".ams.routing.SetAgentState", map[string]any{"availability": "AWAY"})
	}
	botty.waitFor("ring for botty", ringWaiting)
	alice.mustCall(".ams.routing.SetAgentState", map[string]any{"availability": "ONLINE"})
	botty.ws.Close(websocket.StatusNormalClosure, "")
	acceptRing(t, alice, conv)

	// The consumer closes.
	cons.mustCall("cm.UpdateConversationField", map[string]any{"conversationId": conv, "conversationField": []any{
		map[string]any{"field": "ConversationStateField", "conversationState": "CLOSE"}}})
	alice.waitFor("closed", func(m map[string]any) bool {
		return m["type"] == ".ams.aam.ExConversationChangeNotification" &&
			get(get(m, "body", "changes").([]any)[0], "result", "conversationDetails", "state") == "CLOSE"
	})
	stored, err := f.store.Conversation(context.Background(), botrelay.ConversationID(conv))
	if err != nil || stored.CloseReason != botrelay.CloseByConsumer {
		t.Fatalf("stored = %+v, %v", stored, err)
	}
	if code, _ := cons.call("ms.PublishEvent", map[string]any{"dialogId": conv, "event": map[string]any{"type": "ContentEvent", "message": "x"}}); code != 409 {
		t.Fatalf("publish to a closed conversation = %d, want 409", code)
	}
}

func TestCloseSaysGoingAway(t *testing.T) {
	f := seed(t, filepath.Join(t.TempDir(), "botrelay.db"))
	srv, h := startHub(t, f, time.Second)
	alice := agentConn(t, srv, "alice")
	cons, _ := consumerConn(t, srv)
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client{alice, cons} {
		select {
		case <-c.closed:
		case <-time.After(5 * time.Second):
			t.Fatal("websocket still open after Close")
		}
		if c.status != websocket.StatusGoingAway {
			t.Fatalf("closed with %d, want 1001", c.status)
		}
	}
}

// TestMalformedBodies sends odd bodies to every request type on both sides:
// each gets a 4xx answer, and the connections keep working.
func TestMalformedBodies(t *testing.T) {
	_, srv := newFixtureHub(t, 5*time.Second)
	alice := agentConn(t, srv, "alice")
	cons, _ := consumerConn(t, srv)
	conv := cons.mustCall("cm.ConsumerRequestConversation", map[string]any{}).(map[string]any)["conversationId"].(string)
	acceptRing(t, alice, conv)
	bodies := []string{`[]`, `[1,2]`, `{"dialogId":5}`, `{"dialogId":"` + conv + `","event":"x"}`, `{"dialogId":"` + conv + `","event":null}`,
		`{"dialogId":"` + conv + `","event":{"type":"ContentEvent","contentType":"hosted/file","message":{"relativePath":"../../etc/passwd"}}}`,
		`{"dialogId":"` + conv + `","event":{"type":"AcceptStatusEvent","status":"READ"}}`,
		`{"conversationId":"` + conv + `","conversationField":"x"}`, `{"conversationId":"` + conv + `","conversationField":[{"field":"Skill","skill":{}}]}`,
		`{"conversationId":"` + conv + `","conversationField":[{"field":"Skill","skill":"no-such-skill"}]}`,
		`{"conversationId":"` + conv + `","conversationField":[{"field":"ParticipantsChange","type":"ADD","role":"CONSUMER"}]}`,
		`{"conversationId":"` + conv + `","conversationField":[{"field":"ParticipantsChange","type":"JUMP"}]}`,
		`{"conversationId":"` + conv + `","conversationField":[{"field":"ParticipantsChange","type":"ADD","userId":"1000.999999"}]}`,
		`{"conversationId":"` + conv + `","conversationField":[{"field":"DialogChange","dialog":{"dialogId":"nope","state":"CLOSE"}}]}`,
		`{"conversationId":"` + conv + `","conversationField":[{"field":"TTRField","ttrType":"SOON"}]}`,
		`{"conversationId":"` + conv + `","conversationField":[{"field":"Whatever"}]}`,
		`{"conversationId":"` + conv + `","conversationField":[{"field":"ConversationStateField","conversationState":"OPEN"}]}`,
		`{"availability":"SLEEPING"}`, `{"ringId":5}`, `{"agentIds":["nobody"]}`, `{"convState":"OPEN"}`, `{"subscriptionId":"nope"}`,
		`{"relativePath":"nope"}`, `{"skillId":"abc"}`, `{"skill":"no-such-skill"}`, `{"conversationContext":"x"}`,
		`{"dialogId":"` + conv + `","newerThanSequence":"x"}`, `{"dialogId":"","fromSeq":0}`,
	}
	agentTypes := []string{".ams.ms.PublishEvent", ".ams.cm.UpdateConversationField", ".ams.routing.SetAgentState",
		".ams.routing.UpdateRingState", ".ams.aam.SubscribeExConversations", ".ams.aam.UnsubscribeExConversations",
		".ams.ms.QueryMessages", ".ams.ms.GenerateURLForDownloadFile"}
	consumerTypes := []string{"cm.ConsumerRequestConversation", "ms.PublishEvent", "ms.QueryMessages", "cm.UpdateConversationField",
		"cqm.SubscribeExConversations", "ms.SubscribeMessagingEvents"}
	send := func(c *client, typ, body string) int {
		c.mu.Lock()
		c.nextID++
		id := fmt.Sprintf("m%d", c.nextID)
		c.mu.Unlock()
		c.sendRaw(`{"kind":"req","id":"` + id + `","type":"` + typ + `","body":` + body + `}`)
		m := c.waitFor("answer to "+typ+" "+body, func(m map[string]any) bool { return m["kind"] == "resp" && m["reqId"] == id })
		return int(m["code"].(float64))
	}
	for _, body := range bodies {
		for _, typ := range agentTypes {
			if code := send(alice, typ, body); code >= 500 {
				t.Errorf("agent %s %s: %d", typ, body, code)
			}
		}
		for _, typ := range consumerTypes {
			if code := send(cons, typ, body); code >= 500 {
				t.Errorf("consumer %s %s: %d", typ, body, code)
			}
		}
	}
	// The conversation is still open and both sides still talk.
	cons.mustCall("ms.PublishEvent", map[string]any{"dialogId": conv, "event": map[string]any{"type": "ContentEvent", "contentType": "text/plain", "message": "still fine"}})
	alice.waitFor("message after the noise", hasText(".ams.ms.OnlineEventDistribution", "still fine"))
}

func TestDropConnectionsKeepsSessions(t *testing.T) {
	_, srv := newFixtureHub(t, 5*time.Second)
	bearer := login(t, srv.URL, srv.Client(), "alice")
	url := wsURL(srv) + "/ws_api/account/1000/messaging/brand/" + bearer + "?v=2.1"
	first := dial(t, srv.Client(), url, nil)
	first.mustCall(".GetClock", nil)
	h := hubOf(t, srv)
	h.DropConnections()
	<-first.closed
	if first.status != websocket.StatusGoingAway {
		t.Fatalf("dropped with %d, want 1001", first.status)
	}
	again := dial(t, srv.Client(), url, nil)
	again.mustCall(".GetClock", nil)
}

// TestManyConversationsSubscribeInChunks: an agent holding more
// conversations than fit one notification gets them all, in several
// ExConversationChange notifications (a bot with tens of thousands would
// otherwise get one frame larger than a client accepts).
func TestManyConversationsSubscribeInChunks(t *testing.T) {
	f := seed(t, filepath.Join(t.TempDir(), "botrelay.db"))
	const n = 1203
	seedBotConversations(t, f, n)
	srv, _ := startHub(t, f, 5*time.Second)
	a := agentConn(t, srv, "botty")
	seen := map[string]bool{}
	a.waitFor("all conversations", func(m map[string]any) bool {
		if m["type"] != ".ams.aam.ExConversationChangeNotification" {
			return false
		}
		changes := get(m, "body", "changes").([]any)
		if len(changes) > 500 {
			t.Fatalf("one notification carries %d conversations", len(changes))
		}
		for _, ch := range changes {
			seen[get(ch, "result", "convId").(string)] = true
		}
		return len(seen) == n
	})
}

// TestSnapshotArrivesBeforeTheNextAnswer: every chunk of a new
// subscription's conversations reaches the agent before the answer to its
// next request. The liveperson adapter takes what is listed by then as the
// whole listing and lets go of the rest (a restarted bot with 5,000
// conversations let go of most of them when the chunks came later).
func TestSnapshotArrivesBeforeTheNextAnswer(t *testing.T) {
	f := seed(t, filepath.Join(t.TempDir(), "botrelay.db"))
	const n = 1203
	seedBotConversations(t, f, n)
	srv, _ := startHub(t, f, 5*time.Second)
	a := agentConn(t, srv, "botty")
	a.mustCall(".GetClock", nil)
	a.mu.Lock()
	defer a.mu.Unlock()
	seen := map[string]bool{}
	for _, m := range a.frames {
		if typ, _ := m["type"].(string); strings.Contains(typ, "GetClock") {
			if len(seen) != n {
				t.Fatalf("the answer to the next request came after %d of %d conversations", len(seen), n)
			}
			return
		}
		if m["type"] == ".ams.aam.ExConversationChangeNotification" {
			for _, ch := range get(m, "body", "changes").([]any) {
				seen[get(ch, "result", "convId").(string)] = true
			}
		}
	}
	t.Fatalf("no answer to GetClock among %d frames", len(a.frames))
}

// seedBotConversations stores n open conversations assigned to botty.
func seedBotConversations(t *testing.T, f *fixture, n int) {
	t.Helper()
	ctx := context.Background()
	botty := f.users["botty"]
	for i := range n {
		id := botrelay.ConversationID(fmt.Sprintf("c0000000-0000-4000-8000-%012d", i))
		now := time.Now()
		consumer := botrelay.ConsumerID(fmt.Sprintf("consumer-%d", i))
		c := &botrelay.Conversation{ID: id, AccountID: acct, ConsumerID: consumer,
			SkillID: f.skills["bot"].ID, State: botrelay.ConversationOpen, TTR: botrelay.TTRNormal,
			Participants: []botrelay.Participant{
				{ConsumerID: consumer, Role: botrelay.ParticipantConsumer, State: botrelay.ParticipantStateActive, JoinedAt: now},
				{UserID: botty.ID, Role: botrelay.ParticipantAssignedAgent, State: botrelay.ParticipantStateActive, JoinedAt: now}},
			Dialogs: []botrelay.Dialog{{ID: botrelay.DialogID(id), Type: botrelay.DialogMain, State: botrelay.DialogOpen, CreatedAt: now}}}
		if err := f.store.CreateConversation(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
}
