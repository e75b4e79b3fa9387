// Package config holds the typed configuration of the botrelay serve
// command: its defaults, loading from a YAML file and from BOTRELAY_
// environment variables, validation, and the key reference that the README
// documents.
//
// Every setting has a dotted key, as written in the YAML file
// (tls.self_signed), and an environment variable derived from it
// (BOTRELAY_TLS_SELF_SIGNED). The keys come from the yaml tags of Config
// and its nested sections, so adding a field with yaml and doc tags is all
// it takes to add a setting; string, bool, int and Duration fields and
// nested section structs are supported.
package config

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config is the configuration of botrelay serve. Default returns its
// defaults and Load reads it from a file and the environment.
type Config struct {
	// Addr is the listen address of the HTTP server, as host:port.
	Addr string `yaml:"addr" doc:"Address the server listens on, as host:port; an empty host, as in :8080, listens on all interfaces."`
	// Data is the folder where botrelay keeps its data.
	Data string `yaml:"data" doc:"Folder where botrelay keeps its data, including the default SQLite database."`
	// Database selects the database; see DatabaseURL for its forms.
	Database string `yaml:"database" doc:"Database to use: empty for the SQLite file botrelay.db in the data folder, a postgres:// or postgresql:// URL for PostgreSQL, or sqlite:PATH or file:PATH for a SQLite file elsewhere."`
	// Account is the id of the account that the server hosts.
	Account string `yaml:"account" doc:"ID of the contact-center account the server hosts: 1 to 64 letters, digits, _ or -, starting with a letter or digit."`
	// TLS holds the HTTPS settings.
	TLS TLSConfig `yaml:"tls" doc:"HTTPS settings; without them the server speaks plain HTTP."`
	// Log holds the logging settings.
	Log LogConfig `yaml:"log" doc:"Logging settings."`
	// ShutdownTimeout bounds how long a graceful shutdown may take.
	ShutdownTimeout Duration `yaml:"shutdown_timeout" doc:"How long shutdown waits for open requests and connections to finish before closing them; more than 0s and at most 10m."`
	// FrameAncestors lists the sites that may embed the consumer page in a
	// frame (its Content-Security-Policy frame-ancestors); empty for none.
	FrameAncestors string `yaml:"frame_ancestors" doc:"Sites allowed to embed the consumer page (/) in a frame, space-separated origins such as https://shop.example.com or https://*.example.com, or 'self'; empty allows none. The agent console and the dashboard can never be framed."`
	// TrustedProxies lists the reverse proxies whose X-Forwarded-For is
	// believed for the client address of the limits.
	TrustedProxies string `yaml:"trusted_proxies" doc:"Reverse proxies whose X-Forwarded-For header gives the client address (for the login and consumer limits), as IP addresses or networks separated by commas; empty trusts none and uses the TCP peer's address."`
	// Login holds the login limits.
	Login LoginLimits `yaml:"login" doc:"Limits of password logins (agent login and /api/v1/login)."`
	// Consumers holds the limits of anonymous consumers.
	Consumers ConsumerLimits `yaml:"consumers" doc:"Limits of anonymous consumers (the consumer page and botrelay chat)."`
	// Cluster holds the cluster settings.
	Cluster ClusterConfig `yaml:"cluster" doc:"Cluster mode: several nodes on one PostgreSQL database serving as one system (docs/cluster.md)."`
	// Webhooks holds the outbound webhook settings.
	Webhooks WebhookConfig `yaml:"webhooks" doc:"Outbound webhook settings (docs/webhooks.md)."`
}

// WebhookConfig holds the webhook settings of Config.
type WebhookConfig struct {
	// AllowPrivateTargets lets subscriptions reach loopback, private and
	// link-local addresses.
	AllowPrivateTargets bool `yaml:"allow_private_targets" doc:"Let webhook subscriptions deliver to loopback, private and link-local addresses (localhost, 10.0.0.0/8, 169.254.169.254, ...); off by default so the API cannot be used to reach internal services."`
}

