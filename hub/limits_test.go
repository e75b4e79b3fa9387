package hub_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/auth"
	"github.com/botrelay/botrelay/hub"
	"github.com/botrelay/botrelay/internal/limits"
)

// fromAddr is a client of the TLS test server srv whose connections leave
// from the loopback address ip, so the hub sees that client address.
func fromAddr(t *testing.T, srv *httptest.Server, ip string) *http.Client {
	t.Helper()
	tr := srv.Client().Transport.(*http.Transport).Clone()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	tr.DialContext = d.DialContext
	tr.MaxIdleConnsPerHost = 100
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// answer is an HTTP answer: status, Retry-After and the decoded body.
type answer struct {
	status     int
	retryAfter string
	body       map[string]any
	raw        string
}

// post sends body as JSON without failing the test (goroutines call it).
func post(c *http.Client, url string, body any) (answer, error) {
	b, _ := json.Marshal(body)
	res, err := c.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		return answer{}, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return answer{}, err
	}
	a := answer{status: res.StatusCode, retryAfter: res.Header.Get("Retry-After"), raw: string(raw)}
	if err := json.Unmarshal(raw, &a.body); err != nil {
		return a, fmt.Errorf("status %d, body is not JSON: %s", res.StatusCode, raw)
	}
	return a, nil
}

