package relay

import (
	"encoding/base64"
	"sort"

	"github.com/botrelay/botrelay/connectors/kit"
)

// minRedacted is the shortest secret value Redact blanks out; shorter ones
// would blank out ordinary words.
const minRedacted = 6

// Values lists the secret strings of s, and their base64 forms (as Basic
// auth or a token endpoint would carry them), for Redact: what a vendor
// echoes back in an error must not reach the error log, the state history
// or a log line.
func (s *Secrets) Values() []string {
	var out []string
	add := func(v string) {
		if len(v) >= minRedacted {
			out = append(out, v, base64.StdEncoding.EncodeToString([]byte(v)), base64.RawURLEncoding.EncodeToString([]byte(v)))
		}
	}
	for _, v := range s.Vendor {
		if str, ok := v.(string); ok {
			add(str)
		}
	}
	add(s.APIKey.Secret)
	add(s.APIKey.AccessTokenSecret)
	// Longest first, so that a secret containing another is blanked whole.
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// Redact blanks out every secret value in text (the connector kit's
// redaction, base64 forms included).
func Redact(text string, secrets []string) string { return kit.Redact(text, secrets...) }
