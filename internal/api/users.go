package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/auth"
	"github.com/botrelay/botrelay/internal/provision"
)

type userJSON struct {
	ID             botrelay.UserID    `json:"id"`
	PID            string             `json:"pid"`
	Type           botrelay.UserType  `json:"type"`
	LoginName      string             `json:"loginName"`
	Nickname       string             `json:"nickname"`
	Email          string             `json:"email"`
	ProfileID      botrelay.ProfileID `json:"profileId"`
	ChatSlots      int                `json:"chatSlots"`
	MessagingSlots int                `json:"messagingSlots"`
	SkillIDs       []botrelay.SkillID `json:"skillIds"`
	Enabled        bool               `json:"enabled"`
	HasPassword    bool               `json:"hasPassword"`
	CreatedAt      string             `json:"createdAt"`
	UpdatedAt      string             `json:"updatedAt"`
}

func toUserJSON(u *botrelay.User) userJSON {
	return userJSON{ID: u.ID, PID: u.PID, Type: u.Type, LoginName: u.LoginName, Nickname: u.Nickname, Email: u.Email,
		ProfileID: u.ProfileID, ChatSlots: u.ChatSlots, MessagingSlots: u.MessagingSlots, SkillIDs: nonNil(u.SkillIDs),
		Enabled: u.Enabled, HasPassword: u.HasPassword, CreatedAt: timeString(u.CreatedAt), UpdatedAt: timeString(u.UpdatedAt)}
}

// userRequest is the body of user create and update. Type and Password are
// read on create only (update refuses them).
type userRequest struct {
	Type           botrelay.UserType  `json:"type"`
	LoginName      string             `json:"loginName"`
	Nickname       string             `json:"nickname"`
	Email          string             `json:"email"`
	ProfileID      botrelay.ProfileID `json:"profileId"`
	ChatSlots      *int               `json:"chatSlots"`
	MessagingSlots *int               `json:"messagingSlots"`
	SkillIDs       []botrelay.SkillID `json:"skillIds"`
	Enabled        *bool              `json:"enabled"`
	Password       string             `json:"password,omitempty"`
}

// apply copies the request onto u; slots left out are 0 (an update replaces
// the user; a create fills the server's defaults first, see createUser).
func (req *userRequest) apply(u *botrelay.User) {
	u.LoginName, u.Nickname, u.Email = req.LoginName, req.Nickname, req.Email
	u.ProfileID, u.SkillIDs = req.ProfileID, req.SkillIDs
	u.ChatSlots, u.MessagingSlots = 0, 0
	if req.ChatSlots != nil {
		u.ChatSlots = *req.ChatSlots
	}
	if req.MessagingSlots != nil {
		u.MessagingSlots = *req.MessagingSlots
	}
	if req.Enabled != nil {
		u.Enabled = *req.Enabled
	}
}

// apiKeyJSON is an API key set; the secrets appear only when it is created.
type apiKeyJSON struct {
	AppKey            string  `json:"appKey"`
	AccessToken       string  `json:"accessToken"`
	Description       string  `json:"description"`
	CreatedAt         string  `json:"createdAt"`
	LastUsedAt        *string `json:"lastUsedAt"`
	Secret            string  `json:"secret,omitempty"`
	AccessTokenSecret string  `json:"accessTokenSecret,omitempty"`
}

func toAPIKeyJSON(k *botrelay.APIKey) apiKeyJSON {
	j := apiKeyJSON{AppKey: k.AppKey, AccessToken: k.AccessToken, Description: k.Description, CreatedAt: timeString(k.CreatedAt)}
	if !k.LastUsedAt.IsZero() {
		s := timeString(k.LastUsedAt)
		j.LastUsedAt = &s
	}
	return j
}

// createdUserResponse shows the generated password or API key set once.
type createdUserResponse struct {
	User              userJSON    `json:"user"`
	GeneratedPassword string      `json:"generatedPassword,omitempty"`
	APIKey            *apiKeyJSON `json:"apiKey,omitempty"`
}

