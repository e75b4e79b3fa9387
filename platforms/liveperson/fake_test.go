package liveperson

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/botrelay/botrelay"
)

// fakeLP follows LivePerson's documented wire shapes where they differ from
// the hub's: the skills API on accountConfigReadOnly, participants as a
// list, message events without conversationId. It records every request
// frame and lets the test push notifications.
type fakeLP struct {
	t   *testing.T
	srv *httptest.Server

	mu            sync.Mutex
	bearer        string
	logins        int
	refreshes     int
	refreshFail   bool // answer the next refresh with 401
	ignoreClock   bool
	conns         int
	conn          *websocket.Conn
	connBearers   []string
	seq           int64
	history       []map[string]any
	frames        chan map[string]any
	connected     chan struct{}
	refreshedOnce chan struct{}
}

func newFakeLP(t *testing.T) *fakeLP {
	f := &fakeLP{t: t, frames: make(chan map[string]any, 1000), connected: make(chan struct{}, 100), refreshedOnce: make(chan struct{}, 100)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/account/{acct}/service/baseURI.json", func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		writeJSONTest(w, 200, map[string]any{"baseURIs": []map[string]string{
			{"service": "agentVep", "account": "77", "baseURI": host},
			{"service": "asyncMessagingEnt", "account": "77", "baseURI": host},
			{"service": "accountConfigReadOnly", "account": "77", "baseURI": host},
		}})
	})
	mux.HandleFunc("POST /api/account/{acct}/login", func(w http.ResponseWriter, r *http.Request) {
		var b map[string]string
		_ = json.NewDecoder(r.Body).Decode(&b)
		if b["username"] != "bot" || b["appKey"] != "ak" || b["secret"] != "s3cr3t" || b["accessToken"] != "at" || b["accessTokenSecret"] != "ats3cr3t" {
			writeJSONTest(w, 401, map[string]any{"error": "Authentication failed", "internalCode": 28})
			return
		}
		f.mu.Lock()
		f.logins++
		f.bearer = fmt.Sprintf("bearer-%d", f.logins)
		bearer := f.bearer
		f.mu.Unlock()
		http.SetCookie(w, &http.Cookie{Name: "Session_id", Value: "sess-" + bearer})
		writeJSONTest(w, 200, map[string]any{"csrf": "csrf-" + bearer, "bearer": bearer, "sessionTTl": "28800000",
			"config": map[string]any{"userId": "42", "userPid": "pid-42", "loginName": "bot"}})
	})
	mux.HandleFunc("POST /api/account/{acct}/refresh", func(w http.ResponseWriter, r *http.Request) {
		var b map[string]string
		_ = json.NewDecoder(r.Body).Decode(&b)
		ck, _ := r.Cookie("Session_id")
		f.mu.Lock()
		ok := ck != nil && ck.Value == "sess-"+f.bearer && b["csrf"] == "csrf-"+f.bearer && !f.refreshFail
		f.refreshFail = false
		if ok {
			f.refreshes++
		}
		f.mu.Unlock()
		if !ok {
			writeJSONTest(w, 401, map[string]any{"error": "unauthorized"})
			return
		}
		f.refreshedOnce <- struct{}{}
		writeJSONTest(w, 200, map[string]any{"csrf": b["csrf"]})
	})
	mux.HandleFunc("POST /api/account/{acct}/logout", func(w http.ResponseWriter, r *http.Request) { writeJSONTest(w, 200, map[string]any{}) })
	mux.HandleFunc("GET /api/account/{acct}/configuration/le-users/skills", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		ok := r.Header.Get("Authorization") == "Bearer "+f.bearer && r.URL.Query().Get("v") == "4.0"
		f.mu.Unlock()
		if !ok {
			writeJSONTest(w, 401, map[string]any{"error": "unauthorized"})
			return
		}
		writeJSONTest(w, 200, []map[string]any{{"id": 12, "name": "bot", "deleted": false}, {"id": 13, "name": "gone", "deleted": true},
			{"id": 14, "name": "human", "deleted": false}})
	})
	mux.HandleFunc("GET /ws_api/account/{acct}/messaging/brand/{token}", f.ws)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func writeJSONTest(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeLP) ws(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	ok := r.PathValue("token") == f.bearer && r.URL.Query().Get("v") == "2.1"
	f.mu.Unlock()
	if !ok {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	f.mu.Lock()
	f.conns++
	f.conn = c
	f.connBearers = append(f.connBearers, r.PathValue("token"))
	f.mu.Unlock()
	f.connected <- struct{}{}
	ctx := context.Background()
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			return
		}
		var req map[string]any
		if json.Unmarshal(data, &req) != nil {
			continue
		}
		f.frames <- req
		typ, _ := req["type"].(string)
		var body any = map[string]any{}
		f.mu.Lock()
		switch typ {
		case ".GetClock":
			if f.ignoreClock {
				f.mu.Unlock()
				continue
			}
			body = map[string]any{"currentTime": time.Now().UnixMilli()}
		case ".ams.aam.SubscribeExConversations":
			body = map[string]any{"subscriptionId": "sub-1"}
		case ".ams.ms.PublishEvent":
			f.seq++
			body = map[string]any{"sequence": f.seq}
		case ".ams.ms.QueryMessages":
			body = f.history
		}
		f.mu.Unlock()
		resp, _ := json.Marshal(map[string]any{"kind": "resp", "reqId": req["id"], "code": 200, "type": typ + "$Response", "body": body})
		_ = c.Write(ctx, websocket.MessageText, resp)
	}
}

