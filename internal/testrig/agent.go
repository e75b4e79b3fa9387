package testrig

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Agent is a human agent on the hub's agent protocol, as the agent console
// uses it: password login, ONLINE, routing tasks and conversations.
type Agent struct {
	t      testing.TB
	conn   *websocket.Conn
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	next    int
	waiting map[string]chan frame
	rings   []string // conversation ids of waiting rings, with their ring ids
	ringIDs map[string]string
	changed chan struct{}
}

// NewAgent logs in with a password and goes ONLINE with subscriptions to
// routing tasks and conversations.
func NewAgent(t testing.TB, base, account, username, password string) *Agent {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": username, "password": password})
	resp, err := http.Post(base+"/api/account/"+account+"/login?v=1.3", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	var login struct {
		Bearer string `json:"bearer"`
		Config struct {
			UserPid string `json:"userPid"`
			UserID  string `json:"userId"`
		} `json:"config"`
	}
	err = json.NewDecoder(resp.Body).Decode(&login)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || login.Bearer == "" {
		t.Fatalf("agent login: status %d, %v", resp.StatusCode, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ws := "ws" + strings.TrimPrefix(base, "http") + "/ws_api/account/" + account + "/messaging/brand/" + login.Bearer + "?v=2.1"
	conn, _, err := websocket.Dial(ctx, ws, nil)
	if err != nil {
		cancel()
		t.Fatalf("agent websocket: %v", err)
	}
	conn.SetReadLimit(4 << 20)
	a := &Agent{t: t, conn: conn, ctx: ctx, cancel: cancel, waiting: map[string]chan frame{},
		ringIDs: map[string]string{}, changed: make(chan struct{}, 1)}
	go a.read()
	t.Cleanup(func() { cancel(); conn.Close(websocket.StatusNormalClosure, "") })
	a.must(".ams.routing.SubscribeRoutingTasks", map[string]any{})
	a.must(".ams.aam.SubscribeExConversations", map[string]any{"convState": []string{"OPEN"}, "agentIds": []string{account + "." + login.Config.UserID}})
	a.must(".ams.routing.SetAgentState", map[string]any{"availability": "ONLINE", "channels": []string{"MESSAGING"}, "agentUserId": login.Config.UserPid})
	return a
}

func (a *Agent) read() {
	for {
		_, data, err := a.conn.Read(a.ctx)
		if err != nil {
			return
		}
		var f frame
		if json.Unmarshal(data, &f) != nil {
			continue
		}
		if f.Kind == "resp" {
			a.mu.Lock()
			ch := a.waiting[f.ReqID]
			delete(a.waiting, f.ReqID)
			a.mu.Unlock()
			if ch != nil {
				ch <- f
			}
			continue
		}
		if f.Type != ".ams.routing.RoutingTaskNotification" {
			continue
		}
		var body struct {
			Changes []struct {
				Type   string `json:"type"`
				Result struct {
					ConversationID string `json:"conversationId"`
					Rings          []struct {
						RingID    string `json:"ringId"`
						RingState string `json:"ringState"`
					} `json:"ringsDetails"`
				} `json:"result"`
			} `json:"changes"`
		}
		if json.Unmarshal(f.Body, &body) != nil {
			continue
		}
		a.mu.Lock()
		for _, ch := range body.Changes {
			for _, r := range ch.Result.Rings {
				if ch.Type == "UPSERT" && r.RingState == "WAITING" {
					a.ringIDs[ch.Result.ConversationID] = r.RingID
				}
			}
		}
		a.mu.Unlock()
		select {
		case a.changed <- struct{}{}:
		default:
		}
	}
}

// Request sends one request and returns the response code and body.
func (a *Agent) Request(typ string, body any) (int, json.RawMessage) {
	a.t.Helper()
	a.mu.Lock()
	a.next++
	id := strconv.Itoa(a.next)
	ch := make(chan frame, 1)
	a.waiting[id] = ch
	a.mu.Unlock()
	raw, _ := json.Marshal(body)
	data, _ := json.Marshal(frame{Kind: "req", ID: id, Type: typ, Body: raw})
	ctx, cancel := context.WithTimeout(a.ctx, 10*time.Second)
	defer cancel()
	if err := a.conn.Write(ctx, websocket.MessageText, data); err != nil {
		a.t.Fatalf("%s: %v", typ, err)
	}
	select {
	case f := <-ch:
		return f.Code, f.Body
	case <-ctx.Done():
		a.t.Fatalf("%s: no response within 10s", typ)
		return 0, nil
	}
}

func (a *Agent) must(typ string, body any) json.RawMessage {
	a.t.Helper()
	code, resp := a.Request(typ, body)
	if code != 200 {
		a.t.Fatalf("%s: %d %s", typ, code, resp)
	}
	return resp
}

// AcceptRing waits for a ring on the conversation and accepts it.
func (a *Agent) AcceptRing(convID string, d time.Duration) {
	a.t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		a.mu.Lock()
		ring := a.ringIDs[convID]
		a.mu.Unlock()
		if ring != "" {
			a.must(".ams.routing.UpdateRingState", map[string]any{"ringId": ring, "ringState": "ACCEPTED"})
			return
		}
		select {
		case <-a.changed:
		case <-deadline.C:
			a.t.Fatalf("no ring for conversation %s within %v", convID, d)
		}
	}
}

// History returns the texts of the conversation's main dialog, in order,
// with who sent them ("consumer", "bot" or "agent").
func (a *Agent) History(convID string) []string {
	a.t.Helper()
	raw := a.must(".ams.ms.QueryMessages", map[string]any{"dialogId": convID, "newerThanSequence": 0})
	var evs []*Event
	if err := json.Unmarshal(raw, &evs); err != nil {
		a.t.Fatalf("QueryMessages answer: %v", err)
	}
	var out []string
	for _, e := range evs {
		if e.Text() == "" {
			continue
		}
		who := "consumer"
		if e.Meta.Role != "CONSUMER" {
			who = "agent"
			if e.Meta.UserType == "BOT" {
				who = "bot"
			}
		}
		out = append(out, who+": "+e.Text())
	}
	return out
}

// WaitRing waits for any ring and returns its conversation id.
func (a *Agent) WaitRing(d time.Duration) string {
	a.t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		a.mu.Lock()
		for conv := range a.ringIDs {
			a.mu.Unlock()
			return conv
		}
		a.mu.Unlock()
		select {
		case <-a.changed:
		case <-deadline.C:
			a.t.Fatalf("no ring within %v", d)
		}
	}
}
