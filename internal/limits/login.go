package limits

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/auth"
)

// LoginConfig sets the login limits. A failure is a password check that
// did not match (an unknown login name counts like a wrong password).
//
// Each attempt counts against three keys: the login name from the client
// address (the pair), the login name from every address, and the client
// address for every name. A key allows its first N failures at once; from
// then on each further attempt must wait a delay that starts at Delay and
// doubles with each failure, up to MaxDelay. There is no lockout: once the
// delay has passed the next attempt is checked, and a correct password
// resets the pair. The name key applies only to addresses that have
// already failed for that name, so a stranger's guesses from elsewhere
// never delay the first attempts from the user's own address.
type LoginConfig struct {
	// PairFailures is how many failures one login name may have from one
	// client address before delays start. Default 5.
	PairFailures int
	// NameFailures is how many failures one login name may have from all
	// addresses together before delays start for addresses that failed
	// for it. Default 20.
	NameFailures int
	// AddressFailures is how many failures one client address may have,
	// for any login names, before delays start. Default 30.
	AddressFailures int
	// Delay is the first delay; each further failure doubles it. Default 1s.
	Delay time.Duration
	// MaxDelay caps the delay. Default 1m.
	MaxDelay time.Duration
	// ForgetAfter is how long a key's failures are kept after its last
	// failure. Default 15m.
	ForgetAfter time.Duration
	// HashMemoryKiB is the memory, in KiB, that password hashes may use at
	// once; 0 selects AutoHashMemory. A hash that does not fit waits.
	HashMemoryKiB int64
	// HashWait is how long a login waits for room in the hash memory
	// before it is refused with 503. Default 2s.
	HashWait time.Duration
}

// DefaultLoginConfig returns the default login limits.
func DefaultLoginConfig() LoginConfig {
	return LoginConfig{PairFailures: 5, NameFailures: 20, AddressFailures: 30, Delay: time.Second,
		MaxDelay: time.Minute, ForgetAfter: 15 * time.Minute, HashWait: 2 * time.Second}
}

// withDefaults fills zero fields with the defaults.
func (c LoginConfig) withDefaults() LoginConfig {
	d := DefaultLoginConfig()
	if c.PairFailures <= 0 {
		c.PairFailures = d.PairFailures
	}
	if c.NameFailures <= 0 {
		c.NameFailures = d.NameFailures
	}
	if c.AddressFailures <= 0 {
		c.AddressFailures = d.AddressFailures
	}
	if c.Delay <= 0 {
		c.Delay = d.Delay
	}
	if c.MaxDelay < c.Delay {
		c.MaxDelay = max(d.MaxDelay, c.Delay)
	}
	if c.ForgetAfter <= 0 {
		c.ForgetAfter = d.ForgetAfter
	}
	if c.HashWait <= 0 {
		c.HashWait = d.HashWait
	}
	return c
}

// Logins is the one login limiter of a server: every password check, of
// the agent login and of the management API login, goes through it, so
// the limits of one apply to the other. Safe for concurrent use.
type Logins struct {
	cfg LoginConfig
	now func() time.Time
	// OnCheck, when set before use, is called with the parameters of each
	// hash a password is checked against, while the check still holds its
	// room in the hash pool (tests use it to see that unknown names cost
	// the same hash as known ones, and to fill the pool).
	OnCheck func(auth.Params)

	pool   *pool
	checks atomic.Int64

	mu        sync.Mutex
	entries   map[string]*entry
	lastSweep time.Time

	dummyMu     sync.Mutex
	dummy       string
	dummyParams auth.Params
}

// entry is the failure record of one key.
type entry struct {
	failures int
	last     time.Time // of the last failure
	next     time.Time // no attempt before this
}

// maxEntries bounds the failure records kept; past it, records without an
// active delay are dropped first.
const maxEntries = 1 << 20

