package watson

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/kit"
)

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
	// retryAfter is a Retry-After the call had no time for.
	retryAfter time.Duration
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
		h := http.Header{}
		if c.iam != nil {
			h.Set("Authorization", "Bearer "+token)
		} else {
			h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(c.auth.Username+":"+c.auth.Password)))
		}
		res, err := c.kit(token).Send(ctx, kit.Request{Code: code, What: what, Method: method, URL: u.String(), Header: h, Body: payload})
		if err != nil {
			return nil, err
		}
		if res.Status == http.StatusUnauthorized && c.iam != nil && attempt == 1 {
			c.iam.drop(token)
			c.env.Logger.InfoContext(ctx, "watson refused the IAM token; exchanging the API key again", "op", what)
			continue
		}
		return &result{status: res.Status, body: res.Body, retryAfter: res.RetryAfter}, nil
	}
}

// kit is the connector kit's client with the bot's secrets (and a token)
// hidden.
func (c *client) kit(token ...string) *kit.Client {
	return kit.NewClient(c.env, append(c.secrets(), token...)...)
}

// statusErr classifies a non-2xx answer (the connector kit's classes):
// 401/403 are ErrVendorAuth, 408, 429 and 5xx ErrVendorUnavailable (both
// with unavailCode), anything else ErrVendorBadReply with refusedCode.
func (c *client) statusErr(unavailCode, refusedCode, what string, res *result) error {
	how := "Watson refused the IAM token"
	if c.iam == nil {
		how = "Watson refused the username and password"
	}
	code := unavailCode
	if kit.Classify(res.status) == kit.Refused {
		code = refusedCode
	}
	return c.kit().StatusError(code, what, how, &kit.Response{Status: res.status, Body: res.body, RetryAfter: res.retryAfter})
}

func success(res *result) bool { return kit.Classify(res.status) == kit.Success }

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
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	kc := &kit.Client{HTTP: s.hc, Now: s.now, Secrets: []string{s.apiKey}}
	res, err := kc.Send(ctx, kit.Request{Code: s.code, What: "IAM token exchange at " + s.url, Method: http.MethodPost, URL: s.url, Header: h, Body: []byte(form.Encode())})
	if err != nil {
		var ve *botrelay.VendorError
		if errors.As(err, &ve) {
			return "", 0, s.iamErr(ve.Class, "%s", strings.TrimPrefix(ve.Message, "IAM token exchange at "+s.url+": "))
		}
		return "", 0, err
	}
	data := res.Body
	switch st, cl := res.Status, kit.Classify(res.Status); {
	case st == http.StatusBadRequest || cl == kit.Auth:
		return "", 0, s.iamErr(botrelay.ErrVendorAuth, "the token endpoint refused the API key (HTTP %d%s)", st, kc.Snippet(data))
	case cl == kit.Unavailable:
		err := s.iamErr(botrelay.ErrVendorUnavailable, "HTTP %d%s", st, kc.Snippet(data))
		if ve, ok := err.(*botrelay.VendorError); ok {
			ve.RetryAfter = res.RetryAfter
		}
		return "", 0, err
	case cl != kit.Success:
		return "", 0, s.iamErr(botrelay.ErrVendorAuth, "unexpected HTTP %d%s", st, kc.Snippet(data))
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
