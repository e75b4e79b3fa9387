package directline

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
	"time"
	"unicode/utf8"

	"github.com/botrelay/botrelay"
)

// MaxResends is how often a request is sent again after a server error
// (F42: up to 2 resends). A 502 (the bot did not acknowledge within 15 s)
// is never resent.
const MaxResends = 2

// DefaultResendPauses are the pauses before the first and second resend.
// Direct Line documents no values; these are short so the resends fit the
// relay's vendor timeout.
var DefaultResendPauses = []time.Duration{500 * time.Millisecond, time.Second}

// tokenRefreshBefore is how long before its expiry a conversation token is
// refreshed (tokens last 30 minutes).
const tokenRefreshBefore = 5 * time.Minute

// maxBody bounds a response body.
const maxBody = 4 << 20

// Bot is one configured directline bot. It implements botrelay.VendorBot,
// botrelay.HookableBot and botrelay.HealthChecker and is safe for
// concurrent use: everything per conversation lives in the vendor state.
type Bot struct {
	cfg          Config
	env          botrelay.BotEnv
	resendPauses []time.Duration
}

var (
	_ botrelay.HealthChecker = (*Bot)(nil)
	_ botrelay.HookableBot   = (*Bot)(nil)
)

// call is one Direct Line request.
type call struct {
	what   string // the operation, for messages: "post activity"
	method string
	path   string // under the endpoint, e.g. "/conversations"
	query  url.Values
	body   any
	bearer string
	// pass lists non-2xx statuses returned to the caller instead of
	// becoming errors.
	pass []int
}

type result struct {
	status int
	body   []byte
}

// resendable reports whether a status is a server error worth resending:
// 429 and 5xx except 501, 502 and 505.
func resendable(status int) bool {
	switch status {
	case http.StatusTooManyRequests:
		return true
	case http.StatusNotImplemented, http.StatusBadGateway, http.StatusHTTPVersionNotSupported:
		return false
	}
	return status >= 500
}

// do sends c, resending after transport failures and server errors up to
// MaxResends times. 2xx and the statuses in c.pass come back as a result;
// everything else is a classified *botrelay.VendorError with CodeSendQuery.
func (b *Bot) do(ctx context.Context, c call) (*result, error) {
	var payload []byte
	if c.body != nil {
		var err error
		if payload, err = json.Marshal(c.body); err != nil {
			return nil, vendorErr(botrelay.ErrUnsupported, CodeSendQuery, "%s: encode the request: %v", c.what, err)
		}
	}
	for attempt := 0; ; attempt++ {
		res, err := b.attempt(ctx, c, payload)
		if err == nil {
			return res, nil
		}
		var re *resendErr
		if !errors.As(err, &re) {
			return nil, err
		}
		if attempt >= MaxResends {
			return nil, vendorErr(botrelay.ErrVendorUnavailable, CodeSendQuery, "%s failed %d times; last failure: %s", c.what, attempt+1, re.msg)
		}
		pause := b.resendPauses[min(attempt, len(b.resendPauses)-1)]
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= pause {
			return nil, vendorErr(botrelay.ErrVendorUnavailable, CodeSendQuery, "%s failed (%s) and the deadline leaves no time to resend", c.what, re.msg)
		}
		b.env.Logger.WarnContext(ctx, "direct line request failed; resending", "op", c.what, "attempt", attempt+1, "error", re.msg)
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, vendorErr(botrelay.ErrVendorUnavailable, CodeSendQuery, "%s: %v (last failure: %s)", c.what, ctx.Err(), re.msg)
		case <-t.C:
		}
	}
}

// resendErr is a failure worth resending.
type resendErr struct{ msg string }

func (e *resendErr) Error() string { return e.msg }

