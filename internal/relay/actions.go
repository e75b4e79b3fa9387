package relay

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/botrelay/botrelay"
)

// act carries out the action of a published reply (F26–F30) and finishes
// the turn. While stopping (ctx cancelled) a platform call that did not
// happen leaves the outbox stored: the restart carries the action out.
func (w *worker) act(ctx context.Context, ob *outbox) {
	rn := w.rn
	a := ob.Reply.Action
	switch a.Kind {
	case botrelay.ActionTransfer:
		skill := w.ref.SkillID
		if a.Skill != "" {
			id, ok := rn.skillID(ctx, a.Skill)
			if !ok {
				if ctx.Err() != nil {
					return
				}
				w.escalate(ctx, codeTransferSkillNotExisting,
					fmt.Sprintf("skill %q does not exist (names are case-sensitive)", a.Skill), nil, ob.Seq)
				return
			}
			skill = id
		}
		transfer := func() error { return w.platform.Transfer(ctx, w.ref, skill, a.AgentID) }
		if err := w.retryAction(ctx, ob, transfer(), transfer); err != nil {
			if ctx.Err() != nil {
				return
			}
			w.logError(ctx, codeTransferToSkill, "transfer: "+err.Error(), nil)
			w.sayOnce(ctx, ob, len(ob.Reply.Items), rn.bot.Settings.ErrorHandling.TransferFailureMessage)
			w.finish(ctx, ob.Seq)
			return
		}
		rn.countConversation(ConversationTransferred)
		w.outcome(ctx, botrelay.OutcomeTransferred)
		w.letGo(ctx, ob.Seq)
	case botrelay.ActionClose:
		closeConv := func() error { return w.platform.Close(ctx, w.ref, a.WithoutPCS) }
		if err := w.retryAction(ctx, ob, closeConv(), closeConv); err != nil {
			if ctx.Err() != nil {
				return
			}
			w.logError(ctx, codeEndConversation, "close: "+err.Error(), nil)
			w.finish(ctx, ob.Seq)
			return
		}
		if w.isSurvey() {
			w.surveyEnded(ctx, botrelay.SurveyCompleted, a.Payload, "")
		}
		rn.countConversation(ConversationClosed)
		w.outcome(ctx, botrelay.OutcomeClosed)
		w.letGo(ctx, ob.Seq)
	case botrelay.ActionChangeTTR:
		setTTR := func() error { return w.platform.SetTTR(ctx, w.ref, a.TTR, a.TTRSeconds) }
		if err := w.retryAction(ctx, ob, setTTR(), setTTR); err != nil {
			if ctx.Err() != nil {
				return
			}
			w.logError(ctx, codeChangeTTR, "change TTR: "+err.Error(), nil)
		}
		w.finish(ctx, ob.Seq)
	case botrelay.ActionInvokeFunction:
		w.invokeAction(ctx, ob, a)
	default:
		w.finish(ctx, ob.Seq)
	}
}

// invokeAction carries out an INVOKE_FUNCTION action (F30): at most once,
// recorded as started before it runs.
func (w *worker) invokeAction(ctx context.Context, ob *outbox, a *botrelay.Action) {
	if ob.Invoked {
		// Started before a restart: whether it finished is unknown, and
		// running it again could repeat its effect (at most once).
		w.logError(ctx, codeInvokeLambda,
			"invoke function "+a.FunctionID+": interrupted by a restart; not run again", nil)
		w.finish(ctx, ob.Seq)
		return
	}
	ob.Invoked = true
	if !w.storeOutbox(ctx, ob) {
		return
	}
	code, msg := w.invoke(ctx, a)
	if code != "" && ctx.Err() == nil {
		// A failed invocation is logged; it escalates only when the
		// reply asked for that (failOnError, F30).
		w.logError(ctx, code, msg, nil)
		if a.FailOnError {
			w.escalate(ctx, code, msg, nil, ob.Seq)
			return
		}
	}
	w.finish(ctx, ob.Seq)
}

// invoke runs the function an INVOKE_FUNCTION action names (F30) with the
// action's payload; it returns an error code and message when it failed.
func (w *worker) invoke(ctx context.Context, a *botrelay.Action) (code, msg string) {
	rn := w.rn
	src, ok := rn.bot.Settings.Functions[a.FunctionID]
	if !ok || rn.o.Scripts == nil {
		return codeFailedFaasRequest, fmt.Sprintf("function %q is not defined for this bot", a.FunctionID)
	}
	payload := a.Payload
	if len(payload) == 0 {
		payload = json.RawMessage(`{}`)
	}
	input, _ := json.Marshal(map[string]any{"headers": []any{}, "payload": payload,
		"conversationId": w.ref.ID, "botId": rn.bot.ID})
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), functionTimeout)
	defer cancel()
	if _, err := rn.o.Scripts.RunScript(ictx, src, input); err != nil {
		return classify(err, codeInvokeLambda), "invoke function " + a.FunctionID + ": " + err.Error()
	}
	w.log.Info("invoked function", "conversation_id", string(w.ref.ID), "function", a.FunctionID)
	return "", ""
}
