package api

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/auth"
)

// The Third-Party Bots Public API (spec F40, §5), LivePerson's contract on
// the same listener: a brand's system logs in as a dedicated user and sends
// commands into conversations bots hold. Commands are stored (the relay of
// the node that runs the bot carries them out, publicapi_commands.go), so
// the routes answer at once with the command's id.
//
// Its routes have a table of their own (PublicRouteTable): they are
// authenticated by the Public API's bearer token, not by the management
// API's sessions, and need no profile permission beyond the login's.

// PublicAPI is the pseudo-permission of the Public API's command routes: a
// bearer token from the Public API login of this account.
const PublicAPI botrelay.Permission = "publicapi"

// publicAPIKey carries the Public API caller in a request's context.
type publicAPIKey struct{}

// PublicRouteTable returns the Public API's routes; Routes registers them
// with RouteTable's.
func (a *API) PublicRouteTable() []Route {
	const base = "/api/v1/account/{accountId}"
	const conv = base + "/conversation/{conversationId}"
	return []Route{
		{http.MethodPost, base + "/login", Anyone, a.publicLogin},
		{http.MethodPost, conv + "/messages", PublicAPI, a.commandHandler(botrelay.CommandMessages, parseMessages)},
		{http.MethodPost, conv + "/transfer", PublicAPI, a.commandHandler(botrelay.CommandTransfer, parseTransfer)},
		{http.MethodPost, conv + "/close", PublicAPI, a.commandHandler(botrelay.CommandClose, parseClose)},
		{http.MethodPost, conv + "/sdes", PublicAPI, a.commandHandler(botrelay.CommandSDEs, parseSDEs)},
		{http.MethodPost, conv + "/ttr", PublicAPI, a.commandHandler(botrelay.CommandTTR, parseTTR)},
		{http.MethodGet, conv + "/command", PublicAPI, a.listCommands},
		{http.MethodGet, conv + "/command/{commandId}", PublicAPI, a.getCommand},
	}
}

// publicGuard wraps a Public API route: the account of the path must be
// this server's, and command routes need a valid bearer token.
func (a *API) publicGuard(rt Route) http.Handler {
	if rt.Perm != Anyone && rt.Perm != PublicAPI {
		panic("api: a Public API route needs Anyone or PublicAPI")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if r.PathValue("accountId") != string(a.o.Account) {
			a.writeError(w, r, botrelay.Errorf(botrelay.ENOTFOUND, "account %q is not served here", r.PathValue("accountId")))
			return
		}
		if rt.Perm == Anyone {
			rt.Handler(w, r)
			return
		}
		u, err := a.publicCaller(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		rt.Handler(w, r.WithContext(context.WithValue(r.Context(), publicAPIKey{}, u)))
	})
}

// publicCaller returns the enabled user of the request's bearer token.
func (a *API) publicCaller(r *http.Request) (*botrelay.User, error) {
	bad := botrelay.Errorf(botrelay.EUNAUTHORIZED, "invalid bearer token; log in again (POST /api/v1/account/%s/login)", a.o.Account)
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return nil, bad
	}
	t, err := a.o.Store.PublicAPIToken(r.Context(), hashValue(strings.TrimSpace(token)))
	if botrelay.ErrorCode(err) == botrelay.ENOTFOUND {
		return nil, bad
	} else if err != nil {
		return nil, err
	}
	if t.AccountID != a.o.Account || !a.o.Now().Before(t.ExpiresAt) {
		return nil, bad
	}
	u, err := a.o.Store.User(r.Context(), t.UserID)
	if botrelay.ErrorCode(err) == botrelay.ENOTFOUND {
		return nil, bad
	} else if err != nil {
		return nil, err
	}
	if !u.Enabled {
		return nil, bad
	}
	return u, nil
}

// publicLoginRequest is §5's login body.
type publicLoginRequest struct {
	AuthType    string `json:"authType"`
	Credentials struct {
		Username          string `json:"username"`
		Password          string `json:"password"`
		AppKey            string `json:"appKey"`
		Secret            string `json:"secret"`
		AccessToken       string `json:"accessToken"`
		AccessTokenSecret string `json:"accessTokenSecret"`
	} `json:"credentials"`
}

