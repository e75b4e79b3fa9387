// Package testrig holds what end-to-end tests share: a consumer client of
// the hub's consumer protocol (docs/protocol.md §3) that records everything
// it receives, and helpers that wait on conditions with deadlines.
package testrig

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Event is one messaging event a consumer received.
type Event struct {
	Sequence       int64           `json:"sequence"`
	ConversationID string          `json:"conversationId"`
	DialogID       string          `json:"dialogId"`
	OriginatorID   string          `json:"originatorId"`
	Role           string          `json:"-"`
	UserType       string          `json:"-"`
	Event          json.RawMessage `json:"event"`
	Metadata       json.RawMessage `json:"metadata"`
	Meta           struct {
		ID       string `json:"id"`
		Role     string `json:"role"`
		Name     string `json:"name"`
		UserType string `json:"userType"`
	} `json:"originatorMetadata"`
}

// Text returns the event's text (ContentEvent text/plain), or "".
func (e *Event) Text() string {
	var ev struct {
		Type        string          `json:"type"`
		ContentType string          `json:"contentType"`
		Message     json.RawMessage `json:"message"`
	}
	if json.Unmarshal(e.Event, &ev) != nil || ev.Type != "ContentEvent" || ev.ContentType != "text/plain" {
		return ""
	}
	var s string
	_ = json.Unmarshal(ev.Message, &s)
	return s
}

// QuickReplies returns the event's quickReplies, or nil.
func (e *Event) QuickReplies() json.RawMessage {
	var ev struct {
		QuickReplies json.RawMessage `json:"quickReplies"`
	}
	_ = json.Unmarshal(e.Event, &ev)
	return ev.QuickReplies
}

// Type returns the event's type field.
func (e *Event) Type() string {
	var ev struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(e.Event, &ev)
	return ev.Type
}

// FromAgent reports whether a user (bot or human) sent the event.
func (e *Event) FromAgent() bool { return e.Meta.Role != "" && e.Meta.Role != "CONSUMER" }

// Consumer is one anonymous consumer connected to a hub.
type Consumer struct {
	*peer
	t      testing.TB
	Base   string
	Token  string
	ID     string
	ConvID string
	// Dialog is the dialog Publish sends on; empty means the main dialog.
	Dialog string

	mu      sync.Mutex
	events  []*Event
	convs   []json.RawMessage // conversationDetails of every change, in order
	seen    map[string]bool
	changed chan struct{}
}

