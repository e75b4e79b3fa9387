package hub

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/ums"
)

// Agent availability states.
const (
	StateOnline   = "ONLINE"
	StateAway     = "AWAY"
	StateOccupied = "OCCUPIED"
)

// dispatch rings an agent for every waiting conversation that has no ring
// yet and has an agent available. A conversation with a suggested agent
// rings that agent first. Among the agents of the skill who are ONLINE,
// connected, subscribed to routing tasks and have a free messaging slot, the
// least loaded one is rung, and among equals the one rung longest ago. An
// agent that let a ring expire or rejected it is not rung again for that
// conversation until every candidate was tried. The caller holds h.mu.
func (h *Hub) dispatch() {
	if h.closing {
		return
	}
	free := h.anyFree()
	for _, id := range h.waiting {
		if !free {
			return // nobody can take more: no need to look at the rest
		}
		cs := h.convs[id]
		if cs == nil || cs.ring != nil {
			continue
		}
		cands := h.candidates(cs)
		if len(cands) == 0 && len(cs.tried) > 0 {
			cs.tried = nil // start over with everyone
			cands = h.candidates(cs)
		}
		if len(cands) == 0 {
			continue
		}
		var pick *session
		if cs.suggested != 0 && !cs.tried[cs.suggested] {
			for _, s := range cands {
				if s.user.ID == cs.suggested {
					pick = s
				}
			}
		}
		if pick == nil {
			pick = h.splitPick(cs, cands)
		}
		if pick == nil {
			slices.SortFunc(cands, func(a, b *session) int {
				la, lb := h.busy(a.user.ID), h.busy(b.user.ID)
				if la != lb {
					return la - lb
				}
				return a.lastRing.Compare(b.lastRing)
			})
			pick = cands[0]
		}
		h.startRing(cs, pick)
		free = h.anyFree()
	}
}

// anyFree reports whether some agent could be rung: online, subscribed to
// routing tasks, and below its slots. The caller holds h.mu.
func (h *Hub) anyFree() bool {
	for _, s := range h.userSession {
		if c := s.conn; c != nil && c.routingSub != "" && s.state == StateOnline && h.busy(s.user.ID) < s.user.MessagingSlots {
			return true
		}
	}
	return false
}

// busy is a user's assigned open conversations plus the rings it has.
// Both are counted as they change: dispatch asks for every candidate of
// every waiting conversation, and counting the rings here made a dispatch
// with thousands of rings (a node restarted with many conversations)
// quadratic.
func (h *Hub) busy(u botrelay.UserID) int { return h.load[u] + h.ringsOf[u] }

// addRing and dropRing keep rings and ringsOf together; the caller holds
// h.mu.
func (h *Hub) addRing(r *ring) {
	h.rings[r.id] = r
	h.ringsOf[r.user]++
}

func (h *Hub) dropRing(r *ring) {
	if h.rings[r.id] != r {
		return
	}
	delete(h.rings, r.id)
	if h.ringsOf[r.user]--; h.ringsOf[r.user] <= 0 {
		delete(h.ringsOf, r.user)
	}
}

func (h *Hub) candidates(cs *convState) []*session {
	var out []*session
	for _, s := range h.userSession {
		c := s.conn
		if c == nil || c.routingSub == "" || s.state != StateOnline || cs.tried[s.user.ID] {
			continue
		}
		if inSurvey(cs.c) {
			if !s.servesSurvey(cs.c.SkillID) {
				continue
			}
		} else if s.survey || (!slices.Contains(s.user.SkillIDs, cs.c.SkillID) && s.user.ID != cs.suggested) {
			continue
		}
		if h.busy(s.user.ID) >= s.user.MessagingSlots {
			continue
		}
		out = append(out, s)
	}
	return out
}

func (h *Hub) startRing(cs *convState, s *session) {
	h.nextID++
	r := &ring{
		id:      fmt.Sprintf("%s_%d", cs.c.ID, h.nextID),
		conv:    cs.c.ID,
		user:    s.user.ID,
		expires: h.now().Add(h.o.RingTimeout),
	}
	r.timer = time.AfterFunc(h.o.RingTimeout, func() { h.expireRing(r.id) })
	cs.ring = r
	h.addRing(r)
	s.lastRing = h.now()
	if s.user.Type == botrelay.UserHuman {
		h.loadPreview(cs)
	}
	h.log.Debug("ring", "conversation_id", string(cs.c.ID), "ring_id", r.id, "user_id", int64(s.user.ID))
	h.sendRing(s.conn, cs.c, r, "UPSERT", "WAITING")
}

