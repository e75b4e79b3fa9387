package hub

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/botrelay/botrelay"
)

// The agent console's HTTP helpers, each authorised by the agent's bearer
// (Authorization: Bearer <bearer> from agentVep login): the account's
// canned replies, the agents a conversation can be transferred to, and an
// agent's file upload into a conversation. They are botrelay additions to
// the LivePerson-shaped API (docs/protocol.md).

// agentSession returns the live session of the request's bearer, or
// answers 401 and returns nil.
func (h *Hub) agentSession(w http.ResponseWriter, r *http.Request) *session {
	if !h.checkAccount(w, r) {
		return nil
	}
	s := h.bearerSession(r.Context(), bearerFromHeader(r), false)
	if s == nil {
		unauthorized(w, "an agent bearer is required (Authorization: Bearer <bearer> from login)")
	}
	return s
}

// handleCannedReplies lists the account's canned replies for an agent
// whose profile has canned:view: [{"id","title","text"}], by title.
func (h *Hub) handleCannedReplies(w http.ResponseWriter, r *http.Request) {
	s := h.agentSession(w, r)
	if s == nil {
		return
	}
	if err := h.mayUse(r.Context(), s.user, botrelay.PermCannedView); err != nil {
		writeError(w, err)
		return
	}
	list, err := h.store.CannedReplies(r.Context(), h.o.Account)
	if err != nil {
		writeError(w, err)
		return
	}
	out := make([]map[string]any, 0, len(list))
	for _, c := range list {
		out = append(out, map[string]any{"id": c.ID, "title": c.Title, "text": c.Text})
	}
	writeJSON(w, http.StatusOK, out)
}

// mayUse answers EFORBIDDEN unless the user's profile (read fresh, so a
// change applies at once) has perm.
func (h *Hub) mayUse(ctx context.Context, u *botrelay.User, perm botrelay.Permission) error {
	p, err := h.store.Profile(ctx, u.ProfileID)
	if err != nil {
		return err
	}
	if !p.Has(perm) {
		return botrelay.Errorf(botrelay.EFORBIDDEN, "your profile lacks the %s permission", perm)
	}
	return nil
}

// handleAgents lists the account's other enabled human agents (profiles
// with conversation:handle) for a transfer to an agent:
// [{"id":"<account>.<userId>","name","availability":"ONLINE|AWAY|OCCUPIED|OFFLINE"}],
// online ones first, then by name.
func (h *Hub) handleAgents(w http.ResponseWriter, r *http.Request) {
	s := h.agentSession(w, r)
	if s == nil {
		return
	}
	ctx := r.Context()
	users, err := h.store.Users(ctx, h.o.Account, botrelay.UserFilter{Type: botrelay.UserHuman})
	if err != nil {
		writeError(w, err)
		return
	}
	handles := map[botrelay.ProfileID]bool{}
	type agent struct {
		ID           string `json:"id"`
		Name         string `json:"name"`
		Availability string `json:"availability"`
	}
	out := []agent{}
	for _, u := range users {
		if !u.Enabled || u.ID == s.user.ID {
			continue
		}
		ok, seen := handles[u.ProfileID]
		if !seen {
			p, err := h.store.Profile(ctx, u.ProfileID)
			ok = err == nil && p.Has(botrelay.PermConvHandle)
			handles[u.ProfileID] = ok
		}
		if ok {
			out = append(out, agent{ID: h.legacyID(u.ID), Name: u.Nickname, Availability: h.availability(u.ID)})
		}
	}
	online := func(a agent) int {
		if a.Availability == StateOnline {
			return 0
		}
		return 1
	}
	slices.SortFunc(out, func(a, b agent) int {
		if d := online(a) - online(b); d != 0 {
			return d
		}
		return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
	})
	writeJSON(w, http.StatusOK, out)
}

// availability is a user's routing state, OFFLINE without a connection.
func (h *Hub) availability(u botrelay.UserID) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.userSession[u]
	if s == nil || s.conn == nil {
		return "OFFLINE"
	}
	if s.state == "" {
		return StateAway
	}
	return s.state
}

// handleAgentUpload stores a file an agent sends into an open conversation
// it takes part in: multipart field "file", ?conversationId=. The file is
// kept with the conversation consumer's files, so the consumer downloads it
// with its own token and the participants by signed links, as the
// consumer's uploads. The answer, {"relativePath","fileType"}, goes into a
// hosted/file ContentEvent.
func (h *Hub) handleAgentUpload(w http.ResponseWriter, r *http.Request) {
	s := h.agentSession(w, r)
	if s == nil {
		return
	}
	id := botrelay.ConversationID(r.URL.Query().Get("conversationId"))
	if id == "" {
		writeError(w, botrelay.Errorf(botrelay.EINVALID, "query parameter conversationId is required"))
		return
	}
	h.mu.Lock()
	var consumer botrelay.ConsumerID
	member := false
	if cs := h.convs[id]; cs != nil && cs.c.State == botrelay.ConversationOpen {
		consumer, member = cs.c.ConsumerID, cs.c.HasUser(s.user.ID)
	}
	h.mu.Unlock()
	if consumer == "" {
		writeError(w, botrelay.Errorf(botrelay.ENOTFOUND, "open conversation %q not found", id))
		return
	}
	if !member {
		writeError(w, botrelay.Errorf(botrelay.EFORBIDDEN, "you are not a participant of conversation %s", id))
		return
	}
	h.acceptUpload(w, r, consumer)
}

