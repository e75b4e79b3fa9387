package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/function"
	"github.com/botrelay/botrelay/internal/app"
	"github.com/botrelay/botrelay/internal/config"
	"github.com/botrelay/botrelay/internal/testrig"
)

// readLine reads one line from r within 5 s.
func readLine(t *testing.T, r io.Reader) string {
	t.Helper()
	got := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n')
		got <- line
	}()
	select {
	case line := <-got:
		return strings.TrimRight(line, "\r\n")
	case <-time.After(5 * time.Second):
		t.Fatal("no log line within 5 s")
		return ""
	}
}

// TestLogFormatFollowsTheTerminal: with log.format auto (the default) a
// record written to a terminal is text (key=value) and one written to a pipe
// is JSON; json and text force their format either way.
func TestLogFormatFollowsTheTerminal(t *testing.T) {
	if config.Default().Log.Format != "auto" {
		t.Fatalf("default log.format %q, want auto", config.Default().Log.Format)
	}
	master, slave, err := openPTY()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer master.Close()
	defer slave.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	if !app.IsTerminal(slave) || app.IsTerminal(pw) {
		t.Fatalf("IsTerminal: pty %v, pipe %v", app.IsTerminal(slave), app.IsTerminal(pw))
	}
	if null, err := os.Open(os.DevNull); err == nil {
		if app.IsTerminal(null) {
			t.Error("IsTerminal(/dev/null) = true")
		}
		null.Close()
	}

	isText := func(line string) bool {
		return strings.HasPrefix(line, "time=") && strings.Contains(line, " level=INFO msg=hello ") && strings.HasSuffix(line, " n=1")
	}
	isJSON := func(line string) bool {
		var rec map[string]any
		return json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "hello" && rec["n"] == 1.0 && rec["level"] == "INFO"
	}
	for _, c := range []struct {
		format, out string
		text        bool
	}{
		{"auto", "terminal", true}, {"auto", "pipe", false},
		{"json", "terminal", false}, {"text", "pipe", true},
	} {
		w, r := io.Writer(slave), io.Reader(master)
		if c.out == "pipe" {
			w, r = pw, pr
		}
		app.NewLogger(w, config.LogConfig{Level: "info", Format: c.format}).Info("hello", "n", 1)
		line := readLine(t, r)
		if c.text && !isText(line) || !c.text && !isJSON(line) {
			t.Errorf("format %s on a %s wrote %q; want %s", c.format, c.out, line, map[bool]string{true: "text", false: "JSON"}[c.text])
		}
	}
}

// TestLogKeysOnceDurationsInMillis: keys added by With at two levels and by
// the record appear once, with the innermost value; a duration is a number
// of milliseconds under its key plus _ms.
func TestLogKeysOnceDurationsInMillis(t *testing.T) {
	var buf bytes.Buffer
	log := app.NewLogger(&buf, config.LogConfig{Level: "info", Format: "json"})
	log.With("bot_id", "outer", "platform", "hub").With("bot_id", "inner", "vendor", "function").
		Info("turn", "vendor", "record", "took", 1500*time.Microsecond, "drain_ms", 2*time.Second)
	log.With("bot_id", "b").WithGroup("req").With("bot_id", "g1").Info("grouped", "bot_id", "g2")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines: %s", len(lines), buf.String())
	}
	if dup := duplicateKeys(lines[0]); dup != "" {
		t.Errorf("key %s repeated: %s", dup, lines[0])
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"bot_id": "inner", "platform": "hub", "vendor": "record", "took_ms": 1.5, "drain_ms": 2000.0}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("%s = %v, want %v in %s", k, rec[k], v, lines[0])
		}
	}
	if _, ok := rec["took"]; ok {
		t.Errorf("the duration is also under its own key: %s", lines[0])
	}
	if dup := duplicateKeys(lines[1]); dup != "" || !strings.Contains(lines[1], `"bot_id":"b","req":{"bot_id":"g2"}`) {
		t.Errorf("grouped record %s (repeated %q)", lines[1], dup)
	}
}

