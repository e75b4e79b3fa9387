package hub

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/ums"
)

// requestConversation opens a conversation for the consumer, or returns its
// open one (idempotent).
func (h *Hub) requestConversation(ctx context.Context, c *conn, req *ums.Request) (any, error) {
	var b struct {
		BrandID             string          `json:"brandId"`
		Skill               string          `json:"skill"`
		SkillID             json.RawMessage `json:"skillId"`
		ConversationContext json.RawMessage `json:"conversationContext"`
	}
	if err := ums.DecodeBody(req, &b); err != nil {
		return nil, err
	}
	if b.BrandID != "" && b.BrandID != string(h.o.Account) {
		return nil, botrelay.Errorf(botrelay.EINVALID, "brandId must be %s", h.o.Account)
	}
	h.createMu.Lock()
	defer h.createMu.Unlock()
	h.mu.Lock()
	id, ok := h.consumerOpen[c.consumer]
	h.mu.Unlock()
	if ok {
		return map[string]string{"conversationId": string(id)}, nil
	}
	if err := h.o.Consumers.Conversation(c.addr, string(c.consumer)); err != nil {
		return nil, err
	}
	skill, err := h.requestedSkill(ctx, b.Skill, b.SkillID)
	if err != nil {
		return nil, err
	}
	convCtx, err := requestedContext(b.ConversationContext)
	if err != nil {
		return nil, err
	}
	conv := h.newConversation(c.consumer, skill, convCtx)
	cid := conv.ID
	if err := h.store.CreateConversation(ctx, conv); err != nil {
		return nil, err
	}
	h.emitChanges(ctx, nil, conv)
	h.log.Info("conversation opened", "conversation_id", string(cid), "skill_id", int64(skill.ID))
	h.mu.Lock()
	h.install(nil, conv)
	h.notify(nil, conv)
	h.dispatch()
	h.mu.Unlock()
	return map[string]string{"conversationId": string(cid)}, nil
}

// requestedSkill resolves the skill a consumer asks for: by id, by name, or
// the bot skill when neither is given.
func (h *Hub) requestedSkill(ctx context.Context, name string, id json.RawMessage) (*botrelay.Skill, error) {
	var skill *botrelay.Skill
	var err error
	switch {
	case len(id) > 0 && string(id) != "null" && string(id) != `""`:
		n, perr := strconv.ParseInt(strings.Trim(string(id), `"`), 10, 64)
		if perr != nil {
			return nil, botrelay.Errorf(botrelay.EINVALID, "skillId must be a skill id")
		}
		skill, err = h.store.Skill(ctx, botrelay.SkillID(n))
	case name != "":
		skill, err = h.store.SkillByName(ctx, h.o.Account, name)
	default:
		skill, err = h.store.SkillByName(ctx, h.o.Account, botrelay.SkillNameBot)
	}
	if err != nil {
		return nil, err
	}
	if skill.AccountID != h.o.Account {
		return nil, botrelay.Errorf(botrelay.ENOTFOUND, "skill not found")
	}
	return skill, nil
}

// requestedContext checks a requested conversationContext: absent, null or
// an object.
func requestedContext(raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] != '{' {
		return nil, botrelay.Errorf(botrelay.EINVALID, "conversationContext must be an object")
	}
	return raw, nil
}

// newConversation makes an open conversation of consumer on skill, with its
// main dialog (whose id is the conversation's).
func (h *Hub) newConversation(consumer botrelay.ConsumerID, skill *botrelay.Skill, convCtx json.RawMessage) *botrelay.Conversation {
	now := h.now()
	cid := botrelay.ConversationID(newID())
	return &botrelay.Conversation{
		ID: cid, AccountID: h.o.Account, ConsumerID: consumer, SkillID: skill.ID,
		State: botrelay.ConversationOpen, TTR: botrelay.TTRNormal, Context: convCtx,
		Participants: []botrelay.Participant{{ConsumerID: consumer, Role: botrelay.ParticipantConsumer,
			State: botrelay.ParticipantStateActive, JoinedAt: now}},
		Dialogs: []botrelay.Dialog{{ID: botrelay.DialogID(cid), Type: botrelay.DialogMain, State: botrelay.DialogOpen, CreatedAt: now}},
	}
}

// lookup returns a conversation's current state: the live one while open,
// else the stored one, and its convState when open.
func (h *Hub) lookup(ctx context.Context, id botrelay.ConversationID) (*botrelay.Conversation, *convState, error) {
	h.mu.Lock()
	cs := h.convs[id]
	var conv *botrelay.Conversation
	if cs != nil {
		conv = cs.c
	}
	h.mu.Unlock()
	if conv != nil {
		return conv, cs, nil
	}
	conv, err := h.store.Conversation(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if conv.AccountID != h.o.Account {
		return nil, nil, botrelay.Errorf(botrelay.ENOTFOUND, "conversation %s not found", id)
	}
	return conv, nil, nil
}

// dialogConversation finds the conversation a dialog belongs to.
func (h *Hub) dialogConversation(ctx context.Context, dialog, conversation string) (*botrelay.Conversation, *convState, error) {
	if dialog == "" {
		return nil, nil, botrelay.Errorf(botrelay.EINVALID, "dialogId is required")
	}
	h.mu.Lock()
	id, ok := h.dialogOwner(botrelay.DialogID(dialog))
	h.mu.Unlock()
	if !ok {
		id = botrelay.ConversationID(conversation)
		if id == "" {
			id = botrelay.ConversationID(dialog) // the main dialog has the conversation's id
		}
	}
	conv, cs, err := h.lookup(ctx, id)
	if err != nil {
		return nil, nil, botrelay.Errorf(botrelay.ENOTFOUND, "dialog %s not found", dialog)
	}
	if conv.Dialog(botrelay.DialogID(dialog)) == nil {
		return nil, nil, botrelay.Errorf(botrelay.ENOTFOUND, "dialog %s not found", dialog)
	}
	return conv, cs, nil
}

// canRead reports whether the connection's user may read the conversation.
func canRead(c *conn, conv *botrelay.Conversation) bool {
	if c.consumer != "" {
		return conv.ConsumerID == c.consumer
	}
	return c.sess.viewAll || conv.HasUser(c.sess.user.ID)
}

func forbidden(conv *botrelay.Conversation) error {
	return botrelay.Errorf(botrelay.EFORBIDDEN, "you are not a participant of conversation %s", conv.ID)
}

// mutate changes an open conversation: fn edits a copy, the copy is stored,
// then installed, notified and routed. after runs with h.mu held once the
// new state is installed.
func (h *Hub) mutate(ctx context.Context, cs *convState, fn func(*botrelay.Conversation) error, after func(*botrelay.Conversation)) error {
	cs.op.Lock()
	defer cs.op.Unlock()
	h.mu.Lock()
	old := cs.c
	h.mu.Unlock()
	if old.State != botrelay.ConversationOpen {
		return botrelay.Errorf(botrelay.ECONFLICT, "conversation %s is closed", old.ID)
	}
	nc := old.Clone()
	if err := fn(nc); err != nil {
		return err
	}
	h.ensureUsers(ctx, nc)
	if err := h.store.UpdateConversation(ctx, nc); err != nil {
		return err
	}
	h.emitChanges(ctx, old, nc)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.install(old, nc)
	if after != nil {
		after(nc)
	}
	h.notify(old, nc)
	h.dispatch()
	return nil
}
