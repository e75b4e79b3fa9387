package hub_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/botrelay/botrelay/hub"
)

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// TestFileLinks: only the conversation's participants and users with
// conversation:view-all get a download link; the link is signed, short-lived
// and carries no bearer; an agent's bearer alone opens no file.
func TestFileLinks(t *testing.T) {
	f := seed(t, filepath.Join(t.TempDir(), "botrelay.db"))
	clk := &clock{}
	h, err := hub.New(hub.Options{Store: f.store, Account: acct, DataDir: t.TempDir(), SigningKey: signingKey,
		Logger: quiet, RingTimeout: 30 * time.Second, Now: clk.now})
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
	t.Cleanup(func() { h.Close(); cancel(); <-done; srv.Close(); f.store.Close() })

	alice := agentConn(t, srv, "alice") // will be the participant
	bob := agentConn(t, srv, "bob")     // an agent of the account, not in the conversation
	mia := agentConn(t, srv, "mia")     // Agent Manager: conversation:view-all
	var tok struct {
		Token string `json:"token"`
	}
	postJSON(t, srv.Client(), srv.URL+"/api/account/1000/consumer/token", nil, nil, &tok)
	cons := dial(t, srv.Client(), wsURL(srv)+"/ws_api/account/1000/messaging/consumer?v=3", http.Header{"Authorization": {"jwt " + tok.Token}})
	conv := cons.mustCall("cm.ConsumerRequestConversation", map[string]any{}).(map[string]any)["conversationId"].(string)
	acceptRing(t, alice, conv)
	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{1}, 64)...)
	rel := upload(t, srv, tok.Token, "pic.png", png, 200)
	other := upload(t, srv, tok.Token, "other.png", append(png, 2), 200)

	fetch := func(u string, header ...string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	plain := srv.URL + "/api/account/1000/files/" + rel

	// A non-participant agent gets no link.
	code, body := bob.call(".ams.ms.GenerateURLForDownloadFile", map[string]any{"relativePath": rel})
	if raw, _ := json.Marshal(body); code != http.StatusForbidden || !strings.Contains(string(raw), "participants") {
		t.Errorf("non-participant link request: %d %v, want 403 naming the participants rule", code, body)
	}

	// The participant's link works, for a while, and holds no bearer.
	link := alice.mustCall(".ams.ms.GenerateURLForDownloadFile", map[string]any{"relativePath": rel})
	u, err := url.Parse(get(link, "url").(string))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if len(q) != 2 || q.Get("exp") == "" || q.Get("sig") == "" {
		t.Errorf("link query = %v, want exactly exp and sig", q)
	}
	signed := srv.URL + u.Path + "?" + u.RawQuery
	if code, got := fetch(signed); code != 200 || !bytes.Equal(got, png) {
		t.Fatalf("participant's link: %d, %d bytes", code, len(got))
	}
	// The view-all manager gets one too.
	if code, _ := mia.call(".ams.ms.GenerateURLForDownloadFile", map[string]any{"relativePath": rel}); code != 200 {
		t.Errorf("view-all link request: %d", code)
	}

	// Tampering fails: another file under the same signature, another
	// expiry, another signature.
	tampered := map[string]string{
		"other path": srv.URL + "/api/account/1000/files/" + other + "?" + u.RawQuery,
		"later exp":  srv.URL + u.Path + "?exp=" + q.Get("exp") + "0&sig=" + q.Get("sig"),
		"sig":        srv.URL + u.Path + "?exp=" + q.Get("exp") + "&sig=" + flip(q.Get("sig")),
		"no sig":     srv.URL + u.Path + "?exp=" + q.Get("exp"),
	}
	for name, tu := range tampered {
		if code, _ := fetch(tu); code != http.StatusForbidden {
			t.Errorf("tampered link (%s): %d, want 403", name, code)
		}
	}

	// An agent's bearer opens nothing, in the header or in the URL.
	bearer := login(t, srv.URL, srv.Client(), "botty") // a user without a socket here
	if code, _ := fetch(plain, "Authorization", "Bearer "+bearer); code == 200 {
		t.Errorf("agent bearer in Authorization opened the file")
	}
	if code, _ := fetch(plain + "?token=" + bearer); code == 200 {
		t.Errorf("agent bearer in the URL opened the file")
	}
	// No credentials at all: 401.
	if code, _ := fetch(plain); code != http.StatusUnauthorized {
		t.Errorf("anonymous download: %d, want 401", code)
	}
	// The consumer who uploaded it reads it with its token in the header,
	// not in the URL.
	if code, got := fetch(plain, "Authorization", "Bearer "+tok.Token); code != 200 || !bytes.Equal(got, png) {
		t.Errorf("owner download: %d", code)
	}
	if code, _ := fetch(plain + "?token=" + tok.Token); code == 200 {
		t.Errorf("a consumer token in the URL opened the file")
	}

	// The link expires after hub.FileURLTTL.
	clk.advance(hub.FileURLTTL + time.Second)
	if code, _ := fetch(signed); code != http.StatusForbidden {
		t.Errorf("expired link: %d, want 403", code)
	}

	// Once alice leaves the conversation she gets no new link.
	alice.mustCall(".ams.cm.UpdateConversationField", map[string]any{"conversationId": conv, "conversationField": []any{
		map[string]any{"field": "ParticipantsChange", "type": "REMOVE", "role": "ASSIGNED_AGENT"}}})
	if code, _ := alice.call(".ams.ms.GenerateURLForDownloadFile", map[string]any{"relativePath": rel}); code != http.StatusForbidden {
		t.Errorf("link request after leaving: %d, want 403", code)
	}
}

// flip changes the first character of s.
func flip(s string) string {
	if s == "" {
		return "A"
	}
	c := byte('A')
	if s[0] == 'A' {
		c = 'B'
	}
	return string(c) + s[1:]
}
