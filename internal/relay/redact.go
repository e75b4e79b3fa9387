package relay

import (
	"encoding/base64"
	"sort"
	"strings"
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

// Redact blanks out every secret value in text. A Basic credential
// ("id:secret" base64-encoded) is not a plain encoding of the secret, so
// base64 runs in text are decoded and checked too.
func Redact(text string, secrets []string) string {
	if len(secrets) == 0 || text == "" {
		return text
	}
	for _, s := range secrets {
		text = strings.ReplaceAll(text, s, "[redacted]")
	}
	return redactBase64Runs(text, secrets)
}

// redactBase64Runs blanks out base64 words of text whose decoded bytes
// contain a secret.
func redactBase64Runs(text string, secrets []string) string {
	isB64 := func(r rune) bool {
		return r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '+' || r == '/' || r == '=' || r == '-' || r == '_'
	}
	var b strings.Builder
	for i := 0; i < len(text); {
		j := i
		for j < len(text) && isB64(rune(text[j])) {
			j++
		}
		if j == i {
			b.WriteByte(text[i])
			i++
			continue
		}
		word := text[i:j]
		if len(word) >= 8 && decodedHasSecret(word, secrets) {
			b.WriteString("[redacted]")
		} else {
			b.WriteString(word)
		}
		i = j
	}
	return b.String()
}

func decodedHasSecret(word string, secrets []string) bool {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		dec, err := enc.DecodeString(word)
		if err != nil {
			continue
		}
		for _, s := range secrets {
			if strings.Contains(string(dec), s) {
				return true
			}
		}
	}
	return false
}