func (b *Bot) attempt(ctx context.Context, c call, payload []byte) (*result, error) {
	u := b.cfg.Endpoint + c.path
	if len(c.query) > 0 {
		u += "?" + c.query.Encode()
	}
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, c.method, u, body)
	if err != nil {
		return nil, vendorErr(botrelay.ErrUnsupported, CodeSendQuery, "%s: build the request: %v", c.what, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.bearer)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "botrelay")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := b.env.HTTPClient.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, vendorErr(botrelay.ErrVendorUnavailable, CodeSendQuery, "%s: %v", c.what, ctx.Err())
		}
		return nil, &resendErr{fmt.Sprintf("request failed: %v", redactURL(err))}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, vendorErr(botrelay.ErrVendorUnavailable, CodeSendQuery, "%s: %v", c.what, ctx.Err())
		}
		return nil, &resendErr{fmt.Sprintf("reading the response (HTTP %d) failed: %v", resp.StatusCode, err)}
	}
	if len(data) > maxBody {
		return nil, vendorErr(botrelay.ErrVendorBadReply, CodeParserCrashed, "%s: the response exceeds %d bytes", c.what, maxBody)
	}
	st := resp.StatusCode
	if st >= 200 && st < 300 {
		return &result{status: st, body: data}, nil
	}
	for _, p := range c.pass {
		if st == p {
			return &result{status: st, body: data}, nil
		}
	}
	switch {
	case st == http.StatusUnauthorized || st == http.StatusForbidden:
		return nil, vendorErr(botrelay.ErrVendorAuth, CodeSendQuery, "%s: Direct Line refused the %s (HTTP %d%s)", c.what, b.credentialName(c.bearer), st, errorDetail(data))
	case st == http.StatusBadGateway:
		return nil, vendorErr(botrelay.ErrVendorUnavailable, CodeSendQuery, "%s: HTTP 502: the bot did not acknowledge the activity%s", c.what, errorDetail(data))
	case resendable(st):
		return nil, &resendErr{fmt.Sprintf("HTTP %d%s", st, errorDetail(data))}
	}
	return nil, vendorErr(botrelay.ErrVendorBadReply, CodeSendQuery, "%s: unexpected HTTP %d%s", c.what, st, errorDetail(data))
}

// credentialName says which credential a bearer is, never the value.
func (b *Bot) credentialName(bearer string) string {
	if bearer == b.cfg.Secret {
		return "secret"
	}
	return "conversation token"
}

// redactURL drops the URL from a *url.Error (it may be long; the operation
// names the call already).
func redactURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// errorDetail quotes Direct Line's {"error":{"code","message"}} or the
// start of another body, for error messages.
func errorDetail(body []byte) string {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && (e.Error.Code != "" || e.Error.Message != "") {
		return ": " + strings.TrimSpace(e.Error.Code+" "+strconv.Quote(e.Error.Message))
	}
	return snippet(body)
}

