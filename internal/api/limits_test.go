package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/auth"
	"github.com/botrelay/botrelay/internal/limits"
)

// clientFrom is an HTTP client whose connections leave from the loopback
// address ip (127.0.0.2, 127.0.0.3, …), so the server sees distinct
// client addresses.
func clientFrom(t *testing.T, ip string) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 200}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}
}

// loginAnswer is one /api/v1/login answer.
type loginAnswer struct {
	status     int
	retryAfter string
	code       string
	message    string
}

// postLogin logs in without failing the test, so goroutines may call it.
func postLogin(c *http.Client, base, name, password string) (loginAnswer, error) {
	raw, _ := json.Marshal(map[string]string{"loginName": name, "password": password})
	res, err := c.Post(base+"/api/v1/login", "application/json", bytes.NewReader(raw))
	if err != nil {
		return loginAnswer{}, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return loginAnswer{}, err
	}
	a := loginAnswer{status: res.StatusCode, retryAfter: res.Header.Get("Retry-After")}
	if res.StatusCode != http.StatusOK {
		var eb errorBody
		if err := json.Unmarshal(body, &eb); err != nil {
			return a, fmt.Errorf("status %d with a body that is not the error body: %s", res.StatusCode, body)
		}
		a.code, a.message = eb.Error.Code, eb.Error.Message
	}
	return a, nil
}