func (f *fakeLP) notify(typ string, body any) {
	f.t.Helper()
	f.mu.Lock()
	c := f.conn
	f.mu.Unlock()
	b, _ := json.Marshal(map[string]any{"kind": "notification", "type": typ, "body": body})
	if err := c.Write(context.Background(), websocket.MessageText, b); err != nil {
		f.t.Fatal(err)
	}
}

// nextFrame returns the next request frame of the type, skipping others.
func (f *fakeLP) nextFrame(typ string) map[string]any {
	f.t.Helper()
	timer := time.NewTimer(waitLimit)
	defer timer.Stop()
	for {
		select {
		case fr := <-f.frames:
			if fr["type"] == typ {
				return fr
			}
		case <-timer.C:
			f.t.Fatalf("timed out waiting for a %s request", typ)
		}
	}
}

func (f *fakeLP) adapter(mod func(*Options)) *Adapter {
	opts := Options{Logger: quietLogger(), ReconnectMin: 10 * time.Millisecond, ReconnectMax: 50 * time.Millisecond, RequestTimeout: 2 * time.Second}
	if mod != nil {
		mod(&opts)
	}
	a, err := New(Config{Account: "77", CSDSDomain: f.srv.URL, Username: "bot", AppKey: "ak", Secret: "s3cr3t",
		AccessToken: "at", AccessTokenSecret: "ats3cr3t"}, opts)
	if err != nil {
		f.t.Fatal(err)
	}
	return a
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// conversationNotification is a LivePerson-style conversation change with
// participants as a list.
func conversationNotification(typ, conv, state string, assigned []string, dialogs ...map[string]any) map[string]any {
	parts := []map[string]any{{"id": "consumer-1", "role": "CONSUMER"}}
	for _, a := range assigned {
		parts = append(parts, map[string]any{"id": a, "role": "ASSIGNED_AGENT"})
	}
	if len(dialogs) == 0 {
		dialogs = []map[string]any{{"dialogId": conv, "dialogType": "MAIN", "state": "OPEN"}}
	}
	return map[string]any{"subscriptionId": "sub-1", "changes": []any{map[string]any{"type": typ, "result": map[string]any{
		"convId": conv, "conversationDetails": map[string]any{"convId": conv, "skillId": "12", "state": state,
			"participants": parts, "dialogs": dialogs, "context": map[string]any{"type": "SharkContext"}}}}}}
}

func TestLivePersonWireShapes(t *testing.T) {
	f := newFakeLP(t)
	a := f.adapter(nil)
	ctx := context.Background()

	skills, err := a.Skills(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(skills) != 2 || skills["bot"] != 12 || skills["human"] != 14 {
		t.Fatalf("Skills = %v", skills)
	}

	rec := newRecorder()
	running(t, a, rec)
	sub := f.nextFrame(".ams.aam.SubscribeExConversations")
	if got := mustJSON(sub["body"]); got != `{"agentIds":["77.42"],"brandId":"77","convState":["OPEN"]}` {
		t.Fatalf("SubscribeExConversations body = %s", got)
	}
	f.nextFrame(".ams.routing.SubscribeRoutingTasks")
	if got := mustJSON(f.nextFrame(".ams.routing.SetAgentState")["body"]); got != `{"agentUserId":"pid-42","availability":"ONLINE","channels":["MESSAGING"]}` {
		t.Fatalf("SetAgentState body = %s", got)
	}
	rec.waitOnline(t)
	if a.UserID() != "77.42" {
		t.Fatalf("UserID = %q", a.UserID())
	}

	// A ring is accepted by the adapter.
	f.notify(".ams.routing.RoutingTaskNotification", map[string]any{"subscriptionId": "r", "changes": []any{map[string]any{
		"type": "UPSERT", "result": map[string]any{"conversationId": "c1", "consumerId": "consumer-1", "skillId": 12,
			"ringsDetails": []any{map[string]any{"ringId": "ring-1", "ringState": "WAITING"}}}}}})
	if got := mustJSON(f.nextFrame(".ams.routing.UpdateRingState")["body"]); got != `{"ringId":"ring-1","ringState":"ACCEPTED"}` {
		t.Fatalf("UpdateRingState body = %s", got)
	}

	f.notify(".ams.aam.ExConversationChangeNotification", conversationNotification("UPSERT", "c1", "OPEN", []string{"77.42"}))
	ev := rec.waitKind(t, botrelay.EventAssigned, "c1")
	if ev.Conversation.SkillID != 12 || ev.Conversation.SkillName != "bot" || ev.Conversation.ConsumerID != "consumer-1" || ev.Conversation.DialogID != "c1" {
		t.Fatalf("assigned = %+v", ev.Conversation)
	}
	ref := ev.Conversation
	// The same state again is no news.
	f.notify(".ams.aam.ExConversationChangeNotification", conversationNotification("UPSERT", "c1", "OPEN", []string{"77.42"}))

	// Our own message and another agent's are ignored; a file is not.
	for _, role := range []string{"ASSIGNED_AGENT", "MANAGER"} {
		f.notify(".ams.ms.OnlineEventDistribution", map[string]any{"sequence": 1, "dialogId": "c1", "originatorId": "77.42",
			"originatorMetadata": map[string]any{"id": "pid-42", "role": role},
			"event":              map[string]any{"type": "ContentEvent", "contentType": "text/plain", "message": "from " + role}})
	}
	f.notify(".ams.ms.OnlineEventDistribution", map[string]any{"sequence": 2, "dialogId": "c1", "serverTimestamp": 1700000000000,
		"originatorId": "consumer-1", "originatorMetadata": map[string]any{"id": "consumer-1", "role": "CONSUMER"},
		"event": map[string]any{"type": "ContentEvent", "contentType": "hosted/file",
			"message": map[string]any{"relativePath": "/v1/files/a.png", "fileType": "PNG", "caption": "receipt", "preview": "data:"}}})
	msg := rec.waitEvent(t, "the next event", func(*botrelay.PlatformEvent) bool { return true })
	if msg.Kind != botrelay.EventConsumerMessage || msg.File == nil || *msg.File != (botrelay.File{RelativePath: "/v1/files/a.png", FileType: "PNG", Caption: "receipt"}) ||
		msg.Sequence != 2 || !msg.At.Equal(time.UnixMilli(1700000000000)) {
		t.Fatalf("file event = %+v", msg)
	}
	f.notify(".ams.ms.OnlineEventDistribution", map[string]any{"sequence": 0, "dialogId": "c1", "originatorId": "consumer-1",
		"originatorMetadata": map[string]any{"role": "CONSUMER"}, "event": map[string]any{"type": "ChatStateEvent", "chatState": "ACTIVE"}})
	if ty := rec.waitKind(t, botrelay.EventConsumerTyping, "c1"); ty.Typing {
		t.Fatalf("ACTIVE = %+v", ty)
	}

	// Publish: request-level metadata and encodedMetadata, audience in the body.
	if _, err := a.Publish(ctx, ref, &botrelay.Message{Text: "note", Audience: botrelay.AudienceAgentsAndManagers,
		Metadata: json.RawMessage(`{"type":"BotResponse","intents":[]}`), EncodedMetadata: "e30="}); err != nil {
		t.Fatal(err)
	}
	pub := f.nextFrame(".ams.ms.PublishEvent")
	if got := mustJSON(pub["body"]); got != `{"dialogId":"c1","event":{"contentType":"text/plain","message":"note","type":"ContentEvent"},"messageAudience":"AGENTS_AND_MANAGERS"}` {
		t.Fatalf("PublishEvent body = %s", got)
	}
	if mustJSON(pub["metadata"]) != `[{"intents":[],"type":"BotResponse"}]` || pub["encodedMetadata"] != "e30=" {
		t.Fatalf("PublishEvent frame = %s", mustJSON(pub))
	}
	if _, err := a.Publish(ctx, ref, &botrelay.Message{}); botrelay.ErrorCode(err) != botrelay.EINVALID {
		t.Fatalf("empty Publish = %v", err)
	}

	// Transfer to an agent.
	if err := a.Transfer(ctx, ref, 14, "99"); err != nil {
		t.Fatal(err)
	}
	tr := f.nextFrame(".ams.cm.UpdateConversationField")
	if got := mustJSON(tr["body"]); got != `{"conversationField":[{"field":"ParticipantsChange","role":"ASSIGNED_AGENT","type":"REMOVE"},`+
		`{"field":"ParticipantsChange","role":"ASSIGNED_AGENT","type":"SUGGEST","userId":"77.99"},{"field":"Skill","skill":"14","type":"UPDATE"}],"conversationId":"c1"}` {
		t.Fatalf("transfer body = %s", got)
	}
	if got := mustJSON(tr["metadata"]); got != `[{"reason":"escalated_by_bot","reasonId":"3","type":"ActionReason"}]` {
		t.Fatalf("transfer metadata = %s", got)
	}

	// Close with PCS closes the main dialog; without, the conversation.
	if err := a.Close(ctx, ref, false); err != nil {
		t.Fatal(err)
	}
	if got := mustJSON(f.nextFrame(".ams.cm.UpdateConversationField")["body"]); got != `{"conversationField":[{"dialog":{"dialogId":"c1","state":"CLOSE"},"field":"DialogChange","type":"UPDATE"}],"conversationId":"c1"}` {
		t.Fatalf("close body = %s", got)
	}
	if err := a.Close(ctx, ref, true); err != nil {
		t.Fatal(err)
	}
	if got := mustJSON(f.nextFrame(".ams.cm.UpdateConversationField")["body"]); got != `{"conversationField":[{"conversationState":"CLOSE","field":"ConversationStateField"}],"conversationId":"c1"}` {
		t.Fatalf("close body = %s", got)
	}
	if err := a.SetTTR(ctx, ref, "prioritized", 0); err != nil {
		t.Fatal(err)
	}
	if got := mustJSON(f.nextFrame(".ams.cm.UpdateConversationField")["body"]); got != `{"conversationField":[{"field":"TTRField","ttrType":"PRIORITIZED"}],"conversationId":"c1"}` {
		t.Fatalf("ttr body = %s", got)
	}
	// CUSTOM: LivePerson's TTRField with the value in seconds (F29).
	if err := a.SetTTR(ctx, ref, "CUSTOM", 300); err != nil {
		t.Fatal(err)
	}
	if got := mustJSON(f.nextFrame(".ams.cm.UpdateConversationField")["body"]); got != `{"conversationField":[{"field":"TTRField","ttrType":"CUSTOM","value":300}],"conversationId":"c1"}` {
		t.Fatalf("custom ttr body = %s", got)
	}
	if err := a.SetTTR(ctx, ref, "CUSTOM", 0); botrelay.ErrorCode(err) != botrelay.EINVALID {
		t.Fatalf("SetTTR(CUSTOM, 0) = %v, want EINVALID", err)
	}

	// History: the consumer's messages and other agents' (which tell the
	// relay where another agent's part ended), sorted.
	f.mu.Lock()
	f.history = []map[string]any{
		{"sequence": 5, "dialogId": "c1", "originatorMetadata": map[string]any{"role": "CONSUMER"}, "event": map[string]any{"type": "ContentEvent", "message": "five"}},
		{"sequence": 4, "dialogId": "c1", "originatorMetadata": map[string]any{"role": "ASSIGNED_AGENT"}, "event": map[string]any{"type": "ContentEvent", "message": "bot"}},
		{"sequence": 3, "dialogId": "c1", "originatorMetadata": map[string]any{"role": "CONSUMER"}, "event": map[string]any{"type": "ContentEvent", "message": "three"}},
		{"sequence": 2, "dialogId": "c1", "originatorMetadata": map[string]any{"role": "CONSUMER"}, "event": map[string]any{"type": "ContentEvent", "message": "old"}},
	}
	f.mu.Unlock()
	hist, err := a.History(ctx, ref, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 3 || hist[0].Text != "three" || hist[0].Kind != botrelay.EventConsumerMessage ||
		hist[1].Text != "bot" || hist[1].Kind != botrelay.EventAgentMessage || hist[1].Sequence != 4 ||
		hist[2].Text != "five" || hist[2].Kind != botrelay.EventConsumerMessage {
		t.Fatalf("History = %+v", hist)
	}
	if got := mustJSON(f.nextFrame(".ams.ms.QueryMessages")["body"]); got != `{"dialogId":"c1","maxQuantity":100,"newerThanSequence":2}` {
		t.Fatalf("QueryMessages body = %s", got)
	}

	// A survey dialog opens: an agent bot is done with the conversation.
	f.notify(".ams.aam.ExConversationChangeNotification", conversationNotification("UPSERT", "c1", "OPEN", []string{"77.42"},
		map[string]any{"dialogId": "c1", "dialogType": "MAIN", "state": "CLOSE"},
		map[string]any{"dialogId": "pcs-1", "dialogType": "POST_SURVEY", "state": "OPEN"}))
	if un := rec.waitKind(t, botrelay.EventUnassigned, "c1"); !un.Closed || un.Conversation.DialogID != "pcs-1" {
		t.Fatalf("survey for an agent bot = %+v", un)
	}

	// A conversation transferred away by someone else.
	f.notify(".ams.aam.ExConversationChangeNotification", conversationNotification("UPSERT", "c2", "OPEN", []string{"77.42"}))
	rec.waitKind(t, botrelay.EventAssigned, "c2")
	f.notify(".ams.aam.ExConversationChangeNotification", conversationNotification("DELETE", "c2", "OPEN", nil))
	if un := rec.waitKind(t, botrelay.EventUnassigned, "c2"); un.Closed {
		t.Fatalf("transferred away = %+v", un)
	}
}

// TestKeepalive: an unanswered .GetClock makes the adapter drop the socket
// and connect again.
func TestKeepalive(t *testing.T) {
	f := newFakeLP(t)
	f.mu.Lock()
	f.ignoreClock = true
	f.mu.Unlock()
	a := f.adapter(func(o *Options) { o.PingInterval = 20 * time.Millisecond; o.RequestTimeout = 100 * time.Millisecond })
	rec := newRecorder()
	running(t, a, rec)
	rec.waitOnline(t)
	if err := waitState(t, rec); err == nil {
		t.Fatal("no interruption after the keepalive went unanswered")
	}
	rec.waitOnline(t)
	f.mu.Lock()
	conns := f.conns
	f.mu.Unlock()
	if conns < 2 {
		t.Fatalf("connections = %d", conns)
	}
}

// TestRefresh: the session is refreshed with the csrf token and the
// Session_id cookie; a 401 on refresh means a new login and a new socket.
func TestRefresh(t *testing.T) {
	f := newFakeLP(t)
	a := f.adapter(func(o *Options) { o.RefreshInterval = 20 * time.Millisecond })
	rec := newRecorder()
	_, done := running(t, a, rec)
	rec.waitOnline(t)
	for i := 0; i < 2; i++ {
		select {
		case <-f.refreshedOnce:
		case <-time.After(waitLimit):
			t.Fatal("no refresh")
		}
	}
	f.mu.Lock()
	f.refreshFail = true
	f.mu.Unlock()
	eventually(t, "a second login and socket", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.logins >= 2 && len(f.connBearers) >= 2 && f.connBearers[len(f.connBearers)-1] == f.bearer
	})
	select {
	case err := <-done:
		t.Fatalf("Run returned %v", err)
	default:
	}
}

// TestLoginRejectedByLivePerson: LivePerson's error body is named, the
// secrets are not.
func TestLoginRejectedByLivePerson(t *testing.T) {
	f := newFakeLP(t)
	a, err := New(Config{Account: "77", CSDSDomain: f.srv.URL, Username: "bot", AppKey: "ak", Secret: "wrong-secret",
		AccessToken: "at", AccessTokenSecret: "ats3cr3t"}, Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	err = a.Run(context.Background(), newRecorder())
	if err == nil || !strings.Contains(err.Error(), "Authentication failed") || strings.Contains(err.Error(), "wrong-secret") ||
		strings.Contains(err.Error(), "ats3cr3t") {
		t.Fatalf("Run = %v", err)
	}
}