// sendRing sends a routing task notification about r to c.
func (h *Hub) sendRing(c *conn, conv *botrelay.Conversation, r *ring, changeType, state string) {
	if c == nil || c.routingSub == "" {
		return
	}
	skill := strconv.FormatInt(int64(conv.SkillID), 10)
	res := ums.RoutingTaskResult{
		RoutingTaskID:  r.id,
		BrandID:        string(h.o.Account),
		ConversationID: string(conv.ID),
		ConsumerID:     string(conv.ConsumerID),
		SkillID:        skill,
		RingsDetails: []ums.RingDetails{{
			RingID: r.id, RingState: state, RingExpirationTs: ms(r.expires), Weight: 1,
			BrandID: string(h.o.Account), ConvID: string(conv.ID), ConsumerID: string(conv.ConsumerID), SkillID: skill,
		}},
	}
	if state == "ACCEPTED" {
		res.AssignedAgentID = h.legacyID(r.user)
	}
	if state == "WAITING" {
		res.ConsumerName = consumerName(conv.Context)
		if cs := h.convs[conv.ID]; cs != nil {
			res.LastConsumerMessage, res.LastConsumerMessageTs, res.WaitingSinceTs = cs.preview, ms(cs.previewAt), ms(cs.waitSince)
		}
	}
	c.send(ums.NewNotification(ums.NotifyRoutingTask, ums.RoutingTaskBody{
		SubscriptionID: c.routingSub,
		Changes:        []ums.RoutingTaskChange{{Type: changeType, Result: res}},
	}))
}

// cancelRing withdraws the conversation's ring, telling the agent with
// state (CANCELLED, EXPIRED, REJECTED). The caller holds h.mu.
func (h *Hub) cancelRing(cs *convState, state string) {
	r := cs.ring
	if r == nil {
		return
	}
	r.timer.Stop()
	h.dropRing(r)
	cs.ring = nil
	if s := h.userSession[r.user]; s != nil {
		h.sendRing(s.conn, cs.c, r, "DELETE", state)
	}
}

// expireRing moves an unanswered ring on to the next agent.
func (h *Hub) expireRing(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.rings[id]
	if r == nil {
		return
	}
	cs := h.convs[r.conv]
	if cs == nil || cs.ring != r {
		h.dropRing(r)
		return
	}
	h.log.Info("ring expired", "conversation_id", string(r.conv), "ring_id", id, "user_id", int64(r.user))
	cs.markTried(r.user)
	h.cancelRing(cs, "EXPIRED")
	h.dispatch()
}

// reroute takes the rings of a user away (its websocket closed or it left
// ONLINE) and rings other agents. The caller holds h.mu.
func (h *Hub) reroute(u botrelay.UserID) {
	for _, r := range h.rings {
		if r.user != u {
			continue
		}
		if cs := h.convs[r.conv]; cs != nil && cs.ring == r {
			cs.markTried(u)
			h.cancelRing(cs, "CANCELLED")
		}
	}
	h.dispatch()
}

// legacyID is a user's id in the protocol's legacy form "<account>.<userId>".
func (h *Hub) legacyID(u botrelay.UserID) string {
	return string(h.o.Account) + "." + strconv.FormatInt(int64(u), 10)
}

// updateRing accepts or rejects a ring.
func (h *Hub) updateRing(ctx context.Context, s *session, ringID, state string) error {
	h.mu.Lock()
	r := h.rings[ringID]
	var cs *convState
	if r != nil {
		cs = h.convs[r.conv]
	}
	if r == nil || cs == nil || cs.ring != r || r.user != s.user.ID {
		h.mu.Unlock()
		return botrelay.Errorf(botrelay.ENOTFOUND, "ring %q is not waiting for you", ringID)
	}
	switch state {
	case "ACCEPTED":
	case "REJECTED":
		cs.markTried(s.user.ID)
		h.cancelRing(cs, "REJECTED")
		h.dispatch()
		h.mu.Unlock()
		return nil
	default:
		h.mu.Unlock()
		return botrelay.Errorf(botrelay.EINVALID, "ringState must be ACCEPTED or REJECTED")
	}
	h.mu.Unlock()

	err := h.acceptRing(ctx, s, cs, r)
	if err != nil {
		// The assignment was not stored: the conversation still waits.
		h.mu.Lock()
		h.dispatch()
		h.mu.Unlock()
	}
	return err
}

