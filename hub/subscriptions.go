package hub

import (
	"context"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/ums"
)

// changesPerFrame bounds the conversations of one ExConversationChange
// notification sent for a new subscription.
const changesPerFrame = 500

// sendAgentState tells c its own state if it subscribed. Caller holds h.mu.
func (h *Hub) sendAgentState(c *conn) {
	if c.stateSub == "" || c.sess == nil {
		return
	}
	state := c.sess.state
	if state == "" {
		state = StateAway
	}
	c.send(ums.NewNotification(ums.NotifyAgentState, map[string]any{
		"subscriptionId": c.stateSub,
		"changes": []any{map[string]any{"type": "UPSERT", "result": map[string]any{
			"agentUserId": h.legacyID(c.sess.user.ID), "channels": []string{"MESSAGING"}, "availability": state,
			"agentPid": c.sess.user.PID,
		}}},
	}))
}

// ensureUsers fills the user cache with the participants of convs, so
// notifications can name their PIDs. It does I/O; call it without h.mu.
func (h *Hub) ensureUsers(ctx context.Context, convs ...*botrelay.Conversation) {
	for _, c := range convs {
		for _, p := range c.Participants {
			if p.UserID != 0 {
				if _, err := h.user(ctx, p.UserID); err != nil {
					h.log.Warn("load participant", "user_id", int64(p.UserID), "err", err)
				}
			}
		}
	}
}