// NewLogins returns a limiter with cfg (zero fields take their defaults)
// and the clock now (nil: time.Now). The hash memory budget is fixed here
// from auth.PasswordParams when cfg leaves it zero.
func NewLogins(cfg LoginConfig, now func() time.Time) *Logins {
	cfg = cfg.withDefaults()
	if now == nil {
		now = time.Now
	}
	if cfg.HashMemoryKiB <= 0 {
		cfg.HashMemoryKiB = AutoHashMemory(int64(auth.PasswordParams.Memory))
	}
	return &Logins{cfg: cfg, now: now, pool: newPool(cfg.HashMemoryKiB), entries: map[string]*entry{}}
}

// Config returns the limits in force, defaults filled in.
func (l *Logins) Config() LoginConfig { return l.cfg }

// Checks returns how many password hashes were checked so far.
func (l *Logins) Checks() int64 { return l.checks.Load() }

// Attempt is one login attempt that passed the limits: it holds a
// reservation counted as a failure until Verify shows otherwise. Call
// Verify once, or Abort when the login ends before the password is checked.
type Attempt struct {
	l    *Logins
	keys [3]string // pair, name, address
	done bool
}

// NormalizeName is the form of a login name the limits count: trimmed and
// lower-cased, and at most 128 bytes.
func NormalizeName(name string) string {
	name = strings.ToLower(strings.TrimSpace(name))
	if len(name) > 128 {
		name = name[:128]
	}
	return name
}

// addressKey is the part of a client address the limits count: the whole
// IPv4 address, or the /64 network of an IPv6 address (one subscriber
// usually holds a whole /64).
func addressKey(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// Begin reserves an attempt for login name from client address addr,
// before any password is checked, so concurrent attempts cannot all pass a
// limit that only one of them fits. It returns a *Refused with code
// botrelay.ERATELIMITED when a delay is in force.
func (l *Logins) Begin(name, addr string) (*Attempt, error) {
	name, addr = NormalizeName(name), addressKey(addr)
	a := &Attempt{l: l, keys: [3]string{"p\x00" + name + "\x00" + addr, "n\x00" + name, "a\x00" + addr}}
	frees := [3]int{l.cfg.PairFailures, l.cfg.NameFailures, l.cfg.AddressFailures}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	var es [3]*entry
	var wait time.Duration
	for i, k := range a.keys {
		e := l.entries[k]
		if e != nil && now.Sub(e.last) > l.cfg.ForgetAfter && !now.Before(e.next) {
			delete(l.entries, k)
			e = nil
		}
		es[i] = e
		if e == nil || (i == 1 && es[0] == nil) { // the name's delay binds only addresses that failed for it
			continue
		}
		if d := e.next.Sub(now); d > wait {
			wait = d
		}
	}
	if wait > 0 {
		return nil, refuse(botrelay.ERATELIMITED, "too many failed logins for this name or from this address", wait)
	}
	for i, k := range a.keys {
		e := es[i]
		if e == nil {
			e = &entry{}
			l.entries[k] = e
		}
		e.failures++
		e.last = now
		if extra := e.failures - frees[i]; extra >= 0 {
			e.next = now.Add(l.delay(extra))
		}
	}
	return a, nil
}

// delay is the wait after the extra-th failure past the free ones.
func (l *Logins) delay(extra int) time.Duration {
	d := l.cfg.Delay
	for range extra {
		d *= 2
		if d >= l.cfg.MaxDelay {
			return l.cfg.MaxDelay
		}
	}
	return min(d, l.cfg.MaxDelay)
}

// sweep forgets old records every minute, and records without an active
// delay when there are too many. Caller holds l.mu.
func (l *Logins) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < time.Minute && len(l.entries) < maxEntries {
		return
	}
	l.lastSweep = now
	for k, e := range l.entries {
		if now.Sub(e.last) > l.cfg.ForgetAfter && !now.Before(e.next) {
			delete(l.entries, k)
		}
	}
	for k, e := range l.entries {
		if len(l.entries) < maxEntries*3/4 {
			break
		}
		if !now.Before(e.next) {
			delete(l.entries, k)
		}
	}
}

