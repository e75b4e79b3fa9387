package relay

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/botrelay/botrelay"
)

// worker processes one conversation's events in order (F24). Different
// conversations have different workers and run concurrently.
//
// The worker's concerns live in files of their own: this file takes events
// in; handover.go decides what a new, transferred or resumed conversation
// owes the vendor; turn.go calls the vendor; publish.go publishes replies
// exactly once (markers and outboxes); actions.go carries out their
// actions; escalate.go escalates; timers.go runs chat's inactivity timers.
type worker struct {
	rn  *runner
	ref botrelay.ConversationRef

	// active is what only a worker with a goroutine needs: its queue,
	// signals, timers and buffers. A parked worker (runner.park) with
	// nothing in them lets go of it, so an idle open conversation costs
	// this struct and its state; dispatch makes a new one when an event
	// arrives. Guarded by the runner's mu where it changes.
	*active

	st   *botrelay.BotConversation // loaded on the first event
	sdes json.RawMessage           // engagement attributes, read once at assignment (F13)
	// sdesPending is set at an assignment: the engagement attributes a
	// command stored are still to be read (commandedSDEs), before the
	// first turn rather than at the assignment, so resuming an idle
	// conversation reads nothing more than its state.
	sdesPending bool

	// lastText is the bot's last published text: a survey's question.
	lastText string

	// unsaved counts the turns finished since the state was last stored.
	unsaved int

	// pendingCatchUp is set when the conversation's history could not be
	// read at its assignment or resume: the next event reads it first, or
	// retryTimer's.
	pendingCatchUp bool

	// running is whether the worker has a goroutine (guarded by the
	// runner's mu; see runner.park).
	running bool
}

// active is the part of a worker its goroutine works with (see
// worker.active).
type active struct {
	// What the worker works with, taken from its runner when its goroutine
	// starts (a new session has a new platform adapter).
	store    botrelay.Store
	platform botrelay.PlatformAdapter
	log      *slog.Logger

	mu     sync.Mutex
	queue  []*botrelay.PlatformEvent
	signal chan struct{}
	quit   chan struct{}
	once   sync.Once

	buf   []*botrelay.PlatformEvent // combine buffer (F10)
	timer *time.Timer

	// Chat inactivity timers (F34), restarted by consumer messages.
	warnTimer, closeTimer *time.Timer

	// The current turn's vendor request and raw response, for the
	// error-hook (F36).
	lastReq, lastResp json.RawMessage

	// retryTimer tries a catch-up again (see pendingCatchUp).
	retryTimer *time.Timer
}

// newWorker makes the worker of one conversation, without its active part
// (see start); the caller holds rn.mu.
func newWorker(rn *runner, ref botrelay.ConversationRef) *worker {
	return &worker{rn: rn, ref: ref}
}

// start gives w what its goroutine needs; the caller holds rn.mu and starts
// the goroutine.
func (w *worker) start() {
	rn := w.rn
	if w.active == nil {
		w.active = &active{store: rn.o.Store, log: rn.log, signal: make(chan struct{}, 1), quit: make(chan struct{})}
	}
	w.platform = rn.platform
	w.running = true
}

// idle reports whether w's active part holds nothing but what start makes
// again: no event, buffered message, timer or stop request.
func (w *worker) idle() bool {
	a := w.active
	return len(a.queue) == 0 && len(a.buf) == 0 && len(a.signal) == 0 && a.timer == nil && a.warnTimer == nil &&
		a.closeTimer == nil && a.retryTimer == nil && !w.stopping()
}

func (w *worker) push(ev *botrelay.PlatformEvent) {
	w.mu.Lock()
	w.queue = append(w.queue, ev)
	w.mu.Unlock()
	select {
	case w.signal <- struct{}{}:
	default:
	}
}

// queued is how many events wait for the worker.
func (w *worker) queued() int {
	if w.active == nil {
		return 0
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.queue)
}

// stop asks the worker to end once the event it is handling is finished
// (with its action): a graceful stop drains (see runner.stopWorkers).
func (w *worker) stop() { w.once.Do(func() { close(w.quit) }) }

