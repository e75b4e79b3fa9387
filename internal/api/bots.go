package api

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/relay"
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
// remove it (checkSecretsFollow); type, conversationType and vendor cannot
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
	sec, err := relay.OpenSecrets(a.o.Box, b)
	if err != nil {
		return botJSON{}, err
	}
	set := slices.Sorted(maps.Keys(sec.Vendor))
	if sec.APIKey.AppKey != "" {
		set = append(set, "botUserApiKey")
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

// splitVendor splits vendor settings into the non-secret JSON object and the
// secret keys (VendorInfo.Secrets). Secret keys set to null are returned in
// removed.
func splitVendor(info botrelay.VendorInfo, raw json.RawMessage) (plain json.RawMessage, secrets map[string]any, removed []string, err error) {
	all := map[string]any{}
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &all); err != nil {
			return nil, nil, nil, botrelay.Errorf(botrelay.EINVALID, "settings.vendor must be a JSON object")
		}
	}
	secrets = map[string]any{}
	for _, k := range info.Secrets {
		v, ok := all[k]
		if !ok {
			continue
		}
		delete(all, k)
		if v == nil {
			removed = append(removed, k)
		} else {
			secrets[k] = v
		}
	}
	plain, err = json.Marshal(all)
	return plain, secrets, removed, err
}

// vendorBot builds the vendor client for the settings and secrets, which
// checks them without I/O. The caller closes it.
func (a *API) vendorBot(id botrelay.BotID, conn botrelay.VendorConnector, plain json.RawMessage, secrets map[string]any, escalation string) (botrelay.VendorBot, error) {
	m := map[string]any{}
	if err := json.Unmarshal(plain, &m); err != nil {
		return nil, botrelay.Errorf(botrelay.EINVALID, "settings.vendor must be a JSON object")
	}
	maps.Copy(m, secrets)
	cfg, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	vb, err := conn.NewBot(cfg, botrelay.BotEnv{BotID: id, AccountID: a.o.Account, Logger: a.log,
		HTTPClient: a.o.HTTPClient, Now: a.o.Now, Signer: a.o.Signer, EscalationSkill: escalation})
	if err != nil {
		var e *botrelay.Error
		if errors.As(err, &e) {
			return nil, botrelay.Errorf(e.Code, "settings.vendor: %s", e.Message)
		}
		return nil, fmt.Errorf("vendor %s: new bot: %w", conn.Info().ID, err)
	}
	return vb, nil
}

// storedVendorBot builds the vendor client of a stored bot from its
// settings and sealed secrets, for the connection test and the tester.
func (a *API) storedVendorBot(b *botrelay.Bot) (botrelay.VendorBot, error) {
	conn, err := a.o.Registry.Vendor(b.Vendor)
	if err != nil {
		return nil, err
	}
	sec, err := relay.OpenSecrets(a.o.Box, b)
	if err != nil {
		return nil, err
	}
	if err := relay.CheckEndpoint(sec, conn.Info(), b); err != nil {
		return nil, err
	}
	plain := b.Settings.Vendor
	if len(plain) == 0 {
		plain = json.RawMessage("{}")
	}
	return a.vendorBot(b.ID, conn, plain, sec.Vendor, b.Settings.ErrorHandling.EscalationSkill)
}

func closeVendorBot(vb botrelay.VendorBot) {
	if c, ok := vb.(interface{ Close() error }); ok {
		_ = c.Close()
	}
}