// NewConsumer gets a consumer token from the hub at base (http://host:port)
// for account and connects its websocket.
func NewConsumer(t testing.TB, base, account string) *Consumer {
	t.Helper()
	resp, err := http.Post(base+"/api/account/"+account+"/consumer/token", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("consumer token: %v", err)
	}
	var tok struct {
		Token      string `json:"token"`
		ConsumerID string `json:"consumerId"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || tok.Token == "" {
		t.Fatalf("consumer token: status %d, %v", resp.StatusCode, err)
	}
	return dialConsumer(t, base, account, tok.Token, tok.ConsumerID)
}

// ResumeConsumer connects again as the consumer a token identifies (a page
// reloaded, or a client back after the server restarted) and subscribes to
// its conversation convID from sequence 0, so Events holds the whole main
// dialog as the hub delivers it.
func ResumeConsumer(t testing.TB, base, account, token, consumerID, convID string) *Consumer {
	t.Helper()
	c := dialConsumer(t, base, account, token, consumerID)
	c.ConvID = convID
	if code, body := c.Request("cqm.SubscribeExConversations", map[string]any{"convState": []string{"OPEN", "CLOSE"}}); code != 200 {
		c.t.Fatalf("SubscribeExConversations: %d %s", code, body)
	}
	if code, body := c.Request("ms.SubscribeMessagingEvents", map[string]any{"dialogId": convID, "conversationId": convID, "fromSeq": 0}); code != 200 {
		c.t.Fatalf("SubscribeMessagingEvents: %d %s", code, body)
	}
	return c
}

func dialConsumer(t testing.TB, base, account, token, consumerID string) *Consumer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := &Consumer{t: t, Base: base, Token: token, ID: consumerID, seen: map[string]bool{}, changed: make(chan struct{}, 1)}
	ws := "ws" + strings.TrimPrefix(base, "http") + "/ws_api/account/" + account + "/messaging/consumer?v=3&token=" + token
	conn, _, err := websocket.Dial(ctx, ws, nil)
	if err != nil {
		cancel()
		t.Fatalf("consumer websocket: %v", err)
	}
	c.peer = newPeer(t, ctx, cancel, conn, c.notification)
	t.Cleanup(c.Close)
	return c
}

func (c *Consumer) notification(f frame) {
	var body struct {
		Changes []json.RawMessage `json:"changes"`
	}
	if json.Unmarshal(f.Body, &body) != nil {
		return
	}
	c.mu.Lock()
	for _, raw := range body.Changes {
		switch f.Type {
		case "ms.MessagingEventNotification":
			ev := &Event{}
			if json.Unmarshal(raw, ev) != nil {
				continue
			}
			key := ev.DialogID + "/" + strconv.FormatInt(ev.Sequence, 10)
			if ev.Sequence > 0 && c.seen[key] {
				continue
			}
			c.seen[key] = true
			ev.Role, ev.UserType = ev.Meta.Role, ev.Meta.UserType
			c.events = append(c.events, ev)
		case "cqm.ExConversationChangeNotification":
			var ch struct {
				Result struct {
					Details json.RawMessage `json:"conversationDetails"`
				} `json:"result"`
			}
			if json.Unmarshal(raw, &ch) == nil && ch.Result.Details != nil {
				c.convs = append(c.convs, ch.Result.Details)
			}
		}
	}
	c.mu.Unlock()
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

// Open requests a conversation on skill and subscribes to it.
func (c *Consumer) Open(skill string) string {
	c.t.Helper()
	return c.OpenWith(skill, nil)
}

// OpenWith is Open with a conversationContext.
func (c *Consumer) OpenWith(skill string, conversationContext map[string]any) string {
	c.t.Helper()
	req := map[string]any{"channelType": "MESSAGING", "skill": skill}
	if conversationContext != nil {
		req["conversationContext"] = conversationContext
	}
	code, body := c.Request("cm.ConsumerRequestConversation", req)
	if code != 200 {
		c.t.Fatalf("ConsumerRequestConversation: %d %s", code, body)
	}
	var r struct {
		ConversationID string `json:"conversationId"`
	}
	_ = json.Unmarshal(body, &r)
	c.ConvID = r.ConversationID
	if code, body := c.Request("cqm.SubscribeExConversations", map[string]any{"convState": []string{"OPEN", "CLOSE"}}); code != 200 {
		c.t.Fatalf("SubscribeExConversations: %d %s", code, body)
	}
	if code, body := c.Request("ms.SubscribeMessagingEvents", map[string]any{"dialogId": c.ConvID, "conversationId": c.ConvID, "fromSeq": 0}); code != 200 {
		c.t.Fatalf("SubscribeMessagingEvents: %d %s", code, body)
	}
	return c.ConvID
}

// Publish sends an event on c.Dialog (the main dialog when empty) and
// returns its sequence.
func (c *Consumer) Publish(event any, metadata ...any) int64 {
	c.t.Helper()
	dialog := c.Dialog
	if dialog == "" {
		dialog = c.ConvID
	}
	body := map[string]any{"dialogId": dialog, "event": event}
	var md json.RawMessage
	if len(metadata) > 0 {
		// Request-level, as LivePerson's consumer API carries it.
		md, _ = json.Marshal(metadata)
	}
	code, resp := c.RequestWithMetadata("ms.PublishEvent", body, md)
	if code != 200 {
		c.t.Fatalf("PublishEvent: %d %s", code, resp)
	}
	var r struct {
		Sequence int64 `json:"sequence"`
	}
	_ = json.Unmarshal(resp, &r)
	return r.Sequence
}

// WaitSurvey waits until the conversation's post-conversation survey dialog
// opens, subscribes to it and makes it the dialog Publish and Say use. It
// returns the survey dialog's id.
func (c *Consumer) WaitSurvey(d time.Duration) string {
	c.t.Helper()
	survey := ""
	c.WaitFor(d, "a survey dialog", func() bool {
		for _, raw := range c.Conversations() {
			var det struct {
				ConvID  string `json:"convId"`
				Dialogs []struct {
					DialogID   string `json:"dialogId"`
					DialogType string `json:"dialogType"`
					State      string `json:"state"`
				} `json:"dialogs"`
			}
			if json.Unmarshal(raw, &det) != nil || det.ConvID != c.ConvID {
				continue
			}
			for _, dl := range det.Dialogs {
				if dl.DialogType == "POST_SURVEY" && dl.State == "OPEN" {
					survey = dl.DialogID
				}
			}
		}
		return survey != ""
	})
	if code, body := c.Request("ms.SubscribeMessagingEvents", map[string]any{"dialogId": survey, "conversationId": c.ConvID, "fromSeq": 0}); code != 200 {
		c.t.Fatalf("SubscribeMessagingEvents on the survey: %d %s", code, body)
	}
	c.Dialog = survey
	return survey
}

// Say sends a text.
func (c *Consumer) Say(text string) int64 {
	c.t.Helper()
	return c.Publish(map[string]any{"type": "ContentEvent", "contentType": "text/plain", "message": text})
}

// Events returns a copy of every event received so far.
func (c *Consumer) Events() []*Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Event(nil), c.events...)
}

// AgentTexts returns the texts agents (and bots) sent, in order.
func (c *Consumer) AgentTexts() []string {
	var out []string
	for _, e := range c.Events() {
		if e.FromAgent() && e.Text() != "" {
			out = append(out, e.Text())
		}
	}
	return out
}

// Conversations returns every conversationDetails received, in order.
func (c *Consumer) Conversations() []json.RawMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]json.RawMessage(nil), c.convs...)
}

// WaitFor waits until cond holds, checking after every notification, or
// fails the test after d with what describes the state.
func (c *Consumer) WaitFor(d time.Duration, what string, cond func() bool) {
	c.t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-c.changed:
		case <-deadline.C:
			c.t.Fatalf("timed out after %v waiting for %s; agent texts so far: %q", d, what, c.AgentTexts())
		}
	}
}

// WaitAssigned waits until the consumer is told that conv has an
// assigned agent (a bot or a human). A test that asserts a transcript's
// order waits for it before the first message: a message sent sooner may
// be recorded before or after the join, and either is a true record.
func (c *Consumer) WaitAssigned(d time.Duration, conv string) {
	c.t.Helper()
	c.WaitFor(d, "an assigned agent on "+conv, func() bool {
		for _, raw := range c.Conversations() {
			var det struct {
				ConvID       string              `json:"convId"`
				Participants map[string][]string `json:"participants"`
			}
			if json.Unmarshal(raw, &det) == nil && det.ConvID == conv && len(det.Participants["ASSIGNED_AGENT"]) > 0 {
				return true
			}
		}
		return false
	})
}

// WaitTexts waits until the agents' texts include each of want, in order.
func (c *Consumer) WaitTexts(d time.Duration, want ...string) {
	c.t.Helper()
	c.WaitFor(d, fmt.Sprintf("texts %q", want), func() bool { return containsInOrder(c.AgentTexts(), want) })
}

func containsInOrder(have, want []string) bool {
	i := 0
	for _, h := range have {
		if i < len(want) && h == want[i] {
			i++
		}
	}
	return i == len(want)
}

// Eventually polls cond every few milliseconds until it holds or d passes.
func Eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Equal reports whether two JSON texts hold the same value.
func Equal(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	ax, _ := json.Marshal(x)
	by, _ := json.Marshal(y)
	return bytes.Equal(ax, by)
}

// Upload stores a file as the consumer and returns its relative path.
func Upload(t testing.TB, c *Consumer, name string, data []byte) string {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("file", name)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(data)
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, c.Base+"/api/account/1000/consumer/files", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		RelativePath string `json:"relativePath"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || resp.StatusCode != 200 {
		t.Fatalf("upload: status %d, %v", resp.StatusCode, err)
	}
	return r.RelativePath
}

// Transcript returns what the consumer saw of the conversation, in order:
// "consumer: …", "bot: …" and "agent: …" lines for the text messages.
func (c *Consumer) Transcript() []string {
	evs := c.Events()
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].DialogID == evs[j].DialogID && evs[i].Sequence < evs[j].Sequence })
	var out []string
	for _, e := range evs {
		txt := e.Text()
		if txt == "" {
			continue
		}
		who := "consumer"
		switch {
		case e.Meta.Role == "" || e.Meta.Role == "CONSUMER":
		case e.Meta.UserType == "BOT":
			who = "bot"
		default:
			who = "agent"
		}
		out = append(out, who+": "+txt)
	}
	return out
}
