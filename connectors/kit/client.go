package kit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"time"

	"github.com/botrelay/botrelay"
)

// MaxBody bounds a vendor response body unless a Client sets its own.
const MaxBody = 4 << 20

// MaxThrottleWaits is how many times one Send waits out a Retry-After
// and sends again.
const MaxThrottleWaits = 2

// Client sends vendor requests. The zero value is not usable: HTTP is
// required; Now and Logger default to time.Now and a discarding logger.
type Client struct {
	HTTP   *http.Client
	Now    func() time.Time
	Logger *slog.Logger
	// Secrets are hidden ([redacted]) in every message Send and
	// StatusError build.
	Secrets []string
	// MaxBody bounds a response body; 0 is MaxBody.
	MaxBody int64
}

// NewClient returns a Client for a bot's environment.
func NewClient(env botrelay.BotEnv, secrets ...string) *Client {
	return &Client{HTTP: env.HTTPClient, Now: env.Now, Logger: env.Logger, Secrets: secrets}
}

// Request is one vendor request.
type Request struct {
	// Code is the error-log code of a failure; What names the operation
	// in messages ("send the message").
	Code, What string
	Method     string
	URL        string
	Header     http.Header
	// Body is sent as is (it is sent again after a Retry-After wait).
	Body []byte
	// OwnRetries: the caller pauses and retries by its own policy (Custom
	// Endpoint, F42), so Send does not wait out a Retry-After; it returns
	// it in Response.RetryAfter.
	OwnRetries bool
	// Prepare, when set, finishes each HTTP request just before it is
	// sent (AWS signs it); its error is returned as is.
	Prepare func(*http.Request) error
}

// Response is a vendor answer of any status.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	// RetryAfter is the wait a 429 or 503 asked for that the call's
	// deadline left no time for (0 when none).
	RetryAfter time.Duration
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Send makes the request and returns the answer, whatever its status.
// A request that fails on a reused keep-alive connection (the vendor
// restarted and dropped it) is sent again at once, on a new connection,
// with no pause.
// A 429 or 503 with Retry-After is waited out and sent again (at most
// MaxThrottleWaits times) when ctx's deadline leaves time for the wait;
// otherwise the answer comes back with RetryAfter set. Transport failures
// and cancellation are ErrVendorUnavailable, a body over MaxBody
// ErrVendorBadReply, all with r.Code and no URL or secret in the message.
func (c *Client) Send(ctx context.Context, r Request) (*Response, error) {
	stale := false
	for waits := 0; ; waits++ {
		res, reused, err := c.sendOnce(ctx, r)
		if err != nil {
			if reused && !stale && ctx.Err() == nil && errors.Is(err, botrelay.ErrVendorUnavailable) {
				stale = true
				c.logger().InfoContext(ctx, "a kept-alive connection to the vendor failed; sending again on a new one", "op", r.What, "err", err)
				waits--
				continue
			}
			return nil, err
		}
		if res.Status != http.StatusTooManyRequests && res.Status != http.StatusServiceUnavailable {
			return res, nil
		}
		d := RetryAfter(res.Header.Get("Retry-After"), c.now())
		if d <= 0 {
			return res, nil
		}
		if dl, ok := ctx.Deadline(); r.OwnRetries || waits >= MaxThrottleWaits || (ok && time.Until(dl) <= d) {
			res.RetryAfter = d
			return res, nil
		}
		c.logger().InfoContext(ctx, "vendor asked to wait; sending again after Retry-After", "op", r.What, "status", res.Status, "wait", d)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, botrelay.NewVendorError(botrelay.ErrVendorUnavailable, r.Code, "%s: %v while waiting %v (Retry-After)", r.What, ctx.Err(), d)
		case <-t.C:
		}
	}
}

