package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/botrelay/botrelay"
)

type stateEventJSON struct {
	State   botrelay.BotState `json:"state"`
	Code    string            `json:"code,omitempty"`
	Message string            `json:"message,omitempty"`
	ErrorID string            `json:"errorId,omitempty"`
	At      string            `json:"at"`
}

type statusJSON struct {
	ID                botrelay.BotID    `json:"id"`
	State             botrelay.BotState `json:"state"`
	Started           bool              `json:"started"`
	OpenConversations int               `json:"openConversations"`
	// History lists the state changes since the last start, newest first.
	History []stateEventJSON `json:"history"`
}

// maxHistory bounds the state history a status shows.
const maxHistory = 500

// botStatus shows the current state and the state history (F38).
func (a *API) botStatus(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	b, err := a.bot(ctx, r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	// The state first: the relay stores a state's event before the state
	// shows, so the history read after it holds the event of that state.
	state := a.o.Relay.State(b.ID)
	events, err := a.o.Store.BotStateEvents(ctx, b.ID, maxHistory)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	n, err := a.o.Store.CountOpenBotConversations(ctx, b.ID)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	s := statusJSON{ID: b.ID, State: state, Started: b.Started, OpenConversations: n,
		History: make([]stateEventJSON, 0, len(events))}
	for _, e := range events {
		s.History = append(s.History, stateEventJSON{State: e.State, Code: e.Code, Message: e.Message, ErrorID: e.ErrorID,
			At: timeString(e.At)})
	}
	writeJSON(w, http.StatusOK, s)
}

type botErrorJSON struct {
	ID             string                  `json:"id"`
	ConversationID botrelay.ConversationID `json:"conversationId"`
	Code           string                  `json:"code"`
	Message        string                  `json:"message"`
	Details        json.RawMessage         `json:"details,omitempty"`
	At             string                  `json:"at"`
}

// botErrors lists the conversation error log (F37), newest first,
// optionally for one conversation (?conversationId) and at most ?limit.
func (a *API) botErrors(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	b, err := a.bot(ctx, r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	limit, err := queryLimit(r, botrelay.MaxBotErrors, botrelay.MaxBotErrors)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	errs, err := a.o.Store.BotErrors(ctx, b.ID, botrelay.ConversationID(r.URL.Query().Get("conversationId")), limit)
	if err != nil && !errors.Is(err, botrelay.ErrNotFound) {
		a.writeError(w, r, err)
		return
	}
	out := make([]botErrorJSON, 0, len(errs))
	for _, e := range errs {
		out = append(out, botErrorJSON{ID: e.ID, ConversationID: e.ConversationID, Code: e.Code, Message: e.Message,
			Details: e.Details, At: timeString(e.At)})
	}
	writeJSON(w, http.StatusOK, out)
}

type botConversationJSON struct {
	ConversationID botrelay.ConversationID `json:"conversationId"`
	DialogID       botrelay.DialogID       `json:"dialogId"`
	ConsumerID     botrelay.ConsumerID     `json:"consumerId"`
	SkillID        botrelay.SkillID        `json:"skillId"`
	Escalations    int                     `json:"escalations"`
	CreatedAt      string                  `json:"createdAt"`
	UpdatedAt      string                  `json:"updatedAt"`
}

// botConversations lists the conversations the bot holds, oldest first.
func (a *API) botConversations(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	b, err := a.bot(ctx, r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	convs, err := a.o.Store.OpenBotConversations(ctx, b.ID)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make([]botConversationJSON, 0, len(convs))
	for _, c := range convs {
		out = append(out, botConversationJSON{ConversationID: c.ConversationID, DialogID: c.DialogID, ConsumerID: c.ConsumerID,
			SkillID: c.SkillID, Escalations: c.Escalations, CreatedAt: timeString(c.CreatedAt), UpdatedAt: timeString(c.UpdatedAt)})
	}
	writeJSON(w, http.StatusOK, out)
}
