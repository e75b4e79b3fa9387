package hub

import (
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"strconv"
	"strings"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/ums"
)

// Routes registers every hub route on mux: the domain lookup, agent login,
// the agent and consumer websockets, consumer tokens, files, skills, and the
// pages (/ and /agent and /static/).
func (h *Hub) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/account/{account}/service/baseURI.json", h.handleBaseURI)
	mux.HandleFunc("POST /api/account/{account}/login", h.handleLogin)
	mux.HandleFunc("POST /api/account/{account}/refresh", h.handleRefresh)
	mux.HandleFunc("POST /api/account/{account}/logout", h.handleLogout)
	mux.HandleFunc("GET /api/account/{account}/skills", h.handleSkills)
	mux.HandleFunc("POST /api/account/{account}/consumer/token", h.handleConsumerToken)
	mux.HandleFunc("POST /api/account/{account}/consumer/files", h.handleUpload)
	mux.HandleFunc("GET /api/account/{account}/files/{path...}", h.handleDownload)
	mux.HandleFunc("GET /ws_api/account/{account}/messaging/brand/{token}", h.handleAgentWS)
	mux.HandleFunc("GET /ws_api/account/{account}/messaging/consumer", h.handleConsumerWS)
	// The pages ask which account this hub serves; the id is public (it is
	// in every URL above).
	mux.HandleFunc("GET /api/hub/config", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-cache")
		_ = json.NewEncoder(w).Encode(map[string]string{"account": string(h.o.Account)})
	})

	page := func(name, frameAncestors string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			b, err := fs.ReadFile(h.web, name)
			if err != nil {
				http.NotFound(w, r)
				return
			}
			hd := w.Header()
			hd.Set("Content-Type", "text/html; charset=utf-8")
			hd.Set("Cache-Control", "no-cache")
			setPageHeaders(hd, frameAncestors)
			_, _ = w.Write(b)
		}
	}
	mux.HandleFunc("GET /{$}", page("index.html", h.o.FrameAncestors))
	mux.HandleFunc("GET /agent", page("agent.html", ""))
	static := http.FileServerFS(h.web)
	mux.Handle("GET /static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setPageHeaders(w.Header(), "")
		static.ServeHTTP(w, r)
	}))
}

// setPageHeaders sets the security headers of a page on hd: a
// Content-Security-Policy that allows scripts, styles and connections only
// from this server and nothing inline (images may also come from https
// URLs, as bots' structured content has them, and from data: and blob:),
// the frame-ancestors source list (empty: 'none', and X-Frame-Options
// DENY for old browsers), nosniff and no referrer.
func setPageHeaders(hd http.Header, frameAncestors string) {
	fa := strings.Join(strings.Fields(frameAncestors), " ")
	if fa == "" {
		fa = "'none'"
		hd.Set("X-Frame-Options", "DENY")
	} else {
		hd.Del("X-Frame-Options")
	}
	hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; "+
		"img-src 'self' data: blob: https:; connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors "+fa)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
}

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
	s := h.bearerSession(tok)
	if s == nil {
		unauthorized(w, "the bearer is not a valid session; log in again")
		return
	}
	if err := h.waitReady(r.Context()); err != nil {
		writeError(w, botrelay.Errorf(botrelay.EUNAVAILABLE, "the hub is starting"))
		return
	}
	c, err := h.accept(w, r)
	if err != nil {
		return
	}
	c.sess = s
	h.mu.Lock()
	if h.closing || h.sessions[s.bearer] != s {
		h.mu.Unlock()
		c.close(CloseSessionEnded, "session ended")
		return
	}
	prev := s.conn
	s.conn = c
	h.conns[c] = struct{}{}
	h.connWG.Add(1)
	defer h.connWG.Done()
	if prev != nil {
		delete(h.conns, prev)
	}
	h.mu.Unlock()
	if prev != nil {
		prev.close(CloseSessionReplaced, "another connection of this user took over")
	}
	h.log.Info("agent connected", "user_id", int64(s.user.ID))
	c.serve(context.WithoutCancel(r.Context()), func(ctx context.Context, req *ums.Request) (any, error) {
		return h.agentRequest(ctx, c, s, req)
	})
	h.mu.Lock()
	delete(h.conns, c)
	if s.conn == c {
		s.conn = nil
		h.reroute(s.user.ID)
	}
	h.mu.Unlock()
	h.log.Info("agent disconnected", "user_id", int64(s.user.ID))
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
	if err := h.waitReady(r.Context()); err != nil {
		writeError(w, botrelay.Errorf(botrelay.EUNAVAILABLE, "the hub is starting"))
		return
	}
	c, err := h.accept(w, r)
	if err != nil {
		return
	}
	c.consumer = id
	h.mu.Lock()
	if h.closing {
		h.mu.Unlock()
		c.close(CloseGoingAway, "server shutting down")
		return
	}
	h.conns[c] = struct{}{}
	if h.consumerConns[id] == nil {
		h.consumerConns[id] = map[*conn]struct{}{}
	}
	h.consumerConns[id][c] = struct{}{}
	h.connWG.Add(1)
	defer h.connWG.Done()
	h.mu.Unlock()
	c.serve(context.WithoutCancel(r.Context()), func(ctx context.Context, req *ums.Request) (any, error) {
		return h.consumerRequest(ctx, c, req)
	})
	h.mu.Lock()
	delete(h.conns, c)
	delete(h.consumerConns[id], c)
	if len(h.consumerConns[id]) == 0 {
		delete(h.consumerConns, id)
	}
	h.mu.Unlock()
}

