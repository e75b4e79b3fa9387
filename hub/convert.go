package hub

import (
	"encoding/json"
	"strconv"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/ums"
)

// details renders a conversation as the protocol's conversationDetails.
// participants carries legacy ids ("<account>.<userId>", the consumer id),
// participantsPId the PIDs; suggested agents appear only in the dialogs'
// participantsDetails, after the active ones. The caller holds h.mu (for
// the user cache).
func (h *Hub) details(c *botrelay.Conversation) ums.ConversationDetails {
	skill := strconv.FormatInt(int64(c.SkillID), 10)
	d := ums.ConversationDetails{
		ConvID: string(c.ID), SkillID: skill, BrandID: string(h.o.Account), State: string(c.State),
		Stage: string(c.State), CloseReason: c.CloseReason, StartTs: ms(c.CreatedAt), EndTs: ms(c.ClosedAt),
		MetaDataLastUpdateTs: ms(c.UpdatedAt), FirstConversation: false,
		TTR:                        ums.TTR{TTRType: string(c.TTR), Value: ttrSeconds(c.TTR)},
		ManualETTR:                 ms(c.ManualETTR),
		ConversationHandlerDetails: ums.HandlerDetails{AccountID: string(h.o.Account), SkillID: skill},
		Participants:               map[string][]string{"CONSUMER": {}, "ASSIGNED_AGENT": {}, "AGENT": {}, "MANAGER": {}, "READER": {}},
		ParticipantsPID:            map[string][]string{"CONSUMER": {}, "ASSIGNED_AGENT": {}, "AGENT": {}, "MANAGER": {}, "READER": {}},
		ParticipantNames:           map[string]string{},
	}
	if len(c.Context) > 0 {
		d.Context = c.Context
	} else {
		d.Context = json.RawMessage(`{"type":"SharkContext","lang":"en-US","clientProperties":{}}`)
	}
	var active, suggested []ums.ParticipantDetails
	for _, p := range c.Participants {
		legacy, pid := string(p.ConsumerID), string(p.ConsumerID)
		if p.UserID != 0 {
			legacy = h.legacyID(p.UserID)
			pid = legacy
			if u := h.users[p.UserID]; u != nil {
				pid = u.PID
				d.ParticipantNames[pid] = u.Nickname
			}
		}
		if p.ConsumerID != "" {
			if n := consumerName(c.Context); n != "" {
				d.ParticipantNames[pid] = n
			}
		}
		role := string(p.Role)
		if p.State == botrelay.ParticipantStateSuggested {
			suggested = append(suggested, ums.ParticipantDetails{ID: pid, Role: role, State: string(p.State)})
			continue
		}
		d.Participants[role] = append(d.Participants[role], legacy)
		d.ParticipantsPID[role] = append(d.ParticipantsPID[role], pid)
		active = append(active, ums.ParticipantDetails{ID: pid, Role: role, State: string(p.State)})
	}
	parts := append(active, suggested...)
	for _, dl := range c.Dialogs {
		d.Dialogs = append(d.Dialogs, ums.DialogDetails{
			DialogID: string(dl.ID), DialogType: string(dl.Type), ChannelType: "MESSAGING", State: string(dl.State),
			CreationTs: ms(dl.CreatedAt), EndTs: ms(dl.ClosedAt), ClosedBy: dl.ClosedBy, MetaData: map[string]any{},
			ParticipantsDetails:  append([]ums.ParticipantDetails{}, parts...),
			HandoffSequence:      dl.HandoffSequence,
			LastConsumerSequence: h.lastConsumer(c.ID, &dl),
		})
	}
	return d
}

// lastConsumer is the sequence of the last event the consumer wrote in a
// dialog, or nil when the hub does not know it: the one it stored since it
// holds the conversation, else the one the store held when the hub read
// the conversation (or 0 for a dialog it made), as long as the consumer
// wrote nothing in another dialog meanwhile. Consumer events are stored
// and delivered under h.mu (publish), which the caller holds: an event
// after the returned sequence reaches the agents after this notification.
func (h *Hub) lastConsumer(conv botrelay.ConversationID, dl *botrelay.Dialog) *int64 {
	cs := h.convs[conv]
	if cs == nil {
		return nil
	}
	switch cs.consumerDialog {
	case dl.ID:
		n := cs.consumerSeq
		return &n
	case "":
		n := dl.LastConsumerSequence
		return &n
	}
	return nil
}

func ttrSeconds(t botrelay.TTRType) int64 {
	switch t {
	case botrelay.TTRUrgent:
		return 300
	case botrelay.TTRPrioritized:
		return 600
	}
	return 3600
}

// change renders one conversation change.
func (h *Hub) change(typ string, c *botrelay.Conversation) ums.ConversationChange {
	d := h.details(c)
	return ums.ConversationChange{Type: typ, Result: ums.ConversationResult{
		ConvID: string(c.ID), EffectiveTTR: ms(c.CreatedAt) + ttrSeconds(c.TTR)*1000, LastUpdateTime: ms(c.UpdatedAt),
		NumberOfUnreadMessages: map[string]int{}, ConversationDetails: d,
	}}
}

// agentEvent renders a stored event for agents (OnlineEventDistribution,
// QueryMessages).
func agentEvent(e *botrelay.MessageEvent) ums.MessagingEvent {
	return ums.MessagingEvent{
		Sequence: e.Sequence, ConversationID: string(e.ConversationID), DialogID: string(e.DialogID),
		ServerTimestamp: ms(e.CreatedAt), OriginatorID: e.OriginatorID, OriginatorPID: e.OriginatorPID,
		OriginatorMetadata: ums.OriginatorMetadata{ID: e.OriginatorPID, Role: string(e.OriginatorRole), Name: e.OriginatorName,
			UserType: string(e.OriginatorType)},
		Event: e.Event, MessageAudience: e.Audience, Metadata: e.Metadata, EncodedMetadata: e.EncodedMetadata,
	}
}

// consumerEvent renders a stored event for the consumer: originatorId is the
// agent's PID or the consumer id.
func consumerEvent(e *botrelay.MessageEvent) ums.MessagingEvent {
	ev := agentEvent(e)
	ev.OriginatorID = e.OriginatorPID
	ev.OriginatorPID = ""
	ev.MessageAudience = ""
	return ev
}