// checkBot validates b with its vendor secrets: the bot's own rules, the
// vendor's settings (through NewBot), survey support and hook support.
func (a *API) checkBot(b *botrelay.Bot, secrets map[string]any) error {
	if err := b.Validate(); err != nil {
		return err
	}
	conn, err := a.o.Registry.Vendor(b.Vendor)
	if err != nil {
		return err
	}
	if b.Type == botrelay.BotSurvey && !conn.Info().Survey {
		return botrelay.Errorf(botrelay.EINVALID, "vendor %s cannot run survey bots", b.Vendor)
	}
	if b.Type != botrelay.BotSurvey && conn.Info().SurveyOnly {
		return botrelay.Errorf(botrelay.EINVALID, "vendor %s runs survey bots only: create the bot with type %s", b.Vendor, botrelay.BotSurvey)
	}
	vb, err := a.vendorBot(b.ID, conn, b.Settings.Vendor, secrets, b.Settings.ErrorHandling.EscalationSkill)
	if err != nil {
		return err
	}
	defer closeVendorBot(vb)
	if h := b.Settings.Hooks; h.PreHook != "" || h.PostHook != "" {
		if _, ok := vb.(botrelay.HookableBot); !ok {
			return botrelay.Errorf(botrelay.EINVALID, "settings.hooks: vendor %s does not support pre- and post-hooks", b.Vendor)
		}
	}
	return nil
}

// botUser returns the bot user id of the account, or EINVALID.
func (a *API) botUser(ctx context.Context, id botrelay.UserID) error {
	u, err := a.o.Store.User(ctx, id)
	if errors.Is(err, botrelay.ErrNotFound) || (err == nil && u.AccountID != a.o.Account) {
		return botrelay.Errorf(botrelay.EINVALID, "userId %d does not exist", id)
	} else if err != nil {
		return err
	}
	if u.Type != botrelay.UserBot {
		return botrelay.Errorf(botrelay.EINVALID, "userId %d is not a bot user", id)
	}
	return nil
}

// sealWithNewKey gives the bot user a fresh API key set and seals it with
// the vendor secrets into b.Secrets. It returns the new app key so a caller
// whose later step fails can delete it.
func (a *API) sealWithNewKey(ctx context.Context, b *botrelay.Bot, secrets map[string]any) (string, error) {
	k, err := a.newAPIKey(ctx, b.UserID, "bot "+string(b.ID))
	if err != nil {
		return "", err
	}
	sec := &relay.Secrets{Vendor: secrets, APIKey: relay.Credentials{
		AppKey: k.AppKey, Secret: k.Secret, AccessToken: k.AccessToken, AccessTokenSecret: k.AccessTokenSecret}}
	if err = a.bindEndpoint(sec, b); err == nil {
		b.Secrets, err = relay.SealSecrets(a.o.Box, b, sec)
	}
	if err != nil {
		a.dropAPIKey(ctx, k.AppKey)
		return "", err
	}
	return k.AppKey, nil
}

// bindEndpoint binds the vendor secrets in s to b's endpoint settings.
func (a *API) bindEndpoint(s *relay.Secrets, b *botrelay.Bot) error {
	conn, err := a.o.Registry.Vendor(b.Vendor)
	if err != nil {
		return err
	}
	return relay.BindEndpoint(s, conn.Info(), b)
}

// checkSecretsFollow refuses an update that changes where the vendor calls
// go (VendorInfo.Endpoint) while keeping stored vendor secrets the request
// does not give again: the secrets would otherwise be sent to a place
// their owner never chose (issue 14). Giving each stored secret again, or
// removing it with null, is the caller's statement that it may go there.
func checkSecretsFollow(info botrelay.VendorInfo, old, upd *botrelay.Bot, stored, given map[string]any, removed []string) error {
	if len(stored) == 0 {
		return nil
	}
	before, err := botrelay.EndpointValues(info, old.Settings.Vendor)
	if err != nil {
		return err
	}
	after, err := botrelay.EndpointValues(info, upd.Settings.Vendor)
	if err != nil {
		return err
	}
	changed := botrelay.ChangedEndpoint(before, after)
	if len(changed) == 0 {
		return nil
	}
	var kept []string
	for k := range stored {
		if _, ok := given[k]; !ok && !slices.Contains(removed, k) {
			kept = append(kept, k)
		}
	}
	if len(kept) == 0 {
		return nil
	}
	slices.Sort(kept)
	return botrelay.Errorf(botrelay.EINVALID, "settings.vendor: changing %s changes where the vendor calls go; "+
		"send the secret settings %s again (or set them to null to remove them)",
		strings.Join(changed, ", "), strings.Join(kept, ", "))
}

