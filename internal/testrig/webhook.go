package testrig

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Hook is one delivery a WebhookReceiver accepted.
type Hook struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	AccountID string          `json:"accountId"`
	CreatedAt time.Time       `json:"createdAt"`
	Data      json.RawMessage `json:"data"`
	// Matched lists the receiver's secrets whose signature the delivery
	// carried, by index in Secrets.
	Matched []int `json:"-"`
	Attempt int   `json:"-"`
	// Body and Signature are the raw body and Botrelay-Signature header.
	Body      []byte `json:"-"`
	Signature string `json:"-"`
}

// WebhookReceiver is a webhook endpoint written from docs/webhooks.md
// alone: it checks the Botrelay-Signature header of every delivery
// ("t=<unix>,v1=<hex HMAC-SHA256 of t.body>"...) against its secrets and a
// 5-minute replay window, answers 400 to a delivery it cannot verify, 503
// while Down, and records what it accepted.
type WebhookReceiver struct {
	t    testing.TB
	URL  string
	addr string
	mu   sync.Mutex
	srv  *http.Server
	// secrets are tried in order; set with SetSecrets.
	secrets  []string
	down     bool
	accepted []*Hook
	rejected int
	refused  int // answered 503 while down
}

// NewWebhookReceiver serves a receiver on loopback until the test ends.
func NewWebhookReceiver(t testing.TB) *WebhookReceiver {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &WebhookReceiver{t: t, addr: ln.Addr().String(), URL: "http://" + ln.Addr().String() + "/hook"}
	r.serve(ln)
	t.Cleanup(r.Close)
	return r
}

func (r *WebhookReceiver) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(r.handle)}
	r.mu.Lock()
	r.srv = srv
	r.mu.Unlock()
	go srv.Serve(ln)
}

// SetSecrets replaces the secrets deliveries are checked with.
func (r *WebhookReceiver) SetSecrets(secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secrets = secrets
}

// SetDown makes the receiver answer 503 (true) or accept again (false).
func (r *WebhookReceiver) SetDown(down bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.down = down
}

// Close stops listening, so deliveries find nothing at the address.
func (r *WebhookReceiver) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.srv != nil {
		r.srv.Close()
		r.srv = nil
	}
}

// Reopen listens again on the same address.
func (r *WebhookReceiver) Reopen() {
	var ln net.Listener
	Eventually(r.t, 10*time.Second, "the receiver's address to be free", func() bool {
		var err error
		ln, err = net.Listen("tcp", r.addr)
		return err == nil
	})
	r.serve(ln)
}

func (r *WebhookReceiver) handle(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		r.refused++
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	matched, ok := checkSignature(req.Header.Get("Botrelay-Signature"), body, r.secrets, time.Now())
	var h Hook
	if !ok || req.Method != http.MethodPost || json.Unmarshal(body, &h) != nil || h.ID == "" ||
		req.Header.Get("Idempotency-Key") != h.ID || req.Header.Get("Botrelay-Event-Type") != h.Type {
		r.rejected++
		http.Error(w, "bad signature or body", http.StatusBadRequest)
		return
	}
	h.Matched = matched
	h.Attempt, _ = strconv.Atoi(req.Header.Get("Botrelay-Attempt"))
	h.Body, h.Signature = body, req.Header.Get("Botrelay-Signature")
	r.accepted = append(r.accepted, &h)
	w.WriteHeader(http.StatusNoContent)
}

// checkSignature verifies header over body: the timestamp within 5
// minutes of now, and some v1 entry equal to HMAC-SHA256(secret, t.body)
// for at least one secret. It returns the indexes of the secrets that
// matched.
func checkSignature(header string, body []byte, secrets []string, now time.Time) ([]int, bool) {
	var ts string
	var sigs []string
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || now.Sub(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return nil, false
	}
	var matched []int
	for i, secret := range secrets {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(ts + "."))
		m.Write(body)
		want := hex.EncodeToString(m.Sum(nil))
		for _, s := range sigs {
			if hmac.Equal([]byte(s), []byte(want)) {
				matched = append(matched, i)
				break
			}
		}
	}
	return matched, len(matched) > 0
}

// Accepted returns the deliveries accepted so far, in arrival order.
func (r *WebhookReceiver) Accepted() []*Hook {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*Hook(nil), r.accepted...)
}

// Rejected returns how many deliveries failed verification, and how many
// were refused with 503 while down.
func (r *WebhookReceiver) Rejected() (badSignature, refused int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rejected, r.refused
}

// WaitFor waits until an accepted delivery satisfies match and returns it.
func (r *WebhookReceiver) WaitFor(d time.Duration, what string, match func(*Hook) bool) *Hook {
	r.t.Helper()
	var found *Hook
	Eventually(r.t, d, what, func() bool {
		for _, h := range r.Accepted() {
			if match(h) {
				found = h
				return true
			}
		}
		return false
	})
	return found
}
