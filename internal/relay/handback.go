package relay

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/botrelay/botrelay"
)

// Hand-back (docs/standins.md): a bot the operator stops hands its open
// conversations back to their skill, where another Online bot of the skill
// takes them, or — when no other bot serves the skill — to the bot's
// escalation skill. The consumer gets settings.routing.handBackMessage. The
// transfer makes a hand-off point like any other, so the next bot answers
// only what the consumer writes after it (docs/connector.md, "Handovers"):
// nothing is replayed.
//
// Only the operator's stop hands back (Relay.Stop sets runner.handBack): a
// whole-server shutdown or restart keeps the conversations, which resume on
// the next start.

// StandInObserver is implemented by an Options.Observer that also counts
// stand-ins, for metrics. Its methods must not block.
type StandInObserver interface {
	// HandedBack is a hand-back of n conversations; why is "stop",
	// "interruption" or "start" (the sweep of stopped bots).
	HandedBack(bot *botrelay.Bot, why string, n int)
	// FallbackTurn is a turn the fallback vendor answered (err nil) or
	// failed.
	FallbackTurn(bot *botrelay.Bot, err error)
}

// standIns is the Observer as a StandInObserver, or nil.
func (rn *runner) standIns() StandInObserver {
	so, _ := rn.o.Observer.(StandInObserver)
	return so
}

// handBackTimeout bounds the whole hand-back of one stopping bot.
const handBackTimeout = 60 * time.Second

// handBackParallel is how many conversations are handed back at once.
const handBackParallel = 8

// handingBack reports whether the stop in progress hands back.
func (rn *runner) handingBack() bool {
	return rn.handBack.Load() && rn.bot.Type != botrelay.BotSurvey && !rn.bot.Settings.Routing.KeepOnStop
}

// awayForHandBack sets the bot's user AWAY before a hand-back, so that the
// platform neither offers it new conversations nor rings it again for the
// ones it hands back.
func (rn *runner) awayForHandBack(ctx context.Context) {
	if !rn.handingBack() {
		return
	}
	if as, ok := rn.platform.(botrelay.AvailabilitySetter); ok {
		actx, cancel := context.WithTimeout(ctx, acceptTimeout)
		defer cancel()
		if err := as.SetAvailability(actx, "AWAY"); err != nil {
			rn.log.Warn("set the bot AWAY before handing back", "err", err)
		}
	}
}

// handBackAll hands every open conversation of the bot back, after the
// drain (no worker runs any more) and while the platform session is up.
func (rn *runner) handBackAll(ctx context.Context) {
	if !rn.handingBack() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, handBackTimeout)
	defer cancel()
	convs, err := rn.o.Store.OpenBotConversations(ctx, rn.bot.ID)
	if err != nil {
		rn.log.Error("hand back: list open conversations", "err", err)
		return
	}
	convs = rn.withUnstored(ctx, rn.bot.ID, convs)
	if len(convs) == 0 {
		return
	}
	targets := map[botrelay.SkillID]botrelay.SkillID{}
	for _, st := range convs {
		if _, ok := targets[st.SkillID]; !ok {
			targets[st.SkillID] = rn.handBackTarget(ctx, st.SkillID)
		}
	}
	sem := make(chan struct{}, handBackParallel)
	var wg sync.WaitGroup
	var handed atomic.Int64
	for _, st := range convs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if rn.handBack1(ctx, st, targets[st.SkillID]) {
				handed.Add(1)
			}
		}()
	}
	wg.Wait()
	rn.log.Info("handed the open conversations back", "conversations", handed.Load(), "open", len(convs))
	if so := rn.standIns(); so != nil && handed.Load() > 0 {
		so.HandedBack(rn.bot, "stop", int(handed.Load()))
	}
}

// handBackTarget is where a conversation on skill goes: the skill itself
// when another bot serves it and is Online, else the escalation skill (0
// when that does not exist: the conversation then stays on its skill).
func (rn *runner) handBackTarget(ctx context.Context, skill botrelay.SkillID) botrelay.SkillID {
	if rn.r.standInOnline(ctx, rn.bot, skill) {
		return skill
	}
	if id, ok := rn.skillID(ctx, rn.bot.Settings.ErrorHandling.EscalationSkill); ok {
		return id
	}
	rn.log.Warn("hand back: no other Online bot serves the skill and the escalation skill does not exist; the conversations go back to their skill",
		"skill_id", int64(skill), "escalation_skill", rn.bot.Settings.ErrorHandling.EscalationSkill)
	return skill
}

