package limits

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/auth"
)

func init() {
	// Cheap hashes: these tests count checks, not their cost.
	auth.PasswordParams = auth.Params{Memory: 64, Iterations: 1, Threads: 1}
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newClock() *clock { return &clock{t: time.Unix(1_000_000, 0)} }

var hashOf = func() func(string) string {
	cache := map[string]string{}
	var mu sync.Mutex
	return func(pw string) string {
		mu.Lock()
		defer mu.Unlock()
		if h, ok := cache[pw]; ok {
			return h
		}
		h, err := auth.HashPassword(pw)
		if err != nil {
			panic(err)
		}
		cache[pw] = h
		return h
	}
}()

// try runs one login attempt and returns "ok", "bad", or the refusal with
// its wait.
func try(t *testing.T, l *Logins, name, addr, password string) (string, time.Duration) {
	t.Helper()
	a, err := l.Begin(name, addr)
	if err != nil {
		var r *Refused
		if !errors.As(err, &r) || botrelay.ErrorCode(err) != botrelay.ERATELIMITED {
			t.Fatalf("Begin: %v", err)
		}
		return "refused", r.RetryAfter
	}
	ok, err := a.Verify(context.Background(), password, func() (string, error) { return hashOf("right password"), nil })
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if ok {
		return "ok", 0
	}
	return "bad", 0
}

func TestProgressiveDelayPerPair(t *testing.T) {
	c := newClock()
	l := NewLogins(LoginConfig{PairFailures: 3, NameFailures: 100, AddressFailures: 100, Delay: time.Second, MaxDelay: 10 * time.Second,
		ForgetAfter: time.Hour}, c.now)
	for i := range 3 {
		if got, _ := try(t, l, "Alice", "10.0.0.1", "guess"); got != "bad" {
			t.Fatalf("guess %d: %s", i+1, got)
		}
	}
	// Delays double from Delay up to MaxDelay, and apply to the right
	// password as well.
	for _, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second} {
		got, wait := try(t, l, "alice ", "10.0.0.1", "right password")
		if got != "refused" || wait != want {
			t.Fatalf("before the delay: %s after %v, want refused for %v", got, wait, want)
		}
		c.add(want)
		if got, _ := try(t, l, "ALICE", "10.0.0.1", "guess"); got != "bad" {
			t.Fatalf("after %v: %s, want the guess checked", want, got)
		}
	}
	c.add(10 * time.Second)
	if got, _ := try(t, l, "alice", "10.0.0.1", "right password"); got != "ok" {
		t.Fatalf("the right password after the delay: %s", got)
	}
	// Success clears the pair: the free failures are back.
	for i := range 3 {
		if got, _ := try(t, l, "alice", "10.0.0.1", "guess"); got != "bad" {
			t.Fatalf("after success, guess %d: %s", i+1, got)
		}
	}
}

func TestFailuresAreForgotten(t *testing.T) {
	c := newClock()
	l := NewLogins(LoginConfig{PairFailures: 2, ForgetAfter: time.Minute, Delay: time.Second, MaxDelay: time.Second}, c.now)
	try(t, l, "bob", "10.0.0.1", "x")
	try(t, l, "bob", "10.0.0.1", "x")
	if got, _ := try(t, l, "bob", "10.0.0.1", "x"); got != "refused" {
		t.Fatalf("third guess: %s", got)
	}
	c.add(time.Minute + time.Second)
	for i := range 2 {
		if got, _ := try(t, l, "bob", "10.0.0.1", "x"); got != "bad" {
			t.Fatalf("after forget_after, guess %d: %s", i+1, got)
		}
	}
}