func mustLogin(t *testing.T, c *http.Client, base, name, password string) loginAnswer {
	t.Helper()
	a, err := postLogin(c, base, name, password)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestLoginDelayPerNameAndAddress: after the allowed failures for one name
// from one address, that pair waits (429, Retry-After, the error body) even
// with the right password; the right password from another address still
// works, and so does another name from the first address.
func TestLoginDelayPerNameAndAddress(t *testing.T) {
	e := newEnvWith(t, longDelays)
	limit := limits.DefaultLoginConfig().PairFailures
	stranger, user := clientFrom(t, "127.0.0.2"), clientFrom(t, "127.0.0.3")
	for i := range limit {
		if a := mustLogin(t, stranger, e.srv.URL, "agent", "wrong password"); a.status != http.StatusUnauthorized ||
			a.code != botrelay.EUNAUTHORIZED || a.message != "wrong login name or password" {
			t.Fatalf("guess %d: %+v, want 401 wrong login name or password", i+1, a)
		}
	}
	a := mustLogin(t, stranger, e.srv.URL, "agent", testPassword)
	if a.status != http.StatusTooManyRequests || a.code != botrelay.ERATELIMITED || !retryWithin(a.retryAfter, 3500, 3600) ||
		!strings.HasPrefix(a.message, "too many failed logins") {
		t.Fatalf("after %d failures, from the same address: %+v, want 429 rate_limited with Retry-After about 3600", limit, a)
	}
	if a := mustLogin(t, user, e.srv.URL, "agent", testPassword); a.status != http.StatusOK {
		t.Fatalf("the right password from another address: %+v, want 200", a)
	}
	if a := mustLogin(t, stranger, e.srv.URL, "admin", testPassword); a.status != http.StatusOK {
		t.Fatalf("another name from the stranger's address: %+v, want 200 (the address has %d failures, below its limit)", a, limit)
	}
	// Unknown names give the same answer as wrong passwords.
	if a := mustLogin(t, user, e.srv.URL, "nobody", "x"); a.status != http.StatusUnauthorized || a.message != "wrong login name or password" {
		t.Errorf("unknown name: %+v", a)
	}
}

// TestConcurrentGuessesReserveBeforeTheHash: 100 concurrent guesses for one
// user from one address get at most the configured number of password
// checks; the others are refused with 429 before any hash runs.
func TestConcurrentGuessesReserveBeforeTheHash(t *testing.T) {
	e := newEnvWith(t, longDelays)
	logins := e.api.o.Logins
	limit := logins.Config().PairFailures
	c := clientFrom(t, "127.0.0.2")
	before := logins.Checks()
	answers := guessConcurrently(t, e.srv.URL, "agent", []*http.Client{c}, 100)
	checks := logins.Checks() - before
	if checks > int64(limit) {
		t.Errorf("100 concurrent guesses ran %d password checks, want at most %d", checks, limit)
	}
	if answers[http.StatusUnauthorized] != int(checks) || answers[http.StatusTooManyRequests] != 100-int(checks) {
		t.Errorf("answers %v after %d checks, want %d × 401 and the rest 429", answers, checks, checks)
	}
	if a := mustLogin(t, clientFrom(t, "127.0.0.3"), e.srv.URL, "agent", testPassword); a.status != http.StatusOK {
		t.Fatalf("the right password from another address after the flood: %+v", a)
	}
}

// TestDistributedGuessesAreBoundedPerName: guesses for one user spread over
// 20 addresses get at most login.name_failures checks plus one per
// address, and the user still logs in from an address of its own.
func TestDistributedGuessesAreBoundedPerName(t *testing.T) {
	e := newEnvWith(t, longDelays)
	logins := e.api.o.Logins
	var clients []*http.Client
	for i := range 20 {
		clients = append(clients, clientFrom(t, fmt.Sprintf("127.0.0.%d", 10+i)))
	}
	before := logins.Checks()
	answers := guessConcurrently(t, e.srv.URL, "agent", clients, 200)
	checks := logins.Checks() - before
	bound := int64(logins.Config().NameFailures + len(clients))
	if checks > bound {
		t.Errorf("200 guesses from 20 addresses ran %d checks, want at most %d", checks, bound)
	}
	if answers[http.StatusUnauthorized]+answers[http.StatusTooManyRequests] != 200 {
		t.Errorf("answers %v", answers)
	}
	if a := mustLogin(t, clientFrom(t, "127.0.0.99"), e.srv.URL, "agent", testPassword); a.status != http.StatusOK {
		t.Fatalf("the right password from the user's own address: %+v", a)
	}
}

// retryWithin reports whether a Retry-After value is a number of seconds
// from lo to hi.
func retryWithin(v string, lo, hi int) bool {
	n, err := strconv.Atoi(v)
	return err == nil && n >= lo && n <= hi
}

// longDelays gives the API the default login limits with delays of an
// hour, so that no guess can run after a delay however slowly a test runs.
func longDelays(o *Options) {
	o.Logins = limits.NewLogins(limits.LoginConfig{Delay: time.Hour, MaxDelay: time.Hour}, nil)
}

// guessConcurrently sends n wrong logins for name at once, spread over the
// clients, and counts the statuses. A 429 must carry Retry-After.
func guessConcurrently(t *testing.T, base, name string, clients []*http.Client, n int) map[int]int {
	t.Helper()
	var mu sync.Mutex
	answers := map[int]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			a, err := postLogin(clients[i%len(clients)], base, name, "guess "+strconv.Itoa(i))
			if err != nil {
				t.Error(err)
				return
			}
			if a.status == http.StatusTooManyRequests && (a.retryAfter == "" || a.code != botrelay.ERATELIMITED) {
				t.Errorf("429 without Retry-After or code rate_limited: %+v", a)
			}
			mu.Lock()
			answers[a.status]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return answers
}

// TestUnknownNameCostsTheSameHash: a login with an unknown name, with a
// user without a password and with a wrong password each run one password
// check with the same argon2 parameters as the stored hash of a real user.
func TestUnknownNameCostsTheSameHash(t *testing.T) {
	var mu sync.Mutex
	var seen []auth.Params
	e := newEnvWith(t, func(o *Options) {
		o.Logins = limits.NewLogins(limits.LoginConfig{}, nil)
		o.Logins.OnCheck = func(p auth.Params) { mu.Lock(); seen = append(seen, p); mu.Unlock() }
	})
	creds, err := e.rig.Store.Credentials(context.Background(), "1000", "agent")
	if err != nil {
		t.Fatal(err)
	}
	want, err := auth.ParamsOf(creds.PasswordHash)
	if err != nil {
		t.Fatal(err)
	}
	c := clientFrom(t, "127.0.0.2")
	for _, name := range []string{"nobody-at-all", "agent", "admin"} {
		mu.Lock()
		seen = nil
		mu.Unlock()
		if a := mustLogin(t, c, e.srv.URL, name, "not the password"); a.status != http.StatusUnauthorized {
			t.Fatalf("%s: %+v", name, a)
		}
		mu.Lock()
		got := append([]auth.Params(nil), seen...)
		mu.Unlock()
		if len(got) != 1 || got[0] != want {
			t.Errorf("login as %s checked hashes with %+v, want exactly one with %+v", name, got, want)
		}
	}
}

// TestHashPoolFullGives503: when the hash pool has no room within
// login.hash_wait, a login gets 503 with Retry-After and the error body,
// and the attempt is not counted as a failure.
func TestHashPoolFullGives503(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	e := newEnvWith(t, func(o *Options) {
		o.Logins = limits.NewLogins(limits.LoginConfig{HashMemoryKiB: int64(auth.PasswordParams.Memory), HashWait: 50 * time.Millisecond}, nil)
		o.Logins.OnCheck = func(auth.Params) {
			select {
			case entered <- struct{}{}:
				<-release // hold the only slot
			default:
			}
		}
	})
	first := make(chan loginAnswer, 1)
	go func() {
		a, err := postLogin(clientFrom(t, "127.0.0.2"), e.srv.URL, "agent", "wrong")
		if err != nil {
			t.Error(err)
		}
		first <- a
	}()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the first login never reached the hash")
	}
	a := mustLogin(t, clientFrom(t, "127.0.0.3"), e.srv.URL, "agent", testPassword)
	close(release)
	if a.status != http.StatusServiceUnavailable || a.code != botrelay.EUNAVAILABLE || a.retryAfter != "1" {
		t.Fatalf("login while the pool is full: %+v, want 503 unavailable with Retry-After 1", a)
	}
	if got := <-first; got.status != http.StatusUnauthorized {
		t.Fatalf("the first login: %+v", got)
	}
	if a := mustLogin(t, clientFrom(t, "127.0.0.3"), e.srv.URL, "agent", testPassword); a.status != http.StatusOK {
		t.Fatalf("once the pool has room: %+v", a)
	}
}
