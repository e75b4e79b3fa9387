package customendpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/kit"
)

// RequestTimeout caps every HTTP request (§4.6: 60 s per request). The
// effective deadline of an attempt is the earlier of the call context's
// deadline and RequestTimeout from the attempt's start.
const RequestTimeout = 60 * time.Second

// MaxAttempts is the number of attempts per request (§4.6, F42: at most 3).
const MaxAttempts = 3

// DefaultRetryPauses are the pauses before the 2nd and 3rd attempt, from
// LivePerson's retry policy recommendations (5 s, then 10 s; the third,
// 15 s pause of that policy is never reached with 3 attempts).
var DefaultRetryPauses = []time.Duration{5 * time.Second, 10 * time.Second}

// maxRetryAfter bounds how long a Retry-After header can make us wait.
const maxRetryAfter = 60 * time.Second

// Token claims (see docs/vendors/custom-endpoint.md).
const (
	// TokenIssuer is the iss claim of the JWTs botrelay signs: the value the
	// reference service and LivePerson's app JWTs use, so an existing
	// endpoint only has to trust botrelay's key.
	TokenIssuer = "Sentinel"
	// TokenScope is the scope claim (the current Custom Endpoint scope).
	TokenScope = "thirdpartybots.customendpoint.bot"
	// TokenLifetime is how long a signed token is valid; it is reused until
	// less than tokenRefresh of it is left.
	TokenLifetime = time.Hour
	tokenRefresh  = 5 * time.Minute
)

var discardLogger = slog.New(slog.DiscardHandler)

// Bot is one configured custom_endpoint bot. It implements
// botrelay.VendorBot and botrelay.HealthChecker and is safe for concurrent
// use.
type Bot struct {
	cfg     Config
	env     botrelay.BotEnv
	botPath string // /v1/bots/{botId}
	envPath string // /v1/bots/{botId}/environments/{environment}
	target  string // botId/environment, recorded in the vendor state
	pauses  []time.Duration
	timeout time.Duration

	mu       sync.Mutex
	token    string
	tokenExp time.Time
}

var (
	_ botrelay.HealthChecker = (*Bot)(nil)
	_ botrelay.HookableBot   = (*Bot)(nil)
)

// call is one logical request; do makes up to MaxAttempts attempts.
type call struct {
	code   string // error code for failures
	what   string // human name of the operation, for messages
	method string
	path   string
	body   []byte
	// pass lists non-2xx statuses returned to the caller instead of
	// becoming errors.
	pass []int
}

type result struct {
	status int
	body   []byte
}

// do runs c with retries. Statuses in c.pass and 2xx come back as a result;
// everything else is a classified *botrelay.VendorError.
func (b *Bot) do(ctx context.Context, c call) (*result, error) {
	log := b.env.Logger.With("op", c.what)
	var last error
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			if last != nil {
				return nil, vendorErr(botrelay.ErrVendorUnavailable, c.code, "%s: %v (after attempt %d of %d; last failure: %s)", c.what, err, attempt-1, MaxAttempts, unwrapMsg(last))
			}
			return nil, vendorErr(botrelay.ErrVendorUnavailable, c.code, "%s: %v", c.what, err)
		}
		res, retryAfter, err := b.attempt(ctx, c)
		if err == nil {
			return res, nil
		}
		last = err
		var ve *retryErr
		if !errors.As(err, &ve) {
			return nil, err
		}
		if attempt >= MaxAttempts {
			return nil, vendorErr(botrelay.ErrVendorUnavailable, c.code, "%s failed %d times; last failure: %s", c.what, attempt, ve.msg)
		}
		pause := b.pauses[min(attempt-1, len(b.pauses)-1)]
		if retryAfter > pause {
			pause = min(retryAfter, maxRetryAfter)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= pause {
			err := botrelay.NewVendorError(botrelay.ErrVendorUnavailable, c.code, "%s failed (%s); attempt %d of %d, and the deadline leaves no time for another", c.what, ve.msg, attempt, MaxAttempts)
			if retryAfter > 0 {
				// The endpoint asked for the wait: the relay must not call
				// it sooner either.
				err.RetryAfter = retryAfter
			}
			return nil, err
		}
		log.WarnContext(ctx, "custom endpoint request failed; retrying", "attempt", attempt, "pause", pause, "error", ve.msg)
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}

