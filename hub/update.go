package hub

import (
	"context"
	"strconv"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/ums"
)

// updateConversation applies UpdateConversationField: participants, skill
// (transfer), state (close), dialog (close into a survey), TTR.
func (h *Hub) updateConversation(ctx context.Context, c *conn, req *ums.Request) (any, error) {
	var b ums.UpdateConversationFieldBody
	if err := ums.DecodeBody(req, &b); err != nil {
		return nil, err
	}
	if b.ConversationID == "" || len(b.ConversationField) == 0 {
		return nil, botrelay.Errorf(botrelay.EINVALID, "conversationId and conversationField are required")
	}
	conv, cs, err := h.lookup(ctx, botrelay.ConversationID(b.ConversationID))
	if err != nil {
		return nil, err
	}
	if !canRead(c, conv) {
		return nil, forbidden(conv)
	}
	if cs == nil {
		return nil, botrelay.Errorf(botrelay.ECONFLICT, "conversation %s is closed", conv.ID)
	}
	u, err := h.newFieldUpdate(ctx, c, conv, b.ConversationField)
	if err != nil {
		return nil, err
	}
	err = h.mutate(ctx, cs, func(nc *botrelay.Conversation) error {
		return h.applyFields(ctx, cs, nc, u)
	}, nil)
	if err != nil {
		return nil, err
	}
	return nil, nil
}

// fieldUpdate is one UpdateConversationField request with what it refers
// to resolved before the conversation's lock is taken.
type fieldUpdate struct {
	c      *conn
	fields []ums.ConversationField
	users  map[int]*botrelay.User  // by field index, for ParticipantsChange
	skills map[int]*botrelay.Skill // by field index, for Skill
	closer string                  // CloseByConsumer or CloseByAgent
	survey bool                    // closing the main dialog opens a survey
}

// newFieldUpdate checks that a consumer only closes, and resolves the
// users, skills and survey the fields need. It does I/O; call it without
// the conversation's lock.
func (h *Hub) newFieldUpdate(ctx context.Context, c *conn, conv *botrelay.Conversation, fields []ums.ConversationField) (*fieldUpdate, error) {
	u := &fieldUpdate{c: c, fields: fields, users: map[int]*botrelay.User{}, skills: map[int]*botrelay.Skill{},
		closer: botrelay.CloseByConsumer}
	if c.sess != nil {
		u.closer = botrelay.CloseByAgent
	}
	if err := h.resolveFieldRefs(ctx, u); err != nil {
		return nil, err
	}
	u.survey = h.closeOpensSurvey(ctx, conv, u)
	return u, nil
}

// resolveFieldRefs reads the users of the ParticipantsChange fields (the
// caller when userId is empty) and the skills of the Skill fields.
func (h *Hub) resolveFieldRefs(ctx context.Context, u *fieldUpdate) error {
	for i, f := range u.fields {
		if u.c.consumer != "" && f.Field != "ConversationStateField" {
			return botrelay.Errorf(botrelay.EFORBIDDEN, "consumers may only close their conversation")
		}
		switch f.Field {
		case "ParticipantsChange":
			ref := f.UserID
			if ref == "" {
				u.users[i] = u.c.sess.user
				continue
			}
			user, err := h.resolveUser(ctx, ref)
			if err != nil {
				return botrelay.Errorf(botrelay.EINVALID, "userId %q is not a user", ref)
			}
			u.users[i] = user
		case "Skill":
			sk, err := h.resolveSkill(ctx, f.Skill)
			if err != nil {
				return err
			}
			u.skills[i] = sk
		}
	}
	return nil
}

// closeOpensSurvey reports whether closing the main dialog opens a survey:
// the update closes a dialog (or the consumer closes the conversation), the
// skill has a survey, and a survey bot of the skill is logged in (see
// survey.go).
func (h *Hub) closeOpensSurvey(ctx context.Context, conv *botrelay.Conversation, u *fieldUpdate) bool {
	survey := false
	for _, f := range u.fields {
		if f.Field == "DialogChange" || (f.Field == "ConversationStateField" && u.closer == botrelay.CloseByConsumer) {
			if sk, err := h.store.Skill(ctx, conv.SkillID); err == nil && sk.PostSurvey {
				h.mu.Lock()
				survey = h.surveyServed(sk.ID)
				h.mu.Unlock()
				if !survey {
					h.log.Info("no survey bot serves the skill: closing without the survey", "conversation_id", string(conv.ID), "skill_id", int64(sk.ID))
				}
			}
			break
		}
	}
	return survey
}

