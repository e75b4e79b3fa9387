package hub

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

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
	var skill *botrelay.Skill
	var err error
	switch {
	case len(b.SkillID) > 0 && string(b.SkillID) != "null" && string(b.SkillID) != `""`:
		n, perr := strconv.ParseInt(strings.Trim(string(b.SkillID), `"`), 10, 64)
		if perr != nil {
			return nil, botrelay.Errorf(botrelay.EINVALID, "skillId must be a skill id")
		}
		skill, err = h.store.Skill(ctx, botrelay.SkillID(n))
	case b.Skill != "":
		skill, err = h.store.SkillByName(ctx, h.o.Account, b.Skill)
	default:
		skill, err = h.store.SkillByName(ctx, h.o.Account, botrelay.SkillNameBot)
	}
	if err != nil {
		return nil, err
	}
	if skill.AccountID != h.o.Account {
		return nil, botrelay.Errorf(botrelay.ENOTFOUND, "skill not found")
	}
	var convCtx json.RawMessage
	if len(b.ConversationContext) > 0 && string(b.ConversationContext) != "null" {
		if b.ConversationContext[0] != '{' {
			return nil, botrelay.Errorf(botrelay.EINVALID, "conversationContext must be an object")
		}
		convCtx = b.ConversationContext
	}
	now := h.now()
	cid := botrelay.ConversationID(newID())
	conv := &botrelay.Conversation{
		ID: cid, AccountID: h.o.Account, ConsumerID: c.consumer, SkillID: skill.ID,
		State: botrelay.ConversationOpen, TTR: botrelay.TTRNormal, Context: convCtx,
		Participants: []botrelay.Participant{{ConsumerID: c.consumer, Role: botrelay.ParticipantConsumer,
			State: botrelay.ParticipantStateActive, JoinedAt: now}},
		Dialogs: []botrelay.Dialog{{ID: botrelay.DialogID(cid), Type: botrelay.DialogMain, State: botrelay.DialogOpen, CreatedAt: now}},
	}
	if err := h.store.CreateConversation(ctx, conv); err != nil {
		return nil, err
	}
	h.log.Info("conversation opened", "conversation_id", string(cid), "skill_id", int64(skill.ID))
	h.mu.Lock()
	h.install(nil, conv)
	h.notify(nil, conv)
	h.dispatch()
	h.mu.Unlock()
	return map[string]string{"conversationId": string(cid)}, nil
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
	id, ok := h.dialogs[botrelay.DialogID(dialog)]
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

type eventShape struct {
	Type         string          `json:"type"`
	ContentType  string          `json:"contentType"`
	Message      json.RawMessage `json:"message"`
	ChatState    string          `json:"chatState"`
	Status       string          `json:"status"`
	SequenceList []int64         `json:"sequenceList"`
	Content      json.RawMessage `json:"content"`
}

// checkEvent validates a published event.
func (h *Hub) checkEvent(c *conn, raw json.RawMessage) (*eventShape, error) {
	if len(raw) == 0 || raw[0] != '{' {
		return nil, botrelay.Errorf(botrelay.EINVALID, "event must be an object")
	}
	var e eventShape
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, botrelay.Errorf(botrelay.EINVALID, "event is malformed")
	}
	switch e.Type {
	case "ContentEvent":
		switch e.ContentType {
		case "", "text/plain", "text/html":
			var s string
			if json.Unmarshal(e.Message, &s) != nil {
				return nil, botrelay.Errorf(botrelay.EINVALID, "a text ContentEvent needs a message string")
			}
		case "hosted/file":
			var f struct {
				RelativePath string `json:"relativePath"`
				FileType     string `json:"fileType"`
			}
			if json.Unmarshal(e.Message, &f) != nil || f.RelativePath == "" {
				return nil, botrelay.Errorf(botrelay.EINVALID, "a hosted/file ContentEvent needs message.relativePath")
			}
			owner, ok := fileOwner(f.RelativePath)
			if !ok || (c.consumer != "" && owner != c.consumer) {
				return nil, botrelay.Errorf(botrelay.EFORBIDDEN, "relativePath does not name a file you uploaded")
			}
		default:
			return nil, botrelay.Errorf(botrelay.EINVALID, "contentType %q is not supported", e.ContentType)
		}
	case "RichContentEvent":
		if len(e.Content) == 0 || e.Content[0] != '{' {
			return nil, botrelay.Errorf(botrelay.EINVALID, "a RichContentEvent needs a content object")
		}
	case "ChatStateEvent":
		if e.ChatState == "" {
			return nil, botrelay.Errorf(botrelay.EINVALID, "a ChatStateEvent needs a chatState")
		}
	case "AcceptStatusEvent":
		if (e.Status != "ACCEPT" && e.Status != "READ" && e.Status != "ACTION") || len(e.SequenceList) == 0 {
			return nil, botrelay.Errorf(botrelay.EINVALID, "an AcceptStatusEvent needs status ACCEPT, READ or ACTION and a sequenceList")
		}
	default:
		return nil, botrelay.Errorf(botrelay.EINVALID, "event type %q is not supported", e.Type)
	}
	return &e, nil
}