// retryErr is a transient failure of one attempt.
type retryErr struct{ msg string }

func (e *retryErr) Error() string { return e.msg }

func unwrapMsg(err error) string {
	var re *retryErr
	if errors.As(err, &re) {
		return re.msg
	}
	return err.Error()
}

// attempt makes one HTTP request. It returns a *retryErr for transient
// failures, a classified error for final ones.
func (b *Bot) attempt(ctx context.Context, c call) (*result, time.Duration, error) {
	token, err := b.bearer(ctx)
	if err != nil {
		return nil, 0, err
	}
	actx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	h := http.Header{}
	h.Set("Authorization", "Bearer "+token)
	kc := kit.NewClient(b.env, token)
	res, err := kc.Send(actx, kit.Request{Code: c.code, What: c.what, Method: c.method, URL: b.cfg.BaseURL + c.path, Header: h, Body: c.body, OwnRetries: true})
	if err != nil {
		if ctx.Err() != nil {
			// The caller's deadline or cancellation: do not retry.
			return nil, 0, vendorErr(botrelay.ErrVendorUnavailable, c.code, "%s: %v", c.what, ctx.Err())
		}
		if actx.Err() != nil {
			return nil, 0, &retryErr{fmt.Sprintf("no answer within %s", b.timeout)}
		}
		if errors.Is(err, botrelay.ErrVendorUnavailable) {
			return nil, 0, &retryErr{strings.TrimPrefix(err.Error(), c.code+": "+c.what+": ")}
		}
		return nil, 0, err
	}
	st, data := res.Status, res.Body
	if kit.Classify(st) == kit.Success {
		return &result{status: st, body: data}, 0, nil
	}
	for _, p := range c.pass {
		if st == p {
			return &result{status: st, body: data}, 0, nil
		}
	}
	switch cl := kit.Classify(st); {
	case cl == kit.Auth:
		b.dropToken(token)
		hint := ""
		if b.cfg.TokenURL == "" && b.env.Signer != nil && b.env.Signer.JWKSURL() != "" {
			hint = "; the endpoint must verify it with the keys at " + b.env.Signer.JWKSURL()
		}
		return nil, 0, vendorErr(botrelay.ErrVendorAuth, c.code, "%s: the endpoint rejected botrelay's token (HTTP %d%s)%s", c.what, st, kit.Snippet(data), hint)
	case cl == kit.Unavailable:
		return nil, kit.RetryAfter(res.Header.Get("Retry-After"), b.env.Now()), &retryErr{fmt.Sprintf("HTTP %d%s", st, kc.Snippet(data))}
	case st == http.StatusNotFound:
		return nil, 0, vendorErr(botrelay.ErrVendorBadReply, c.code, "%s: HTTP 404: bot %q or environment %q not found at the endpoint%s", c.what, b.cfg.BotID, b.cfg.Environment, kit.Snippet(data))
	default:
		return nil, 0, vendorErr(botrelay.ErrVendorBadReply, c.code, "%s: unexpected HTTP %d%s", c.what, st, kit.Snippet(data))
	}
}

// bearer returns the cached token or a new one.
func (b *Bot) bearer(ctx context.Context) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.env.Now()
	if b.token != "" && now.Add(tokenRefresh).Before(b.tokenExp) {
		return b.token, nil
	}
	var (
		tok string
		exp time.Time
		err error
	)
	if b.cfg.TokenURL != "" {
		tok, exp, err = b.fetchToken(ctx, now)
	} else {
		tok, exp, err = b.signToken(now)
	}
	if err != nil {
		return "", err
	}
	b.token, b.tokenExp = tok, exp
	return tok, nil
}

