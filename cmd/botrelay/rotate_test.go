package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/sealed"
	"github.com/botrelay/botrelay/secretbox"
)

// apiClient calls the REST API of a server with a bearer token.
type apiClient struct {
	t     *testing.T
	base  string
	token string
}

func (c *apiClient) call(method, path string, body any, want int) map[string]any {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		c.t.Fatalf("%s %s: %d %s, want %d", method, path, res.StatusCode, raw, want)
	}
	out := map[string]any{}
	_ = json.Unmarshal(raw, &out)
	return out
}

// adminAPI logs in as admin (cookie session) and makes a bearer token.
func adminAPI(t *testing.T, base, password string) *apiClient {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/login", strings.NewReader(`{"loginName":"admin","password":"`+password+`"}`))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var login struct {
		CSRFToken string `json:"csrfToken"`
	}
	_ = json.NewDecoder(res.Body).Decode(&login)
	if res.StatusCode != 200 {
		t.Fatalf("login: %d", res.StatusCode)
	}
	req, _ = http.NewRequest(http.MethodPost, base+"/api/v1/tokens", strings.NewReader(`{"description":"rotate test"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", login.CSRFToken)
	for _, ck := range res.Cookies() {
		req.AddCookie(ck)
	}
	res2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res2.Body.Close()
	var tok struct {
		Token string `json:"token"`
	}
	_ = json.NewDecoder(res2.Body).Decode(&tok)
	if res2.StatusCode != http.StatusCreated || tok.Token == "" {
		t.Fatalf("create token: %d", res2.StatusCode)
	}
	return &apiClient{t: t, base: base, token: tok.Token}
}

// TestRotateMasterKey: with the server stopped, rotate-master-key re-seals
// every bot's secrets under a new key and replaces master.key; the old key
// opens nothing any more, and after a restart the bots still reach their
// vendor with the same credential and log in as their bot users.
func TestRotateMasterKey(t *testing.T) {
	const password = "Rotate-Admin-Pa55word"
	const apiKey = "sk-rotation-test-key-4c1e"
	var mu sync.Mutex
	var auths []string
	vendor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auths = append(auths, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"data":[{"id":"m"}]}`))
	}))
	t.Cleanup(vendor.Close)
	sawKey := func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, a := range auths {
			if a == "Bearer "+apiKey {
				return true
			}
		}
		return false
	}

	data := t.TempDir()
	env := []string{"BOTRELAY_ADMIN_PASSWORD=" + password}
	p := start(t, env, "serve", "--addr", "127.0.0.1:0", "--data", data)
	api := adminAPI(t, p.waitListening(t), password)
	var agent any
	for _, pr := range listOf(t, api, "/api/v1/profiles") {
		if pr["name"] == "Agent" {
			agent = pr["id"]
		}
	}
	u := api.call(http.MethodPost, "/api/v1/users", map[string]any{"type": "BOT", "loginName": "rot-ai", "profileId": agent,
		"skillIds": []any{}}, http.StatusCreated)
	bot := api.call(http.MethodPost, "/api/v1/bots", map[string]any{"name": "rotated", "vendor": "openai",
		"userId": u["user"].(map[string]any)["id"], "settings": map[string]any{"vendor": map[string]any{"baseUrl": vendor.URL,
			"model": "m", "apiKey": apiKey}, "errorHandling": map[string]any{"escalationSkill": "human"}}}, http.StatusCreated)
	botPath := "/api/v1/bots/" + bot["id"].(string)
	if res := api.call(http.MethodPost, botPath+"/test", nil, http.StatusOK); res["ok"] != true || !sawKey() {
		t.Fatalf("connection test before the rotation: %v (vendor saw the key: %t)", res, sawKey())
	}
	p.stop(t)
	oldKey, err := os.ReadFile(filepath.Join(data, "master.key"))
	if err != nil {
		t.Fatal(err)
	}

	// The rotation.
	r := start(t, nil, "rotate-master-key", "--data", data)
	if code := r.exitCode(t, 30*time.Second); code != 0 || !strings.Contains(r.stdout.String(), "re-sealed the secrets of 2 bots") {
		t.Fatalf("rotate-master-key: exit %d\nstdout: %s\nstderr: %s", code, r.stdout, r.stderr)
	}
	newKey, err := os.ReadFile(filepath.Join(data, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(oldKey, newKey) {
		t.Fatal("master.key did not change")
	}
	if fi, err := os.Stat(filepath.Join(data, "master.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("new master.key: %v, mode %v", err, fi.Mode())
	}
	if _, err := os.Stat(filepath.Join(data, "master-key-rotation")); err == nil {
		t.Error("the rotation folder is still there")
	}
	// The old key opens no bot's secrets any more; the new one opens all.
	store := openSQLite(t, data)
	bots, err := store.Bots(context.Background(), botrelay.AccountID("1000"))
	if err != nil {
		t.Fatal(err)
	}
	oldBox, newBox := boxOf(t, oldKey), boxOf(t, newKey)
	for _, b := range bots {
		if _, err := sealed.Open(oldBox, b); err == nil && b.Secrets != "" {
			t.Errorf("bot %s: the old key still opens its secrets", b.Name)
		}
		if _, err := sealed.Open(newBox, b); err != nil {
			t.Errorf("bot %s: the new key does not open its secrets: %v", b.Name, err)
		}
	}
	store.Close()
	// Running it again finds nothing to do but still rotates the key.
	r = start(t, nil, "rotate-master-key", "--data", data)
	if code := r.exitCode(t, 30*time.Second); code != 0 {
		t.Fatalf("second rotate-master-key: exit %d: %s", code, r.stderr)
	}

	// After a restart the bot still has its credential, and the demo bot
	// (started since the first start) logs in with its sealed API key.
	mu.Lock()
	auths = nil
	mu.Unlock()
	p = start(t, env, "serve", "--addr", "127.0.0.1:0", "--data", data)
	api = adminAPI(t, p.waitListening(t), password)
	if res := api.call(http.MethodPost, botPath+"/test", nil, http.StatusOK); res["ok"] != true || !sawKey() {
		t.Errorf("connection test after the rotation: %v (vendor saw the key: %t)", res, sawKey())
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		online := false
		for _, b := range listOf(t, api, "/api/v1/bots") {
			if b["started"] == true && b["state"] == "ONLINE" {
				online = true
			}
		}
		if online {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo bot is not ONLINE after the rotation: %v", listOf(t, api, "/api/v1/bots"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.stop(t)

	// A key given in the environment needs the new one there too.
	r = start(t, []string{"BOTRELAY_MASTER_KEY=" + strings.TrimSpace(string(newKey))}, "rotate-master-key", "--data", data)
	if code := r.exitCode(t, 30*time.Second); code != 1 || strings.Count(strings.TrimSpace(r.stderr.String()), "\n") != 0 ||
		!strings.Contains(r.stderr.String(), "BOTRELAY_NEW_MASTER_KEY") {
		t.Errorf("env key without a new one: exit %d, stderr %q", code, r.stderr)
	}
}

func boxOf(t *testing.T, keyFile []byte) *secretbox.Box {
	t.Helper()
	key, _, err := secretbox.LoadKey(strings.TrimSpace(string(keyFile)), "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func listOf(t *testing.T, api *apiClient, path string) []map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, api.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+api.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out []map[string]any
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return out
}