// managedUser loads a user the caller may change: one whose profile the
// caller could assign (see checkAssign).
func (a *API) managedUser(ctx context.Context, r *http.Request) (*botrelay.User, error) {
	u, err := a.user(ctx, r)
	if err != nil {
		return nil, err
	}
	if err := a.checkAssign(ctx, caller(ctx), u.ProfileID); err != nil {
		return nil, err
	}
	return u, nil
}

// user loads a user of the API's account, or ENOTFOUND.
func (a *API) user(ctx context.Context, r *http.Request) (*botrelay.User, error) {
	id, err := pathInt(r, "id")
	if err != nil {
		return nil, err
	}
	u, err := a.o.Store.User(ctx, botrelay.UserID(id))
	if err == nil && u.AccountID != a.o.Account {
		err = botrelay.Errorf(botrelay.ENOTFOUND, "user %d does not exist", id)
	}
	return u, err
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request) {
	f := botrelay.UserFilter{Type: botrelay.UserType(strings.ToUpper(r.URL.Query().Get("type")))}
	if f.Type != "" && !f.Type.Valid() {
		a.writeError(w, r, botrelay.Errorf(botrelay.EINVALID, "type must be %s or %s", botrelay.UserHuman, botrelay.UserBot))
		return
	}
	users, err := a.o.Store.Users(r.Context(), a.o.Account, f)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make([]userJSON, 0, len(users))
	for _, u := range users {
		out = append(out, toUserJSON(u))
	}
	writeJSON(w, http.StatusOK, out)
}

