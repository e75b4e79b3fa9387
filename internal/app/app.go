// Package app wires botrelay's parts into the program that `botrelay serve`
// runs: configuration, logging, the secret box, the store, first-start
// seeding, the HTTP listener with health and metrics endpoints, and graceful
// shutdown. Main is a value so end-to-end tests can build and run it in
// code.
package app

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/auth"
	"github.com/botrelay/botrelay/connectors/function"
	"github.com/botrelay/botrelay/hub"
	"github.com/botrelay/botrelay/internal/api"
	"github.com/botrelay/botrelay/internal/config"
	"github.com/botrelay/botrelay/internal/dashboard"
	"github.com/botrelay/botrelay/internal/jwtsign"
	"github.com/botrelay/botrelay/internal/limits"
	"github.com/botrelay/botrelay/internal/netcork"
	"github.com/botrelay/botrelay/internal/relay"
	"github.com/botrelay/botrelay/internal/tlsutil"
	"github.com/botrelay/botrelay/secretbox"
	"github.com/botrelay/botrelay/sqlstore"
)

// Main is one botrelay server. Fill Config (and optionally the other
// fields), call Run, and cancel its context to stop.
type Main struct {
	Config config.Config
	// Getenv reads BOTRELAY_MASTER_KEY and BOTRELAY_ADMIN_PASSWORD.
	// Default: os.Getenv.
	Getenv func(string) string
	// Stdout receives the one-time notice with a generated admin password;
	// it is not a log line. Default: os.Stdout.
	Stdout io.Writer
	// Logs receives the JSON (or text) log. Default: os.Stderr.
	Logs io.Writer
	// Now is the clock. Default: time.Now.
	Now func() time.Time
	// Registry lists the vendor connectors; cmd/botrelay fills it.
	Registry *botrelay.Registry

	log     *slog.Logger
	store   *sqlstore.Store
	box     *secretbox.Box
	ln      net.Listener
	srv     *http.Server
	mu      sync.Mutex
	ready   chan struct{}
	account botrelay.AccountID
	relay   *relay.Relay
}

func (m *Main) defaults() {
	if m.Getenv == nil {
		m.Getenv = os.Getenv
	}
	if m.Stdout == nil {
		m.Stdout = os.Stdout
	}
	if m.Logs == nil {
		m.Logs = os.Stderr
	}
	if m.Now == nil {
		m.Now = time.Now
	}
	m.mu.Lock()
	if m.ready == nil {
		m.ready = make(chan struct{})
	}
	m.mu.Unlock()
}

// Ready is closed once the server listens with its store open and migrated.
func (m *Main) Ready() <-chan struct{} {
	m.defaults()
	return m.ready
}

// Addr returns the address the server listens on, once Ready.
func (m *Main) Addr() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ln == nil {
		return ""
	}
	return m.ln.Addr().String()
}

