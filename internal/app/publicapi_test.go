package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/function"
	"github.com/botrelay/botrelay/internal/app"
	"github.com/botrelay/botrelay/internal/config"
	"github.com/botrelay/botrelay/internal/testrig"
	"github.com/botrelay/botrelay/sqlstore"
)

// The Third-Party Bots Public API, tested with a client written from the
// contract (spec §5) alone: plain HTTP against the real server, whose
// seeded demo bot holds the consumers' conversations.

const papiAccount = "1000"

// papiClient is a Public API client as a brand would write it from §5.
type papiClient struct {
	t      *testing.T
	base   string // http://{botConnectorsDomain}
	bearer string
}

type papiAnswer struct {
	status int
	body   []byte
}

func (a papiAnswer) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.body, v); err != nil {
		t.Fatalf("answer %d %s: %v", a.status, a.body, err)
	}
}

// errorCode returns the code of an {"error":{"code","message"}} answer.
func (a papiAnswer) errorCode(t *testing.T) string {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	a.decode(t, &e)
	if e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("error answer without code and message: %s", a.body)
	}
	return e.Error.Code
}

func (c *papiClient) do(method, path string, body any) papiAnswer {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+"/api/v1/account/"+papiAccount+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return papiAnswer{res.StatusCode, b}
}

// login logs in with a §5 login body and keeps the bearer.
func (c *papiClient) login(body map[string]any) papiAnswer {
	c.t.Helper()
	a := c.do(http.MethodPost, "/login?v=1.3", body)
	if a.status == http.StatusOK {
		var out struct {
			Bearer string `json:"bearer"`
		}
		a.decode(c.t, &out)
		if out.Bearer == "" {
			c.t.Fatalf("login without a bearer: %s", a.body)
		}
		c.bearer = out.Bearer
	}
	return a
}

// command sends a command and returns its id; it fails unless the answer
// is 200 {"commandId"}.
func (c *papiClient) command(conv, name string, ttl int, body any) string {
	c.t.Helper()
	path := fmt.Sprintf("/conversation/%s/%s", conv, name)
	if ttl > 0 {
		path += fmt.Sprintf("?ttl=%d", ttl)
	}
	a := c.do(http.MethodPost, path, body)
	if a.status != http.StatusOK {
		c.t.Fatalf("%s: status %d: %s", name, a.status, a.body)
	}
	var out map[string]string
	a.decode(c.t, &out)
	if out["commandId"] == "" || len(out) != 1 {
		c.t.Fatalf("%s: answer %s", name, a.body)
	}
	return out["commandId"]
}

// commandRecord is §5's command record.
type commandRecord struct {
	ID   string `json:"id"`
	Data struct {
		Type           string          `json:"type"`
		Payload        json.RawMessage `json:"payload"`
		ConversationID string          `json:"conversationId"`
		TimeoutTime    int64           `json:"timeoutTime"`
	} `json:"data"`
	Result *struct {
		ExecutionTime int64 `json:"executionTime"`
		StartTime     int64 `json:"startTime"`
		EndTime       int64 `json:"endTime"`
		Error         *struct {
			Trace []any  `json:"trace"`
			Name  string `json:"name"`
		} `json:"error"`
	} `json:"result"`
	State string `json:"state"`
}

func (c *papiClient) get(conv, id string) commandRecord {
	c.t.Helper()
	a := c.do(http.MethodGet, "/conversation/"+conv+"/command/"+id, nil)
	if a.status != http.StatusOK {
		c.t.Fatalf("get command %s: status %d: %s", id, a.status, a.body)
	}
	var rec commandRecord
	a.decode(c.t, &rec)
	return rec
}

// waitDone waits until the command left waiting and returns its record.
func (c *papiClient) waitDone(conv, id string, d time.Duration) commandRecord {
	c.t.Helper()
	var rec commandRecord
	testrig.Eventually(c.t, d, "command "+id+" to end", func() bool {
		rec = c.get(conv, id)
		return rec.State != "waiting"
	})
	return rec
}

