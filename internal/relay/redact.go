package relay

import "github.com/botrelay/botrelay/connectors/kit"

// Redact blanks out every secret value in text (sealed.Secrets.Values
// lists them; the connector kit's redaction, base64 forms included).
func Redact(text string, secrets []string) string { return kit.Redact(text, secrets...) }
