package main

import (
	"bytes"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The management API's sessions and tokens are in the database: a browser
// and a CI token keep working across a restart of the real server, and two
// real servers on one PostgreSQL accept and revoke each other's.

// apiCall sends a request with an optional session cookie, CSRF token and
// bearer token and returns the status and body.
func apiCall(t *testing.T, method, u, cookie, csrf, bearer, body string) (int, string, *http.Response) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: "botrelay_session", Value: cookie})
	}
	if csrf != "" {
		req.Header.Set("X-CSRF-Token", csrf)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res.StatusCode, strings.TrimSpace(string(raw)), res
}

// wantCall is apiCall that fails unless the status is want and, when
// wantBody is set, the body is exactly wantBody.
func wantCall(t *testing.T, want int, wantBody, method, u, cookie, csrf, bearer, body string) string {
	t.Helper()
	code, got, _ := apiCall(t, method, u, cookie, csrf, bearer, body)
	if code != want || (wantBody != "" && got != wantBody) {
		t.Fatalf("%s %s: %d %s; want %d %s", method, u, code, got, want, wantBody)
	}
	return got
}

// browserLogin logs in as admin and returns the session cookie and CSRF token.
func browserLogin(t *testing.T, base, password string) (cookie, csrf string) {
	t.Helper()
	code, body, res := apiCall(t, http.MethodPost, base+"/api/v1/login", "", "", "", `{"loginName":"admin","password":"`+password+`"}`)
	if code != http.StatusOK {
		t.Fatalf("login: %d %s", code, body)
	}
	for _, c := range res.Cookies() {
		if c.Name == "botrelay_session" {
			cookie = c.Value
		}
	}
	if m := csrfField.FindStringSubmatch(body); m != nil {
		csrf = m[1]
	}
	if cookie == "" || csrf == "" {
		t.Fatalf("login gave no cookie or CSRF token: %s", body)
	}
	return cookie, csrf
}

// newToken creates a personal access token with a session and returns its
// id and value.
func newToken(t *testing.T, base, cookie, csrf string) (id, value string) {
	t.Helper()
	body := wantCall(t, http.StatusCreated, "", http.MethodPost, base+"/api/v1/tokens", cookie, csrf, "", `{"description":"ci"}`)
	idM, tokM := idField.FindStringSubmatch(body), tokenField.FindStringSubmatch(body)
	if idM == nil || tokM == nil {
		t.Fatalf("token response %s", body)
	}
	return idM[1], tokM[1]
}

const (
	ended   = `{"error":{"code":"unauthorized","message":"the session has ended; log in again"}}`
	invalid = `{"error":{"code":"unauthorized","message":"the token is not valid"}}`
)

func TestServeRestartKeepsAPISessions(t *testing.T) {
	data := t.TempDir()
	p := start(t, nil, "serve", "--addr", "127.0.0.1:0", "--data", data)
	base := p.waitListening(t)
	m := passwordLine.FindStringSubmatch(p.stdout.String())
	if m == nil {
		t.Fatalf("first start printed no admin password; stdout:\n%s", p.stdout)
	}
	cookie, csrf := browserLogin(t, base, m[1])
	tokID, tok := newToken(t, base, cookie, csrf)
	wantCall(t, http.StatusOK, "", http.MethodGet, base+"/api/v1/me", "", "", tok, "")
	p.stop(t)
	noneInClear(t, data, p, cookie, csrf, tok)

	p2 := start(t, nil, "serve", "--addr", "127.0.0.1:0", "--data", data)
	base2 := p2.waitListening(t)
	if base2 == base {
		t.Logf("the restarted server listens on the same address %s", base)
	}
	wantCall(t, http.StatusOK, "", http.MethodGet, base2+"/api/v1/me", cookie, "", "", "")
	wantCall(t, http.StatusCreated, "", http.MethodPost, base2+"/api/v1/skills", cookie, csrf, "", `{"name":"after-restart"}`)
	wantCall(t, http.StatusOK, "", http.MethodGet, base2+"/api/v1/me", "", "", tok, "")
	wantCall(t, http.StatusNoContent, "", http.MethodPost, base2+"/api/v1/logout", cookie, csrf, "", "")
	wantCall(t, http.StatusUnauthorized, ended, http.MethodGet, base2+"/api/v1/me", cookie, "", "", "")
	wantCall(t, http.StatusNoContent, "", http.MethodDelete, base2+"/api/v1/tokens/"+tokID, "", "", tok, "")
	p2.stop(t)

	// Neither comes back with a third start.
	p3 := start(t, nil, "serve", "--addr", "127.0.0.1:0", "--data", data)
	base3 := p3.waitListening(t)
	wantCall(t, http.StatusUnauthorized, ended, http.MethodGet, base3+"/api/v1/me", cookie, "", "", "")
	wantCall(t, http.StatusUnauthorized, invalid, http.MethodGet, base3+"/api/v1/me", "", "", tok, "")
	p3.stop(t)
}

