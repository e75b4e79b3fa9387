package medallia

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/botrelay/botrelay"
)

// maxBody bounds a response body.
const maxBody = 4 << 20

// tokenRefresh is how long before its expiry a cached token is replaced.
const tokenRefresh = time.Minute

// Bot is one configured medallia survey bot. It implements
// botrelay.HookableBot, botrelay.HealthChecker and botrelay.Ender, and is
// safe for concurrent use.
type Bot struct {
	cfg Config
	env botrelay.BotEnv

	mu       sync.Mutex // guards token and tokenExp; held while fetching one
	token    string
	tokenExp time.Time // zero: no expiry given, kept until refused
}

var (
	_ botrelay.HealthChecker = (*Bot)(nil)
	_ botrelay.HookableBot   = (*Bot)(nil)
	_ botrelay.Ender         = (*Bot)(nil)
)

// call is one API request.
type call struct {
	code   string // error code for failures
	what   string // the operation, for messages
	method string
	path   string // below baseUrl
	body   []byte
}

// do makes an API request with the bearer token. A 401 drops the token,
// fetches a new one and repeats the request once. Transport failures, 429
// and 5xx are ErrVendorUnavailable; 401 (after the repeat) and 403
// ErrVendorAuth. Other statuses come back to the caller with the body.
// Error messages never carry the token or the client secret.
func (b *Bot) do(ctx context.Context, c call) (int, []byte, error) {
	for attempt := 1; ; attempt++ {
		tok, err := b.bearer(ctx)
		if err != nil {
			return 0, nil, err
		}
		st, data, err := b.send(ctx, c, tok)
		if err != nil {
			return 0, nil, err
		}
		switch {
		case st == http.StatusUnauthorized && attempt == 1:
			b.dropToken(tok)
			b.env.Logger.InfoContext(ctx, "medallia refused the token; fetching a new one", "op", c.what)
			continue
		case st == http.StatusUnauthorized || st == http.StatusForbidden:
			b.dropToken(tok)
			return 0, nil, vendorErr(botrelay.ErrVendorAuth, c.code, "%s: the survey service refused botrelay's token (HTTP %d%s)", c.what, st, b.snippet(data, tok))
		case st == http.StatusTooManyRequests || st >= 500:
			return 0, nil, vendorErr(botrelay.ErrVendorUnavailable, c.code, "%s: HTTP %d%s", c.what, st, b.snippet(data, tok))
		}
		return st, data, nil
	}
}

// send makes one HTTP request and reads the response.
func (b *Bot) send(ctx context.Context, c call, tok string) (int, []byte, error) {
	var rd io.Reader
	if c.body != nil {
		rd = bytes.NewReader(c.body)
	}
	req, err := http.NewRequestWithContext(ctx, c.method, b.cfg.BaseURL+c.path, rd)
	if err != nil {
		return 0, nil, vendorErr(botrelay.ErrVendorBadReply, c.code, "%s: build request: %v", c.what, redact(err))
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "botrelay")
	if c.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return b.roundTrip(ctx, req, c.code, c.what)
}

// roundTrip sends req and reads the response body; transport failures are
// ErrVendorUnavailable.
func (b *Bot) roundTrip(ctx context.Context, req *http.Request, code, what string) (int, []byte, error) {
	resp, err := b.env.HTTPClient.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil, vendorErr(botrelay.ErrVendorUnavailable, code, "%s: no answer in time: %v", what, ctx.Err())
		}
		return 0, nil, vendorErr(botrelay.ErrVendorUnavailable, code, "%s: %v", what, redact(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil, vendorErr(botrelay.ErrVendorUnavailable, code, "%s: no answer in time: %v", what, ctx.Err())
		}
		return 0, nil, vendorErr(botrelay.ErrVendorUnavailable, code, "%s: reading the response: %v", what, redact(err))
	}
	if len(data) > maxBody {
		return 0, nil, vendorErr(botrelay.ErrVendorBadReply, code, "%s: response exceeds %d bytes", what, maxBody)
	}
	return resp.StatusCode, data, nil
}

// bearer returns the cached token, or fetches one when there is none or it
// expires within tokenRefresh. Callers wait for a fetch in progress.
func (b *Bot) bearer(ctx context.Context) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.env.Now()
	if b.token != "" && (b.tokenExp.IsZero() || now.Add(tokenRefresh).Before(b.tokenExp)) {
		return b.token, nil
	}
	tok, exp, err := b.fetchToken(ctx, now)
	if err != nil {
		return "", err
	}
	b.token, b.tokenExp = tok, exp
	return tok, nil
}

// dropToken forgets tok after the service refused it.
func (b *Bot) dropToken(tok string) {
	b.mu.Lock()
	if b.token == tok {
		b.token, b.tokenExp = "", time.Time{}
	}
	b.mu.Unlock()
}

