package watson_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fakeWatson follows Watson Assistant's documented wire (v1 workspaces
// message API and v2 sessions API) and IBM Cloud IAM's API-key grant. It
// checks on every Watson call the version query parameter and the
// credentials (IAM bearer issued by its token endpoint, or basic auth), and
// answers 400 / 401 exactly as Watson does when they are wrong.
type fakeWatson struct {
	t      *testing.T
	srv    *httptest.Server // Watson
	iamSrv *httptest.Server // IAM
	// URL is the service URL setting (with an instance path); TokenURL the
	// token endpoint setting.
	URL, TokenURL string

	apiKey     string // IAM mode when set
	user, pass string // basic mode otherwise
	version    string // the version every call must carry
	workspace  string
	assistant  string
	expiresIn  int

	mu        sync.Mutex
	tokens    map[string]bool // valid bearer tokens
	exchanges int
	nextID    int
	sessions  map[string]map[string]any // session id → user_defined variables
	log       []call
	// replyV1/replyV2, when set, answer a message call (status, body);
	// default: the dialog function below.
	replyV1 func(req map[string]any) (int, string)
	replyV2 func(req map[string]any) (int, string)
	// hook answers any Watson call before the normal handling when it
	// returns true.
	hook func(w http.ResponseWriter, r *http.Request) bool
}

// call is one recorded Watson or IAM call.
type call struct {
	Method, Path string
	Body         map[string]any
	Status       int
	Bearer       string
}

const (
	fakeAPIKey    = "test-apikey-0123456789abcdef"
	fakeUser      = "apikey"
	fakePassword  = "basic-pass-9876543210"
	fakeWorkspace = "0e5d6b8a-1b2c-4d3e-8f90-a1b2c3d4e5f6"
	fakeAssistant = "7a1c2f3e-4d5b-6a7c-8d9e-0f1a2b3c4d5e"
	instancePath  = "/instances/4f1c-inst"
)

type fakeOpt func(f *fakeWatson)

func basicAuth(f *fakeWatson) { f.apiKey, f.user, f.pass = "", fakeUser, fakePassword }

func newFake(t *testing.T, opts ...fakeOpt) *fakeWatson {
	t.Helper()
	f := &fakeWatson{t: t, apiKey: fakeAPIKey, version: "2018-09-20", workspace: fakeWorkspace, assistant: fakeAssistant,
		expiresIn: 3600, tokens: map[string]bool{}, sessions: map[string]map[string]any{}}
	for _, o := range opts {
		o(f)
	}
	iam := http.NewServeMux()
	iam.HandleFunc("POST /identity/token", f.token)
	f.iamSrv = httptest.NewServer(iam)
	t.Cleanup(f.iamSrv.Close)
	f.TokenURL = f.iamSrv.URL + "/identity/token"

	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/workspaces/{ws}", f.getWorkspace)
	mux.HandleFunc("POST /v1/workspaces/{ws}/message", f.messageV1)
	mux.HandleFunc("POST /v2/assistants/{a}/sessions", f.createSession)
	mux.HandleFunc("DELETE /v2/assistants/{a}/sessions/{sid}", f.deleteSession)
	mux.HandleFunc("POST /v2/assistants/{a}/sessions/{sid}/message", f.messageV2)
	f.srv = httptest.NewServer(http.StripPrefix(instancePath, f.check(mux)))
	t.Cleanup(f.srv.Close)
	f.URL = f.srv.URL + instancePath
	return f
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// token is IAM's POST /identity/token with the API-key grant.
func (f *fakeWatson) token(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		writeJSON(w, 400, map[string]any{"errorCode": "BXNIM0109E", "errorMessage": "Property missing or empty: Content-Type " + ct})
		return
	}
	if err := r.ParseForm(); err != nil {
		writeJSON(w, 400, map[string]any{"errorCode": "BXNIM0109E", "errorMessage": "bad form"})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.exchanges++
	if g := r.PostForm.Get("grant_type"); g != "urn:ibm:params:oauth:grant-type:apikey" {
		writeJSON(w, 400, map[string]any{"errorCode": "BXNIM0103E", "errorMessage": "Unsupported grant type: " + g})
		return
	}
	if f.apiKey == "" || r.PostForm.Get("apikey") != f.apiKey {
		// IBM's answer names the problem, not the key; the echo below is
		// there to prove the connector redacts it anyway.
		writeJSON(w, 400, map[string]any{"errorCode": "BXNIM0415E", "errorMessage": "Provided API key could not be found.", "context": map[string]any{"apikey": r.PostForm.Get("apikey")}})
		return
	}
	f.nextID++
	tok := fmt.Sprintf("iam-token-%d", f.nextID)
	f.tokens[tok] = true
	writeJSON(w, 200, map[string]any{"access_token": tok, "refresh_token": "not-used", "token_type": "Bearer",
		"expires_in": f.expiresIn, "expiration": 1893456000, "scope": "ibm openid"})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// check runs on every Watson call: version, then credentials.
func (f *fakeWatson) check(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		sw := &statusWriter{ResponseWriter: w, status: 200}
		bearer, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		defer func() {
			f.mu.Lock()
			f.log = append(f.log, call{Method: r.Method, Path: r.URL.Path, Body: body, Status: sw.status, Bearer: bearer})
			f.mu.Unlock()
		}()
		if v := r.URL.Query().Get("version"); v == "" {
			writeJSON(sw, 400, map[string]any{"error": "Missing required query parameter `version`", "code": 400})
			return
		} else if v != f.version {
			writeJSON(sw, 400, map[string]any{"error": "unexpected version " + v + " (the test expects " + f.version + ")", "code": 400})
			return
		}
		f.mu.Lock()
		authOK := false
		if f.apiKey != "" {
			authOK = strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") && f.tokens[bearer]
		} else {
			u, p, isBasic := r.BasicAuth()
			authOK = isBasic && u == f.user && p == f.pass
		}
		hook := f.hook
		f.mu.Unlock()
		if !authOK {
			writeJSON(sw, 401, map[string]any{"error": "Unauthorized", "code": 401})
			return
		}
		if hook != nil && hook(sw, r) {
			return
		}
		if r.Method == http.MethodPost && r.Header.Get("Content-Type") != "application/json" && len(raw) > 0 {
			writeJSON(sw, 415, map[string]any{"error": "Unsupported Media Type", "code": 415})
			return
		}
		r.Body = io.NopCloser(strings.NewReader(string(raw)))
		next.ServeHTTP(sw, r)
	})
}

