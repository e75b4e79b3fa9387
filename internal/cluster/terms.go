package cluster

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/fence"
)

// takeRouter takes the router lease when no live node holds it, and runs
// the hub under it.
func (n *Node) takeRouter(ctx context.Context) {
	n.mu.Lock()
	skip := n.stopping || n.router != nil || n.o.Router == nil
	n.mu.Unlock()
	if skip {
		return
	}
	for _, l := range n.View().Leases {
		if l.Name == RouterLease && l.Held {
			return
		}
	}
	epoch, ok, err := n.o.Store.AcquireLease(ctx, RouterLease, n.o.NodeID, n.inc, n.o.LeaseTTL)
	if err != nil || !ok {
		return
	}
	tok := fence.Token{Lease: RouterLease, Node: n.o.NodeID, Incarnation: n.inc, Epoch: epoch}
	tctx, cancel := context.WithCancel(context.Background())
	term := &routerTerm{tok: tok, cancel: cancel, done: make(chan struct{})}
	n.mu.Lock()
	n.held[RouterLease] = tok
	n.since[RouterLease] = time.Now()
	n.router = term
	n.mu.Unlock()
	n.log.Info("routing the hub", "epoch", epoch)
	go func() {
		defer close(term.done)
		n.o.Router(tctx, tok)
	}()
	_ = n.refresh(ctx)
}

// endRouter stops the hub this node runs, if any, and waits for it.
func (n *Node) endRouter() {
	n.mu.Lock()
	term := n.router
	n.router = nil
	n.mu.Unlock()
	if term == nil {
		return
	}
	term.cancel()
	<-term.done
	n.log.Info("stopped routing the hub", "epoch", term.tok.Epoch)
}

// place launches the started bots placed on this node and halts the ones
// that are no longer (stopped by the operator, or placed elsewhere since a
// node joined).
func (n *Node) place(ctx context.Context) error {
	bots, err := n.o.Store.Bots(ctx, n.o.Account)
	if err != nil {
		return err
	}
	var live []string
	for _, nd := range n.View().Nodes {
		if nd.Alive {
			live = append(live, nd.ID)
		}
	}
	n.mu.Lock()
	stopping := n.stopping
	n.mu.Unlock()
	var started []botrelay.BotID
	byID := map[botrelay.BotID]*botrelay.Bot{}
	for _, b := range bots {
		byID[b.ID] = b
		if b.Started {
			started = append(started, b.ID)
		}
	}
	want := assign(started, live)
	n.release(want, byID, stopping)
	if stopping {
		return nil
	}
	// Survey bots first: an agent bot's close opens a survey only while a
	// survey bot of the skill is logged in.
	sort.SliceStable(started, func(i, j int) bool {
		return byID[started[i]].Type == botrelay.BotSurvey && byID[started[j]].Type != botrelay.BotSurvey
	})
	for _, id := range started {
		if want[id] == n.o.NodeID {
			n.launch(ctx, byID[id])
		}
	}
	return nil
}

// launch takes the bot's lease and runs it here, unless it runs already or
// another node still holds it (that node halts it and releases the lease
// at its own next round).
func (n *Node) launch(ctx context.Context, b *botrelay.Bot) {
	name := botLease(b.ID)
	n.mu.Lock()
	_, held := n.held[name]
	halting := n.halting[b.ID]
	n.mu.Unlock()
	if halting || held {
		return
	}
	epoch, ok, err := n.o.Store.AcquireLease(ctx, name, n.o.NodeID, n.inc, n.o.LeaseTTL)
	if err != nil || !ok {
		return
	}
	tok := fence.Token{Lease: name, Node: n.o.NodeID, Incarnation: n.inc, Epoch: epoch}
	n.mu.Lock()
	n.held[name] = tok
	n.since[name] = time.Now()
	n.mu.Unlock()
	if err := n.runner.Launch(b, tok); err != nil {
		n.log.Error("start bot", "bot_id", string(b.ID), "err", err)
		n.drop(tok)
		return
	}
	n.log.Info("bot placed here", "bot_id", string(b.ID), "epoch", epoch)
}

// release halts the bots this node holds that are no longer placed here
// (or all of them while stopping) and gives their leases up once they
// stopped: the turns in hand finish first, so the next node resumes from
// settled state.
func (n *Node) release(want map[botrelay.BotID]string, byID map[botrelay.BotID]*botrelay.Bot, stopping bool) {
	n.mu.Lock()
	var move []fence.Token
	stopped := map[botrelay.BotID]bool{} // by the operator: hand back
	for name, tok := range n.held {
		id, ok := strings.CutPrefix(name, "bot:")
		if !ok || n.halting[botrelay.BotID(id)] {
			continue
		}
		bid := botrelay.BotID(id)
		if stopping || want[bid] != n.o.NodeID || byID[bid] == nil {
			move = append(move, tok)
			n.halting[bid] = true
			stopped[bid] = !stopping && byID[bid] != nil && !byID[bid].Started
		}
	}
	n.mu.Unlock()
	for _, tok := range move {
		id := botrelay.BotID(strings.TrimPrefix(tok.Lease, "bot:"))
		done := n.runner.Halt(id, stopped[id])
		go func() {
			if done != nil {
				<-done
			}
			n.drop(tok)
			n.mu.Lock()
			delete(n.halting, id)
			n.mu.Unlock()
			n.Kick()
		}()
	}
}

// drop releases a lease this node holds.
func (n *Node) drop(tok fence.Token) {
	n.mu.Lock()
	if cur, ok := n.held[tok.Lease]; !ok || cur != tok {
		n.mu.Unlock()
		return
	}
	delete(n.held, tok.Lease)
	n.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), n.o.LeaseTTL)
	defer cancel()
	if err := n.o.Store.ReleaseLease(ctx, tok); err != nil {
		n.log.Warn("release lease", "lease", tok.Lease, "err", err)
	}
}

// Leave starts the node's departure: it stops heartbeating and marks its
// row expired, so the other nodes place its bots without it; its leases
// stay held until their bots stopped (the relay drains them) and are
// released one by one. Call Close after the relay stopped.
func (n *Node) Leave(ctx context.Context) {
	n.mu.Lock()
	n.stopping = true
	n.mu.Unlock()
	if err := n.o.Store.LeaveCluster(ctx, n.o.NodeID, n.inc); err != nil {
		n.log.Warn("leave the cluster", "err", err)
	}
	n.Kick()
}

// Close releases whatever the node still holds: the bots' leases (their
// runners have stopped) and, last, the router lease after the hub closed.
func (n *Node) Close() {
	n.mu.Lock()
	n.stopping = true
	var bots []fence.Token
	for name, tok := range n.held {
		if name != RouterLease {
			bots = append(bots, tok)
		}
	}
	n.mu.Unlock()
	for _, tok := range bots {
		n.drop(tok)
	}
	n.mu.Lock()
	term := n.router
	n.mu.Unlock()
	n.endRouter()
	if term != nil {
		n.drop(term.tok)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = n.o.Store.LeaveCluster(ctx, n.o.NodeID, n.inc)
}

// State is relay.Placement's: the state the bot's node last recorded while
// a live node holds the bot, else Offline.
func (n *Node) State(ctx context.Context, id botrelay.BotID) botrelay.BotState {
	held := false
	for _, l := range n.View().Leases {
		if l.Name == botLease(id) && l.Held {
			held = true
		}
	}
	if !held {
		return botrelay.BotOffline
	}
	evs, err := n.o.Store.BotStateEvents(ctx, id, 1)
	if err != nil || len(evs) == 0 {
		return botrelay.BotStarting
	}
	return evs[0].State
}