// subMatches reports whether a conversation subscription sees c. The caller
// holds h.mu.
func (h *Hub) subMatches(c *conn, sub *convSub, conv *botrelay.Conversation) bool {
	if conv == nil {
		return false
	}
	if len(sub.states) > 0 {
		ok := false
		for _, s := range sub.states {
			if s == string(conv.State) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	if c.consumer != "" {
		return conv.ConsumerID == c.consumer
	}
	if sub.consumer != "" && conv.ConsumerID != sub.consumer {
		return false
	}
	if len(sub.agentIDs) > 0 {
		for _, u := range sub.agentIDs {
			if conv.HasUser(u) {
				return true
			}
		}
		return false
	}
	return c.sess.viewAll || conv.HasUser(c.sess.user.ID)
}

// notify sends conversation changes for the move from old to new (either
// may be nil) to every subscription that saw or sees the conversation, and
// to consumers. The caller holds h.mu.
func (h *Hub) notify(old, new *botrelay.Conversation) {
	for c := range h.conns {
		for _, sub := range c.convSubs {
			was, is := h.subMatches(c, sub, old), h.subMatches(c, sub, new)
			if !was && !is {
				continue
			}
			typ, conv := "UPSERT", new
			if !is {
				typ = "DELETE"
			}
			ntype := ums.NotifyExConversationChange
			if c.consumer != "" {
				ntype = ums.NotifyConsumerConversationChange
			}
			c.send(ums.NewNotification(ntype, ums.ConversationChangeBody{
				SubscriptionID: sub.id, Changes: []ums.ConversationChange{h.change(typ, conv)},
			}))
		}
	}
}

// subscribeExConversations answers aam.SubscribeExConversations on an
// agent connection: the agent's conversations, or with agentIds those of
// other agents (which needs conversation:view-all). The answer goes first,
// then the conversations that exist already, then every later change.
//
// The conversations that exist already go in notifications of at most
// changesPerFrame, each built under h.mu of its own: when a restarted node
// holds 100,000s of conversations and 100s of bots subscribe at once, no
// bot waits for every other bot's whole snapshot (which made their
// subscriptions time out). A change between two chunks is notified as it
// happens (the subscription is registered first) and a chunk renders each
// conversation as it is when the chunk is built, so the agent never sees an
// older state after a newer one.
func (h *Hub) subscribeExConversations(ctx context.Context, c *conn, req *ums.Request) (any, error) {
	var b ums.SubscribeExConversationsBody
	if err := ums.DecodeBody(req, &b); err != nil {
		return nil, err
	}
	s := c.sess
	sub := &convSub{id: newID(), states: b.ConvState, consumer: botrelay.ConsumerID(b.ConsumerID)}
	for _, a := range b.AgentIDs {
		u, err := h.resolveUser(ctx, a)
		if err != nil {
			return nil, botrelay.Errorf(botrelay.EINVALID, "agentIds: user %q not found", a)
		}
		if u.ID != s.user.ID && !s.viewAll {
			return nil, botrelay.Errorf(botrelay.EFORBIDDEN, "viewing other agents' conversations needs the %s permission", botrelay.PermConvViewAll)
		}
		sub.agentIDs = append(sub.agentIDs, u.ID)
	}
	h.mu.Lock()
	c.convSubs[sub.id] = sub
	var matched []*convState
	h.subCandidates(c, sub, func(cs *convState) {
		if h.subMatches(c, sub, cs.c) {
			matched = append(matched, cs)
		}
	})
	c.send(ums.OK(req, map[string]string{"subscriptionId": sub.id}))
	h.mu.Unlock()
	// In notifications of at most changesPerFrame conversations: a bot
	// holding tens of thousands would otherwise get one frame larger
	// than a websocket client accepts (16 MiB in the adapter). They are
	// queued before this request returns, so they reach the client before
	// the answer to its next request: the liveperson adapter takes the
	// conversations listed by then as the whole listing and lets go of the
	// rest (sending the chunks from a goroutine of their own let a bot
	// with 5,000 conversations go of most of them after a restart).
	for len(matched) > 0 {
		n := min(len(matched), changesPerFrame)
		h.sendSnapshot(c, sub, matched[:n])
		matched = matched[n:]
	}
	return errAnswered, nil
}

// subCandidates calls f with every open conversation a subscription may see:
// those of its agents (byUser), or all for a subscription that sees more.
// The caller holds h.mu.
func (h *Hub) subCandidates(c *conn, sub *convSub, f func(*convState)) {
	users := sub.agentIDs
	if len(users) == 0 && c.consumer == "" && !c.sess.viewAll {
		users = []botrelay.UserID{c.sess.user.ID}
	}
	if len(users) == 0 {
		for _, cs := range h.convs {
			f(cs)
		}
		return
	}
	seen := map[*convState]bool{}
	for _, u := range users {
		for cs := range h.byUser[u] {
			if !seen[cs] {
				seen[cs] = true
				f(cs)
			}
		}
	}
}

// sendSnapshot sends one notification of a new subscription's existing
// conversations, as they are now; those gone or no longer matching since
// are left out (their change was notified).
func (h *Hub) sendSnapshot(c *conn, sub *convSub, chunk []*convState) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c.convSubs[sub.id] != sub {
		return // unsubscribed meanwhile
	}
	changes := make([]ums.ConversationChange, 0, len(chunk))
	for _, cs := range chunk {
		if h.convs[cs.c.ID] == cs && h.subMatches(c, sub, cs.c) {
			changes = append(changes, h.change("UPSERT", cs.c))
		}
	}
	if len(changes) > 0 {
		c.send(ums.NewNotification(ums.NotifyExConversationChange, ums.ConversationChangeBody{SubscriptionID: sub.id, Changes: changes}))
	}
}

// unsubscribeExConversations answers an agent's UnsubscribeExConversations;
// an unknown subscription is not found.
func (h *Hub) unsubscribeExConversations(_ context.Context, c *conn, req *ums.Request) (any, error) {
	var b struct {
		SubscriptionID string `json:"subscriptionId"`
	}
	if err := ums.DecodeBody(req, &b); err != nil {
		return nil, err
	}
	h.mu.Lock()
	_, ok := c.convSubs[b.SubscriptionID]
	delete(c.convSubs, b.SubscriptionID)
	h.mu.Unlock()
	if !ok {
		return nil, botrelay.Errorf(botrelay.ENOTFOUND, "subscription %q not found", b.SubscriptionID)
	}
	return nil, nil
}

// subscribeAgentsState answers routing.SubscribeAgentsState: the answer
// carries the subscription id a client routes the notifications by, so it
// goes first, then the agent's current state.
func (h *Hub) subscribeAgentsState(_ context.Context, c *conn, req *ums.Request) (any, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c.stateSub = newID()
	c.send(ums.OK(req, map[string]string{"subscriptionId": c.stateSub}))
	h.sendAgentState(c)
	return errAnswered, nil
}
