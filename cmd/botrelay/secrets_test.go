package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestNoStoredSecretInAPIOrLogs (issue 7, acceptance 4): bots are created,
// edited, tested, started, talked to in the tester and stopped through the
// API with known vendor credentials, against a vendor that refuses them and
// echoes what it was sent. No API response and no log line (debug level
// on) contains a stored secret, the admin password or the API token.
func TestNoStoredSecretInAPIOrLogs(t *testing.T) {
	const (
		adminPassword = "Scan-Admin-Pa55word"
		openaiKey     = "sk-known-openai-key-7f3a9c"
		openaiKey2    = "sk-rotated-openai-key-51d0e2"
		surveySecret  = "medallia-known-secret-e81b"
	)
	// The vendor: refuses every call and echoes the request back, the way
	// a careless error page would.
	var mu sync.Mutex
	sawKey := map[string]bool{}
	vendor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		auth := r.Header.Get("Authorization")
		mu.Lock()
		sawKey[auth] = true
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": "bad credentials: " + auth + " " + string(body)}})
	}))
	t.Cleanup(vendor.Close)

	key := make([]byte, 32)
	rand.Read(key)
	env := []string{"BOTRELAY_MASTER_KEY=" + base64.StdEncoding.EncodeToString(key), "BOTRELAY_ADMIN_PASSWORD=" + adminPassword,
		"BOTRELAY_LOG_LEVEL=debug"}
	p := start(t, env, "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir())
	base := p.waitListening(t)

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	var bodies []string
	csrf, token := "", ""
	var call func(method, path string, body any, want int) map[string]any
	var profiles []map[string]any
	call = func(method, path string, body any, want int) map[string]any {
		t.Helper()
		var rd io.Reader
		if body != nil {
			raw, _ := json.Marshal(body)
			rd = bytes.NewReader(raw)
		}
		req, _ := http.NewRequest(method, base+path, rd)
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		} else if csrf != "" {
			req.Header.Set("X-CSRF-Token", csrf)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, raw, want)
		}
		bodies = append(bodies, string(raw))
		var out map[string]any
		if json.Unmarshal(raw, &out) != nil && path == "/api/v1/profiles" {
			_ = json.Unmarshal(raw, &profiles)
		}
		return out
	}
	login := call(http.MethodPost, "/api/v1/login", map[string]string{"loginName": "admin", "password": adminPassword}, http.StatusOK)
	csrf, _ = login["csrfToken"].(string)
	created := call(http.MethodPost, "/api/v1/tokens", map[string]string{"description": "scan"}, http.StatusCreated)
	token, _ = created["token"].(string)
	bodies = bodies[:len(bodies)-1] // the one response that shows the new token
	if csrf == "" || token == "" {
		t.Fatalf("login gave csrf %q, token set %t", csrf, token != "")
	}

	call(http.MethodGet, "/api/v1/profiles", nil, http.StatusOK)
	var agentProfile any
	for _, p := range profiles {
		if p["name"] == "Agent" {
			agentProfile = p["id"]
		}
	}
	if agentProfile == nil {
		t.Fatalf("no Agent profile in %v", profiles)
	}
	botUser := func(login string) float64 {
		u := call(http.MethodPost, "/api/v1/users", map[string]any{"type": "BOT", "loginName": login,
			"profileId": agentProfile, "skillIds": []any{}}, http.StatusCreated)
		return u["user"].(map[string]any)["id"].(float64)
	}
	ai := call(http.MethodPost, "/api/v1/bots", map[string]any{"name": "scan openai", "vendor": "openai", "userId": botUser("scan-ai"),
		"settings": map[string]any{"vendor": map[string]any{"baseUrl": vendor.URL, "model": "m", "apiKey": openaiKey},
			"errorHandling": map[string]any{"escalationSkill": "human"},
			"limits":        map[string]any{"healthIntervalSeconds": 1, "restartIntervalSeconds": 1}}}, http.StatusCreated)
	aiPath := "/api/v1/bots/" + ai["id"].(string)
	call(http.MethodPut, aiPath, map[string]any{"name": "scan openai", "settings": map[string]any{
		"vendor":        map[string]any{"baseUrl": vendor.URL, "model": "m", "apiKey": openaiKey2},
		"errorHandling": map[string]any{"escalationSkill": "human"}}}, http.StatusOK)
	sv := call(http.MethodPost, "/api/v1/bots", map[string]any{"name": "scan survey", "type": "SURVEY", "vendor": "medallia",
		"userId": botUser("scan-survey"), "settings": map[string]any{"vendor": map[string]any{"baseUrl": vendor.URL, "clientId": "relay",
			"surveyAppId": "csat", "clientSecret": surveySecret}}}, http.StatusCreated)
	svPath := "/api/v1/bots/" + sv["id"].(string)

	for _, path := range []string{aiPath, svPath} {
		if res := call(http.MethodPost, path+"/test", nil, http.StatusOK); res["ok"] != false {
			t.Errorf("connection test against a refusing vendor: %v", res)
		}
		call(http.MethodPost, path+"/start", nil, http.StatusAccepted)
	}
	call(http.MethodPost, aiPath+"/converse", map[string]any{"text": "hello"}, http.StatusOK)
	// Wait until both bots have been refused by the vendor (their errors
	// are in the state history), then read everything the API shows.
	deadline := time.Now().Add(20 * time.Second)
	for _, path := range []string{aiPath, svPath} {
		for {
			st := call(http.MethodGet, path+"/status", nil, http.StatusOK)
			if st["state"] == "VENDOR_INTERRUPTION" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never reported the vendor's refusal: %v", path, st)
			}
			time.Sleep(50 * time.Millisecond)
		}
		call(http.MethodGet, path, nil, http.StatusOK)
		call(http.MethodGet, path+"/errors", nil, http.StatusOK)
		call(http.MethodGet, path+"/conversations", nil, http.StatusOK)
		call(http.MethodPost, path+"/stop", nil, http.StatusOK)
	}
	call(http.MethodGet, "/api/v1/bots", nil, http.StatusOK)
	call(http.MethodGet, "/api/v1/users", nil, http.StatusOK)
	p.stop(t)

	mu.Lock()
	used := sawKey["Bearer "+openaiKey2]
	mu.Unlock()
	if !used {
		t.Fatalf("the vendor never saw the rotated key; it saw %v", sawKey)
	}
	// A secret also leaks in encoded form: Basic auth carries it base64'd.
	secrets := []string{openaiKey, openaiKey2, surveySecret, adminPassword, token, base64.StdEncoding.EncodeToString(key),
		base64.StdEncoding.EncodeToString([]byte("relay:" + surveySecret))}
	for _, b := range bodies {
		for _, s := range secrets {
			if strings.Contains(b, s) {
				t.Errorf("an API response contains a secret (%d chars): %s", len(s), b)
			}
		}
	}
	for _, out := range []string{p.stdout.String(), p.stderr.String()} {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("the log contains a secret (%d chars)", len(s))
			}
		}
	}
	// The scan covered the vendor's refusals (which echoed the keys).
	if n := strings.Count(p.stderr.String(), `"state":"VENDOR_INTERRUPTION"`); n < 2 {
		t.Errorf("the log has %d vendor interruptions, want one per bot:\n%s", n, p.stderr.String())
	}
}