// applyFields applies u's fields to nc, the copy mutate stores. A change of
// hands (a transfer, a suggested agent, the assigned agent leaving) marks
// the open dialog's handoff sequence. The caller holds cs.op.
func (h *Hub) applyFields(ctx context.Context, cs *convState, nc *botrelay.Conversation, u *fieldUpdate) error {
	now := h.now()
	handover := false
	for i, f := range u.fields {
		ho, err := h.applyField(nc, u, i, f, now)
		if err != nil {
			return err
		}
		handover = handover || ho
	}
	if d := nc.OpenDialog(); handover && d != nil && nc.State == botrelay.ConversationOpen {
		seq, err := h.lastSequence(ctx, cs, nc.ID, d.ID)
		if err != nil {
			return err
		}
		d.HandoffSequence = seq
	}
	return nil
}

// applyField applies the field f (the i-th of u) to nc and reports whether
// it hands the conversation over.
func (h *Hub) applyField(nc *botrelay.Conversation, u *fieldUpdate, i int, f ums.ConversationField, now time.Time) (handover bool, err error) {
	switch f.Field {
	case "ParticipantsChange":
		handover = f.Type == "SUGGEST" || (f.Type == "REMOVE" && nc.AssignedAgent() != 0 && nc.AssignedAgent() == u.users[i].ID &&
			(f.Role == "" || f.Role == string(botrelay.ParticipantAssignedAgent)))
		return handover, h.changeParticipant(u.c, nc, f, u.users[i], now)
	case "Skill":
		if f.Type != "" && f.Type != "UPDATE" {
			return false, botrelay.Errorf(botrelay.EINVALID, "Skill type must be UPDATE")
		}
		nc.SkillID = u.skills[i].ID
		return true, nil
	case "ConversationStateField":
		return false, u.closeState(nc, f, now)
	case "DialogChange":
		return false, u.closeDialog(nc, f, now)
	case "TTRField":
		return false, setTTR(nc, f, now)
	case "ManualETTR":
		if f.Time > 0 {
			nc.ManualETTR = fromMs(f.Time)
		}
		return false, nil
	case "CSATRate", "DelayField", "Note", "TopicField", "ConversationPropertiesField":
		return false, nil // accepted and ignored
	}
	return false, botrelay.Errorf(botrelay.EINVALID, "conversation field %q is not supported", f.Field)
}

// closeState applies a ConversationStateField. A consumer closing the
// conversation goes on to the survey, as in LivePerson; an agent's state
// change closes outright (withoutPcs).
func (u *fieldUpdate) closeState(nc *botrelay.Conversation, f ums.ConversationField, now time.Time) error {
	if f.ConversationState != "CLOSE" {
		return botrelay.Errorf(botrelay.EINVALID, "conversationState must be CLOSE")
	}
	if main := nc.OpenDialog(); u.survey && u.closer == botrelay.CloseByConsumer && main != nil && main.Type == botrelay.DialogMain {
		openSurvey(nc, main, u.closer, now)
		return nil
	}
	closeConversation(nc, u.closer, now)
	return nil
}

// closeDialog applies a DialogChange: closing the main dialog opens the
// survey when there is one; closing the main dialog without a survey, or
// the survey dialog, ends the conversation.
func (u *fieldUpdate) closeDialog(nc *botrelay.Conversation, f ums.ConversationField, now time.Time) error {
	if f.Dialog == nil || f.Dialog.State != "CLOSE" {
		return botrelay.Errorf(botrelay.EINVALID, "DialogChange needs dialog.dialogId and state CLOSE")
	}
	d := nc.Dialog(botrelay.DialogID(f.Dialog.DialogID))
	if d == nil || d.State != botrelay.DialogOpen {
		return botrelay.Errorf(botrelay.ENOTFOUND, "open dialog %q not found", f.Dialog.DialogID)
	}
	if d.Type == botrelay.DialogMain && u.survey {
		openSurvey(nc, d, u.closer, now)
		return nil
	}
	closeConversation(nc, u.closer, now)
	return nil
}

// setTTR applies a TTRField: a TTR type, or CUSTOM seconds kept as the
// expected time to response (see customTTR).
func setTTR(nc *botrelay.Conversation, f ums.ConversationField, now time.Time) error {
	if f.TTRType == "CUSTOM" {
		secs, err := customTTR(f.Value)
		if err != nil {
			return err
		}
		nc.ManualETTR = now.Add(secs)
		return nil
	}
	t := botrelay.TTRType(f.TTRType)
	if !t.Valid() {
		return botrelay.Errorf(botrelay.EINVALID, "ttrType must be NORMAL, URGENT, PRIORITIZED or CUSTOM")
	}
	nc.TTR = t
	return nil
}