func (f *fakeWatson) getWorkspace(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("ws") != f.workspace {
		writeJSON(w, 404, map[string]any{"error": "Resource not found", "code": 404})
		return
	}
	writeJSON(w, 200, map[string]any{"name": "Customer Care", "language": "en", "workspace_id": f.workspace, "description": "", "learning_opt_out": false})
}

func (f *fakeWatson) messageV1(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("ws") != f.workspace {
		writeJSON(w, 404, map[string]any{"error": "Resource not found", "code": 404})
		return
	}
	var req map[string]any
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeJSON(w, 400, map[string]any{"error": "Invalid JSON input", "code": 400})
		return
	}
	f.mu.Lock()
	reply := f.replyV1
	f.mu.Unlock()
	if reply != nil {
		status, body := reply(req)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
		return
	}
	ctx, _ := req["context"].(map[string]any)
	if ctx == nil {
		ctx = map[string]any{}
	}
	text := ""
	if in, _ := req["input"].(map[string]any); in != nil {
		text, _ = in["text"].(string)
	}
	if _, ok := ctx["conversation_id"]; !ok {
		f.mu.Lock()
		f.nextID++
		ctx["conversation_id"] = fmt.Sprintf("watson-conv-%d", f.nextID)
		f.mu.Unlock()
	}
	sys, _ := ctx["system"].(map[string]any)
	if sys == nil {
		sys = map[string]any{"initialized": true, "dialog_stack": []any{map[string]any{"dialog_node": "root"}}, "dialog_turn_counter": 0.0}
	}
	sys["dialog_turn_counter"] = sys["dialog_turn_counter"].(float64) + 1
	ctx["system"] = sys
	generic, actions := dialog(text, ctx)
	writeJSON(w, 200, map[string]any{
		"intents":  []any{map[string]any{"intent": "echo", "confidence": 0.91}},
		"entities": []any{},
		"input":    map[string]any{"text": text},
		"output":   map[string]any{"generic": generic, "text": []any{}, "nodes_visited": []any{"node_1"}, "log_messages": []any{}},
		"context":  ctx,
		"actions":  actions,
	})
}

// dialog is the fake's bot: a welcome, a transfer on "agent", an echo that
// says what context it got.
func dialog(text string, vars map[string]any) (generic []any, actions []any) {
	lp, _ := vars["lpEvent"].(map[string]any)
	switch {
	case text == "":
		last, _ := lp["lastConsumerMessage"].(string)
		return []any{map[string]any{"response_type": "text", "text": "Welcome! last=" + last}}, []any{}
	case text == "refund please":
		return []any{map[string]any{"response_type": "text", "text": "Let me get someone."},
			map[string]any{"response_type": "connect_to_agent", "message_to_human_agent": "Refund over 500 USD.",
				"agent_available": map[string]any{"message": "An agent will be with you shortly."},
				"transfer_info":   map[string]any{"target": map[string]any{"liveperson": map[string]any{"skill": "refunds"}}}}}, []any{}
	case text == "someone":
		return []any{map[string]any{"response_type": "connect_to_agent", "message_to_human_agent": "Wants a person."}}, []any{}
	case text == "agent":
		return []any{map[string]any{"response_type": "text", "text": "Transferring you to a human."}},
			[]any{map[string]any{"name": "TRANSFER", "type": "client", "parameters": map[string]any{"skill": "human"}, "result_variable": "none"}}
	}
	conv, _ := vars["convId"].(string)
	lpConv, _ := lp["conversationId"].(string)
	_, hasSdes := vars["lpSdes"].(map[string]any)
	return []any{map[string]any{"response_type": "text", "text": fmt.Sprintf("You said: %s | convId=%v sdes=%v", text, conv != "" && conv == lpConv, hasSdes)}}, []any{}
}

