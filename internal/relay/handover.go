package relay

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/botrelay/botrelay"
)

// Handovers (F12, F31, F33). When a conversation is assigned to the bot —
// new, transferred in from a human or another bot, or coming back — the bot
// owes the vendor:
//
//   - with the Welcome Message option on (or a chat bot, or a survey), one
//     welcome turn whose lastConsumerMessage is the consumer's last message
//     before the bot joined;
//   - one turn for each consumer message written after the conversation was
//     handed to the bot (while it waited in the queue);
//   - nothing for the messages of another agent's part: they were written to
//     someone else.
//
// The hand-off point is a sequence of the dialog: the platform's
// (PlatformEvent.Handoff: the hub records it at every transfer), or, where
// the platform does not say, the end of what the history shows once another
// agent or bot has written in it (nothing of an earlier part is ever
// replayed; a conversation nobody else answered is new and all of it is the
// bot's). A resumed conversation — a restart or a reconnect while the bot
// still holds it — is never welcomed again: it goes on after its last
// handled message. docs/connector.md ("Handovers") draws the timeline.

// assigned takes a conversation the platform says is the bot's: a fresh
// assignment, or one the bot held already (resume).
func (w *worker) assigned(ctx context.Context, ev *botrelay.PlatformEvent) {
	rn := w.rn
	w.collectSDEs(ctx, ev)
	w.sdesPending = true // commandedSDEs, before the first turn
	st, err := rn.loadState(ctx, w.store, w.ref.ID)
	if err != nil && !errors.Is(err, botrelay.ErrNotFound) {
		w.log.Error("load conversation state", "conversation_id", string(w.ref.ID), "err", err)
		return
	}
	if st != nil && st.Open && !(ev.HandoffKnown && ev.Handoff > st.LastSequence) {
		w.resume(ctx, ev, st)
		return
	}
	// New, coming back after the bot let it go, or stored as the bot's
	// although it changed hands since (a crash after a transfer, before
	// the state was saved): a fresh assignment.
	w.takeOver(ctx, ev, st)
}

// takeOver starts the bot's part in a conversation (F33): the cap (F5) and
// Vendor Interruption (F4) checks, the welcome (F12), then the consumer
// messages written since the hand-off.
func (w *worker) takeOver(ctx context.Context, ev *botrelay.PlatformEvent, st *botrelay.BotConversation) {
	rn := w.rn
	history, ok := w.readHistory(ctx, 0)
	if !ok && (ctx.Err() != nil || w.stopping()) {
		return // stopping: the assignment is taken again after the restart
	}
	if st == nil {
		st = &botrelay.BotConversation{BotID: rn.bot.ID, ConversationID: w.ref.ID}
	}
	welcome := w.wantsWelcome(ev)
	st.Open, st.Outbox, st.Welcomed = true, nil, !welcome
	st.DialogID, st.ConsumerID, st.SkillID = w.ref.DialogID, w.ref.ConsumerID, w.ref.SkillID
	st.LastSequence = handoffPoint(ev, history)
	w.st = st
	open, err := w.store.CountOpenBotConversations(ctx, rn.bot.ID)
	if err != nil {
		w.log.Error("count open conversations", "err", err)
	}
	if err := w.save(ctx); err != nil {
		return
	}
	rn.countConversation(ConversationHandled)
	w.outcome(ctx, botrelay.OutcomeOpen)
	if open >= rn.bot.Settings.Limits.MaxOpen() {
		w.escalate(ctx, codeMaxConvLimit,
			fmt.Sprintf("the bot already holds %d open conversations (limit %d)", open, rn.bot.Settings.Limits.MaxOpen()), nil, st.LastSequence)
		return
	}
	if rn.isVendorDown() && !rn.hasFallback() {
		w.escalate(ctx, codeVendorInterruptionEscalated,
			"the bot is in Vendor Interruption: new conversations are escalated without calling the vendor", nil, st.LastSequence)
		return
	}
	if w.isSurvey() && ev.Kind == botrelay.EventSurveyStarted {
		w.surveyStarted(ctx)
	}
	w.resetInactivity()
	if welcome && !w.welcome(ctx, ev, lastConsumerText(history, ev)) {
		return
	}
	if !ok {
		w.catchUpLater()
		return
	}
	w.catchUp(ctx, ev, history)
}

// resume goes on with a conversation the bot held before a restart or a
// reconnect: it finishes the reply (and action) an interruption left in the
// outbox, then handles the consumer messages written meanwhile.
func (w *worker) resume(ctx context.Context, ev *botrelay.PlatformEvent, st *botrelay.BotConversation) {
	w.st = st
	if w.ref.DialogID == "" {
		w.ref.DialogID = st.DialogID
	}
	upToDate := w.upToDate(ev)
	if len(w.st.Outbox) > 0 {
		upToDate = false
		if ob := w.storedOutbox(ctx); ob != nil {
			w.finishOutbox(ctx, ob, true)
		}
		if !w.st.Open || w.st.Outbox != nil {
			return // let go, or the action is still to do (stopping)
		}
	}
	if w.isSurvey() && ev.Kind == botrelay.EventSurveyStarted {
		w.surveyStarted(ctx)
	}
	if upToDate {
		// Nothing the consumer wrote after the last handled message: no
		// history to read (a restart with many open conversations would
		// otherwise read every one's).
		w.resetInactivity()
		w.catchUp(ctx, ev, nil)
		return
	}
	history, ok := w.readHistory(ctx, w.st.LastSequence)
	if !ok {
		if ctx.Err() == nil && !w.stopping() {
			w.catchUpLater()
		}
		return
	}
	// Turns answered since the last save (see finishOutbox).
	w.st.LastSequence = max(w.st.LastSequence, answeredThrough(history))
	w.resetInactivity()
	if !w.st.Welcomed && w.wantsWelcome(ev) {
		// A welcome the bot owed when it got the conversation and never
		// finished (stopped before the vendor answered).
		if !w.welcome(ctx, ev, lastConsumerText(history, ev)) {
			return
		}
	}
	w.catchUp(ctx, ev, history)
}

