package hub

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/ums"
)

// ConsumerTokenTTL is how long a consumer token is valid.
const ConsumerTokenTTL = 30 * 24 * time.Hour

// consumerClaims is the signed payload of a consumer token.
type consumerClaims struct {
	Acct string `json:"acct"`
	Sub  string `json:"sub"`
	Exp  int64  `json:"exp"` // Unix seconds
}

// sign is the HMAC-SHA256 of payload under the signing key, base64url.
func (h *Hub) sign(payload string) string {
	m := hmac.New(sha256.New, h.o.SigningKey)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// consumerToken signs a token for the consumer.
func (h *Hub) consumerToken(id botrelay.ConsumerID) (string, time.Time) {
	exp := h.now().Add(ConsumerTokenTTL).Truncate(time.Second)
	b, _ := json.Marshal(consumerClaims{Acct: string(h.o.Account), Sub: string(id), Exp: exp.Unix()})
	p := base64.RawURLEncoding.EncodeToString(b)
	return p + "." + h.sign("consumer|"+p), exp
}

var errBadToken = errors.New("bad token")

// verifyConsumerToken returns the consumer of a valid token.
func (h *Hub) verifyConsumerToken(tok string) (botrelay.ConsumerID, error) {
	p, sig, ok := strings.Cut(tok, ".")
	if !ok || len(tok) > 1024 || !hmac.Equal([]byte(sig), []byte(h.sign("consumer|"+p))) {
		return "", errBadToken
	}
	b, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return "", errBadToken
	}
	var c consumerClaims
	if json.Unmarshal(b, &c) != nil || c.Acct != string(h.o.Account) || c.Sub == "" || c.Exp <= h.now().Unix() {
		return "", errBadToken
	}
	return botrelay.ConsumerID(c.Sub), nil
}

// consumerFromRequest reads the consumer token from Authorization or ?token=.
func (h *Hub) consumerFromRequest(r *http.Request) (botrelay.ConsumerID, error) {
	tok := bearerFromHeader(r)
	if tok == "" {
		tok = r.URL.Query().Get("token")
	}
	if tok == "" {
		return "", errBadToken
	}
	return h.verifyConsumerToken(tok)
}

// handleConsumerToken issues a consumer token, or refreshes the one sent in
// Authorization (same consumer id).
func (h *Hub) handleConsumerToken(w http.ResponseWriter, r *http.Request) {
	if !h.checkAccount(w, r) {
		return
	}
	id := botrelay.ConsumerID("")
	if tok := bearerFromHeader(r); tok != "" {
		if got, err := h.verifyConsumerToken(tok); err == nil {
			id = got
		}
	}
	if id == "" {
		// A new anonymous consumer: limited per client address.
		if err := h.o.Consumers.Token(h.o.ClientAddr(r)); err != nil {
			writeLimited(w, err)
			return
		}
		id = botrelay.ConsumerID(newID())
	}
	tok, exp := h.consumerToken(id)
	writeJSON(w, http.StatusOK, map[string]any{"token": tok, "consumerId": string(id), "expiresAt": exp.UnixMilli()})
}

// subscribeConsumerConversations answers a consumer's SubscribeExConversations
// with the consumer's last 20 conversations (the live state of open ones),
// then every later change.
func (h *Hub) subscribeConsumerConversations(ctx context.Context, c *conn, req *ums.Request) (any, error) {
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
	defer h.mu.Unlock()
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
	return errAnswered, nil
}

// unsubscribeConsumerConversations answers a consumer's
// UnsubscribeExConversations; an unknown subscription is no error.
func (h *Hub) unsubscribeConsumerConversations(_ context.Context, c *conn, req *ums.Request) (any, error) {
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
}
