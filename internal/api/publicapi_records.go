package api

import (
	"encoding/json"
	"net/http"

	"github.com/botrelay/botrelay"
)

// Command records (spec §5): what GET …/command and …/command/{id} show.

type commandRecordJSON struct {
	ID     string             `json:"id"`
	Data   commandDataJSON    `json:"data"`
	Result *commandResultJSON `json:"result"`
	State  string             `json:"state"`
}

type commandDataJSON struct {
	Type           string          `json:"type"`
	Payload        json.RawMessage `json:"payload"`
	ConversationID string          `json:"conversationId"`
	IsInternal     bool            `json:"isInternal"`
	TimeoutTime    int64           `json:"timeoutTime"`
}

type commandResultJSON struct {
	ExecutionTime int64             `json:"executionTime"`
	StartTime     int64             `json:"startTime"`
	EndTime       int64             `json:"endTime"`
	Error         *commandErrorJSON `json:"error,omitempty"`
}

type commandErrorJSON struct {
	Trace   []string `json:"trace"`
	Name    string   `json:"name"`
	Cause   string   `json:"cause,omitempty"`
	Message string   `json:"message"`
}

// toCommandRecord renders c as of now: a command still stored as waiting
// but past its time to live and never taken shows as failed already (the
// relay's sweep records it soon).
func toCommandRecord(c *botrelay.Command, now func() int64) commandRecordJSON {
	rec := commandRecordJSON{ID: c.ID, State: string(c.State), Data: commandDataJSON{Type: string(c.Type), Payload: c.Payload,
		ConversationID: string(c.ConversationID), IsInternal: true, TimeoutTime: c.TimeoutAt.UnixMilli()}}
	state, ended, msg := c.State, c.EndedAt.UnixMilli(), c.ErrorMessage
	if state == botrelay.CommandWaiting && c.StartedAt.IsZero() && now() >= c.TimeoutAt.UnixMilli() {
		state, ended, msg = botrelay.CommandFailed, c.TimeoutAt.UnixMilli(), "the command was not carried out within its ttl"
	}
	rec.State = string(state)
	if state == botrelay.CommandWaiting {
		return rec
	}
	start := ended
	if !c.StartedAt.IsZero() {
		start = c.StartedAt.UnixMilli()
	}
	rec.Result = &commandResultJSON{ExecutionTime: ended - start, StartTime: start, EndTime: ended}
	if state == botrelay.CommandFailed {
		rec.Result.Error = &commandErrorJSON{Trace: []string{}, Name: botrelay.CommandFailedName, Cause: c.ErrorCause, Message: msg}
	}
	return rec
}

// commandConversation checks the conversation of a command list or get:
// it must be in this account; ok is false (and nothing is listed) once it
// is closed, as §5 returns only the commands of ongoing conversations.
func (a *API) commandConversation(r *http.Request) (ok bool, err error) {
	id := botrelay.ConversationID(r.PathValue("conversationId"))
	conv, err := a.o.Store.Conversation(r.Context(), id)
	if botrelay.ErrorCode(err) == botrelay.ENOTFOUND || (err == nil && conv.AccountID != a.o.Account) {
		return false, botrelay.Errorf(botrelay.ENOTFOUND, "conversation %q not found", id)
	} else if err != nil {
		return false, err
	}
	return conv.State == botrelay.ConversationOpen, nil
}

func (a *API) listCommands(w http.ResponseWriter, r *http.Request) {
	open, err := a.commandConversation(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := []commandRecordJSON{}
	if open {
		cs, err := a.o.Store.Commands(r.Context(), botrelay.ConversationID(r.PathValue("conversationId")), botrelay.MaxCommandsPerBot)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		for _, c := range cs {
			out = append(out, toCommandRecord(c, a.nowMillis))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) getCommand(w http.ResponseWriter, r *http.Request) {
	open, err := a.commandConversation(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	id := r.PathValue("commandId")
	c, err := a.o.Store.Command(r.Context(), id)
	if err == nil && (!open || c.ConversationID != botrelay.ConversationID(r.PathValue("conversationId"))) {
		err = botrelay.Errorf(botrelay.ENOTFOUND, "command %q not found", id)
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toCommandRecord(c, a.nowMillis))
}

func (a *API) nowMillis() int64 { return a.o.Now().UnixMilli() }
