package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/hub"
	"github.com/botrelay/botrelay/internal/cluster"
	"github.com/botrelay/botrelay/internal/fence"
)

// proxiedHeader marks a request one node passed to the router, so that two
// nodes whose views of the router differ for a moment never pass a request
// back and forth.
const proxiedHeader = "X-Botrelay-Proxied"

// hubSwitch serves the hub's routes on a cluster node (docs/cluster.md):
// the node that holds the router lease runs the hub and serves them itself,
// every other node passes them (websockets included) to the router. A
// client may so connect to any node; when the router changes, connections
// through the old one close and clients reconnect, as they do when a single
// server restarts.
type hubSwitch struct {
	node *cluster.Node

	mu    sync.RWMutex
	local http.Handler // the hub's routes while this node routes
	hub   *hub.Hub
	tok   fence.Token
	// term ends the requests passed to a router when it changes.
	termAddr string
	term     context.Context
	endTerm  context.CancelFunc
	proxies  map[string]*httputil.ReverseProxy
}

func newHubSwitch(node *cluster.Node) *hubSwitch {
	return &hubSwitch{node: node, proxies: map[string]*httputil.ReverseProxy{}}
}

// Handle and HandleFunc take the hub's patterns (hub.Mux): the switch
// answers them all.
type switchMux struct {
	mux *http.ServeMux
	sw  *hubSwitch
}

func (m switchMux) Handle(pattern string, _ http.Handler) { m.mux.Handle(pattern, m.sw) }
func (m switchMux) HandleFunc(pattern string, _ func(http.ResponseWriter, *http.Request)) {
	m.mux.Handle(pattern, m.sw)
}

// setLocal makes this node serve the hub h (nil: pass to the router).
func (s *hubSwitch) setLocal(h *hub.Hub, tok fence.Token) {
	var routes http.Handler
	if h != nil {
		mux := http.NewServeMux()
		h.Routes(mux)
		routes = mux
	}
	s.mu.Lock()
	s.local, s.hub, s.tok = routes, h, tok
	s.mu.Unlock()
}

// current returns the hub this node runs, if any (for metrics).
func (s *hubSwitch) current() *hub.Hub {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.hub
}

func (s *hubSwitch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	local, tok := s.local, s.tok
	s.mu.RUnlock()
	if local != nil {
		// The hub's writes carry the router lease: if this node lost it
		// (paused past its expiry), they are refused.
		local.ServeHTTP(w, r.WithContext(fence.With(r.Context(), tok)))
		return
	}
	if r.Header.Get(proxiedHeader) != "" {
		// Another node took this one for the router; its view is newer
		// than ours or ours is: either way the client retries.
		writeUnavailable(w, "this node does not route the hub; retry in a moment")
		return
	}
	addr := s.awaitRouter(r.Context(), "")
	if addr == "" && s.isLocal() {
		// This node became the router while the request waited.
		s.ServeHTTP(w, r)
		return
	}
	if addr == "" {
		writeUnavailable(w, "no node of the cluster routes the hub right now; retry in a few seconds")
		return
	}
	proxy, term := s.proxyTo(addr)
	if proxy == nil {
		writeUnavailable(w, "the router's address is not a URL")
		return
	}
	if err := replayable(r); err != nil {
		writeUnavailable(w, "could not read the request")
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(term, cancel)
	defer stop()
	r = r.WithContext(ctx)
	r.Header.Set(proxiedHeader, s.node.ID())
	proxy.ServeHTTP(w, r)
}

// proxyTo returns the proxy to the router at addr and the context of that
// router's term, which ends (closing the requests passed to it) when
// another node becomes the router.
func (s *hubSwitch) proxyTo(addr string) (*httputil.ReverseProxy, context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.termAddr != addr {
		if s.endTerm != nil {
			s.endTerm()
		}
		s.term, s.endTerm = context.WithCancel(context.Background())
		s.termAddr = addr
	}
	if p, ok := s.proxies[addr]; ok {
		return p, s.term
	}
	target, err := url.Parse(addr)
	if err != nil {
		return nil, nil
	}
	p := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			// The hub builds its URLs (domain lookup, file links) from
			// the Host the client used, not the router's address.
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
		},
		FlushInterval: -1,
		Transport:     &retryTransport{sw: s, base: http.DefaultTransport},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			writeUnavailable(w, "the node that routes the hub did not answer; retry in a few seconds")
		},
	}
	s.proxies[addr] = p
	return p, s.term
}

func writeUnavailable(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Retry-After", "1")
	w.WriteHeader(http.StatusServiceUnavailable)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": "unavailable", "message": msg}})
}