func (w *worker) stopping() bool {
	select {
	case <-w.quit:
		return true
	default:
		return false
	}
}

// run is the worker's goroutine: it handles queued events and timers until
// the conversation leaves the bot, the runner stops, or the worker parks.
func (w *worker) run(ctx context.Context) {
	parked := false
	defer func() {
		if parked {
			return // the worker is another goroutine's from now on
		}
		w.stopTimers()
	}()
	for {
		var timerC, warnC, closeC, retryC <-chan time.Time
		if w.timer != nil {
			timerC = w.timer.C
		}
		if w.retryTimer != nil {
			retryC = w.retryTimer.C
		}
		if w.warnTimer != nil {
			warnC = w.warnTimer.C
		}
		if w.closeTimer != nil {
			closeC = w.closeTimer.C
		}
		select {
		case <-warnC:
			w.warnTimer = nil
			w.inactiveWarning(ctx)
		case <-closeC:
			w.closeTimer = nil
			if w.st != nil && w.st.Open && w.inactiveClose(ctx) {
				if w.rn.retire(w) {
					return
				}
			}
		case <-ctx.Done():
			w.rn.retire(w)
			return
		case <-w.quit:
			w.rn.retire(w)
			return
		case <-timerC:
			w.timer = nil
			w.flush(ctx)
		case <-retryC:
			w.retryTimer = nil
			if w.pendingCatchUp && w.st != nil && w.st.Open {
				w.catchUpPending(ctx, &botrelay.PlatformEvent{})
			}
		case <-w.signal:
			done, draining := w.handleQueue(ctx)
			if draining {
				w.rn.retire(w)
				return
			}
			if done {
				if w.rn.retire(w) {
					return
				}
				w.st = nil // a later assignment reloads the state
				select {
				case w.signal <- struct{}{}:
				default:
				}
				continue
			}
			if w.timer == nil && w.warnTimer == nil && w.closeTimer == nil && w.retryTimer == nil && len(w.signal) == 0 && w.rn.park(w) {
				parked = true
				return
			}
		}
	}
}

// handleQueue handles the queued events in order. It reports done when one
// of them ended the bot's part, and draining when the runner stops: what is
// left is then read again from the platform's history after the restart.
func (w *worker) handleQueue(ctx context.Context) (done, draining bool) {
	w.mu.Lock()
	evs := w.queue
	w.queue = nil
	w.mu.Unlock()
	for i, ev := range evs {
		if w.stopping() {
			return false, true
		}
		if w.handle(ctx, ev) {
			// Events after the one that ended the bot's part go back
			// to the queue: a transfer back may already be there.
			w.mu.Lock()
			w.queue = append(evs[i+1:len(evs):len(evs)], w.queue...)
			w.mu.Unlock()
			return true, false
		}
	}
	return false, false
}

// handle processes one event; it reports true when the bot no longer holds
// the conversation.
func (w *worker) handle(ctx context.Context, ev *botrelay.PlatformEvent) bool {
	if ev.Conversation.DialogID != "" {
		w.ref.DialogID = ev.Conversation.DialogID
	}
	if ev.Conversation.SkillID != 0 {
		w.ref.SkillID = ev.Conversation.SkillID
	}
	switch ev.Kind {
	case botrelay.EventAssigned, botrelay.EventSurveyStarted:
		w.assigned(ctx, ev)
	case botrelay.EventConsumerMessage:
		if w.st == nil {
			// Only an assignment brings a conversation back to the bot: a
			// message that was on its way when the bot let the conversation
			// go (transfer, escalation, close) is not the bot's any more.
			if st, err := w.loadState(ctx); err == nil && !st.Open {
				return true
			}
			w.assigned(ctx, ev)
			return w.st == nil || !w.st.Open
		}
		if !w.st.Open || ev.Sequence <= w.st.LastSequence {
			return false
		}
		if w.pendingCatchUp {
			// The history holds ev too: it is handled in order with what
			// came before it, or later still if the platform stays silent.
			w.catchUpPending(ctx, ev)
			break
		}
		w.message(ctx, ev)
	case botrelay.EventConsumerTyping:
		c := w.rn.bot.Settings.Messaging.Combine
		if ev.Typing && len(w.buf) > 0 && c.AfterTypingSeconds > 0 {
			w.resetTimer(time.Duration(c.AfterTypingSeconds) * time.Second)
		}
	case botrelay.EventUnassigned:
		w.unassigned(ctx, ev)
		return true
	case eventCommand:
		w.command(ctx, ev)
	}
	return w.st != nil && !w.st.Open
}