// Run starts the server and blocks until ctx is cancelled, then shuts down
// gracefully: the listener stops accepting, requests in flight finish within
// the shutdown timeout, and the store closes. It returns nil after a clean
// shutdown and an error when start-up fails.
func (m *Main) Run(ctx context.Context) error {
	m.defaults()
	if err := m.Config.Validate(); err != nil {
		return err
	}
	m.log = NewLogger(m.Logs, m.Config.Log)
	m.account = botrelay.AccountID(m.Config.Account)

	if err := os.MkdirAll(m.Config.Data, 0o700); err != nil {
		return fmt.Errorf("create data folder %s: %w", m.Config.Data, err)
	}
	if err := secureDataDir(m.Config.Data, m.log); err != nil {
		return fmt.Errorf("restrict data folder %s to this user: %w", m.Config.Data, err)
	}
	key, keySource, err := secretbox.LoadKey(m.Getenv("BOTRELAY_MASTER_KEY"), m.Config.Data)
	if err != nil {
		return err
	}
	if m.box, err = secretbox.New(key); err != nil {
		return err
	}
	m.log.Info("master key loaded", "source", keySource)

	if err := m.openStore(ctx); err != nil {
		return err
	}
	defer func() {
		if err := m.store.Close(); err != nil {
			m.log.Error("close store", "err", err)
		}
	}()
	if err := m.seed(ctx); err != nil {
		return err
	}

	signer, err := jwtsign.LoadOrCreate(m.Config.Data)
	if err != nil {
		return fmt.Errorf("JWT signing key: %w", err)
	}
	// One login limiter for every password check (agent login and
	// /api/v1/login), and the client address as the limits see it.
	proxies, err := limits.ParseProxies(m.Config.TrustedProxies)
	if err != nil {
		return err
	}
	logins := limits.NewLogins(m.Config.LoginConfig(), m.Now)
	m.log.Info("login limits", "hash_memory_kib", logins.Config().HashMemoryKiB, "trusted_proxies", m.Config.TrustedProxies)
	h, err := hub.New(hub.Options{Store: m.store, Account: m.account, DataDir: m.Config.Data,
		SigningKey: deriveKey(key, "hub-consumer-tokens"), Logger: m.log.With("part", "hub"), Now: m.Now,
		FrameAncestors: m.Config.FrameAncestors,
		Logins:         logins, Consumers: limits.NewConsumers(m.Config.ConsumerConfig(), m.Now), ClientAddr: proxies.ClientAddr})

	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	m.routes(mux)
	met := newMetrics()
	met.loginChecks(logins)
	mux.Handle("GET /metrics", promhttp.HandlerFor(met.reg, promhttp.HandlerOpts{}))
	mux.Handle("GET /.well-known/jwks.json", signer.Handler())
	h.Routes(mux)
	dashboard.Routes(mux)

	tlsConf, err := m.tlsConfig()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", m.Config.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another server using it? choose another with --addr)", m.Config.Addr, err)
	}
	ln = netcork.Listener{Listener: ln}
	scheme := "http"
	if tlsConf != nil {
		ln = tls.NewListener(ln, tlsConf)
		scheme = "https"
	}
	signer.SetJWKSURL(scheme + "://" + ln.Addr().String() + "/.well-known/jwks.json")
	self, err := newSelfEndpoint(ln.Addr(), tlsConf)
	if err != nil {
		ln.Close()
		return err
	}
	registry := m.Registry
	if registry == nil {
		registry = botrelay.NewRegistry()
	}
	events := newBotEvents()
	m.relay = relay.New(relay.Options{Store: m.store, Registry: registry, Box: m.box, NewPlatform: m.platformFactory(self), Observer: events,
		Logger: m.log.With("part", "connector"), Signer: signer, Now: m.Now,
		// Bots drain within two thirds of the shutdown timeout, so that
		// their platform sessions close before the hub does.
		DrainTimeout: time.Duration(m.Config.ShutdownTimeout) * 2 / 3,
		Scripts:      &function.Runner{Logger: m.log.With("part", "functions")}})
	met.operator(m.store, events, m.relay, h, m.account)
	api.New(api.Options{Store: m.store, Relay: m.relay, Box: m.box, Registry: registry, Account: m.account,
		Logger: m.log.With("part", "api"), Now: m.Now, Signer: signer, Logins: logins, ClientAddr: proxies.ClientAddr}).Routes(mux)
	m.mu.Lock()
	m.ln = ln
	m.srv = &http.Server{
		Handler:           met.instrument(securityHeaders(mux)),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ConnContext:       netcork.ConnContext,
	}
	m.mu.Unlock()

	serveErr := make(chan error, 1)
	go func() { serveErr <- m.srv.Serve(ln) }()
	hubCtx, stopHub := context.WithCancel(context.WithoutCancel(ctx))
	defer stopHub()
	hubDone := make(chan error, 1)
	go func() { hubDone <- h.Run(hubCtx) }()
	relayCtx, stopRelay := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRelay()
	relayDone := make(chan error, 1)
	go func() { relayDone <- m.relay.Run(relayCtx, m.account) }()
	m.log.Info("listening", "addr", ln.Addr().String(), "url", scheme+"://"+ln.Addr().String(), "account", string(m.account))
	close(m.ready)

	select {
	case err := <-serveErr:
		stopRelay()
		<-relayDone
		stopHub()
		h.Close()
		<-hubDone
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	m.log.Info("shutting down", "timeout", time.Duration(m.Config.ShutdownTimeout))
	sctx, cancel := context.WithTimeout(context.Background(), time.Duration(m.Config.ShutdownTimeout))
	defer cancel()
	// Bots stop first (their conversations stay open and resume on the next
	// start), then the hub closes its websockets, then HTTP drains.
	stopRelay()
	select {
	case <-relayDone:
	case <-sctx.Done():
		m.log.Warn("bots did not stop within the shutdown timeout")
	}
	stopHub()
	h.Close()
	<-hubDone
	if err := m.srv.Shutdown(sctx); err != nil {
		m.log.Warn("shutdown timed out; closing open connections", "err", err)
		m.srv.Close()
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	m.log.Info("stopped")
	return nil
}

func (m *Main) openStore(ctx context.Context) error {
	driver, dsn := m.Config.DatabaseURL()
	o := sqlstore.Options{DSN: dsn, Now: m.Now, Logger: m.log}
	switch driver {
	case "sqlite":
		o.Dialect = sqlstore.SQLite
		if dir := filepath.Dir(dsn); dir != "" {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return fmt.Errorf("create database folder: %w", err)
			}
		}
	case "postgres":
		o.Dialect = sqlstore.Postgres
	default:
		return fmt.Errorf("config: database has an unsupported form")
	}
	s, err := sqlstore.Open(ctx, o)
	if err != nil {
		return err
	}
	m.store = s
	m.log.Info("store open", "engine", string(o.Dialect))
	return nil
}

