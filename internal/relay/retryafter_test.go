package relay_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/rasa"
	"github.com/botrelay/botrelay/internal/testrig"
)

// TestF42_RetryAfterBeyondTheTimeoutIsNotRetried (issue 15, point 6): a
// vendor that answers 429 with a Retry-After longer than the bot's vendor
// timeout is called once: the connector does not wait past the timeout,
// the relay does not call sooner than asked, and the conversation is
// escalated at once.
func TestF42_RetryAfterBeyondTheTimeoutIsNotRetried(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			io.WriteString(w, "Hello from Rasa: 3.6.20")
			return
		}
		calls.Add(1)
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	t.Cleanup(srv.Close)
	r := testrig.NewRig(t, testrig.RigOptions{Vendors: []botrelay.VendorConnector{rasa.Connector{}}})
	b := r.AddBot("throttled", testrig.BotOptions{Vendor: rasa.VendorID, Settings: map[string]any{"baseUrl": srv.URL},
		Edit: func(b *botrelay.Bot) { b.Settings.Limits.VendorTimeoutSeconds = 5 }})
	r.Start(b, botrelay.BotOnline)
	c := testrig.NewConsumer(t, r.URL, "1000")
	c.Open("bot")
	start := time.Now()
	c.Say("hello")
	c.WaitTexts(15*time.Second, "Let me get you a human.")
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("escalated after %v; a Retry-After beyond the timeout should end the call at once", took)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("the vendor was called %d times; want once (it asked for 120 s)", n)
	}
}
