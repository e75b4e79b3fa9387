package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/function"
	"github.com/botrelay/botrelay/internal/botstats"
	"github.com/botrelay/botrelay/internal/relay"
	"github.com/botrelay/botrelay/internal/testrig"
)

// lateObserver passes the relay's calls to the recorder made after the rig
// (the recorder needs the rig's store).
type lateObserver struct{ rec *botstats.Recorder }

func (l *lateObserver) VendorCall(b *botrelay.Bot, d time.Duration, err error) {
	l.rec.VendorCall(b, d, err)
}
func (l *lateObserver) Escalated(b *botrelay.Bot, code string) { l.rec.Escalated(b, code) }
func (l *lateObserver) Conversation(b *botrelay.Bot, ev relay.ConversationEvent) {
	l.rec.Conversation(b, ev)
}
func (l *lateObserver) ErrorLogged(b *botrelay.Bot, code string) { l.rec.ErrorLogged(b, code) }
func (l *lateObserver) StateChanged(b *botrelay.Bot, s botrelay.BotState, at time.Time) {
	l.rec.StateChanged(b, s, at)
}

// newStatsEnv is an API on a rig whose relay feeds a running Recorder that
// flushes every 50 ms.
func newStatsEnv(t *testing.T) (*env, *botstats.Recorder) {
	t.Helper()
	late := &lateObserver{}
	rig := testrig.NewRig(t, testrig.RigOptions{Vendors: []botrelay.VendorConnector{function.Connector{}}, Observer: late})
	late.rec = botstats.New(botstats.Options{Store: rig.Store, FlushEvery: 50 * time.Millisecond, Logger: rig.Log})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { late.rec.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	a := New(Options{Store: rig.Store, Relay: rig.Relay, Box: rig.Box, Registry: rig.Registry, Account: testrig.Account,
		Logger: rig.Log, Signer: rig.Signer})
	mux := http.NewServeMux()
	a.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	admin, err := rig.Store.UserByLogin(context.Background(), testrig.Account, "admin")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, rig: rig, api: a, srv: srv, spec: newSpecChecker(t, a), users: map[string]*botrelay.User{"Admin": admin},
		tokens: map[string]string{}}
	_, tok, err := a.sessions.newToken(context.Background(), admin.ID, "test")
	if err != nil {
		t.Fatal(err)
	}
	e.tokens["Admin"] = tok
	return e, late.rec
}

// statsBot answers "agent" with a transfer to human, "bye" with a close,
// "boom" with a failure (an escalation) and anything else with an echo.
const statsBot = `function lambda(input, cb) {
  var m = String(input.payload.message || "");
  if (m === "agent") return cb(null, {messages: ["Transferring."], context: {action: "TRANSFER", actionParameters: {skill: "human"}}});
  if (m === "bye") return cb(null, {messages: ["Bye."], context: {action: "CLOSE_CONVERSATION"}});
  if (m === "boom") return cb(new Error("kaput"));
  cb(null, {messages: ["echo: " + m]});
}`