// message handles one consumer message: combined (F10) or at once.
func (w *worker) message(ctx context.Context, ev *botrelay.PlatformEvent) {
	w.resetInactivity()
	if w.isSurvey() {
		w.surveyAnswer(ctx, ev)
	}
	c := w.rn.bot.Settings.Messaging.Combine
	if !c.Enabled || ev.Text == "" || ev.RichContent != nil || ev.File != nil {
		w.flush(ctx)
		w.commandedSDEs(ctx)
		w.process(ctx, w.consumerTurn(ev), ev.Sequence, keyConsumer)
		return
	}
	for _, b := range w.buf {
		if b.Sequence == ev.Sequence {
			return
		}
	}
	w.buf = append(w.buf, ev)
	if len(w.buf) >= c.MaxMessages {
		w.flush(ctx)
		return
	}
	w.resetTimer(time.Duration(c.WindowSeconds) * time.Second)
}

func (w *worker) resetTimer(d time.Duration) {
	if w.timer != nil {
		w.timer.Stop()
	}
	w.timer = time.NewTimer(d)
}

// flush sends the combined messages as one turn.
func (w *worker) flush(ctx context.Context) {
	if len(w.buf) == 0 {
		return
	}
	if w.timer != nil {
		w.timer.Stop()
		w.timer = nil
	}
	buf := w.buf
	w.buf = nil
	last := buf[len(buf)-1]
	texts := make([]string, len(buf))
	for i, b := range buf {
		texts[i] = b.Text
	}
	w.commandedSDEs(ctx)
	turn := w.consumerTurn(last)
	turn.Text = strings.Join(texts, " ")
	w.process(ctx, turn, last.Sequence, keyConsumer)
}

func (w *worker) consumerTurn(ev *botrelay.PlatformEvent) *botrelay.Turn {
	t := w.turn(botrelay.TurnText, ev)
	t.Text = ev.Text
	t.Metadata = ev.Metadata
	switch {
	case ev.RichContent != nil:
		t.Kind, t.Text, t.RichContent = botrelay.TurnRichContent, botrelay.EventConsumerRichContent, ev.RichContent
	case ev.File != nil:
		t.Kind, t.Text, t.File = botrelay.TurnFile, botrelay.EventConsumerFile, ev.File
	}
	return t
}

func (w *worker) turn(kind botrelay.TurnKind, ev *botrelay.PlatformEvent) *botrelay.Turn {
	ref := w.ref
	ref.Type = w.rn.bot.ConversationType
	sdes := w.sdes
	if sdes == nil {
		sdes = json.RawMessage(`{}`)
	}
	return &botrelay.Turn{Kind: kind, Conversation: ref, LPEvent: ev.Raw, SDEs: sdes, VendorState: w.st.VendorState}
}

