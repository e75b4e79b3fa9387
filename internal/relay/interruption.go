package relay

import (
	"context"
	"errors"
	"time"

	"github.com/botrelay/botrelay"
)

// A bot that stays in Service Interruption longer than
// settings.routing.handBackAfterSeconds (default 60 s) hands its open
// conversations back (docs/standins.md). Its platform session is what is
// broken, so the hand-back goes around it: through Options.HandBack, the
// embedded hub's own hand-back, which publishes the hand-back message as
// the bot and moves the conversation to its skill (another Online bot of
// the skill takes it) or to the escalation skill. Bots logged in to a
// LivePerson account keep their conversations: botrelay cannot act on them
// there without the bot's session.

// watchInterruption runs beside the bot's life (run) and hands back once
// per Service Interruption that lasts past the grace period. b is the bot
// as it was started: run may reload rn.bot meanwhile.
func (rn *runner) watchInterruption(ctx context.Context, b *botrelay.Bot) {
	grace := b.Settings.Routing.HandBackAfter()
	if grace == 0 || rn.o.HandBack == nil || b.Type != botrelay.BotAgent || b.Settings.Platform.Account != "" {
		return
	}
	tick := time.NewTicker(min(grace/4, time.Second))
	defer tick.Stop()
	var since time.Time
	done := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if rn.currentState() != botrelay.BotServiceInterruption {
			since, done = time.Time{}, false
			continue
		}
		if since.IsZero() {
			since = time.Now()
		}
		if !done && time.Since(since) >= grace {
			done = true
			rn.handBackAround(ctx, b, "interruption")
		}
	}
}

// handBackAround hands the bot's open conversations back through the hub;
// why is the StandInObserver's reason.
func (rn *runner) handBackAround(ctx context.Context, b *botrelay.Bot, why string) {
	ctx, cancel := context.WithTimeout(ctx, handBackTimeout)
	defer cancel()
	convs, err := rn.o.Store.OpenBotConversations(ctx, b.ID)
	if err != nil {
		rn.log.Error("hand back: list open conversations", "err", err)
		return
	}
	convs = rn.withUnstored(ctx, b.ID, convs)
	targets := map[botrelay.SkillID]botrelay.SkillID{}
	handed := 0
	for i, st := range convs {
		if ctx.Err() != nil {
			// Out of time (a node overloaded by its own restart is the
			// usual reason): the rest stay with the bot, which goes on
			// with them once it is back. One line rather than one per
			// conversation, which at a million filled the log.
			rn.log.Warn("hand back stopped: out of time; the rest stay with the bot", "handed", handed,
				"left", len(convs)-i, "why", why, "err", context.Cause(ctx))
			break
		}
		target, ok := targets[st.SkillID]
		if !ok {
			target = rn.aroundTarget(ctx, b, st.SkillID)
			targets[st.SkillID] = target
		}
		err := rn.o.HandBack.HandBack(ctx, st.ConversationID, b.UserID, target, b.Settings.Routing.HandBackText())
		if err != nil && !errors.Is(err, botrelay.ErrConflict) {
			rn.log.Warn("hand back during a Service Interruption", "conversation_id", string(st.ConversationID), "err", err)
			continue
		}
		rn.forget(st.ConversationID)
		st.Open, st.Outbox = false, nil
		sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
		if serr := rn.o.Store.SaveBotConversation(sctx, st); serr != nil {
			rn.log.Error("hand back: save", "conversation_id", string(st.ConversationID), "err", serr)
		}
		if err == nil {
			handed++
			if oerr := rn.o.Store.SetOutcome(sctx, b.ID, st.ConversationID, st.SkillID, botrelay.OutcomeHandedBack); oerr != nil {
				rn.log.Warn("record the conversation's outcome", "conversation_id", string(st.ConversationID), "err", oerr)
			}
		}
		scancel()
	}
	rn.log.Info("handed the open conversations back around the bot's session", "conversations", handed, "why", why)
	if so := rn.standIns(); so != nil && handed > 0 {
		so.HandedBack(b, why, handed)
	}
}

// aroundTarget is handBackTarget without the bot's platform session.
func (rn *runner) aroundTarget(ctx context.Context, b *botrelay.Bot, skill botrelay.SkillID) botrelay.SkillID {
	if rn.r.standInOnline(ctx, b, skill) {
		return skill
	}
	if sk, err := rn.o.Store.SkillByName(ctx, b.AccountID, b.Settings.ErrorHandling.EscalationSkill); err == nil {
		return sk.ID
	}
	return skill
}

// forget drops the worker of a conversation handed back from outside: a
// parked one at once, a running one at its next step.
func (rn *runner) forget(id botrelay.ConversationID) {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	rn.unprefetch(id)
	w := rn.convs[id]
	if w == nil {
		return
	}
	if w.running {
		w.stop()
		return
	}
	delete(rn.convs, id)
}
