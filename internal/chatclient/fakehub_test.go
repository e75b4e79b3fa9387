package chatclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// fakeHub follows the hub's consumer protocol contract closely enough to
// drive the client: consumer tokens, the consumer websocket, one conversation
// per consumer and a scripted bot that answers each consumer text.
type fakeHub struct {
	t       *testing.T
	account string

	mu        sync.Mutex
	tokens    map[string]string // token → consumer id
	refreshes int               // token requests that carried a valid bearer
	convs     map[string]*fakeConv
	lastSkill string
}

type fakeConv struct {
	id, consumer, skill, state string
	agents                     []string
	names                      map[string]string
	dialogs                    []map[string]any
	events                     map[string][]map[string]any // dialog id → events
}

func newFakeHub(t *testing.T) *fakeHub {
	return &fakeHub{t: t, account: "1000", tokens: map[string]string{}, convs: map[string]*fakeConv{}}
}

func (h *fakeHub) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/account/{account}/consumer/token", h.token)
	mux.HandleFunc("GET /ws_api/account/{account}/messaging/consumer", h.ws)
	return mux
}

func (h *fakeHub) token(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.PathValue("account") != h.account {
		http.Error(w, "no such account", http.StatusNotFound)
		return
	}
	tok := fmt.Sprintf("tok-%d", len(h.tokens)+1)
	consumer := fmt.Sprintf("consumer-%d", len(h.tokens)+1)
	if old, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		c, known := h.tokens[old]
		if !known {
			http.Error(w, `{"error":{"code":"unauthorized","message":"bad token"}}`, http.StatusUnauthorized)
			return
		}
		consumer = c
		h.refreshes++
	}
	h.tokens[tok] = consumer
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"token": tok, "consumerId": consumer, "expiresAt": 0})
}

// fakeConn is one consumer websocket.
type fakeConn struct {
	h          *fakeHub
	ctx        context.Context
	conn       *websocket.Conn
	consumer   string
	subscribed map[string]bool
}