// TLSConfig holds the HTTPS settings of Config. Cert and Key are set
// together, or SelfSigned is true, or none of them is set for plain HTTP.
type TLSConfig struct {
	// Cert is the path of the certificate file.
	Cert string `yaml:"cert" doc:"Path of the PEM certificate file (with any intermediate certificates) to serve HTTPS with; set together with tls.key."`
	// Key is the path of the private key file that belongs to Cert.
	Key string `yaml:"key" doc:"Path of the PEM private key file of tls.cert."`
	// SelfSigned makes the server use a self-signed certificate that it
	// generates itself.
	SelfSigned bool `yaml:"self_signed" doc:"Serve HTTPS with a self-signed certificate that botrelay generates, for tests and local use; cannot be combined with tls.cert and tls.key."`
}

// LogConfig holds the logging settings of Config.
type LogConfig struct {
	// Level is the lowest level logged: debug, info, warn or error.
	Level string `yaml:"level" doc:"Lowest level of log records to write: debug, info, warn or error."`
	// Format is the record format: auto, json or text.
	Format string `yaml:"format" doc:"Format of log records: json for one JSON object per line, text for key=value pairs, or auto for text when standard error is a terminal and json otherwise."`
}

// Allowed values of LogConfig fields and the bounds of
// Config.ShutdownTimeout.
var (
	logLevels          = []string{"debug", "info", "warn", "error"}
	logFormats         = []string{"auto", "json", "text"}
	maxShutdownTimeout = 10 * time.Minute // the message in Validate says "10m"
	accountPattern     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)
	nodeIDPattern      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	// frameAncestorPattern is an http(s) origin, its host optionally
	// starting with a *. wildcard, with an optional port.
	frameAncestorPattern = regexp.MustCompile(`^https?://(\*\.)?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$`)
)

// Default returns the default configuration: it listens on
// 127.0.0.1:8080, keeps its data and its SQLite database in
// ./botrelay-data, serves account 1000 over plain HTTP, writes JSON logs
// from level info up, and allows 15 seconds for shutdown.
func Default() Config {
	return Config{
		Addr:            "127.0.0.1:8080",
		Data:            "./botrelay-data",
		Account:         "1000",
		Log:             LogConfig{Level: "info", Format: "auto"},
		ShutdownTimeout: Duration(15 * time.Second),
		Login:           defaultLoginLimits(),
		Consumers:       defaultConsumerLimits(),
		Cluster:         defaultClusterConfig(),
	}
}

// Error is a problem with one config key or environment variable. Load
// and Validate return it, so callers can find the key with errors.As.
type Error struct {
	// Key is the dotted config key, such as "log.level". It is empty when
	// the problem is an environment variable that matches no key.
	Key string
	// Env is the environment variable the bad value came from, or empty
	// when it came from the file or from the Config value itself.
	Env string
	// Msg is the whole one-line message without the "config: " prefix. It
	// names the key or variable and says what is allowed.
	Msg string
}

// Error returns the message, prefixed with "config: ".
func (e *Error) Error() string {
	return "config: " + e.Msg
}