// dropAPIKey deletes a key set the API made, logging a failure.
func (a *API) dropAPIKey(ctx context.Context, appKey string) {
	if appKey == "" {
		return
	}
	if err := a.o.Store.DeleteAPIKey(ctx, appKey); err != nil && !errors.Is(err, botrelay.ErrNotFound) {
		a.log.WarnContext(ctx, "delete bot API key", "err", err)
	}
}

// createBot validates the bot and its vendor settings, gives the bot user a
// fresh API key set and stores the bot with its secrets sealed.
func (a *API) createBot(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var req botRequest
	if err := decode(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	b := &botrelay.Bot{ID: newBotID(), AccountID: a.o.Account, Name: req.Name, UserID: req.UserID, Type: req.Type,
		ConversationType: req.ConversationType, Vendor: req.Vendor, Settings: req.Settings}
	conn, err := a.o.Registry.Vendor(b.Vendor)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	plain, secrets, _, err := splitVendor(conn.Info(), req.Settings.Vendor)
	if err == nil {
		b.Settings.Vendor = plain
		err = a.checkBot(b, secrets)
	}
	if err == nil {
		err = a.botUser(ctx, b.UserID)
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	appKey, err := a.sealWithNewKey(ctx, b, secrets)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.o.Store.CreateBot(ctx, b); err != nil {
		a.dropAPIKey(ctx, appKey)
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

// updateBot replaces a stopped bot's name, user and settings (F48).
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
	if (req.Type != "" && req.Type != b.Type) || (req.ConversationType != "" && req.ConversationType != b.ConversationType) ||
		(req.Vendor != "" && req.Vendor != b.Vendor) {
		a.writeError(w, r, botrelay.Errorf(botrelay.EINVALID, "type, conversationType and vendor cannot change; create another bot"))
		return
	}
	conn, err := a.o.Registry.Vendor(b.Vendor)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	old, err := relay.OpenSecrets(a.o.Box, b)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	plain, given, removed, err := splitVendor(conn.Info(), req.Settings.Vendor)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	secrets := maps.Clone(old.Vendor)
	if secrets == nil {
		secrets = map[string]any{}
	}
	maps.Copy(secrets, given)
	for _, k := range removed {
		delete(secrets, k)
	}
	upd := *b
	upd.Name, upd.Settings = req.Name, req.Settings
	upd.Settings.Vendor = plain
	if req.UserID != 0 {
		upd.UserID = req.UserID
	}
	if err := checkSecretsFollow(conn.Info(), b, &upd, old.Vendor, given, removed); err != nil {
		a.writeError(w, r, err)
		return
	}
	// The bot logs in to its platform with its API key set, so moving it
	// to another platform is choosing where that key goes: as much as
	// creating a bot, not an edit (the Agent profile has bot:edit).
	if upd.Settings.Platform != b.Settings.Platform && !caller(ctx).profile.Has(botrelay.PermBotCreate) {
		a.writeError(w, r, botrelay.Errorf(botrelay.EFORBIDDEN, "changing settings.platform sends the bot's API key set to "+
			"another platform, which needs the %s permission", botrelay.PermBotCreate))
		return
	}
	if err := a.checkBot(&upd, secrets); err != nil {
		a.writeError(w, r, err)
		return
	}
	newKey := ""
	if upd.UserID != b.UserID {
		if err := a.botUser(ctx, upd.UserID); err != nil {
			a.writeError(w, r, err)
			return
		}
		if newKey, err = a.sealWithNewKey(ctx, &upd, secrets); err != nil {
			a.writeError(w, r, err)
			return
		}
	} else {
		old.Vendor = secrets
		if err = relay.BindEndpoint(old, conn.Info(), &upd); err == nil {
			upd.Secrets, err = relay.SealSecrets(a.o.Box, &upd, old)
		}
		if err != nil {
			a.writeError(w, r, err)
			return
		}
	}
	if err := a.o.Store.UpdateBot(ctx, &upd); err != nil {
		a.dropAPIKey(ctx, newKey)
		a.writeError(w, r, err)
		return
	}
	if newKey != "" {
		a.dropAPIKey(ctx, old.APIKey.AppKey) // the previous user's key for this bot
	}
	if b, err = a.o.Store.Bot(ctx, b.ID); err != nil {
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
	sec, err := relay.OpenSecrets(a.o.Box, b)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.o.Store.DeleteBot(ctx, b.ID); err != nil {
		a.writeError(w, r, err)
		return
	}
	a.dropAPIKey(ctx, sec.APIKey.AppKey)
	w.WriteHeader(http.StatusNoContent)
}

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
	s := statusJSON{ID: b.ID, State: a.o.Relay.State(b.ID), Started: b.Started, OpenConversations: n,
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

type testResult struct {
	OK bool `json:"ok"`
	// Checked is false when the vendor has no health check; then only the
	// settings were validated.
	Checked bool   `json:"checked"`
	Error   string `json:"error,omitempty"`
}

// testBot runs the vendor's health check with the stored settings within
// the bot's vendor timeout and reports the outcome.
func (a *API) testBot(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	b, err := a.bot(ctx, r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	vb, err := a.storedVendorBot(b)
	if botrelay.ErrorCode(err) == botrelay.EINVALID {
		writeJSON(w, http.StatusOK, testResult{Error: botrelay.ErrorMessage(err)})
		return
	} else if err != nil {
		a.writeError(w, r, err)
		return
	}
	defer closeVendorBot(vb)
	hc, ok := vb.(botrelay.HealthChecker)
	if !ok {
		writeJSON(w, http.StatusOK, testResult{OK: true})
		return
	}
	cctx, cancel := context.WithTimeout(ctx, b.Settings.Limits.VendorTimeout())
	defer cancel()
	if err := hc.CheckHealth(cctx); err != nil {
		writeJSON(w, http.StatusOK, testResult{Checked: true, Error: vendorErrorText(err)})
		return
	}
	writeJSON(w, http.StatusOK, testResult{OK: true, Checked: true})
}

// vendorErrorText is what the connection test shows of a failure: the
// vendor error's code and message, or the error's class.
func vendorErrorText(err error) string {
	var ve *botrelay.VendorError
	switch {
	case errors.As(err, &ve):
		return ve.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return "the vendor did not answer in time"
	case botrelay.ErrorCode(err) != botrelay.EINTERNAL:
		return botrelay.ErrorMessage(err)
	}
	return "the vendor check failed"
}

type vendorJSON struct {
	ID          string   `json:"id"`
	DisplayName string   `json:"displayName"`
	Secrets     []string `json:"secrets"`
	Endpoint    []string `json:"endpoint"`
	Survey      bool     `json:"survey"`
}

func (a *API) listVendors(w http.ResponseWriter, r *http.Request) {
	ids := a.o.Registry.VendorIDs()
	sort.Strings(ids)
	out := make([]vendorJSON, 0, len(ids))
	for _, id := range ids {
		c, err := a.o.Registry.Vendor(id)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		info := c.Info()
		out = append(out, vendorJSON{ID: info.ID, DisplayName: info.DisplayName, Secrets: nonNil(info.Secrets),
			Endpoint: nonNil(info.Endpoint), Survey: info.Survey})
	}
	writeJSON(w, http.StatusOK, out)
}

// newBotID returns a random (version 4) UUID.
func newBotID() botrelay.BotID {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails since Go 1.24
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return botrelay.BotID(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]))
}
