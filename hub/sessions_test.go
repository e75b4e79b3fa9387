package hub_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/botrelay/botrelay/hub"
	"github.com/botrelay/botrelay/internal/testrig"
	"github.com/botrelay/botrelay/sqlstore"
)

// node is one hub on its own connection pool to a shared database file,
// as a node of a cluster (or the same server after a restart) has.
type node struct {
	srv   *httptest.Server
	hub   *hub.Hub
	store *sqlstore.Store
	stop  func()
}

// startNode opens the database at path and runs a hub on it on a TLS test
// server, with its own data folder unless dataDir is set.
func startNode(t *testing.T, path, dataDir string, edit func(*hub.Options)) *node {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), sqlstore.Options{Dialect: sqlstore.SQLite, DSN: path, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	o := hub.Options{Store: st, Account: acct, DataDir: dataDir, SigningKey: signingKey, Logger: quiet,
		RingTimeout: 5 * time.Second, SessionRecheck: 200 * time.Millisecond}
	if edit != nil {
		edit(&o)
	}
	h, err := hub.New(o)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Routes(mux)
	srv := httptest.NewUnstartedServer(mux)
	srv.StartTLS()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = h.Run(ctx); close(done) }()
	n := &node{srv: srv, hub: h, store: st}
	stopped := false
	n.stop = func() {
		if stopped {
			return
		}
		stopped = true
		h.Close()
		cancel()
		<-done
		srv.Close()
		st.Close()
	}
	t.Cleanup(n.stop)
	return n
}

// seedFile seeds a database file and closes it, so that nodes open their own.
func seedFile(t *testing.T) (string, *fixture) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "botrelay.db")
	f := seed(t, path)
	f.store.Close()
	return path, f
}

// loginFull logs user in on n and returns the login answer; the client's
// jar gets the Session_id cookie.
func loginFull(t *testing.T, n *node, c *http.Client, user string) (bearer, csrf string) {
	t.Helper()
	var out map[string]any
	if code := postJSON(t, c, n.srv.URL+"/api/account/1000/login?v=1.3", nil, map[string]string{"username": user, "password": password}, &out); code != 200 {
		t.Fatalf("login %s: %d %v", user, code, out)
	}
	return out["bearer"].(string), out["csrf"].(string)
}

// skillsStatus is the status of the agent's REST call GET skills with the bearer.
func skillsStatus(t *testing.T, n *node, bearer string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, n.srv.URL+"/api/account/1000/skills", nil)
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := n.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// wsStatus dials the agent websocket with the bearer and returns the HTTP
// status of the refusal, or 101 when it connected.
func wsStatus(t *testing.T, n *node, bearer string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, n.srv.URL+"/ws_api/account/1000/messaging/brand/"+bearer+"?v=2.1", nil)
	for k, v := range map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
		"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="} {
		req.Header.Set(k, v)
	}
	resp, err := n.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func agentWS(t *testing.T, n *node, bearer string) *client {
	t.Helper()
	return dial(t, n.srv.Client(), wsURL(n.srv)+"/ws_api/account/1000/messaging/brand/"+bearer+"?v=2.1", nil)
}

func waitClosed(t *testing.T, c *client, want int, what string) {
	t.Helper()
	select {
	case <-c.closed:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: the websocket is still open", what)
	}
	if int(c.status) != want {
		t.Fatalf("%s: websocket closed with %d %q, want %d", what, c.status, c.reason, want)
	}
}

// TestSessionSurvivesRestart: an agent logged in before a restart goes on
// with the same bearer, for REST and the websocket, and continues its
// conversation.
func TestSessionSurvivesRestart(t *testing.T) {
	path, _ := seedFile(t)
	a := startNode(t, path, "", nil)
	bearer := login(t, a.srv.URL, a.srv.Client(), "bob")
	bob := agentWS(t, a, bearer)
	bob.mustCall(".ams.routing.SetAgentState", map[string]any{"availability": "ONLINE"})
	bob.mustCall(".ams.routing.SubscribeRoutingTasks", map[string]any{})
	tok := consumerToken(t, a.srv)
	cons := consumerWS(t, a.srv, tok)
	conv := cons.mustCall("cm.ConsumerRequestConversation", map[string]any{"skill": "human"}).(map[string]any)["conversationId"].(string)
	acceptRing(t, bob, conv)
	cons.mustCall("ms.PublishEvent", map[string]any{"dialogId": conv, "event": map[string]any{"type": "ContentEvent", "contentType": "text/plain", "message": "before the restart"}})

	a.stop()
	<-bob.closed
	b := startNode(t, path, "", nil)
	if code := skillsStatus(t, b, bearer); code != 200 {
		t.Fatalf("REST with the bearer after a restart: %d, want 200", code)
	}
	bob = agentWS(t, b, bearer)
	bob.mustCall(".ams.routing.SetAgentState", map[string]any{"availability": "ONLINE"})
	bob.mustCall(".ams.aam.SubscribeExConversations", map[string]any{"convState": []string{"OPEN"}})
	bob.waitFor("his conversation after the restart", func(m map[string]any) bool {
		return m["type"] == ".ams.aam.ExConversationChangeNotification" && strings.Contains(fmt.Sprint(m["body"]), conv)
	})
	hist := bob.mustCall(".ams.ms.QueryMessages", map[string]any{"dialogId": conv, "newerThanSequence": 0}).([]any)
	if len(hist) != 1 || get(hist[0], "event", "message") != "before the restart" {
		t.Fatalf("history after the restart: %v", hist)
	}
	bob.mustCall(".ams.ms.PublishEvent", map[string]any{"dialogId": conv, "event": map[string]any{"type": "ContentEvent", "contentType": "text/plain", "message": "still here"}})
	cons = consumerWS(t, b.srv, tok)
	cons.mustCall("ms.SubscribeMessagingEvents", map[string]any{"dialogId": conv, "fromSeq": 0})
	cons.waitFor("the agent's answer after the restart", hasText("ms.MessagingEventNotification", "still here"))
}