// publish stores an event (all but chat states) and delivers it. The answer
// is sent after the event is durable.
func (h *Hub) publish(ctx context.Context, c *conn, req *ums.Request) (any, error) {
	var b ums.PublishEventBody
	if err := ums.DecodeBody(req, &b); err != nil {
		return nil, err
	}
	if c.consumer != "" {
		if err := h.o.Consumers.Size(len(b.Event)); err != nil {
			return nil, err
		}
	}
	conv, cs, err := h.dialogConversation(ctx, b.DialogID, b.ConversationID)
	if err != nil {
		return nil, err
	}
	ev, err := h.checkEvent(c, b.Event)
	if err != nil {
		return nil, err
	}
	if b.MessageAudience != "" && b.MessageAudience != "ALL" && b.MessageAudience != botrelay.AudienceAgentsAndManagers {
		return nil, botrelay.Errorf(botrelay.EINVALID, "messageAudience must be ALL or AGENTS_AND_MANAGERS")
	}
	if b.MessageAudience == "ALL" {
		b.MessageAudience = ""
	}
	me := &botrelay.MessageEvent{
		ConversationID: conv.ID, DialogID: botrelay.DialogID(b.DialogID), Type: ev.Type, Audience: b.MessageAudience,
		Event: b.Event, Metadata: req.Metadata, EncodedMetadata: req.EncodedMetadata,
	}
	if c.consumer != "" {
		if conv.ConsumerID != c.consumer {
			return nil, forbidden(conv)
		}
		if me.Audience != "" {
			return nil, botrelay.Errorf(botrelay.EFORBIDDEN, "consumers cannot send private messages")
		}
		if ev.Type == "ContentEvent" || ev.Type == "RichContentEvent" {
			if err := h.o.Consumers.Message(c.addr, string(c.consumer), len(b.Event)); err != nil {
				return nil, err
			}
		}
		me.OriginatorID, me.OriginatorPID, me.OriginatorRole = string(c.consumer), string(c.consumer), botrelay.ParticipantConsumer
	} else {
		role := botrelay.ParticipantRole("")
		for _, p := range conv.Participants {
			if p.UserID == c.sess.user.ID && p.State == botrelay.ParticipantStateActive {
				role = p.Role
				break
			}
		}
		if role == "" {
			return nil, forbidden(conv)
		}
		me.OriginatorID, me.OriginatorPID = h.legacyID(c.sess.user.ID), c.sess.user.PID
		me.OriginatorRole, me.OriginatorName, me.OriginatorType = role, c.sess.user.Nickname, c.sess.user.Type
	}
	if cs == nil || conv.State != botrelay.ConversationOpen {
		return nil, botrelay.Errorf(botrelay.ECONFLICT, "conversation %s is closed", conv.ID)
	}
	cs.op.Lock()
	defer cs.op.Unlock()
	h.mu.Lock()
	cur := cs.c
	h.mu.Unlock()
	if cur.State != botrelay.ConversationOpen || cur.Dialog(me.DialogID) == nil || cur.Dialog(me.DialogID).State != botrelay.DialogOpen {
		return nil, botrelay.Errorf(botrelay.ECONFLICT, "dialog %s is closed", me.DialogID)
	}
	if ev.Type == "ChatStateEvent" {
		me.CreatedAt = h.now()
	} else if err := h.store.AppendEvent(ctx, me); err != nil {
		return nil, err
	} else {
		cs.seqDialog, cs.seq = me.DialogID, me.Sequence
	}
	h.mu.Lock()
	h.deliver(cur, me)
	h.mu.Unlock()
	return map[string]int64{"sequence": me.Sequence}, nil
}

