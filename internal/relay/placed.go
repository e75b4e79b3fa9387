package relay

import (
	"context"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/fence"
)

// Placement places bots on the nodes of a cluster (internal/cluster,
// docs/cluster.md). With one, the relay runs only the bots the placement
// launches on this node: Run launches none itself, Start and Stop record
// the operator's wish in the store and wake the placement, and State shows
// a bot running on another node from the store.
type Placement interface {
	// Kick asks for the bots to be placed again now (a bot was started
	// or stopped).
	Kick()
	// State returns the state of a bot this node does not run: the state
	// its node last recorded while it holds the bot, else Offline.
	State(ctx context.Context, id botrelay.BotID) botrelay.BotState
}

// placedStatePoll is how often Stop looks whether a bot running on another
// node went Offline.
const placedStatePoll = 100 * time.Millisecond

// Launch runs a started bot on this node under its lease: every store write
// of the bot carries t, so the writes stop the moment another node takes
// the bot over. ECONFLICT when it runs here already.
func (r *Relay) Launch(b *botrelay.Bot, t fence.Token) error {
	return r.launchWith(b, &t)
}

// Halt stops a bot running on this node (its conversations finish the turn
// in hand, as on a shutdown) and returns a channel closed once it stopped;
// nil when it does not run here. handBack is set when the operator stopped
// the bot: its conversations then go back to their skill, as Stop does on
// a single node (docs/standins.md); a bot that moves to another node keeps
// them.
func (r *Relay) Halt(id botrelay.BotID, handBack bool) <-chan struct{} {
	r.mu.Lock()
	rn := r.runners[id]
	r.mu.Unlock()
	if rn == nil {
		return nil
	}
	rn.handBack.Store(handBack)
	rn.cancel()
	return rn.done
}

// Running lists the bots running on this node.
func (r *Relay) Running() []botrelay.BotID {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]botrelay.BotID, 0, len(r.runners))
	for id := range r.runners {
		out = append(out, id)
	}
	return out
}

// stopPlaced is Stop in a cluster: the bot may run on any node; its node
// sees the bot stopped at its next placement and stops it. It waits until
// the bot is Offline everywhere or ctx ends.
func (r *Relay) stopPlaced(ctx context.Context, id botrelay.BotID) error {
	r.o.Placement.Kick()
	tick := time.NewTicker(placedStatePoll)
	defer tick.Stop()
	for {
		if r.State(id) == botrelay.BotOffline {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}