// TestNameDelayBindsOnlyFailingAddresses: once a name has its allowed
// failures from all addresses, addresses that failed for it wait, but a
// clean address still gets its attempts checked.
func TestNameDelayBindsOnlyFailingAddresses(t *testing.T) {
	c := newClock()
	l := NewLogins(LoginConfig{PairFailures: 100, NameFailures: 4, AddressFailures: 100}, c.now)
	for _, addr := range []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"} {
		if got, _ := try(t, l, "carol", addr, "x"); got != "bad" {
			t.Fatalf("%s: %s", addr, got)
		}
	}
	if got, _ := try(t, l, "carol", "10.0.0.1", "right password"); got != "refused" {
		t.Fatalf("an address that failed for the name: %s, want refused", got)
	}
	if got, _ := try(t, l, "carol", "10.9.9.9", "right password"); got != "ok" {
		t.Fatalf("a clean address: %s, want ok", got)
	}
}

func TestAddressLimitSpansNames(t *testing.T) {
	l := NewLogins(LoginConfig{PairFailures: 100, NameFailures: 100, AddressFailures: 3}, newClock().now)
	for _, n := range []string{"a", "b", "c"} {
		try(t, l, n, "2001:db8::1", "x")
	}
	// The same /64 is the same address.
	if got, _ := try(t, l, "d", "2001:db8::ffff", "x"); got != "refused" {
		t.Fatalf("another name from the same /64: %s", got)
	}
	if got, _ := try(t, l, "d", "2001:db8:1::1", "x"); got != "bad" {
		t.Fatalf("another /64: %s", got)
	}
}

// TestReservationIsAtomic: concurrent attempts reserve before hashing, so
// exactly PairFailures of many concurrent guesses are checked.
func TestReservationIsAtomic(t *testing.T) {
	l := NewLogins(LoginConfig{PairFailures: 5}, nil)
	var wg sync.WaitGroup
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := l.Begin("dave", "10.0.0.1")
			if err != nil {
				return
			}
			_, _ = a.Verify(context.Background(), "x", func() (string, error) { return hashOf("right password"), nil })
		}()
	}
	wg.Wait()
	if l.Checks() != 5 {
		t.Fatalf("%d checks, want 5", l.Checks())
	}
}

func TestAbortGivesBackTheReservation(t *testing.T) {
	l := NewLogins(LoginConfig{PairFailures: 1}, newClock().now)
	for range 5 {
		a, err := l.Begin("erin", "10.0.0.1")
		if err != nil {
			t.Fatalf("an aborted attempt counted: %v", err)
		}
		a.Abort()
		a.Abort() // twice is harmless
	}
}

