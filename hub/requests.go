package hub

import (
	"context"
	"net/http"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/ums"
)

// handleAgentWS is the agent UMS websocket. The bearer comes from the
// Authorization header when present, else from the path.
func (h *Hub) handleAgentWS(w http.ResponseWriter, r *http.Request) {
	if !h.checkAccount(w, r) {
		return
	}
	tok := bearerFromHeader(r)
	if tok == "" {
		tok = r.PathValue("token")
	}
	s := h.bearerSession(r.Context(), tok, true)
	if s == nil {
		unauthorized(w, "the bearer is not a valid session; log in again")
		return
	}
	h.serveSocket(w, r, socket{
		setup:  func(c *conn) { c.sess = s },
		attach: h.attachAgent,
		handle: h.agentRequest,
		detach: h.detachAgent,
		opened: func() { h.log.Info("agent connected", "user_id", int64(s.user.ID)) },
		closed: func() { h.log.Info("agent disconnected", "user_id", int64(s.user.ID)) },
	})
}

// handleConsumerWS is the consumer websocket.
func (h *Hub) handleConsumerWS(w http.ResponseWriter, r *http.Request) {
	if !h.checkAccount(w, r) {
		return
	}
	id, err := h.consumerFromRequest(r)
	if err != nil {
		unauthorized(w, "a valid consumer token is required")
		return
	}
	h.serveSocket(w, r, socket{
		setup:  func(c *conn) { c.consumer = id },
		attach: h.attachConsumer,
		handle: h.consumerRequest,
		detach: h.detachConsumer,
	})
}

// socket is what differs between the agent's and the consumer's websocket:
// who the connection is (setup), how it joins and leaves the hub, and the
// table its requests go through.
type socket struct {
	setup          func(*conn)
	attach         func(*conn) bool
	handle         func(ctx context.Context, c *conn, req *ums.Request) (any, error)
	detach         func(*conn)
	opened, closed func() // optional log lines
}

// serveSocket waits for the hub to be ready, accepts the websocket, attaches
// it (counted in connWG), serves its requests until it ends, and detaches
// it.
func (h *Hub) serveSocket(w http.ResponseWriter, r *http.Request, s socket) {
	if err := h.waitReady(r.Context()); err != nil {
		writeError(w, botrelay.Errorf(botrelay.EUNAVAILABLE, "the hub is starting"))
		return
	}
	c, err := h.accept(w, r)
	if err != nil {
		return
	}
	s.setup(c)
	if !s.attach(c) {
		return
	}
	defer h.connWG.Done()
	if s.opened != nil {
		s.opened()
	}
	c.serve(context.WithoutCancel(r.Context()), func(ctx context.Context, req *ums.Request) (any, error) {
		return s.handle(ctx, c, req)
	})
	s.detach(c)
	if s.closed != nil {
		s.closed()
	}
}

// attachAgent makes c the connection of its session and counts it in
// connWG, unless the hub is closing or the session ended (then it closes c
// and returns false). The connection c replaces is closed with
// CloseSessionReplaced.
func (h *Hub) attachAgent(c *conn) bool {
	s := c.sess
	h.mu.Lock()
	if h.closing || h.sessions[s.bearerHash] != s {
		h.mu.Unlock()
		c.close(CloseSessionEnded, "session ended")
		return false
	}
	prev := s.conn
	s.conn = c
	h.conns[c] = struct{}{}
	h.connWG.Add(1)
	if prev != nil {
		delete(h.conns, prev)
	}
	h.mu.Unlock()
	if prev != nil {
		prev.close(CloseSessionReplaced, "another connection of this user took over")
	}
	return true
}

// detachAgent forgets the agent connection c once it has ended; when it was
// still its session's connection, the agent's rings go to other agents.
func (h *Hub) detachAgent(c *conn) {
	s := c.sess
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.conns, c)
	if s.conn == c {
		s.conn = nil
		h.reroute(s.user.ID)
	}
}

// attachConsumer registers the consumer connection c and counts it in
// connWG, unless the hub is closing (then it closes c and returns false).
func (h *Hub) attachConsumer(c *conn) bool {
	id := c.consumer
	h.mu.Lock()
	if h.closing {
		h.mu.Unlock()
		c.close(CloseGoingAway, "server shutting down")
		return false
	}
	h.conns[c] = struct{}{}
	if h.consumerConns[id] == nil {
		h.consumerConns[id] = map[*conn]struct{}{}
	}
	h.consumerConns[id][c] = struct{}{}
	h.connWG.Add(1)
	h.mu.Unlock()
	return true
}

