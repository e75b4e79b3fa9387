package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/function"
	"github.com/botrelay/botrelay/hub"
	"github.com/botrelay/botrelay/internal/api"
	"github.com/botrelay/botrelay/internal/botstats"
	"github.com/botrelay/botrelay/internal/dashboard"
	"github.com/botrelay/botrelay/internal/jwtsign"
	"github.com/botrelay/botrelay/internal/limits"
	"github.com/botrelay/botrelay/internal/netcork"
	"github.com/botrelay/botrelay/internal/relay"
)

// parts are a built server's parts that serve runs: the hub, and the
// listener with its scheme (the relay, the HTTP server and the store are
// Main's fields).
type parts struct {
	hub    *hub.Hub // nil on a cluster node: the router runs it (m.hubs)
	ln     net.Listener
	scheme string
	// figures records the per-bot figures (the relay's StatsObserver).
	figures *botstats.Recorder
}

// build wires every part of the server on one mux: the JWT signer, the
// login limits, the hub, metrics, the dashboard, the listener, the relay
// (whose bots reach the hub through the listener's own address) and the
// API; it leaves the HTTP server in m.srv, ready to serve.
func (m *Main) build(ctx context.Context, key []byte) (*parts, error) {
	signer, err := jwtsign.LoadOrCreate(m.Config.Data)
	if err != nil {
		return nil, fmt.Errorf("JWT signing key: %w", err)
	}
	// One login limiter for every password check (agent login and
	// /api/v1/login), and the client address as the limits see it.
	proxies, err := limits.ParseProxies(m.Config.TrustedProxies)
	if err != nil {
		return nil, err
	}
	hubKey, err := m.hubSigningKey(ctx, key)
	if err != nil {
		return nil, err
	}
	logins := limits.NewLogins(m.Config.LoginConfig(), m.Now)
	m.log.Info("login limits", "hash_memory_kib", logins.Config().HashMemoryKiB, "trusted_proxies", m.Config.TrustedProxies)
	m.webhooks = m.newWebhooks()
	m.hubOptions = hub.Options{Store: m.store, Account: m.account, DataDir: m.Config.Data,
		SigningKey: hubKey, Logger: m.log.With("part", "hub"), Now: m.Now,
		FrameAncestors: m.Config.FrameAncestors, Events: m.webhooks,
		Logins: logins, Consumers: limits.NewConsumers(m.Config.ConsumerConfig(), m.Now), ClientAddr: proxies.ClientAddr}
	h, err := hub.New(m.hubOptions)
	if err != nil {
		return nil, err
	}
	p := &parts{hub: h}
	current := func() *hub.Hub { return h }
	var handBacker botrelay.HandBacker = h
	if m.Config.Cluster.Enabled() {
		// h only lends its route patterns to the switch; the router
		// node runs a hub of its own (routeHub).
		if err := m.newNode(); err != nil {
			return nil, err
		}
		p.hub, current, handBacker = nil, m.hubs.current, m.hubs
	}
	mux, met := m.newMux(h, signer, logins)
	tlsConf, err := m.tlsConfig()
	if err != nil {
		return nil, err
	}
	if p.ln, p.scheme, err = m.listen(tlsConf); err != nil {
		return nil, err
	}
	signer.SetJWKSURL(p.scheme + "://" + p.ln.Addr().String() + "/.well-known/jwks.json")
	self, err := newSelfEndpoint(p.ln.Addr(), tlsConf)
	if err != nil {
		p.ln.Close()
		return nil, err
	}
	registry := m.Registry
	if registry == nil {
		registry = botrelay.NewRegistry()
	}
	events := newBotEvents()
	p.figures = botstats.New(botstats.Options{Store: m.store, Now: m.Now, Logger: m.log.With("part", "figures"), Active: m.onceAClusterNode})
	m.relay = m.newRelay(self, signer, registry, relay.Observers(events, p.figures), handBacker)
	met.operator(m.store, events, m.relay, current, m.account)
	ao := api.Options{Store: m.store, Relay: m.relay, Box: m.box, Registry: registry, Account: m.account,
		Logger: m.log.With("part", "api"), Now: m.Now, Signer: signer, Logins: logins, ClientAddr: proxies.ClientAddr,
		Webhooks: m.webhooks}
	if m.node != nil {
		ao.Cluster = m.node
	}
	api.New(ao).Routes(mux)
	m.mu.Lock()
	m.ln = p.ln
	m.srv = &http.Server{
		Handler:           met.instrument(securityHeaders(mux)),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ConnContext:       netcork.ConnContext,
	}
	m.mu.Unlock()
	return p, nil
}

// newMux registers health, metrics, the JWKS, the hub and the dashboard.
func (m *Main) newMux(h *hub.Hub, signer *jwtsign.Signer, logins *limits.Logins) (*http.ServeMux, *metrics) {
	mux := http.NewServeMux()
	m.routes(mux)
	met := newMetrics()
	met.loginChecks(logins)
	mux.Handle("GET /metrics", promhttp.HandlerFor(met.reg, promhttp.HandlerOpts{}))
	mux.Handle("GET /.well-known/jwks.json", signer.Handler())
	if m.hubs != nil {
		h.Routes(switchMux{mux: mux, sw: m.hubs})
	} else {
		h.Routes(mux)
	}
	dashboard.Routes(mux)
	return mux, met
}

