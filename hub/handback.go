package hub

import (
	"context"
	"encoding/json"

	"github.com/botrelay/botrelay"
)

var _ botrelay.HandBacker = (*Hub)(nil)

// HandBack implements botrelay.HandBacker: it moves a conversation that
// user holds as its assigned agent back to skill from outside the user's
// own session — the relay's way to hand back the conversations of a bot
// that stays in Service Interruption (docs/standins.md). The consumer gets
// text (when not empty) from the user, as if the user had written it; then
// the user leaves and the conversation waits on skill, with a hand-off point
// like any transfer's. ECONFLICT when the user no longer holds it.
func (h *Hub) HandBack(ctx context.Context, id botrelay.ConversationID, user botrelay.UserID, skill botrelay.SkillID, text string) error {
	conv, cs, err := h.lookup(ctx, id)
	if err != nil {
		return err
	}
	if cs == nil || conv.State != botrelay.ConversationOpen || conv.AssignedAgent() != user {
		return botrelay.Errorf(botrelay.ECONFLICT, "user %d does not hold conversation %s", user, id)
	}
	if text != "" {
		if err := h.publishAs(ctx, cs, user, text); err != nil {
			return err
		}
	}
	return h.mutate(ctx, cs, func(nc *botrelay.Conversation) error {
		if nc.AssignedAgent() != user {
			return botrelay.Errorf(botrelay.ECONFLICT, "user %d does not hold conversation %s", user, id)
		}
		kept := nc.Participants[:0]
		for _, p := range nc.Participants {
			if p.UserID != user || p.Role != botrelay.ParticipantAssignedAgent {
				kept = append(kept, p)
			}
		}
		nc.Participants = kept
		nc.SkillID = skill
		if d := nc.OpenDialog(); d != nil {
			seq, err := h.lastSequence(ctx, cs, nc.ID, d.ID)
			if err != nil {
				return err
			}
			d.HandoffSequence = seq
		}
		return nil
	}, nil)
}

// publishAs stores and delivers a text message of user into the
// conversation's open dialog, as publish does for the user's own request.
func (h *Hub) publishAs(ctx context.Context, cs *convState, user botrelay.UserID, text string) error {
	u, err := h.store.User(ctx, user)
	if err != nil {
		return err
	}
	ev, _ := json.Marshal(map[string]string{"type": "ContentEvent", "contentType": "text/plain", "message": text})
	cs.op.Lock()
	defer cs.op.Unlock()
	h.mu.Lock()
	cur := cs.c
	h.mu.Unlock()
	d := cur.OpenDialog()
	if cur.State != botrelay.ConversationOpen || d == nil || cur.AssignedAgent() != user {
		return botrelay.Errorf(botrelay.ECONFLICT, "user %d does not hold conversation %s", user, cur.ID)
	}
	me := &botrelay.MessageEvent{ConversationID: cur.ID, DialogID: d.ID, Type: "ContentEvent", Event: ev,
		OriginatorID: h.legacyID(user), OriginatorPID: u.PID, OriginatorRole: botrelay.ParticipantAssignedAgent,
		OriginatorName: u.Nickname, OriginatorType: u.Type}
	if err := h.store.AppendEvent(ctx, me); err != nil {
		return err
	}
	cs.seqDialog, cs.seq = me.DialogID, me.Sequence
	h.mu.Lock()
	h.deliver(cur, me)
	h.mu.Unlock()
	return nil
}