// fetchToken runs the client credentials grant (RFC 6749 §4.4) with the
// client authenticated by HTTP Basic auth (§2.3.1: id and secret
// form-encoded first).
func (b *Bot) fetchToken(ctx context.Context, now time.Time) (string, time.Time, error) {
	const what = "get token"
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {Scope}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.cfg.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", time.Time{}, vendorErr(botrelay.ErrVendorAuth, CodeGetToken, "%s: build request: %v", what, redact(err))
	}
	req.SetBasicAuth(url.QueryEscape(b.cfg.ClientID), url.QueryEscape(b.cfg.ClientSecret))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "botrelay")
	st, data, err := b.roundTrip(ctx, req, CodeGetToken, what)
	if err != nil {
		return "", time.Time{}, err
	}
	switch {
	case st == http.StatusBadRequest || st == http.StatusUnauthorized || st == http.StatusForbidden:
		return "", time.Time{}, vendorErr(botrelay.ErrVendorAuth, CodeGetToken, "the token endpoint refused the client credentials (HTTP %d%s)", st, b.snippet(data))
	case st == http.StatusTooManyRequests || st >= 500:
		return "", time.Time{}, vendorErr(botrelay.ErrVendorUnavailable, CodeGetToken, "token endpoint: HTTP %d%s", st, b.snippet(data))
	case st < 200 || st > 299:
		return "", time.Time{}, vendorErr(botrelay.ErrVendorBadReply, CodeGetToken, "token endpoint: unexpected HTTP %d%s", st, b.snippet(data))
	}
	var tr struct {
		AccessToken string          `json:"access_token"`
		TokenType   string          `json:"token_type"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
	}
	if err := json.Unmarshal(data, &tr); err != nil || strings.TrimSpace(tr.AccessToken) == "" {
		return "", time.Time{}, vendorErr(botrelay.ErrVendorBadReply, CodeGetToken, "the token endpoint answered without an access_token")
	}
	if tr.TokenType != "" && !strings.EqualFold(tr.TokenType, "bearer") {
		return "", time.Time{}, vendorErr(botrelay.ErrVendorBadReply, CodeGetToken, "the token endpoint issued a %q token; want Bearer", tr.TokenType)
	}
	if strings.ContainsAny(tr.AccessToken, " \r\n\t") {
		return "", time.Time{}, vendorErr(botrelay.ErrVendorBadReply, CodeGetToken, "the token endpoint issued an access_token with spaces or line breaks")
	}
	var exp time.Time
	if s := strings.Trim(string(bytes.TrimSpace(tr.ExpiresIn)), `"`); s != "" && s != "null" {
		secs, err := strconv.ParseFloat(s, 64)
		if err != nil || secs < 0 {
			return "", time.Time{}, vendorErr(botrelay.ErrVendorBadReply, CodeGetToken, "the token endpoint's expires_in must be a number of seconds")
		}
		if secs > 0 {
			exp = now.Add(time.Duration(secs * float64(time.Second)))
		}
	}
	return tr.AccessToken, exp, nil
}

// CheckHealth implements botrelay.HealthChecker: GET /v1/health with the
// bearer token must answer 2xx. It fetches a token first, so it also
// proves the client credentials.
func (b *Bot) CheckHealth(ctx context.Context) error {
	st, data, err := b.do(ctx, call{code: CodeTestConnection, what: "connection test", method: http.MethodGet, path: HealthPath})
	if err != nil {
		return err
	}
	if st < 200 || st > 299 {
		return vendorErr(botrelay.ErrVendorBadReply, CodeTestConnection, "connection test: GET %s answered HTTP %d%s", HealthPath, st, b.snippet(data, b.cachedToken()))
	}
	return nil
}

// EndConversation implements botrelay.Ender: when a survey ends before the
// service said done, it DELETEs the session. 2xx and 404 (already gone)
// are success; without a session there is nothing to do.
func (b *Bot) EndConversation(ctx context.Context, conv botrelay.ConversationRef, vendorState json.RawMessage) error {
	st := readState(vendorState)
	if st.SessionID == "" || st.Done {
		return nil
	}
	status, data, err := b.do(ctx, call{code: CodeEndSession, what: "end session", method: http.MethodDelete, path: sessionPath(st.SessionID)})
	if err != nil {
		return err
	}
	if status == http.StatusNotFound || status >= 200 && status <= 299 {
		return nil
	}
	return vendorErr(botrelay.ErrVendorBadReply, CodeEndSession, "end session: unexpected HTTP %d%s", status, b.snippet(data, b.cachedToken()))
}

// redact drops the URL from a *url.Error (a tokenUrl may carry a query).
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// snippet quotes the start of a response body for error messages, with the
// client secret and the given tokens blanked out should the service echo
// them. It takes no lock: fetchToken calls it under b.mu.
func (b *Bot) snippet(body []byte, tokens ...string) string {
	s := strings.TrimSpace(string(body))
	if s == "" {
		return ""
	}
	// The Basic credential too: a service echoing its Authorization header
	// would otherwise show the secret base64-encoded.
	basic := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(b.cfg.ClientID) + ":" + url.QueryEscape(b.cfg.ClientSecret)))
	for _, secret := range append(tokens, b.cfg.ClientSecret, basic) {
		if len(secret) >= 4 {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	const max = 200
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return ": " + strconv.Quote(s)
}

// cachedToken returns the current token, for redaction.
func (b *Bot) cachedToken() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.token
}
