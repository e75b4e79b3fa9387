package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/botrelay/botrelay/internal/testrig"
)

// cliRun is one finished run of a management command.
type cliRun struct {
	stdout, stderr string
	code           int
}

// cliRunner runs management commands against one server with one token
// file, and keeps everything they printed for the secret scan. Commands run
// in the test process through run, the function main exits with, with
// their environment set for the call: the server is a real process, and
// starting a race-instrumented binary per command would make the suite
// slow. TestManageCLI also runs commands as processes (binary) to check
// the exit status main gives.
type cliRunner struct {
	t      *testing.T
	env    []string
	output []string
	binary bool
}

func (r *cliRunner) run(stdin string, args ...string) cliRun {
	r.t.Helper()
	return r.runEnv(nil, stdin, args...)
}

func (r *cliRunner) runEnv(extra []string, stdin string, args ...string) cliRun {
	r.t.Helper()
	env := append(append([]string{}, r.env...), extra...)
	var out cliRun
	if r.binary {
		p := startWithInput(r.t, strings.NewReader(stdin), env, args...)
		code := p.exitCode(r.t, 30*time.Second)
		out = cliRun{stdout: p.stdout.String(), stderr: p.stderr.String(), code: code}
	} else {
		out = runInProcess(r.t, env, stdin, args)
	}
	r.output = append(r.output, out.stdout, out.stderr)
	return out
}

