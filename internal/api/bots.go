package api

import (
	"context"
	"net/http"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/provision"
)

// botJSON is a bot as the API shows it. Settings.Vendor holds only the
// vendor's non-secret settings; SecretsSet names the secret ones that are
// set, never their values.
type botJSON struct {
	ID               botrelay.BotID            `json:"id"`
	Name             string                    `json:"name"`
	Type             botrelay.BotType          `json:"type"`
	ConversationType botrelay.ConversationType `json:"conversationType"`
	Vendor           string                    `json:"vendor"`
	UserID           botrelay.UserID           `json:"userId"`
	Settings         botrelay.BotSettings      `json:"settings"`
	SecretsSet       []string                  `json:"secretsSet"`
	Started          bool                      `json:"started"`
	State            botrelay.BotState         `json:"state"`
	CreatedAt        string                    `json:"createdAt"`
	UpdatedAt        string                    `json:"updatedAt"`
}

// botRequest is the body of bot create and update. Settings.Vendor holds the
// vendor settings, secrets included; the API splits them by the vendor's
// VendorInfo.Secrets. On update a secret key that is absent keeps its value
// and one set to null is removed, but an update that changes an endpoint
// setting (VendorInfo.Endpoint) must give every stored secret again or
// remove it (provision.Edit); type, conversationType and vendor cannot
// change.
type botRequest struct {
	Name             string                    `json:"name"`
	Type             botrelay.BotType          `json:"type"`
	ConversationType botrelay.ConversationType `json:"conversationType"`
	Vendor           string                    `json:"vendor"`
	UserID           botrelay.UserID           `json:"userId"`
	Settings         botrelay.BotSettings      `json:"settings"`
}

// bot loads a bot of the API's account, or ENOTFOUND.
func (a *API) bot(ctx context.Context, r *http.Request) (*botrelay.Bot, error) {
	id := botrelay.BotID(r.PathValue("id"))
	b, err := a.o.Store.Bot(ctx, id)
	if err == nil && b.AccountID != a.o.Account {
		err = botrelay.Errorf(botrelay.ENOTFOUND, "bot %s does not exist", id)
	}
	return b, err
}

// toBotJSON renders b; secret key names come from the sealed secrets.
func (a *API) toBotJSON(b *botrelay.Bot) (botJSON, error) {
	set, err := a.prov.SecretsSet(b)
	if err != nil {
		return botJSON{}, err
	}
	return botJSON{ID: b.ID, Name: b.Name, Type: b.Type, ConversationType: b.ConversationType, Vendor: b.Vendor,
		UserID: b.UserID, Settings: b.Settings, SecretsSet: nonNil(set), Started: b.Started, State: a.o.Relay.State(b.ID),
		CreatedAt: timeString(b.CreatedAt), UpdatedAt: timeString(b.UpdatedAt)}, nil
}

func (a *API) renderBot(w http.ResponseWriter, r *http.Request, status int, b *botrelay.Bot) {
	j, err := a.toBotJSON(b)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, status, j)
}

func (a *API) listBots(w http.ResponseWriter, r *http.Request) {
	bots, err := a.o.Store.Bots(r.Context(), a.o.Account)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make([]botJSON, 0, len(bots))
	for _, b := range bots {
		j, err := a.toBotJSON(b)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		out = append(out, j)
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) getBot(w http.ResponseWriter, r *http.Request) {
	b, err := a.bot(r.Context(), r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.renderBot(w, r, http.StatusOK, b)
}

// createBot validates the bot and its vendor settings, gives the bot user a
// fresh API key set and stores the bot with its secrets sealed
// (provision.CreateBot).
func (a *API) createBot(w http.ResponseWriter, r *http.Request) {
	var req botRequest
	if err := decode(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	b := &botrelay.Bot{Name: req.Name, UserID: req.UserID, Type: req.Type,
		ConversationType: req.ConversationType, Vendor: req.Vendor, Settings: req.Settings}
	if err := a.prov.CreateBot(r.Context(), b); err != nil {
		a.writeError(w, r, err)
		return
	}
	a.renderBot(w, r, http.StatusCreated, b)
}

// errRunning refuses changes to a bot that is not Offline (F48).
func (a *API) errRunning(b *botrelay.Bot) error {
	if st := a.o.Relay.State(b.ID); b.Started || st != botrelay.BotOffline {
		return botrelay.Errorf(botrelay.ECONFLICT, "bot %s is %s; stop it before editing it", b.ID, st)
	}
	return nil
}

// updateBot replaces a stopped bot's name, user and settings (F48,
// provision.UpdateBot).
func (a *API) updateBot(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	b, err := a.bot(ctx, r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var req botRequest
	if err := decode(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.errRunning(b); err != nil {
		a.writeError(w, r, err)
		return
	}
	b, err = a.prov.UpdateBot(ctx, b, provision.Edit{Name: req.Name, Type: req.Type, ConversationType: req.ConversationType,
		Vendor: req.Vendor, UserID: req.UserID, Settings: req.Settings,
		MayMovePlatform: caller(ctx).profile.Has(botrelay.PermBotCreate)})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.renderBot(w, r, http.StatusOK, b)
}

// deleteBot stops the bot, deletes it and the API key set made for it.
func (a *API) deleteBot(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	b, err := a.bot(ctx, r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.o.Relay.Stop(ctx, b.ID); err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.prov.DeleteBot(ctx, b); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