func notSupported(req *ums.Request) error {
	return ums.Errorf(http.StatusBadRequest, botrelay.ENOTIMPLEMENTED, "request type %q is not supported", req.Type)
}

// agentRequest answers one agent request.
func (h *Hub) agentRequest(ctx context.Context, c *conn, s *session, req *ums.Request) (any, error) {
	switch ums.Canonical(req.Type) {
	case "GetClock":
		return map[string]int64{"currentTime": ms(h.now())}, nil
	case "routing.SetAgentState":
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
		s.state = b.Availability
		if b.Availability == StateOnline {
			h.dispatch()
		} else {
			h.reroute(s.user.ID)
		}
		// The answer goes before the state notification it causes.
		c.send(ums.OK(req, nil))
		h.sendAgentState(c)
		h.mu.Unlock()
		return errAnswered, nil
	case "routing.SubscribeAgentsState":
		h.mu.Lock()
		c.stateSub = newID()
		id := c.stateSub
		// The answer carries the subscription id a client routes the
		// notifications by, so it goes first.
		c.send(ums.OK(req, map[string]string{"subscriptionId": id}))
		h.sendAgentState(c)
		h.mu.Unlock()
		return errAnswered, nil
	case "routing.SubscribeRoutingTasks":
		h.mu.Lock()
		c.routingSub = newID()
		id := c.routingSub
		// Re-send the rings this agent already has.
		for _, r := range h.rings {
			if r.user == s.user.ID {
				if cs := h.convs[r.conv]; cs != nil {
					h.sendRing(c, cs.c, r, "UPSERT", "WAITING")
				}
			}
		}
		h.dispatch()
		h.mu.Unlock()
		return map[string]string{"subscriptionId": id}, nil
	case "routing.UpdateRoutingTaskSubscription":
		return nil, nil
	case "routing.UpdateRingState":
		var b struct {
			RingID    string `json:"ringId"`
			RingState string `json:"ringState"`
		}
		if err := ums.DecodeBody(req, &b); err != nil {
			return nil, err
		}
		return nil, h.updateRing(ctx, s, b.RingID, b.RingState)
	case "aam.SubscribeExConversations":
		var b ums.SubscribeExConversationsBody
		if err := ums.DecodeBody(req, &b); err != nil {
			return nil, err
		}
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
		var changes []ums.ConversationChange
		for _, cs := range h.convs {
			if h.subMatches(c, sub, cs.c) {
				changes = append(changes, h.change("UPSERT", cs.c))
			}
		}
		// The answer goes first, then the conversations that exist already,
		// then (after h.mu is released) every later change.
		c.send(ums.OK(req, map[string]string{"subscriptionId": sub.id}))
		// In notifications of at most changesPerFrame conversations: a bot
		// holding tens of thousands would otherwise get one frame larger
		// than a websocket client accepts (16 MiB in the adapter).
		for len(changes) > 0 {
			n := min(len(changes), changesPerFrame)
			c.send(ums.NewNotification(ums.NotifyExConversationChange, ums.ConversationChangeBody{SubscriptionID: sub.id, Changes: changes[:n]}))
			changes = changes[n:]
		}
		h.mu.Unlock()
		return errAnswered, nil
	case "aam.UnsubscribeExConversations", "cqm.UnsubscribeExConversations":
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
	case "ms.PublishEvent":
		return h.publish(ctx, c, req)
	case "ms.QueryMessages":
		return h.queryMessages(ctx, c, req)
	case "cm.UpdateConversationField":
		return h.updateConversation(ctx, c, req)
	case "ms.GenerateURLForDownloadFile":
		var b struct {
			RelativePath string `json:"relativePath"`
		}
		if err := ums.DecodeBody(req, &b); err != nil {
			return nil, err
		}
		return h.downloadURL(s, c.host, b.RelativePath)
	case "userprofile.GetUserProfile":
		return h.userProfile(ctx, c, s, req)
	}
	return nil, notSupported(req)
}

