package relay

import (
	"encoding/base64"
	"testing"

	"github.com/botrelay/botrelay/internal/sealed"
)

func TestRedact(t *testing.T) {
	sec := &sealed.Secrets{Vendor: map[string]any{"apiKey": "sk-live-123456", "short": "abc", "n": 42.0}}
	sec.APIKey.Secret = "key-set-secret-99"
	vals := sec.Values()
	basic := base64.StdEncoding.EncodeToString([]byte("client-id:sk-live-123456"))
	for _, tc := range []struct{ in, want string }{
		{"401: bad key sk-live-123456 given", "401: bad key [redacted] given"},
		{"echo: Basic " + basic + " grant_type=x", "echo: Basic [redacted] grant_type=x"},
		{"token " + base64.StdEncoding.EncodeToString([]byte("sk-live-123456")), "token [redacted]"},
		{"sk-live-123456sk-live-123456", "[redacted][redacted]"},
		{"abc is too short to redact; key-set-secret-99 is not", "abc is too short to redact; [redacted] is not"},
		{"nothing secret here: aGVsbG8gd29ybGQ=", "nothing secret here: aGVsbG8gd29ybGQ="},
	} {
		if got := Redact(tc.in, vals); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := Redact("sk-live-123456", nil); got != "sk-live-123456" {
		t.Errorf("without secrets: %q", got)
	}
	for _, v := range vals {
		if v == "abc" {
			t.Error("a value shorter than minRedacted is listed")
		}
	}
}