// createUser creates a human with the given password (or a generated one,
// shown once) or a bot user with a generated API key set (shown once) and,
// if given, a password.
func (a *API) createUser(w http.ResponseWriter, r *http.Request) {
	var req userRequest
	if err := decode(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	u := &botrelay.User{AccountID: a.o.Account, Type: req.Type, Enabled: true}
	// Slots left out get the server's defaults (botrelay.DefaultSlots): a
	// bot user created without them must still be rung.
	chat, messaging := botrelay.DefaultSlots(req.Type)
	if req.ChatSlots == nil {
		req.ChatSlots = &chat
	}
	if req.MessagingSlots == nil {
		req.MessagingSlots = &messaging
	}
	req.apply(u)
	if err := u.Validate(); err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.checkAssign(r.Context(), caller(r.Context()), u.ProfileID); err != nil {
		a.writeError(w, r, err)
		return
	}
	resp := createdUserResponse{}
	password := req.Password
	if password != "" {
		if err := auth.CheckPasswordPolicy(password); err != nil {
			a.writeError(w, r, err)
			return
		}
	} else if u.Type == botrelay.UserHuman {
		password = auth.GeneratePassword()
		resp.GeneratedPassword = password
	}
	var hash string
	if password != "" {
		var err error
		if hash, err = a.o.Logins.Hash(r.Context(), password); err != nil {
			a.writeError(w, r, err)
			return
		}
	}
	k, err := a.prov.CreateUser(r.Context(), u, hash)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if k != nil {
		j := issuedKeyJSON(k)
		resp.APIKey = &j
	}
	resp.User = toUserJSON(u)
	writeJSON(w, http.StatusCreated, resp)
}

// issuedKeyJSON renders a key set just made, with its secrets.
func issuedKeyJSON(k *provision.IssuedKey) apiKeyJSON {
	j := toAPIKeyJSON(k.Key)
	j.Secret, j.AccessTokenSecret = k.Secret, k.AccessTokenSecret
	return j
}

// newAPIKey stores a fresh key set for user and returns it with its secrets.
func (a *API) newAPIKey(ctx context.Context, user botrelay.UserID, desc string) (apiKeyJSON, error) {
	k, err := a.prov.NewAPIKey(ctx, user, desc)
	if err != nil {
		return apiKeyJSON{}, err
	}
	return issuedKeyJSON(k), nil
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request) {
	u, err := a.user(r.Context(), r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toUserJSON(u))
}

func (a *API) updateUser(w http.ResponseWriter, r *http.Request) {
	u, err := a.managedUser(r.Context(), r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var req userRequest
	if err := decode(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	if req.Password != "" {
		a.writeError(w, r, botrelay.Errorf(botrelay.EINVALID, "password is changed with POST /api/v1/users/{id}/password"))
		return
	}
	if req.Type != "" && req.Type != u.Type {
		a.writeError(w, r, botrelay.Errorf(botrelay.EINVALID, "type cannot change"))
		return
	}
	req.apply(u)
	if err := u.Validate(); err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.checkAssign(r.Context(), caller(r.Context()), u.ProfileID); err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.prov.UpdateUser(r.Context(), u); err != nil {
		a.writeError(w, r, err)
		return
	}
	if !u.Enabled {
		if err := a.sessions.revokeUser(r.Context(), u.ID); err != nil {
			a.writeError(w, r, err)
			return
		}
	}
	if u, err = a.o.Store.User(r.Context(), u.ID); err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toUserJSON(u))
}

func (a *API) deleteUser(w http.ResponseWriter, r *http.Request) {
	u, err := a.managedUser(r.Context(), r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if u.ID == caller(r.Context()).user.ID {
		a.writeError(w, r, botrelay.Errorf(botrelay.ECONFLICT, "you cannot delete yourself"))
		return
	}
	if err := a.prov.DeleteUser(r.Context(), u.ID); err != nil {
		a.writeError(w, r, err)
		return
	}
	// The store ends the user's sessions and tokens with it.
	w.WriteHeader(http.StatusNoContent)
}

type passwordRequest struct {
	Password string `json:"password"`
}

type passwordResponse struct {
	GeneratedPassword string `json:"generatedPassword,omitempty"`
}

// resetPassword sets the given password, or a generated one shown once, and
// ends the user's sessions and tokens.
func (a *API) resetPassword(w http.ResponseWriter, r *http.Request) {
	u, err := a.managedUser(r.Context(), r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var req passwordRequest
	if err := decode(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	resp := passwordResponse{}
	if req.Password == "" {
		req.Password = auth.GeneratePassword()
		resp.GeneratedPassword = req.Password
	} else if err := auth.CheckPasswordPolicy(req.Password); err != nil {
		a.writeError(w, r, err)
		return
	}
	hash, err := a.o.Logins.Hash(r.Context(), req.Password)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.o.Store.SetPasswordHash(r.Context(), u.ID, hash); err != nil {
		a.writeError(w, r, err)
		return
	}
	if u.ID != caller(r.Context()).user.ID {
		if err := a.sessions.revokeUser(r.Context(), u.ID); err != nil {
			a.writeError(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

func (a *API) listAPIKeys(w http.ResponseWriter, r *http.Request) {
	u, err := a.user(r.Context(), r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	keys, err := a.o.Store.APIKeys(r.Context(), u.ID)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make([]apiKeyJSON, 0, len(keys))
	for _, k := range keys {
		out = append(out, toAPIKeyJSON(k))
	}
	writeJSON(w, http.StatusOK, out)
}

type apiKeyRequest struct {
	Description string `json:"description"`
}

func (a *API) createAPIKey(w http.ResponseWriter, r *http.Request) {
	u, err := a.managedUser(r.Context(), r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var req apiKeyRequest
	if err := decode(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	if len(req.Description) > 256 {
		a.writeError(w, r, botrelay.Errorf(botrelay.EINVALID, "description must be at most 256 bytes"))
		return
	}
	k, err := a.newAPIKey(r.Context(), u.ID, strings.TrimSpace(req.Description))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, k)
}

func (a *API) deleteAPIKey(w http.ResponseWriter, r *http.Request) {
	u, err := a.managedUser(r.Context(), r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	k, err := a.o.Store.APIKey(r.Context(), r.PathValue("appKey"))
	if err == nil && k.UserID != u.ID {
		err = botrelay.Errorf(botrelay.ENOTFOUND, "API key %q does not exist", r.PathValue("appKey"))
	}
	if err == nil {
		err = a.o.Store.DeleteAPIKey(r.Context(), k.AppKey)
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
