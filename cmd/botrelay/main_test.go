package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/auth"
	"github.com/botrelay/botrelay/sqlstore"
)

// The tests run botrelay as a real process: the test binary re-executes
// itself with BOTRELAY_TEST_EXEC_MAIN=1 and then behaves as the botrelay
// command, so signals, exit codes and output are those a user sees.
func TestMain(m *testing.M) {
	if os.Getenv("BOTRELAY_TEST_EXEC_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	if u := os.Getenv("BOTRELAY_TEST_HEALTH_PROBE"); u != "" {
		os.Exit(healthProbe(u, os.Stdin, os.Stdout))
	}
	code := m.Run()
	if plainBinary.dir != "" {
		os.RemoveAll(plainBinary.dir)
	}
	os.Exit(code)
}

// syncBuffer is a bytes.Buffer safe for a writer goroutine and test reads.
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

type proc struct {
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	done           chan struct{}
	err            error
}

// start runs `botrelay args...` with extra environment variables.
func start(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	return startWithInput(t, nil, env, args...)
}

// startWithInput is start with standard input read from stdin.
func startWithInput(t *testing.T, stdin io.Reader, env []string, args ...string) *proc {
	t.Helper()
	return startExe(t, os.Args[0], stdin, env, args...)
}

// startExe is startWithInput with the executable exe: this test binary
// (which then behaves as botrelay) or a botrelay binary.
func startExe(t *testing.T, exe string, stdin io.Reader, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(exe, args...)
	cmd.Stdin = stdin
	cmd.Env = append(cleanEnv(), "BOTRELAY_TEST_EXEC_MAIN=1")
	cmd.Env = append(cmd.Env, env...)
	p := &proc{cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// cleanEnv drops BOTRELAY_ variables of the test's own environment (CI sets
// BOTRELAY_TEST_POSTGRES) so each test states what the server sees.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BOTRELAY_") {
			out = append(out, kv)
		}
	}
	return out
}

// exitCode waits for the process to end, at most d.
func (p *proc) exitCode(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		t.Fatalf("botrelay did not exit within %v; stderr:\n%s", d, p.stderr)
	}
	if p.err == nil {
		return 0
	}
	if ee, ok := p.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	t.Fatalf("wait: %v", p.err)
	return -1
}

// logLines parses the JSON log records written so far.
func (p *proc) logLines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(p.stderr.String()))
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", sc.Text())
		}
		out = append(out, rec)
	}
	return out
}

// waitListening waits for the "listening" record and returns the base URL.
func (p *proc) waitListening(t *testing.T) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		for _, rec := range p.logLines(t) {
			if rec["msg"] == "listening" {
				return rec["url"].(string)
			}
		}
		select {
		case <-p.done:
			t.Fatalf("botrelay exited before listening: %v\nstderr:\n%s", p.err, p.stderr)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("botrelay did not listen within 15s; stderr:\n%s", p.stderr)
	return ""
}

