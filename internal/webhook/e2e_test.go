package webhook_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/function"
	"github.com/botrelay/botrelay/internal/app"
	"github.com/botrelay/botrelay/internal/config"
	"github.com/botrelay/botrelay/internal/testrig"
	"github.com/botrelay/botrelay/internal/uuid"
	"github.com/botrelay/botrelay/internal/webhook"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, for the test schema
)

const adminPassword = "Webhooks-pass-42"

// server runs the real botrelay server on dir until stop is called.
type server struct {
	base string
	stop func()
}

func startServer(t *testing.T, dir, database string) *server {
	t.Helper()
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.Data = dir
	cfg.Database = database
	cfg.Log.Level = "error"
	cfg.ShutdownTimeout = config.Duration(10 * time.Second)
	cfg.Webhooks.AllowPrivateTargets = true // the receiver is on loopback
	reg := botrelay.NewRegistry()
	reg.RegisterVendor(function.Connector{})
	env := map[string]string{"BOTRELAY_ADMIN_PASSWORD": adminPassword}
	m := &app.Main{Config: cfg, Registry: reg, Stdout: io.Discard, Logs: io.Discard, Getenv: func(k string) string { return env[k] },
		WebhookOptions: func(o *webhook.Options) {
			o.Poll, o.RetryBase, o.RetryMax = 50*time.Millisecond, 100*time.Millisecond, 400*time.Millisecond
		}}
	ready := m.Ready()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("server did not start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start within 30 s")
	}
	stopped := false
	s := &server{base: "http://" + m.Addr(), stop: func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	}}
	t.Cleanup(s.stop)
	return s
}

