package hub

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"

	"github.com/botrelay/botrelay"
	"github.com/coder/websocket"
)

// Agent sessions are kept in the store, which is authoritative: a login
// inserts the session (ending the user's other sessions), a refresh extends
// it, a logout ends it. A node keeps the sessions it served in memory and
// trusts one for at most Options.SessionRecheck before it reads the store
// again; a websocket connect always reads the store, and Run re-reads the
// sessions of connected agents every SessionRecheck, so a logout or a new
// login on another node closes this node's connection within about that
// time.

// hashToken is the hex SHA-256 of a token, the form the store keeps.
func hashToken(t string) string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:])
}

// bearerSession returns the live session of a bearer, or nil. fresh reads
// the store even when the cached session was checked recently.
func (h *Hub) bearerSession(ctx context.Context, bearer string, fresh bool) *session {
	if bearer == "" {
		return nil
	}
	return h.lookupSession(ctx, hashToken(bearer), false, fresh)
}

// cookieSession finds the session of the Session_id cookie with a matching
// csrf value.
func (h *Hub) cookieSession(r *http.Request, csrf string) *session {
	ck, err := r.Cookie("Session_id")
	if err != nil || ck.Value == "" {
		return nil
	}
	s := h.lookupSession(r.Context(), hashToken(ck.Value), true, false)
	if s == nil || subtle.ConstantTimeCompare([]byte(s.csrfHash), []byte(hashToken(csrf))) != 1 {
		return nil
	}
	return s
}

// lookupSession finds a live session by the hash of its bearer (or of its
// cookie): from memory when the store confirmed it less than
// SessionRecheck ago and fresh is false, else from the store.
func (h *Hub) lookupSession(ctx context.Context, hash string, byCookie, fresh bool) *session {
	now := h.now()
	h.mu.Lock()
	s := h.sessions[hash]
	if byCookie {
		s = h.cookies[hash]
	}
	if s != nil && !fresh && s.expires.After(now) && now.Sub(s.checked) < h.o.SessionRecheck {
		h.mu.Unlock()
		return s
	}
	h.mu.Unlock()
	var a *botrelay.AgentSession
	var err error
	if byCookie {
		a, err = h.store.AgentSessionByCookie(ctx, hash)
	} else {
		a, err = h.store.AgentSession(ctx, hash)
	}
	if err != nil && botrelay.ErrorCode(err) != botrelay.ENOTFOUND {
		// The store is unreachable: a session this node knows stays
		// valid until it expires, a new one cannot be checked.
		h.log.Warn("read agent session", "err", err)
		if s != nil && s.expires.After(now) {
			return s
		}
		return nil
	}
	return h.applyStored(ctx, s, a)
}

// applyStored brings the cached session s (nil when none) in line with the
// stored one a (nil when the store has none) and returns the live session,
// or nil: an ended, expired or missing session is dropped and its
// websocket closed.
func (h *Hub) applyStored(ctx context.Context, s *session, a *botrelay.AgentSession) *session {
	now := h.now()
	if a == nil || a.Ended != "" || !a.ExpiresAt.After(now) || a.AccountID != h.o.Account {
		if s != nil {
			code, why := CloseSessionEnded, "session ended"
			if a != nil && a.Ended == botrelay.AgentSessionReplaced {
				code, why = CloseSessionReplaced, "another login of this user took over"
			}
			h.endSession(s, code, why)
		}
		return nil
	}
	if s != nil {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.sessions[s.bearerHash] != s {
			return nil // dropped meanwhile
		}
		s.expires, s.checked = a.ExpiresAt, now
		return s
	}
	ns, err := h.loadSession(ctx, a)
	if err != nil {
		h.log.Warn("load agent session", "user_id", int64(a.UserID), "err", err)
		return nil
	}
	return h.adoptSession(ns)
}