// dropToken forgets token after the endpoint refused it, so the next call
// gets a fresh one.
func (b *Bot) dropToken(token string) {
	b.mu.Lock()
	if b.token == token {
		b.token = ""
	}
	b.mu.Unlock()
}

// Claims returns the claims of the JWT botrelay signs at now (exported for
// documentation and tests): iss "Sentinel", aud the botrelay account id, sub
// the clientId setting or "botrelay-bot-<bot id>", scope
// "thirdpartybots.customendpoint.bot", botId the endpoint bot id, iat now,
// exp now+TokenLifetime.
func (b *Bot) Claims(now time.Time) map[string]any {
	sub := b.cfg.ClientID
	if sub == "" {
		sub = "botrelay-bot-" + string(b.env.BotID)
	}
	return map[string]any{
		"iss":   TokenIssuer,
		"aud":   string(b.env.AccountID),
		"sub":   sub,
		"scope": TokenScope,
		"botId": b.cfg.BotID,
		"iat":   now.Unix(),
		"exp":   now.Add(TokenLifetime).Unix(),
	}
}

func (b *Bot) signToken(now time.Time) (string, time.Time, error) {
	tok, err := b.env.Signer.SignJWT(b.Claims(now))
	if err != nil {
		return "", time.Time{}, vendorErr(botrelay.ErrVendorAuth, CodeGetToken, "sign the bearer token: %v", err)
	}
	return tok, time.Unix(now.Add(TokenLifetime).Unix(), 0), nil
}

// fetchToken gets a bearer with the client credentials grant (RFC 6749
// §4.4; LivePerson Sentinel accepts the same form).
func (b *Bot) fetchToken(ctx context.Context, now time.Time) (string, time.Time, error) {
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {b.cfg.ClientID},
		"client_secret": {b.cfg.ClientSecret},
	}
	actx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	kc := kit.NewClient(b.env, b.cfg.ClientSecret)
	res, err := kc.Send(actx, kit.Request{Code: CodeGetToken, What: "token request", Method: http.MethodPost, URL: b.cfg.TokenURL, Header: h, Body: []byte(form.Encode()), OwnRetries: true})
	if err != nil {
		if ctx.Err() != nil {
			return "", time.Time{}, vendorErr(botrelay.ErrVendorUnavailable, CodeGetToken, "token request: %v", ctx.Err())
		}
		if errors.Is(err, botrelay.ErrVendorUnavailable) {
			return "", time.Time{}, &retryErr{strings.TrimPrefix(err.Error(), CodeGetToken+": ")}
		}
		return "", time.Time{}, vendorErr(botrelay.ErrVendorAuth, CodeGetToken, "%s", strings.TrimPrefix(err.Error(), CodeGetToken+": "))
	}
	data := res.Body
	st := res.Status
	switch cl := kit.Classify(st); {
	case cl == kit.Auth || st == http.StatusBadRequest:
		return "", time.Time{}, vendorErr(botrelay.ErrVendorAuth, CodeGetToken, "the token endpoint refused the client credentials (HTTP %d%s)", st, kc.Snippet(data))
	case cl == kit.Unavailable:
		return "", time.Time{}, &retryErr{fmt.Sprintf("token endpoint: HTTP %d%s", st, kc.Snippet(data))}
	case cl != kit.Success:
		return "", time.Time{}, vendorErr(botrelay.ErrVendorAuth, CodeGetToken, "token endpoint: unexpected HTTP %d%s", st, kc.Snippet(data))
	}
	var tr struct {
		AccessToken string          `json:"access_token"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
	}
	if err := json.Unmarshal(data, &tr); err != nil || tr.AccessToken == "" {
		return "", time.Time{}, vendorErr(botrelay.ErrVendorAuth, CodeGetToken, "token endpoint answered without an access_token%s", kc.Snippet(data))
	}
	var secs float64
	if s := strings.Trim(string(tr.ExpiresIn), `"`); s != "" {
		secs, _ = strconv.ParseFloat(s, 64)
	}
	exp := now.Add(time.Duration(secs) * time.Second)
	if secs <= 0 {
		exp = jwtExpiry(tr.AccessToken, now)
	}
	return tr.AccessToken, exp, nil
}