// keyError returns an *Error about key with a formatted message.
func keyError(key, format string, args ...any) *Error {
	return &Error{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// Validate checks every setting and returns an *Error about the first bad
// one, or nil. The message names the dotted key and says what is allowed.
// It never repeats the database setting, which may hold a password.
func (c *Config) Validate() error {
	if host, port, err := net.SplitHostPort(c.Addr); err != nil || !validPort(port) || strings.ContainsAny(host, " \t\r\n") {
		return keyError("addr", "addr %q must be host:port with a numeric port from 0 to 65535, such as 127.0.0.1:8080 or :8080", c.Addr)
	}
	if strings.TrimSpace(c.Data) == "" {
		return keyError("data", "data must be the path of a folder, not empty")
	}
	if err := validateDatabase(c.Database); err != nil {
		return err
	}
	if !accountPattern.MatchString(c.Account) {
		return keyError("account", "account %q must be 1 to 64 letters, digits, _ or -, starting with a letter or digit", c.Account)
	}
	switch t := c.TLS; {
	case t.SelfSigned && (t.Cert != "" || t.Key != ""):
		return keyError("tls.self_signed", "tls.self_signed cannot be combined with tls.cert and tls.key; use either a generated certificate or your own files")
	case t.Cert != "" && t.Key == "":
		return keyError("tls.key", "tls.key must be set when tls.cert is set; set both or neither")
	case t.Key != "" && t.Cert == "":
		return keyError("tls.cert", "tls.cert must be set when tls.key is set; set both or neither")
	}
	if !slices.Contains(logLevels, c.Log.Level) {
		return keyError("log.level", "log.level %q must be one of %s", c.Log.Level, strings.Join(logLevels, ", "))
	}
	if !slices.Contains(logFormats, c.Log.Format) {
		return keyError("log.format", "log.format %q must be one of %s", c.Log.Format, strings.Join(logFormats, ", "))
	}
	if d := time.Duration(c.ShutdownTimeout); d <= 0 || d > maxShutdownTimeout {
		return keyError("shutdown_timeout", "shutdown_timeout %s must be more than 0s and at most 10m", c.ShutdownTimeout)
	}
	for _, src := range strings.Fields(c.FrameAncestors) {
		if src != "'self'" && !frameAncestorPattern.MatchString(src) {
			return keyError("frame_ancestors", "frame_ancestors has %q; give space-separated origins such as https://shop.example.com or https://*.example.com, or 'self'", src)
		}
	}
	if err := c.validateCluster(); err != nil {
		return err
	}
	return c.validateLimits()
}

// validPort reports whether port is a decimal number from 0 to 65535.
func validPort(port string) bool {
	if port == "" || strings.TrimLeft(port, "0123456789") != "" {
		return false
	}
	_, err := strconv.ParseUint(port, 10, 16)
	return err == nil
}

// Database prefixes that DatabaseURL recognises.
var (
	postgresPrefixes = []string{"postgres://", "postgresql://"}
	sqlitePrefixes   = []string{"sqlite:", "file:"}
)

// databaseForms describes the allowed database forms for error messages.
const databaseForms = "empty (SQLite in the data folder), a postgres:// or postgresql:// URL, or sqlite:PATH or file:PATH"

// validateDatabase checks the database setting without quoting it, since
// it may hold a password.
func validateDatabase(db string) error {
	if db == "" {
		return nil
	}
	for _, p := range postgresPrefixes {
		if strings.HasPrefix(db, p) {
			if _, err := url.Parse(db); err != nil {
				if ue, ok := err.(*url.Error); ok {
					err = ue.Err // url.Error repeats the URL, password included
				}
				return keyError("database", "database is not a valid PostgreSQL URL (%v); it must be %s", err, databaseForms)
			}
			return nil
		}
	}
	for _, p := range sqlitePrefixes {
		if path, ok := strings.CutPrefix(db, p); ok {
			if strings.TrimSpace(path) == "" {
				return keyError("database", "database %q must name a SQLite file after %q; it must be %s", db, p, databaseForms)
			}
			return nil
		}
	}
	if scheme, _, ok := strings.Cut(db, ":"); ok && scheme != "" && !strings.ContainsAny(scheme, " =/\\@") {
		return keyError("database", "database scheme %q is not supported; it must be %s", scheme+":", databaseForms)
	}
	return keyError("database", "database has an unsupported form; it must be %s", databaseForms)
}

// DatabaseURL returns the database driver and data source name that the
// Database setting selects:
//
//   - "" gives ("sqlite", the file botrelay.db in the Data folder);
//   - "sqlite:PATH" and "file:PATH" give ("sqlite", PATH);
//   - "postgres://..." and "postgresql://..." give ("postgres", the URL).
//
// Any other value, which Validate rejects, gives ("", "").
func (c Config) DatabaseURL() (driver, dsn string) {
	if c.Database == "" {
		return "sqlite", filepath.Join(c.Data, "botrelay.db")
	}
	for _, p := range postgresPrefixes {
		if strings.HasPrefix(c.Database, p) {
			return "postgres", c.Database
		}
	}
	for _, p := range sqlitePrefixes {
		if path, ok := strings.CutPrefix(c.Database, p); ok {
			return "sqlite", path
		}
	}
	return "", ""
}
