package directline

import (
	"context"
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

// maxBody bounds a stream frame.
const maxBody = kit.MaxBody

// Bot is one configured directline bot. It implements botrelay.VendorBot,
// botrelay.HookableBot and botrelay.HealthChecker and is safe for
// concurrent use: everything per conversation lives in the vendor state.
type Bot struct {
	cfg          Config
	env          botrelay.BotEnv
	resendPauses []time.Duration

	// health is the conversation the connection checks read, so they do
	// not create one each time.
	health struct {
		sync.Mutex
		convID string
	}
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
	h := http.Header{}
	h.Set("Authorization", "Bearer "+c.bearer)
	kc := kit.NewClient(b.env, b.cfg.Secret, c.bearer)
	res, err := kc.Send(ctx, kit.Request{Code: CodeSendQuery, What: c.what, Method: c.method, URL: u, Header: h, Body: payload})
	if err != nil {
		var ve *botrelay.VendorError
		if ctx.Err() != nil || !errors.Is(err, botrelay.ErrVendorUnavailable) || !errors.As(err, &ve) {
			return nil, err
		}
		return nil, &resendErr{strings.TrimPrefix(ve.Message, c.what+": ")}
	}
	st, data := res.Status, res.Body
	if kit.Classify(st) == kit.Success {
		return &result{status: st, body: data}, nil
	}
	for _, p := range c.pass {
		if st == p {
			return &result{status: st, body: data}, nil
		}
	}
	detail := errorDetail(kc, data)
	switch cl := kit.Classify(st); {
	case cl == kit.Auth:
		return nil, vendorErr(botrelay.ErrVendorAuth, CodeSendQuery, "%s: Direct Line refused the %s (HTTP %d%s)", c.what, b.credentialName(c.bearer), st, detail)
	case st == http.StatusBadGateway:
		// The bot did not acknowledge within 15 s: never resent.
		return nil, vendorErr(botrelay.ErrVendorUnavailable, CodeSendQuery, "%s: HTTP 502: the bot did not acknowledge the activity%s", c.what, detail)
	case cl == kit.Unavailable && res.RetryAfter > 0:
		return nil, kc.StatusErrorDetail(CodeSendQuery, c.what, "", res, detail)
	case cl == kit.Unavailable:
		return nil, &resendErr{fmt.Sprintf("HTTP %d%s", st, detail)}
	}
	return nil, vendorErr(botrelay.ErrVendorBadReply, CodeSendQuery, "%s: unexpected HTTP %d%s", c.what, st, detail)
}

// credentialName says which credential a bearer is, never the value.
func (b *Bot) credentialName(bearer string) string {
	if bearer == b.cfg.Secret {
		return "secret"
	}
	return "conversation token"
}

// errorDetail quotes Direct Line's {"error":{"code","message"}} or the
// start of another body, for error messages, with the credentials hidden.
func errorDetail(kc *kit.Client, body []byte) string {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && (e.Error.Code != "" || e.Error.Message != "") {
		return ": " + strings.TrimSpace(e.Error.Code+" "+strconv.Quote(kc.Redact(e.Error.Message)))
	}
	return kc.Snippet(body)
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
		return ci, vendorErr(botrelay.ErrVendorBadReply, CodeParserCrashed, "%s: the answer is not a Conversation object%s", what, kit.Snippet(body))
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
		err = vendorErr(botrelay.ErrVendorBadReply, CodeParserCrashed, "start conversation: the answer has no conversationId%s", kit.Snippet(res.body))
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
		return set, vendorErr(botrelay.ErrVendorBadReply, CodeParserCrashed, "get activities: the answer is not an ActivitySet%s", kit.Snippet(res.body))
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
		return "", vendorErr(botrelay.ErrVendorBadReply, CodeParserCrashed, "post activity: the answer has no activity id%s", kit.Snippet(res.body))
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

// CheckHealth implements botrelay.HealthChecker. The first check proves
// the secret with tokens/generate, or, where Direct Line has no token
// service (a 404 or 405, as offline-directline), by starting a
// conversation; it keeps that conversation's id. Later checks (the Vendor
// Interruption check runs every 60 s) only read that conversation (GET
// /conversations/{id}), so they create nothing; when Direct Line no longer
// knows it (404), the next check makes one again. A refused secret is
// ErrVendorAuth naming the check; the secret itself is never quoted.
func (b *Bot) CheckHealth(ctx context.Context) error {
	b.health.Lock()
	defer b.health.Unlock()
	if id := b.health.convID; id != "" {
		res, err := b.do(ctx, call{what: "connection test (read conversation)", method: http.MethodGet, path: "/conversations/" + url.PathEscape(id),
			bearer: b.cfg.Secret, pass: []int{http.StatusNotFound}})
		if err != nil {
			return err
		}
		if res.status != http.StatusNotFound {
			return nil
		}
		b.health.convID = ""
	}
	res, err := b.do(ctx, call{what: "connection test (generate token)", method: http.MethodPost, path: "/tokens/generate", bearer: b.cfg.Secret,
		body: map[string]any{"user": map[string]string{"id": "botrelay-health-check"}}, pass: []int{http.StatusNotFound, http.StatusMethodNotAllowed}})
	if err != nil {
		return err
	}
	if kit.Classify(res.status) != kit.Success {
		if res, err = b.do(ctx, call{what: "connection test (start conversation)", method: http.MethodPost, path: "/conversations", bearer: b.cfg.Secret}); err != nil {
			return err
		}
	}
	var ci conversationInfo
	if json.Unmarshal(res.body, &ci) == nil {
		b.health.convID = ci.ConversationID
	}
	return nil
}