// jwtExpiry reads the exp claim of a JWT without verifying it (only to
// schedule a refresh); without one the token is used for one call.
func jwtExpiry(tok string, now time.Time) time.Time {
	parts := strings.Split(tok, ".")
	if len(parts) == 3 {
		var c struct {
			Exp float64 `json:"exp"`
		}
		if raw, err := decodeSegment(parts[1]); err == nil && json.Unmarshal(raw, &c) == nil && c.Exp > 0 {
			return time.Unix(int64(c.Exp), 0)
		}
	}
	return now
}

// Environments returns the environments the endpoint registers the bot in
// (GET …/environments).
func (b *Bot) Environments(ctx context.Context) ([]string, error) {
	res, err := b.do(ctx, call{code: CodeGetEnvironments, what: "get environments", method: http.MethodGet, path: b.botPath + "/environments"})
	if err != nil {
		return nil, err
	}
	var envs []string
	if err := json.Unmarshal(res.body, &envs); err != nil {
		return nil, vendorErr(botrelay.ErrVendorBadReply, CodeGetEnvironments, "get environments: the body is not a JSON array of strings%s", kit.Snippet(res.body))
	}
	return envs, nil
}

// The bot states of §4.3.2.
const (
	StateOnline      = "online"
	StateOffline     = "offline"
	StateError       = "error"
	StateMaintenance = "maintenance"
)

// State returns the bot's state and version (GET …/state).
func (b *Bot) State(ctx context.Context) (state, version string, err error) {
	res, err := b.do(ctx, call{code: CodeGetState, what: "get state", method: http.MethodGet, path: b.envPath + "/state", pass: []int{http.StatusNotFound}})
	if err != nil {
		return "", "", err
	}
	if res.status == http.StatusNotFound {
		msg := fmt.Sprintf("bot %q has no environment %q at the endpoint (HTTP 404)", b.cfg.BotID, b.cfg.Environment)
		if envs, err := b.Environments(ctx); err == nil {
			msg += fmt.Sprintf("; its environments are %q", envs)
		}
		return "", "", vendorErr(botrelay.ErrVendorBadReply, CodeGetState, "%s", msg)
	}
	var s struct {
		State   *string `json:"state"`
		Version any     `json:"version"`
	}
	if err := json.Unmarshal(res.body, &s); err != nil || s.State == nil {
		return "", "", vendorErr(botrelay.ErrVendorBadReply, CodeGetState, "get state: want {\"state\":…,\"version\":…}, got%s", orEmpty(kit.Snippet(res.body)))
	}
	if s.Version != nil {
		version = fmt.Sprint(s.Version)
	}
	return *s.State, version, nil
}

func orEmpty(s string) string {
	if s == "" {
		return " an empty body"
	}
	return s
}

// CheckHealth implements botrelay.HealthChecker: the start-up connection
// test (§4.6). The bot is healthy only when GET …/state answers 200 with
// state "online"; any other state is an ErrVendorUnavailable error that
// names it.
func (b *Bot) CheckHealth(ctx context.Context) error {
	state, version, err := b.State(ctx)
	if err != nil {
		return err
	}
	if state != StateOnline {
		return vendorErr(botrelay.ErrVendorUnavailable, CodeGetState, "bot %q in environment %q is %s, not %s (version %q)", b.cfg.BotID, b.cfg.Environment, strconv.Quote(state), StateOnline, version)
	}
	return nil
}
