package watson

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/botrelay/botrelay"
)

// maxBody bounds a response body.
const maxBody = 4 << 20

// iamTimeout bounds one IAM token exchange. The exchange runs on behalf of
// every caller waiting for the token, so it does not end with the first
// caller's context.
const iamTimeout = 30 * time.Second

// IAM grant type for API keys.
const iamGrantType = "urn:ibm:params:oauth:grant-type:apikey"

// refreshFraction is the part of a token's lifetime after which it is
// exchanged again (IBM recommends refreshing at 80%).
const refreshFraction = 0.8

// client makes authenticated Watson calls for one bot: the version query
// parameter on every call, IAM bearer or basic auth. It is safe for
// concurrent use.
type client struct {
	vendor  string
	auth    Auth
	version string
	env     botrelay.BotEnv
	iam     *iamSource // nil with basic auth
	iamCode string
}

func newClient(vendor string, a Auth, version string, env botrelay.BotEnv) *client {
	c := &client{vendor: vendor, auth: a, version: version, env: env, iamCode: CodeIAMToken}
	if vendor == VendorIDV2 {
		c.iamCode = CodeIAMTokenV2
	}
	if a.APIKey != "" {
		c.iam = &iamSource{url: a.TokenEndpointURL, apiKey: a.APIKey, hc: env.HTTPClient, now: env.Now, code: c.iamCode}
	}
	return c
}

// secrets lists what must never appear in a message.
func (c *client) secrets() []string { return []string{c.auth.APIKey, c.auth.Password} }

// result is a Watson answer of any status.
type result struct {
	status int
	body   []byte
}

// do makes one call to base+path with the version parameter and the
// credentials. With IAM, a 401 drops the token and the call is made once
// more with a new one. Transport failures are ErrVendorUnavailable errors
// with code; statuses are returned for the caller to classify.
func (c *client) do(ctx context.Context, code, what, method, rawURL string, body any) (*result, error) {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return nil, vendorErr(botrelay.ErrUnsupported, code, "%s: encode the request: %v", what, err)
		}
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, vendorErr(botrelay.ErrVendorBadReply, code, "%s: bad URL: %v", what, err)
	}
	q := u.Query()
	q.Set("version", c.version)
	u.RawQuery = q.Encode()
	for attempt := 1; ; attempt++ {
		token := ""
		if c.iam != nil {
			if token, err = c.iam.token(ctx); err != nil {
				return nil, err
			}
		}
		var rd io.Reader
		if payload != nil {
			rd = bytes.NewReader(payload)
		}
		req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
		if err != nil {
			return nil, vendorErr(botrelay.ErrVendorBadReply, code, "%s: build the request: %v", what, err)
		}
		req.Header.Set("Accept", "application/json")
		req.Header.Set("User-Agent", "botrelay")
		if payload != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if c.iam != nil {
			req.Header.Set("Authorization", "Bearer "+token)
		} else {
			req.SetBasicAuth(c.auth.Username, c.auth.Password)
		}
		resp, err := c.env.HTTPClient.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, vendorErr(botrelay.ErrVendorUnavailable, code, "%s: %v", what, ctx.Err())
			}
			return nil, vendorErr(botrelay.ErrVendorUnavailable, code, "%s: request to %s failed: %v", what, u.Host, transportCause(err))
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
		resp.Body.Close()
		if err != nil {
			return nil, vendorErr(botrelay.ErrVendorUnavailable, code, "%s: reading the answer (HTTP %d) failed: %v", what, resp.StatusCode, transportCause(err))
		}
		if len(data) > maxBody {
			return nil, vendorErr(botrelay.ErrVendorBadReply, code, "%s: the answer is larger than %d bytes", what, maxBody)
		}
		if resp.StatusCode == http.StatusUnauthorized && c.iam != nil && attempt == 1 {
			c.iam.drop(token)
			c.env.Logger.InfoContext(ctx, "watson refused the IAM token; exchanging the API key again", "op", what)
			continue
		}
		return &result{status: resp.StatusCode, body: data}, nil
	}
}

// transportCause drops the URL from a *url.Error (the message names the
// host already).
func transportCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// statusErr classifies a non-2xx answer: 401/403 are ErrVendorAuth, 408,
// 429 and 5xx ErrVendorUnavailable (both with unavailCode), anything else
// ErrVendorBadReply with refusedCode.
func (c *client) statusErr(unavailCode, refusedCode, what string, res *result) error {
	st := res.status
	detail := fmt.Sprintf("HTTP %d%s", st, snippet(res.body, c.secrets()...))
	switch {
	case st == http.StatusUnauthorized || st == http.StatusForbidden:
		how := "the IAM token"
		if c.iam == nil {
			how = "the username and password"
		}
		return vendorErr(botrelay.ErrVendorAuth, unavailCode, "%s: Watson refused %s (%s)", what, how, detail)
	case st == http.StatusRequestTimeout || st == http.StatusTooManyRequests || st >= 500:
		return vendorErr(botrelay.ErrVendorUnavailable, unavailCode, "%s: %s", what, detail)
	}
	return vendorErr(botrelay.ErrVendorBadReply, refusedCode, "%s: %s", what, detail)
}

