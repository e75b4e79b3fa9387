package api

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/auth"
	"github.com/botrelay/botrelay/internal/testrig"
	"github.com/botrelay/botrelay/sqlstore"
)

// The management API's credentials live in the database: these tests run
// two API nodes, each with its own store opened on one database (SQLite,
// or PostgreSQL when BOTRELAY_TEST_POSTGRES is set), and check that what
// one node grants or revokes holds on the other at once, and across a
// restart of a node.

// sharedDB is one database that nodes open stores on.
type sharedDB struct {
	t    testing.TB
	rig  *testrig.Rig // relay, box and registry for the nodes; its own store is unused
	open func() *sqlstore.Store
	raw  *sql.DB // a plain connection, to read the tables as an attacker would
}

func newSharedDB(t testing.TB) *sharedDB {
	t.Helper()
	d := &sharedDB{t: t, rig: testrig.NewRig(t, testrig.RigOptions{Vendors: []botrelay.VendorConnector{fakeVendor{}}})}
	o := sqlstore.Options{Dialect: sqlstore.SQLite, DSN: filepath.Join(t.TempDir(), "nodes.db"), Logger: d.rig.Log}
	if base := os.Getenv("BOTRELAY_TEST_POSTGRES"); base != "" {
		o = sqlstore.Options{Dialect: sqlstore.Postgres, DSN: pgSchema(t, base), Logger: d.rig.Log}
	}
	t.Logf("API nodes share one %s database", o.Dialect)
	d.open = func() *sqlstore.Store {
		s, err := sqlstore.Open(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	first := d.open()
	d.raw = first.DB()
	hash, err := auth.HashPassword(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	boot := &botrelay.Bootstrap{Account: &botrelay.Account{ID: testrig.Account, Name: "Nodes"}, Profiles: botrelay.BuiltInProfiles(),
		Skills: []*botrelay.Skill{{Name: botrelay.SkillNameBot}, {Name: botrelay.SkillNameHuman}},
		Admin:  &botrelay.User{Type: botrelay.UserHuman, LoginName: "admin", Enabled: true}, AdminPasswordHash: hash}
	if _, err := first.Bootstrap(context.Background(), boot); err != nil {
		t.Fatal(err)
	}
	return d
}

// pgSchema makes a schema for the test on the server at base and returns a
// DSN that uses it; the schema is dropped afterwards.
func pgSchema(t testing.TB, base string) string {
	t.Helper()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := "api_" + hex.EncodeToString(b)
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`); admin.Close() })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// node starts an API node on a store of its own on the database, with
// clock now (nil: time.Now).
func (d *sharedDB) node(now ...func() time.Time) *env {
	t := d.t
	t.Helper()
	store := d.open()
	o := Options{Store: store, Relay: d.rig.Relay, Box: d.rig.Box, Registry: d.rig.Registry, Account: testrig.Account,
		Logger: d.rig.Log, Signer: d.rig.Signer, SessionTTL: time.Hour}
	if len(now) > 0 {
		o.Now = now[0]
	}
	a := New(o)
	mux := http.NewServeMux()
	a.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &env{t: t, rig: d.rig, api: a, srv: srv, spec: newSpecChecker(t, a), users: map[string]*botrelay.User{},
		tokens: map[string]string{}}
}

// cookieLogin logs in as the admin on e and returns the session cookie
// value and the CSRF token.
func cookieLogin(t *testing.T, e *env, login, password string) (cookie, csrf string) {
	t.Helper()
	r := e.do(nil, http.MethodPost, "/api/v1/login", "", map[string]string{"loginName": login, "password": password})
	if r.status != http.StatusOK {
		t.Fatalf("login on %s: %d %s", e.srv.URL, r.status, r.body)
	}
	var lr loginResponse
	r.decode(t, &lr)
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == SessionCookie {
			cookie = c.Value
		}
	}
	if cookie == "" || lr.CSRFToken == "" {
		t.Fatalf("login gave no cookie or CSRF token: %v %s", r.header, r.body)
	}
	return cookie, lr.CSRFToken
}

// wantStatus sends a request and wants status and, for errors, the exact
// error body.
func wantStatus(t *testing.T, e *env, method, path, bearer, cookie, csrf string, body any, status int, errBody string) resp {
	t.Helper()
	var hdr []string
	if cookie != "" {
		hdr = append(hdr, "Cookie", SessionCookie+"="+cookie)
	}
	if csrf != "" {
		hdr = append(hdr, CSRFHeader, csrf)
	}
	r := e.do(nil, method, path, bearer, body, hdr...)
	if r.status != status {
		t.Fatalf("%s %s on %s: %d %s, want %d", method, path, e.srv.URL, r.status, r.body, status)
	}
	if errBody != "" && strings.TrimSpace(string(r.body)) != errBody {
		t.Fatalf("%s %s on %s: body %s, want %s", method, path, e.srv.URL, r.body, errBody)
	}
	return r
}

const (
	sessionEnded = `{"error":{"code":"unauthorized","message":"the session has ended; log in again"}}`
	tokenInvalid = `{"error":{"code":"unauthorized","message":"the token is not valid"}}`
	csrfMissing  = `{"error":{"code":"forbidden","message":"missing or wrong X-CSRF-Token header"}}`
)

// TestSessionOnEveryNode: a cookie session made on node A works on node B
// with its CSRF token; a logout on B is refused on A at once.
func TestSessionOnEveryNode(t *testing.T) {
	d := newSharedDB(t)
	a, b := d.node(), d.node()
	cookie, csrf := cookieLogin(t, a, "admin", testPassword)
	var me meResponse
	wantStatus(t, b, http.MethodGet, "/api/v1/me", "", cookie, "", nil, http.StatusOK, "").decode(t, &me)
	if me.User.LoginName != "admin" {
		t.Fatalf("me on B = %+v", me.User)
	}
	wantStatus(t, b, http.MethodPost, "/api/v1/skills", "", cookie, "", map[string]string{"name": "no-csrf"}, http.StatusForbidden, csrfMissing)
	wantStatus(t, b, http.MethodPost, "/api/v1/skills", "", cookie, "wrong", map[string]string{"name": "bad-csrf"}, http.StatusForbidden, csrfMissing)
	wantStatus(t, b, http.MethodPost, "/api/v1/skills", "", cookie, csrf, map[string]string{"name": "made-on-b"}, http.StatusCreated, "")
	wantStatus(t, a, http.MethodGet, "/api/v1/skills", "", cookie, "", nil, http.StatusOK, "")

	wantStatus(t, b, http.MethodPost, "/api/v1/logout", "", cookie, csrf, nil, http.StatusNoContent, "")
	for _, n := range []*env{a, b} {
		wantStatus(t, n, http.MethodGet, "/api/v1/me", "", cookie, "", nil, http.StatusUnauthorized, sessionEnded)
		wantStatus(t, n, http.MethodPost, "/api/v1/skills", "", cookie, csrf, map[string]string{"name": "after"}, http.StatusUnauthorized, sessionEnded)
	}
}

// TestTokenOnEveryNode: a token made on A works on B and is listed there;
// revoked on B it is refused on A at once.
func TestTokenOnEveryNode(t *testing.T) {
	d := newSharedDB(t)
	a, b := d.node(), d.node()
	cookie, csrf := cookieLogin(t, a, "admin", testPassword)
	var tok tokenJSON
	wantStatus(t, a, http.MethodPost, "/api/v1/tokens", "", cookie, csrf, map[string]string{"description": "ci"}, http.StatusCreated, "").decode(t, &tok)
	wantStatus(t, b, http.MethodPost, "/api/v1/skills", tok.Token, "", "", map[string]string{"name": "by-token"}, http.StatusCreated, "")
	var list []tokenJSON
	wantStatus(t, b, http.MethodGet, "/api/v1/tokens", tok.Token, "", "", nil, http.StatusOK, "").decode(t, &list)
	if len(list) != 1 || list[0].ID != tok.ID || list[0].Description != "ci" || list[0].Token != "" || list[0].LastUsedAt == nil {
		t.Fatalf("tokens listed on B = %+v, want the one made on A, used, without its value", list)
	}
	wantStatus(t, b, http.MethodDelete, "/api/v1/tokens/"+tok.ID, tok.Token, "", "", nil, http.StatusNoContent, "")
	wantStatus(t, a, http.MethodGet, "/api/v1/me", tok.Token, "", "", nil, http.StatusUnauthorized, tokenInvalid)
	wantStatus(t, b, http.MethodGet, "/api/v1/me", tok.Token, "", "", nil, http.StatusUnauthorized, tokenInvalid)
	wantStatus(t, a, http.MethodDelete, "/api/v1/tokens/"+tok.ID, "", cookie, csrf, nil, http.StatusNotFound,
		fmt.Sprintf(`{"error":{"code":"not_found","message":"token \"%s\" does not exist"}}`, tok.ID))
}

// TestRevokeUserOnEveryNode: an administrator on A resets a user's password
// or disables it; the user's session and token made on B stop on B, and
// deleting a user removes its credentials from the database.
func TestRevokeUserOnEveryNode(t *testing.T) {
	d := newSharedDB(t)
	a, b := d.node(), d.node()
	admin := a.newToken(adminID(t, d), "admin")
	var cu createdUserResponse
	wantStatus(t, a, http.MethodPost, "/api/v1/users", admin, "", "", map[string]any{"type": "HUMAN", "loginName": "agent-1",
		"profileId": profileID(t, a, admin, "Agent")}, http.StatusCreated, "").decode(t, &cu)
	cookie, csrf := cookieLogin(t, b, "agent-1", cu.GeneratedPassword)
	var tok tokenJSON
	wantStatus(t, b, http.MethodPost, "/api/v1/tokens", "", cookie, csrf, map[string]string{}, http.StatusCreated, "").decode(t, &tok)
	userPath := fmt.Sprintf("/api/v1/users/%d", cu.User.ID)

	wantStatus(t, a, http.MethodPost, userPath+"/password", admin, "", "", map[string]any{}, http.StatusOK, "")
	wantStatus(t, b, http.MethodGet, "/api/v1/me", "", cookie, "", nil, http.StatusUnauthorized, sessionEnded)
	wantStatus(t, b, http.MethodGet, "/api/v1/me", tok.Token, "", "", nil, http.StatusUnauthorized, tokenInvalid)

	pw := "a new long password 1"
	wantStatus(t, a, http.MethodPost, userPath+"/password", admin, "", "", map[string]any{"password": pw}, http.StatusOK, "")
	cookie, csrf = cookieLogin(t, b, "agent-1", pw)
	wantStatus(t, b, http.MethodPost, "/api/v1/tokens", "", cookie, csrf, map[string]string{}, http.StatusCreated, "").decode(t, &tok)
	wantStatus(t, a, http.MethodPut, userPath, admin, "", "", map[string]any{"loginName": "agent-1",
		"profileId": profileID(t, a, admin, "Agent"), "enabled": false}, http.StatusOK, "")
	if n := countRows(t, d, cu.User.ID); n != 0 {
		t.Fatalf("disabled user keeps %d sessions and tokens in the database", n)
	}
	wantStatus(t, b, http.MethodGet, "/api/v1/me", "", cookie, "", nil, http.StatusUnauthorized, sessionEnded)
	wantStatus(t, b, http.MethodGet, "/api/v1/me", tok.Token, "", "", nil, http.StatusUnauthorized, tokenInvalid)

	wantStatus(t, a, http.MethodPut, userPath, admin, "", "", map[string]any{"loginName": "agent-1",
		"profileId": profileID(t, a, admin, "Agent"), "enabled": true}, http.StatusOK, "")
	cookie, csrf = cookieLogin(t, b, "agent-1", pw)
	wantStatus(t, b, http.MethodPost, "/api/v1/tokens", "", cookie, csrf, map[string]string{}, http.StatusCreated, "")
	if n := countRows(t, d, cu.User.ID); n != 2 {
		t.Fatalf("user has %d sessions and tokens in the database, want 2", n)
	}
	wantStatus(t, a, http.MethodDelete, userPath, admin, "", "", nil, http.StatusNoContent, "")
	if n := countRows(t, d, cu.User.ID); n != 0 {
		t.Fatalf("deleted user keeps %d sessions and tokens in the database", n)
	}
}

func adminID(t testing.TB, d *sharedDB) botrelay.UserID {
	t.Helper()
	var id int64
	if err := d.raw.QueryRow(`SELECT id FROM users WHERE login_key = 'admin'`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return botrelay.UserID(id)
}

func profileID(t *testing.T, e *env, bearer, name string) botrelay.ProfileID {
	t.Helper()
	var list []profileJSON
	wantStatus(t, e, http.MethodGet, "/api/v1/profiles", bearer, "", "", nil, http.StatusOK, "").decode(t, &list)
	for _, p := range list {
		if p.Name == name {
			return p.ID
		}
	}
	t.Fatalf("no profile %q", name)
	return 0
}

// countRows counts user's sessions and tokens in the database.
func countRows(t *testing.T, d *sharedDB, user botrelay.UserID) int {
	t.Helper()
	var s, k int
	if err := d.raw.QueryRow(`SELECT (SELECT COUNT(*) FROM api_sessions WHERE user_id = $1), (SELECT COUNT(*) FROM api_tokens WHERE user_id = $1)`,
		int64(user)).Scan(&s, &k); err != nil {
		t.Fatal(err)
	}
	return s + k
}

// TestNoCredentialInClear reads the tables: they hold SHA-256 hashes of the
// session id, the CSRF token and the token value, and none of the values.
func TestNoCredentialInClear(t *testing.T) {
	d := newSharedDB(t)
	a := d.node()
	cookie, csrf := cookieLogin(t, a, "admin", testPassword)
	var tok tokenJSON
	wantStatus(t, a, http.MethodPost, "/api/v1/tokens", "", cookie, csrf, map[string]string{"description": "ci"}, http.StatusCreated, "").decode(t, &tok)
	wantStatus(t, a, http.MethodGet, "/api/v1/me", tok.Token, "", "", nil, http.StatusOK, "")
	rows := dumpTable(t, d, "api_sessions") + dumpTable(t, d, "api_tokens")
	for name, v := range map[string]string{"session id": cookie, "CSRF token": csrf, "token": tok.Token,
		"token without prefix": strings.TrimPrefix(tok.Token, TokenPrefix)} {
		if strings.Contains(rows, v) {
			t.Errorf("the %s is stored in clear:\n%s", name, rows)
		}
	}
	for _, v := range []string{cookie, csrf, tok.Token} {
		if !strings.Contains(rows, hashValue(v)) {
			t.Errorf("no SHA-256 of %q in the tables:\n%s", v[:4], rows)
		}
	}
}

// dumpTable renders every row of table as text.
func dumpTable(t *testing.T, d *sharedDB, table string) string {
	t.Helper()
	rows, err := d.raw.Query(`SELECT * FROM ` + table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var b strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			if raw, ok := v.([]byte); ok {
				v = string(raw)
			}
			fmt.Fprintf(&b, "%s=%v ", cols[i], v)
		}
		b.WriteString("\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if b.Len() == 0 {
		t.Fatalf("table %s is empty", table)
	}
	return table + ":\n" + b.String()
}

// clock is a settable clock shared by nodes.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// TestSessionExpiresOnEveryNode: a session lasts SessionTTL from login, on
// every node, without sliding; use is recorded at most once a minute, and
// the next login sweeps expired sessions from the database.
func TestSessionExpiresOnEveryNode(t *testing.T) {
	d := newSharedDB(t)
	t0 := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	c := &clock{t: t0}
	a, b := d.node(c.now), d.node(c.now)
	cookie, _ := cookieLogin(t, a, "admin", testPassword)
	seen := func() time.Time {
		t.Helper()
		var ms int64
		if err := d.raw.QueryRow(`SELECT last_seen_at FROM api_sessions WHERE id_hash = $1`, hashValue(cookie)).Scan(&ms); err != nil {
			t.Fatal(err)
		}
		return time.UnixMilli(ms).UTC()
	}
	c.set(t0.Add(30 * time.Second))
	wantStatus(t, b, http.MethodGet, "/api/v1/me", "", cookie, "", nil, http.StatusOK, "")
	if got := seen(); !got.Equal(t0) {
		t.Fatalf("last seen %v after a use within a minute, want %v (not written)", got, t0)
	}
	c.set(t0.Add(59 * time.Minute))
	wantStatus(t, b, http.MethodGet, "/api/v1/me", "", cookie, "", nil, http.StatusOK, "")
	if got := seen(); !got.Equal(t0.Add(59 * time.Minute)) {
		t.Fatalf("last seen %v, want %v", got, t0.Add(59*time.Minute))
	}
	c.set(t0.Add(time.Hour + time.Millisecond))
	wantStatus(t, a, http.MethodGet, "/api/v1/me", "", cookie, "", nil, http.StatusUnauthorized, sessionEnded)
	wantStatus(t, b, http.MethodGet, "/api/v1/me", "", cookie, "", nil, http.StatusUnauthorized, sessionEnded)
	fresh, _ := cookieLogin(t, b, "admin", testPassword)
	var n int
	if err := d.raw.QueryRow(`SELECT COUNT(*) FROM api_sessions`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("sessions in the database after a login = %d, %v; want 1 (the expired one swept)", n, err)
	}
	wantStatus(t, a, http.MethodGet, "/api/v1/me", "", fresh, "", nil, http.StatusOK, "")
}