func (p *proc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.exitCode(t, 20*time.Second); code != 0 {
		t.Fatalf("exit status after SIGTERM = %d, want 0; stderr:\n%s", code, p.stderr)
	}
}

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeHealthMetricsAndSIGTERM(t *testing.T) {
	p := start(t, nil, "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir())
	base := p.waitListening(t)
	if code, body := get(t, base+"/healthz"); code != 200 || !strings.Contains(body, `"ok"`) {
		t.Fatalf("GET /healthz = %d %s", code, body)
	}
	code, body := get(t, base+"/metrics")
	if code != 200 {
		t.Fatalf("GET /metrics = %d", code)
	}
	for _, want := range []string{"go_goroutines", "process_resident_memory_bytes",
		`botrelay_http_requests_total{code="200",method="GET",route="GET /healthz"} 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	p.stop(t)
	var msgs []string
	for _, rec := range p.logLines(t) {
		msgs = append(msgs, rec["msg"].(string))
	}
	down := slices.Index(msgs, "shutting down")
	if down < 0 || msgs[len(msgs)-1] != "stopped" {
		t.Fatalf("log records = %v, want a clean shutdown ending with \"stopped\"", msgs)
	}
}

var passwordLine = regexp.MustCompile(`password: (\S+)`)

func openSQLite(t *testing.T, data string) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), sqlstore.Options{Dialect: sqlstore.SQLite, DSN: filepath.Join(data, "botrelay.db")})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestServeRestartKeepsEverything(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	p := start(t, nil, "serve", "--addr", "127.0.0.1:0", "--data", data)
	p.waitListening(t)
	p.stop(t)
	m := passwordLine.FindStringSubmatch(p.stdout.String())
	if m == nil {
		t.Fatalf("first start printed no admin password; stdout:\n%s", p.stdout)
	}
	password := m[1]

	// What the first start seeded, and a change made while stopped.
	s := openSQLite(t, data)
	cr, err := s.Credentials(ctx, "1000", "admin")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := auth.VerifyPassword(password, cr.PasswordHash); !ok || err != nil {
		t.Fatalf("printed password does not match the stored hash (%v)", err)
	}
	skills, err := s.Skills(ctx, "1000")
	if err != nil || len(skills) != 2 || skills[0].Name != "bot" || skills[1].Name != "human" {
		t.Fatalf("seeded skills = %v, %v", skills, err)
	}
	prof, _ := s.ProfileByName(ctx, "1000", "Agent")
	extra := &botrelay.User{AccountID: "1000", Type: botrelay.UserBot, LoginName: "kept-bot", ProfileID: prof.ID, Enabled: true}
	if err := s.CreateUser(ctx, extra); err != nil {
		t.Fatal(err)
	}
	s.Close()

	p2 := start(t, nil, "serve", "--addr", "127.0.0.1:0", "--data", data)
	p2.waitListening(t)
	p2.stop(t)
	if strings.Contains(p2.stdout.String(), "password") {
		t.Fatalf("second start printed a password again:\n%s", p2.stdout)
	}
	for _, rec := range p2.logLines(t) {
		if rec["msg"] == "seeded new account" || rec["msg"] == "applied migration" {
			t.Fatalf("second start logged %q", rec["msg"])
		}
	}
	s = openSQLite(t, data)
	defer s.Close()
	cr2, err := s.Credentials(ctx, "1000", "admin")
	if err != nil || cr2.PasswordHash != cr.PasswordHash || cr2.User.PID != cr.User.PID {
		t.Fatalf("admin changed across restart: %v", err)
	}
	if _, err := s.UserByLogin(ctx, "1000", "kept-bot"); err != nil {
		t.Fatalf("user created between starts is gone: %v", err)
	}
	users, _ := s.Users(ctx, "1000", botrelay.UserFilter{})
	if len(users) != 3 { // admin, the demo bot's user, kept-bot
		t.Fatalf("users after restart = %d, want 3 (nothing seeded twice)", len(users))
	}
}

func TestServeBadConfigIsOneLine(t *testing.T) {
	dir := t.TempDir()
	writeFile := func(name, body string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	unknown := writeFile("unknown.yaml", "addr: 127.0.0.1:0\ntls:\n  selfsigned: true\n")
	badValue := writeFile("bad.yaml", "log:\n  level: loud\n")
	cases := map[string]struct {
		env  []string
		args []string
		want string // the key the one line must name
	}{
		"unknown file key":     {args: []string{"--config", unknown}, want: "tls.selfsigned"},
		"bad file value":       {args: []string{"--config", badValue}, want: "log.level"},
		"missing config file":  {args: []string{"--config", filepath.Join(dir, "nope.yaml")}, want: "nope.yaml"},
		"bad --addr":           {args: []string{"--addr", "nowhere"}, want: "addr"},
		"bad --account":        {args: []string{"--account", "a/b"}, want: "account"},
		"cert without key":     {args: []string{"--tls-cert", "x.pem"}, want: "tls.key"},
		"bad env value":        {env: []string{"BOTRELAY_SHUTDOWN_TIMEOUT=soon"}, want: "BOTRELAY_SHUTDOWN_TIMEOUT"},
		"unknown env variable": {env: []string{"BOTRELAY_ADRR=127.0.0.1:0"}, want: "BOTRELAY_ADRR"},
		"unknown flag":         {args: []string{"--adr", "x"}, want: "-adr"},
		"bad database":         {args: []string{"--database", "mysql://u:hunter2@db/x"}, want: "database"},
		"bad admin password":   {env: []string{"BOTRELAY_ADMIN_PASSWORD=short"}, want: "BOTRELAY_ADMIN_PASSWORD"},
		"bad trusted proxy":    {env: []string{"BOTRELAY_TRUSTED_PROXIES=proxy.local"}, want: "trusted_proxies"},
		"bad login limit":      {env: []string{"BOTRELAY_LOGIN_PAIR_FAILURES=0"}, want: "login.pair_failures"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			args := append([]string{"serve", "--data", t.TempDir()}, tc.args...)
			if !strings.Contains(strings.Join(tc.args, " "), "--addr") {
				args = append(args, "--addr", "127.0.0.1:0")
			}
			p := start(t, tc.env, args...)
			code := p.exitCode(t, 20*time.Second)
			errText := strings.TrimRight(p.stderr.String(), "\n")
			var last string
			if lines := strings.Split(errText, "\n"); len(lines) > 0 {
				last = lines[len(lines)-1]
			}
			if code == 0 {
				t.Fatalf("exit status 0, want non-zero; stderr:\n%s", errText)
			}
			// Start-up records before the failure are JSON; the error itself
			// is one plain line naming the key.
			if strings.HasPrefix(last, "{") || !strings.Contains(last, tc.want) || !strings.HasPrefix(last, "botrelay serve: ") {
				t.Fatalf("last stderr line = %q, want one line naming %q", last, tc.want)
			}
			if strings.Contains(errText, "hunter2") {
				t.Fatalf("error output echoes a database password: %q", errText)
			}
		})
	}
}

// TestNoSecretInLogs starts botrelay with known secrets, uses it, stops it,
// and scans everything it wrote.
func TestNoSecretInLogs(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	masterB64 := base64.StdEncoding.EncodeToString(key)
	adminPassword := "Known-Admin-Pa55word"
	data := t.TempDir()
	env := []string{"BOTRELAY_MASTER_KEY=" + masterB64, "BOTRELAY_ADMIN_PASSWORD=" + adminPassword}
	p := start(t, env, "serve", "--addr", "127.0.0.1:0", "--data", data)
	base := p.waitListening(t)
	get(t, base+"/healthz")
	get(t, base+"/metrics")
	get(t, base+"/no-such-page?password="+url.QueryEscape(adminPassword))
	p.stop(t)
	// A second start on the same data, with the same secrets.
	p2 := start(t, env, "serve", "--addr", "127.0.0.1:0", "--data", data)
	p2.waitListening(t)
	p2.stop(t)

	secrets := []string{adminPassword, masterB64, hex.EncodeToString(key), base64.RawURLEncoding.EncodeToString(key)}
	for _, out := range []string{p.stdout.String(), p.stderr.String(), p2.stdout.String(), p2.stderr.String()} {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Fatalf("output contains a secret (%d chars): %s", len(s), out)
			}
		}
	}
	if strings.Contains(p.stdout.String(), "password:") {
		t.Fatal("a password chosen by BOTRELAY_ADMIN_PASSWORD was printed")
	}
	if _, err := os.Stat(filepath.Join(data, "master.key")); !os.IsNotExist(err) {
		t.Fatalf("master.key written although BOTRELAY_MASTER_KEY was set (stat: %v)", err)
	}
}

func TestServeSelfSignedTLS(t *testing.T) {
	data := t.TempDir()
	p := start(t, nil, "serve", "--addr", "127.0.0.1:0", "--data", data, "--tls-self-signed")
	base := p.waitListening(t)
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("url = %s, want https", base)
	}
	client := caClient(t, filepath.Join(data, "tls-ca.pem"))
	resp, err := client.Get(base + "/healthz")
	if err != nil {
		t.Fatalf("HTTPS with the CA from the data folder: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /healthz over TLS = %d", resp.StatusCode)
	}
	p.stop(t)
}

func TestServeOnPostgres(t *testing.T) {
	base := os.Getenv("BOTRELAY_TEST_POSTGRES")
	if base == "" {
		t.Skip("BOTRELAY_TEST_POSTGRES is not set; .ci/run sets it")
	}
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	schema := fmt.Sprintf("serve_%x", time.Now().UnixNano())
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Exec("DROP SCHEMA " + schema + " CASCADE") })
	u, _ := url.Parse(base)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()

	// Two starts of one server (one data folder: its master key seals the
	// hub's signing key in the database).
	data := t.TempDir()
	for i := range 2 {
		p := start(t, nil, "serve", "--addr", "127.0.0.1:0", "--data", data, "--database", u.String())
		addr := p.waitListening(t)
		if code, _ := get(t, addr+"/healthz"); code != 200 {
			t.Fatalf("start %d: /healthz = %d", i+1, code)
		}
		p.stop(t)
		printed := strings.Contains(p.stdout.String(), "password:")
		if printed != (i == 0) {
			t.Fatalf("start %d printed the admin password: %v", i+1, printed)
		}
	}
	var users int
	if err := db.QueryRow("SELECT COUNT(*) FROM " + schema + ".users").Scan(&users); err != nil || users != 2 {
		t.Fatalf("users in PostgreSQL = %d, %v; want 2 (admin and the demo bot's user)", users, err)
	}
}

func TestVendorsCommand(t *testing.T) {
	p := start(t, nil, "vendors")
	if code := p.exitCode(t, 10*time.Second); code != 0 {
		t.Fatalf("exit status %d", code)
	}
	got := strings.Fields(p.stdout.String())
	for _, id := range []string{"function", "custom_endpoint", "watson_v1", "watson_v2", "dialogflow_es", "dialogflow_cx", "lex_v1", "lex_v2", "directline", "ebot7", "rasa", "openai", "medallia"} {
		if !slices.Contains(got, id) {
			t.Errorf("botrelay vendors lacks %q; printed %q", id, got)
		}
	}
	if !slices.IsSorted(got) {
		t.Errorf("vendors are not sorted: %q", got)
	}
}