// snippet quotes the start of a body for error messages.
func snippet(body []byte) string {
	s := strings.TrimSpace(string(body))
	if s == "" {
		return ""
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

// conversationInfo is Direct Line's Conversation object (the answer of
// tokens/generate, tokens/refresh, start and reconnect). offline-directline
// spells expires_in as expiresIn.
type conversationInfo struct {
	ConversationID string `json:"conversationId"`
	Token          string `json:"token"`
	ExpiresIn      int64  `json:"expires_in"`
	ExpiresInAlt   int64  `json:"expiresIn"`
	StreamURL      string `json:"streamUrl"`
}

func (ci conversationInfo) expires(now time.Time) int64 {
	secs := ci.ExpiresIn
	if secs == 0 {
		secs = ci.ExpiresInAlt
	}
	if secs <= 0 {
		secs = 1800
	}
	return now.Add(time.Duration(secs) * time.Second).Unix()
}

func (b *Bot) decodeInfo(what string, body []byte) (conversationInfo, error) {
	var ci conversationInfo
	if err := json.Unmarshal(body, &ci); err != nil {
		return ci, vendorErr(botrelay.ErrVendorBadReply, CodeParserCrashed, "%s: the answer is not a Conversation object%s", what, snippet(body))
	}
	return ci, nil
}

// generateToken exchanges the secret for a token bound to a new
// conversation (POST /tokens/generate).
func (b *Bot) generateToken(ctx context.Context, userID string) (conversationInfo, error) {
	res, err := b.do(ctx, call{what: "generate token", method: http.MethodPost, path: "/tokens/generate", bearer: b.cfg.Secret,
		body: map[string]any{"user": map[string]string{"id": userID}}})
	if err != nil {
		return conversationInfo{}, err
	}
	ci, err := b.decodeInfo("generate token", res.body)
	if err == nil && ci.Token == "" {
		err = vendorErr(botrelay.ErrVendorBadReply, CodeParserCrashed, "generate token: the answer has no token")
	}
	return ci, err
}

// refreshToken extends a conversation token (POST /tokens/refresh).
func (b *Bot) refreshToken(ctx context.Context, token string) (conversationInfo, error) {
	res, err := b.do(ctx, call{what: "refresh token", method: http.MethodPost, path: "/tokens/refresh", bearer: token})
	if err != nil {
		return conversationInfo{}, err
	}
	ci, err := b.decodeInfo("refresh token", res.body)
	if err == nil && ci.Token == "" {
		err = vendorErr(botrelay.ErrVendorBadReply, CodeParserCrashed, "refresh token: the answer has no token")
	}
	return ci, err
}

// startConversation starts a Direct Line conversation (POST
// /conversations): 201 for a new one, 200 when the token is bound to one
// already.
func (b *Bot) startConversation(ctx context.Context, bearer string) (conversationInfo, error) {
	res, err := b.do(ctx, call{what: "start conversation", method: http.MethodPost, path: "/conversations", bearer: bearer})
	if err != nil {
		return conversationInfo{}, err
	}
	ci, err := b.decodeInfo("start conversation", res.body)
	if err == nil && ci.ConversationID == "" {
		err = vendorErr(botrelay.ErrVendorBadReply, CodeParserCrashed, "start conversation: the answer has no conversationId%s", snippet(res.body))
	}
	return ci, err
}

// reconnect asks for a new stream URL (GET /conversations/{id}?watermark=).
func (b *Bot) reconnect(ctx context.Context, st *vendorState) (conversationInfo, error) {
	q := url.Values{}
	if st.Watermark != "" {
		q.Set("watermark", st.Watermark)
	}
	res, err := b.do(ctx, call{what: "reconnect", method: http.MethodGet, path: "/conversations/" + url.PathEscape(st.ConversationID), query: q, bearer: b.bearer(st)})
	if err != nil {
		return conversationInfo{}, err
	}
	return b.decodeInfo("reconnect", res.body)
}

// activitySet is Direct Line's ActivitySet; the watermark is a string in
// Direct Line and a number in offline-directline.
type activitySet struct {
	Activities []json.RawMessage `json:"activities"`
	Watermark  json.RawMessage   `json:"watermark"`
}

func (s activitySet) watermark() string {
	w := strings.TrimSpace(string(s.Watermark))
	if w == "" || w == "null" {
		return ""
	}
	var str string
	if json.Unmarshal(s.Watermark, &str) == nil {
		return str
	}
	return w
}

// getActivities polls the activities after the watermark.
func (b *Bot) getActivities(ctx context.Context, st *vendorState) (activitySet, error) {
	q := url.Values{}
	if st.Watermark != "" {
		q.Set("watermark", st.Watermark)
	}
	var set activitySet
	res, err := b.do(ctx, call{what: "get activities", method: http.MethodGet, path: "/conversations/" + url.PathEscape(st.ConversationID) + "/activities", query: q, bearer: b.bearer(st)})
	if err != nil {
		return set, err
	}
	if err := json.Unmarshal(res.body, &set); err != nil {
		return set, vendorErr(botrelay.ErrVendorBadReply, CodeParserCrashed, "get activities: the answer is not an ActivitySet%s", snippet(res.body))
	}
	return set, nil
}

// postActivity posts one activity and returns the id Direct Line gave it.
// 404 comes back as ("", errConversationGone).
func (b *Bot) postActivity(ctx context.Context, st *vendorState, activity json.RawMessage) (string, error) {
	res, err := b.do(ctx, call{what: "post activity", method: http.MethodPost, path: "/conversations/" + url.PathEscape(st.ConversationID) + "/activities",
		body: activity, bearer: b.bearer(st), pass: []int{http.StatusNotFound}})
	if err != nil {
		return "", err
	}
	if res.status == http.StatusNotFound {
		return "", errConversationGone
	}
	var r struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(res.body, &r); err != nil || r.ID == "" {
		return "", vendorErr(botrelay.ErrVendorBadReply, CodeParserCrashed, "post activity: the answer has no activity id%s", snippet(res.body))
	}
	return r.ID, nil
}

var errConversationGone = errors.New("direct line does not know the conversation")

// bearer is the credential for a conversation's calls.
func (b *Bot) bearer(st *vendorState) string {
	if b.cfg.Auth == AuthToken && st.Token != "" {
		return st.Token
	}
	return b.cfg.Secret
}

// CheckHealth implements botrelay.HealthChecker: it proves the secret with
// tokens/generate, or, where Direct Line has no token service (a 404 or
// 405, as offline-directline), by starting a conversation. A refused secret
// is ErrVendorAuth naming the check; the secret itself is never quoted.
func (b *Bot) CheckHealth(ctx context.Context) error {
	res, err := b.do(ctx, call{what: "connection test (generate token)", method: http.MethodPost, path: "/tokens/generate", bearer: b.cfg.Secret,
		body: map[string]any{"user": map[string]string{"id": "botrelay-health-check"}}, pass: []int{http.StatusNotFound, http.StatusMethodNotAllowed}})
	if err != nil {
		return err
	}
	if res.status >= 200 && res.status < 300 {
		return nil
	}
	_, err = b.do(ctx, call{what: "connection test (start conversation)", method: http.MethodPost, path: "/conversations", bearer: b.cfg.Secret})
	return err
}