// deliver sends an event to the conversation's agents (OnlineEventDistribution)
// and, unless private, to the consumer's subscribed connections: the
// connections of the conversation's active participants, found through
// their sessions and the consumer index, not by walking every connection.
// The caller holds h.mu.
func (h *Hub) deliver(conv *botrelay.Conversation, e *botrelay.MessageEvent) {
	var sent []botrelay.UserID
	for _, p := range conv.Participants {
		if p.UserID == 0 || p.State != botrelay.ParticipantStateActive || slices.Contains(sent, p.UserID) {
			continue
		}
		sent = append(sent, p.UserID)
		if s := h.userSession[p.UserID]; s != nil && s.conn != nil {
			s.conn.send(ums.NewNotification(ums.NotifyOnlineEventDistribution, agentEvent(e)))
		}
	}
	if e.Audience != botrelay.AudienceAll {
		return
	}
	for c := range h.consumerConns[conv.ConsumerID] {
		if c.msgSubs[conv.ID] {
			c.send(ums.NewNotification(ums.NotifyMessagingEvent, ums.MessagingEventBody{Changes: []ums.MessagingEvent{consumerEvent(e)}}))
		}
	}
}

// queryMessages answers the events of a dialog after a sequence.
func (h *Hub) queryMessages(ctx context.Context, c *conn, req *ums.Request) (any, error) {
	var b ums.QueryMessagesBody
	if err := ums.DecodeBody(req, &b); err != nil {
		return nil, err
	}
	conv, _, err := h.dialogConversation(ctx, b.DialogID, b.ConversationID)
	if err != nil {
		return nil, err
	}
	if !canRead(c, conv) {
		return nil, forbidden(conv)
	}
	limit := b.MaxQuantity
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	evs, err := h.store.Events(ctx, conv.ID, botrelay.DialogID(b.DialogID), b.NewerThanSequence, limit)
	if err != nil {
		return nil, err
	}
	out := []ums.MessagingEvent{}
	for _, e := range evs {
		if c.consumer != "" {
			if e.Audience == botrelay.AudienceAll {
				out = append(out, consumerEvent(e))
			}
		} else {
			out = append(out, agentEvent(e))
		}
	}
	return out, nil
}

// subscribeMessaging sends a consumer the stored events of a conversation
// from a sequence on, then every new one.
func (h *Hub) subscribeMessaging(ctx context.Context, c *conn, req *ums.Request) (any, error) {
	var b struct {
		DialogID       string `json:"dialogId"`
		ConversationID string `json:"conversationId"`
		FromSeq        int64  `json:"fromSeq"`
	}
	if err := ums.DecodeBody(req, &b); err != nil {
		return nil, err
	}
	if b.DialogID == "" {
		b.DialogID = b.ConversationID
	}
	conv, cs, err := h.dialogConversation(ctx, b.DialogID, b.ConversationID)
	if err != nil {
		return nil, err
	}
	if !canRead(c, conv) {
		return nil, forbidden(conv)
	}
	if cs != nil {
		cs.op.Lock() // no event is appended between history and live delivery
		defer cs.op.Unlock()
	}
	var hist []*botrelay.MessageEvent
	after := false
	for _, d := range conv.Dialogs {
		if string(d.ID) == b.DialogID {
			after = true
			evs, err := h.store.Events(ctx, conv.ID, d.ID, b.FromSeq-1, 0)
			if err != nil {
				return nil, err
			}
			hist = append(hist, evs...)
		} else if after {
			evs, err := h.store.Events(ctx, conv.ID, d.ID, 0, 0)
			if err != nil {
				return nil, err
			}
			hist = append(hist, evs...)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	c.send(ums.OK(req, nil))
	var changes []ums.MessagingEvent
	for _, e := range hist {
		if e.Audience == botrelay.AudienceAll {
			changes = append(changes, consumerEvent(e))
		}
	}
	if len(changes) > 0 {
		c.send(ums.NewNotification(ums.NotifyMessagingEvent, ums.MessagingEventBody{Changes: changes}))
	}
	c.msgSubs[conv.ID] = true
	return errAnswered, nil
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
		cs.tried[s.user.ID] = true
		h.cancelRing(cs, "REJECTED")
		h.dispatch()
		h.mu.Unlock()
		return nil
	default:
		h.mu.Unlock()
		return botrelay.Errorf(botrelay.EINVALID, "ringState must be ACCEPTED or REJECTED")
	}
	h.mu.Unlock()

	err := h.mutate(ctx, cs, func(conv *botrelay.Conversation) error {
		h.mu.Lock()
		ok := cs.ring == r && conv.AssignedAgent() == 0
		if ok {
			// Detach the ring so it neither expires nor is reported as
			// cancelled while the assignment is stored.
			r.timer.Stop()
			delete(h.rings, r.id)
			cs.ring = nil
		}
		h.mu.Unlock()
		if !ok {
			return botrelay.Errorf(botrelay.ECONFLICT, "ring %q is no longer waiting", ringID)
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
	if err != nil {
		// The assignment was not stored: the conversation still waits.
		h.mu.Lock()
		h.dispatch()
		h.mu.Unlock()
	}
	return err
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
