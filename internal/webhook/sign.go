package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// The headers of a delivery (docs/webhooks.md).
const (
	// HeaderSignature carries "t=<unix seconds>,v1=<hex>[,v1=<hex>]": one
	// v1 entry per valid secret, each the HMAC-SHA256 of "<t>.<body>".
	HeaderSignature = "Botrelay-Signature"
	// HeaderTimestamp repeats t, the Unix time of the attempt in seconds.
	HeaderTimestamp = "Botrelay-Timestamp"
	// HeaderEventID and HeaderIdempotencyKey carry the event's idempotency
	// key, the same on every attempt.
	HeaderEventID        = "Botrelay-Event-Id"
	HeaderIdempotencyKey = "Idempotency-Key"
	// HeaderEventType is the event kind.
	HeaderEventType = "Botrelay-Event-Type"
	// HeaderDelivery is the delivery's id in the delivery log, and
	// HeaderAttempt the attempt's number, from 1.
	HeaderDelivery = "Botrelay-Delivery-Id"
	HeaderAttempt  = "Botrelay-Attempt"
)

// DefaultTolerance is the replay window receivers should use: a signature
// whose timestamp is further than this from their clock is refused.
const DefaultTolerance = 5 * time.Minute

// Sign returns the signature header value for body sent at t, with one v1
// entry per secret, in the order given.
func Sign(t time.Time, body []byte, secrets ...string) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	var b strings.Builder
	b.WriteString("t=" + ts)
	for _, s := range secrets {
		b.WriteString(",v1=" + mac(s, ts, body))
	}
	return b.String()
}

func mac(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Errors of Verify.
var (
	ErrMalformedSignature = errors.New("webhook: the signature header is malformed")
	ErrStaleSignature     = errors.New("webhook: the signature's timestamp is outside the replay window")
	ErrBadSignature       = errors.New("webhook: no signature matches the secret")
)

// Verify checks a delivery as a receiver does: header is the
// Botrelay-Signature value, body the raw request body, secret the
// subscription's secret. It accepts when the timestamp is within tolerance
// of now and any v1 entry is the HMAC of "<t>.<body>" under secret.
func Verify(header string, body []byte, secret string, tolerance time.Duration, now time.Time) error {
	var ts string
	var sigs []string
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrMalformedSignature
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrMalformedSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrStaleSignature
	}
	want := mac(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(want)) {
			return nil
		}
	}
	return ErrBadSignature
}
