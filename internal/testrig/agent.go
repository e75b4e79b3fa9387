package testrig

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Agent is a human agent on the hub's agent protocol, as the agent console
// uses it: password login, ONLINE, routing tasks and conversations.
type Agent struct {
	*peer
	t testing.TB
	// UserID is the agent's user id (as the login's config gives it).
	UserID string
	// Bearer is the session's token; UserPid the user's pid.
	Bearer, UserPid string

	mu      sync.Mutex
	ringIDs map[string]string // waiting rings by conversation id
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
	return ResumeAgent(t, base, account, login.Bearer, login.Config.UserID, login.Config.UserPid)
}

// ResumeAgent connects with the bearer of an existing session (as the agent
// console does after a reconnect, possibly to another node of a cluster)
// and goes ONLINE with the same subscriptions as NewAgent.
func ResumeAgent(t testing.TB, base, account, bearer, userID, userPid string) *Agent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ws := "ws" + strings.TrimPrefix(base, "http") + "/ws_api/account/" + account + "/messaging/brand/" + bearer + "?v=2.1"
	conn, _, err := websocket.Dial(ctx, ws, nil)
	if err != nil {
		cancel()
		t.Fatalf("agent websocket: %v", err)
	}
	a := &Agent{t: t, UserID: userID, Bearer: bearer, UserPid: userPid, ringIDs: map[string]string{}, changed: make(chan struct{}, 1)}
	a.peer = newPeer(t, ctx, cancel, conn, a.notification)
	t.Cleanup(a.Close)
	a.must(".ams.routing.SubscribeRoutingTasks", map[string]any{})
	a.must(".ams.aam.SubscribeExConversations", map[string]any{"convState": []string{"OPEN"}, "agentIds": []string{account + "." + userID}})
	a.must(".ams.routing.SetAgentState", map[string]any{"availability": "ONLINE", "channels": []string{"MESSAGING"}, "agentUserId": userPid})
	return a
}

func (a *Agent) notification(f frame) {
	if f.Type != ".ams.routing.RoutingTaskNotification" {
		return
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
		return
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

// Say publishes a text into the conversation's main dialog.
func (a *Agent) Say(convID, text string) {
	a.t.Helper()
	a.must(".ams.ms.PublishEvent", map[string]any{"dialogId": convID, "conversationId": convID,
		"event": map[string]any{"type": "ContentEvent", "contentType": "text/plain", "message": text}})
}

// Transfer leaves the conversation to a skill (by id), suggesting the user
// agentUserID when it is not empty, as the agent console's transfer does.
func (a *Agent) Transfer(convID string, skillID int64, agentUserID string) {
	a.t.Helper()
	fields := []map[string]any{{"field": "ParticipantsChange", "type": "REMOVE", "role": "ASSIGNED_AGENT"}}
	if agentUserID != "" {
		fields = append(fields, map[string]any{"field": "ParticipantsChange", "type": "SUGGEST", "role": "ASSIGNED_AGENT", "userId": agentUserID})
	}
	fields = append(fields, map[string]any{"field": "Skill", "type": "UPDATE", "skill": skillID})
	a.must(".ams.cm.UpdateConversationField", map[string]any{"conversationId": convID, "conversationField": fields})
}
