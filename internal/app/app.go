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

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/auth"
	"github.com/botrelay/botrelay/hub"
	"github.com/botrelay/botrelay/internal/cluster"
	"github.com/botrelay/botrelay/internal/config"
	"github.com/botrelay/botrelay/internal/relay"
	"github.com/botrelay/botrelay/internal/tlsutil"
	"github.com/botrelay/botrelay/internal/webhook"
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
	// WebhookOptions, when set, edits the webhook service's options before
	// it is made: tests shorten the retries, a cluster sets Active.
	WebhookOptions func(*webhook.Options)

	log     *slog.Logger
	store   *sqlstore.Store
	box     *secretbox.Box
	ln      net.Listener
	srv     *http.Server
	mu      sync.Mutex
	ready   chan struct{}
	account botrelay.AccountID
	relay   *relay.Relay
	// hubOptions configure the hub (and, in a cluster, each hub the node
	// runs while it routes).
	hubOptions hub.Options
	// node and hubs are set in cluster mode (cluster.go).
	node *cluster.Node
	hubs *hubSwitch
	// unlock releases the SQLite database's lock (lock_unix.go).
	unlock func()
	// webhooks is the event sink and delivery loop (webhooks.go).
	webhooks *webhook.Service
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
//
// Start-up is three steps: prepare (configuration, logger, data folder,
// master key, store, first-start seeding), build (every part wired on one
// mux and the listener; see build.go) and serve.
func (m *Main) Run(ctx context.Context) error {
	m.defaults()
	key, err := m.prepare(ctx)
	if err != nil {
		return err
	}
	defer m.closeStore()
	if err := m.seed(ctx); err != nil {
		return err
	}
	p, err := m.build(ctx, key)
	if err != nil {
		return err
	}
	return m.serve(ctx, p)
}

// prepare checks the configuration, makes the logger, secures the data
// folder, loads the master key into the secret box and opens the store
// (the caller closes it with closeStore). It returns the master key.
func (m *Main) prepare(ctx context.Context) ([]byte, error) {
	if err := m.Config.Validate(); err != nil {
		return nil, err
	}
	if err := m.Config.CheckCluster(); err != nil {
		return nil, err
	}
	m.log = NewLogger(m.Logs, m.Config.Log)
	m.account = botrelay.AccountID(m.Config.Account)

	if err := os.MkdirAll(m.Config.Data, 0o700); err != nil {
		return nil, fmt.Errorf("create data folder %s: %w", m.Config.Data, err)
	}
	if err := secureDataDir(m.Config.Data, m.log); err != nil {
		return nil, fmt.Errorf("restrict data folder %s to this user: %w", m.Config.Data, err)
	}
	key, keySource, err := secretbox.LoadKey(m.Getenv("BOTRELAY_MASTER_KEY"), m.Config.Data)
	if err != nil {
		return nil, err
	}
	if m.box, err = secretbox.New(key); err != nil {
		return nil, err
	}
	m.log.Info("master key loaded", "source", keySource)
	if err := m.openStore(ctx); err != nil {
		return nil, err
	}
	return key, nil
}

// closeStore closes the store prepare opened, logging a failure.
func (m *Main) closeStore() {
	if m.unlock != nil {
		defer m.unlock()
	}
	if m.store == nil {
		return
	}
	if err := m.store.Close(); err != nil {
		m.log.Error("close store", "err", err)
	}
}

func (m *Main) openStore(ctx context.Context) error {
	driver, dsn := m.Config.DatabaseURL()
	o := sqlstore.Options{DSN: dsn, Now: m.Now, Logger: m.log}
	if m.Config.Cluster.Enabled() {
		// A paused node's open transaction must not hold a lease row
		// locked for long (sqlstore.Options.IdleTxTimeout).
		o.IdleTxTimeout = time.Duration(m.Config.Cluster.LeaseTTL)
	}
	switch driver {
	case "sqlite":
		o.Dialect = sqlstore.SQLite
		if dir := filepath.Dir(dsn); dir != "" {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return fmt.Errorf("create database folder: %w", err)
			}
		}
		release, err := lockSQLite(dsn)
		if err != nil {
			return err
		}
		m.unlock = release
	case "postgres":
		o.Dialect = sqlstore.Postgres
	default:
		return fmt.Errorf("config: database has an unsupported form")
	}
	s, err := sqlstore.Open(ctx, o)
	if err != nil {
		if m.unlock != nil {
			m.unlock()
			m.unlock = nil
		}
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
	mux.HandleFunc("GET /readyz", m.readyz)
}

// readyz answers 200 when this node serves: it listens, its store answers,
// and in a cluster it holds its membership and some node routes the hub.
// /healthz stays liveness (the process and its store).
func (m *Main) readyz(w http.ResponseWriter, r *http.Request) {
	notReady := func(why string) {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "reason": why})
	}
	select {
	case <-m.ready:
	default:
		notReady("starting")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := m.store.Ping(ctx); err != nil {
		notReady("the store does not answer")
		return
	}
	body := map[string]any{"status": "ready"}
	if m.node != nil {
		if !m.node.Healthy() {
			notReady("this node could not renew its cluster membership")
			return
		}
		router, _ := m.node.Router()
		if router == "" {
			notReady("no node routes the hub yet")
			return
		}
		body["node"], body["router"] = m.node.ID(), router
	}
	writeJSON(w, http.StatusOK, body)
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
