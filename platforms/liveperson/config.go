// Package liveperson is botrelay's platform adapter: a bot user's session
// on a messaging platform that speaks LivePerson's agent protocol. It works
// against the embedded hub and against a real LivePerson account alike:
//
//  1. domain lookup (CSDS): GET /api/account/{account}/service/baseURI.json
//     names the hosts of the login service (agentVep), the messaging
//     websocket (asyncMessagingEnt) and, on LivePerson, the account
//     configuration API (accountConfigReadOnly);
//  2. API-key login: POST https://{agentVep}/api/account/{account}/login?v=1.3
//     gives a bearer token, a CSRF token and a Session_id cookie; the session
//     is refreshed every RefreshInterval;
//  3. the UMS websocket wss://{asyncMessagingEnt}/ws_api/account/{account}/
//     messaging/brand/{bearer}?v=2.1 carries JSON request, response and
//     notification frames: the adapter sets the agent ONLINE, subscribes to
//     routing tasks and to its conversations, accepts rings, translates
//     notifications into botrelay.PlatformEvents and sends the bot's
//     messages and actions.
//
// docs/platforms/liveperson.md describes the settings and the limits.
package liveperson

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/botrelay/botrelay"
)

// DefaultCSDSDomain is LivePerson's domain lookup host.
const DefaultCSDSDomain = "adminlogin.liveperson.net"

// Config is one bot user's connection settings. Every field except
// CSDSDomain is required: the adapter logs in with an API key only.
//
// Config's String, GoString and LogValue hide the secret values, so printing
// or logging a Config does not leak them.
type Config struct {
	// Account is the account (site) id, e.g. "1000" for a default hub.
	Account string `json:"account"`
	// CSDSDomain is where the domain lookup lives: "host[:port]" (HTTPS, the
	// only form LivePerson uses; default DefaultCSDSDomain) or a URL
	// "https://host[:port]" or "http://host[:port]". The scheme chosen here
	// applies to every host the lookup returns: "http://" makes the adapter
	// use plain http:// and ws:// throughout, which only a hub served
	// without TLS needs.
	CSDSDomain string `json:"csdsDomain,omitempty"`
	// Username is the bot user's login name.
	Username string `json:"username"`
	// AppKey, Secret, AccessToken and AccessTokenSecret are the user's API
	// key set.
	AppKey            string `json:"appKey"`
	Secret            string `json:"secret"`
	AccessToken       string `json:"accessToken"`
	AccessTokenSecret string `json:"accessTokenSecret"`
}

// String describes c without its secret and access token secret.
func (c Config) String() string {
	return fmt.Sprintf("liveperson.Config{Account:%q CSDSDomain:%q Username:%q AppKey:%q Secret:%s AccessToken:%q AccessTokenSecret:%s}",
		c.Account, c.CSDSDomain, c.Username, c.AppKey, hidden(c.Secret), c.AccessToken, hidden(c.AccessTokenSecret))
}

// GoString is String, for %#v.
func (c Config) GoString() string { return c.String() }

// LogValue implements slog.LogValuer without the secrets.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(slog.String("account", c.Account), slog.String("csdsDomain", c.CSDSDomain),
		slog.String("username", c.Username), slog.String("appKey", c.AppKey), slog.String("secret", hidden(c.Secret)),
		slog.String("accessToken", c.AccessToken), slog.String("accessTokenSecret", hidden(c.AccessTokenSecret)))
}

func hidden(s string) string {
	if s == "" {
		return `""`
	}
	return "***"
}

// RingPolicy says who accepts the rings that routing offers the bot.
type RingPolicy int

// The ring policies.
const (
	// RingAcceptAuto (the default): the adapter accepts every ring offered
	// to the bot itself, as bots do (F33), and delivers no EventRing; the
	// relay learns of the conversation through EventAssigned.
	RingAcceptAuto RingPolicy = iota
	// RingAcceptManual: the adapter delivers EventRing and the relay calls
	// Accept for the rings it wants.
	RingAcceptManual
)

// Options tune an Adapter. Zero values get the documented defaults.
type Options struct {
	// HTTPClient makes the HTTP calls and the websocket handshake; set its
	// Transport's TLSClientConfig.RootCAs to trust a private CA (a hub
	// started with --tls-self-signed). Default: http.DefaultClient. The
	// adapter keeps its own cookies; the client's Jar is not used.
	HTTPClient *http.Client
	// Logger receives the session's log lines. Default: slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default: time.Now.
	Now func() time.Time
	// RequestTimeout bounds each HTTP call and each websocket request
	// (default 10 s).
	RequestTimeout time.Duration
	// RefreshInterval is how often the login session is refreshed
	// (default 10 min).
	RefreshInterval time.Duration
	// PingInterval is how often the adapter sends .GetClock to keep the
	// websocket alive and to notice a dead one (default 30 s).
	PingInterval time.Duration
	// ReconnectMin and ReconnectMax bound the jittered, doubling wait
	// between reconnection attempts (defaults 1 s and 30 s).
	ReconnectMin time.Duration
	ReconnectMax time.Duration
	// RingAccept is the ring policy (default RingAcceptAuto).
	RingAccept RingPolicy
	// SurveyBot makes the adapter report a post-conversation survey dialog
	// that opens on a conversation assigned to the bot as
	// EventSurveyStarted. When false (an agent bot), a conversation whose
	// main dialog closed into a survey dialog is reported as
	// EventUnassigned: the bot no longer serves it.
	SurveyBot bool
}