// TestBotStatsAfterTraffic sends four real conversations through the hub
// and the relay and reads the bot's figures from the API: 4 handled, 1
// transferred (the bot's transfer), 1 escalated (a vendor failure), 2
// closed (one by the bot, one by the consumer), containment 2/4, 5 vendor
// calls of which 1 failed, the error log's codes, and uptime.
func TestBotStatsAfterTraffic(t *testing.T) {
	e, rec := newStatsEnv(t)
	r := e.rig
	b := r.AddBot("stats", testrig.BotOptions{Vendor: "function", Settings: map[string]any{"code": statsBot, "timeoutMs": 2000}})
	r.Start(b, botrelay.BotOnline)
	const wait = 15 * time.Second

	closer := testrig.NewConsumer(t, r.URL, string(testrig.Account))
	closer.Open("bot")
	closer.Say("hello")
	closer.WaitTexts(wait, "echo: hello")
	closer.Say("bye")
	closer.WaitTexts(wait, "Bye.")

	transfer := testrig.NewConsumer(t, r.URL, string(testrig.Account))
	tid := transfer.Open("bot")
	transfer.Say("agent")
	r.WaitSkill(tid, "human", wait)

	boom := testrig.NewConsumer(t, r.URL, string(testrig.Account))
	bid := boom.Open("bot")
	boom.Say("boom")
	r.WaitSkill(bid, "human", wait)

	leaver := testrig.NewConsumer(t, r.URL, string(testrig.Account))
	lid := leaver.Open("bot")
	leaver.Say("hi")
	leaver.WaitTexts(wait, "echo: hi")
	if code, body := leaver.Request("cm.UpdateConversationField", map[string]any{"conversationId": lid,
		"conversationField": []any{map[string]any{"field": "ConversationStateField", "conversationState": "CLOSE"}}}); code != 200 {
		t.Fatalf("consumer close: %d %s", code, body)
	}

	path := "/api/v1/bots/" + string(b.ID) + "/stats"
	var s botstats.Series
	testrig.Eventually(t, wait, "figures of 4 conversations", func() bool {
		e.admin(http.MethodGet, path, nil, http.StatusOK).decode(t, &s)
		x := s.Totals
		return x.Handled == 4 && x.Closed == 2 && x.Transferred == 1 && x.Escalated == 1
	})
	// Nothing more arrives later: once the bot is stopped (Offline, its
	// workers done) and the recorder flushed, the counts are exact.
	e.admin(http.MethodPost, "/api/v1/bots/"+string(b.ID)+"/stop", nil, http.StatusOK)
	if err := rec.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.admin(http.MethodGet, path, nil, http.StatusOK).decode(t, &s)
	x := s.Totals
	if x.Handled != 4 || x.Transferred != 1 || x.Escalated != 1 || x.Closed != 2 {
		t.Errorf("handled %d transferred %d escalated %d closed %d; want 4 1 1 2", x.Handled, x.Transferred, x.Escalated, x.Closed)
	}
	if x.ContainmentRate == nil || *x.ContainmentRate != 0.5 {
		t.Errorf("containment rate %v, want 0.5", x.ContainmentRate)
	}
	if x.VendorCalls != 5 || x.VendorErrors != 1 {
		t.Errorf("vendor calls %d (errors %d), want 5 (1)", x.VendorCalls, x.VendorErrors)
	}
	if x.LatencyP50Ms == nil || x.LatencyP95Ms == nil || *x.LatencyP50Ms > *x.LatencyP95Ms {
		t.Errorf("latency p50 %v p95 %v", x.LatencyP50Ms, x.LatencyP95Ms)
	}
	logged := map[string]int64{}
	for _, code := range r.Errors(b) {
		logged[code]++
	}
	if len(logged) == 0 || len(x.Errors) != len(logged) {
		t.Errorf("errors by code %v, error log %v", x.Errors, logged)
	}
	for code, n := range logged {
		if x.Errors[code] != n {
			t.Errorf("errors[%s] = %d, the error log has %d", code, x.Errors[code], n)
		}
	}
	if x.StartedMs <= 0 || x.OnlineMs <= 0 || x.OnlineMs > x.StartedMs || x.Uptime == nil {
		t.Errorf("started %d ms, online %d ms, uptime %v", x.StartedMs, x.OnlineMs, x.Uptime)
	}
	var sum int64
	for _, p := range s.Points {
		sum += p.Handled
	}
	if sum != 4 || s.Step != "5m" || s.Resolution != "1m" {
		t.Errorf("points: handled %d in %d points of %s (%s)", sum, len(s.Points), s.Step, s.Resolution)
	}
}

// TestBotStatsRequests: the query's errors are 400 with the JSON error
// body, an unknown bot is 404, and credentials are needed.
func TestBotStatsRequests(t *testing.T) {
	e, _ := newStatsEnv(t)
	b := e.rig.AddBot("q", testrig.BotOptions{Vendor: "function", Settings: map[string]any{"code": statsBot}})
	path := "/api/v1/bots/" + string(b.ID) + "/stats"
	for q, msg := range map[string]string{
		"?step=30s":    "step must be a whole number of minutes, e.g. 1m, 15m or 1h",
		"?step=soon":   "step must be a duration such as 1m, 15m or 1h",
		"?from=monday": "from must be an RFC 3339 time such as 2026-12-06T10:00:00Z",
		"?from=2026-12-06T10:00:00Z&to=2026-12-06T09:00:00Z": "from must be before to",
	} {
		var eb struct {
			Error struct{ Code, Message string }
		}
		e.admin(http.MethodGet, path+q, nil, http.StatusBadRequest).decode(t, &eb)
		if eb.Error.Code != botrelay.EINVALID || eb.Error.Message != msg {
			t.Errorf("%s: %+v, want %q", q, eb.Error, msg)
		}
	}
	e.admin(http.MethodGet, "/api/v1/bots/nope/stats", nil, http.StatusNotFound)
	if r := e.do(nil, http.MethodGet, path, "", nil); r.status != http.StatusUnauthorized {
		t.Errorf("without credentials: %d", r.status)
	}
	var s botstats.Series
	e.admin(http.MethodGet, path+"?from=2026-12-06T10:00:00Z&to=2026-12-06T11:00:00Z&step=15m", nil, http.StatusOK).decode(t, &s)
	if len(s.Points) != 4 || s.Points[1].At != "2026-12-06T10:15:00Z" || s.Totals.Uptime != nil || s.Totals.ContainmentRate != nil {
		t.Errorf("an hour in quarters: %+v", s)
	}
}
