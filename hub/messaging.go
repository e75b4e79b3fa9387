package hub

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/ums"
)

type eventShape struct {
	Type         string          `json:"type"`
	ContentType  string          `json:"contentType"`
	Message      json.RawMessage `json:"message"`
	ChatState    string          `json:"chatState"`
	Status       string          `json:"status"`
	SequenceList []int64         `json:"sequenceList"`
	Content      json.RawMessage `json:"content"`
}

// eventFields are eventShape's members as encoding/json matches them.
var eventFields = []string{"type", "contentType", "message", "chatState", "status", "sequenceList", "content"}

// readPlain reads a published event (valid JSON: part of a frame the hub
// decoded) member by member, as encoding/json would; false means: let
// encoding/json read it (an escape, a sequence list, a key that differs
// from a field's name by case, a member of another type).
func (e *eventShape) readPlain(raw []byte) bool {
	var buf [8]ums.Member
	ms, ok := ums.SplitObject(raw, buf[:0])
	if !ok {
		return false
	}
	for _, m := range ms {
		var dst *string
		switch string(m.Key) {
		case "type":
			dst = &e.Type
		case "contentType":
			dst = &e.ContentType
		case "chatState":
			dst = &e.ChatState
		case "status":
			dst = &e.Status
		case "message":
			e.Message = json.RawMessage(m.Val)
			continue
		case "content":
			e.Content = json.RawMessage(m.Val)
			continue
		default:
			if ums.FoldsTo(m.Key, eventFields...) {
				return false
			}
			continue
		}
		if string(m.Val) == "null" {
			continue
		}
		s, ok := ums.PlainString(m.Val)
		if !ok {
			return false
		}
		*dst = s
	}
	return true
}

// checkEvent validates a published event.
func (h *Hub) checkEvent(c *conn, raw json.RawMessage) (*eventShape, error) {
	if len(raw) == 0 || raw[0] != '{' {
		return nil, botrelay.Errorf(botrelay.EINVALID, "event must be an object")
	}
	var e eventShape
	if !e.readPlain(raw) {
		e = eventShape{}
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, botrelay.Errorf(botrelay.EINVALID, "event is malformed")
		}
	}
	switch e.Type {
	case "ContentEvent":
		switch e.ContentType {
		case "", "text/plain", "text/html":
			// A string (or null, which decodes as an empty one): the
			// event was decoded, so a token starting with a quote is a
			// valid string.
			if m := e.Message; len(m) == 0 || (m[0] != '"' && string(m) != "null") {
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
	b, ok := req.Parsed.(*ums.PublishEventBody) // decoded by laneKey
	if !ok {
		b = new(ums.PublishEventBody)
		if err := ums.DecodeBody(req, b); err != nil {
			return nil, err
		}
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
	me, err := h.messageEvent(c, req, b, conv, ev)
	if err != nil {
		return nil, err
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
	if me.OriginatorRole == botrelay.ParticipantConsumer && me.Sequence > 0 {
		cs.consumerDialog, cs.consumerSeq = me.DialogID, me.Sequence
	}
	if c.consumer != "" && notePreview(cs, ev, me.CreatedAt) {
		h.refreshRing(cs)
	}
	h.deliver(cur, me)
	h.mu.Unlock()
	return sequenceAnswer{req, me.Sequence}, nil
}

// messageEvent makes the event a request publishes into conv: checks the
// audience, and that the sender may publish there (the consumer of the
// conversation, within its message limits, or an active participant),
// and names the sender as originator.
func (h *Hub) messageEvent(c *conn, req *ums.Request, b *ums.PublishEventBody, conv *botrelay.Conversation, ev *eventShape) (*botrelay.MessageEvent, error) {
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
		if err := agentFileOwner(ev, conv); err != nil {
			return nil, err
		}
		me.OriginatorID, me.OriginatorPID = h.legacyID(c.sess.user.ID), c.sess.user.PID
		me.OriginatorRole, me.OriginatorName, me.OriginatorType = role, c.sess.user.Nickname, c.sess.user.Type
	}
	return me, nil
}

// deliver sends an event to the conversation's agents (OnlineEventDistribution)
// and, unless private, to the consumer's subscribed connections: the
// connections of the conversation's active participants, found through
// their sessions and the consumer index, not by walking every connection.
// The caller holds h.mu.
// Each frame is encoded once, however many connections it goes to.
func (h *Hub) deliver(conv *botrelay.Conversation, e *botrelay.MessageEvent) {
	var sent []botrelay.UserID
	var frame []byte
	for _, p := range conv.Participants {
		if p.UserID == 0 || p.State != botrelay.ParticipantStateActive || slices.Contains(sent, p.UserID) {
			continue
		}
		sent = append(sent, p.UserID)
		if s := h.userSession[p.UserID]; s != nil && s.conn != nil {
			if frame == nil {
				ev := agentEvent(e)
				if frame = h.encoded(ums.EncodeAgentEvent(&ev)); frame == nil {
					break
				}
			}
			s.conn.sendBytes(frame)
		}
	}
	if e.Audience != botrelay.AudienceAll {
		return
	}
	frame = nil
	for c := range h.consumerConns[conv.ConsumerID] {
		if c.msgSubs[conv.ID] {
			if frame == nil {
				ev := consumerEvent(e)
				if frame = h.encoded(ums.EncodeConsumerEvent(&ev)); frame == nil {
					return
				}
			}
			c.sendBytes(frame)
		}
	}
}

// encoded returns an encoded frame, or nil after logging why it could not
// be encoded (as conn.send does).
func (h *Hub) encoded(b []byte, err error) []byte {
	if err != nil {
		h.log.Error("encode frame", "err", err)
		return nil
	}
	return b
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