// lastSequence returns the last sequence stored in a dialog: the one publish
// remembered, or read from the store once (after a restart). The caller
// holds cs.op, so no event is appended meanwhile.
func (h *Hub) lastSequence(ctx context.Context, cs *convState, conv botrelay.ConversationID, dialog botrelay.DialogID) (int64, error) {
	if cs.seqDialog == dialog {
		return cs.seq, nil
	}
	evs, err := h.store.Events(ctx, conv, dialog, 0, 0)
	if err != nil {
		return 0, err
	}
	var seq int64
	if len(evs) > 0 {
		seq = evs[len(evs)-1].Sequence
	}
	cs.seqDialog, cs.seq = dialog, seq
	return seq, nil
}

func closeConversation(nc *botrelay.Conversation, by string, now time.Time) {
	t := now
	nc.State, nc.CloseReason, nc.ClosedAt = botrelay.ConversationClose, by, t
	for i := range nc.Dialogs {
		if nc.Dialogs[i].State == botrelay.DialogOpen {
			nc.Dialogs[i].State, nc.Dialogs[i].ClosedBy, nc.Dialogs[i].ClosedAt = botrelay.DialogClose, by, t
		}
	}
}

// changeParticipant applies one ParticipantsChange to nc.
func (h *Hub) changeParticipant(c *conn, nc *botrelay.Conversation, f ums.ConversationField, u *botrelay.User, now time.Time) error {
	role := botrelay.ParticipantRole(f.Role)
	if role == "" {
		role = botrelay.ParticipantAssignedAgent
	}
	if !role.Valid() || role == botrelay.ParticipantConsumer {
		return botrelay.Errorf(botrelay.EINVALID, "role %q is not an agent role", f.Role)
	}
	self := u.ID == c.sess.user.ID
	switch f.Type {
	case "ADD":
		if !self && !c.sess.viewAll && !nc.HasUser(c.sess.user.ID) {
			return botrelay.Errorf(botrelay.EFORBIDDEN, "adding participants needs the %s permission", botrelay.PermConvViewAll)
		}
		if role == botrelay.ParticipantAssignedAgent && nc.AssignedAgent() != 0 && nc.AssignedAgent() != u.ID {
			return botrelay.Errorf(botrelay.ECONFLICT, "conversation %s already has an assigned agent", nc.ID)
		}
		for _, p := range nc.Participants {
			if p.UserID == u.ID && p.Role == role && p.State == botrelay.ParticipantStateActive {
				return nil
			}
		}
		nc.Participants = append(nc.Participants, botrelay.Participant{UserID: u.ID, Role: role,
			State: botrelay.ParticipantStateActive, JoinedAt: now})
	case "REMOVE":
		if !self && !c.sess.viewAll {
			return botrelay.Errorf(botrelay.EFORBIDDEN, "removing other participants needs the %s permission", botrelay.PermConvViewAll)
		}
		kept := nc.Participants[:0]
		found := false
		for _, p := range nc.Participants {
			if p.UserID == u.ID && p.Role == role {
				found = true
				continue
			}
			kept = append(kept, p)
		}
		nc.Participants = kept
		if !found {
			return botrelay.Errorf(botrelay.EINVALID, "user %d is not a %s of conversation %s", u.ID, role, nc.ID)
		}
	case "SUGGEST":
		kept := nc.Participants[:0]
		for _, p := range nc.Participants {
			if p.State != botrelay.ParticipantStateSuggested {
				kept = append(kept, p)
			}
		}
		nc.Participants = append(kept, botrelay.Participant{UserID: u.ID, Role: role,
			State: botrelay.ParticipantStateSuggested, JoinedAt: now})
	default:
		return botrelay.Errorf(botrelay.EINVALID, "ParticipantsChange type must be ADD, REMOVE or SUGGEST")
	}
	return nil
}

// resolveSkill reads a skill reference: an id (string or number) or a name.
func (h *Hub) resolveSkill(ctx context.Context, ref any) (*botrelay.Skill, error) {
	var sk *botrelay.Skill
	var err error
	switch v := ref.(type) {
	case float64:
		sk, err = h.store.Skill(ctx, botrelay.SkillID(int64(v)))
	case string:
		if n, perr := strconv.ParseInt(v, 10, 64); perr == nil {
			sk, err = h.store.Skill(ctx, botrelay.SkillID(n))
		} else {
			sk, err = h.store.SkillByName(ctx, h.o.Account, v)
		}
	default:
		return nil, botrelay.Errorf(botrelay.EINVALID, "skill must be a skill id")
	}
	if err != nil {
		if botrelay.ErrorCode(err) == botrelay.ENOTFOUND {
			return nil, botrelay.Errorf(botrelay.ENOTFOUND, "skill %v not found", ref)
		}
		return nil, err
	}
	if sk.AccountID != h.o.Account {
		return nil, botrelay.Errorf(botrelay.ENOTFOUND, "skill %v not found", ref)
	}
	return sk, nil
}

func fromMs(v int64) time.Time { return time.UnixMilli(v).UTC() }