func (h *fakeHub) ws(w http.ResponseWriter, r *http.Request) {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	h.mu.Lock()
	consumer, ok := h.tokens[tok]
	h.mu.Unlock()
	if !ok {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer conn.CloseNow()
	fc := &fakeConn{h: h, ctx: r.Context(), conn: conn, consumer: consumer, subscribed: map[string]bool{}}
	for {
		var req struct {
			Kind, ID, Type string
			Body           json.RawMessage
		}
		if err := wsjson.Read(r.Context(), conn, &req); err != nil {
			return
		}
		code, body := fc.request(req.Type, req.Body)
		h.mu.Lock()
		err := wsjson.Write(r.Context(), conn, map[string]any{"kind": "resp", "reqId": req.ID, "code": code, "body": body})
		h.mu.Unlock()
		if err != nil {
			return
		}
	}
}

func (fc *fakeConn) notify(typ string, body any) {
	if err := wsjson.Write(fc.ctx, fc.conn, map[string]any{"kind": "notification", "type": typ, "body": body}); err != nil {
		fc.h.t.Logf("fake hub: notify: %v", err)
	}
}

func (fc *fakeConn) upsert(c *fakeConv) {
	details := map[string]any{
		"convId": c.id, "skillId": c.skill, "state": c.state,
		"participants": map[string]any{"CONSUMER": []string{c.consumer}, "ASSIGNED_AGENT": c.agents},
		"dialogs":      c.dialogs,
	}
	var pd []map[string]any
	for _, a := range c.agents {
		pd = append(pd, map[string]any{"id": a, "role": "ASSIGNED_AGENT", "name": c.names[a]})
	}
	c.dialogs[0]["participantsDetails"] = pd
	fc.notify("cqm.ExConversationChangeNotification", map[string]any{
		"subscriptionId": "sub-1",
		"changes":        []any{map[string]any{"type": "UPSERT", "result": map[string]any{"convId": c.id, "conversationDetails": details}}},
	})
}

// add appends an event to a dialog and pushes it when the dialog is subscribed.
func (fc *fakeConn) add(c *fakeConv, dialog, from, role, userType string, event map[string]any) int {
	seq := len(c.events[dialog])
	meta := map[string]any{"id": from, "role": role, "name": c.names[from]}
	if userType != "" {
		meta["userType"] = userType
	}
	ev := map[string]any{
		"sequence": seq, "originatorId": from, "originatorMetadata": meta, "serverTimestamp": 1,
		"event": event, "conversationId": c.id, "dialogId": dialog,
	}
	c.events[dialog] = append(c.events[dialog], ev)
	if fc.subscribed[dialog] {
		fc.notify("ms.MessagingEventNotification", map[string]any{"changes": []any{ev}})
	}
	return seq
}

func text(s string) map[string]any {
	return map[string]any{"type": "ContentEvent", "contentType": "text/plain", "message": s}
}

const (
	botID   = "1000.7"
	agentID = "1000.9"
)

func (fc *fakeConn) request(typ string, raw json.RawMessage) (int, any) {
	h := fc.h
	h.mu.Lock()
	defer h.mu.Unlock()
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	c := h.convs[fc.consumer]
	switch typ {
	case "cqm.SubscribeExConversations":
		if c != nil {
			fc.upsert(c)
		}
		return 200, map[string]any{"subscriptionId": "sub-1"}
	case "cm.ConsumerRequestConversation":
		if body["brandId"] != h.account || body["channelType"] != "MESSAGING" {
			return 400, map[string]any{"error": map[string]any{"code": "invalid", "message": "bad request"}}
		}
		h.lastSkill, _ = body["skill"].(string)
		if c != nil && c.state == "OPEN" {
			return 200, map[string]any{"conversationId": c.id}
		}
		c = &fakeConv{
			id: fmt.Sprintf("conv-%d", len(h.convs)+1), consumer: fc.consumer, skill: "1", state: "OPEN",
			agents: []string{botID}, names: map[string]string{botID: "Demo bot", agentID: "Ann"},
			events: map[string][]map[string]any{},
		}
		c.dialogs = []map[string]any{{"dialogId": c.id, "dialogType": "MAIN", "state": "OPEN"}}
		h.convs[fc.consumer] = c
		fc.upsert(c)
		fc.add(c, c.id, botID, "ASSIGNED_AGENT", "BOT", text("Welcome!"))
		return 200, map[string]any{"conversationId": c.id}
	case "ms.SubscribeMessagingEvents":
		dialog, _ := body["dialogId"].(string)
		if c == nil || c.events == nil {
			return 404, map[string]any{"error": map[string]any{"code": "not_found", "message": "no such dialog"}}
		}
		fc.subscribed[dialog] = true
		if evs := c.events[dialog]; len(evs) > 0 {
			fc.notify("ms.MessagingEventNotification", map[string]any{"changes": evs})
		}
		return 200, map[string]any{}
	case "ms.PublishEvent":
		dialog, _ := body["dialogId"].(string)
		ev, _ := body["event"].(map[string]any)
		if c == nil || c.state != "OPEN" {
			return 400, map[string]any{"error": map[string]any{"code": "closed", "message": "conversation is closed"}}
		}
		msg, _ := ev["message"].(string)
		if msg == "fail" {
			return 400, map[string]any{"error": map[string]any{"code": "invalid", "message": "rejected on purpose"}}
		}
		seq := fc.add(c, dialog, fc.consumer, "CONSUMER", "", ev)
		fc.script(c, dialog, msg)
		return 200, map[string]any{"sequence": seq}
	case "cm.UpdateConversationField":
		c.state = "CLOSE"
		fc.upsert(c)
		return 200, map[string]any{}
	}
	return 400, map[string]any{"error": map[string]any{"code": "unknown", "message": "unknown request " + typ}}
}

// script is the fake bot (and human agent). Replies are pushed before the
// publish response, so a client sees them before its message is acknowledged.
func (fc *fakeConn) script(c *fakeConv, dialog, msg string) {
	switch msg {
	case "hi":
		ev := text("Hello!\nNeed help?")
		ev["quickReplies"] = map[string]any{"type": "quickReplies", "itemsPerRow": 8, "replies": []any{
			map[string]any{"type": "button", "title": "Yes", "click": map[string]any{"actions": []any{map[string]any{"type": "publishText", "text": "yes"}}}},
			map[string]any{"type": "button", "title": "No", "click": map[string]any{"actions": []any{map[string]any{"type": "publishText", "text": "no"}}}},
		}}
		fc.add(c, dialog, botID, "ASSIGNED_AGENT", "BOT", ev)
	case "yes":
		fc.add(c, dialog, botID, "ASSIGNED_AGENT", "BOT", map[string]any{"type": "RichContentEvent", "content": map[string]any{
			"type": "vertical", "elements": []any{
				map[string]any{"type": "text", "text": "Pick one"},
				map[string]any{"type": "button", "title": "Shoes", "click": map[string]any{"actions": []any{map[string]any{"type": "publishText", "text": "shoes"}}}},
			},
		}})
	case "agent":
		fc.add(c, dialog, botID, "ASSIGNED_AGENT", "BOT", text("Transferring you"))
		c.skill, c.agents = "2", nil
		fc.upsert(c)
		c.agents = []string{agentID}
		fc.upsert(c)
		fc.add(c, dialog, agentID, "ASSIGNED_AGENT", "", text("Hi, Ann here"))
	case "survey":
		c.agents = nil
		c.dialogs[0]["state"] = "CLOSE"
		c.dialogs = append(c.dialogs, map[string]any{"dialogId": "survey-1", "dialogType": "POST_SURVEY", "state": "OPEN"})
		fc.add(c, "survey-1", botID, "ASSIGNED_AGENT", "BOT", text("How did we do?"))
		fc.upsert(c)
	case "bye":
		c.state = "CLOSE"
		fc.upsert(c)
	default:
		fc.add(c, dialog, botID, "ASSIGNED_AGENT", "BOT", text("You said: "+msg+" on "+dialog))
	}
}
