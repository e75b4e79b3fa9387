package relay

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/botrelay/botrelay"
)

// Survey bots (F41). A survey bot's conversation is a post-conversation
// survey dialog: the relay records the run in the store (one botrelay.Survey
// per survey dialog), each consumer message as an answer to the bot's last
// text, and how the run ended. An error ends the survey with the bot's
// Survey Error Message instead of an escalation: there is no agent to
// escalate to after the conversation.

// DefaultSurveyErrorMessage is sent when an error ends a survey and the bot
// has no Error Message of its own (spec §1.6.4).
const DefaultSurveyErrorMessage = "Unable to complete the survey due to an error. Goodbye"

func (w *worker) isSurvey() bool { return w.rn.bot.Type == botrelay.BotSurvey }

// surveyKey is the survey dialog of the worker's conversation: the dialog
// it was assigned on (w.ref follows later events, which may name the main
// dialog once everything closed).
func (w *worker) surveyKey() botrelay.DialogID {
	if w.st != nil && w.st.DialogID != "" {
		return w.st.DialogID
	}
	return w.ref.DialogID
}

// surveyStarted records a new survey run; a run already recorded for the
// dialog (a restart) is kept.
func (w *worker) surveyStarted(ctx context.Context) {
	store := w.store
	key := w.surveyKey()
	if _, err := store.Survey(ctx, key); err == nil || !errors.Is(err, botrelay.ErrNotFound) {
		return
	}
	sv := &botrelay.Survey{BotID: w.rn.bot.ID, ConversationID: w.ref.ID, DialogID: key, ConsumerID: w.ref.ConsumerID,
		SkillID: w.ref.SkillID, State: botrelay.SurveyOpen, StartedAt: w.rn.o.Now()}
	if err := store.SaveSurvey(ctx, sv); err != nil {
		w.log.Error("record survey start", "conversation_id", string(w.ref.ID), "err", err)
	}
}

// surveyAnswer records a consumer message as an answer to the bot's last
// text before it, once per sequence.
func (w *worker) surveyAnswer(ctx context.Context, ev *botrelay.PlatformEvent) {
	w.updateSurvey(ctx, func(sv *botrelay.Survey) bool {
		a := botrelay.SurveyAnswer{Sequence: ev.Sequence, Question: w.question(ctx, ev.Sequence), Answer: ev.Text,
			RichContent: ev.RichContent, At: ev.At}
		if a.At.IsZero() {
			a.At = w.rn.o.Now()
		}
		if ev.File != nil {
			a.Answer = ev.File.RelativePath
		}
		return sv.AddAnswer(a)
	})
}

// surveyEnded records how the run ended, unless it ended already.
func (w *worker) surveyEnded(ctx context.Context, state botrelay.SurveyState, result json.RawMessage, msg string) {
	w.updateSurvey(ctx, func(sv *botrelay.Survey) bool {
		if sv.State != botrelay.SurveyOpen {
			return false
		}
		sv.State, sv.EndedAt, sv.Error = state, w.rn.o.Now(), msg
		if len(result) > 0 && json.Valid(result) {
			sv.Result = result
		}
		return true
	})
}

// updateSurvey applies fn to the stored run and saves it when fn reports a
// change. A run missing from the store (the bot was started on a survey
// that began before it recorded runs) is created.
func (w *worker) updateSurvey(ctx context.Context, fn func(*botrelay.Survey) bool) {
	store := w.store
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	sv, err := store.Survey(sctx, w.surveyKey())
	if errors.Is(err, botrelay.ErrNotFound) {
		sv = &botrelay.Survey{BotID: w.rn.bot.ID, ConversationID: w.ref.ID, DialogID: w.surveyKey(), ConsumerID: w.ref.ConsumerID,
			SkillID: w.ref.SkillID, State: botrelay.SurveyOpen, StartedAt: w.rn.o.Now()}
	} else if err != nil {
		w.log.Error("load survey", "conversation_id", string(w.ref.ID), "err", err)
		return
	}
	if !fn(sv) {
		return
	}
	if err := store.SaveSurvey(sctx, sv); err != nil {
		w.log.Error("record survey", "conversation_id", string(w.ref.ID), "err", err)
	} else if sv.State == botrelay.SurveyCompleted {
		w.emitSurveyCompleted(sctx, sv)
	}
}

// question is the bot's last text before the consumer message seq: the
// text it last published, or after a restart the dialog's history.
func (w *worker) question(ctx context.Context, seq int64) string {
	if w.lastText != "" {
		return w.lastText
	}
	history, err := w.rn.history(ctx, w.ref, 0)
	if err != nil {
		return ""
	}
	q := ""
	for _, h := range history {
		if h.Kind == botrelay.EventBotMessage && h.Sequence < seq && strings.TrimSpace(h.Text) != "" {
			q = h.Text
		}
	}
	return q
}

// failSurvey ends a survey on an error (F41): the error is logged (and the
// error-hook runs), the consumer gets the Error Message, and the survey
// dialog closes.
func (w *worker) failSurvey(ctx context.Context, code, msg string, turn *botrelay.Turn) {
	id := w.logError(ctx, code, msg, turn)
	w.errorHook(ctx, id, code)
	text := w.rn.bot.Settings.Survey.ErrorMessage
	if strings.TrimSpace(text) == "" {
		text = DefaultSurveyErrorMessage
	}
	w.say(ctx, text, botrelay.AudienceAll)
	if err := w.platform.Close(ctx, w.ref, false); err != nil {
		w.logError(ctx, codeEndConversation, "close the survey: "+err.Error(), nil)
	}
	w.surveyEnded(ctx, botrelay.SurveyFailed, nil, msg)
	w.letGo(ctx, 0)
}
