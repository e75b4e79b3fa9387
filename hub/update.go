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
	closer := botrelay.CloseByConsumer
	if c.sess != nil {
		closer = botrelay.CloseByAgent
	}
	// Resolve users and skills before taking the conversation's lock.
	users := map[int]*botrelay.User{}
	skills := map[int]*botrelay.Skill{}
	for i, f := range b.ConversationField {
		if c.consumer != "" && f.Field != "ConversationStateField" {
			return nil, botrelay.Errorf(botrelay.EFORBIDDEN, "consumers may only close their conversation")
		}
		switch f.Field {
		case "ParticipantsChange":
			ref := f.UserID
			if ref == "" {
				users[i] = c.sess.user
				continue
			}
			u, err := h.resolveUser(ctx, ref)
			if err != nil {
				return nil, botrelay.Errorf(botrelay.EINVALID, "userId %q is not a user", ref)
			}
			users[i] = u
		case "Skill":
			sk, err := h.resolveSkill(ctx, f.Skill)
			if err != nil {
				return nil, err
			}
			skills[i] = sk
		}
	}
	// Whether closing the main dialog opens a survey: the skill has one and
	// a survey bot of the skill is logged in (see survey.go).
	survey := false
	for _, f := range b.ConversationField {
		if f.Field == "DialogChange" || (f.Field == "ConversationStateField" && closer == botrelay.CloseByConsumer) {
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
	err = h.mutate(ctx, cs, func(nc *botrelay.Conversation) error {
		now := h.now()
		handover := false
		for i, f := range b.ConversationField {
			switch f.Field {
			case "ParticipantsChange":
				if f.Type == "SUGGEST" || (f.Type == "REMOVE" && nc.AssignedAgent() != 0 && nc.AssignedAgent() == users[i].ID &&
					(f.Role == "" || f.Role == string(botrelay.ParticipantAssignedAgent))) {
					handover = true
				}
				if err := h.changeParticipant(c, nc, f, users[i], now); err != nil {
					return err
				}
			case "Skill":
				if f.Type != "" && f.Type != "UPDATE" {
					return botrelay.Errorf(botrelay.EINVALID, "Skill type must be UPDATE")
				}
				nc.SkillID = skills[i].ID
				handover = true
			case "ConversationStateField":
				if f.ConversationState != "CLOSE" {
					return botrelay.Errorf(botrelay.EINVALID, "conversationState must be CLOSE")
				}
				// A consumer closing the conversation goes on to the survey,
				// as in LivePerson; an agent's state change closes outright
				// (withoutPcs).
				if main := nc.OpenDialog(); survey && closer == botrelay.CloseByConsumer && main != nil && main.Type == botrelay.DialogMain {
					openSurvey(nc, main, closer, now)
					continue
				}
				closeConversation(nc, closer, now)
			case "DialogChange":
				if f.Dialog == nil || f.Dialog.State != "CLOSE" {
					return botrelay.Errorf(botrelay.EINVALID, "DialogChange needs dialog.dialogId and state CLOSE")
				}
				d := nc.Dialog(botrelay.DialogID(f.Dialog.DialogID))
				if d == nil || d.State != botrelay.DialogOpen {
					return botrelay.Errorf(botrelay.ENOTFOUND, "open dialog %q not found", f.Dialog.DialogID)
				}
				if d.Type == botrelay.DialogMain && survey {
					openSurvey(nc, d, closer, now)
					continue
				}
				// The main dialog without a survey, or the survey dialog:
				// the conversation ends.
				closeConversation(nc, closer, now)
			case "TTRField":
				if f.TTRType == "CUSTOM" {
					secs, err := customTTR(f.Value)
					if err != nil {
						return err
					}
					nc.ManualETTR = now.Add(secs)
					continue
				}
				t := botrelay.TTRType(f.TTRType)
				if !t.Valid() {
					return botrelay.Errorf(botrelay.EINVALID, "ttrType must be NORMAL, URGENT, PRIORITIZED or CUSTOM")
				}
				nc.TTR = t
			case "ManualETTR":
				if f.Time > 0 {
					nc.ManualETTR = fromMs(f.Time)
				}
			case "CSATRate", "DelayField", "Note", "TopicField", "ConversationPropertiesField":
				// Accepted and ignored.
			default:
				return botrelay.Errorf(botrelay.EINVALID, "conversation field %q is not supported", f.Field)
			}
		}
		if d := nc.OpenDialog(); handover && d != nil && nc.State == botrelay.ConversationOpen {
			seq, err := h.lastSequence(ctx, cs, nc.ID, d.ID)
			if err != nil {
				return err
			}
			d.HandoffSequence = seq
		}
		return nil
	}, nil)
	if err != nil {
		return nil, err
	}
	return nil, nil
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