// listen opens the configured address, with TLS when tlsConf is set, and
// returns the listener and its URL scheme.
func (m *Main) listen(tlsConf *tls.Config) (net.Listener, string, error) {
	ln, err := net.Listen("tcp", m.Config.Addr)
	if err != nil {
		return nil, "", fmt.Errorf("listen on %s: %w (is another server using it? choose another with --addr)", m.Config.Addr, err)
	}
	ln = netcork.Listener{Listener: ln}
	if tlsConf == nil {
		return ln, "http", nil
	}
	return tls.NewListener(ln, tlsConf), "https", nil
}

// newRelay makes the relay, whose bots log in to the hub at self (or to a
// LivePerson account their settings name).
func (m *Main) newRelay(self *selfEndpoint, signer *jwtsign.Signer, registry *botrelay.Registry, events relay.Observer, hb botrelay.HandBacker) *relay.Relay {
	var placement relay.Placement
	if m.node != nil {
		placement = m.node
	}
	return relay.New(relay.Options{Store: m.store, Registry: registry, Box: m.box, NewPlatform: m.platformFactory(self), HandBack: hb, SweepActive: m.onceAClusterNode,
		Logger: m.log.With("part", "connector"), Signer: signer, Now: m.Now, Observer: events, Placement: placement, Events: m.webhooks, CommandSweepActive: m.onceAClusterNode,
		// Bots drain within two thirds of the shutdown timeout, so that
		// their platform sessions close before the hub does.
		DrainTimeout: time.Duration(m.Config.ShutdownTimeout) * 2 / 3,
		Scripts:      &function.Runner{Logger: m.log.With("part", "functions")}})
}

// serve runs the HTTP server, the hub and the relay until ctx ends or the
// server fails, then stops them in order (see shutdown).
func (m *Main) serve(ctx context.Context, p *parts) error {
	serveErr := make(chan error, 1)
	go func() { serveErr <- m.srv.Serve(p.ln) }()
	hubCtx, stopHub := context.WithCancel(context.WithoutCancel(ctx))
	defer stopHub()
	hubDone := make(chan error, 1)
	if p.hub != nil {
		go func() { hubDone <- p.hub.Run(hubCtx) }()
	} else {
		hubDone <- nil
	}
	relayCtx, stopRelay := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRelay()
	relayDone := make(chan error, 1)
	go func() {
		// The bots log in to the embedded hub once it has loaded the open
		// conversations: with hundreds of thousands that takes longer than
		// a bot's login may, and bots that time out there would go into
		// Service Interruption and hand their conversations back.
		if p.hub != nil {
			select {
			case <-p.hub.Ready():
			case <-relayCtx.Done():
			case err := <-hubDone:
				hubDone <- err
			}
		}
		relayDone <- m.relay.Run(relayCtx, m.account)
	}()
	defer m.runWebhooks(ctx)()
	// The figures flush last, after the bots stopped (deferred).
	figuresCtx, stopFigures := context.WithCancel(context.WithoutCancel(ctx))
	figuresDone := make(chan struct{})
	go func() { p.figures.Run(figuresCtx); close(figuresDone) }()
	defer func() { stopFigures(); <-figuresDone }()
	if m.node != nil {
		stopNode := m.runNode(ctx)
		defer stopNode()
	}
	m.log.Info("listening", "addr", p.ln.Addr().String(), "url", p.scheme+"://"+p.ln.Addr().String(), "account", string(m.account))
	close(m.ready)

	select {
	case err := <-serveErr:
		stopRelay()
		<-relayDone
		stopHub()
		m.closeHub(p)
		<-hubDone
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	return m.shutdown(p, stopRelay, relayDone, stopHub, hubDone, serveErr)
}

// shutdown stops a serving server within the shutdown timeout: bots stop
// first (their conversations stay open and resume on the next start), then
// the hub closes its websockets, then HTTP drains.
func (m *Main) shutdown(p *parts, stopRelay func(), relayDone <-chan error, stopHub func(), hubDone, serveErr <-chan error) error {
	m.log.Info("shutting down", "timeout", time.Duration(m.Config.ShutdownTimeout))
	sctx, cancel := context.WithTimeout(context.Background(), time.Duration(m.Config.ShutdownTimeout))
	defer cancel()
	if m.node != nil {
		// The other nodes place this node's bots without it; each bot's
		// lease is released once it drained.
		m.node.Leave(sctx)
	}
	stopRelay()
	select {
	case <-relayDone:
	case <-sctx.Done():
		m.log.Warn("bots did not stop within the shutdown timeout")
	}
	stopHub()
	m.closeHub(p)
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