// duplicateKeys returns the first key that appears twice in one JSON
// object of line (at any depth), or "".
func duplicateKeys(line string) string {
	dec := json.NewDecoder(strings.NewReader(line))
	var walk func() string
	walk = func() string {
		tok, err := dec.Token()
		if err != nil {
			return "(invalid JSON: " + err.Error() + ")"
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return "(invalid JSON)"
				}
				key := k.(string)
				if seen[key] {
					return key
				}
				seen[key] = true
				if d := walk(); d != "" {
					return d
				}
			}
			_, _ = dec.Token()
		case json.Delim('['):
			for dec.More() {
				if d := walk(); d != "" {
					return d
				}
			}
			_, _ = dec.Token()
		}
		return ""
	}
	return walk()
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestServerLogRecords runs the real server with debug logs as JSON, has a
// function bot that logs from its code tested and started through the API
// (next to the demo bot), shuts down, and reads every record: each is one
// JSON object with every key once; the records of the platform adapter and
// of the vendor carry platform, vendor and bot_id; the shutdown record has
// its timeout in milliseconds.
func TestServerLogRecords(t *testing.T) {
	const password = "Logs-pass-42"
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.Data = t.TempDir()
	cfg.Log = config.LogConfig{Level: "debug", Format: "json"}
	cfg.ShutdownTimeout = config.Duration(10 * time.Second)
	reg := botrelay.NewRegistry()
	reg.RegisterVendor(function.Connector{})
	logs := &syncBuffer{}
	env := map[string]string{"BOTRELAY_ADMIN_PASSWORD": password}
	m := &app.Main{Config: cfg, Registry: reg, Stdout: io.Discard, Logs: logs, Getenv: func(k string) string { return env[k] }}
	ready := m.Ready()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("server did not start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start within 30 s")
	}
	base := "http://" + m.Addr()

	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	var csrf string
	call := func(method, path string, body any, status int, out any) {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRF-Token", csrf)
		res, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		data, _ := io.ReadAll(res.Body)
		if res.StatusCode != status {
			t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, data)
		}
		if out != nil {
			if err := json.Unmarshal(data, out); err != nil {
				t.Fatal(err)
			}
		}
	}
	var login struct {
		CSRFToken string `json:"csrfToken"`
	}
	call(http.MethodPost, "/api/v1/login", map[string]string{"loginName": "admin", "password": password}, http.StatusOK, &login)
	csrf = login.CSRFToken
	idOf := func(path, name string) json.Number {
		var items []struct {
			ID   json.Number `json:"id"`
			Name string      `json:"name"`
		}
		call(http.MethodGet, path, nil, http.StatusOK, &items)
		for _, it := range items {
			if it.Name == name {
				return it.ID
			}
		}
		t.Fatalf("no %s in %s", name, path)
		return ""
	}
	var user struct {
		User struct {
			ID json.Number `json:"id"`
		} `json:"user"`
	}
	call(http.MethodPost, "/api/v1/users", map[string]any{"type": "BOT", "loginName": "log-bot", "profileId": idOf("/api/v1/profiles", "Agent"),
		"messagingSlots": 5, "skillIds": []json.Number{idOf("/api/v1/skills", "bot")}}, http.StatusCreated, &user)
	var bot struct {
		ID string `json:"id"`
	}
	code := `console.log("loaded"); function lambda(input, callback) { callback(null, { messages: ["hi"] }); }`
	call(http.MethodPost, "/api/v1/bots", map[string]any{"name": "Log bot", "vendor": "function", "userId": user.User.ID,
		"settings": map[string]any{"vendor": map[string]any{"code": code}, "errorHandling": map[string]any{"escalationSkill": "human"}}},
		http.StatusCreated, &bot)
	var test struct {
		OK bool `json:"ok"`
	}
	call(http.MethodPost, "/api/v1/bots/"+bot.ID+"/test", nil, http.StatusOK, &test)
	if !test.OK {
		t.Fatal("the connection test failed")
	}
	call(http.MethodPost, "/api/v1/bots/"+bot.ID+"/start", nil, http.StatusAccepted, nil)
	testrig.Eventually(t, 20*time.Second, "Log bot online", func() bool {
		var st struct {
			State string `json:"state"`
		}
		call(http.MethodGet, "/api/v1/bots/"+bot.ID+"/status", nil, http.StatusOK, &st)
		return st.State == "ONLINE"
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("server: %v", err)
	}

	var records []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if dup := duplicateKeys(line); dup != "" {
			t.Errorf("key %s repeated in %s", dup, line)
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not a JSON record: %q", line)
		}
		records = append(records, rec)
	}
	find := func(what string, match func(map[string]any) bool) map[string]any {
		t.Helper()
		for _, r := range records {
			if match(r) {
				return r
			}
		}
		t.Errorf("no record %s in:\n%s", what, logs.String())
		return nil
	}
	// The function's console.log, once from the connection test (the API)
	// and once from the start's vendor check (the relay).
	n := 0
	for _, r := range records {
		if r["msg"] == "function console" && r["message"] == "loaded" {
			n++
			if r["bot_id"] != bot.ID || r["vendor"] != "function" {
				t.Errorf("function console record without its bot and vendor: %v", r)
			}
		}
	}
	if n < 2 {
		t.Errorf("%d function console records, want the test's and the start's", n)
	}
	find("of Log bot's platform session with platform and bot_id", func(r map[string]any) bool {
		return r["msg"] == "liveperson: online" && r["platform"] == "liveperson" && r["bot_id"] == bot.ID
	})
	find("of Log bot's state with vendor and bot_id", func(r map[string]any) bool {
		return r["msg"] == "bot state" && r["state"] == "ONLINE" && r["bot_id"] == bot.ID && r["vendor"] == "function"
	})
	if r := find("of the shutdown with timeout_ms", func(r map[string]any) bool { return r["msg"] == "shutting down" }); r != nil {
		if r["timeout_ms"] != 10000.0 || r["timeout"] != nil {
			t.Errorf("shutdown record %v: want timeout_ms 10000", r)
		}
	}
	t.Log(fmt.Sprint(len(records), " records checked"))
}

// TestServeLogFormatFlag: --log-format takes auto, json or text; anything
// else stops serve with one line naming the flag and the choices.
func TestServeLogFormatFlag(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := app.ServeCommand([]string{"--log-format", "xml", "--data", t.TempDir()}, &stdout, &stderr, botrelay.NewRegistry())
	want := "botrelay serve: config: log.format \"xml\" must be one of auto, json, text (flag --log-format)\n"
	if code != 1 || stderr.String() != want {
		t.Errorf("exit %d, stderr %q; want 1 and %q", code, stderr.String(), want)
	}
}