func mustPost(t *testing.T, c *http.Client, url string, body any) answer {
	t.Helper()
	a, err := post(c, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// wantLimited checks a refusal of the limits: the status, Retry-After and
// the shared error body with its code and a message that starts with
// prefix.
func wantLimited(t *testing.T, what string, a answer, status int, code, prefix string) {
	t.Helper()
	msg, _ := get(a.body, "error", "message").(string)
	if a.status != status || a.retryAfter == "" || get(a.body, "error", "code") != code || !strings.HasPrefix(msg, prefix) {
		t.Fatalf("%s: %d Retry-After %q %s, want %d with Retry-After and {\"error\":{\"code\":%q,\"message\":%q…}}",
			what, a.status, a.retryAfter, a.raw, status, code, prefix)
	}
}

func agentLoginURL(srv *httptest.Server) string { return srv.URL + "/api/account/1000/login?v=1.3" }

// TestAgentLoginIsLimited: the agent login counts wrong passwords like
// /api/v1/login: after the allowed failures for a name from one address
// that pair gets 429 (Retry-After, the error body) even with the right
// password, while the right password from another address logs in.
func TestAgentLoginIsLimited(t *testing.T) {
	f := seed(t, filepath.Join(t.TempDir(), "botrelay.db"))
	srv, _ := startHubWith(t, f, time.Minute, func(o *hub.Options) {
		// Long delays, so that the refusal does not depend on how fast the test runs.
		o.Logins = limits.NewLogins(limits.LoginConfig{Delay: time.Hour, MaxDelay: time.Hour}, nil)
	})
	stranger, user := fromAddr(t, srv, "127.0.0.2"), fromAddr(t, srv, "127.0.0.3")
	free := limits.DefaultLoginConfig().PairFailures
	for i := range free {
		a := mustPost(t, stranger, agentLoginURL(srv), map[string]string{"username": "alice", "password": fmt.Sprint("guess ", i)})
		if a.status != http.StatusUnauthorized || a.body["error"] != "wrong username, password or API key" || a.body["internalCode"] != 1003.0 {
			t.Fatalf("guess %d: %d %s", i+1, a.status, a.raw)
		}
	}
	a := mustPost(t, stranger, agentLoginURL(srv), map[string]string{"username": "alice", "password": password})
	wantLimited(t, "the right password from the guessing address", a, http.StatusTooManyRequests, botrelay.ERATELIMITED, "too many failed logins")
	if n, err := strconv.Atoi(a.retryAfter); err != nil || n < 3500 || n > 3600 {
		t.Fatalf("Retry-After %q, want about an hour", a.retryAfter)
	}
	a = mustPost(t, user, agentLoginURL(srv), map[string]string{"username": "alice", "password": password})
	if a.status != http.StatusOK || a.body["bearer"] == nil {
		t.Fatalf("the right password from another address: %d %s", a.status, a.raw)
	}
}

// TestAgentLoginConcurrentGuesses: 100 concurrent wrong agent logins from
// one address run at most login.pair_failures password checks. (The delay
// is long so that no guess may run after it, however slowly the test runs.)
func TestAgentLoginConcurrentGuesses(t *testing.T) {
	f := seed(t, filepath.Join(t.TempDir(), "botrelay.db"))
	logins := limits.NewLogins(limits.LoginConfig{Delay: time.Hour, MaxDelay: time.Hour}, nil)
	srv, _ := startHubWith(t, f, time.Minute, func(o *hub.Options) { o.Logins = logins })
	c := fromAddr(t, srv, "127.0.0.2")
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := post(c, agentLoginURL(srv), map[string]string{"username": "bob", "password": fmt.Sprint("guess ", i)})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			statuses[a.status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	free := logins.Config().PairFailures
	if n := logins.Checks(); n > int64(free) || statuses[http.StatusUnauthorized] != int(n) || statuses[http.StatusTooManyRequests] != 100-int(n) {
		t.Fatalf("%d password checks and answers %v; want at most %d checks, one 401 each, the rest 429", n, statuses, free)
	}
}

// TestAgentLoginUnknownNameCostsAHash: an unknown name is checked against a
// hash of the same cost as a real user's; an API key login runs no
// password hash at all.
func TestAgentLoginUnknownNameCostsAHash(t *testing.T) {
	f := seed(t, filepath.Join(t.TempDir(), "botrelay.db"))
	var mu sync.Mutex
	var seen []auth.Params
	logins := limits.NewLogins(limits.LoginConfig{}, nil)
	logins.OnCheck = func(p auth.Params) { mu.Lock(); seen = append(seen, p); mu.Unlock() }
	srv, _ := startHubWith(t, f, time.Minute, func(o *hub.Options) { o.Logins = logins })
	creds, err := f.store.Credentials(context.Background(), acct, "alice")
	if err != nil {
		t.Fatal(err)
	}
	want, err := auth.ParamsOf(creds.PasswordHash)
	if err != nil {
		t.Fatal(err)
	}
	c := fromAddr(t, srv, "127.0.0.2")
	for _, name := range []string{"no-such-agent", "alice"} {
		mu.Lock()
		seen = nil
		mu.Unlock()
		a := mustPost(t, c, agentLoginURL(srv), map[string]string{"username": name, "password": "not it at all"})
		if a.status != http.StatusUnauthorized || a.body["error"] != "wrong username, password or API key" {
			t.Fatalf("%s: %d %s", name, a.status, a.raw)
		}
		mu.Lock()
		got := append([]auth.Params(nil), seen...)
		mu.Unlock()
		if len(got) != 1 || got[0] != want {
			t.Errorf("login as %s checked %+v, want one check with %+v", name, got, want)
		}
	}
	before := logins.Checks()
	ks := f.keys["botty"]
	a := mustPost(t, c, agentLoginURL(srv), map[string]string{"username": "botty", "appKey": ks.AppKey, "secret": ks.Secret,
		"accessToken": ks.AccessToken, "accessTokenSecret": ks.AccessTokenSecret})
	if a.status != http.StatusOK || logins.Checks() != before {
		t.Fatalf("API key login: %d %s, %d password checks", a.status, a.raw, logins.Checks()-before)
	}
}

// consumerFrom gets a consumer token over c and connects its websocket.
func consumerFrom(t *testing.T, srv *httptest.Server, c *http.Client) *client {
	t.Helper()
	cl, _ := consumerWithToken(t, srv, c)
	return cl
}

// consumerWithToken is consumerFrom that also returns the token.
func consumerWithToken(t *testing.T, srv *httptest.Server, c *http.Client) (*client, string) {
	t.Helper()
	a := mustPost(t, c, srv.URL+"/api/account/1000/consumer/token", map[string]string{})
	tok, _ := a.body["token"].(string)
	if a.status != http.StatusOK || tok == "" {
		t.Fatalf("consumer token: %d %s", a.status, a.raw)
	}
	return dial(t, c, wsURL(srv)+"/ws_api/account/1000/messaging/consumer?v=3&token="+tok, nil), tok
}

// TestConsumerConversationFlood: 3,000 requests for new conversations from
// one address, as fast as they go, are cut at the configured rate with a
// clear error frame; nothing past the limit is stored, and another
// address still opens a conversation.
func TestConsumerConversationFlood(t *testing.T) {
	const perMinute = 50
	f := seed(t, filepath.Join(t.TempDir(), "botrelay.db"))
	srv, _ := startHubWith(t, f, time.Minute, func(o *hub.Options) {
		o.Consumers = limits.NewConsumers(limits.ConsumerConfig{ConversationsPerMinute: perMinute}, nil)
	})
	flooder := fromAddr(t, srv, "127.0.0.2")
	var consumers []*client
	for range 100 {
		consumers = append(consumers, consumerFrom(t, srv, flooder))
	}
	ctx := context.Background()
	start := time.Now()
	accepted, refused := 0, 0
	for i := range 3000 {
		c := consumers[i%len(consumers)]
		code, body := c.call("cm.ConsumerRequestConversation", map[string]any{"brandId": "1000", "skill": "human"})
		switch code {
		case http.StatusOK:
			accepted++
			conv, _ := get(body, "conversationId").(string)
			// Close it, so the consumer's next request asks for a new one.
			c.mustCall("cm.UpdateConversationField", map[string]any{"conversationId": conv, "conversationField": []any{
				map[string]any{"field": "ConversationStateField", "conversationState": "CLOSE"}}})
		case http.StatusTooManyRequests:
			refused++
			msg, _ := get(body, "error", "message").(string)
			if get(body, "error", "code") != botrelay.ERATELIMITED ||
				!strings.HasPrefix(msg, fmt.Sprintf("too many new conversations from your address (at most %d a minute); try again in ", perMinute)) {
				t.Fatalf("request %d refused with %v", i, body)
			}
		default:
			t.Fatalf("request %d: %d %v", i, code, body)
		}
	}
	elapsed := time.Since(start)
	// A full minute's worth at once, then the refill of the time spent.
	bound := perMinute + int(math.Ceil(perMinute*elapsed.Minutes()))
	t.Logf("3000 requests in %v: %d accepted, %d refused (bound %d)", elapsed, accepted, refused, bound)
	if accepted < perMinute || accepted > bound {
		t.Fatalf("%d conversations accepted in %v, want from %d to %d", accepted, elapsed, perMinute, bound)
	}
	stored, err := f.store.Conversations(ctx, acct, botrelay.ConversationFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != accepted {
		t.Fatalf("%d conversations stored, %d accepted", len(stored), accepted)
	}
	other := consumerFrom(t, srv, fromAddr(t, srv, "127.0.0.3"))
	if code, body := other.call("cm.ConsumerRequestConversation", map[string]any{"brandId": "1000", "skill": "human"}); code != http.StatusOK {
		t.Fatalf("a consumer at another address: %d %v", code, body)
	}
}

// TestConsumerTokenAndMessageLimits: new consumer tokens per address,
// messages per consumer, the largest message and file uploads per address
// are limited; refused messages are not stored.
func TestConsumerTokenAndMessageLimits(t *testing.T) {
	f := seed(t, filepath.Join(t.TempDir(), "botrelay.db"))
	srv, _ := startHubWith(t, f, time.Minute, func(o *hub.Options) {
		o.Consumers = limits.NewConsumers(limits.ConsumerConfig{TokensPerMinute: 2, MessagesPerConsumer: 3, MaxMessageBytes: 1000, UploadsPerMinute: 1}, nil)
	})
	a1 := fromAddr(t, srv, "127.0.0.2")
	c, tok := consumerWithToken(t, srv, a1)
	consumerFrom(t, srv, a1)
	wantLimited(t, "a third token a minute", mustPost(t, a1, srv.URL+"/api/account/1000/consumer/token", map[string]string{}),
		http.StatusTooManyRequests, botrelay.ERATELIMITED, "too many new consumers from your address (at most 2 a minute)")
	// Refreshing a token is not a new consumer.
	var refreshed struct {
		ConsumerID string `json:"consumerId"`
	}
	if code := postJSON(t, a1, srv.URL+"/api/account/1000/consumer/token", http.Header{"Authorization": {"Bearer " + tok}},
		map[string]string{}, &refreshed); code != http.StatusOK || refreshed.ConsumerID == "" {
		t.Fatalf("refreshing a token over the new-consumer limit: %d", code)
	}
	consumerFrom(t, srv, fromAddr(t, srv, "127.0.0.3")) // another address is not limited by this one

	conv, _ := get(c.mustCall("cm.ConsumerRequestConversation", map[string]any{"brandId": "1000", "skill": "human"}), "conversationId").(string)
	text := func(s string) map[string]any {
		return map[string]any{"dialogId": conv, "event": map[string]any{"type": "ContentEvent", "contentType": "text/plain", "message": s}}
	}
	code, body := c.call("ms.PublishEvent", text(strings.Repeat("x", 1000)))
	if msg, _ := get(body, "error", "message").(string); code != http.StatusBadRequest || get(body, "error", "code") != botrelay.EINVALID ||
		!strings.HasSuffix(msg, "at most 1000 bytes are allowed") {
		t.Fatalf("a message over 1000 bytes: %d %v", code, body)
	}
	for i := range 3 {
		c.mustCall("ms.PublishEvent", text(fmt.Sprint("message ", i)))
	}
	code, body = c.call("ms.PublishEvent", text("one too many"))
	if msg, _ := get(body, "error", "message").(string); code != http.StatusTooManyRequests || get(body, "error", "code") != botrelay.ERATELIMITED ||
		!strings.HasPrefix(msg, "too many messages from this consumer (at most 3 a minute)") {
		t.Fatalf("the fourth message: %d %v", code, body)
	}
	// Typing is not a message.
	c.mustCall("ms.PublishEvent", map[string]any{"dialogId": conv, "event": map[string]any{"type": "ChatStateEvent", "chatState": "COMPOSING"}})
	events, err := f.store.Events(context.Background(), botrelay.ConversationID(conv), botrelay.DialogID(conv), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, e := range events {
		var ev struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(e.Event, &ev)
		texts = append(texts, ev.Message)
	}
	if strings.Join(texts, "|") != "message 0|message 1|message 2" {
		t.Fatalf("stored %q, want the three messages within the limits", texts)
	}

	// Uploads: one a minute here (the test server's own client is at 127.0.0.1).
	upload(t, srv, tok, "a.txt", []byte("first"), http.StatusOK)
	var buf bytes.Buffer
	ct := newMultipart(&buf, "b.txt", []byte("second"))
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/account/1000/consumer/files", &buf)
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var ab map[string]any
	_ = json.Unmarshal(raw, &ab)
	wantLimited(t, "a second upload a minute", answer{status: res.StatusCode, retryAfter: res.Header.Get("Retry-After"), body: ab, raw: string(raw)},
		http.StatusTooManyRequests, botrelay.ERATELIMITED, "too many file uploads from your address (at most 1 a minute)")
}