// refund takes back the reservation of a; on success it also clears the
// pair's failures. Caller holds l.mu.
func (l *Logins) refund(a *Attempt, success bool) {
	frees := [3]int{l.cfg.PairFailures, l.cfg.NameFailures, l.cfg.AddressFailures}
	for i, k := range a.keys {
		e := l.entries[k]
		if e == nil {
			continue
		}
		if i == 0 && success {
			delete(l.entries, k)
			continue
		}
		e.failures--
		if e.failures < frees[i] {
			e.next = time.Time{}
		}
		if e.failures <= 0 && !l.now().Before(e.next) {
			delete(l.entries, k)
		}
	}
}

// Abort gives back the reservation of an attempt whose password was not
// checked (the login failed for another reason). It does nothing after
// Verify, so `defer a.Abort()` is safe.
func (a *Attempt) Abort() {
	if a == nil || a.done {
		return
	}
	a.done = true
	a.l.mu.Lock()
	a.l.refund(a, false)
	a.l.mu.Unlock()
}

// Verify checks password against the argon2id hash that lookup returns
// (from the store), in the hash pool. lookup runs only once the attempt
// has room in the pool, so a flood that the pool cannot take does not
// reach the store either. An empty hash (unknown login name, or a user
// without a password) is checked against a dummy hash of the same cost,
// so the answer takes as long as for a known name, and never matches. A
// mismatch stays counted as a failure; a match clears the pair's failures.
// When the pool has no room within LoginConfig.HashWait it returns a
// *Refused with code botrelay.EUNAVAILABLE and the attempt is not
// counted. lookup's error is returned as it is; a malformed stored hash
// gives an error wrapping auth.ErrMalformedHash. Both give back the
// reservation.
func (a *Attempt) Verify(ctx context.Context, password string, lookup func() (string, error)) (bool, error) {
	if a.done {
		panic("limits: Attempt used twice")
	}
	l := a.l
	busy := func() error {
		a.Abort()
		return refuse(botrelay.EUNAVAILABLE, "the server is busy checking other passwords", l.cfg.HashWait)
	}
	held := min(int64(auth.PasswordParams.Memory), l.pool.budget)
	if !l.pool.acquire(ctx, held, l.cfg.HashWait) {
		return false, busy()
	}
	defer func() { l.pool.release(held) }()
	hash, err := lookup()
	if err != nil {
		a.Abort()
		return false, err
	}
	known := hash != ""
	if !known {
		hash = l.dummyHash()
	}
	p, err := auth.ParamsOf(hash)
	if err != nil {
		a.Abort()
		return false, err
	}
	// A hash costlier than new ones (made with other parameters) takes
	// more of the pool, at most all of it.
	if want := min(int64(p.Memory), l.pool.budget); want > held {
		if !l.pool.acquire(ctx, want-held, l.cfg.HashWait) {
			return false, busy()
		}
		held = want
	}
	ok, err := auth.VerifyPassword(password, hash)
	l.checks.Add(1)
	if l.OnCheck != nil {
		l.OnCheck(p) // inside the pool, so tests can hold a slot
	}
	ok = ok && err == nil && known
	a.done = true
	if ok {
		l.mu.Lock()
		l.refund(a, true)
		l.mu.Unlock()
	}
	return ok, err
}

// Hash hashes a new password with auth.HashPassword inside the hash pool,
// so setting passwords cannot take more memory than logins may. It returns
// a *Refused with code botrelay.EUNAVAILABLE when there is no room within
// LoginConfig.HashWait.
func (l *Logins) Hash(ctx context.Context, password string) (string, error) {
	n := int64(auth.PasswordParams.Memory)
	if !l.pool.acquire(ctx, n, l.cfg.HashWait) {
		return "", refuse(botrelay.EUNAVAILABLE, "the server is busy checking other passwords", l.cfg.HashWait)
	}
	defer l.pool.release(n)
	return auth.HashPassword(password)
}

// dummyHash is a hash made with the current auth.PasswordParams of a
// password nobody knows.
func (l *Logins) dummyHash() string {
	l.dummyMu.Lock()
	defer l.dummyMu.Unlock()
	if l.dummy == "" || l.dummyParams != auth.PasswordParams {
		h, err := auth.HashPassword(auth.GeneratePassword())
		if err != nil {
			panic("limits: hashing the dummy password: " + err.Error())
		}
		l.dummy, l.dummyParams = h, auth.PasswordParams
	}
	return l.dummy
}
