package main

import (
	"bytes"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// consumerToken asks base for a new consumer token.
func consumerToken(t *testing.T, base string) string {
	t.Helper()
	res, err := http.Post(base+"/api/account/1000/consumer/token", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != 200 || out.Token == "" {
		t.Fatalf("consumer token from %s: %d %v", base, res.StatusCode, err)
	}
	return out.Token
}

// uploadText uploads a text file to base with the consumer token and
// returns the status and the relativePath.
func uploadText(t *testing.T, base, token, text string) (int, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	w, _ := mw.CreateFormFile("file", "note.txt")
	_, _ = w.Write([]byte(text))
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, base+"/api/account/1000/consumer/files", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		RelativePath string `json:"relativePath"`
	}
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out.RelativePath
}

// downloadWith GETs a file from base with the consumer token.
func downloadWith(t *testing.T, base, token, rel string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/api/account/1000/files/"+rel, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestServersOnOneDatabaseShareSigningKey: two `botrelay serve` on one
// database (each with its own data folder, the same master key) accept each
// other's consumer tokens and serve each other's uploads; a server with
// another master key refuses to start on that database with one line, and
// a server with its own database and key refuses the tokens.
// (A SQLite database serves one server: TestSecondNodeOnSQLiteRefuses.)
func TestServersOnOneDatabaseShareSigningKey(t *testing.T) {
	base := os.Getenv("BOTRELAY_TEST_POSTGRES")
	if base == "" {
		t.Skip("BOTRELAY_TEST_POSTGRES is not set; .ci/run sets it")
	}
	testSharedSigningKey(t, postgresSchema(t, base))
}

// TestSecondNodeOnSQLiteRefuses (issue 17, acceptance 6): a second server
// on a SQLite database another one serves, and a cluster node on SQLite,
// each exit with one line saying that cluster mode needs PostgreSQL; the
// first server goes on serving.
func TestSecondNodeOnSQLiteRefuses(t *testing.T) {
	data := t.TempDir()
	first := start(t, nil, "serve", "--addr", "127.0.0.1:0", "--data", data)
	base := first.waitListening(t)
	for name, args := range map[string][]string{
		"second server": {"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--database", "sqlite:" + filepath.Join(data, "botrelay.db")},
		"cluster node":  {"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--node-id", "n2", "--advertise", "http://127.0.0.1:9"},
	} {
		p := start(t, nil, args...)
		if code := p.exitCode(t, 20*time.Second); code != 1 {
			t.Fatalf("%s: exit %d, want 1; stderr:\n%s", name, code, p.stderr)
		}
		lines := strings.Split(strings.TrimSpace(p.stderr.String()), "\n")
		last := lines[len(lines)-1]
		if !strings.HasPrefix(last, "botrelay serve: ") || !strings.Contains(last, "cluster mode needs PostgreSQL") {
			t.Fatalf("%s: last line %q, want one line saying cluster mode needs PostgreSQL", name, last)
		}
	}
	if code, _ := get(t, base+"/healthz"); code != 200 {
		t.Fatalf("the first server's /healthz = %d after the refusals", code)
	}
	first.stop(t)
}

// postgresSchema makes a fresh schema on the PostgreSQL at base, dropped at
// the end, and returns a URL that uses it.
func postgresSchema(t *testing.T, base string) string {
	t.Helper()
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	schema := fmt.Sprintf("sharedkey_%x", time.Now().UnixNano())
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Exec("DROP SCHEMA " + schema + " CASCADE"); db.Close() })
	u, _ := url.Parse(base)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func testSharedSigningKey(t *testing.T, db string) {
	key := "BOTRELAY_MASTER_KEY=" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{42}, 32))
	serve := func(env string, database string) *proc {
		args := []string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()}
		if database != "" {
			args = append(args, "--database", database)
		}
		return start(t, []string{env, "BOTRELAY_ADMIN_PASSWORD=Admin-pass-4242"}, args...)
	}
	p1 := serve(key, db)
	a := p1.waitListening(t)
	p2 := serve(key, db)
	b := p2.waitListening(t)

	for _, pair := range [][2]string{{a, b}, {b, a}} {
		from, to := pair[0], pair[1]
		tok := consumerToken(t, from)
		code, rel := uploadText(t, to, tok, "signed on "+from)
		if code != 200 {
			t.Fatalf("upload to %s with a token of %s: %d, want 200", to, from, code)
		}
		if code, body := downloadWith(t, from, tok, rel); code != 200 || body != "signed on "+from {
			t.Fatalf("download from %s of a file uploaded to %s: %d %q", from, to, code, body)
		}
	}

	otherKey := "BOTRELAY_MASTER_KEY=" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	other := serve(otherKey, db)
	if code := other.exitCode(t, 20*time.Second); code == 0 {
		t.Fatal("a server with another master key started on the database")
	}
	lines := strings.Split(strings.TrimSpace(other.stderr.String()), "\n")
	last := lines[len(lines)-1]
	if !strings.Contains(last, "same master key") || !strings.Contains(last, "docs/operations.md") {
		t.Fatalf("the refusal does not say what to do:\n%s", other.stderr)
	}
	t.Logf("refusal: %s", last)

	alone := serve(otherKey, "")
	c := alone.waitListening(t)
	if code, _ := uploadText(t, c, consumerToken(t, a), "x"); code != 401 {
		t.Fatalf("a server on another database accepted a token of the shared one: %d, want 401", code)
	}
	for _, p := range []*proc{p1, p2, alone} {
		p.stop(t)
	}
}
