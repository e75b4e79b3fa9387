// Package kit is what every HTTP vendor connector shares: the
// classification of HTTP statuses into the botrelay error classes, the
// wait a 429 with Retry-After asks for, the redaction of secrets and the
// body snippets of error messages, and the Converse that runs a hookable
// bot's three steps. Each exists here once; connectors keep their wire
// formats, flows and error codes.
package kit

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/botrelay/botrelay"
)

// Class is what an HTTP status means for a vendor call.
type Class int

// The status classes.
const (
	// Success: 2xx.
	Success Class = iota
	// Auth: 401 and 403, the vendor refused the credentials.
	Auth
	// Unavailable: 408, 429 and 5xx except 501 and 505, worth another
	// try (F42).
	Unavailable
	// Refused: every other status, the vendor refused the request.
	Refused
)

// Classify returns the class of an HTTP status.
func Classify(status int) Class {
	switch {
	case status >= 200 && status <= 299:
		return Success
	case status == 401 || status == 403:
		return Auth
	case status == 408 || status == 429:
		return Unavailable
	case status == 501 || status == 505:
		return Refused
	case status >= 500 && status <= 599:
		return Unavailable
	}
	return Refused
}

// Err returns the botrelay error class of a status class: ErrVendorAuth,
// ErrVendorUnavailable or ErrVendorBadReply (nil for Success).
func (c Class) Err() error {
	switch c {
	case Success:
		return nil
	case Auth:
		return botrelay.ErrVendorAuth
	case Unavailable:
		return botrelay.ErrVendorUnavailable
	}
	return botrelay.ErrVendorBadReply
}

// SnippetLen is how many bytes of a body an error message quotes.
const SnippetLen = 200

// Snippet quotes the start of a response body for an error message, as
// `: "…"` (empty for an empty body), with every secret redacted first.
func Snippet(body []byte, secrets ...string) string {
	return Quote(string(body), secrets...)
}

// Quote is Snippet for a string.
func Quote(s string, secrets ...string) string {
	s = strings.TrimSpace(Redact(s, secrets...))
	if s == "" {
		return ""
	}
	if len(s) > SnippetLen {
		cut := SnippetLen
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return ": " + strconv.Quote(s)
}

// TransportCause drops the URL from a *url.Error: URLs may carry
// credentials in their query, and messages name the operation already.
func TransportCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Exchanger is a vendor bot split in the three steps hooks go between
// (botrelay.HookableBot without HookInfo).
type Exchanger interface {
	BuildRequest(ctx context.Context, t *botrelay.Turn) (json.RawMessage, error)
	Exchange(ctx context.Context, t *botrelay.Turn, req json.RawMessage) (resp, vendorState json.RawMessage, err error)
	ParseResponse(ctx context.Context, t *botrelay.Turn, resp json.RawMessage) (*botrelay.Reply, error)
}

// Converse is a hookable bot's Converse: BuildRequest, Exchange and
// ParseResponse in a row, the vendor state of the exchange kept unless the
// parsed reply sets its own — what the relay does with hooks, without
// them. The secrets are hidden in its error (a parser quoting an answer
// that echoed a credential).
func Converse(ctx context.Context, b Exchanger, t *botrelay.Turn, secrets ...string) (*botrelay.Reply, error) {
	req, err := b.BuildRequest(ctx, t)
	if err != nil {
		return nil, Clean(err, secrets...)
	}
	resp, state, err := b.Exchange(ctx, t, req)
	if err != nil {
		return nil, Clean(err, secrets...)
	}
	reply, err := b.ParseResponse(ctx, t, resp)
	if err != nil {
		return nil, Clean(err, secrets...)
	}
	if reply == nil {
		reply = &botrelay.Reply{}
	}
	if reply.VendorState == nil {
		reply.VendorState = state
	}
	return reply, nil
}
