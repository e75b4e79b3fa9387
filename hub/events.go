package hub

import (
	"context"
	"encoding/json"
	"time"

	"github.com/botrelay/botrelay"
)

// Outbound events (docs/webhooks.md). After each stored change of a
// conversation the hub tells Options.Events what changed: opened,
// assigned, transferred, closed. The call happens after the store write
// and before the change is installed in memory, under the conversation's
// op lock (or createMu), so a conversation's events are emitted in order.
// A crash between the write and the sink's own write loses those events.

// agentRef is a user in an event's payload.
type agentRef struct {
	UserID    botrelay.UserID   `json:"userId"`
	LoginName string            `json:"loginName,omitempty"`
	Nickname  string            `json:"nickname,omitempty"`
	Type      botrelay.UserType `json:"type,omitempty"`
	BotID     botrelay.BotID    `json:"botId,omitempty"`
}

// handRef is where a conversation is: its skill and its agent, if any.
type handRef struct {
	SkillID botrelay.SkillID `json:"skillId"`
	Agent   *agentRef        `json:"agent,omitempty"`
}

type conversationData struct {
	ConversationID botrelay.ConversationID `json:"conversationId"`
	ConsumerID     botrelay.ConsumerID     `json:"consumerId"`
	SkillID        botrelay.SkillID        `json:"skillId"`
	Agent          *agentRef               `json:"agent,omitempty"`
	From           *handRef                `json:"from,omitempty"`
	To             *handRef                `json:"to,omitempty"`
	ClosedBy       string                  `json:"closedBy,omitempty"`
}

// emitChanges tells Options.Events about the change from old (nil for a
// new conversation) to nc.
func (h *Hub) emitChanges(ctx context.Context, old, nc *botrelay.Conversation) {
	if h.o.Events == nil {
		return
	}
	for _, e := range h.changeEvents(ctx, old, nc) {
		h.o.Events.Emit(ctx, e)
	}
}

// changeEvents derives the events of one change. Opening and closing have
// keys of their own (they happen once per conversation); the others get a
// fresh key, stored with the event.
func (h *Hub) changeEvents(ctx context.Context, old, nc *botrelay.Conversation) []*botrelay.Event {
	base := conversationData{ConversationID: nc.ID, ConsumerID: nc.ConsumerID, SkillID: nc.SkillID}
	at := nc.UpdatedAt
	var out []*botrelay.Event
	add := func(id string, kind botrelay.EventKind, d conversationData) {
		raw, _ := json.Marshal(d) // plain values
		out = append(out, &botrelay.Event{ID: id, AccountID: nc.AccountID, Kind: kind, At: at, Data: raw})
	}
	if old == nil {
		add(string(nc.ID)+":opened", botrelay.EventConversationOpened, base)
		return out
	}
	newSuggested := suggested(nc) != 0 && suggested(nc) != suggested(old)
	if old.SkillID != nc.SkillID || newSuggested {
		d := base
		d.From = &handRef{SkillID: old.SkillID, Agent: h.agentRef(ctx, old.AssignedAgent())}
		d.To = &handRef{SkillID: nc.SkillID, Agent: h.agentRef(ctx, suggested(nc))}
		add(string(nc.ID)+":transferred:"+newID(), botrelay.EventConversationTransferred, d)
	}
	if a := nc.AssignedAgent(); a != 0 && a != old.AssignedAgent() {
		d := base
		d.Agent = h.agentRef(ctx, a)
		add(string(nc.ID)+":assigned:"+newID(), botrelay.EventConversationAssigned, d)
	}
	if old.State == botrelay.ConversationOpen && nc.State == botrelay.ConversationClose {
		d := base
		d.ClosedBy = nc.CloseReason
		if !nc.ClosedAt.IsZero() {
			at = nc.ClosedAt
		}
		add(string(nc.ID)+":closed", botrelay.EventConversationClosed, d)
	}
	return out
}

// suggested returns the agent a transfer suggested, or 0.
func suggested(c *botrelay.Conversation) botrelay.UserID {
	for _, p := range c.Participants {
		if p.State == botrelay.ParticipantStateSuggested && p.UserID != 0 {
			return p.UserID
		}
	}
	return 0
}

// agentRef describes a user for an event, with its bot when it is a bot
// user; nil for 0.
func (h *Hub) agentRef(ctx context.Context, id botrelay.UserID) *agentRef {
	if id == 0 {
		return nil
	}
	ref := &agentRef{UserID: id}
	u, err := h.user(ctx, id)
	if err != nil {
		return ref
	}
	ref.LoginName, ref.Nickname, ref.Type = u.LoginName, u.Nickname, u.Type
	if u.Type == botrelay.UserBot {
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if bots, err := h.store.Bots(lctx, h.o.Account); err == nil {
			for _, b := range bots {
				if b.UserID == id {
					ref.BotID = b.ID
				}
			}
		}
	}
	return ref
}