// startServer runs the real server (app.Main) with the function
// vendor and its seeded, started demo bot; it returns the base URL and a
// store on the server's database, to look at what the commands did.
func startServer(t *testing.T, password string) (string, *sqlstore.Store) {
	t.Helper()
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.Data = t.TempDir()
	cfg.Log.Level = "error"
	cfg.ShutdownTimeout = config.Duration(10 * time.Second)
	reg := botrelay.NewRegistry()
	reg.RegisterVendor(function.Connector{})
	env := map[string]string{"BOTRELAY_ADMIN_PASSWORD": password}
	m := &app.Main{Config: cfg, Registry: reg, Stdout: io.Discard, Logs: io.Discard, Getenv: func(k string) string { return env[k] }}
	ready := m.Ready()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("server did not start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start within 30 s")
	}
	_, dsn := cfg.DatabaseURL()
	store, err := sqlstore.Open(context.Background(), sqlstore.Options{Dialect: sqlstore.SQLite, DSN: dsn,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return "http://" + m.Addr(), store
}

// botConnectorsDomain looks the Public API's domain up as LivePerson
// clients do: the CSDS entry botConnectorsDomain.
func botConnectorsDomain(t *testing.T, base string) string {
	t.Helper()
	res, err := http.Get(base + "/api/account/" + papiAccount + "/service/baseURI.json?version=1.0")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		BaseURIs []struct{ Service, Account, BaseURI string } `json:"baseURIs"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	for _, e := range out.BaseURIs {
		if e.Service == "botConnectorsDomain" && e.Account == papiAccount {
			return e.BaseURI
		}
	}
	t.Fatalf("no botConnectorsDomain in %+v", out)
	return ""
}

// consumerLines renders what the consumer saw, in order: texts as
// "bot: …" / "consumer: …", structured content as "bot: [card <text>]".
func consumerLines(c *testrig.Consumer) []string {
	evs := c.Events()
	slices.SortStableFunc(evs, func(a, b *testrig.Event) int { return int(a.Sequence - b.Sequence) })
	var out []string
	for _, e := range evs {
		who := "consumer"
		if e.FromAgent() {
			who = "bot"
		}
		if txt := e.Text(); txt != "" {
			out = append(out, who+": "+txt)
			continue
		}
		var rc struct {
			Type    string `json:"type"`
			Content struct {
				Type     string `json:"type"`
				Elements []struct {
					Text string `json:"text"`
				} `json:"elements"`
			} `json:"content"`
		}
		if json.Unmarshal(e.Event, &rc) == nil && rc.Type == "RichContentEvent" {
			var texts []string
			for _, el := range rc.Content.Elements {
				texts = append(texts, el.Text)
			}
			out = append(out, who+": [card "+strings.Join(texts, " ")+"]")
		}
	}
	return out
}

// openWithDemoBot opens a conversation on skill bot and waits for the demo
// bot's greeting.
func openWithDemoBot(t *testing.T, base string) (*testrig.Consumer, string) {
	t.Helper()
	c := testrig.NewConsumer(t, base, papiAccount)
	conv := c.Open(botrelay.SkillNameBot)
	c.Say("hi")
	c.WaitTexts(15*time.Second, "Hello! I am the botrelay demo bot.")
	return c, conv
}

// papiSetup is the account as an administrator prepares it for the Public
// API: a dedicated bot user with a password and an API key set.
type papiSetup struct {
	admin                         *testrig.API
	user                          string
	password                      string
	appKey, secret, token, tokenS string
	demoBotID                     string
	demoUserID                    json.Number
}

// keepOnStop sets the demo bot's routing.keepOnStop (stopped while it has
// no conversation yet, as an edit needs): a later stop keeps its
// conversations instead of handing them back (docs/standins.md).
func (s *papiSetup) keepOnStop(t *testing.T) {
	t.Helper()
	var bot map[string]any
	s.admin.Do(http.MethodPost, "/api/v1/bots/"+s.demoBotID+"/stop", nil, http.StatusOK, nil)
	s.admin.Do(http.MethodGet, "/api/v1/bots/"+s.demoBotID, nil, http.StatusOK, &bot)
	settings := bot["settings"].(map[string]any)
	settings["routing"] = map[string]any{"keepOnStop": true}
	s.admin.Do(http.MethodPut, "/api/v1/bots/"+s.demoBotID, map[string]any{"name": bot["name"], "userId": bot["userId"],
		"settings": settings}, http.StatusOK, nil)
	s.admin.Do(http.MethodPost, "/api/v1/bots/"+s.demoBotID+"/start", nil, http.StatusAccepted, nil)
	testrig.Eventually(t, 20*time.Second, "the demo bot ONLINE again", func() bool {
		var st struct {
			State string `json:"state"`
		}
		s.admin.Do(http.MethodGet, "/api/v1/bots/"+s.demoBotID+"/status", nil, http.StatusOK, &st)
		return st.State == "ONLINE"
	})
}

func newPapiSetup(t *testing.T, base, adminPassword string) *papiSetup {
	t.Helper()
	s := &papiSetup{admin: testrig.LoginAPI(t, base, "admin", adminPassword), user: "brand-crm", password: "Crm-secret-2026!"}
	agent := s.admin.ID("/api/v1/profiles", "Agent")
	var created struct {
		APIKey struct {
			AppKey, AccessToken, Secret, AccessTokenSecret string
		} `json:"apiKey"`
	}
	// A bot user gets an API key set when it is created (shown once).
	s.admin.Do(http.MethodPost, "/api/v1/users", map[string]any{"type": "BOT", "loginName": s.user, "profileId": agent,
		"enabled": true, "password": s.password}, http.StatusCreated, &created)
	key := created.APIKey
	s.appKey, s.secret, s.token, s.tokenS = key.AppKey, key.Secret, key.AccessToken, key.AccessTokenSecret
	var bots []struct {
		ID     string      `json:"id"`
		UserID json.Number `json:"userId"`
		State  string      `json:"state"`
	}
	s.admin.Do(http.MethodGet, "/api/v1/bots", nil, http.StatusOK, &bots)
	if len(bots) != 1 {
		t.Fatalf("want the demo bot alone, have %+v", bots)
	}
	s.demoBotID, s.demoUserID = bots[0].ID, bots[0].UserID
	return s
}

func (s *papiSetup) userPass() map[string]any {
	return map[string]any{"authType": "USER_PASS", "credentials": map[string]any{"username": s.user, "password": s.password}}
}

func (s *papiSetup) apiKey() map[string]any {
	return map[string]any{"authType": "API_KEY", "credentials": map[string]any{"username": s.user, "appKey": s.appKey,
		"secret": s.secret, "accessToken": s.token, "accessTokenSecret": s.tokenS}}
}

// TestPublicAPIMessages logs in with each auth type and sends every kind
// of message into the demo bot's conversation: the consumer sees them in
// order between the bot's own replies; the private text only agents see.
func TestPublicAPIMessages(t *testing.T) {
	const password = "PublicAPI-admin-1"
	base, store := startServer(t, password)
	s := newPapiSetup(t, base, password)
	cl := &papiClient{t: t, base: "http://" + botConnectorsDomain(t, base)}

	// USER_PASS, then API_KEY: the second login ends the first (F47).
	if a := cl.login(s.userPass()); a.status != http.StatusOK {
		t.Fatalf("USER_PASS login: %d %s", a.status, a.body)
	}
	first := cl.bearer
	if a := cl.login(s.apiKey()); a.status != http.StatusOK {
		t.Fatalf("API_KEY login: %d %s", a.status, a.body)
	}
	old := &papiClient{t: t, base: cl.base, bearer: first}
	if a := old.do(http.MethodGet, "/conversation/x/command", nil); a.status != http.StatusUnauthorized || a.errorCode(t) != "unauthorized" {
		t.Fatalf("replaced bearer: %d %s", a.status, a.body)
	}

	c, conv := openWithDemoBot(t, base)
	sent := time.Now()
	card := map[string]any{"type": "vertical", "elements": []any{map[string]any{"type": "text", "text": "Your order shipped"}}}
	id := cl.command(conv, "messages", 60, map[string]any{
		"context": map[string]any{"intentId": "order-status", "intentName": "Order status", "confidenceScore": 1},
		"messages": []any{
			"Good news about your order.",
			map[string]any{"delay": 1, "typing": true},
			map[string]any{"structuredContent": card, "metadata": []any{map[string]any{"type": "ExternalId", "id": "card-1"}}},
			map[string]any{"text": "Order 4711 shipped by the CRM.", "messageAudience": "AGENTS_AND_MANAGERS"},
			map[string]any{"text": "Tracking code inside.", "encodedMetadata": "ewoic29tZSI6ICJtZXRhZGF0YSIKfQ=="},
			map[string]any{"text": "Was this helpful?", "quickReplies": map[string]any{"type": "quickReplies", "itemsPerRow": 2,
				"replies": []any{map[string]any{"type": "button", "title": "Yes", "click": map[string]any{"actions": []any{
					map[string]any{"type": "publishText", "text": "yes"}}}}}}},
		}})
	c.WaitTexts(15*time.Second, "Good news about your order.")
	t.Logf("first message of the command reached the consumer %v after the POST", time.Since(sent).Round(time.Millisecond))
	rec := cl.waitDone(conv, id, 20*time.Second)
	if rec.State != "completed" || rec.Result == nil || rec.Result.Error != nil || rec.Data.Type != "messages" ||
		rec.Data.ConversationID != conv || rec.Result.EndTime < rec.Result.StartTime {
		t.Fatalf("command record %+v", rec)
	}
	var payload struct {
		Messages []map[string]any `json:"messages"`
	}
	_ = json.Unmarshal(rec.Data.Payload, &payload)
	if first := payload.Messages[0]; first["type"] != "text" || first["payload"] != "Good news about your order." {
		t.Fatalf("normalised text item %v", first)
	}
	c.Say("about")
	c.WaitTexts(15*time.Second, "Tracking code inside.", "botrelay puts AI bots from many vendors in front of your customers and hands over to people when needed.")
	testrig.Eventually(t, 10*time.Second, "the bot's last card", func() bool { return len(consumerLines(c)) >= 10 })
	want := []string{
		"consumer: hi",
		"bot: Hello! I am the botrelay demo bot.",
		"bot: What would you like to do?",
		"bot: Good news about your order.",
		"bot: [card Your order shipped]",
		"bot: Tracking code inside.",
		"bot: Was this helpful?",
		"consumer: about",
		"bot: botrelay puts AI bots from many vendors in front of your customers and hands over to people when needed.",
		"bot: What would you like to do?",
	}
	if got := consumerLines(c); !slices.Equal(got, want) {
		t.Fatalf("consumer transcript:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var quick json.RawMessage
	for _, e := range c.Events() {
		if e.Text() == "Was this helpful?" {
			quick = e.QuickReplies()
		}
	}
	if !bytes.Contains(quick, []byte(`"title":"Yes"`)) {
		t.Fatalf("quick replies the consumer got: %s", quick)
	}
	checkStoredMessages(t, store, conv)
}

// checkStoredMessages checks what the consumer's transcript cannot show:
// the private text went to agents only, and metadata and encoded metadata
// went out as sent.
func checkStoredMessages(t *testing.T, store *sqlstore.Store, conv string) {
	t.Helper()
	evs, err := store.Events(context.Background(), botrelay.ConversationID(conv), "", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var private, encoded, card bool
	for _, e := range evs {
		switch {
		case bytes.Contains(e.Event, []byte("Order 4711 shipped by the CRM.")):
			private = e.Audience == botrelay.AudienceAgentsAndManagers
		case bytes.Contains(e.Event, []byte("Tracking code inside.")):
			encoded = e.EncodedMetadata == "ewoic29tZSI6ICJtZXRhZGF0YSIKfQ=="
		case bytes.Contains(e.Event, []byte("Your order shipped")):
			card = bytes.Contains(e.Metadata, []byte(`"card-1"`))
		}
	}
	if !private || !encoded || !card {
		t.Fatalf("stored events: private note %v, encoded metadata %v, card metadata %v", private, encoded, card)
	}
}

// TestPublicAPIActions checks transfer, close, engagement attributes and
// TTR take effect; conversations no bot handles give 404; the list keeps
// at most 200 commands; a running bot's user gets 409; and a command the
// bot cannot carry out within its ttl ends failed.
func TestPublicAPIActions(t *testing.T) {
	const password = "PublicAPI-admin-2"
	base, store := startServer(t, password)
	s := newPapiSetup(t, base, password)
	s.keepOnStop(t)
	cl := &papiClient{t: t, base: "http://" + botConnectorsDomain(t, base)}
	if a := cl.login(s.userPass()); a.status != http.StatusOK {
		t.Fatalf("login: %d %s", a.status, a.body)
	}
	ctx := context.Background()

	// TTR and engagement attributes.
	consumer, conv := openWithDemoBot(t, base)
	ttr := cl.command(conv, "ttr", 0, map[string]any{"ttrType": "URGENT"})
	sdes := cl.command(conv, "sdes", 0, map[string]any{
		"sdes":           []any{map[string]any{"type": "personal", "personal": map[string]any{"firstname": "Ada", "lastname": "Lovelace", "gender": "FEMALE"}}},
		"sharkVisitorId": "visitor-1", "sharkSessionId": "session-1"})
	for _, id := range []string{ttr, sdes} {
		if rec := cl.waitDone(conv, id, 15*time.Second); rec.State != "completed" {
			t.Fatalf("command %s: %+v", id, rec)
		}
	}
	if got, err := store.Conversation(ctx, botrelay.ConversationID(conv)); err != nil || got.TTR != botrelay.TTRUrgent {
		t.Fatalf("conversation TTR after the ttr command: %+v, %v", got, err)
	}
	attrs, _, err := store.EngagementAttributes(ctx, botrelay.ConversationID(conv))
	if err != nil || !bytes.Contains(attrs, []byte(`"firstname":"Ada"`)) {
		t.Fatalf("engagement attributes: %s, %v", attrs, err)
	}
	var list []commandRecord
	cl.do(http.MethodGet, "/conversation/"+conv+"/command", nil).decode(t, &list)
	if len(list) != 2 || list[0].ID != ttr || list[1].ID != sdes {
		t.Fatalf("list: %+v", list)
	}

	// Transfer to a skill: the conversation waits on human, and no bot
	// handles it any more.
	tr := cl.command(conv, "transfer", 0, map[string]any{"skill": "human"})
	testrig.Eventually(t, 15*time.Second, "the transfer to human", func() bool {
		c, err := store.Conversation(ctx, botrelay.ConversationID(conv))
		return err == nil && c.AssignedAgent() == 0 && c.SkillID != 0 && c.SkillID != skillID(t, store, botrelay.SkillNameBot)
	})
	if rec := cl.waitDone(conv, tr, 10*time.Second); rec.State != "completed" {
		t.Fatalf("transfer: %+v", rec)
	}
	// An agent sees the engagement attributes with the consumer's profile.
	agent := testrig.NewAgent(t, base, papiAccount, "admin", password)
	code, profile := agent.Request(".ams.userprofile.GetUserProfile", map[string]any{"userId": consumer.ID})
	if code != http.StatusOK || !bytes.Contains(profile, []byte(`"personal":{"firstname":"Ada","gender":"FEMALE","lastname":"Lovelace"}`)) {
		t.Fatalf("consumer profile: %d %s", code, profile)
	}
	for _, c := range []string{conv, "00000000-0000-4000-8000-000000000000"} {
		a := cl.do(http.MethodPost, "/conversation/"+c+"/messages", map[string]any{"messages": []any{"hello?"}})
		if a.status != http.StatusNotFound || a.errorCode(t) != "not_found" {
			t.Fatalf("command on %s: %d %s", c, a.status, a.body)
		}
	}

	// Close.
	_, conv2 := openWithDemoBot(t, base)
	closeID := cl.command(conv2, "close", 0, nil)
	testrig.Eventually(t, 15*time.Second, "the close", func() bool {
		c, err := store.Conversation(ctx, botrelay.ConversationID(conv2))
		return err == nil && c.State == botrelay.ConversationClose
	})
	// Only commands of ongoing conversations are returned (§5).
	if a := cl.do(http.MethodGet, "/conversation/"+conv2+"/command", nil); a.status != http.StatusOK || string(a.body) != "[]\n" {
		t.Fatalf("commands of a closed conversation: %d %s", a.status, a.body)
	}
	if a := cl.do(http.MethodGet, "/conversation/"+conv2+"/command/"+closeID, nil); a.status != http.StatusNotFound {
		t.Fatalf("a command of a closed conversation: %d %s", a.status, a.body)
	}

	// Transfer to an agent: the agent is suggested on the skill.
	var whoami struct {
		User struct {
			ID int64 `json:"id"`
		} `json:"user"`
	}
	s.admin.Do(http.MethodGet, "/api/v1/me", nil, http.StatusOK, &whoami)
	me := whoami.User
	_, conv4 := openWithDemoBot(t, base)
	toAgent := cl.command(conv4, "transfer", 0, map[string]any{"skill": "human", "agentId": fmt.Sprint(me.ID)})
	defer func() {
		if t.Failed() {
			c, _ := store.Conversation(ctx, botrelay.ConversationID(conv4))
			t.Logf("conv4 %+v; me %d; command %s", c, me.ID, cl.do(http.MethodGet, "/conversation/"+conv4+"/command/"+toAgent, nil).body)
		}
	}()
	testrig.Eventually(t, 15*time.Second, "the admin suggested", func() bool {
		c, err := store.Conversation(ctx, botrelay.ConversationID(conv4))
		if err != nil {
			return false
		}
		for _, p := range c.Participants {
			if int64(p.UserID) == me.ID && p.State == botrelay.ParticipantStateSuggested {
				return c.AssignedAgent() == 0
			}
		}
		return false
	})
	if rec := cl.waitDone(conv4, toAgent, 10*time.Second); rec.State != "completed" {
		t.Fatalf("transfer to an agent: %+v", rec)
	}

	// At most 200 commands are listed: the newest.
	_, conv3 := openWithDemoBot(t, base)
	var ids []string
	for i := range 205 {
		ids = append(ids, cl.command(conv3, "ttr", 120, map[string]any{"ttrType": []string{"NORMAL", "URGENT"}[i%2]}))
	}
	list = nil
	cl.do(http.MethodGet, "/conversation/"+conv3+"/command", nil).decode(t, &list)
	if len(list) != 200 || list[0].ID != ids[5] || list[199].ID != ids[204] {
		t.Fatalf("list has %d commands, first %s", len(list), list[0].ID)
	}
	if a := cl.do(http.MethodGet, "/conversation/"+conv3+"/command/"+ids[0], nil); a.status != http.StatusNotFound {
		t.Fatalf("command beyond the 200: %d %s", a.status, a.body)
	}

	// A running bot's credentials: 409. Its user gets a password first.
	s.admin.Do(http.MethodPost, "/api/v1/users/"+s.demoUserID.String()+"/password", map[string]any{"password": "Demo-bot-pass-9"}, http.StatusOK, nil)
	bot := &papiClient{t: t, base: cl.base}
	demo := map[string]any{"authType": "USER_PASS", "credentials": map[string]any{"username": "demo-bot", "password": "Demo-bot-pass-9"}}
	if a := bot.login(demo); a.status != http.StatusConflict || a.errorCode(t) != "conflict" {
		t.Fatalf("login as the running bot: %d %s", a.status, a.body)
	}

	// The bot stops keeping its conversations (routing.keepOnStop; a stop
	// hands them back otherwise, docs/standins.md): its conversation stays
	// with it, and a command for it is never carried out: it fails when
	// its ttl of 10 s has passed.
	s.admin.Do(http.MethodPost, "/api/v1/bots/"+s.demoBotID+"/stop", nil, http.StatusOK, nil)
	late := cl.command(conv3, "messages", 10, map[string]any{"messages": []any{"Anyone there?"}})
	sent := time.Now()
	rec := cl.waitDone(conv3, late, 20*time.Second)
	if rec.State != "failed" || rec.Result == nil || rec.Result.Error == nil ||
		rec.Result.Error.Name != "com.liveperson.bot-connectors-worker.error.public-api.execution-failed" {
		t.Fatalf("expired command: %s", cl.do(http.MethodGet, "/conversation/"+conv3+"/command/"+late, nil).body)
	}
	if waited := time.Since(sent); waited < 9*time.Second {
		t.Fatalf("the command failed after %v, before its ttl", waited)
	}
	if a := bot.login(demo); a.status != http.StatusOK {
		t.Fatalf("login as the stopped bot's user: %d %s", a.status, a.body)
	}
}

func skillID(t *testing.T, store *sqlstore.Store, name string) botrelay.SkillID {
	t.Helper()
	sk, err := store.SkillByName(context.Background(), papiAccount, name)
	if err != nil {
		t.Fatal(err)
	}
	return sk.ID
}
