package relay

import (
	"context"

	"github.com/botrelay/botrelay"
)

// Resuming a bot's open conversations after a restart. Each one's worker
// needs the conversation's stored state; read one by one, a bot holding
// thousands of them would have thousands of worker goroutines waiting for
// the store at once (each a goroutine record the runtime keeps for good,
// and a stack meanwhile) and as many queries. So the states of the bot's
// open conversations are read in one query when a session starts, before
// the platform lists the conversations, and each worker takes its own
// (loadState). Nothing else writes a conversation's state before its
// worker took it, except the let-go of a conversation the platform did
// not list (reconcile) and a hand-back (forget), which drop the entry
// first; what is left when the session ends is dropped with it.

// prefetch reads the bot's open conversation states for the session about
// to start. A failure is logged: the workers then read their states one by
// one.
func (rn *runner) prefetch(ctx context.Context) {
	stored, err := rn.o.Store.OpenBotConversations(ctx, rn.bot.ID)
	if err != nil {
		rn.log.Warn("read the open conversations' states", "err", err)
	}
	var m map[botrelay.ConversationID]*botrelay.BotConversation
	if len(stored) > 0 {
		m = make(map[botrelay.ConversationID]*botrelay.BotConversation, len(stored))
		for _, st := range stored {
			m[st.ConversationID] = st
		}
	}
	rn.mu.Lock()
	rn.prefetched = m
	rn.mu.Unlock()
}

// unprefetch drops a prefetched state about to be written by someone else
// than its worker; the caller holds rn.mu.
func (rn *runner) unprefetch(id botrelay.ConversationID) {
	if _, ok := rn.prefetched[id]; ok {
		delete(rn.prefetched, id)
		if len(rn.prefetched) == 0 {
			rn.prefetched = nil // its table goes with the last one
		}
	}
}

// loadState returns the conversation's stored state: the one read when the
// session started, the first time, else the store's (runner.loadState;
// ENOTFOUND when there is none).
func (w *worker) loadState(ctx context.Context) (*botrelay.BotConversation, error) {
	rn := w.rn
	rn.mu.Lock()
	st := rn.prefetched[w.ref.ID]
	if st != nil {
		rn.unprefetch(w.ref.ID)
	}
	rn.mu.Unlock()
	if st != nil {
		return st, nil
	}
	return rn.loadState(ctx, w.store, w.ref.ID)
}