// seed creates the account on first start: the built-in profiles, the skills
// bot and human, and the admin user. Later starts find the account and seed
// nothing. A generated admin password is written once to Stdout, never to
// the log.
func (m *Main) seed(ctx context.Context) error {
	if _, err := m.store.Account(ctx, m.account); err == nil {
		return nil
	} else if !errors.Is(err, botrelay.ErrNotFound) {
		return fmt.Errorf("read account: %w", err)
	}
	password := m.Getenv("BOTRELAY_ADMIN_PASSWORD")
	generated := password == ""
	if generated {
		password = auth.GeneratePassword()
	} else if err := auth.CheckPasswordPolicy(password); err != nil {
		return fmt.Errorf("BOTRELAY_ADMIN_PASSWORD: %s", botrelay.ErrorMessage(err))
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return err
	}
	b := &botrelay.Bootstrap{
		Account:  &botrelay.Account{ID: m.account, Name: "Account " + string(m.account)},
		Profiles: botrelay.BuiltInProfiles(),
		Skills: []*botrelay.Skill{
			{Name: botrelay.SkillNameBot, Description: "Conversations for bots; the consumer page routes here."},
			{Name: botrelay.SkillNameHuman, Description: "Conversations for human agents; bots transfer here."},
		},
		// The admin also works as a human agent on skill human, so a fresh
		// install can take a transferred conversation in the agent console.
		Admin: &botrelay.User{Type: botrelay.UserHuman, LoginName: "admin", Nickname: "Admin",
			Enabled: true, ChatSlots: 4, MessagingSlots: 10},
		AdminSkills:       []string{botrelay.SkillNameHuman},
		AdminPasswordHash: hash,
	}
	created, err := m.store.Bootstrap(ctx, b)
	if err != nil {
		return fmt.Errorf("seed account: %w", err)
	}
	if !created {
		return nil
	}
	admin := b.Admin
	if err := m.seedDemoBot(ctx, b); err != nil {
		return err
	}
	m.log.Info("seeded new account", "account", string(m.account), "admin", admin.LoginName,
		"password_source", map[bool]string{true: "generated", false: "BOTRELAY_ADMIN_PASSWORD"}[generated])
	if generated {
		fmt.Fprintf(m.Stdout, "\nbotrelay: created the admin user for account %s.\n  login:    admin\n  password: %s\nThis password is shown only this once; set BOTRELAY_ADMIN_PASSWORD before the first start to choose it.\n\n",
			m.account, password)
	}
	return nil
}

// tlsConfig returns nil for plain HTTP.
func (m *Main) tlsConfig() (*tls.Config, error) {
	t := m.Config.TLS
	switch {
	case t.Cert != "":
		c, err := tls.LoadX509KeyPair(t.Cert, t.Key)
		if err != nil {
			return nil, fmt.Errorf("tls: load tls.cert and tls.key: %w", err)
		}
		return &tls.Config{Certificates: []tls.Certificate{c}, MinVersion: tls.VersionTLS12}, nil
	case t.SelfSigned:
		host, _, _ := net.SplitHostPort(m.Config.Addr)
		c, err := tlsutil.SelfSigned(m.Config.Data, []string{host}, m.Now())
		if err != nil {
			return nil, fmt.Errorf("tls: self-signed certificate: %w", err)
		}
		m.log.Info("serving HTTPS with a self-signed certificate", "ca_file", filepath.Join(m.Config.Data, tlsutil.CAFile))
		return &tls.Config{Certificates: []tls.Certificate{c}, MinVersion: tls.VersionTLS12}, nil
	}
	return nil, nil
}

// routes registers the endpoints of every part on mux.
// securityHeaders gives every response the strictest headers: no framing,
// no content (CSP default-src 'none'), no MIME sniffing, no referrer.
// Pages and downloads replace the Content-Security-Policy with their own
// (hub pages, the dashboard's, the files' sandbox).
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

func (m *Main) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", m.healthz)
}

// healthz answers 200 while the store answers; the server only listens once
// the store is open and migrated.
func (m *Main) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := m.store.Ping(ctx); err != nil {
		m.log.Warn("health check: store unavailable", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "store": "unreachable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// Version, when set at build time with -ldflags
// "-X github.com/botrelay/botrelay/internal/app.Version=...", replaces the
// module version that VersionLine reads from the build information.
var Version = "dev"

// trimLine keeps an error to one line for the CLI.
func trimLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
