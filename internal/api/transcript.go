package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/botrelay/botrelay"
)

// authorJSON is who wrote a message: the consumer (consumerId) or a user
// (userId and userType).
type authorJSON struct {
	Role       botrelay.ParticipantRole `json:"role"`
	Name       string                   `json:"name"`
	ConsumerID botrelay.ConsumerID      `json:"consumerId,omitempty"`
	UserID     botrelay.UserID          `json:"userId,omitempty"`
	UserType   botrelay.UserType        `json:"userType,omitempty"`
}

// entryJSON is one line of a transcript. Kind "message" fills the message
// fields, "event" the system event's, "botError" the error's.
type entryJSON struct {
	Kind string `json:"kind"`
	At   string `json:"at"`

	DialogID botrelay.DialogID `json:"dialogId,omitempty"`
	Sequence int64             `json:"sequence,omitempty"`
	Author   *authorJSON       `json:"author,omitempty"`
	Private  *bool             `json:"private,omitempty"`
	Event    json.RawMessage   `json:"event,omitempty"`
	Metadata json.RawMessage   `json:"metadata,omitempty"`

	Type       string                   `json:"type,omitempty"`
	User       *userRefJSON             `json:"user,omitempty"`
	Role       botrelay.ParticipantRole `json:"role,omitempty"`
	Skill      *skillRefJSON            `json:"skill,omitempty"`
	FromSkill  *skillRefJSON            `json:"fromSkill,omitempty"`
	TTR        botrelay.TTRType         `json:"ttr,omitempty"`
	ManualETTR string                   `json:"manualEttr,omitempty"`
	By         string                   `json:"by,omitempty"`
	DialogType string                   `json:"dialogType,omitempty"`

	Bot     *refJSON `json:"bot,omitempty"`
	ErrorID string   `json:"errorId,omitempty"`
	Code    string   `json:"code,omitempty"`
	Message string   `json:"message,omitempty"`

	at   time.Time
	rank int
}

// The order of entries with the same time: the start, then messages, bot
// errors, system events.
const (
	rankStart = iota
	rankMessage
	rankError
	rankEvent
)

type transcriptJSON struct {
	Conversation conversationJSON `json:"conversation"`
	Transcript   []entryJSON      `json:"transcript"`
}

// getConversation renders a conversation with its whole transcript:
// messages (text, files and rich content as stored; private notes marked),
// system events and the bots' error log, interleaved by time. Receipts
// (AcceptStatusEvent) are left out.
func (a *API) getConversation(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	c, err := a.visibleConversation(ctx, r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	events, err := a.o.Store.Events(ctx, c.ID, "", 0, 0)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	changes, err := a.o.Store.ConversationChanges(ctx, c.ID)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	errs, err := a.o.Store.ConversationBotErrors(ctx, c.ID)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	bots, err := a.o.Store.ConversationBots(ctx, []botrelay.ConversationID{c.ID})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	n := a.newNames(ctx)
	out := transcriptJSON{Conversation: n.conversation(c, bots[c.ID]), Transcript: []entryJSON{n.started(c, changes)}}
	for _, e := range events {
		if e.Type != "AcceptStatusEvent" {
			out.Transcript = append(out.Transcript, n.message(c, e))
		}
	}
	for _, e := range errs {
		b := n.bot(e.BotID)
		out.Transcript = append(out.Transcript, entryJSON{Kind: "botError", at: e.At, rank: rankError, Bot: &b,
			ErrorID: e.ID, Code: e.Code, Message: e.Message})
	}
	for _, ch := range changes {
		out.Transcript = append(out.Transcript, n.change(ch))
	}
	slices.SortStableFunc(out.Transcript, func(x, y entryJSON) int {
		if c := x.at.Compare(y.at); c != 0 {
			return c
		}
		return x.rank - y.rank
	})
	for i := range out.Transcript {
		out.Transcript[i].At = timeString(out.Transcript[i].at)
	}
	writeJSON(w, http.StatusOK, out)
}

// started is the transcript's first line: the consumer opened the
// conversation on its first skill (before any transfer).
func (n *names) started(c *botrelay.Conversation, changes []*botrelay.ConversationChange) entryJSON {
	first := c.SkillID
	for _, ch := range changes {
		if ch.Kind == botrelay.ChangeTransferred {
			first = ch.FromSkillID
			break
		}
	}
	sk := n.skill(first)
	return entryJSON{Kind: "event", Type: "CONVERSATION_STARTED", Skill: &sk, at: c.CreatedAt, rank: rankStart}
}

// message renders a stored message event.
func (n *names) message(c *botrelay.Conversation, e *botrelay.MessageEvent) entryJSON {
	private := e.Audience == botrelay.AudienceAgentsAndManagers
	au := &authorJSON{Role: e.OriginatorRole, Name: e.OriginatorName}
	if e.OriginatorRole == botrelay.ParticipantConsumer {
		au.ConsumerID = botrelay.ConsumerID(e.OriginatorID)
		au.Name = botrelay.ConsumerDisplayName(au.ConsumerID, c.Context)
	} else {
		// OriginatorID is "<account>.<userId>".
		_, num, _ := strings.Cut(e.OriginatorID, ".")
		if id, err := strconv.ParseInt(num, 10, 64); err == nil {
			au.UserID = botrelay.UserID(id)
		}
		au.UserType = e.OriginatorType
		if au.UserType == "" && au.UserID != 0 {
			au.UserType = n.user(au.UserID).Type
		}
		if au.Name == "" && au.UserID != 0 {
			au.Name = n.user(au.UserID).Name
		}
	}
	j := entryJSON{Kind: "message", DialogID: e.DialogID, Sequence: e.Sequence, Author: au, Private: &private,
		Event: e.Event, at: e.CreatedAt, rank: rankMessage}
	if len(e.Metadata) > 0 && e.Metadata[0] == '[' {
		j.Metadata = e.Metadata
	}
	return j
}

// change renders a system event.
func (n *names) change(ch *botrelay.ConversationChange) entryJSON {
	j := entryJSON{Kind: "event", Type: string(ch.Kind), at: ch.At, rank: rankEvent}
	switch ch.Kind {
	case botrelay.ChangeJoined, botrelay.ChangeLeft, botrelay.ChangeSuggested:
		u := n.user(ch.UserID)
		j.User, j.Role = &u, ch.Role
	case botrelay.ChangeTransferred:
		to, from := n.skill(ch.SkillID), n.skill(ch.FromSkillID)
		j.Skill, j.FromSkill = &to, &from
	case botrelay.ChangeTTR:
		j.TTR = ch.TTR
		if !ch.ManualETTR.IsZero() {
			j.ManualETTR = timeString(ch.ManualETTR)
		}
	case botrelay.ChangeDialogOpened:
		j.DialogType = ch.Value
	case botrelay.ChangeClosed:
		j.By = ch.Value
	}
	return j
}