// consumerToken gets a new consumer's token from srv.
func consumerToken(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	var tok struct {
		Token string `json:"token"`
	}
	if code := postJSON(t, srv.Client(), srv.URL+"/api/account/1000/consumer/token", nil, map[string]string{}, &tok); code != 200 {
		t.Fatalf("consumer token: %d", code)
	}
	return tok.Token
}

func consumerWS(t *testing.T, srv *httptest.Server, token string) *client {
	t.Helper()
	return dial(t, srv.Client(), wsURL(srv)+"/ws_api/account/1000/messaging/consumer?v=3&token="+token, nil)
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestSessionAcrossNodes: two hubs on one database. A bearer from one
// works on the other; a logout on one ends the session on the other, its
// websocket closed with 4401; a new login on one replaces the session on
// the other, its websocket closed with 4409.
func TestSessionAcrossNodes(t *testing.T) {
	path, _ := seedFile(t)
	a := startNode(t, path, "", nil)
	b := startNode(t, path, "", nil)

	bearer := login(t, a.srv.URL, a.srv.Client(), "alice")
	if code := skillsStatus(t, b, bearer); code != 200 {
		t.Fatalf("REST on B with A's bearer: %d, want 200", code)
	}
	onB := agentWS(t, b, bearer)
	onB.mustCall(".GetClock", nil)
	if code := postJSON(t, a.srv.Client(), a.srv.URL+"/api/account/1000/logout?v=1.3", http.Header{"Authorization": {"Bearer " + bearer}}, nil, nil); code != 200 {
		t.Fatalf("logout on A: %d", code)
	}
	if code := wsStatus(t, b, bearer); code != 401 {
		t.Fatalf("websocket on B after logout on A: %d, want 401", code)
	}
	waitClosed(t, onB, int(hub.CloseSessionEnded), "B's websocket after a logout on A")
	if code := skillsStatus(t, b, bearer); code != 401 {
		t.Fatalf("REST on B after logout on A: %d, want 401", code)
	}
	if code := skillsStatus(t, a, bearer); code != 401 {
		t.Fatalf("REST on A after logout on A: %d, want 401", code)
	}

	first := login(t, a.srv.URL, a.srv.Client(), "alice")
	onA := agentWS(t, a, first)
	onA.mustCall(".GetClock", nil)
	second := login(t, b.srv.URL, b.srv.Client(), "alice")
	waitClosed(t, onA, int(hub.CloseSessionReplaced), "A's websocket after a new login on B")
	if code := skillsStatus(t, a, first); code != 401 {
		t.Fatalf("the replaced bearer on A: %d, want 401", code)
	}
	for _, n := range []*node{a, b} {
		if code := skillsStatus(t, n, second); code != 200 {
			t.Fatalf("the new bearer on %s: %d, want 200", n.srv.URL, code)
		}
	}
}

// TestSessionCacheRecheck: a node that served a bearer a moment ago still
// refuses it within SessionRecheck of a logout elsewhere.
func TestSessionCacheRecheck(t *testing.T) {
	path, _ := seedFile(t)
	slow := func(o *hub.Options) { o.SessionRecheck = 2 * time.Second }
	a := startNode(t, path, "", slow)
	b := startNode(t, path, "", slow)
	bearer := login(t, a.srv.URL, a.srv.Client(), "bob")
	if code := skillsStatus(t, b, bearer); code != 200 {
		t.Fatalf("REST on B: %d", code)
	}
	start := time.Now()
	if code := postJSON(t, a.srv.Client(), a.srv.URL+"/api/account/1000/logout?v=1.3", http.Header{"Authorization": {"Bearer " + bearer}}, nil, nil); code != 200 {
		t.Fatalf("logout on A: %d", code)
	}
	testrig.Eventually(t, 10*time.Second, "B refuses the bearer", func() bool { return skillsStatus(t, b, bearer) == 401 })
	took := time.Since(start)
	t.Logf("B refused the bearer %v after the logout on A (SessionRecheck 2s)", took)
	if took > 5*time.Second {
		t.Fatalf("B refused the bearer %v after the logout, SessionRecheck is 2s", took)
	}
}

// TestSessionExpiryAndRefresh: a session expires by time unless refreshed;
// a refresh on one node (by the cookie and csrf of a login on another)
// extends it on every node.
func TestSessionExpiryAndRefresh(t *testing.T) {
	path, _ := seedFile(t)
	clk := &clock{}
	opts := func(o *hub.Options) { o.Now = clk.now; o.SessionTTL = time.Hour }
	a := startNode(t, path, "", opts)
	b := startNode(t, path, "", opts)

	c := a.srv.Client()
	c.Jar = newJar()
	bearer, csrf := loginFull(t, a, c, "bob")
	other := login(t, b.srv.URL, b.srv.Client(), "mia")
	clk.advance(50 * time.Minute)
	// The cookie A set goes to B too (cookies ignore the port).
	if code := postJSON(t, c, b.srv.URL+"/api/account/1000/refresh?v=1.3", nil, map[string]string{"csrf": csrf}, nil); code != 200 {
		t.Fatalf("refresh on B of a session from A: %d", code)
	}
	clk.advance(20 * time.Minute) // 70 minutes after both logins
	for _, n := range []*node{a, b} {
		if code := skillsStatus(t, n, bearer); code != 200 {
			t.Fatalf("the refreshed bearer on %s: %d, want 200", n.srv.URL, code)
		}
		if code := skillsStatus(t, n, other); code != 401 {
			t.Fatalf("the expired bearer on %s: %d, want 401", n.srv.URL, code)
		}
		if code := wsStatus(t, n, other); code != 401 {
			t.Fatalf("websocket with the expired bearer on %s: %d, want 401", n.srv.URL, code)
		}
	}
	clk.advance(time.Hour)
	for _, n := range []*node{a, b} {
		if code := skillsStatus(t, n, bearer); code != 401 {
			t.Fatalf("the bearer an hour after its refresh on %s: %d, want 401", n.srv.URL, code)
		}
	}
	if code := postJSON(t, c, a.srv.URL+"/api/account/1000/refresh?v=1.3", nil, map[string]string{"csrf": csrf}, nil); code != 401 {
		t.Fatalf("refresh of an expired session: %d, want 401", code)
	}
}

// TestSessionTokensNotStored: the store keeps the SHA-256 of the tokens,
// never the tokens.
func TestSessionTokensNotStored(t *testing.T) {
	path, _ := seedFile(t)
	a := startNode(t, path, "", nil)
	c := a.srv.Client()
	c.Jar = newJar()
	bearer, csrf := loginFull(t, a, c, "bob")
	var cookie string
	for _, ck := range c.Jar.Cookies(mustURL(t, a.srv.URL+"/api/account/1000/refresh")) {
		if ck.Name == "Session_id" {
			cookie = ck.Value
		}
	}
	if cookie == "" {
		t.Fatal("no Session_id cookie after login")
	}
	rows, err := a.store.DB().Query(`SELECT bearer_hash, cookie_hash, csrf_hash, account_id, user_id, created_at, expires_at, ended FROM agent_sessions`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var all []string
	for rows.Next() {
		var v [8]string
		if err := rows.Scan(&v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]); err != nil {
			t.Fatal(err)
		}
		all = append(all, strings.Join(v[:], "|"))
		if v[0] != sha256hex(bearer) || v[1] != sha256hex(cookie) || v[2] != sha256hex(csrf) {
			t.Fatalf("stored hashes %v are not the SHA-256 of the tokens", v[:3])
		}
	}
	if len(all) != 1 {
		t.Fatalf("agent_sessions has %d rows, want 1", len(all))
	}
	// Nothing in the database file holds a token in clear.
	a.stop()
	for _, suffix := range []string{"", "-wal"} {
		data, err := os.ReadFile(path + suffix)
		if err != nil && suffix == "" {
			t.Fatal(err)
		}
		for name, tok := range map[string]string{"bearer": bearer, "cookie": cookie, "csrf": csrf} {
			if strings.Contains(string(data), tok) {
				t.Fatalf("the database file%s holds the %s in clear", suffix, name)
			}
		}
	}
}

func sha256hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestSessionSurvivesKill9: a server process killed with SIGKILL and
// started again on the same data takes the bearer of a login before the
// kill, for REST and the websocket.
func TestSessionSurvivesKill9(t *testing.T) {
	dir := t.TempDir()
	f := seed(t, filepath.Join(dir, "botrelay.db"))
	f.store.Close()
	cmd, base := startChild(t, dir)
	hc := &http.Client{Timeout: 10 * time.Second}
	bearer := login(t, base, hc, "bob")
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	_, base = startChild(t, dir)
	req, _ := http.NewRequest(http.MethodGet, base+"/api/account/1000/skills", nil)
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("REST with the bearer after kill -9 and restart: %d, want 200", resp.StatusCode)
	}
	bob := dial(t, hc, "ws"+strings.TrimPrefix(base, "http")+"/ws_api/account/1000/messaging/brand/"+bearer+"?v=2.1", nil)
	bob.mustCall(".ams.routing.SetAgentState", map[string]any{"availability": "ONLINE"})
}