// newNode makes this process's cluster node and the hub switch.
func (m *Main) newNode() error {
	cl := m.Config.Cluster
	node, err := cluster.New(cluster.Options{Store: m.store, Account: m.account, NodeID: cl.NodeID,
		Advertise: cl.Advertise, LeaseTTL: time.Duration(cl.LeaseTTL), Logger: m.log.With("part", "cluster"),
		Router: m.routeHub})
	if err != nil {
		return err
	}
	m.node, m.hubs = node, newHubSwitch(node)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return node.Join(ctx)
}

// runNode joins the cluster and runs the node's loop; the returned
// function, called after the relay stopped, releases what the node holds
// and stops the loop.
func (m *Main) runNode(ctx context.Context) func() {
	nctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.node.Run(nctx, m.relay)
	}()
	return func() {
		m.node.Close()
		stop()
		<-done
	}
}

// routeHub runs the hub while this node holds the router lease: a hub of
// its own for each term, rebuilt from the store (open conversations,
// agents' sessions), with its writes fenced by the lease.
func (m *Main) routeHub(ctx context.Context, tok fence.Token) {
	h, err := hub.New(m.hubOptions)
	if err != nil {
		m.log.Error("start the hub", "err", err)
		return
	}
	done := make(chan error, 1)
	go func() { done <- h.Run(fence.With(ctx, tok)) }()
	m.hubs.setLocal(h, tok)
	<-ctx.Done()
	m.hubs.setLocal(nil, fence.Token{})
	h.Close()
	<-done
}

// closeHub closes the single node's hub, or ends the router term.
func (m *Main) closeHub(p *parts) {
	if p.hub != nil {
		p.hub.Close()
	}
}

// routerWait bounds how long a request waits for a router: a node that
// routes, or a new one after the router died (its lease must run out).
const routerWait = 10 * time.Second

// awaitRouter returns the address of the node that routes the hub, other
// than not and other than this node, waiting up to routerWait for one; ""
// when none came.
// A request already on its way to a router (retryTransport) may go to this
// node itself when it became the router meanwhile (self): its own switch
// then serves it locally.
func (s *hubSwitch) awaitRouter(ctx context.Context, not string, self ...bool) string {
	deadline := time.Now().Add(routerWait)
	for {
		id, addr := s.node.Router()
		if addr != "" && addr != not && (id != s.node.ID() || len(self) > 0 && self[0]) {
			return addr
		}
		if (s.isLocal() && len(self) == 0) || time.Now().After(deadline) {
			return ""
		}
		select {
		case <-ctx.Done():
			return ""
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (s *hubSwitch) isLocal() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.local != nil
}

// retryTransport passes a request to the router again when the router
// could not be reached at all (it died: nothing was sent), once another
// node routes. Requests with a body that cannot be read again are not
// retried.
type retryTransport struct {
	sw   *hubSwitch
	base http.RoundTripper
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	for {
		resp, err := t.base.RoundTrip(req)
		var op *net.OpError
		if err == nil || !errors.As(err, &op) || op.Op != "dial" || (req.Body != nil && req.Body != http.NoBody && req.GetBody == nil) {
			return resp, err
		}
		failed := req.URL.Scheme + "://" + req.URL.Host
		addr := t.sw.awaitRouter(req.Context(), failed, true)
		u, perr := url.Parse(addr)
		if addr == "" || perr != nil {
			return nil, err
		}
		if req.GetBody != nil {
			if req.Body, err = req.GetBody(); err != nil {
				return nil, err
			}
		}
		req.URL.Scheme, req.URL.Host = u.Scheme, u.Host
	}
}

// maxReplayBody is the largest request body kept in memory so that the
// request can be passed again to a new router (logins, token requests);
// larger ones (file uploads) are passed once.
const maxReplayBody = 64 << 10

// replayable makes a small request body readable again (GetBody), so that
// retryTransport can send it to the next router when the first could not
// be reached.
func replayable(r *http.Request) error {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength < 0 || r.ContentLength > maxReplayBody {
		return nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxReplayBody+1))
	if err != nil {
		return err
	}
	r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	return nil
}

// onceAClusterNode reports whether this node does the work done once for
// the whole cluster (webhook deliveries, pruning the figures, failing
// expired Public API commands): always on a single node, and in a cluster
// on the node that routes the hub.
func (m *Main) onceAClusterNode() bool { return m.node == nil || m.node.IsRouter() }

// HandBack hands a conversation back to its skill on the hub this node
// runs (botrelay.HandBacker, for stand-ins). A node that does not route
// cannot: the conversation then stays with its bot until the router's
// start-up sweep (docs/standins.md; a known gap in a cluster).
func (s *hubSwitch) HandBack(ctx context.Context, conv botrelay.ConversationID, user botrelay.UserID, skill botrelay.SkillID, text string) error {
	h := s.current()
	if h == nil {
		return botrelay.Errorf(botrelay.EUNAVAILABLE, "this node does not route the hub")
	}
	return h.HandBack(ctx, conv, user, skill, text)
}
