package chatclient

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// conversationNotification is the body of cqm.ExConversationChangeNotification.
type conversationNotification struct {
	Changes []conversationChange `json:"changes"`
}

// conversationChange is one UPSERT or DELETE of a conversation.
type conversationChange struct {
	Type   string `json:"type"`
	Result struct {
		ConvID              string              `json:"convId"`
		ConversationDetails conversationDetails `json:"conversationDetails"`
	} `json:"result"`
}

type conversationDetails struct {
	ConvID       string              `json:"convId"`
	SkillID      json.RawMessage     `json:"skillId"`
	State        string              `json:"state"`
	Participants map[string][]string `json:"participants"`
	// ParticipantsPID lists the same participants by participant id (PID).
	ParticipantsPID map[string][]string `json:"participantsPId"`
	// ParticipantNames maps participant ids to display names.
	ParticipantNames map[string]string `json:"participantNames"`
	Dialogs          []struct {
		DialogID            string `json:"dialogId"`
		DialogType          string `json:"dialogType"`
		State               string `json:"state"`
		ParticipantsDetails []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"participantsDetails"`
	} `json:"dialogs"`
}

// learnNames keeps the participants' display names a change carries.
func (c *client) learnNames(d conversationDetails) {
	for id, name := range d.ParticipantNames {
		if name != "" {
			c.names[id] = name
		}
	}
	for _, dl := range d.Dialogs {
		for _, p := range dl.ParticipantsDetails {
			if p.ID != "" && p.Name != "" {
				c.names[p.ID] = p.Name
			}
		}
	}
}

// applyAgents records the conversation's assigned agents; with announce,
// an agent who joins after an earlier one is printed as joined.
func (c *client) applyAgents(conv *conversation, d conversationDetails, announce bool) {
	// Prefer participant ids (PIDs): participantNames uses them.
	assigned, ok := d.ParticipantsPID["ASSIGNED_AGENT"]
	if !ok {
		assigned = d.Participants["ASSIGNED_AGENT"]
	}
	agents := map[string]bool{}
	for _, a := range assigned {
		agents[a] = true
		if announce && conv.hadAgent && !conv.agents[a] {
			name := c.names[a]
			if name == "" {
				name = "an agent"
			}
			c.println("system", name+" joined")
		}
	}
	conv.agents = agents
	if len(agents) > 0 {
		conv.hadAgent = true
	}
}

// applyConversation updates what the client knows of a conversation and, for
// its own conversation, prints transfers, agents joining and the close. The
// first agent to take the conversation (usually the bot) is not announced.
func (c *client) applyConversation(ctx context.Context, ch conversationChange) error {
	d := ch.Result.ConversationDetails
	id := ch.Result.ConvID
	if id == "" {
		id = d.ConvID
	}
	if id == "" {
		return nil
	}
	ours := id == c.convID
	conv := c.conv(id)
	if ch.Type == "DELETE" && d.State == "" {
		if ours && conv.state != "CLOSE" {
			conv.state = "CLOSE"
			c.println("system", "conversation closed")
			c.closed = true
		}
		return nil
	}
	known := conv.state != ""
	c.learnNames(d)
	skill := strings.Trim(string(d.SkillID), `"`)
	if ours && known && skill != "" && conv.skillID != "" && skill != conv.skillID {
		c.println("system", "conversation transferred")
	}
	if skill != "" {
		conv.skillID = skill
	}
	if d.Participants != nil || d.ParticipantsPID != nil {
		c.applyAgents(conv, d, ours && known)
	}
	for _, dl := range d.Dialogs {
		if dl.DialogID == "" {
			continue
		}
		_, had := conv.dialogs[dl.DialogID]
		conv.dialogs[dl.DialogID] = dialog{typ: dl.DialogType, state: dl.State}
		if ours && !had && dl.DialogType == "POST_SURVEY" && dl.State == "OPEN" {
			if err := c.subscribe(ctx, dl.DialogID); err != nil {
				return err
			}
		}
	}
	if d.State != "" {
		was := conv.state
		conv.state = d.State
		if ours && was != "CLOSE" && (d.State == "CLOSE" || d.State == "CLOSED") {
			conv.state = "CLOSE"
			c.println("system", "conversation closed")
			c.closed = true
		}
	}
	return nil
}

// messagingNotification is the body of ms.MessagingEventNotification.
type messagingNotification struct {
	Changes []messagingEvent `json:"changes"`
}

// messagingEvent is one event of a dialog as the hub distributes it.
type messagingEvent struct {
	Sequence           int64  `json:"sequence"`
	OriginatorID       string `json:"originatorId"`
	OriginatorMetadata struct {
		ID       string `json:"id"`
		Role     string `json:"role"`
		Name     string `json:"name"`
		UserType string `json:"userType"`
	} `json:"originatorMetadata"`
	Event          json.RawMessage `json:"event"`
	ConversationID string          `json:"conversationId"`
	DialogID       string          `json:"dialogId"`
}

func (c *client) messagingEvent(ev messagingEvent) {
	conv := c.convs[c.convID]
	if conv == nil {
		return
	}
	if _, ok := conv.dialogs[ev.DialogID]; !ok && ev.DialogID != c.convID {
		return
	}
	if m := ev.OriginatorMetadata; m.Name != "" {
		if m.ID != "" {
			c.names[m.ID] = m.Name
		}
		if ev.OriginatorID != "" {
			c.names[ev.OriginatorID] = m.Name
		}
	}
	key := ev.DialogID + ":" + strconv.FormatInt(ev.Sequence, 10)
	if c.seen[key] {
		return
	}
	who, text, ok := formatEvent(ev, c.consumerID)
	if !ok {
		return
	}
	c.seen[key] = true
	c.println(who, text)
}

// println writes "who: text" as one line and flushes it.
func (c *client) println(who, text string) {
	fmt.Fprintf(c.out, "%s: %s\n", who, text)
	c.out.Flush()
	c.printed = true
}
