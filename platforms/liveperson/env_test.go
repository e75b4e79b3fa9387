package liveperson

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
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

const (
	testAccount = "1000"
	waitLimit   = 10 * time.Second
)

func quietLogger() *slog.Logger {
	if os.Getenv("LP_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// env is a real hub on an httptest server with an SQLite store, seeded with
// the account, the built-in profiles, skills bot, human and survey (a skill
// with a post-conversation survey), and a bot user with an API key.
type env struct {
	t       *testing.T
	ctx     context.Context
	store   *sqlstore.Store
	dataDir string
	tls     bool

	mu     sync.Mutex
	hub    *hub.Hub
	srv    *httptest.Server
	cancel context.CancelFunc
	addr   string

	skills map[string]botrelay.SkillID
	bot    *botrelay.User
	keys   auth.KeySet
	client *http.Client
}

func newEnv(t *testing.T, useTLS bool) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	dir := t.TempDir()
	st, err := sqlstore.Open(ctx, sqlstore.Options{Dialect: sqlstore.SQLite, DSN: filepath.Join(dir, "botrelay.db"), Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	b := &botrelay.Bootstrap{
		Account:  &botrelay.Account{ID: testAccount, Name: "test"},
		Profiles: botrelay.BuiltInProfiles(),
		Skills: []*botrelay.Skill{
			{Name: botrelay.SkillNameBot}, {Name: botrelay.SkillNameHuman}, {Name: "survey", PostSurvey: true},
		},
		Admin:             &botrelay.User{Type: botrelay.UserHuman, LoginName: "admin", Enabled: true, MessagingSlots: 10},
		AdminSkills:       []string{botrelay.SkillNameHuman},
		AdminPasswordHash: "",
	}
	if _, err := st.Bootstrap(ctx, b); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, store: st, dataDir: dir, tls: useTLS, skills: map[string]botrelay.SkillID{}}
	for _, s := range b.Skills {
		e.skills[s.Name] = s.ID
	}
	prof, err := st.ProfileByName(ctx, testAccount, "Agent")
	if err != nil {
		t.Fatal(err)
	}
	e.bot = &botrelay.User{Type: botrelay.UserBot, AccountID: testAccount, LoginName: "lp-bot", Nickname: "Bot",
		ProfileID: prof.ID, MessagingSlots: 50, Enabled: true,
		SkillIDs: []botrelay.SkillID{e.skills["bot"], e.skills["survey"]}}
	if err := st.CreateUser(ctx, e.bot); err != nil {
		t.Fatal(err)
	}
	e.keys, err = auth.NewKeySet()
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateAPIKey(ctx, &botrelay.APIKey{AppKey: e.keys.AppKey, UserID: e.bot.ID, AccessToken: e.keys.AccessToken,
		SecretHash: auth.HashSecret(e.keys.Secret), AccessTokenSecretHash: auth.HashSecret(e.keys.AccessTokenSecret)}); err != nil {
		t.Fatal(err)
	}
	e.start("")
	t.Cleanup(e.stop)
	return e
}

// start runs a hub on the store, on addr ("" for a new port).
func (e *env) start(addr string) {
	e.t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	h, err := hub.New(hub.Options{Store: e.store, Account: testAccount, DataDir: e.dataDir, SigningKey: key, Logger: quietLogger()})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	go func() { _ = h.Run(ctx) }()
	mux := http.NewServeMux()
	h.Routes(mux)
	srv := httptest.NewUnstartedServer(mux)
	if addr != "" {
		var ln net.Listener
		deadline := time.Now().Add(waitLimit)
		for {
			ln, err = net.Listen("tcp", addr)
			if err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			e.t.Fatalf("listen again on %s: %v", addr, err)
		}
		srv.Listener.Close()
		srv.Listener = ln
	}
	if e.tls {
		srv.StartTLS()
		if e.client == nil {
			pool := x509.NewCertPool()
			pool.AddCert(srv.Certificate())
			e.client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
		}
	} else {
		srv.Start()
		if e.client == nil {
			e.client = &http.Client{Transport: &http.Transport{}}
		}
	}
	e.mu.Lock()
	e.hub, e.srv, e.cancel, e.addr = h, srv, cancel, srv.Listener.Addr().String()
	e.mu.Unlock()
}

func (e *env) stop() {
	e.mu.Lock()
	h, srv, cancel := e.hub, e.srv, e.cancel
	e.mu.Unlock()
	_ = h.Close()
	srv.Close()
	cancel()
}

// restart stops the hub and serves a new one on the same store and address.
func (e *env) restart() {
	addr := e.addr
	e.stop()
	e.start(addr)
}

// domain is the CSDSDomain setting for the hub.
func (e *env) domain() string {
	if e.tls {
		return e.addr // host:port means https
	}
	return "http://" + e.addr
}

func (e *env) baseURL() string {
	if e.tls {
		return "https://" + e.addr
	}
	return "http://" + e.addr
}

func (e *env) config() Config {
	return Config{Account: testAccount, CSDSDomain: e.domain(), Username: e.bot.LoginName,
		AppKey: e.keys.AppKey, Secret: e.keys.Secret, AccessToken: e.keys.AccessToken, AccessTokenSecret: e.keys.AccessTokenSecret}
}

func (e *env) options() Options {
	return Options{HTTPClient: e.client, Logger: quietLogger(), ReconnectMin: 20 * time.Millisecond, ReconnectMax: 200 * time.Millisecond,
		RequestTimeout: 5 * time.Second}
}

func (e *env) adapter(mod func(*Config, *Options)) *Adapter {
	e.t.Helper()
	cfg, opts := e.config(), e.options()
	if mod != nil {
		mod(&cfg, &opts)
	}
	a, err := New(cfg, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// conversation reads a conversation from the store.
func (e *env) conversation(id botrelay.ConversationID) *botrelay.Conversation {
	e.t.Helper()
	c, err := e.store.Conversation(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// eventually polls cond until it holds or the wait limit passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// recorder is the relay side: it records events and states.
type recorder struct {
	events chan *botrelay.PlatformEvent
	states chan error
}

func newRecorder() *recorder {
	return &recorder{events: make(chan *botrelay.PlatformEvent, 1000), states: make(chan error, 1000)}
}

func (r *recorder) HandleEvent(_ context.Context, ev *botrelay.PlatformEvent) { r.events <- ev }
func (r *recorder) PlatformState(err error)                                   { r.states <- err }

// waitEvent returns the next event that matches, skipping others.
func (r *recorder) waitEvent(t *testing.T, what string, match func(*botrelay.PlatformEvent) bool) *botrelay.PlatformEvent {
	t.Helper()
	timer := time.NewTimer(waitLimit)
	defer timer.Stop()
	for {
		select {
		case ev := <-r.events:
			if match(ev) {
				return ev
			}
			t.Logf("skipping event %s %s", ev.Kind, ev.Conversation.ID)
		case <-timer.C:
			t.Fatalf("timed out waiting for %s", what)
			return nil
		}
	}
}

func (r *recorder) waitKind(t *testing.T, kind botrelay.PlatformEventKind, conv botrelay.ConversationID) *botrelay.PlatformEvent {
	t.Helper()
	return r.waitEvent(t, string(kind)+" of "+string(conv), func(ev *botrelay.PlatformEvent) bool {
		return ev.Kind == kind && (conv == "" || ev.Conversation.ID == conv)
	})
}

// waitOnline waits for PlatformState(nil).
func (r *recorder) waitOnline(t *testing.T) {
	t.Helper()
	timer := time.NewTimer(waitLimit)
	defer timer.Stop()
	for {
		select {
		case err := <-r.states:
			if err == nil {
				return
			}
			t.Logf("platform state: %v", err)
		case <-timer.C:
			t.Fatal("timed out waiting for the adapter to go online")
		}
	}
}

// running runs a.Run in the background; stop ends it and returns Run's
// result; done delivers that result when Run returns on its own.
func running(t *testing.T, a *Adapter, in botrelay.Inbound) (stop func() error, done <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	finished := make(chan struct{})
	ch := make(chan error, 1)
	var result error
	go func() {
		result = a.Run(ctx, in)
		close(finished)
		ch <- result
	}()
	stop = func() error {
		cancel()
		select {
		case <-finished:
			return result
		case <-time.After(waitLimit):
			return errors.New("Run did not return after its context ended")
		}
	}
	t.Cleanup(func() { _ = stop() })
	return stop, ch
}

// consumer is a consumer client of the hub's consumer protocol
// (docs/protocol.md): token, websocket, conversation, messages.
type consumer struct {
	t      *testing.T
	e      *env
	id     string
	conn   *websocket.Conn
	convID string

	mu      sync.Mutex
	nextID  int
	pending map[string]chan frame
	msgs    chan json.RawMessage // each MessagingEvent change
	convs   chan json.RawMessage // each conversation change
}

type frame struct {
	Kind  string          `json:"kind"`
	ID    string          `json:"id,omitempty"`
	ReqID string          `json:"reqId,omitempty"`
	Type  string          `json:"type,omitempty"`
	Code  int             `json:"code,omitempty"`
	Body  json.RawMessage `json:"body,omitempty"`
}

func (e *env) newConsumer(skill string) *consumer {
	t := e.t
	t.Helper()
	ctx := e.ctx
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.baseURL()+"/api/account/"+testAccount+"/consumer/token", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		Token      string `json:"token"`
		ConsumerID string `json:"consumerId"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || tok.Token == "" {
		t.Fatalf("consumer token: %v %s", err, resp.Status)
	}
	ws := strings.Replace(e.baseURL(), "http", "ws", 1) + "/ws_api/account/" + testAccount + "/messaging/consumer?v=3"
	conn, _, err := websocket.Dial(ctx, ws, &websocket.DialOptions{HTTPClient: e.client,
		HTTPHeader: http.Header{"Authorization": {"Bearer " + tok.Token}}})
	if err != nil {
		t.Fatal(err)
	}
	conn.SetReadLimit(4 << 20)
	c := &consumer{t: t, e: e, id: tok.ConsumerID, conn: conn, pending: map[string]chan frame{},
		msgs: make(chan json.RawMessage, 1000), convs: make(chan json.RawMessage, 1000)}
	t.Cleanup(func() { conn.CloseNow() })
	go c.read()
	c.request("cqm.SubscribeExConversations", map[string]any{"brandId": testAccount, "convState": []string{"OPEN", "CLOSE"}})
	body := c.request("cm.ConsumerRequestConversation", map[string]any{"brandId": testAccount, "channelType": "MESSAGING", "skill": skill})
	var r struct {
		ConversationID string `json:"conversationId"`
	}
	if err := json.Unmarshal(body, &r); err != nil || r.ConversationID == "" {
		t.Fatalf("request conversation: %s", body)
	}
	c.convID = r.ConversationID
	c.request("ms.SubscribeMessagingEvents", map[string]any{"dialogId": c.convID, "conversationId": c.convID, "fromSeq": 0})
	return c
}

func (c *consumer) read() {
	for {
		_, data, err := c.conn.Read(context.Background())
		if err != nil {
			return
		}
		var f frame
		if json.Unmarshal(data, &f) != nil {
			continue
		}
		switch f.Kind {
		case "resp":
			c.mu.Lock()
			ch := c.pending[f.ReqID]
			c.mu.Unlock()
			if ch != nil {
				ch <- f
			}
		case "notification":
			var b struct {
				Changes []json.RawMessage `json:"changes"`
			}
			_ = json.Unmarshal(f.Body, &b)
			for _, ch := range b.Changes {
				switch f.Type {
				case "ms.MessagingEventNotification":
					c.msgs <- ch
				case "cqm.ExConversationChangeNotification":
					c.convs <- ch
				}
			}
		}
	}
}

// request sends a request and returns the body of its successful answer.
func (c *consumer) request(typ string, body any) json.RawMessage {
	c.t.Helper()
	f, err := c.try(typ, body)
	if err != nil {
		c.t.Fatal(err)
	}
	return f
}

func (c *consumer) try(typ string, body any) (json.RawMessage, error) {
	c.mu.Lock()
	c.nextID++
	id := strconv.Itoa(c.nextID)
	ch := make(chan frame, 1)
	c.pending[id] = ch
	c.mu.Unlock()
	b, _ := json.Marshal(body)
	data, _ := json.Marshal(frame{Kind: "req", ID: id, Type: typ, Body: b})
	if err := c.conn.Write(c.e.ctx, websocket.MessageText, data); err != nil {
		return nil, err
	}
	select {
	case f := <-ch:
		if f.Code >= 400 {
			return nil, fmt.Errorf("%s: %d %s", typ, f.Code, f.Body)
		}
		return f.Body, nil
	case <-time.After(waitLimit):
		return nil, fmt.Errorf("%s: no answer", typ)
	}
}

// say publishes a text message.
func (c *consumer) say(text string) {
	c.t.Helper()
	c.request("ms.PublishEvent", map[string]any{"dialogId": c.convID,
		"event": map[string]any{"type": "ContentEvent", "contentType": "text/plain", "message": text}})
}

// consumerEvent is a message event as the consumer sees it.
type consumerEvent struct {
	Sequence           int64 `json:"sequence"`
	OriginatorMetadata struct {
		Role string `json:"role"`
	} `json:"originatorMetadata"`
	Event struct {
		Type         string          `json:"type"`
		ContentType  string          `json:"contentType"`
		Message      json.RawMessage `json:"message"`
		QuickReplies json.RawMessage `json:"quickReplies"`
		Content      json.RawMessage `json:"content"`
		ChatState    string          `json:"chatState"`
	} `json:"event"`
	Metadata json.RawMessage `json:"metadata"`
}

// nextFromAgent returns the next message event the consumer did not send.
func (c *consumer) nextFromAgent() consumerEvent {
	c.t.Helper()
	timer := time.NewTimer(waitLimit)
	defer timer.Stop()
	for {
		select {
		case raw := <-c.msgs:
			var ev consumerEvent
			if err := json.Unmarshal(raw, &ev); err != nil {
				c.t.Fatal(err)
			}
			if ev.OriginatorMetadata.Role == "CONSUMER" {
				continue
			}
			return ev
		case <-timer.C:
			c.t.Fatal("timed out waiting for a message to the consumer")
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func newJSONRequest(u, body string) (*http.Request, error) {
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return req, nil
}
