// Package cluster makes several botrelay nodes on one PostgreSQL database
// serve as one system (docs/cluster.md). PostgreSQL is the only moving
// part besides the nodes: each node heartbeats a row; leases judged by the
// database's clock decide which node runs each started bot and which node
// routes the hub; every write made under a lease carries its epoch
// (internal/fence), so a node that lost a lease cannot save anything under
// it.
//
// A Node runs the loop: heartbeat, renew the leases it holds, take the
// router lease when nobody holds it, and place the started bots on the
// live nodes (place.go), launching the ones placed here on the relay and
// halting the ones that moved away.
package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/fence"
	"github.com/botrelay/botrelay/sqlstore"
)

// RouterLease is the name of the lease whose holder runs the hub.
const RouterLease = "router"

// botLease names a bot's lease.
func botLease(id botrelay.BotID) string { return "bot:" + string(id) }

// Store is what the cluster keeps in the database (sqlstore on PostgreSQL).
type Store interface {
	Heartbeat(ctx context.Context, n sqlstore.ClusterNode, ttl time.Duration, join bool) (time.Time, error)
	LeaveCluster(ctx context.Context, node, incarnation string) error
	ClusterNodes(ctx context.Context) ([]sqlstore.ClusterNode, error)
	ClusterLeases(ctx context.Context) ([]sqlstore.ClusterLease, error)
	AcquireLease(ctx context.Context, name, node, incarnation string, ttl time.Duration) (int64, bool, error)
	RenewLeases(ctx context.Context, node, incarnation string, ttl time.Duration) (map[string]int64, error)
	ReleaseLease(ctx context.Context, t fence.Token) error
	Bots(ctx context.Context, account botrelay.AccountID) ([]*botrelay.Bot, error)
	Bot(ctx context.Context, id botrelay.BotID) (*botrelay.Bot, error)
	BotStateEvents(ctx context.Context, bot botrelay.BotID, limit int) ([]*botrelay.BotStateEvent, error)
}

// Runner runs bots on this node (the relay).
type Runner interface {
	Launch(b *botrelay.Bot, t fence.Token) error
	Halt(id botrelay.BotID, handBack bool) <-chan struct{}
	Running() []botrelay.BotID
}

// Options configure a Node.
type Options struct {
	Store   Store
	Account botrelay.AccountID
	// NodeID names the node; unique in the cluster, stable across its
	// restarts.
	NodeID string
	// Advertise is the URL the other nodes reach this node at.
	Advertise string
	// LeaseTTL is how long a heartbeat or lease lasts. Default 2s.
	LeaseTTL time.Duration
	// Tick is how often the node heartbeats, renews and places. Default
	// LeaseTTL/6.
	Tick   time.Duration
	Logger *slog.Logger
	// Router runs the hub while this node holds the router lease: it is
	// called with a context that ends when the node loses the lease or
	// stops, and the token that fences the hub's writes, and returns once
	// the hub is closed.
	Router func(ctx context.Context, t fence.Token)
}

// Node is this process's membership in the cluster.
type Node struct {
	o    Options
	inc  string
	log  *slog.Logger
	kick chan struct{}

	mu       sync.Mutex
	runner   Runner
	held     map[string]fence.Token // leases this node holds
	since    map[string]time.Time   // when each was acquired
	halting  map[botrelay.BotID]bool
	stopping bool
	lastOK   time.Time // last successful heartbeat and renewal
	view     View
	router   *routerTerm
}

type routerTerm struct {
	tok    fence.Token
	cancel context.CancelFunc
	done   chan struct{}
}

// View is what the node last read of the cluster.
type View struct {
	Nodes  []sqlstore.ClusterNode
	Leases []sqlstore.ClusterLease
}