// testDatabase is "" (SQLite in the data folder), or a fresh schema on the
// PostgreSQL server of BOTRELAY_TEST_POSTGRES when it is set.
func testDatabase(t *testing.T) string {
	base := os.Getenv("BOTRELAY_TEST_POSTGRES")
	if base == "" {
		return ""
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	schema := "hooks_" + strings.ReplaceAll(uuid.New()[:8], "-", "")
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`) })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

type hookJSON struct {
	ID      int64    `json:"id"`
	Secret  string   `json:"secret"`
	Events  []string `json:"events"`
	Enabled bool     `json:"enabled"`
}

type deliveryJSON struct {
	EventID    string `json:"eventId"`
	Type       string `json:"type"`
	State      string `json:"state"`
	Attempts   int    `json:"attempts"`
	LastStatus int    `json:"lastStatus"`
}

// setUpEcho creates skill echo with a function bot Echo (which fails on
// "fail") and a human agent ann on skill human, and starts Echo.
func setUpEcho(t *testing.T, api *testrig.API) string {
	api.Do(http.MethodPost, "/api/v1/skills", map[string]any{"name": "echo"}, http.StatusCreated, nil)
	var user struct {
		User struct {
			ID json.Number `json:"id"`
		} `json:"user"`
	}
	api.Do(http.MethodPost, "/api/v1/users", map[string]any{"type": "BOT", "loginName": "echo-bot", "profileId": api.ID("/api/v1/profiles", "Agent"),
		"messagingSlots": 10, "skillIds": []json.Number{api.ID("/api/v1/skills", "echo")}}, http.StatusCreated, &user)
	api.Do(http.MethodPost, "/api/v1/users", map[string]any{"type": "HUMAN", "loginName": "ann", "password": "Ann-pass-1234567",
		"profileId": api.ID("/api/v1/profiles", "Agent"), "messagingSlots": 5, "skillIds": []json.Number{api.ID("/api/v1/skills", "human")}},
		http.StatusCreated, nil)
	var bot struct {
		ID string `json:"id"`
	}
	code := `function lambda(input, callback) {
  if (input.payload.message === "fail") { throw new Error("broken on purpose"); }
  callback(null, { messages: ["Echo: " + input.payload.message] });
}`
	api.Do(http.MethodPost, "/api/v1/bots", map[string]any{"name": "Echo", "vendor": "function", "userId": user.User.ID,
		"settings": map[string]any{"vendor": map[string]any{"code": code},
			"errorHandling": map[string]any{"escalationSkill": "human", "messageToConsumer": "Let me get you a human."}}},
		http.StatusCreated, &bot)
	api.Do(http.MethodPost, "/api/v1/bots/"+bot.ID+"/start", nil, http.StatusAccepted, nil)
	return bot.ID
}

func kindOf(kind string, also func(h *testrig.Hook) bool) func(*testrig.Hook) bool {
	return func(h *testrig.Hook) bool { return h.Type == kind && (also == nil || also(h)) }
}

func dataHas(sub string) func(*testrig.Hook) bool {
	return func(h *testrig.Hook) bool { return strings.Contains(string(h.Data), sub) }
}

// TestWebhooksAcrossRestartAndDowntime is acceptance point 2 of issue 19:
// a receiver written from docs/webhooks.md verifies every delivery, sees
// each event kind, each idempotency key exactly once across a restart of
// the real server, and gets what happened while it was down once it is
// back.
func TestWebhooksAcrossRestartAndDowntime(t *testing.T) {
	dir, database := t.TempDir(), testDatabase(t)
	srv := startServer(t, dir, database)
	api := testrig.LoginAPI(t, srv.base, "admin", adminPassword)
	rcv := testrig.NewWebhookReceiver(t)
	var hook hookJSON
	api.Do(http.MethodPost, "/api/v1/webhooks", map[string]any{"url": rcv.URL}, http.StatusCreated, &hook)
	rcv.SetSecrets(hook.Secret)
	botID := setUpEcho(t, api)
	rcv.WaitFor(20*time.Second, "Echo online", kindOf("bot.state_changed", dataHas(`"state":"ONLINE"`)))

	ann := testrig.NewAgent(t, srv.base, "1000", "ann", "Ann-pass-1234567")
	c := testrig.NewConsumer(t, srv.base, "1000")
	conv := c.Open("echo")
	c.Say("hi")
	c.WaitTexts(20*time.Second, "Echo: hi")
	c.Say("fail")
	c.WaitTexts(20*time.Second, "Let me get you a human.")
	ann.AcceptRing(conv, 20*time.Second)
	inConv := dataHas(`"conversationId":"` + conv + `"`)
	rcv.WaitFor(10*time.Second, "opened", kindOf("conversation.opened", inConv))
	rcv.WaitFor(10*time.Second, "assigned to the bot", kindOf("conversation.assigned", dataHas(`"type":"BOT","botId":"`+botID+`"`)))
	esc := rcv.WaitFor(10*time.Second, "escalated", kindOf("conversation.escalated", inConv))
	rcv.WaitFor(10*time.Second, "transferred to human", kindOf("conversation.transferred", inConv))
	rcv.WaitFor(10*time.Second, "assigned to ann", kindOf("conversation.assigned", dataHas(`"loginName":"ann","nickname":"ann","type":"HUMAN"`)))
	var escData struct {
		Code, BotID, EscalationSkill string
	}
	if err := json.Unmarshal(esc.Data, &escData); err != nil || escData.BotID != botID || escData.EscalationSkill != "human" ||
		!strings.HasPrefix(escData.Code, "com.liveperson.bot-connectors-worker.error.") {
		t.Fatalf("escalation data %s", esc.Data)
	}

	// The receiver goes down; ann closes the conversation meanwhile.
	rcv.SetDown(true)
	if code, body := ann.Request(".ams.cm.UpdateConversationField", map[string]any{"conversationId": conv,
		"conversationField": []any{map[string]any{"field": "ConversationStateField", "conversationState": "CLOSE"}}}); code != 200 {
		t.Fatalf("close: %d %s", code, body)
	}
	path := fmt.Sprintf("/api/v1/webhooks/%d/deliveries", hook.ID)
	closedRefused := func() bool {
		var ds []deliveryJSON
		api.Do(http.MethodGet, path+"?state=PENDING", nil, http.StatusOK, &ds)
		for _, d := range ds {
			if d.Type == "conversation.closed" && d.LastStatus == http.StatusServiceUnavailable && d.Attempts >= 2 {
				return true
			}
		}
		return false
	}
	testrig.Eventually(t, 10*time.Second, "the closed event refused twice with 503", closedRefused)
	rcv.Close() // now nothing listens at all

	// Restart the server on the same data; the receiver comes back after.
	srv.stop()
	srv = startServer(t, dir, database)
	api = testrig.LoginAPI(t, srv.base, "admin", adminPassword)
	rcv.SetDown(false)
	rcv.Reopen()
	closed := rcv.WaitFor(20*time.Second, "the closed event after the restart", kindOf("conversation.closed", inConv))
	if closed.Attempt < 3 || !strings.Contains(string(closed.Data), `"closedBy":"AGENT"`) {
		t.Fatalf("closed delivered on attempt %d with %s; want a retry after the 503s and the closed port", closed.Attempt, closed.Data)
	}
	// The restarted server's own events arrive too.
	c2 := testrig.NewConsumer(t, srv.base, "1000")
	conv2 := c2.Open("echo")
	rcv.WaitFor(20*time.Second, "opened after the restart", kindOf("conversation.opened", dataHas(conv2)))

	// Once the log settles (every delivery DELIVERED and received), every
	// idempotency key arrived exactly once, and every delivery verified.
	accepted, seen := settled(t, api, rcv, path)
	kinds := map[string]bool{}
	for _, h := range accepted {
		kinds[h.Type] = true
		if len(h.Matched) != 1 {
			t.Errorf("delivery %s verified with %v", h.ID, h.Matched)
		}
	}
	for _, k := range []string{"conversation.opened", "conversation.assigned", "conversation.transferred", "conversation.escalated",
		"conversation.closed", "bot.state_changed"} {
		if !kinds[k] {
			t.Errorf("no %s event", k)
		}
	}
	if bad, _ := rcv.Rejected(); bad != 0 {
		t.Errorf("%d deliveries failed verification", bad)
	}

	// A tampered body with a genuine signature is refused by the receiver.
	tampered := bytes.Replace(closed.Body, []byte(`"AGENT"`), []byte(`"CONSUMER"`), 1)
	req, _ := http.NewRequest(http.MethodPost, rcv.URL, bytes.NewReader(tampered))
	req.Header.Set("Botrelay-Signature", closed.Signature)
	req.Header.Set("Idempotency-Key", closed.ID)
	req.Header.Set("Botrelay-Event-Type", closed.Type)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if bad, _ := rcv.Rejected(); res.StatusCode != http.StatusBadRequest || bad != 1 || slices.Equal(tampered, closed.Body) {
		t.Fatalf("tampered delivery: status %d, %d rejected", res.StatusCode, bad)
	}
	t.Logf("%d events delivered once each; kinds %v", len(seen), kinds)
}

// settled waits until every delivery in the log at path is DELIVERED and
// the receiver accepted each event id, and returns what it accepted and how
// often it accepted each id. Every id accepted more than once, or that the
// log does not hold, is an error.
func settled(t *testing.T, api *testrig.API, rcv *testrig.WebhookReceiver, path string) ([]*testrig.Hook, map[string]int) {
	t.Helper()
	var all []json.RawMessage
	var accepted []*testrig.Hook
	seen := map[string]int{}
	var waiting []string // what the last look found not settled
	deadline := time.Now().Add(15 * time.Second)
	for {
		api.Do(http.MethodGet, path+"?limit=500", nil, http.StatusOK, &all)
		accepted = rcv.Accepted()
		clear(seen)
		for _, h := range accepted {
			seen[h.ID]++
		}
		waiting = waiting[:0]
		for _, raw := range all {
			var d deliveryJSON
			if err := json.Unmarshal(raw, &d); err != nil {
				t.Fatalf("delivery %s: %v", raw, err)
			}
			if d.State != "DELIVERED" || seen[d.EventID] == 0 {
				waiting = append(waiting, fmt.Sprintf("%s (received %d times)", raw, seen[d.EventID]))
			}
		}
		if len(waiting) == 0 && len(all) == len(seen) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 15 s, %d deliveries logged and %d events received; not settled:\n%s", len(all), len(seen), strings.Join(waiting, "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("event %s delivered %d times", id, n)
		}
	}
	return accepted, seen
}