func (f *fakeWatson) createSession(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("a") != f.assistant {
		writeJSON(w, 404, map[string]any{"error": "Resource not found", "code": 404})
		return
	}
	f.mu.Lock()
	f.nextID++
	sid := fmt.Sprintf("session-%d", f.nextID)
	f.sessions[sid] = map[string]any{}
	f.mu.Unlock()
	writeJSON(w, 201, map[string]any{"session_id": sid})
}

func (f *fakeWatson) deleteSession(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	_, ok := f.sessions[r.PathValue("sid")]
	delete(f.sessions, r.PathValue("sid"))
	f.mu.Unlock()
	if !ok || r.PathValue("a") != f.assistant {
		writeJSON(w, 404, map[string]any{"error": "Invalid Session", "code": 404})
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (f *fakeWatson) messageV2(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	vars, ok := f.sessions[r.PathValue("sid")]
	reply := f.replyV2
	f.mu.Unlock()
	if !ok || r.PathValue("a") != f.assistant {
		writeJSON(w, 404, map[string]any{"error": "Invalid Session", "code": 404})
		return
	}
	var req map[string]any
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeJSON(w, 400, map[string]any{"error": "Invalid JSON input", "code": 400})
		return
	}
	if reply != nil {
		status, body := reply(req)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
		return
	}
	in, _ := req["input"].(map[string]any)
	text, _ := in["text"].(string)
	// Merge the request's user_defined variables into the session's.
	if c, _ := req["context"].(map[string]any); c != nil {
		skills, _ := c["skills"].(map[string]any)
		main, _ := skills["main skill"].(map[string]any)
		ud, _ := main["user_defined"].(map[string]any)
		f.mu.Lock()
		for k, v := range ud {
			vars[k] = v
		}
		f.mu.Unlock()
	}
	f.mu.Lock()
	generic, actions := dialog(text, vars)
	snapshot, _ := json.Marshal(vars)
	f.mu.Unlock()
	out := map[string]any{"generic": generic, "intents": []any{map[string]any{"intent": "echo", "confidence": 0.91}}, "entities": []any{}}
	if len(actions) > 0 {
		out["actions"] = actions
	}
	resp := map[string]any{"output": out}
	if opts, _ := in["options"].(map[string]any); opts["return_context"] == true {
		resp["context"] = map[string]any{"global": map[string]any{"system": map[string]any{"turn_count": 1}, "session_id": r.PathValue("sid")},
			"skills": map[string]any{"main skill": map[string]any{"user_defined": json.RawMessage(snapshot), "system": map[string]any{"state": "x"}}}}
	}
	writeJSON(w, 200, resp)
}

func (f *fakeWatson) calls() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.log...)
}

// summary lists "METHOD path status" of the Watson calls, paths relative
// to the instance.
func (f *fakeWatson) summary() []string {
	var out []string
	for _, c := range f.calls() {
		out = append(out, fmt.Sprintf("%s %s %d", c.Method, c.Path, c.Status))
	}
	return out
}

func (f *fakeWatson) exchangeCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.exchanges
}

func (f *fakeWatson) revokeTokens() {
	f.mu.Lock()
	f.tokens = map[string]bool{}
	f.mu.Unlock()
}

func (f *fakeWatson) expireSessions() {
	f.mu.Lock()
	f.sessions = map[string]map[string]any{}
	f.mu.Unlock()
}

func (f *fakeWatson) sessionCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.sessions)
}

func (f *fakeWatson) setReplyV1(fn func(map[string]any) (int, string)) {
	f.mu.Lock()
	f.replyV1 = fn
	f.mu.Unlock()
}

func (f *fakeWatson) setReplyV2(fn func(map[string]any) (int, string)) {
	f.mu.Lock()
	f.replyV2 = fn
	f.mu.Unlock()
}

func (f *fakeWatson) setHook(h func(w http.ResponseWriter, r *http.Request) bool) {
	f.mu.Lock()
	f.hook = h
	f.mu.Unlock()
}