// changesPerFrame bounds the conversations of one ExConversationChange
// notification sent for a new subscription.
const changesPerFrame = 500

// answered is the body a handler returns when it sent its own answer.
type answered struct{}

var errAnswered = answered{}

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

// consumerRequest answers one consumer request.
func (h *Hub) consumerRequest(ctx context.Context, c *conn, req *ums.Request) (any, error) {
	switch ums.Canonical(req.Type) {
	case "GetClock":
		return map[string]int64{"currentTime": ms(h.now())}, nil
	case "cm.ConsumerRequestConversation":
		return h.requestConversation(ctx, c, req)
	case "ms.PublishEvent":
		return h.publish(ctx, c, req)
	case "ms.QueryMessages":
		return h.queryMessages(ctx, c, req)
	case "cm.UpdateConversationField":
		return h.updateConversation(ctx, c, req)
	case "cqm.SubscribeExConversations", "aam.SubscribeExConversations":
		var b ums.SubscribeExConversationsBody
		if err := ums.DecodeBody(req, &b); err != nil {
			return nil, err
		}
		sub := &convSub{id: newID(), states: b.ConvState}
		list, err := h.store.Conversations(ctx, h.o.Account, botrelay.ConversationFilter{ConsumerID: c.consumer, Limit: 20})
		if err != nil {
			return nil, err
		}
		h.ensureUsers(ctx, list...)
		h.mu.Lock()
		c.convSubs[sub.id] = sub
		var changes []ums.ConversationChange
		for _, conv := range list {
			if cs := h.convs[conv.ID]; cs != nil {
				conv = cs.c // the live state
			}
			if h.subMatches(c, sub, conv) {
				changes = append(changes, h.change("UPSERT", conv))
			}
		}
		c.send(ums.OK(req, map[string]string{"subscriptionId": sub.id}))
		if len(changes) > 0 {
			c.send(ums.NewNotification(ums.NotifyConsumerConversationChange, ums.ConversationChangeBody{SubscriptionID: sub.id, Changes: changes}))
		}
		h.mu.Unlock()
		return errAnswered, nil
	case "cqm.UnsubscribeExConversations":
		var b struct {
			SubscriptionID string `json:"subscriptionId"`
		}
		if err := ums.DecodeBody(req, &b); err != nil {
			return nil, err
		}
		h.mu.Lock()
		delete(c.convSubs, b.SubscriptionID)
		h.mu.Unlock()
		return nil, nil
	case "ms.SubscribeMessagingEvents":
		return h.subscribeMessaging(ctx, c, req)
	}
	return nil, notSupported(req)
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

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
