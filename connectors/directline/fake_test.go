package directline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

const fakeSecret = "fake-direct-line-secret.0123456789abcdef"

// fakeDirectLine follows Direct Line 3.0 (spec/vendors.md §7) under
// /v3/directline: tokens/generate (secret) and tokens/refresh (token),
// conversations started with the secret (201) or a token bound to one
// (200), reconnect, activities posted and polled by watermark, and the
// websocket stream that pushes ActivitySets. Every call's bearer is
// checked: the secret, or a live token of that conversation.
type fakeDirectLine struct {
	t   *testing.T
	srv *httptest.Server
	// tokenTTL is the expires_in of the tokens it issues.
	tokenTTL int

	mu       sync.Mutex
	convs    map[string]*fakeConv
	tokens   map[string]string // token → conversation id
	calls    []fakeCall
	rejected int
	// bot answers a posted activity with the bot's activities (replyToId is
	// set by the fake); default: an echo.
	bot func(a map[string]any) []map[string]any
	// status, when set, answers a request before the normal handling (0:
	// go on).
	status func(method, path string) int
	// noStream makes start and reconnect offer no stream URL.
	noStream bool
}

type fakeConv struct {
	id       string
	history  []json.RawMessage
	changed  chan struct{} // closed and replaced on every append
	user     string
	wsOpened int
}

type fakeCall struct {
	Method, Path string
	Bearer       string
	Body         map[string]any
}

