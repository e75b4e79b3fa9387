package medallia

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// testClock is the time of both the bot (BotEnv.Now) and the fake's token
// expiry, moved by the tests.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// fakeMedallia is a survey service that follows docs/vendors/medallia.md:
// the token endpoint checks Basic auth (form-encoded id and secret), the
// grant and the scope, and issues bearer tokens that expire on the test
// clock; every /v1 call needs a live token. Sessions run a three-step
// survey unless answer says otherwise.
type fakeMedallia struct {
	t      *testing.T
	srv    *httptest.Server
	clock  *testClock
	id     string
	secret string
	app    string

	mu sync.Mutex
	// expiresIn is the expires_in of new tokens, in seconds; 0 leaves it
	// out.
	expiresIn int
	tokens    map[string]time.Time // token → expiry
	issued    int
	sessions  map[string][]string // session id → answers so far
	nextSess  int
	log       []apiCall
	// refuseAll makes every /v1 call answer 401, whatever the token.
	refuseAll bool
	// hook, when set, answers a /v1 request (after the token check)
	// instead of the normal handling; it returns false to fall through.
	hook func(w http.ResponseWriter, r *http.Request, body []byte) bool
	// answer, when set, answers a valid answer request.
	answer func(session string, req map[string]any) (status int, body string)
}

type apiCall struct {
	Method, Path string
	Token        string
	Body         []byte
	Status       int
}

const (
	testID     = "medallia-client"
	testSecret = "s3cr:t/+Secret=42" // needs form-encoding in Basic auth
	testApp    = "a22a6ba2-7a75-412b-b71a-03a8786fe407"
)

var epoch = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

func newFake(t *testing.T) *fakeMedallia {
	t.Helper()
	f := &fakeMedallia{t: t, clock: &testClock{now: epoch}, id: testID, secret: testSecret, app: testApp,
		expiresIn: 3600, tokens: map[string]time.Time{}, sessions: map[string][]string{}}
	api := http.NewServeMux()
	api.HandleFunc("POST /v1/surveys/{app}/sessions", f.start)
	api.HandleFunc("POST /v1/sessions/{id}/answers", f.answerHandler)
	api.HandleFunc("DELETE /v1/sessions/{id}", f.end)
	api.HandleFunc("GET /v1/health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]string{"status": "ok"})
	})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/token", f.token)
	mux.Handle("/v1/", f.bearer(api))
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeMedallia) token(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if ok {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	}
	if !ok || id != f.id || secret != f.secret {
		writeJSON(w, 401, map[string]string{"error": "invalid_client"})
		return
	}
	if r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" || r.ParseForm() != nil {
		writeJSON(w, 400, map[string]string{"error": "invalid_request"})
		return
	}
	if r.PostForm.Get("grant_type") != "client_credentials" {
		writeJSON(w, 400, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	if r.PostForm.Get("scope") != "ihub.medallia.bot" {
		writeJSON(w, 400, map[string]string{"error": "invalid_scope"})
		return
	}
	f.mu.Lock()
	f.issued++
	tok := fmt.Sprintf("tok-%d-%x", f.issued, f.clock.Now().UnixNano())
	exp := time.Time{}
	if f.expiresIn > 0 {
		exp = f.clock.Now().Add(time.Duration(f.expiresIn) * time.Second)
	}
	f.tokens[tok] = exp
	body := map[string]any{"access_token": tok, "token_type": "Bearer"}
	if f.expiresIn > 0 {
		body["expires_in"] = f.expiresIn
	}
	f.mu.Unlock()
	writeJSON(w, 200, body)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// bearer records each /v1 call and checks its token.
func (f *fakeMedallia) bearer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec := &statusRecorder{ResponseWriter: w, status: 200}
		tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		defer func() {
			f.mu.Lock()
			f.log = append(f.log, apiCall{Method: r.Method, Path: r.URL.Path, Token: tok, Body: body, Status: rec.status})
			f.mu.Unlock()
		}()
		f.mu.Lock()
		exp, known := f.tokens[tok]
		refuse, hook := f.refuseAll, f.hook
		f.mu.Unlock()
		if refuse || !known || (!exp.IsZero() && !f.clock.Now().Before(exp)) {
			writeJSON(rec, 401, map[string]string{"error": "invalid_token", "token": tok})
			return
		}
		if hook != nil && hook(rec, r, body) {
			return
		}
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		next.ServeHTTP(rec, r)
	})
}

// revokeTokens makes every issued token invalid (a key rotation).
func (f *fakeMedallia) revokeTokens() {
	f.mu.Lock()
	clear(f.tokens)
	f.mu.Unlock()
}

func (f *fakeMedallia) start(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("app") != f.app {
		writeJSON(w, 404, map[string]string{"error": "survey not found"})
		return
	}
	var req map[string]any
	if r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&req) != nil {
		writeJSON(w, 400, map[string]string{"error": "body must be JSON"})
		return
	}
	if id, _ := req["conversationId"].(string); id == "" {
		writeJSON(w, 400, map[string]string{"error": "conversationId is required"})
		return
	}
	f.mu.Lock()
	f.nextSess++
	id := fmt.Sprintf("sess-%d", f.nextSess)
	f.sessions[id] = []string{}
	f.mu.Unlock()
	writeJSON(w, 201, map[string]any{"sessionId": id, "done": false, "result": nil, "messages": []any{
		map[string]any{"type": "text", "text": "Thanks for chatting with us. Two quick questions?"},
		map[string]any{"type": "text", "text": "Did we solve your problem?", "quickReplies": []string{"Yes", "No"}},
	}})
}

func (f *fakeMedallia) answerHandler(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var req map[string]any
	if r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&req) != nil {
		writeJSON(w, 400, map[string]string{"error": "body must be JSON"})
		return
	}
	text, ok := req["text"].(string)
	if !ok {
		writeJSON(w, 400, map[string]string{"error": "text is required"})
		return
	}
	f.mu.Lock()
	answers, known := f.sessions[id]
	if known {
		answers = append(answers, text)
		f.sessions[id] = answers
	}
	answer := f.answer
	f.mu.Unlock()
	if !known {
		writeJSON(w, 404, map[string]string{"error": "session not found"})
		return
	}
	if answer != nil {
		st, body := answer(id, req)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(st)
		io.WriteString(w, body)
		return
	}
	if len(answers) == 1 {
		writeJSON(w, 200, map[string]any{"done": false, "result": nil, "messages": []any{
			map[string]any{"type": "text", "text": "Anything else you want to tell us?"}}})
		return
	}
	writeJSON(w, 200, map[string]any{"done": true, "result": map[string]any{"solved": answers[0], "comment": answers[1]},
		"messages": []any{map[string]any{"type": "text", "text": "Thank you, goodbye!"}}})
}

func (f *fakeMedallia) end(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	_, known := f.sessions[r.PathValue("id")]
	delete(f.sessions, r.PathValue("id"))
	f.mu.Unlock()
	if !known {
		writeJSON(w, 404, map[string]string{"error": "session not found"})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (f *fakeMedallia) set(fn func(f *fakeMedallia)) {
	f.mu.Lock()
	fn(f)
	f.mu.Unlock()
}

func (f *fakeMedallia) calls() []apiCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]apiCall(nil), f.log...)
}

// summary lists "METHOD path status" of the /v1 calls.
func (f *fakeMedallia) summary() []string {
	var out []string
	for _, c := range f.calls() {
		out = append(out, fmt.Sprintf("%s %s %d", c.Method, c.Path, c.Status))
	}
	return out
}

func (f *fakeMedallia) tokensIssued() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.issued
}