// upToDate reports whether a resumed conversation owes the vendor nothing
// the history could show: the platform says the consumer wrote nothing
// after the last message the bot handled, and no welcome is owed (a
// welcome needs the consumer's last message from the history).
func (w *worker) upToDate(ev *botrelay.PlatformEvent) bool {
	return ev.LastConsumerKnown && ev.LastConsumer <= w.st.LastSequence && ev.Conversation.DialogID == w.st.DialogID &&
		(w.st.Welcomed || !w.wantsWelcome(ev))
}

// readHistory reads the conversation's history after a sequence, trying
// again after a failure: under load the platform may not answer in time,
// and going on without the history would skip the consumer messages it
// holds (a later message would move LastSequence past them). It reports
// false when every try failed or the worker is stopping.
func (w *worker) readHistory(ctx context.Context, after int64) ([]*botrelay.PlatformEvent, bool) {
	pause := historyRetryPause
	for try := 1; ; try++ {
		history, err := w.rn.history(ctx, w.ref, after)
		if err == nil {
			return history, true
		}
		w.log.Warn("read conversation history", "conversation_id", string(w.ref.ID), "try", try, "err", err)
		if try >= historyTries || ctx.Err() != nil || w.stopping() {
			return nil, false
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, false
		case <-w.quit:
			t.Stop()
			return nil, false
		case <-t.C:
		}
		pause *= 2
	}
}

// catchUpLater records that the conversation's history could not be read:
// the next event of the conversation reads it first (handle), and the
// worker tries again by itself after catchUpRetry (run).
func (w *worker) catchUpLater() {
	w.pendingCatchUp = true
	if w.retryTimer == nil {
		w.retryTimer = time.NewTimer(catchUpRetry)
	}
}

// catchUpPending reads the history a failed read left behind and handles
// its consumer messages; it reports false while the history still cannot
// be read.
func (w *worker) catchUpPending(ctx context.Context, ev *botrelay.PlatformEvent) bool {
	history, ok := w.readHistory(ctx, w.st.LastSequence)
	if !ok {
		w.catchUpLater()
		return false
	}
	w.pendingCatchUp = false
	w.st.LastSequence = max(w.st.LastSequence, answeredThrough(history))
	w.catchUp(ctx, ev, history)
	return true
}

// catchUp handles the consumer messages of history after the last handled
// one, then ev when it is one.
func (w *worker) catchUp(ctx context.Context, ev *botrelay.PlatformEvent, history []*botrelay.PlatformEvent) {
	for _, h := range history {
		if h.Kind == botrelay.EventConsumerMessage && h.Sequence > w.st.LastSequence {
			if w.stopping() || ctx.Err() != nil {
				return
			}
			w.message(ctx, h)
			if !w.st.Open {
				return
			}
		}
	}
	if ev.Kind == botrelay.EventConsumerMessage && ev.Sequence > w.st.LastSequence && w.st.Open {
		w.message(ctx, ev)
	}
}

// welcome runs the welcome turn (F12; a survey's start, F41); it reports
// whether the bot still holds the conversation afterwards.
func (w *worker) welcome(ctx context.Context, ev *botrelay.PlatformEvent, last string) bool {
	w.st.Welcomed = true
	w.commandedSDEs(ctx)
	turn := w.turn(botrelay.TurnStart, ev)
	if ev.Kind == botrelay.EventSurveyStarted {
		turn.Kind = botrelay.TurnSurvey
	}
	turn.LastConsumerMessage = last
	w.process(ctx, turn, w.st.LastSequence, keyWelcome)
	if ctx.Err() != nil {
		return false
	}
	return w.st.Open
}

// wantsWelcome reports whether a fresh assignment starts with a welcome
// turn.
func (w *worker) wantsWelcome(ev *botrelay.PlatformEvent) bool {
	b := w.rn.bot
	return ev.Kind == botrelay.EventSurveyStarted || b.ConversationType == botrelay.Chat || b.Settings.Messaging.WelcomeMessage
}

// handoffPoint is the sequence the bot's part starts after: the platform's
// hand-off, or — where the platform does not say — 0 for a conversation
// only the consumer wrote in, and the end of the history for one another
// agent or bot took part in (nothing of their part is replayed).
func handoffPoint(ev *botrelay.PlatformEvent, history []*botrelay.PlatformEvent) int64 {
	if ev.HandoffKnown {
		return ev.Handoff
	}
	var last int64
	others := false
	for _, h := range history {
		last = max(last, h.Sequence)
		if h.Kind == botrelay.EventAgentMessage || h.Kind == botrelay.EventBotMessage {
			others = true
		}
	}
	if !others {
		return 0
	}
	return last
}

// lastConsumerText is the consumer's last text in history (F12's
// lastConsumerMessage), or ev's when history has none.
func lastConsumerText(history []*botrelay.PlatformEvent, ev *botrelay.PlatformEvent) string {
	last := ""
	for _, h := range history {
		if h.Kind == botrelay.EventConsumerMessage && h.Text != "" {
			last = h.Text
		}
	}
	if last == "" && ev.Kind == botrelay.EventConsumerMessage {
		last = ev.Text
	}
	return last
}