func newFakeDirectLine(t *testing.T) *fakeDirectLine {
	f := &fakeDirectLine{t: t, tokenTTL: 1800, convs: map[string]*fakeConv{}, tokens: map[string]string{}}
	f.bot = func(a map[string]any) []map[string]any {
		return []map[string]any{{"type": "message", "text": "echo: " + str(a["text"])}}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v3/directline/tokens/generate", f.generate)
	mux.HandleFunc("POST /v3/directline/tokens/refresh", f.refresh)
	mux.HandleFunc("POST /v3/directline/conversations", f.start)
	mux.HandleFunc("GET /v3/directline/conversations/{id}", f.reconnect)
	mux.HandleFunc("POST /v3/directline/conversations/{id}/activities", f.post)
	mux.HandleFunc("GET /v3/directline/conversations/{id}/activities", f.get)
	mux.HandleFunc("GET /v3/directline/conversations/{id}/stream", f.stream)
	f.srv = httptest.NewServer(f.middleware(mux))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeDirectLine) endpoint() string { return f.srv.URL + "/v3/directline" }

func str(v any) string { s, _ := v.(string); return s }

func newID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (f *fakeDirectLine) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		bearer := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		f.mu.Lock()
		f.calls = append(f.calls, fakeCall{Method: r.Method, Path: r.URL.Path, Bearer: bearer, Body: m})
		status := f.status
		f.mu.Unlock()
		if status != nil {
			if st := status(r.Method, r.URL.Path); st != 0 {
				writeJSON(w, st, map[string]any{"error": map[string]string{"code": "ServiceError", "message": "injected failure"}})
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeDirectLine) deny(w http.ResponseWriter, why string) {
	f.mu.Lock()
	f.rejected++
	f.mu.Unlock()
	writeJSON(w, http.StatusForbidden, map[string]any{"error": map[string]string{"code": "BadArgument", "message": why}})
}

func bearerOf(r *http.Request) string {
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
}

// authorize checks that the bearer is the secret or a token of conversation
// id ("" for any conversation).
func (f *fakeDirectLine) authorize(w http.ResponseWriter, r *http.Request, id string) bool {
	b := bearerOf(r)
	if b == fakeSecret {
		return true
	}
	f.mu.Lock()
	conv, ok := f.tokens[b]
	f.mu.Unlock()
	if ok && (id == "" || conv == id) {
		return true
	}
	f.deny(w, "bearer is neither the secret nor a token of this conversation")
	return false
}

func (f *fakeDirectLine) newConv(user string) *fakeConv {
	c := &fakeConv{id: "DL" + newID(), changed: make(chan struct{}), user: user}
	f.convs[c.id] = c
	return c
}

func (f *fakeDirectLine) issue(conv string) string {
	tok := "tok-" + newID()
	f.tokens[tok] = conv
	return tok
}

func (f *fakeDirectLine) streamURL(r *http.Request, conv, tok string) string {
	if f.noStream {
		return ""
	}
	return "ws://" + r.Host + "/v3/directline/conversations/" + conv + "/stream?t=" + tok
}

func (f *fakeDirectLine) generate(w http.ResponseWriter, r *http.Request) {
	if bearerOf(r) != fakeSecret {
		f.deny(w, "tokens/generate needs the secret")
		return
	}
	var body struct {
		User struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	_ = json.NewDecoder(r.Body).Decode(&body)
	f.mu.Lock()
	c := f.newConv(body.User.ID)
	tok := f.issue(c.id)
	f.mu.Unlock()
	writeJSON(w, 200, map[string]any{"conversationId": c.id, "token": tok, "expires_in": f.tokenTTL})
}

func (f *fakeDirectLine) refresh(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	conv, ok := f.tokens[bearerOf(r)]
	var tok string
	if ok {
		delete(f.tokens, bearerOf(r))
		tok = f.issue(conv)
	}
	f.mu.Unlock()
	if !ok {
		f.deny(w, "tokens/refresh needs a live token")
		return
	}
	writeJSON(w, 200, map[string]any{"conversationId": conv, "token": tok, "expires_in": f.tokenTTL})
}

func (f *fakeDirectLine) start(w http.ResponseWriter, r *http.Request) {
	b := bearerOf(r)
	f.mu.Lock()
	defer f.mu.Unlock()
	if b == fakeSecret {
		c := f.newConv("")
		tok := f.issue(c.id)
		writeJSON(w, 201, map[string]any{"conversationId": c.id, "token": tok, "expires_in": f.tokenTTL, "streamUrl": f.streamURL(r, c.id, tok)})
		return
	}
	conv, ok := f.tokens[b]
	if !ok {
		f.rejected++
		writeJSON(w, 403, map[string]any{"error": map[string]string{"code": "BadArgument", "message": "unknown token"}})
		return
	}
	writeJSON(w, 200, map[string]any{"conversationId": conv, "token": b, "expires_in": f.tokenTTL, "streamUrl": f.streamURL(r, conv, b)})
}

func (f *fakeDirectLine) conv(w http.ResponseWriter, r *http.Request) *fakeConv {
	id := r.PathValue("id")
	if !f.authorize(w, r, id) {
		return nil
	}
	f.mu.Lock()
	c := f.convs[id]
	f.mu.Unlock()
	if c == nil {
		writeJSON(w, 404, map[string]any{"error": map[string]string{"code": "BadArgument", "message": "Conversation not found"}})
	}
	return c
}

func (f *fakeDirectLine) reconnect(w http.ResponseWriter, r *http.Request) {
	c := f.conv(w, r)
	if c == nil {
		return
	}
	f.mu.Lock()
	tok := f.issue(c.id)
	f.mu.Unlock()
	writeJSON(w, 200, map[string]any{"conversationId": c.id, "token": tok, "expires_in": f.tokenTTL, "streamUrl": f.streamURL(r, c.id, tok)})
}

// appendLocked adds activities to the history and wakes the streams.
func (c *fakeConv) appendLocked(acts ...map[string]any) {
	for _, a := range acts {
		raw, _ := json.Marshal(a)
		c.history = append(c.history, raw)
	}
	close(c.changed)
	c.changed = make(chan struct{})
}

func (f *fakeDirectLine) post(w http.ResponseWriter, r *http.Request) {
	c := f.conv(w, r)
	if c == nil {
		return
	}
	var a map[string]any
	if err := json.NewDecoder(r.Body).Decode(&a); err != nil || str(a["type"]) == "" {
		writeJSON(w, 400, map[string]any{"error": map[string]string{"code": "BadArgument", "message": "not an activity"}})
		return
	}
	id := c.id + "|" + newID()
	a["id"] = id
	a["conversation"] = map[string]any{"id": c.id}
	a["channelId"] = "directline"
	f.mu.Lock()
	bot := f.bot
	c.appendLocked(a)
	f.mu.Unlock()
	replies := bot(a)
	f.mu.Lock()
	for _, rep := range replies {
		if after, ok := rep["_afterMs"].(int); ok {
			// Sent later, as a bot that works on its answer does.
			delete(rep, "_afterMs")
			rep["replyToId"], rep["id"] = id, c.id+"|"+newID()
			rep["from"] = map[string]any{"id": "fake-bot", "name": "Fake Bot", "role": "bot"}
			rep["conversation"] = map[string]any{"id": c.id}
			time.AfterFunc(time.Duration(after)*time.Millisecond, func() {
				f.mu.Lock()
				c.appendLocked(rep)
				f.mu.Unlock()
			})
			continue
		}
		if _, ok := rep["replyToId"]; !ok {
			rep["replyToId"] = id
		}
		rep["id"] = c.id + "|" + newID()
		rep["from"] = map[string]any{"id": "fake-bot", "name": "Fake Bot", "role": "bot"}
		rep["conversation"] = map[string]any{"id": c.id}
		c.appendLocked(rep)
	}
	f.mu.Unlock()
	writeJSON(w, 200, map[string]string{"id": id})
}

func (f *fakeDirectLine) since(c *fakeConv, wm string) ([]json.RawMessage, int, chan struct{}) {
	n, _ := strconv.Atoi(wm)
	f.mu.Lock()
	defer f.mu.Unlock()
	if n > len(c.history) {
		n = len(c.history)
	}
	return append([]json.RawMessage(nil), c.history[n:]...), len(c.history), c.changed
}

func (f *fakeDirectLine) get(w http.ResponseWriter, r *http.Request) {
	c := f.conv(w, r)
	if c == nil {
		return
	}
	acts, wm, _ := f.since(c, r.URL.Query().Get("watermark"))
	writeJSON(w, 200, map[string]any{"activities": acts, "watermark": strconv.Itoa(wm)})
}

// stream pushes each new activity as its own ActivitySet, with an empty
// heartbeat frame first.
func (f *fakeDirectLine) stream(w http.ResponseWriter, r *http.Request) {
	c := f.conv(w, r)
	if c == nil {
		return
	}
	f.mu.Lock()
	_, tokOK := f.tokens[r.URL.Query().Get("t")]
	c.wsOpened++
	f.mu.Unlock()
	if !tokOK {
		f.deny(w, "the stream URL's token is not live")
		return
	}
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer conn.CloseNow()
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	go func() { conn.Read(ctx); cancel() }() // the client never sends; a read ends with the connection
	if conn.Write(ctx, websocket.MessageText, []byte("")) != nil {
		return
	}
	wm := r.URL.Query().Get("watermark")
	for {
		acts, next, changed := f.since(c, wm)
		base, _ := strconv.Atoi(wm)
		for i, a := range acts {
			set, _ := json.Marshal(map[string]any{"activities": []json.RawMessage{a}, "watermark": strconv.Itoa(base + i + 1)})
			if conn.Write(ctx, websocket.MessageText, set) != nil {
				return
			}
		}
		wm = strconv.Itoa(next)
		select {
		case <-changed:
		case <-ctx.Done():
			return
		}
	}
}

func (f *fakeDirectLine) Calls() []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeCall(nil), f.calls...)
}

func (f *fakeDirectLine) Rejected() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rejected
}

func (f *fakeDirectLine) streamsOpened(conv string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.convs[conv]; c != nil {
		return c.wsOpened
	}
	return 0
}