// noneInClear fails when a credential value is in any file of the data
// folder (the database with its journal) or in the server's output.
func noneInClear(t *testing.T, data string, p *proc, values ...string) {
	t.Helper()
	files := 0
	err := filepath.WalkDir(data, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for _, v := range values {
			if bytes.Contains(raw, []byte(v)) {
				t.Errorf("%s holds a credential in clear (%.6s…)", path, v)
			}
		}
		return nil
	})
	if err != nil || files == 0 {
		t.Fatalf("read the data folder: %v (%d files)", err, files)
	}
	for _, v := range values {
		if strings.Contains(p.stdout.String()+p.stderr.String(), v) {
			t.Errorf("the server's output holds a credential (%.6s…)", v)
		}
	}
}

// TestTwoServersShareAPISessions runs two real servers on one PostgreSQL
// schema: what one grants the other accepts, what one revokes the other
// refuses from the next request.
func TestTwoServersShareAPISessions(t *testing.T) {
	base := os.Getenv("BOTRELAY_TEST_POSTGRES")
	if base == "" {
		t.Skip("BOTRELAY_TEST_POSTGRES is not set; .ci/run sets it")
	}
	dsn := freshSchema(t, base)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	env := []string{"BOTRELAY_MASTER_KEY=" + base64.StdEncoding.EncodeToString(key)}
	pa := start(t, env, "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--database", dsn)
	a := pa.waitListening(t)
	m := passwordLine.FindStringSubmatch(pa.stdout.String())
	if m == nil {
		t.Fatalf("first start printed no admin password; stdout:\n%s", pa.stdout)
	}
	pb := start(t, env, "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--database", dsn)
	b := pb.waitListening(t)

	cookie, csrf := browserLogin(t, a, m[1])
	wantCall(t, http.StatusOK, "", http.MethodGet, b+"/api/v1/me", cookie, "", "", "")
	wantCall(t, http.StatusCreated, "", http.MethodPost, b+"/api/v1/skills", cookie, csrf, "", `{"name":"made-on-b"}`)
	tokID, tok := newToken(t, a, cookie, csrf)
	wantCall(t, http.StatusOK, "", http.MethodGet, b+"/api/v1/me", "", "", tok, "")
	wantCall(t, http.StatusNoContent, "", http.MethodPost, b+"/api/v1/logout", cookie, csrf, "", "")
	wantCall(t, http.StatusUnauthorized, ended, http.MethodGet, a+"/api/v1/me", cookie, "", "", "")
	wantCall(t, http.StatusNoContent, "", http.MethodDelete, b+"/api/v1/tokens/"+tokID, "", "", tok, "")
	wantCall(t, http.StatusUnauthorized, invalid, http.MethodGet, a+"/api/v1/me", "", "", tok, "")
	pb.stop(t)
	pa.stop(t)
}

// freshSchema makes a schema on the server at base, dropped after the
// test, and returns a DSN that uses it.
func freshSchema(t *testing.T, base string) string {
	t.Helper()
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	schema := fmt.Sprintf("msess_%x", time.Now().UnixNano())
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Exec("DROP SCHEMA " + schema + " CASCADE"); db.Close() })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

var (
	csrfField  = regexp.MustCompile(`"csrfToken":"([^"]+)"`)
	idField    = regexp.MustCompile(`"id":"([^"]+)"`)
	tokenField = regexp.MustCompile(`"token":"([^"]+)"`)
)