// handBack1 hands one conversation back: the message, the transfer, then
// the state let go and the outcome recorded. It reports whether the
// transfer went through.
func (rn *runner) handBack1(ctx context.Context, st *botrelay.BotConversation, target botrelay.SkillID) bool {
	ref := botrelay.ConversationRef{ID: st.ConversationID, DialogID: st.DialogID, ConsumerID: st.ConsumerID,
		SkillID: st.SkillID, Type: rn.bot.ConversationType}
	if text := rn.bot.Settings.Routing.HandBackText(); text != "" {
		if _, err := rn.platform.Publish(ctx, ref, &botrelay.Message{Text: text}); err != nil {
			rn.log.Warn("hand back: message", "conversation_id", string(ref.ID), "err", err)
		}
	}
	if err := rn.platform.Transfer(ctx, ref, target, ""); err != nil {
		rn.log.Error("hand back: transfer", "conversation_id", string(ref.ID), "err", err)
		rn.recordError(ctx, ref.ID, codeTransferToSkill, "hand back: "+err.Error())
		return false
	}
	st.Open, st.Outbox = false, nil
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	if err := rn.o.Store.SaveBotConversation(sctx, st); err != nil {
		rn.log.Error("hand back: save", "conversation_id", string(ref.ID), "err", err)
	}
	rn.setOutcome(sctx, ref.ID, st.SkillID, botrelay.OutcomeHandedBack)
	if e, ok := rn.vendor.(botrelay.Ender); ok {
		_ = e.EndConversation(sctx, ref, st.VendorState)
	}
	if rn.fallback != nil {
		_ = rn.o.Store.SaveFallbackState(sctx, rn.bot.ID, ref.ID, nil)
	}
	return true
}

// standInOnline reports whether another agent bot of the account, started
// and Online, has skill among its user's skills. A bot running in this
// process answers from its runner; another node's from its last recorded
// state.
func (r *Relay) standInOnline(ctx context.Context, self *botrelay.Bot, skill botrelay.SkillID) bool {
	bots, err := r.o.Store.Bots(ctx, self.AccountID)
	if err != nil {
		return false
	}
	for _, b := range bots {
		if b.ID == self.ID || !b.Started || b.Type != botrelay.BotAgent {
			continue
		}
		u, err := r.o.Store.User(ctx, b.UserID)
		if err != nil || !slices.Contains(u.SkillIDs, skill) {
			continue
		}
		if r.botOnline(ctx, b.ID) {
			return true
		}
	}
	return false
}

// botOnline is the bot's state here, or its last recorded one.
func (r *Relay) botOnline(ctx context.Context, id botrelay.BotID) bool {
	r.mu.Lock()
	rn := r.runners[id]
	r.mu.Unlock()
	if rn != nil {
		return rn.currentState() == botrelay.BotOnline
	}
	evs, err := r.o.Store.BotStateEvents(ctx, id, 1)
	return err == nil && len(evs) == 1 && evs[0].State == botrelay.BotOnline
}

