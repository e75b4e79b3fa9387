package relay

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/botrelay/botrelay"
)

// Outbound events of the relay (docs/webhooks.md): escalations with their
// code, finished surveys and bot state changes, told to Options.Events.
// Each has a key derived from what it is about, so a step that a restart
// repeats is recorded once.

// emit sends e to Options.Events, if any.
func (rn *runner) emit(ctx context.Context, kind botrelay.EventKind, id string, at time.Time, data any) {
	sink := rn.o.Events
	if sink == nil {
		return
	}
	raw, err := json.Marshal(data)
	if err != nil {
		rn.log.Error("encode event", "kind", string(kind), "err", err)
		return
	}
	sink.Emit(ctx, &botrelay.Event{ID: id, AccountID: rn.bot.AccountID, Kind: kind, At: at, Data: raw})
}

type escalatedData struct {
	ConversationID  botrelay.ConversationID `json:"conversationId"`
	ConsumerID      botrelay.ConsumerID     `json:"consumerId"`
	SkillID         botrelay.SkillID        `json:"skillId"`
	BotID           botrelay.BotID          `json:"botId"`
	Code            string                  `json:"code"`
	EscalationSkill string                  `json:"escalationSkill"`
}

// emitEscalated reports an escalation; outboxKey is the escalation's
// outbox key, unique per escalation of the conversation.
func (w *worker) emitEscalated(ctx context.Context, code, outboxKey string) {
	rn := w.rn
	rn.emit(ctx, botrelay.EventConversationEscalated, string(w.ref.ID)+":escalated:"+outboxKey, rn.o.Now(), escalatedData{
		ConversationID: w.ref.ID, ConsumerID: w.ref.ConsumerID, SkillID: w.ref.SkillID, BotID: rn.bot.ID,
		Code: botrelay.ErrorCodePrefix + code, EscalationSkill: rn.bot.Settings.ErrorHandling.EscalationSkill})
}

type surveyData struct {
	ConversationID botrelay.ConversationID `json:"conversationId"`
	DialogID       botrelay.DialogID       `json:"dialogId"`
	ConsumerID     botrelay.ConsumerID     `json:"consumerId"`
	SkillID        botrelay.SkillID        `json:"skillId"`
	BotID          botrelay.BotID          `json:"botId"`
	Answers        []botrelay.SurveyAnswer `json:"answers"`
	Result         json.RawMessage         `json:"result,omitempty"`
	StartedAt      time.Time               `json:"startedAt"`
}

// emitSurveyCompleted reports a survey the bot finished.
func (w *worker) emitSurveyCompleted(ctx context.Context, sv *botrelay.Survey) {
	w.rn.emit(ctx, botrelay.EventSurveyCompleted, string(sv.DialogID)+":survey-completed", sv.EndedAt, surveyData{
		ConversationID: sv.ConversationID, DialogID: sv.DialogID, ConsumerID: sv.ConsumerID, SkillID: sv.SkillID,
		BotID: sv.BotID, Answers: sv.Answers, Result: sv.Result, StartedAt: sv.StartedAt})
}

type botStateData struct {
	BotID   botrelay.BotID    `json:"botId"`
	BotName string            `json:"botName"`
	State   botrelay.BotState `json:"state"`
	Code    string            `json:"code,omitempty"`
	Message string            `json:"message"`
}

// emitState reports a state change, already redacted.
func (rn *runner) emitState(ev *botrelay.BotStateEvent) {
	ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
	defer cancel()
	key := string(rn.bot.ID) + ":state:" + string(ev.State) + ":" + strconv.FormatInt(ev.At.UnixMilli(), 10)
	rn.emit(ctx, botrelay.EventBotStateChanged, key, ev.At, botStateData{BotID: rn.bot.ID, BotName: rn.bot.Name,
		State: ev.State, Code: ev.Code, Message: ev.Message})
}
