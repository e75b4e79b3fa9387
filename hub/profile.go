package hub

import (
	"context"
	"encoding/json"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/ums"
)

// userProfile answers userprofile.GetUserProfile {userId}: without a
// userId, or for a user of the account (its legacy id "account.N", number
// or PID), the user's profile; for a consumer of a conversation the caller
// may read, the consumer's engagement attributes as LivePerson answers
// them: an array of {"type","info"|"personal"|…,"auth"} entries, from the
// "engagementAttributes" array of the consumer's conversationContext or,
// failing that, from its "lpSdes".
func (h *Hub) userProfile(ctx context.Context, c *conn, req *ums.Request) (any, error) {
	var b struct {
		UserID string `json:"userId"`
	}
	if err := ums.DecodeBody(req, &b); err != nil {
		return nil, err
	}
	if b.UserID == "" {
		return h.agentProfile(c.sess.user), nil
	}
	if attrs, found, err := h.consumerProfile(ctx, c, botrelay.ConsumerID(b.UserID)); found || err != nil {
		return attrs, err
	}
	u, err := h.resolveUser(ctx, b.UserID)
	if err != nil {
		return nil, botrelay.Errorf(botrelay.ENOTFOUND, "userId %q is neither a user of the account nor a consumer of a conversation you can read", b.UserID)
	}
	return h.agentProfile(u), nil
}

func (h *Hub) agentProfile(u *botrelay.User) map[string]any {
	typ := 1
	if u.Type == botrelay.UserBot {
		typ = 2
	}
	return map[string]any{"userId": h.legacyID(u.ID), "pid": u.PID, "firstName": u.LoginName, "lastName": "",
		"nickname": u.LoginName, "userTypeId": typ, "privateData": map[string]any{}}
}

// consumerProfile finds the consumer's open conversations; found is false
// when there is none. A consumer whose conversations the caller may not
// read is refused. Engagement attributes a Public API command set on the
// conversation (spec §5) are merged over the context's.
func (h *Hub) consumerProfile(ctx context.Context, c *conn, id botrelay.ConsumerID) (attrs []map[string]any, found bool, err error) {
	h.mu.Lock()
	var mine, others *botrelay.Conversation
	for _, cs := range h.convs {
		if cs.c == nil || cs.c.ConsumerID != id {
			continue
		}
		if canRead(c, cs.c) {
			if mine == nil || cs.c.CreatedAt.After(mine.CreatedAt) {
				mine = cs.c
			}
		} else {
			others = cs.c
		}
	}
	var raw json.RawMessage
	var conv botrelay.ConversationID
	if mine != nil {
		raw, conv = mine.Context, mine.ID
	}
	h.mu.Unlock()
	switch {
	case mine == nil && others == nil:
		return nil, false, nil
	case mine == nil:
		return nil, true, forbidden(others)
	}
	var ctxv struct {
		EngagementAttributes []map[string]any `json:"engagementAttributes"`
		LPSdes               json.RawMessage  `json:"lpSdes"`
	}
	_ = json.Unmarshal(raw, &ctxv)
	attrs = ctxv.EngagementAttributes
	if len(attrs) == 0 {
		attrs = ums.ProfileFromSDEs(ctxv.LPSdes)
	}
	if set, _, err := h.store.EngagementAttributes(ctx, conv); err == nil {
		all, _ := json.Marshal(append(attrs, ums.ProfileFromSDEs(set)...))
		if merged, err := ums.SDEsFromProfile(all); err == nil {
			attrs = ums.ProfileFromSDEs(merged)
		}
	}
	return attrs, true, nil
}
