package relay

import (
	"context"
	"time"

	"github.com/botrelay/botrelay"
)

// inbound is the runner seen as the platform's Inbound.
type inbound runner

// PlatformState implements botrelay.Inbound.
func (in *inbound) PlatformState(err error) {
	rn := (*runner)(in)
	rn.mu.Lock()
	rn.platformErr = err
	connected, changed := rn.connected, rn.changed
	rn.mu.Unlock()
	if err == nil && connected != nil {
		select {
		case <-connected:
		default:
			close(connected)
		}
	}
	if changed != nil {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
}

// HandleEvent implements botrelay.Inbound. It never blocks on the vendor:
// events go to the conversation's worker queue.
func (in *inbound) HandleEvent(ctx context.Context, ev *botrelay.PlatformEvent) {
	rn := (*runner)(in)
	switch ev.Kind {
	case botrelay.EventRing:
		// Bots accept what is routed to them (F33); limits apply once the
		// conversation is theirs, so that it can be escalated (F5).
		if rn.currentState() == botrelay.BotServiceInterruption || rn.isDraining() {
			return
		}
		go func() {
			actx, cancel := context.WithTimeout(rn.ctx(), acceptTimeout)
			defer cancel()
			if err := rn.platform.Accept(actx, ev.RingID); err != nil {
				rn.log.Warn("accept ring", "ring_id", ev.RingID, "err", err)
			}
		}()
	case botrelay.EventAssigned, botrelay.EventSurveyStarted, botrelay.EventConsumerMessage,
		botrelay.EventConsumerTyping, botrelay.EventUnassigned:
		rn.noteHeld(ev) // for a hand-back (handback.go)
		rn.dispatch(ev, ev.Kind != botrelay.EventUnassigned)
	case botrelay.EventSynced:
		rn.reconcile(ctx)
	}
}

// reconcile lets go of the conversations stored as the bot's that the
// platform's new session did not list: a kill after a transfer or a close
// went through but before the relay saved it leaves such a state, which
// would otherwise count against the open-conversation cap (F5) forever.
// It runs on the platform's event queue, after the listed assignments were
// dispatched, and holds rn.mu while it writes, so no worker of those
// conversations starts meanwhile.
func (rn *runner) reconcile(ctx context.Context) {
	stored, err := rn.o.Store.OpenBotConversations(ctx, rn.bot.ID)
	if err != nil {
		rn.log.Warn("list open conversations", "err", err)
		return
	}
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if rn.draining {
		return
	}
	for _, st := range stored {
		if _, held := rn.convs[st.ConversationID]; held {
			continue
		}
		st.Open, st.Outbox = false, nil
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
		if err := rn.o.Store.SaveBotConversation(sctx, st); err != nil {
			rn.log.Warn("let go of a conversation the platform no longer gives the bot", "conversation_id", string(st.ConversationID), "err", err)
		} else {
			rn.log.Info("let go of a conversation the platform no longer gives the bot", "conversation_id", string(st.ConversationID))
		}
		cancel()
	}
}

func (rn *runner) isDraining() bool {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	return rn.draining
}

func (rn *runner) ctx() context.Context {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if rn.runCtx == nil {
		return rn.base
	}
	return rn.runCtx
}

// dispatch queues ev on its conversation's worker, starting one when create
// is set. It holds rn.mu while it queues, and a worker leaves the map under
// rn.mu only with an empty queue, so no event lands on a worker that ended.
func (rn *runner) dispatch(ev *botrelay.PlatformEvent, create bool) {
	ref := ev.Conversation
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if rn.draining {
		return // stopping: the platform's history has it after the restart
	}
	w := rn.convs[ref.ID]
	if w == nil {
		if !create || rn.runCtx == nil || rn.runCtx.Err() != nil {
			return
		}
		w = newWorker(rn, ref)
		rn.convs[ref.ID] = w
	}
	if !w.running {
		if rn.runCtx == nil || rn.runCtx.Err() != nil {
			return
		}
		w.running = true
		w.platform = rn.platform
		rn.workers.Add(1)
		ctx := rn.runCtx
		go func() {
			defer rn.workers.Done()
			w.run(ctx)
		}()
	}
	w.push(ev)
}

// park ends the goroutine of a worker with nothing to do: no event queued
// and no timer armed. The worker and its conversation's state stay in
// convs, and the next event starts a goroutine again (dispatch). An idle
// open conversation then costs no goroutine stack, which is most of what
// 10,000 of them cost. It reports whether the worker may end.
func (rn *runner) park(w *worker) bool {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if w.queued() > 0 || rn.convs[w.ref.ID] != w {
		return false
	}
	w.running = false
	return true
}

// retire removes a worker that is done with its conversation, unless events
// arrived meanwhile; it reports whether the worker may end.
func (rn *runner) retire(w *worker) bool {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if w.queued() > 0 {
		return false
	}
	if rn.convs[w.ref.ID] == w {
		delete(rn.convs, w.ref.ID)
	}
	return true
}

// stopWorkers ends every conversation worker. It drains first: no event is
// taken any more, and each worker ends once the event it is handling is
// finished, with its action, so that a graceful stop leaves no turn half
// done. After drain (0 when the platform session is gone already) the
// workers' context is cancelled: what is still running stops where it is,
// and its outbox is finished after the restart.
func (rn *runner) stopWorkers(drain time.Duration, cancelWork context.CancelFunc) {
	rn.mu.Lock()
	rn.draining = true
	for id, w := range rn.convs {
		if !w.running {
			delete(rn.convs, id) // parked: no goroutine to stop
			continue
		}
		w.stop()
	}
	rn.mu.Unlock()
	done := make(chan struct{})
	go func() {
		rn.workers.Wait()
		close(done)
	}()
	if drain > 0 {
		t := time.NewTimer(drain)
		select {
		case <-done:
		case <-t.C:
			rn.log.Warn("conversations still busy after the drain timeout; they finish after the restart", "drain", drain)
		}
		t.Stop()
	}
	cancelWork()
	<-done
}
