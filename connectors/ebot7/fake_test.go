package ebot7

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeEbot7 is e-bot7's applications API as vendors.md §8 and e-bot7's
// JavaScript SDK describe it, under /v1: conversations of a bot, their
// messages ({"data":{"body","source"}} in, HTML bodies with seqInConv out,
// paged with page[limit] and page[offset]), the app key as a bearer on
// every call (401 without a valid one, 403 for a bot the key may not use).
// Bot answers are asynchronous: what the flow says after a message (or,
// as greetings, after the conversation starts) becomes visible only from
// the second read of the messages on, so the client has to poll.
type fakeEbot7 struct {
	t   *testing.T
	srv *httptest.Server
	key string
	bot string

	mu       sync.Mutex
	convs    map[string]*fakeConv
	order    []string
	nextID   int
	log      []string // "METHOD path status"
	rejected int
	// greeting is what the flow says when a conversation starts.
	greeting []fakeMsg
	// flow answers a visitor message.
	flow func(text string) (msgs []fakeMsg, archive bool)
}

type fakeMsg struct {
	Body          string `json:"body"`
	PromptOptions any    `json:"promptOptions,omitempty"`
}

type fakeConv struct {
	ID           string
	Archived     bool
	Integrations any
	Messages     []map[string]any
	pending      []map[string]any
	pendArchive  bool
	releaseArmed bool
}