// acceptRing assigns r's conversation to the session's user, unless the
// ring was withdrawn meanwhile, and tells the agent the ring is ACCEPTED.
func (h *Hub) acceptRing(ctx context.Context, s *session, cs *convState, r *ring) error {
	return h.mutate(ctx, cs, func(conv *botrelay.Conversation) error {
		h.mu.Lock()
		ok := cs.ring == r && conv.AssignedAgent() == 0
		if ok {
			// Detach the ring so it neither expires nor is reported as
			// cancelled while the assignment is stored.
			r.timer.Stop()
			h.dropRing(r)
			cs.ring = nil
		}
		h.mu.Unlock()
		if !ok {
			return botrelay.Errorf(botrelay.ECONFLICT, "ring %q is no longer waiting", r.id)
		}
		kept := conv.Participants[:0]
		for _, p := range conv.Participants {
			if p.State != botrelay.ParticipantStateSuggested {
				kept = append(kept, p)
			}
		}
		conv.Participants = append(kept, botrelay.Participant{UserID: s.user.ID, Role: botrelay.ParticipantAssignedAgent,
			State: botrelay.ParticipantStateActive, JoinedAt: h.now()})
		return nil
	}, func(conv *botrelay.Conversation) {
		if c := s.conn; c != nil {
			h.sendRing(c, conv, r, "UPSERT", "ACCEPTED")
		}
	})
}

// setAgentState answers routing.SetAgentState: ONLINE rings the agent for
// waiting conversations, AWAY and OCCUPIED take its rings away. The answer
// goes before the state notification it causes.
func (h *Hub) setAgentState(_ context.Context, c *conn, req *ums.Request) (any, error) {
	var b struct {
		Availability string `json:"availability"`
	}
	if err := ums.DecodeBody(req, &b); err != nil {
		return nil, err
	}
	switch b.Availability {
	case StateOnline, StateAway, StateOccupied:
	default:
		return nil, botrelay.Errorf(botrelay.EINVALID, "availability must be ONLINE, AWAY or OCCUPIED")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	c.sess.state = b.Availability
	if b.Availability == StateOnline {
		h.dispatch()
	} else {
		h.reroute(c.sess.user.ID)
	}
	c.send(ums.OK(req, nil))
	h.sendAgentState(c)
	return errAnswered, nil
}

// subscribeRoutingTasks answers routing.SubscribeRoutingTasks: it re-sends
// the rings the agent already has and rings it for waiting conversations.
func (h *Hub) subscribeRoutingTasks(_ context.Context, c *conn, _ *ums.Request) (any, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c.routingSub = newID()
	for _, r := range h.rings {
		if r.user == c.sess.user.ID {
			if cs := h.convs[r.conv]; cs != nil {
				h.sendRing(c, cs.c, r, "UPSERT", "WAITING")
			}
		}
	}
	h.dispatch()
	return map[string]string{"subscriptionId": c.routingSub}, nil
}

// updateRoutingTaskSubscription accepts routing.UpdateRoutingTaskSubscription
// and changes nothing: every subscription sees every ring of its agent.
func (h *Hub) updateRoutingTaskSubscription(context.Context, *conn, *ums.Request) (any, error) {
	return nil, nil
}

// updateRingState answers routing.UpdateRingState (see updateRing).
func (h *Hub) updateRingState(ctx context.Context, c *conn, req *ums.Request) (any, error) {
	var b struct {
		RingID    string `json:"ringId"`
		RingState string `json:"ringState"`
	}
	if err := ums.DecodeBody(req, &b); err != nil {
		return nil, err
	}
	return nil, h.updateRing(ctx, c.sess, b.RingID, b.RingState)
}