// runInProcess runs a management command through manageCommand with
// exactly env as its BOTRELAY_ environment (cleanEnv's rule).
func runInProcess(t *testing.T, env []string, stdin string, args []string) cliRun {
	t.Helper()
	saved := map[string]*string{}
	keep := func(k string) {
		if _, ok := saved[k]; ok {
			return
		}
		if v, ok := os.LookupEnv(k); ok {
			saved[k] = &v
		} else {
			saved[k] = nil
		}
	}
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "BOTRELAY_") {
			keep(k)
			os.Unsetenv(k)
		}
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		keep(k)
		os.Setenv(k, v)
	}
	defer func() {
		for k, v := range saved {
			if v == nil {
				os.Unsetenv(k)
			} else {
				os.Setenv(k, *v)
			}
		}
	}()
	var stdout, stderr strings.Builder
	code := manageCommand(args[0], args[1:], strings.NewReader(stdin), &stdout, &stderr)
	return cliRun{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// ok runs a command that must succeed and returns its standard output.
func (r *cliRunner) ok(args ...string) string {
	r.t.Helper()
	res := r.run("", args...)
	if res.code != 0 || res.stderr != "" {
		r.t.Fatalf("botrelay %s: exit %d, stderr %q", strings.Join(args, " "), res.code, res.stderr)
	}
	return res.stdout
}

// fails runs a command that must fail with exit status code and exactly
// one line on stderr containing want; it returns that line.
func (r *cliRunner) fails(code int, want string, args ...string) string {
	r.t.Helper()
	return r.failsEnv(nil, code, want, args...)
}

func (r *cliRunner) failsEnv(env []string, code int, want string, args ...string) string {
	r.t.Helper()
	res := r.runEnv(env, "", args...)
	if res.code != code {
		r.t.Fatalf("botrelay %s: exit %d, want %d; stderr %q", strings.Join(args, " "), res.code, code, res.stderr)
	}
	line := strings.TrimSuffix(res.stderr, "\n")
	if line == "" || strings.Contains(line, "\n") || !strings.Contains(line, want) {
		t := r.t
		t.Fatalf("botrelay %s: stderr %q, want one line containing %q", strings.Join(args, " "), res.stderr, want)
	}
	prefix := "botrelay " + args[0]
	if !strings.HasPrefix(line, prefix) {
		r.t.Fatalf("error line %q does not start with %q", line, prefix)
	}
	return line
}

func startServerForCLI(t *testing.T, password string) string {
	t.Helper()
	p := start(t, []string{"BOTRELAY_ADMIN_PASSWORD=" + password}, "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir())
	base := p.waitListening(t)
	t.Cleanup(func() { p.stop(t) })
	return base
}

func TestManageCLI(t *testing.T) {
	const password = "Cli-Admin-Pa55word"
	base := startServerForCLI(t, password)
	tokenFile := filepath.Join(t.TempDir(), "cfg", "token")
	r := &cliRunner{t: t, env: []string{"BOTRELAY_TOKEN_FILE=" + tokenFile}}
	// The first commands run as processes: the exit status is main's.
	bin := &cliRunner{t: t, env: r.env, binary: true}

	// Before login: one line, non-zero.
	bin.fails(1, "not logged in", "bots", "list", "--server", base)

	// A wrong password is the API's 401 in one line.
	res := bin.run("not-the-password\n", "login", "--server", base, "--user", "admin")
	if res.code != 1 || !strings.HasPrefix(res.stderr, "botrelay login: unauthorized: ") || strings.Count(res.stderr, "\n") != 1 {
		t.Fatalf("login with a wrong password: exit %d, stderr %q", res.code, res.stderr)
	}

	// Log in with the password on standard input.
	res = bin.run(password+"\n", "login", "--server", base, "--user", "admin")
	if res.code != 0 || !strings.Contains(res.stdout, "logged in") {
		t.Fatalf("login: exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}
	st, err := os.Stat(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode = %v, want 0600", st.Mode().Perm())
	}
	var saved struct{ Server, TokenID, Token string }
	b, _ := os.ReadFile(tokenFile)
	if err := json.Unmarshal(b, &saved); err != nil || !strings.HasPrefix(saved.Token, "brt_") {
		t.Fatalf("token file = %q (%v)", b, err)
	}
	// Later commands use BOTRELAY_SERVER.
	r.env = append(r.env, "BOTRELAY_SERVER="+base)

	// Skills.
	if out := r.ok("skills", "create", "--name", "cli-skill", "--description", "made by the CLI"); !strings.Contains(out, "cli-skill") {
		t.Fatalf("skills create printed %q", out)
	}
	out := r.ok("skills", "list")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 4 || !strings.HasPrefix(lines[0], "ID") ||
		!strings.Contains(out, "cli-skill") || !strings.Contains(out, "made by the CLI") {
		t.Fatalf("skills list = %q, want a header and 3 skills", out)
	}
	var skills []map[string]any
	if err := json.Unmarshal([]byte(r.ok("skills", "list", "--json")), &skills); err != nil || len(skills) != 3 {
		t.Fatalf("skills list --json: %d skills, %v", len(skills), err)
	}

	// A BOT user with that skill.
	out = r.ok("users", "create", "--login", "cli-bot", "--type", "BOT", "--profile", "Agent", "--skills", "cli-skill")
	if !strings.Contains(out, "created user") || !strings.Contains(out, "appKey") {
		t.Fatalf("users create printed %q", out)
	}
	if out := r.ok("users", "list", "--type", "BOT"); !strings.Contains(out, "cli-bot") || !strings.Contains(out, "cli-skill") {
		t.Fatalf("users list = %q", out)
	}

	// A function bot on that user.
	settings := `{"code": "function lambda(i, cb){ cb(null,{messages:[\"hi from cli\"]}) }"}`
	var bot struct{ ID, Name, State, Vendor string }
	out = r.ok("bots", "create", "--name", "cli bot", "--user", "cli-bot", "--vendor", "function", "--settings", settings, "--json")
	if err := json.Unmarshal([]byte(out), &bot); err != nil || bot.ID == "" || bot.Vendor != "function" {
		t.Fatalf("bots create --json = %q (%v)", out, err)
	}

	// The skill's split lists it, with no conversations yet.
	out = r.ok("skills", "split", "cli-skill")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[0], "BOT") ||
		!strings.Contains(lines[1], bot.ID) || !strings.Contains(lines[1], "cli bot") || !strings.HasSuffix(lines[1], "—") {
		t.Fatalf("skills split = %q, want a header and the bot", out)
	}

	// Start it; wait for ONLINE by polling `bots status`.
	if out := r.ok("bots", "start", bot.ID); !strings.Contains(out, bot.ID) {
		t.Fatalf("bots start printed %q", out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var s struct {
			State   string
			Started bool
		}
		if err := json.Unmarshal([]byte(r.ok("bots", "status", bot.ID, "--json")), &s); err != nil {
			t.Fatal(err)
		}
		if s.State == "ONLINE" && s.Started {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bot state %s after 20s, want ONLINE", s.State)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out := r.ok("bots", "status", bot.ID); !strings.Contains(out, "state: ONLINE") {
		t.Fatalf("bots status = %q", out)
	}
	out = r.ok("bots", "list")
	var row string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, bot.ID) {
			row = l
		}
	}
	if !strings.HasPrefix(out, "ID ") || !strings.Contains(row, "ONLINE") || !strings.Contains(row, "cli-bot") || !strings.Contains(row, "cli-skill") {
		t.Fatalf("bots list = %q, want a row for %s ONLINE with its user and skill", out, bot.ID)
	}
	var bots []map[string]any
	if err := json.Unmarshal([]byte(r.ok("bots", "list", "--json")), &bots); err != nil || len(bots) != 2 {
		t.Fatalf("bots list --json: %d bots, %v", len(bots), err)
	}
	if out := r.ok("bots", "test", bot.ID); !strings.HasPrefix(out, "ok") {
		t.Fatalf("bots test = %q", out)
	}
	// The user was created without slots: it has the server's default, so
	// the bot is offered conversations and answers them.
	consumer := testrig.NewConsumer(t, base, "1000")
	consumer.Open("cli-skill")
	consumer.Say("hello")
	consumer.WaitTexts(20*time.Second, "hi from cli")

	// A Custom Endpoint whose /state is not online: the start is refused,
	// naming the state, and the bot stays Offline and not started.
	ce := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodGet && strings.HasSuffix(req.URL.Path, "/environments/draft/state") {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"state":"maintenance","version":"1.0"}`))
			return
		}
		http.NotFound(w, req)
	}))
	t.Cleanup(ce.Close)
	r.ok("users", "create", "--login", "cli-ce", "--type", "BOT", "--profile", "Agent", "--skills", "cli-skill")
	var ceBot struct{ ID string }
	out = r.ok("bots", "create", "--name", "ce bot", "--user", "cli-ce", "--vendor", "custom_endpoint",
		"--settings", `{"baseUrl":"`+ce.URL+`","botId":"b1"}`, "--json")
	if err := json.Unmarshal([]byte(out), &ceBot); err != nil || ceBot.ID == "" {
		t.Fatalf("bots create --json = %q (%v)", out, err)
	}
	bin.fails(1, `"maintenance"`, "bots", "start", ceBot.ID, "--server", base)
	var ceStatus struct {
		State   string
		Started bool
	}
	if err := json.Unmarshal([]byte(r.ok("bots", "status", ceBot.ID, "--json")), &ceStatus); err != nil ||
		ceStatus.State != "OFFLINE" || ceStatus.Started {
		t.Fatalf("status after a refused start = %+v (%v), want OFFLINE and not started", ceStatus, err)
	}
	r.ok("bots", "delete", ceBot.ID)

	// A running bot cannot be edited: the API's conflict in one line.
	r.fails(1, "conflict: ", "bots", "update", bot.ID, "--name", "renamed")

	// Stop, edit, delete.
	r.ok("bots", "stop", bot.ID)
	r.ok("bots", "update", bot.ID, "--name", "renamed", "--escalation-skill", "human")
	if out := r.ok("bots", "show", bot.ID); !strings.Contains(out, "renamed") || !strings.Contains(out, `"escalationSkill": "human"`) ||
		!strings.Contains(out, "hi from cli") {
		t.Fatalf("bots show after update = %q", out)
	}
	r.ok("bots", "delete", bot.ID)
	r.fails(1, "not_found", "bots", "show", bot.ID)

	// Errors.
	r.fails(1, "not_found", "bots", "status", "no-such-bot")
	r.fails(1, "not_found", "bots", "start", "no-such-bot")
	r.fails(2, "-h", "bots", "frobnicate")
	r.fails(2, "-h", "bots", "show")
	r.fails(2, "-h", "bots", "create", "--name", "x")
	r.fails(2, "-h", "skills", "list", "--bogus")
	r.failsEnv([]string{"BOTRELAY_TOKEN_FILE=" + filepath.Join(t.TempDir(), "none")}, 1, "not logged in", "bots", "list")
	r.failsEnv([]string{"BOTRELAY_TOKEN=brt_not-a-token"}, 1, "unauthorized", "users", "list")

	// The saved token is not sent to another server.
	r.failsEnv([]string{"BOTRELAY_SERVER=http://127.0.0.1:1"}, 1, "saved token is for", "bots", "list")

	// Logout revokes the token and deletes the file.
	if out := r.ok("logout"); !strings.Contains(out, "logged out") {
		t.Fatalf("logout printed %q", out)
	}
	if _, err := os.Stat(tokenFile); !os.IsNotExist(err) {
		t.Fatalf("token file still there after logout (%v)", err)
	}
	r.failsEnv([]string{"BOTRELAY_TOKEN=" + saved.Token}, 1, "unauthorized", "bots", "list")
	r.fails(1, "not logged in", "skills", "list")

	// Nothing printed the admin password or the token.
	for _, o := range append(r.output, bin.output...) {
		for _, secret := range []string{password, saved.Token} {
			if strings.Contains(o, secret) {
				t.Fatalf("output contains a secret: %q", o)
			}
		}
	}
}

// TestManageLoginPasswordFromEnvAndPermissions logs in with
// BOTRELAY_PASSWORD as a user whose profile lacks bot:start.
func TestManageLoginPasswordFromEnvAndPermissions(t *testing.T) {
	const password = "Cli-Admin-Pa55word"
	base := startServerForCLI(t, password)
	dir := t.TempDir()
	admin := &cliRunner{t: t, env: []string{"BOTRELAY_TOKEN_FILE=" + filepath.Join(dir, "admin"), "BOTRELAY_SERVER=" + base}}
	res := admin.runEnv([]string{"BOTRELAY_PASSWORD=" + password}, "", "login", "--user", "admin")
	if res.code != 0 {
		t.Fatalf("login with BOTRELAY_PASSWORD: exit %d, stderr %q", res.code, res.stderr)
	}
	const agentPassword = "Agent-Pa55word-1"
	res = admin.run(agentPassword+"\n", "users", "create", "--login", "agent1", "--type", "HUMAN", "--profile", "Agent", "--password-stdin")
	if res.code != 0 || strings.Contains(res.stdout, "generated password") {
		t.Fatalf("users create --password-stdin: exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}
	var bots []struct{ ID string }
	if err := json.Unmarshal([]byte(admin.ok("bots", "list", "--json")), &bots); err != nil || len(bots) == 0 {
		t.Fatalf("bots list --json: %v", err)
	}

	agent := &cliRunner{t: t, env: []string{"BOTRELAY_TOKEN_FILE=" + filepath.Join(dir, "agent"), "BOTRELAY_SERVER=" + base}}
	if res := agent.run(agentPassword+"\n", "login", "--user", "agent1"); res.code != 0 {
		t.Fatalf("agent login: exit %d, stderr %q", res.code, res.stderr)
	}
	line := agent.fails(1, "forbidden: ", "bots", "start", bots[0].ID)
	if !strings.Contains(line, "bot:start") {
		t.Fatalf("forbidden line %q does not name the permission", line)
	}
	for _, o := range append(admin.output, agent.output...) {
		if strings.Contains(o, password) || strings.Contains(o, agentPassword) {
			t.Fatalf("output contains a password: %q", o)
		}
	}
}