// collectSDEs takes the conversation's engagement attributes once, when the
// bot gets the conversation, if the bot collects them (F13). On the hub
// they come with the consumer's conversationContext as "lpSdes", already in
// LivePerson's {unauthenticatedSdes, authenticatedSdes} shape; a missing or
// empty set is logged and the conversation goes on with {}.
func (w *worker) collectSDEs(ctx context.Context, ev *botrelay.PlatformEvent) {
	if !w.rn.bot.Settings.Messaging.EngagementAttributes || w.sdes != nil ||
		(ev.Kind != botrelay.EventAssigned && ev.Kind != botrelay.EventSurveyStarted) {
		return
	}
	var c struct {
		SDEs json.RawMessage `json:"lpSdes"`
	}
	_ = json.Unmarshal(ev.Context, &c)
	if r, ok := w.platform.(botrelay.EngagementAttributesReader); ok && len(c.SDEs) == 0 {
		// Not in the context (LivePerson never puts them there): ask the
		// platform (GetUserProfile of the consumer).
		sdes, err := r.EngagementAttributes(ctx, ev.Conversation)
		if err != nil {
			w.log.Warn("engagement attributes", "conversation_id", string(w.ref.ID), "err", err)
		}
		c.SDEs = sdes
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(c.SDEs, &m) != nil || len(m) == 0 {
		w.sdes = json.RawMessage(`{}`)
		w.logError(ctx, codeSDEsEmpty, "the conversation has no engagement attributes", nil)
		return
	}
	w.sdes = c.SDEs
}

// logError records a conversation error (F37) and returns its id.
func (w *worker) logError(ctx context.Context, code, msg string, turn *botrelay.Turn) string {
	rn := w.rn
	msg = Redact(msg, rn.secrets)
	var details json.RawMessage
	if turn != nil {
		details, _ = json.Marshal(map[string]any{"turn": turn.Kind, "text": turn.Text})
	}
	e := &botrelay.BotError{ID: errorID(), BotID: rn.bot.ID, ConversationID: w.ref.ID, Code: botrelay.ErrorCodePrefix + code,
		Message: msg, Details: details, At: rn.o.Now()}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err := w.store.AddBotError(sctx, e); err != nil {
		w.log.Error("record conversation error", "err", err)
	}
	w.log.Warn("conversation error", "conversation_id", string(w.ref.ID), "code", e.Code, "error_id", e.ID, "detail", msg)
	if s := rn.stats(); s != nil {
		s.ErrorLogged(rn.bot, e.Code)
	}
	return e.ID
}

// close marks the conversation as no longer the bot's, its last turn
// finished, in one save.
func (w *worker) close(ctx context.Context, seq int64) {
	w.st.Open = false
	w.st.Outbox = nil
	w.st.LastSequence = max(w.st.LastSequence, seq)
	_ = w.save(ctx)
}

// letGo ends the bot's part in the conversation: its state is let go with
// the turn about seq finished (close), then the vendor's conversation is
// ended where the vendor has one (Ender). The bot's own transfer, close and
// escalation end here, not when the platform's "unassigned" arrives: that
// may come after the worker is gone.
func (w *worker) letGo(ctx context.Context, seq int64) {
	w.close(ctx, seq)
	w.endVendor(ctx)
	w.endFallback(ctx)
}

// endVendor ends the vendor's side of the conversation, if it has one.
func (w *worker) endVendor(ctx context.Context) {
	e, ok := w.rn.vendor.(botrelay.Ender)
	if !ok {
		return
	}
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.rn.bot.Settings.Limits.VendorTimeout())
	defer cancel()
	if err := e.EndConversation(ectx, w.ref, w.st.VendorState); err != nil {
		w.log.Debug("end vendor conversation", "err", err)
	}
}

// unassigned ends the bot's part in the conversation when the platform took
// it away (F26, F28); one the bot let go itself was ended already (letGo).
func (w *worker) unassigned(ctx context.Context, ev *botrelay.PlatformEvent) {
	w.buf = nil
	if w.st == nil {
		st, err := w.loadState(ctx)
		if err != nil {
			return
		}
		w.st = st
	}
	if w.isSurvey() {
		w.surveyEnded(ctx, botrelay.SurveyAbandoned, nil, "")
	}
	if w.st.Open {
		if ev.Closed {
			w.rn.countConversation(ConversationClosed) // by the consumer
		}
		w.outcome(ctx, unassignedOutcome(ev))
		w.letGo(ctx, 0)
	}
}

// save stores the conversation's state; it is done even while stopping.
func (w *worker) save(ctx context.Context) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	if err := w.store.SaveBotConversation(sctx, w.st); err != nil {
		w.log.Error("save conversation state", "conversation_id", string(w.ref.ID), "err", err)
		return err
	}
	w.unsaved = 0
	w.rn.stored(w.ref.ID)
	return nil
}