// sendOnce makes one HTTP request; reused reports that it went over a
// kept-alive connection.
func (c *Client) sendOnce(ctx context.Context, r Request) (res *Response, reused bool, err error) {
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), r.Method, r.URL, body)
	if err != nil {
		return nil, false, botrelay.NewVendorError(botrelay.ErrVendorBadReply, r.Code, "%s: build the request: %s", r.What, c.Redact(TransportCause(err).Error()))
	}
	for k, v := range r.Header {
		req.Header[k] = v
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "botrelay")
	}
	if r.Body != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.Prepare != nil {
		if err := r.Prepare(req); err != nil {
			return nil, false, err
		}
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, reused, botrelay.NewVendorError(botrelay.ErrVendorUnavailable, r.Code, "%s: no answer in time: %v", r.What, ctx.Err())
		}
		return nil, reused, botrelay.NewVendorError(botrelay.ErrVendorUnavailable, r.Code, "%s: request to %s failed: %s", r.What, req.URL.Host, c.Redact(TransportCause(err).Error()))
	}
	defer resp.Body.Close()
	limit := c.MaxBody
	if limit <= 0 {
		limit = MaxBody
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, false, botrelay.NewVendorError(botrelay.ErrVendorUnavailable, r.Code, "%s: no answer in time: %v", r.What, ctx.Err())
		}
		return nil, false, botrelay.NewVendorError(botrelay.ErrVendorUnavailable, r.Code, "%s: reading the answer (HTTP %d) failed: %s", r.What, resp.StatusCode, c.Redact(TransportCause(err).Error()))
	}
	if int64(len(data)) > limit {
		return nil, false, botrelay.NewVendorError(botrelay.ErrVendorBadReply, r.Code, "%s: the answer is larger than %d bytes", r.What, limit)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: data}, reused, nil
}

// Redact hides the client's secrets in s.
func (c *Client) Redact(s string) string { return Redact(s, c.Secrets...) }

// Snippet quotes a body with the client's secrets hidden.
func (c *Client) Snippet(body []byte) string { return Snippet(body, c.Secrets...) }

// StatusError is nil for a 2xx answer and otherwise the classified error:
// "<what>: HTTP <status>: <snippet>", with authHint (e.g. "Watson refused
// the IAM token") before the status on 401 and 403, and the Retry-After
// that did not fit noted. The class is Classify's; the code is code.
func (c *Client) StatusError(code, what, authHint string, res *Response) error {
	return c.StatusErrorDetail(code, what, authHint, res, c.Snippet(res.Body))
}

// StatusErrorDetail is StatusError with the vendor's own reading of the
// error body (its detail must be redacted already; "" for none).
func (c *Client) StatusErrorDetail(code, what, authHint string, res *Response, detail string) error {
	cl := Classify(res.Status)
	if cl == Success {
		return nil
	}
	msg := fmt.Sprintf("HTTP %d%s", res.Status, detail)
	if cl == Auth && authHint != "" {
		msg = authHint + " (" + msg + ")"
	}
	if res.RetryAfter > 0 {
		msg += fmt.Sprintf(" (the vendor asked to wait %v, more than the time left)", res.RetryAfter)
	}
	ve := botrelay.NewVendorError(cl.Err(), code, "%s: %s", what, msg)
	ve.RetryAfter = res.RetryAfter
	return ve
}

// RetryAfter parses a Retry-After header: seconds or an HTTP date; 0 for
// none or nonsense.
func RetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// Clean returns err with the client's secrets hidden in its message: for
// errors built outside the client (a reply parser quoting the answer).
func (c *Client) Clean(err error) error { return Clean(err, c.Secrets...) }

// Clean returns err with every secret hidden in its message; a
// *botrelay.VendorError keeps its class, code and Retry-After.
func Clean(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	var ve *botrelay.VendorError
	if errors.As(err, &ve) {
		msg := Redact(ve.Message, secrets...)
		if msg == ve.Message {
			return err
		}
		out := *ve
		out.Message = msg
		return &out
	}
	if msg := Redact(err.Error(), secrets...); msg != err.Error() {
		return errors.New(msg)
	}
	return err
}