func TestPoolWaitsThenRefuses(t *testing.T) {
	per := int64(auth.PasswordParams.Memory)
	l := NewLogins(LoginConfig{HashMemoryKiB: per, HashWait: 30 * time.Millisecond}, nil)
	if !l.pool.acquire(context.Background(), per, time.Second) {
		t.Fatal("empty pool refused")
	}
	a, err := l.Begin("frank", "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = a.Verify(context.Background(), "x", func() (string, error) { return hashOf("right password"), nil })
	var r *Refused
	if !errors.As(err, &r) || botrelay.ErrorCode(err) != botrelay.EUNAVAILABLE || r.RetryAfterSeconds() != 1 {
		t.Fatalf("Verify with a full pool: %v", err)
	}
	if waited := time.Since(start); waited < 30*time.Millisecond {
		t.Fatalf("refused after %v, before hash_wait", waited)
	}
	// A waiter gets the memory once it is released.
	done := make(chan bool)
	go func() { done <- l.pool.acquire(context.Background(), per, 10*time.Second) }()
	l.pool.release(per)
	if !<-done {
		t.Fatal("the waiter did not get the released memory")
	}
	l.pool.release(per)
	// The refused attempt was not counted: the pair still has all its
	// free failures.
	for i := range l.Config().PairFailures {
		if got, _ := try(t, l, "frank", "10.0.0.1", "x"); got != "bad" {
			t.Fatalf("guess %d after a 503: %s", i+1, got)
		}
	}
}

// TestCostlierStoredHash: a stored hash made with more memory than new
// ones, even more than the whole budget, still gets checked (alone).
func TestCostlierStoredHash(t *testing.T) {
	saved := auth.PasswordParams
	auth.PasswordParams = auth.Params{Memory: 256, Iterations: 1, Threads: 1}
	costly, err := auth.HashPassword("right password")
	auth.PasswordParams = saved
	if err != nil {
		t.Fatal(err)
	}
	l := NewLogins(LoginConfig{HashMemoryKiB: 100, HashWait: 50 * time.Millisecond}, nil)
	a, err := l.Begin("gina", "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ok, err := a.Verify(context.Background(), "right password", func() (string, error) { return costly, nil })
	if err != nil || !ok {
		t.Fatalf("Verify of a hash costlier than the budget: %v %v", ok, err)
	}
	if !l.pool.acquire(context.Background(), 100, time.Second) {
		t.Fatal("the pool was not given back")
	}
}

func TestAutoHashMemory(t *testing.T) {
	per := int64(auth.DefaultMemory)
	got := AutoHashMemory(per)
	if got < per || got > max(per, 64<<10) {
		t.Fatalf("AutoHashMemory(%d) = %d, want from one hash to 64 MiB", per, got)
	}
}

func TestConsumerRates(t *testing.T) {
	c := newClock()
	cs := NewConsumers(ConsumerConfig{ConversationsPerMinute: 3, ConversationsPerConsumer: 2}, c.now)
	if err := cs.Conversation("10.0.0.1", "a"); err != nil {
		t.Fatal(err)
	}
	if err := cs.Conversation("10.0.0.1", "a"); err != nil {
		t.Fatal(err)
	}
	err := cs.Conversation("10.0.0.1", "a")
	var r *Refused
	if !errors.As(err, &r) || r.Err.Message != "too many new conversations from this consumer (at most 2 a minute); try again in 30 s" {
		t.Fatalf("third for one consumer: %v", err)
	}
	// The refused draw took nothing from the address: one left for b.
	if err := cs.Conversation("10.0.0.1", "b"); err != nil {
		t.Fatalf("another consumer: %v", err)
	}
	if err := cs.Conversation("10.0.0.1", "c"); err == nil || botrelay.ErrorCode(err) != botrelay.ERATELIMITED {
		t.Fatalf("fourth from the address: %v", err)
	}
	c.add(20 * time.Second) // one token back for the address (3 a minute)
	if err := cs.Conversation("10.0.0.1", "c"); err != nil {
		t.Fatalf("after the refill: %v", err)
	}
	var none *Consumers
	if none.Conversation("x", "y") != nil || none.Message("x", "y", 1<<30) != nil || none.Token("x") != nil {
		t.Fatal("a nil Consumers limited something")
	}
}

func TestClientAddr(t *testing.T) {
	trusted, err := ParseProxies("127.0.0.1, 10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		proxies *Proxies
		peer    string
		xff     []string
		want    string
	}{
		"no proxies, header ignored":  {nil, "203.0.113.5:4000", []string{"1.2.3.4"}, "203.0.113.5"},
		"untrusted peer":              {trusted, "203.0.113.5:4000", []string{"1.2.3.4"}, "203.0.113.5"},
		"trusted peer":                {trusted, "127.0.0.1:4000", []string{"1.2.3.4"}, "1.2.3.4"},
		"spoofed left part":           {trusted, "127.0.0.1:4000", []string{"6.6.6.6, 1.2.3.4"}, "1.2.3.4"},
		"chain of trusted proxies":    {trusted, "127.0.0.1:4000", []string{"1.2.3.4, 10.1.1.1", "10.2.2.2"}, "1.2.3.4"},
		"garbage stops the walk":      {trusted, "127.0.0.1:4000", []string{"junk, 10.1.1.1"}, "10.1.1.1"},
		"trusted peer without header": {trusted, "127.0.0.1:4000", nil, "127.0.0.1"},
		"IPv4-mapped peer":            {nil, "[::ffff:192.0.2.1]:80", nil, "192.0.2.1"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.peer
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := tc.proxies.ClientAddr(r); got != tc.want {
				t.Errorf("ClientAddr = %q, want %q", got, tc.want)
			}
		})
	}
	if _, err := ParseProxies("10.0.0.0/33"); err == nil {
		t.Error("a bad network was accepted")
	}
}
