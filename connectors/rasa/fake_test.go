package rasa

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// fakeRasa is a Rasa server as its REST channel and HTTP API answer:
// POST /webhooks/rest/webhook takes {"sender","message","metadata"} and
// answers an array of bot messages; GET / answers "Hello from Rasa: …";
// GET /status is the HTTP API, protected by the token. The fake checks the
// token on every call, in the configured mode (?token= or a bearer).
type fakeRasa struct {
	t     *testing.T
	srv   *httptest.Server
	token string
	mode  string

	mu       sync.Mutex
	requests []Request
	rejected int
	// reply answers a valid webhook request; default: an echo.
	reply func(r Request) (status int, body string)
}

func newFakeRasa(t *testing.T, token, mode string) *fakeRasa {
	f := &fakeRasa{t: t, token: token, mode: mode}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /webhooks/rest/webhook", f.webhook)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "Hello from Rasa: 3.6.20")
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"model_id": "75a985b7b86d442ca013d61ea4781b22", "model_file": "models/20240101-000000.tar.gz", "num_active_training_jobs": 0})
	})
	f.srv = httptest.NewServer(f.auth(mux))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeRasa) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.token != "" {
			var got string
			if f.mode == AuthBearer {
				got = r.Header.Get("Authorization")
				if got != "Bearer "+f.token {
					got = "x"
				} else {
					got = f.token
				}
			} else {
				got = r.URL.Query().Get("token")
			}
			if got != f.token {
				f.mu.Lock()
				f.rejected++
				f.mu.Unlock()
				writeJSON(w, 401, map[string]any{"version": "3.6.20", "status": "failure", "reason": "NotAuthenticated",
					"message": "User is not authenticated.", "code": 401})
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

func (f *fakeRasa) webhook(w http.ResponseWriter, r *http.Request) {
	var req Request
	if r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "content type", 400)
		return
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Sender == "" {
		http.Error(w, "bad request", 400)
		return
	}
	f.mu.Lock()
	f.requests = append(f.requests, req)
	reply := f.reply
	f.mu.Unlock()
	if reply == nil {
		writeJSON(w, 200, []any{map[string]any{"recipient_id": req.Sender, "text": fmt.Sprintf("Rasa heard: %s", req.Message)}})
		return
	}
	st, body := reply(req)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(st)
	io.WriteString(w, body)
}

func (f *fakeRasa) setReply(fn func(Request) (int, string)) {
	f.mu.Lock()
	f.reply = fn
	f.mu.Unlock()
}

func (f *fakeRasa) Requests() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Request(nil), f.requests...)
}

func (f *fakeRasa) Rejected() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rejected
}