// setOutcome records the bot's outcome in a conversation (agent bots only),
// for the split figures.
func (rn *runner) setOutcome(ctx context.Context, conv botrelay.ConversationID, skill botrelay.SkillID, o botrelay.Outcome) {
	if rn.bot.Type != botrelay.BotAgent {
		return
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err := rn.o.Store.SetOutcome(sctx, rn.bot.ID, conv, skill, o); err != nil {
		rn.log.Warn("record the conversation's outcome", "conversation_id", string(conv), "err", err)
	}
}

// outcome records the worker's conversation's outcome.
func (w *worker) outcome(ctx context.Context, o botrelay.Outcome) {
	w.rn.setOutcome(ctx, w.ref.ID, w.ref.SkillID, o)
}

// recordError adds a conversation error outside a worker.
func (rn *runner) recordError(ctx context.Context, conv botrelay.ConversationID, code, msg string) {
	e := &botrelay.BotError{ID: errorID(), BotID: rn.bot.ID, ConversationID: conv, Code: botrelay.ErrorCodePrefix + code,
		Message: Redact(msg, rn.secrets), At: rn.o.Now()}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err := rn.o.Store.AddBotError(sctx, e); err != nil {
		rn.log.Error("record conversation error", "err", err)
	}
}

// unassignedOutcome is the outcome of a conversation the platform took from
// the bot: closed (by the consumer or an agent), or moved elsewhere.
func unassignedOutcome(ev *botrelay.PlatformEvent) botrelay.Outcome {
	if ev.Closed {
		return botrelay.OutcomeClosed
	}
	return botrelay.OutcomeTransferred
}

// sweepStopped hands back, once when the relay starts, the open
// conversations that stopped agent bots on the embedded hub still hold: a
// kill during a stop's hand-back, or a bot stopped before hand-backs
// existed, would otherwise leave their consumers waiting on a bot that never
// answers. It waits for the started bots to come up first, so that their
// skills' conversations go to them rather than to the escalation skill.
func (r *Relay) sweepStopped(ctx context.Context, bots []*botrelay.Bot) {
	if r.o.HandBack == nil || (r.o.SweepActive != nil && !r.o.SweepActive()) {
		return
	}
	r.mu.Lock()
	running := make([]*runner, 0, len(r.runners))
	for _, rn := range r.runners {
		running = append(running, rn)
	}
	r.mu.Unlock()
	for _, rn := range running {
		rn.waitStarted(ctx, r.o.ConnectTimeout)
	}
	for _, b := range bots {
		if b.Started || b.Type != botrelay.BotAgent || b.Settings.Platform.Account != "" || ctx.Err() != nil {
			continue
		}
		n, err := r.o.Store.CountOpenBotConversations(ctx, b.ID)
		if err != nil || n == 0 {
			continue
		}
		r.mu.Lock()
		_, started := r.runners[b.ID] // started by the operator meanwhile
		r.mu.Unlock()
		if started {
			continue
		}
		newRunner(r, b, func() {}).handBackAround(ctx, b, "start")
	}
}

// noteHeld keeps track of the conversations the platform says the bot
// holds, whatever the workers did with the news: an assignment that came
// while the bot drained, or that its worker had not taken yet, has no
// stored state, and would be forgotten by a hand-back that read only the
// store.
func (rn *runner) noteHeld(ev *botrelay.PlatformEvent) {
	switch ev.Kind {
	case botrelay.EventAssigned:
		ref := ev.Conversation
		rn.heldMu.Lock()
		if rn.held == nil {
			rn.held = map[botrelay.ConversationID]heldRef{}
		}
		rn.held[ref.ID] = heldRef{dialog: ref.DialogID, consumer: ref.ConsumerID, skill: ref.SkillID}
		rn.heldMu.Unlock()
	case botrelay.EventUnassigned:
		rn.heldMu.Lock()
		delete(rn.held, ev.Conversation.ID)
		rn.heldMu.Unlock()
	}
}

// stored drops the held record of a conversation that has a stored state:
// withUnstored wants only those without one, and a stored state is never
// deleted while its bot exists. A bot's idle conversations then cost no
// record here once resumed.
func (rn *runner) stored(id botrelay.ConversationID) {
	rn.heldMu.Lock()
	delete(rn.held, id)
	if len(rn.held) == 0 {
		rn.held = nil // its table goes with the last one
	}
	rn.heldMu.Unlock()
}

// heldRef is what a hand-back needs of a conversation the platform
// assigned to the bot, besides its id: one per open conversation, so
// small.
type heldRef struct {
	dialog   botrelay.DialogID
	consumer botrelay.ConsumerID
	skill    botrelay.SkillID
}

// withUnstored adds to the stored open conversations those the platform
// assigned to the bot that have no stored state at all.
func (rn *runner) withUnstored(ctx context.Context, bot botrelay.BotID, convs []*botrelay.BotConversation) []*botrelay.BotConversation {
	listed := map[botrelay.ConversationID]bool{}
	for _, st := range convs {
		listed[st.ConversationID] = true
	}
	type unlisted struct {
		id  botrelay.ConversationID
		ref heldRef
	}
	var check []unlisted
	rn.heldMu.Lock()
	for id, ref := range rn.held {
		if !listed[id] {
			check = append(check, unlisted{id, ref})
		}
	}
	rn.heldMu.Unlock()
	for _, u := range check {
		if _, err := rn.o.Store.BotConversation(ctx, bot, u.id); !errors.Is(err, botrelay.ErrNotFound) {
			continue // stored (and let go), or unknown: not ours to hand back
		}
		convs = append(convs, &botrelay.BotConversation{BotID: bot, ConversationID: u.id, DialogID: u.ref.dialog,
			ConsumerID: u.ref.consumer, SkillID: u.ref.skill})
	}
	return convs
}