// loadSession makes the in-memory session of a stored one, with its user's
// current profile and survey role.
func (h *Hub) loadSession(ctx context.Context, a *botrelay.AgentSession) (*session, error) {
	user, err := h.store.User(ctx, a.UserID)
	if err != nil {
		return nil, err
	}
	if user.AccountID != h.o.Account {
		return nil, botrelay.Errorf(botrelay.ENOTFOUND, "user %d not found", a.UserID)
	}
	prof, err := h.store.Profile(ctx, user.ProfileID)
	if err != nil {
		return nil, err
	}
	s := &session{bearerHash: a.BearerHash, cookieHash: a.CookieHash, csrfHash: a.CSRFHash, user: user,
		viewAll: prof.Has(botrelay.PermConvViewAll), created: a.CreatedAt, expires: a.ExpiresAt, checked: h.now()}
	if user.Type == botrelay.UserBot {
		if s.survey, s.surveySkills, err = h.surveyRole(ctx, user.ID); err != nil {
			return nil, err
		}
		// A bot that reconnects with its bearer (to a new router in a
		// cluster) keeps its share of the split.
		if s.weight, err = h.routingWeight(ctx, user.ID); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// adoptSession caches a session read from the store. A session of the
// same user this node knows is older (the store keeps one live session per
// user), so it ends as replaced; when the one this node knows is newer, s
// is stale and nil is returned.
func (h *Hub) adoptSession(s *session) *session {
	h.mu.Lock()
	if cur := h.sessions[s.bearerHash]; cur != nil {
		h.mu.Unlock()
		return cur
	}
	old := h.userSession[s.user.ID]
	if old != nil && old.created.After(s.created) {
		h.mu.Unlock()
		return nil
	}
	h.mu.Unlock()
	if old != nil {
		h.endSession(old, CloseSessionReplaced, "another login of this user took over")
	}
	h.startSession(s)
	return s
}

// endSession forgets s, when it is still current, and closes its
// websocket with code.
func (h *Hub) endSession(s *session, code websocket.StatusCode, why string) {
	h.mu.Lock()
	if h.sessions[s.bearerHash] == s {
		h.dropSession(s)
	}
	c := s.conn
	s.conn = nil
	h.mu.Unlock()
	if c != nil {
		c.close(code, why)
	}
}

// dropSession forgets s. The caller holds h.mu and closes s.conn.
func (h *Hub) dropSession(s *session) {
	delete(h.sessions, s.bearerHash)
	delete(h.cookies, s.cookieHash)
	if h.userSession[s.user.ID] == s {
		delete(h.userSession, s.user.ID)
	}
	h.reroute(s.user.ID)
}

// sweepSessions forgets expired sessions and, when this node is the active
// one, deletes the expired sessions from the store.
func (h *Hub) sweepSessions(ctx context.Context) {
	now := h.now()
	h.mu.Lock()
	var expired []*session
	for _, s := range h.sessions {
		if !s.expires.After(now) {
			expired = append(expired, s)
		}
	}
	h.mu.Unlock()
	for _, s := range expired {
		// Another node may have extended it: the store decides.
		h.recheck(ctx, s)
	}
	if !h.o.Active() {
		return
	}
	if n, err := h.store.DeleteAgentSessions(ctx, now); err != nil {
		h.log.Warn("delete expired agent sessions", "err", err)
	} else if n > 0 {
		h.log.Info("deleted expired agent sessions", "count", n)
	}
}

// recheckSessions reads the sessions of the connected agents from the
// store, in one query, so that a logout or another login elsewhere closes their
// websockets here.
func (h *Hub) recheckSessions(ctx context.Context) {
	h.mu.Lock()
	var list []*session
	for _, s := range h.sessions {
		if s.conn != nil {
			list = append(list, s)
		}
	}
	h.mu.Unlock()
	if len(list) == 0 {
		return
	}
	hashes := make([]string, len(list))
	for i, s := range list {
		hashes[i] = s.bearerHash
	}
	stored, err := h.store.AgentSessions(ctx, hashes)
	if err != nil {
		h.log.Warn("recheck agent sessions", "err", err)
		return
	}
	byHash := make(map[string]*botrelay.AgentSession, len(stored))
	for _, a := range stored {
		byHash[a.BearerHash] = a
	}
	for _, s := range list {
		h.applyStored(ctx, s, byHash[s.bearerHash])
	}
}

// recheck reads s from the store and applies what it says; a store error
// keeps s.
func (h *Hub) recheck(ctx context.Context, s *session) {
	a, err := h.store.AgentSession(ctx, s.bearerHash)
	if err != nil && botrelay.ErrorCode(err) != botrelay.ENOTFOUND {
		h.log.Warn("recheck agent session", "err", err)
		if !s.expires.After(h.now()) {
			h.endSession(s, CloseSessionEnded, "session expired")
		}
		return
	}
	h.applyStored(ctx, s, a)
}