// publicLogin is §5's login: USER_PASS or API_KEY (case sensitive). The
// user must be enabled and a bot user or allowed to handle conversations
// (at least the Agent role), and must not be the user of a started bot
// (409, F47). A login ends the user's earlier Public API login.
func (a *API) publicLogin(w http.ResponseWriter, r *http.Request) {
	var req publicLoginRequest
	if err := decode(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	u, err := a.publicCredentials(r, &req)
	if err == nil {
		err = a.checkPublicUser(r.Context(), u)
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	bearer := auth.RandomToken(32)
	t := &botrelay.PublicAPIToken{Hash: hashValue(bearer), AccountID: a.o.Account, UserID: u.ID,
		ExpiresAt: a.o.Now().Add(a.o.SessionTTL)}
	if err := a.o.Store.SavePublicAPIToken(r.Context(), t); err != nil {
		a.writeError(w, r, err)
		return
	}
	a.log.InfoContext(r.Context(), "public api login", "user_id", int64(u.ID), "auth_type", req.AuthType)
	writeJSON(w, http.StatusOK, map[string]string{"bearer": bearer})
}

// publicCredentials checks the login's credentials and returns their user.
func (a *API) publicCredentials(r *http.Request, req *publicLoginRequest) (*botrelay.User, error) {
	c := req.Credentials
	switch req.AuthType {
	case "USER_PASS":
		if c.Username == "" || c.Password == "" {
			return nil, botrelay.Errorf(botrelay.EINVALID, "credentials.username and credentials.password are required for USER_PASS")
		}
		att, err := a.o.Logins.Begin(c.Username, a.o.ClientAddr(r))
		if err != nil {
			return nil, err
		}
		defer att.Abort()
		return a.checkPassword(r.Context(), att, loginRequest{LoginName: c.Username, Password: c.Password})
	case "API_KEY":
		if c.Username == "" || c.AppKey == "" || c.Secret == "" || c.AccessToken == "" || c.AccessTokenSecret == "" {
			return nil, botrelay.Errorf(botrelay.EINVALID, "credentials.username, appKey, secret, accessToken and accessTokenSecret are required for API_KEY")
		}
		return a.checkAPIKey(r.Context(), req)
	}
	return nil, botrelay.Errorf(botrelay.EINVALID, "authType must be USER_PASS or API_KEY (case sensitive)")
}

// checkAPIKey returns the enabled user whose API key set req proves, or
// EUNAUTHORIZED without saying which part was wrong.
func (a *API) checkAPIKey(ctx context.Context, req *publicLoginRequest) (*botrelay.User, error) {
	bad := botrelay.Errorf(botrelay.EUNAUTHORIZED, "wrong username or API key")
	c := req.Credentials
	u, err := a.o.Store.UserByLogin(ctx, a.o.Account, c.Username)
	if botrelay.ErrorCode(err) == botrelay.ENOTFOUND {
		return nil, bad
	} else if err != nil {
		return nil, err
	}
	k, err := a.o.Store.APIKey(ctx, c.AppKey)
	if botrelay.ErrorCode(err) == botrelay.ENOTFOUND {
		return nil, bad
	} else if err != nil {
		return nil, err
	}
	if k.UserID != u.ID || subtle.ConstantTimeCompare([]byte(k.AccessToken), []byte(c.AccessToken)) != 1 ||
		!auth.VerifySecret(c.Secret, k.SecretHash) || !auth.VerifySecret(c.AccessTokenSecret, k.AccessTokenSecretHash) || !u.Enabled {
		return nil, bad
	}
	if err := a.o.Store.TouchAPIKey(ctx, k.AppKey, a.o.Now()); err != nil {
		a.log.WarnContext(ctx, "touch api key", "err", err)
	}
	return u, nil
}

// checkPublicUser refuses a user that may not use the Public API: one
// whose profile does not let it handle conversations (403), and the user of
// a started bot (409): its login would end the bot's session (F47).
func (a *API) checkPublicUser(ctx context.Context, u *botrelay.User) error {
	prof, err := a.o.Store.Profile(ctx, u.ProfileID)
	if err != nil {
		return err
	}
	if u.Type != botrelay.UserBot && !prof.Has(botrelay.PermConvHandle) {
		return botrelay.Errorf(botrelay.EFORBIDDEN, "the user's profile does not allow handling conversations; use a bot user or an agent")
	}
	b, err := a.botOfUser(ctx, u.ID)
	if err != nil {
		return err
	}
	if b != nil && b.Started {
		return botrelay.Errorf(botrelay.ECONFLICT, "user %q belongs to the running bot %q; use a dedicated user for the Public API", u.LoginName, b.Name)
	}
	return nil
}

// botOfUser returns the bot bound to the user, or nil.
func (a *API) botOfUser(ctx context.Context, id botrelay.UserID) (*botrelay.Bot, error) {
	bots, err := a.o.Store.Bots(ctx, a.o.Account)
	if err != nil {
		return nil, err
	}
	for _, b := range bots {
		if b.UserID == id {
			return b, nil
		}
	}
	return nil, nil
}
