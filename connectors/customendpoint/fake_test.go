package customendpoint

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/botrelay/botrelay/internal/jwtsign"
)

// fakeEndpoint is a Custom Endpoint service that follows §4: the four
// routes under a base path, a bearer JWT checked on every call against a
// JWKS (iss, aud, scope as §4.2), conversations that must be PUT before
// events, request bodies checked against the ConversationChange schema.
// Replies come from reply (default: a TEXT echo).
type fakeEndpoint struct {
	t       *testing.T
	srv     *httptest.Server
	base    string // the Base URL setting
	jwks    []byte
	account string

	mu            sync.Mutex
	bots          map[string]map[string]string // botId → environment → state
	conversations map[string]bool              // botId/env/convId
	log           []recorded
	// hook, when set, answers a request before the normal handling; it
	// returns false to fall through.
	hook func(w http.ResponseWriter, r *http.Request, body []byte) bool
	// reply answers a valid event for a known conversation.
	reply func(ev map[string]any) (status int, body string)
}

type recorded struct {
	Method, Path string
	Body         []byte
	Token        string
	Status       int
}

const (
	fakeBot     = "5809777a-e548-4bd2-bc5f-a1003c132a28"
	fakeAccount = "1000"
)

func newFake(t *testing.T, jwks []byte) *fakeEndpoint {
	t.Helper()
	f := &fakeEndpoint{
		t: t, jwks: jwks, account: fakeAccount,
		bots: map[string]map[string]string{
			fakeBot:                                {"draft": "online", "production": "online"},
			"36d5de7f-6c83-41ba-836d-28ca1062c1ef": {"production": "offline"},
			"42773157-adcf-4ec1-a2ae-9b935d80cb81": {"production": "error"},
			"bfb807d6-f6d8-11ec-b939-0242ac120002": {"alpha": "maintenance"},
		},
		conversations: map[string]bool{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/bots/{botId}/environments", f.environments)
	mux.HandleFunc("GET /v1/bots/{botId}/environments/{environment}/state", f.state)
	mux.HandleFunc("PUT /v1/bots/{botId}/environments/{environment}/conversations/{convId}", f.create)
	mux.HandleFunc("POST /v1/bots/{botId}/environments/{environment}/conversations/{convId}/events", f.event)
	f.srv = httptest.NewServer(http.StripPrefix("/api", f.middleware(mux)))
	t.Cleanup(f.srv.Close)
	f.base = f.srv.URL + "/api"
	return f
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// middleware records the call and checks the bearer JWT (§4.2 failure
// table: no header 403, no token 401, bad token 401).
func (f *fakeEndpoint) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec := &statusRecorder{ResponseWriter: w, status: 200}
		auth := r.Header.Get("Authorization")
		tok, _ := strings.CutPrefix(auth, "Bearer ")
		defer func() {
			f.mu.Lock()
			f.log = append(f.log, recorded{Method: r.Method, Path: r.URL.Path, Body: body, Token: tok, Status: rec.status})
			f.mu.Unlock()
		}()
		switch {
		case auth == "":
			http.Error(rec, `{"message":"You are not allowed to do this action"}`, http.StatusForbidden)
			return
		case strings.TrimSpace(tok) == "" || !strings.HasPrefix(auth, "Bearer "):
			http.Error(rec, `{"message":"no token"}`, http.StatusUnauthorized)
			return
		}
		claims, err := jwtsign.Verify(f.jwks, tok, time.Now())
		if err != nil {
			http.Error(rec, `{"message":"Unable to verify the validity of your request"}`, http.StatusUnauthorized)
			return
		}
		if claims["iss"] != "Sentinel" || claims["aud"] != f.account {
			http.Error(rec, `{"message":"Unable to verify the validity of your request"}`, http.StatusUnauthorized)
			return
		}
		if s, _ := claims["scope"].(string); s != "thirdpartybots.customendpoint.bot" && s != "ihub.tpb.customendpoint" {
			http.Error(rec, `{"message":"No Scope provided"}`, http.StatusUnauthorized)
			return
		}
		f.mu.Lock()
		hook := f.hook
		f.mu.Unlock()
		if hook != nil && hook(rec, r, body) {
			return
		}
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		next.ServeHTTP(rec, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeEndpoint) environments(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	envs := f.bots[r.PathValue("botId")]
	f.mu.Unlock()
	if len(envs) == 0 {
		writeJSON(w, 404, map[string]string{"message": "No environments found for the bot."})
		return
	}
	list := []string{}
	for _, e := range []string{"draft", "alpha", "production"} {
		if _, ok := envs[e]; ok {
			list = append(list, e)
		}
	}
	writeJSON(w, 200, list)
}

func (f *fakeEndpoint) state(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	st, ok := f.bots[r.PathValue("botId")][r.PathValue("environment")]
	f.mu.Unlock()
	if !ok {
		writeJSON(w, 404, map[string]string{"message": "bot not found"})
		return
	}
	writeJSON(w, 200, map[string]string{"state": st, "version": "1.0"})
}

func (f *fakeEndpoint) known(r *http.Request) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.bots[r.PathValue("botId")][r.PathValue("environment")]
	return ok
}

func convKey(r *http.Request) string {
	return r.PathValue("botId") + "/" + r.PathValue("environment") + "/" + r.PathValue("convId")
}

func (f *fakeEndpoint) create(w http.ResponseWriter, r *http.Request) {
	if !f.known(r) {
		writeJSON(w, 404, map[string]string{"message": "bot not found"})
		return
	}
	var body struct {
		SDEs    map[string]any `json:"sdes"`
		Context map[string]any `json:"context"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Context == nil {
		writeJSON(w, 400, map[string]string{"message": "context is required"})
		return
	}
	if typ := body.Context["type"]; typ != "MESSAGING" && typ != "CHAT" {
		writeJSON(w, 400, map[string]string{"message": fmt.Sprintf("context.type %v", typ)})
		return
	}
	f.mu.Lock()
	f.conversations[convKey(r)] = true
	f.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (f *fakeEndpoint) event(w http.ResponseWriter, r *http.Request) {
	if !f.known(r) {
		writeJSON(w, 404, map[string]string{"message": "bot not found"})
		return
	}
	f.mu.Lock()
	exists := f.conversations[convKey(r)]
	f.mu.Unlock()
	if !exists {
		writeJSON(w, 404, map[string]string{"message": "conversation not found"})
		return
	}
	var ev map[string]any
	if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
		writeJSON(w, 400, map[string]string{"message": "body is not JSON"})
		return
	}
	if msg := checkEvent(ev); msg != "" {
		writeJSON(w, 400, map[string]string{"message": msg})
		return
	}
	status, body := 200, ""
	if f.reply != nil {
		status, body = f.reply(ev)
	} else {
		data, _ := ev["data"].(map[string]any)
		out, _ := json.Marshal(map[string]any{
			"response":  []any{map[string]any{"type": "TEXT", "data": map[string]any{"message": fmt.Sprintf("echo %v", data["message"])}}},
			"analytics": map[string]any{"intents": []any{}},
		})
		body = string(out)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// checkEvent validates a ConversationChange as the reference service does.
func checkEvent(ev map[string]any) string {
	ctx, _ := ev["context"].(map[string]any)
	if ctx == nil {
		return "context is required"
	}
	if _, ok := ctx["lpEvent"].(map[string]any); !ok {
		return "context.lpEvent must be an object"
	}
	data, ok := ev["data"].(map[string]any)
	if !ok {
		return "data must be an object"
	}
	switch ev["type"] {
	case "TEXT":
		if _, ok := data["message"].(string); !ok || ev["source"] != "CONSUMER" {
			return "TEXT needs source CONSUMER and data.message"
		}
	case "RICH_CONTENT":
		if _, ok := data["content"].(map[string]any); !ok || ev["source"] != "CONSUMER" {
			return "RICH_CONTENT needs source CONSUMER and data.content"
		}
	case "START", "CLOSE_CONVERSATION":
		if ev["source"] != "CONVERSATION" {
			return "START needs source CONVERSATION"
		}
	default:
		return fmt.Sprintf("event type %v is not supported; supported: TEXT, START, CLOSE_CONVERSATION, RICH_CONTENT", ev["type"])
	}
	return ""
}

func (f *fakeEndpoint) calls() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.log...)
}

// summary lists "METHOD /path-suffix status" of the calls, the path
// relative to the bot's environment.
func (f *fakeEndpoint) summary() []string {
	var out []string
	for _, c := range f.calls() {
		p := c.Path
		if i := strings.Index(p, "/environments"); i >= 0 {
			p = p[i:]
		}
		out = append(out, fmt.Sprintf("%s %s %d", c.Method, p, c.Status))
	}
	return out
}

func (f *fakeEndpoint) setHook(h func(w http.ResponseWriter, r *http.Request, body []byte) bool) {
	f.mu.Lock()
	f.hook = h
	f.mu.Unlock()
}

func (f *fakeEndpoint) forget(conv string) {
	f.mu.Lock()
	for k := range f.conversations {
		if strings.HasSuffix(k, "/"+conv) {
			delete(f.conversations, k)
		}
	}
	f.mu.Unlock()
}
