package relay

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/botrelay/botrelay"
)

// escalation marks an outbox as an escalation (F31).
type escalation struct {
	Code string `json:"code"`
}

// escalate runs the default escalation (F31) for the turn about seq: the
// error is logged and the error-hook runs, then an escalation outbox is
// stored and carried out — the consumer gets messageToConsumer, agents get
// messageToAgent as a private note, and the conversation is transferred to
// the escalation skill — each exactly once across restarts.
func (w *worker) escalate(ctx context.Context, code, msg string, turn *botrelay.Turn, seq int64) {
	rn := w.rn
	if w.isSurvey() {
		w.failSurvey(ctx, code, msg, turn)
		return
	}
	id := w.logError(ctx, code, msg, turn)
	if obs := rn.o.Observer; obs != nil {
		obs.Escalated(rn.bot, code)
	}
	w.errorHook(ctx, id, code)
	eh := rn.bot.Settings.ErrorHandling
	reply := &botrelay.Reply{}
	for _, m := range []botrelay.Message{
		{Text: eh.MessageToConsumer, Audience: botrelay.AudienceAll},
		{Text: eh.MessageToAgent, Audience: botrelay.AudienceAgentsAndManagers},
	} {
		if strings.TrimSpace(m.Text) != "" {
			reply.Items = append(reply.Items, botrelay.Item{Message: &m})
		}
	}
	w.st.Escalations++
	key := keyEscalate + strconv.FormatInt(seq, 10) + "." + strconv.Itoa(w.st.Escalations)
	ob := &outbox{Key: key, Seq: seq, Reply: reply, Escalation: &escalation{Code: code}}
	if !w.storeOutbox(ctx, ob) {
		return
	}
	w.emitEscalated(ctx, code, key)
	w.finishOutbox(ctx, ob, false)
}

// escalationTransfer is an escalation's action: the transfer to the
// escalation skill, or the transfer failure message when there is none or
// it fails (F31 step 5).
func (w *worker) escalationTransfer(ctx context.Context, ob *outbox) {
	rn := w.rn
	eh := rn.bot.Settings.ErrorHandling
	skill, ok := rn.skillID(ctx, eh.EscalationSkill)
	if eh.EscalationSkill == "" || !ok {
		if ctx.Err() != nil {
			return
		}
		w.logError(ctx, codeTransferToSkill,
			fmt.Sprintf("escalation skill %q does not exist", eh.EscalationSkill), nil)
		w.sayOnce(ctx, ob, len(ob.Reply.Items), eh.TransferFailureMessage)
		w.finish(ctx, ob.Seq)
		return
	}
	if skill == w.ref.SkillID && w.st.Escalations > maxOwnSkillEscalations {
		// F32: the escalation skill is the bot's own and the conversation
		// keeps coming back; stop the loop and leave it idle.
		w.logError(ctx, codeTransferLoop, "escalation loop stopped: the escalation skill is the conversation's skill", nil)
		w.finish(ctx, ob.Seq)
		return
	}
	if err := w.platform.Transfer(ctx, w.ref, skill, ""); err != nil {
		if ctx.Err() != nil {
			return
		}
		w.logError(ctx, codeTransferToSkill, "escalation transfer: "+err.Error(), nil)
		w.sayOnce(ctx, ob, len(ob.Reply.Items), eh.TransferFailureMessage)
		w.finish(ctx, ob.Seq)
		return
	}
	w.outcome(ctx, botrelay.OutcomeEscalated)
	w.letGo(ctx, ob.Seq)
}