// detachConsumer forgets the consumer connection c once it has ended.
func (h *Hub) detachConsumer(c *conn) {
	id := c.consumer
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.conns, c)
	delete(h.consumerConns[id], c)
	if len(h.consumerConns[id]) == 0 {
		delete(h.consumerConns, id)
	}
}

// handler answers one websocket request of c: it returns the answer's
// body, or errAnswered when it sent the answer itself (to put it before the
// notifications the request causes), or an error. On an agent connection
// c.sess is the agent's session; on a consumer's, c.consumer is set.
type handler func(h *Hub, ctx context.Context, c *conn, req *ums.Request) (any, error)

// agentHandlers maps the canonical type of an agent request to its handler.
var agentHandlers = map[string]handler{
	"GetClock": (*Hub).getClock,
	// User profiles (profile.go).
	"userprofile.GetUserProfile": (*Hub).userProfile,
	// Conversations (update.go).
	"cm.UpdateConversationField": (*Hub).updateConversation,
	// Messaging (messaging.go, files.go).
	"ms.PublishEvent":               (*Hub).publish,
	"ms.QueryMessages":              (*Hub).queryMessages,
	"ms.GenerateURLForDownloadFile": (*Hub).generateDownloadURL,
	// Subscriptions (subscriptions.go).
	"aam.SubscribeExConversations":   (*Hub).subscribeExConversations,
	"aam.UnsubscribeExConversations": (*Hub).unsubscribeExConversations,
	"cqm.UnsubscribeExConversations": (*Hub).unsubscribeExConversations,
	"routing.SubscribeAgentsState":   (*Hub).subscribeAgentsState,
	// Routing (routing.go).
	"routing.SetAgentState":                 (*Hub).setAgentState,
	"routing.SubscribeRoutingTasks":         (*Hub).subscribeRoutingTasks,
	"routing.UpdateRoutingTaskSubscription": (*Hub).updateRoutingTaskSubscription,
	"routing.UpdateRingState":               (*Hub).updateRingState,
}

// consumerHandlers maps the canonical type of a consumer request to its
// handler.
var consumerHandlers = map[string]handler{
	"GetClock": (*Hub).getClock,
	// Conversations (conversations.go, update.go).
	"cm.ConsumerRequestConversation": (*Hub).requestConversation,
	"cm.UpdateConversationField":     (*Hub).updateConversation,
	// Messaging (messaging.go).
	"ms.PublishEvent":             (*Hub).publish,
	"ms.QueryMessages":            (*Hub).queryMessages,
	"ms.SubscribeMessagingEvents": (*Hub).subscribeMessaging,
	// Subscriptions of the consumer's own conversations (consumer.go).
	"cqm.SubscribeExConversations":   (*Hub).subscribeConsumerConversations,
	"aam.SubscribeExConversations":   (*Hub).subscribeConsumerConversations,
	"cqm.UnsubscribeExConversations": (*Hub).unsubscribeConsumerConversations,
}

// agentRequest answers one agent request through agentHandlers.
func (h *Hub) agentRequest(ctx context.Context, c *conn, req *ums.Request) (any, error) {
	return h.handle(ctx, agentHandlers, c, req)
}

// consumerRequest answers one consumer request through consumerHandlers.
func (h *Hub) consumerRequest(ctx context.Context, c *conn, req *ums.Request) (any, error) {
	return h.handle(ctx, consumerHandlers, c, req)
}

// handle runs the handler of req's type in table, or answers that the type
// is not supported.
func (h *Hub) handle(ctx context.Context, table map[string]handler, c *conn, req *ums.Request) (any, error) {
	f := table[ums.Canonical(req.Type)]
	if f == nil {
		return nil, notSupported(req)
	}
	return f(h, ctx, c, req)
}

// notSupported is the error for a request type the table does not have.
func notSupported(req *ums.Request) error {
	return ums.Errorf(http.StatusBadRequest, botrelay.ENOTIMPLEMENTED, "request type %q is not supported", req.Type)
}

// getClock answers GetClock with the server's time.
func (h *Hub) getClock(_ context.Context, _ *conn, _ *ums.Request) (any, error) {
	return map[string]int64{"currentTime": ms(h.now())}, nil
}

// answered is the body a handler returns when it sent its own answer.
type answered struct{}

var errAnswered = answered{}
