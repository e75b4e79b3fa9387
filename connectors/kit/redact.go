package kit

import (
	"encoding/base64"
	"sort"
	"strings"
)

// Redacted is what Redact puts in place of a secret.
const Redacted = "[redacted]"

// minSecret is the shortest value Redact blanks out: shorter ones are no
// secret worth hiding and replacing them would garble the text.
const minSecret = 4

// Redact blanks out every secret in s, longest first. A Basic credential
// ("id:secret" base64-encoded) is not a plain encoding of the secret, so
// base64 runs in s are decoded and checked too. It is the one redaction
// of vendor answers, error messages and logged bodies.
func Redact(s string, secrets ...string) string {
	var list []string
	for _, v := range secrets {
		if len(v) >= minSecret {
			list = append(list, v)
		}
	}
	if len(list) == 0 || s == "" {
		return s
	}
	sort.Slice(list, func(i, j int) bool { return len(list[i]) > len(list[j]) })
	for _, v := range list {
		s = strings.ReplaceAll(s, v, Redacted)
	}
	return redactBase64Runs(s, list)
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
			b.WriteString(Redacted)
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
