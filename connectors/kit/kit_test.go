package kit

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
)

func TestClassify(t *testing.T) {
	want := map[int]Class{200: Success, 204: Success, 299: Success, 400: Refused, 401: Auth, 403: Auth, 404: Refused,
		408: Unavailable, 409: Refused, 429: Unavailable, 500: Unavailable, 501: Refused, 502: Unavailable,
		503: Unavailable, 504: Unavailable, 505: Refused, 599: Unavailable, 302: Refused}
	for st, c := range want {
		if got := Classify(st); got != c {
			t.Errorf("Classify(%d) = %v, want %v", st, got, c)
		}
	}
	if !errors.Is(Unavailable.Err(), botrelay.ErrVendorUnavailable) || !errors.Is(Auth.Err(), botrelay.ErrVendorAuth) ||
		!errors.Is(Refused.Err(), botrelay.ErrVendorBadReply) || Success.Err() != nil {
		t.Error("Class.Err maps to the wrong botrelay classes")
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	cases := map[string]time.Duration{"": 0, "3": 3 * time.Second, " 120 ": 2 * time.Minute, "0": 0, "-5": 0, "soon": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second, now.Add(-time.Minute).Format(http.TimeFormat): 0}
	for in, want := range cases {
		if got := RetryAfter(in, now); got != want {
			t.Errorf("RetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestRedactAndSnippet(t *testing.T) {
	secret := "pa55word-xyz"
	basic := base64.StdEncoding.EncodeToString([]byte("user:" + secret))
	got := Redact("key="+secret+" auth=Basic "+basic+" short=abc", secret, "abc")
	if strings.Contains(got, secret) || strings.Contains(got, basic) || !strings.Contains(got, "short=abc") {
		t.Fatalf("Redact = %q", got)
	}
	if Snippet(nil) != "" || Snippet([]byte("  ")) != "" {
		t.Error("an empty body gives a snippet")
	}
	long := strings.Repeat("é", 150) // 300 bytes
	s := Snippet([]byte(long+secret), secret)
	if !strings.HasPrefix(s, `: "`) || !strings.HasSuffix(s, `…"`) || strings.Contains(s, secret) || !strings.Contains(s, "é") {
		t.Fatalf("Snippet = %q", s)
	}
	if strings.Contains(s, "\\x") || strings.Contains(s, "\\u") {
		t.Fatalf("Snippet cut a character in two: %q", s)
	}
	ve := botrelay.NewVendorError(botrelay.ErrVendorBadReply, "aivendor.x.y", "answer %s", secret)
	ve.RetryAfter = time.Second
	var out *botrelay.VendorError
	if err := Clean(ve, secret); !errors.As(err, &out) || strings.Contains(out.Message, secret) || out.Code != "aivendor.x.y" || out.RetryAfter != time.Second || !errors.Is(err, botrelay.ErrVendorBadReply) {
		t.Fatalf("Clean = %#v", err)
	}
}

// TestSendRetryAfter: a 429 with Retry-After is waited out when the
// deadline allows; otherwise it comes back at once with RetryAfter set and
// StatusError carries it.
func TestSendRetryAfter(t *testing.T) {
	var n atomic.Int32
	var first, second atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1:
			first.Store(time.Now().UnixNano())
			w.Header().Set("Retry-After", r.URL.Query().Get("ra"))
			w.WriteHeader(429)
		default:
			second.Store(time.Now().UnixNano())
			w.Write([]byte(`{"ok":true}`))
		}
	}))
	defer srv.Close()
	c := &Client{HTTP: srv.Client()}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := c.Send(ctx, Request{Code: "aivendor.x.send", What: "send", Method: "GET", URL: srv.URL + "?ra=1"})
	if err != nil || res.Status != 200 {
		t.Fatalf("Send = %+v, %v", res, err)
	}
	if gap := time.Duration(second.Load() - first.Load()); gap < time.Second {
		t.Fatalf("sent again %v after Retry-After: 1", gap)
	}

	n.Store(0)
	start := time.Now()
	res, err = c.Send(ctx, Request{Code: "aivendor.x.send", What: "send", Method: "GET", URL: srv.URL + "?ra=60"})
	if err != nil || res.Status != 429 || res.RetryAfter != time.Minute || time.Since(start) > time.Second {
		t.Fatalf("Send beyond the deadline = %+v, %v after %v", res, err, time.Since(start))
	}
	var ve *botrelay.VendorError
	if err := c.StatusError("aivendor.x.send", "send", "", res); !errors.As(err, &ve) || ve.RetryAfter != time.Minute || !errors.Is(err, botrelay.ErrVendorUnavailable) {
		t.Fatalf("StatusError = %v", err)
	}

	n.Store(0)
	res, err = c.Send(ctx, Request{Code: "aivendor.x.send", What: "send", Method: "GET", URL: srv.URL + "?ra=1", OwnRetries: true})
	if err != nil || res.Status != 429 || res.RetryAfter != time.Second || n.Load() != 1 {
		t.Fatalf("Send with OwnRetries = %+v, %v (%d requests)", res, err, n.Load())
	}
}