// New checks the options; the node joins at Join.
func New(o Options) (*Node, error) {
	if o.NodeID == "" || strings.ContainsAny(o.NodeID, " \t\n/") {
		return nil, fmt.Errorf("cluster: the node id %q must be a non-empty word (--node-id)", o.NodeID)
	}
	if o.Advertise == "" {
		return nil, fmt.Errorf("cluster: node %s needs the URL the other nodes reach it at (--advertise http://host:port)", o.NodeID)
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = 2 * time.Second
	}
	if o.Tick <= 0 {
		o.Tick = o.LeaseTTL / 6
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	return &Node{o: o, inc: hex.EncodeToString(b[:]), log: o.Logger.With("node_id", o.NodeID),
		kick: make(chan struct{}, 1), held: map[string]fence.Token{}, since: map[string]time.Time{}, halting: map[botrelay.BotID]bool{}}, nil
}

// ID returns the node id.
func (n *Node) ID() string { return n.o.NodeID }

// Join registers the node; it fails when the database cannot be reached.
func (n *Node) Join(ctx context.Context) error {
	if _, err := n.o.Store.Heartbeat(ctx, n.self(), n.o.LeaseTTL, true); err != nil {
		return fmt.Errorf("cluster: join: %w", err)
	}
	n.mu.Lock()
	n.lastOK = time.Now()
	n.mu.Unlock()
	n.log.Info("joined the cluster", "advertise", n.o.Advertise, "lease_ttl_ms", n.o.LeaseTTL.Milliseconds())
	return nil
}

func (n *Node) self() sqlstore.ClusterNode {
	return sqlstore.ClusterNode{ID: n.o.NodeID, Incarnation: n.inc, Address: n.o.Advertise}
}

// Kick asks for a placement round now (relay.Placement).
func (n *Node) Kick() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// Run heartbeats, renews and places until ctx ends. runner is this node's
// relay. Call Leave after the relay stopped. The heartbeat and the renewal
// run on a loop of their own, so that a slow placement (a lease row held
// by a paused node's transaction) never keeps the node from renewing what
// it holds.
func (n *Node) Run(ctx context.Context, runner Runner) {
	n.mu.Lock()
	n.runner = runner
	n.mu.Unlock()
	beat := make(chan struct{})
	go func() {
		defer close(beat)
		t := time.NewTicker(n.o.Tick)
		defer t.Stop()
		for {
			n.beat(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	defer func() { <-beat }()
	t := time.NewTicker(n.o.Tick)
	defer t.Stop()
	for {
		n.round(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-n.kick:
		}
	}
}

// beat heartbeats and renews; when that fails for longer than the lease,
// the node gives up everything it holds.
func (n *Node) beat(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, n.o.LeaseTTL)
	defer cancel()
	if err := n.renew(rctx); err != nil {
		if ctx.Err() == nil {
			n.log.Warn("cluster heartbeat failed", "err", err)
		}
		n.mu.Lock()
		late := time.Since(n.lastOK) > n.o.LeaseTTL
		n.mu.Unlock()
		if late {
			n.loseAll("no heartbeat within the lease")
		}
	}
}

// round is one placement: read the cluster, take the router lease when
// free, place the bots.
func (n *Node) round(ctx context.Context) {
	if !n.Healthy() {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, n.o.LeaseTTL)
	defer cancel()
	if err := n.refresh(rctx); err != nil {
		if ctx.Err() == nil {
			n.log.Warn("cluster view", "err", err)
		}
		return
	}
	n.takeRouter(rctx)
	if err := n.place(rctx); err != nil && ctx.Err() == nil {
		n.log.Warn("place bots", "err", err)
	}
}

// renew heartbeats (unless the node is leaving) and renews the leases;
// whatever lease is missing from the answer was taken over: its bot or
// router term stops at once.
func (n *Node) renew(ctx context.Context) error {
	n.mu.Lock()
	stopping := n.stopping
	n.mu.Unlock()
	if !stopping {
		if _, err := n.o.Store.Heartbeat(ctx, n.self(), n.o.LeaseTTL, false); err != nil {
			return err
		}
	}
	asked := time.Now()
	got, err := n.o.Store.RenewLeases(ctx, n.o.NodeID, n.inc, n.o.LeaseTTL)
	if err != nil {
		return err
	}
	n.mu.Lock()
	n.lastOK = asked
	var lost []fence.Token
	for name, tok := range n.held {
		if n.since[name].After(asked) {
			continue // acquired after the renewal was asked for
		}
		if epoch, ok := got[name]; !ok || epoch != tok.Epoch {
			lost = append(lost, tok)
			delete(n.held, name)
		}
	}
	n.mu.Unlock()
	for _, tok := range lost {
		n.lost(tok, "taken over")
	}
	return nil
}

// lost stops what ran under a lease this node no longer holds.
func (n *Node) lost(tok fence.Token, why string) {
	n.log.Warn("lost a lease", "lease", tok.Lease, "epoch", tok.Epoch, "why", why)
	if tok.Lease == RouterLease {
		n.endRouter()
		return
	}
	if id, ok := strings.CutPrefix(tok.Lease, "bot:"); ok && n.runner != nil {
		n.runner.Halt(botrelay.BotID(id), false)
	}
}

// loseAll gives up everything: the node could not renew within the lease,
// so others may hold its leases by now.
func (n *Node) loseAll(why string) {
	n.mu.Lock()
	var all []fence.Token
	for name, tok := range n.held {
		all = append(all, tok)
		delete(n.held, name)
	}
	n.mu.Unlock()
	for _, tok := range all {
		n.lost(tok, why)
	}
}

func (n *Node) refresh(ctx context.Context) error {
	nodes, err := n.o.Store.ClusterNodes(ctx)
	if err != nil {
		return err
	}
	leases, err := n.o.Store.ClusterLeases(ctx)
	if err != nil {
		return err
	}
	n.mu.Lock()
	n.view = View{Nodes: nodes, Leases: leases}
	n.mu.Unlock()
	return nil
}

// View returns what the node last read of the cluster.
func (n *Node) View() View {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.view
}

// Router returns the router's node id and address from the last view, or
// empty strings when no live node holds the router lease.
func (n *Node) Router() (id, address string) {
	v := n.View()
	for _, l := range v.Leases {
		if l.Name != RouterLease || !l.Held {
			continue
		}
		for _, nd := range v.Nodes {
			if nd.ID == l.Node && nd.Incarnation == l.Incarnation {
				return nd.ID, nd.Address
			}
		}
	}
	return "", ""
}

// IsRouter reports whether this node runs the hub now.
func (n *Node) IsRouter() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.router != nil
}

// Healthy reports whether the node renewed its membership within the lease.
func (n *Node) Healthy() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return !n.lastOK.IsZero() && time.Since(n.lastOK) <= n.o.LeaseTTL
}