func newFakeEbot7(t *testing.T, key, bot string) *fakeEbot7 {
	f := &fakeEbot7{t: t, key: key, bot: bot, convs: map[string]*fakeConv{},
		greeting: []fakeMsg{{Body: "<p>Welcome to <b>Example</b>!</p>"}}}
	f.flow = func(text string) ([]fakeMsg, bool) {
		switch text {
		case "agent":
			return []fakeMsg{{Body: "<p>One moment please.</p>"}, {Body: "<p>CONVERSATION_TRANSFER human</p>"}}, false
		case "bye":
			return []fakeMsg{{Body: "<p>Goodbye!</p>"}}, true
		}
		return []fakeMsg{{Body: "<p>e-bot7 heard: " + text + "</p>"}}, false
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/bots/{botId}/convs", f.listConvs)
	mux.HandleFunc("POST /v1/bots/{botId}/convs", f.createConv)
	mux.HandleFunc("GET /v1/bots/{botId}/convs/{convId}", f.getConv)
	mux.HandleFunc("PATCH /v1/bots/{botId}/convs/{convId}", f.patchConv)
	mux.HandleFunc("POST /v1/bots/{botId}/convs/{convId}/messages", f.createMessage)
	mux.HandleFunc("GET /v1/bots/{botId}/convs/{convId}/messages", f.listMessages)
	f.srv = httptest.NewServer(f.auth(mux))
	t.Cleanup(f.srv.Close)
	return f
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(c int) { s.status = c; s.ResponseWriter.WriteHeader(c) }

func (f *fakeEbot7) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: 200}
		defer func() {
			f.mu.Lock()
			f.log = append(f.log, fmt.Sprintf("%s %s %d", r.Method, r.URL.Path, sw.status))
			f.mu.Unlock()
		}()
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || tok != f.key {
			f.mu.Lock()
			f.rejected++
			f.mu.Unlock()
			writeJSON(sw, 401, map[string]any{"statusCode": 401, "message": "Unauthorized"})
			return
		}
		if parts := strings.Split(r.URL.Path, "/"); len(parts) > 3 && parts[1] == "v1" && parts[2] == "bots" && parts[3] != f.bot {
			writeJSON(sw, 403, map[string]any{"statusCode": 403, "message": "Forbidden resource", "error": "Forbidden"})
			return
		}
		next.ServeHTTP(sw, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeEbot7) convJSON(c *fakeConv) map[string]any {
	return map[string]any{"id": c.ID, "isArchived": c.Archived, "messageCount": len(c.Messages), "orgId": "org-1",
		"externalData": []any{}, "integrations": c.Integrations, "createdAt": "2026-11-25T10:00:00.000Z"}
}

// queue adds what the flow says as pending bot messages.
func (f *fakeEbot7) queue(c *fakeConv, msgs []fakeMsg, greeting, archive bool) {
	for _, m := range msgs {
		item := map[string]any{"botId": f.bot, "convId": c.ID, "body": m.Body, "source": "bot", "isGreeting": greeting,
			"botStatus": "", "createdAt": "2026-11-25T10:00:01.000Z"}
		if m.PromptOptions != nil {
			item["promptOptions"] = m.PromptOptions
		}
		c.pending = append(c.pending, item)
	}
	c.pendArchive = c.pendArchive || archive
	c.releaseArmed = false
}

func (f *fakeEbot7) add(c *fakeConv, item map[string]any) {
	f.nextID++
	item["id"] = "msg-" + strconv.Itoa(f.nextID)
	item["seqInConv"] = len(c.Messages)
	c.Messages = append(c.Messages, item)
}

func (f *fakeEbot7) createConv(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeJSON(w, 400, map[string]any{"statusCode": 400, "message": "body must be a JSON object"})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	c := &fakeConv{ID: "conv-" + strconv.Itoa(f.nextID), Integrations: body["integrations"]}
	f.convs[c.ID] = c
	f.order = append(f.order, c.ID)
	f.queue(c, f.greeting, true, false)
	writeJSON(w, 201, map[string]any{"item": f.convJSON(c)})
}

func (f *fakeEbot7) conv(w http.ResponseWriter, r *http.Request) *fakeConv {
	c := f.convs[r.PathValue("convId")]
	if c == nil {
		writeJSON(w, 404, map[string]any{"statusCode": 404, "message": "Conversation not found"})
	}
	return c
}

func (f *fakeEbot7) getConv(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.conv(w, r); c != nil {
		writeJSON(w, 200, map[string]any{"item": f.convJSON(c)})
	}
}

func (f *fakeEbot7) patchConv(w http.ResponseWriter, r *http.Request) {
	var body struct {
		IsArchived *bool `json:"isArchived"`
	}
	_ = json.NewDecoder(r.Body).Decode(&body)
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.conv(w, r); c != nil {
		if body.IsArchived != nil {
			c.Archived = *body.IsArchived
		}
		writeJSON(w, 200, map[string]any{"item": f.convJSON(c)})
	}
}

func (f *fakeEbot7) listConvs(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	items := []any{}
	for _, id := range f.order {
		items = append(items, f.convJSON(f.convs[id]))
	}
	writeJSON(w, 200, map[string]any{"items": items, "paging": map[string]any{"total": len(items)}, "filter": map[string]any{"botId": f.bot}})
}

func (f *fakeEbot7) createMessage(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Data *struct {
			Body   *string `json:"body"`
			Source string  `json:"source"`
		} `json:"data"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Data == nil || body.Data.Body == nil {
		writeJSON(w, 400, map[string]any{"statusCode": 400, "message": "data.body is required"})
		return
	}
	switch body.Data.Source {
	case "visitor", "bot", "agent":
	default:
		writeJSON(w, 400, map[string]any{"statusCode": 400, "message": "data.source must be visitor, bot or agent"})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.conv(w, r)
	if c == nil {
		return
	}
	item := map[string]any{"botId": f.bot, "convId": c.ID, "body": *body.Data.Body, "source": body.Data.Source,
		"isGreeting": false, "createdAt": "2026-11-25T10:00:02.000Z"}
	f.add(c, item)
	if body.Data.Source == "visitor" && f.flow != nil {
		msgs, archive := f.flow(*body.Data.Body)
		f.queue(c, msgs, false, archive)
	}
	writeJSON(w, 201, map[string]any{"item": item})
}

func (f *fakeEbot7) listMessages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err1 := strconv.Atoi(q.Get("page[limit]"))
	offset, err2 := strconv.Atoi(q.Get("page[offset]"))
	if q.Get("page[limit]") == "" {
		limit, err1 = 20, nil
	}
	if q.Get("page[offset]") == "" {
		offset, err2 = 0, nil
	}
	if err1 != nil || err2 != nil || limit < 1 || limit > 100 || offset < 0 {
		writeJSON(w, 400, map[string]any{"statusCode": 400, "message": "invalid paging"})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.conv(w, r)
	if c == nil {
		return
	}
	// The flow's answers become visible from the second read after they
	// were said.
	if c.releaseArmed {
		for _, m := range c.pending {
			f.add(c, m)
		}
		c.pending = nil
		c.Archived = c.Archived || c.pendArchive
		c.pendArchive, c.releaseArmed = false, false
	}
	items := []any{}
	for i := offset; i < len(c.Messages) && i < offset+limit; i++ {
		items = append(items, c.Messages[i])
	}
	writeJSON(w, 200, map[string]any{"items": items, "paging": map[string]any{"total": len(c.Messages), "limit": limit, "offset": offset}, "filter": map[string]any{}})
	if len(c.pending) > 0 || c.pendArchive {
		c.releaseArmed = true
	}
}

func (f *fakeEbot7) setFlow(fn func(string) ([]fakeMsg, bool)) {
	f.mu.Lock()
	f.flow = fn
	f.mu.Unlock()
}

func (f *fakeEbot7) Log() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.log...)
}

func (f *fakeEbot7) Rejected() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rejected
}

func (f *fakeEbot7) Conv(id string) *fakeConv {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.convs[id]
}