// maxPreview bounds the preview of the consumer's last message on a ring.
const maxPreview = 140

// notePreview remembers the consumer's last message in a conversation for
// the rings' preview and reports whether it did. The caller holds h.mu.
func notePreview(cs *convState, ev *eventShape, at time.Time) bool {
	if ev.Type != "ContentEvent" {
		return false
	}
	var text string
	if ev.ContentType == "hosted/file" {
		var f struct {
			Caption string `json:"caption"`
		}
		_ = json.Unmarshal(ev.Message, &f)
		text = "📎 " + f.Caption
		if f.Caption == "" {
			text = "📎 file"
		}
	} else if json.Unmarshal(ev.Message, &text) != nil {
		return false
	}
	text = strings.Join(strings.Fields(text), " ")
	if utf8.RuneCountInString(text) > maxPreview {
		text = string([]rune(text)[:maxPreview-1]) + "…"
	}
	cs.preview, cs.previewAt = text, at
	return true
}

// refreshRing re-sends the conversation's ring, if a human agent has it,
// with the new preview. (Bots accept rings at once and need no preview; a
// client that already has the ring id ignores the repeat, as after
// SubscribeRoutingTasks.) The caller holds h.mu.
func (h *Hub) refreshRing(cs *convState) {
	r := cs.ring
	if r == nil {
		return
	}
	if s := h.userSession[r.user]; s != nil && s.user.Type == botrelay.UserHuman {
		h.sendRing(s.conn, cs.c, r, "UPSERT", "WAITING")
	}
}

// maxConsumerName bounds the consumer's name shown to agents.
const maxConsumerName = 100

// consumerName is the consumer's name from a conversation's context: the
// personal engagement attribute's first and last name, whitespace folded and
// cut to maxConsumerName characters ("" when none). The consumer chose it:
// pages show it as text only.
func consumerName(raw json.RawMessage) string {
	if len(raw) == 0 || !strings.Contains(string(raw), "personal") {
		return ""
	}
	var ctx struct {
		EngagementAttributes []struct {
			Type     string `json:"type"`
			Personal struct {
				FirstName string `json:"firstname"`
				LastName  string `json:"lastname"`
			} `json:"personal"`
		} `json:"engagementAttributes"`
	}
	if json.Unmarshal(raw, &ctx) != nil {
		return ""
	}
	for _, a := range ctx.EngagementAttributes {
		if a.Type == "personal" {
			n := strings.Join(strings.Fields(a.Personal.FirstName+" "+a.Personal.LastName), " ")
			if utf8.RuneCountInString(n) > maxConsumerName {
				n = string([]rune(n)[:maxConsumerName-1]) + "…"
			}
			if n != "" {
				return n
			}
		}
	}
	return ""
}

// agentFileOwner refuses a hosted/file an agent publishes unless the file is
// among the conversation consumer's files (their uploads and the agents'
// uploads into their conversations): an agent cannot hand one consumer's
// file to another.
func agentFileOwner(ev *eventShape, conv *botrelay.Conversation) error {
	if ev.Type != "ContentEvent" || ev.ContentType != "hosted/file" {
		return nil
	}
	var f struct {
		RelativePath string `json:"relativePath"`
	}
	_ = json.Unmarshal(ev.Message, &f)
	if owner, ok := fileOwner(f.RelativePath); !ok || owner != conv.ConsumerID {
		return botrelay.Errorf(botrelay.EFORBIDDEN, "relativePath does not name a file of this conversation's consumer; upload it with POST /api/account/{account}/agent/files")
	}
	return nil
}

// loadPreview fills the preview of a conversation that has none from the
// store, once per conversation and in the background (a hub that restarted
// knows no messages yet), then refreshes its ring. The caller holds h.mu.
func (h *Hub) loadPreview(cs *convState) {
	if cs.preview != "" || cs.previewLoading {
		return
	}
	cs.previewLoading = true
	conv := cs.c
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var found eventShape
		var at time.Time
		for _, d := range conv.Dialogs {
			evs, err := h.store.Events(ctx, conv.ID, d.ID, 0, 0)
			if err != nil {
				return // the preview is a convenience; the next message brings one
			}
			for _, e := range evs {
				var ev eventShape
				if e.OriginatorRole == botrelay.ParticipantConsumer && e.Type == "ContentEvent" && json.Unmarshal(e.Event, &ev) == nil && !e.CreatedAt.Before(at) {
					found, at = ev, e.CreatedAt
				}
			}
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if found.Type == "" || cs.preview != "" || h.closing {
			return
		}
		if notePreview(cs, &found, at) {
			h.refreshRing(cs)
		}
	}()
}