func success(res *result) bool { return res.status >= 200 && res.status < 300 }

// iamSource exchanges an API key for IAM bearer tokens and caches them. One
// exchange runs at a time; concurrent callers wait for it. A token is used
// until refreshFraction of its lifetime has passed.
type iamSource struct {
	url, apiKey string
	hc          *http.Client
	now         func() time.Time
	code        string

	mu        sync.Mutex
	tok       string
	refreshAt time.Time
	expiresAt time.Time
	inflight  *iamFetch
}

type iamFetch struct {
	done      chan struct{}
	tok       string
	lifetime  time.Duration
	err       error
	startedAt time.Time
}

// token returns a valid bearer token, exchanging the API key when there is
// none or the cached one is due for refresh. If a refresh fails while the
// cached token is still valid, the cached token is used.
func (s *iamSource) token(ctx context.Context) (string, error) {
	s.mu.Lock()
	now := s.now()
	if s.tok != "" && now.Before(s.refreshAt) {
		t := s.tok
		s.mu.Unlock()
		return t, nil
	}
	f := s.inflight
	if f == nil {
		f = &iamFetch{done: make(chan struct{}), startedAt: now}
		s.inflight = f
		go s.fetch(context.WithoutCancel(ctx), f)
	}
	s.mu.Unlock()
	select {
	case <-f.done:
	case <-ctx.Done():
		return "", vendorErr(botrelay.ErrVendorUnavailable, s.code, "IAM token exchange at %s: %v", s.url, ctx.Err())
	}
	if f.err != nil {
		s.mu.Lock()
		t, valid := s.tok, s.tok != "" && s.now().Before(s.expiresAt)
		s.mu.Unlock()
		if valid {
			return t, nil
		}
		return "", f.err
	}
	return f.tok, nil
}

// drop forgets tok after Watson refused it.
func (s *iamSource) drop(tok string) {
	s.mu.Lock()
	if s.tok == tok {
		s.tok = ""
	}
	s.mu.Unlock()
}

func (s *iamSource) fetch(ctx context.Context, f *iamFetch) {
	ctx, cancel := context.WithTimeout(ctx, iamTimeout)
	defer cancel()
	f.tok, f.lifetime, f.err = s.exchange(ctx, f.startedAt)
	s.mu.Lock()
	if f.err == nil {
		s.tok = f.tok
		s.refreshAt = f.startedAt.Add(time.Duration(float64(f.lifetime) * refreshFraction))
		s.expiresAt = f.startedAt.Add(f.lifetime)
	}
	s.inflight = nil
	s.mu.Unlock()
	close(f.done)
}

func (s *iamSource) iamErr(class error, format string, args ...any) error {
	return vendorErr(class, s.code, "IAM token exchange at %s failed: %s", s.url, fmt.Sprintf(format, args...))
}

// exchange makes one token request. Its errors never quote the API key.
func (s *iamSource) exchange(ctx context.Context, now time.Time) (string, time.Duration, error) {
	form := url.Values{"grant_type": {iamGrantType}, "apikey": {s.apiKey}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, s.iamErr(botrelay.ErrVendorAuth, "build the request: %v", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "botrelay")
	resp, err := s.hc.Do(req)
	if err != nil {
		return "", 0, s.iamErr(botrelay.ErrVendorUnavailable, "%v", transportCause(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", 0, s.iamErr(botrelay.ErrVendorUnavailable, "reading the answer: %v", transportCause(err))
	}
	switch st := resp.StatusCode; {
	case st == http.StatusBadRequest || st == http.StatusUnauthorized || st == http.StatusForbidden:
		return "", 0, s.iamErr(botrelay.ErrVendorAuth, "the token endpoint refused the API key (HTTP %d%s)", st, snippet(data, s.apiKey))
	case st == http.StatusRequestTimeout || st == http.StatusTooManyRequests || st >= 500:
		return "", 0, s.iamErr(botrelay.ErrVendorUnavailable, "HTTP %d%s", st, snippet(data, s.apiKey))
	case st < 200 || st >= 300:
		return "", 0, s.iamErr(botrelay.ErrVendorAuth, "unexpected HTTP %d%s", st, snippet(data, s.apiKey))
	}
	var tr struct {
		AccessToken string          `json:"access_token"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
		Expiration  json.RawMessage `json:"expiration"`
	}
	if err := json.Unmarshal(data, &tr); err != nil || tr.AccessToken == "" {
		return "", 0, s.iamErr(botrelay.ErrVendorBadReply, "the answer has no access_token")
	}
	lifetime := time.Duration(number(tr.ExpiresIn) * float64(time.Second))
	if lifetime <= 0 {
		if exp := number(tr.Expiration); exp > 0 {
			lifetime = time.Unix(int64(exp), 0).Sub(now)
		}
	}
	if lifetime < 0 {
		lifetime = 0 // used for the calls waiting now only
	}
	return tr.AccessToken, lifetime, nil
}

// number reads a JSON number or a string holding one; 0 otherwise.
func number(raw json.RawMessage) float64 {
	s := strings.Trim(strings.TrimSpace(string(raw)), `"`)
	f, _ := strconv.ParseFloat(s, 64)
	return f
}