func (o *Options) defaults() {
	if o.HTTPClient == nil {
		o.HTTPClient = http.DefaultClient
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 10 * time.Second
	}
	if o.RefreshInterval <= 0 {
		o.RefreshInterval = 10 * time.Minute
	}
	if o.PingInterval <= 0 {
		o.PingInterval = 30 * time.Second
	}
	if o.ReconnectMin <= 0 {
		o.ReconnectMin = time.Second
	}
	if o.ReconnectMax <= 0 {
		o.ReconnectMax = 30 * time.Second
	}
	if o.ReconnectMax < o.ReconnectMin {
		o.ReconnectMax = o.ReconnectMin
	}
}

// endpoint is the parsed CSDSDomain: the host and whether TLS is used.
type endpoint struct {
	host   string
	secure bool
}

func (e endpoint) httpURL(host, path string, query string) string {
	u := url.URL{Scheme: "https", Host: host, Path: path, RawQuery: query}
	if !e.secure {
		u.Scheme = "http"
	}
	return u.String()
}

func (e endpoint) wsURL(host, path string, query string) string {
	u := url.URL{Scheme: "wss", Host: host, Path: path, RawQuery: query}
	if !e.secure {
		u.Scheme = "ws"
	}
	return u.String()
}

func parseDomain(s string) (endpoint, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return endpoint{host: DefaultCSDSDomain, secure: true}, nil
	}
	if !strings.Contains(s, "://") {
		if strings.ContainsAny(s, "/?#@ ") {
			return endpoint{}, fmt.Errorf("must be host[:port] or an http(s) URL")
		}
		return endpoint{host: s, secure: true}, nil
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return endpoint{}, fmt.Errorf("must be host[:port] or an http(s) URL without a path")
	}
	switch u.Scheme {
	case "https":
		return endpoint{host: u.Host, secure: true}, nil
	case "http":
		return endpoint{host: u.Host, secure: false}, nil
	}
	return endpoint{}, fmt.Errorf("scheme must be http or https")
}

func (c *Config) validate() (endpoint, error) {
	invalid := func(format string, args ...any) error {
		return botrelay.Errorf(botrelay.EINVALID, "liveperson: "+format, args...)
	}
	c.Account = strings.TrimSpace(c.Account)
	c.Username = strings.TrimSpace(c.Username)
	if c.Account == "" {
		return endpoint{}, invalid("account is required")
	}
	if err := botrelay.AccountID(c.Account).Validate(); err != nil {
		return endpoint{}, invalid("account %q must be letters, digits, '_' or '-'", c.Account)
	}
	ep, err := parseDomain(c.CSDSDomain)
	if err != nil {
		return endpoint{}, invalid("csdsDomain %q %s", c.CSDSDomain, err)
	}
	for _, f := range []struct{ name, value string }{
		{"username", c.Username}, {"appKey", c.AppKey}, {"secret", c.Secret},
		{"accessToken", c.AccessToken}, {"accessTokenSecret", c.AccessTokenSecret},
	} {
		if f.value == "" {
			return endpoint{}, invalid("%s is required (the adapter logs in with an API key)", f.name)
		}
	}
	return ep, nil
}

// ErrNotConnected is returned by the conversation methods while the
// websocket is down (between reconnection attempts, or when Run is not
// running). It is a botrelay.ErrDisconnected, so the relay waits for the
// session to come back instead of treating the call as failed.
var ErrNotConnected error = notConnected{}

type notConnected struct{}

func (notConnected) Error() string        { return "liveperson: not connected" }
func (notConnected) Is(target error) bool { return target == botrelay.ErrDisconnected }

// Error is an error answer of the platform: a UMS response with a code of
// 400 or more, or an HTTP error status.
type Error struct {
	// Code is the response code (an HTTP status).
	Code int
	// Op is the request type or the HTTP call that failed.
	Op string
	// Message is the platform's error message.
	Message string
}

// Error implements error.
func (e *Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("liveperson: %s: %d", e.Op, e.Code)
	}
	return fmt.Sprintf("liveperson: %s: %d %s", e.Op, e.Code, e.Message)
}
