package api

import (
	"context"
	"net/http"

	"github.com/botrelay/botrelay"
)

// startBot starts the bot; it answers once the bot is launched, usually
// still STARTING. ECONFLICT when it runs already.
func (a *API) startBot(w http.ResponseWriter, r *http.Request) {
	a.botAction(w, r, a.o.Relay.Start, http.StatusAccepted)
}

// stopBot stops the bot and answers once it is Offline.
func (a *API) stopBot(w http.ResponseWriter, r *http.Request) {
	a.botAction(w, r, a.o.Relay.Stop, http.StatusOK)
}

// botAction runs a lifecycle operation on the request's bot and renders
// the bot as it is afterwards.
func (a *API) botAction(w http.ResponseWriter, r *http.Request, op func(context.Context, botrelay.BotID) error, status int) {
	b, err := a.bot(r.Context(), r)
	if err == nil {
		err = op(r.Context(), b.ID)
	}
	if err == nil {
		b, err = a.o.Store.Bot(r.Context(), b.ID)
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.renderBot(w, r, status, b)
}
