package openai

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

// fakeOpenAI serves the chat-completions API under /v1 as OpenAI documents
// it: every call needs "Authorization: Bearer <key>" (401 with OpenAI's
// error body otherwise, which quotes part of the key); POST
// /v1/chat/completions checks the request (model, messages with known
// roles ending in a user message, function tools); GET /v1/models lists
// the models.
type fakeOpenAI struct {
	t   *testing.T
	srv *httptest.Server
	key string

	mu       sync.Mutex
	requests []ChatRequest
	raw      [][]byte
	rejected int
	// reply answers a valid request; default: an echo with usage.
	reply func(r ChatRequest) (status int, body string)
}

const fakeModel = "gpt-4o-mini"

func newFakeOpenAI(t *testing.T, key string) *fakeOpenAI {
	f := &fakeOpenAI{t: t, key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", f.completions)
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"object": "list", "data": []any{
			map[string]any{"id": "gpt-4o", "object": "model", "created": 1715367049, "owned_by": "system"},
			map[string]any{"id": fakeModel, "object": "model", "created": 1721172741, "owned_by": "system"}}})
	})
	f.srv = httptest.NewServer(f.auth(mux))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeOpenAI) base() string { return f.srv.URL + "/v1" }

func (f *fakeOpenAI) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || got != f.key {
			f.mu.Lock()
			f.rejected++
			f.mu.Unlock()
			masked := got
			if len(got) > 6 {
				masked = got[:3] + "*****" + got[len(got)-3:]
			}
			writeJSON(w, 401, map[string]any{"error": map[string]any{
				"message": "Incorrect API key provided: " + masked + ". You can find your API key at https://platform.openai.com/account/api-keys.",
				"type":    "invalid_request_error", "param": nil, "code": "invalid_api_key"}})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func invalid(w http.ResponseWriter, msg string) {
	writeJSON(w, 400, map[string]any{"error": map[string]any{"message": msg, "type": "invalid_request_error", "param": nil, "code": nil}})
}

func (f *fakeOpenAI) completions(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	if r.Header.Get("Content-Type") != "application/json" {
		invalid(w, "We could not parse the JSON body of your request.")
		return
	}
	var req ChatRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		invalid(w, "We could not parse the JSON body of your request.")
		return
	}
	if msg := checkRequest(req); msg != "" {
		invalid(w, msg)
		return
	}
	f.mu.Lock()
	f.requests = append(f.requests, req)
	f.raw = append(f.raw, raw)
	reply := f.reply
	f.mu.Unlock()
	if reply == nil {
		writeJSON(w, 200, completion("OpenAI heard: "+req.Messages[len(req.Messages)-1].Content, nil, 30))
		return
	}
	st, body := reply(req)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(st)
	io.WriteString(w, body)
}

func checkRequest(req ChatRequest) string {
	if req.Model != fakeModel {
		return fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", req.Model)
	}
	if len(req.Messages) == 0 {
		return "[] is too short - 'messages'"
	}
	for i, m := range req.Messages {
		switch m.Role {
		case "system", "developer", "user", "assistant":
		default:
			return fmt.Sprintf("Invalid value: '%s'. Supported values are: 'system', 'assistant', 'user', 'tool', 'function', and 'developer'. (messages[%d].role)", m.Role, i)
		}
		if m.Role == "system" && i > 0 {
			return "the system message must come first"
		}
	}
	if last := req.Messages[len(req.Messages)-1]; last.Role != "user" {
		return "the last message must be the user's"
	}
	for i, t := range req.Tools {
		if t.Type != "function" || t.Function.Name == "" || t.Function.Parameters["type"] != "object" {
			return fmt.Sprintf("Invalid tools[%d]", i)
		}
	}
	if req.Temperature != nil && (*req.Temperature < 0 || *req.Temperature > 2) {
		return "temperature out of range"
	}
	return ""
}

// completion builds a chat.completion body; calls are [name, arguments]
// pairs.
func completion(content string, calls [][2]string, total int) map[string]any {
	msg := map[string]any{"role": "assistant", "content": nil, "refusal": nil}
	if content != "" {
		msg["content"] = content
	}
	finish := "stop"
	if len(calls) > 0 {
		var tcs []any
		for i, c := range calls {
			tcs = append(tcs, map[string]any{"id": fmt.Sprintf("call_%d", i), "type": "function",
				"function": map[string]any{"name": c[0], "arguments": c[1]}})
		}
		msg["tool_calls"] = tcs
		finish = "tool_calls"
	}
	return map[string]any{"id": "chatcmpl-123", "object": "chat.completion", "created": 1741569952, "model": fakeModel,
		"choices": []any{map[string]any{"index": 0, "message": msg, "logprobs": nil, "finish_reason": finish}},
		"usage":   map[string]any{"prompt_tokens": total - 10, "completion_tokens": 10, "total_tokens": total}}
}

func (f *fakeOpenAI) setReply(fn func(ChatRequest) (int, string)) {
	f.mu.Lock()
	f.reply = fn
	f.mu.Unlock()
}

func (f *fakeOpenAI) Requests() []ChatRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]ChatRequest(nil), f.requests...)
}

func (f *fakeOpenAI) Raw() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.raw...)
}

func (f *fakeOpenAI) Rejected() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rejected
}
