package medallia

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/kit"
)

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
// fetches a new one and repeats the request once. Statuses are classified
// by the connector kit: transport failures, 408, 429 and 5xx are
// ErrVendorUnavailable; 401 (after the repeat) and 403 ErrVendorAuth.
// Other statuses come back to the caller with the body. Error messages
// never carry the token or the client secret.
func (b *Bot) do(ctx context.Context, c call) (int, []byte, error) {
	for attempt := 1; ; attempt++ {
		tok, err := b.bearer(ctx)
		if err != nil {
			return 0, nil, err
		}
		h := http.Header{}
		h.Set("Authorization", "Bearer "+tok)
		res, err := b.client(tok).Send(ctx, kit.Request{Code: c.code, What: c.what, Method: c.method, URL: b.cfg.BaseURL + c.path, Header: h, Body: c.body})
		if err != nil {
			return 0, nil, err
		}
		switch cl := kit.Classify(res.Status); {
		case res.Status == http.StatusUnauthorized && attempt == 1:
			b.dropToken(tok)
			b.env.Logger.InfoContext(ctx, "medallia refused the token; fetching a new one", "op", c.what)
			continue
		case cl == kit.Auth:
			b.dropToken(tok)
			return 0, nil, b.client(tok).StatusError(c.code, c.what, "the survey service refused botrelay's token", res)
		case cl == kit.Unavailable:
			return 0, nil, b.client(tok).StatusError(c.code, c.what, "", res)
		}
		return res.Status, res.Body, nil
	}
}

// client is a kit client that hides the client secret, its Basic
// credential (a service echoing its Authorization header would otherwise
// show the secret base64-encoded) and the given tokens. It takes no lock:
// fetchToken calls it under b.mu.
func (b *Bot) client(tokens ...string) *kit.Client {
	basic := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(b.cfg.ClientID) + ":" + url.QueryEscape(b.cfg.ClientSecret)))
	return kit.NewClient(b.env, append(tokens, b.cfg.ClientSecret, basic)...)
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
	h := http.Header{}
	h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(b.cfg.ClientID)+":"+url.QueryEscape(b.cfg.ClientSecret))))
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	kc := b.client()
	res, err := kc.Send(ctx, kit.Request{Code: CodeGetToken, What: what, Method: http.MethodPost, URL: b.cfg.TokenURL, Header: h, Body: []byte(form.Encode())})
	if err != nil {
		return "", time.Time{}, err
	}
	st, data := res.Status, res.Body
	switch cl := kit.Classify(st); {
	case st == http.StatusBadRequest || cl == kit.Auth:
		return "", time.Time{}, vendorErr(botrelay.ErrVendorAuth, CodeGetToken, "the token endpoint refused the client credentials (HTTP %d%s)", st, kc.Snippet(data))
	case cl == kit.Unavailable:
		return "", time.Time{}, kc.StatusError(CodeGetToken, "token endpoint", "", res)
	case cl != kit.Success:
		return "", time.Time{}, vendorErr(botrelay.ErrVendorBadReply, CodeGetToken, "token endpoint: unexpected HTTP %d%s", st, kc.Snippet(data))
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
	if kit.Classify(st) != kit.Success {
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
	if status == http.StatusNotFound || kit.Classify(status) == kit.Success {
		return nil
	}
	return vendorErr(botrelay.ErrVendorBadReply, CodeEndSession, "end session: unexpected HTTP %d%s", status, b.snippet(data, b.cachedToken()))
}

// snippet quotes the start of a response body for error messages, with
// the client secret and the given tokens blanked out should the service
// echo them.
func (b *Bot) snippet(body []byte, tokens ...string) string {
	return b.client(tokens...).Snippet(body)
}

// cachedToken returns the current token, for redaction.
func (b *Bot) cachedToken() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.token
}
