package api

import (
	"context"
	"net/http"

	"github.com/botrelay/botrelay"
)

type profileJSON struct {
	ID          botrelay.ProfileID    `json:"id"`
	Name        string                `json:"name"`
	Description string                `json:"description"`
	Role        botrelay.Role         `json:"role"`
	BuiltIn     bool                  `json:"builtIn"`
	Permissions []botrelay.Permission `json:"permissions"`
	CreatedAt   string                `json:"createdAt"`
	UpdatedAt   string                `json:"updatedAt"`
}

func toProfileJSON(p *botrelay.Profile) profileJSON {
	return profileJSON{ID: p.ID, Name: p.Name, Description: p.Description, Role: p.Role, BuiltIn: p.BuiltIn,
		Permissions: nonNil(p.Permissions), CreatedAt: timeString(p.CreatedAt), UpdatedAt: timeString(p.UpdatedAt)}
}

type profileRequest struct {
	Name        string                `json:"name"`
	Description string                `json:"description"`
	Role        botrelay.Role         `json:"role"`
	Permissions []botrelay.Permission `json:"permissions"`
}

func (a *API) profile(ctx context.Context, r *http.Request) (*botrelay.Profile, error) {
	id, err := pathInt(r, "id")
	if err != nil {
		return nil, err
	}
	p, err := a.o.Store.Profile(ctx, botrelay.ProfileID(id))
	if err == nil && p.AccountID != a.o.Account {
		err = botrelay.Errorf(botrelay.ENOTFOUND, "profile %d does not exist", id)
	}
	return p, err
}

// builtInReadOnly refuses changes to the built-in profiles.
func builtInReadOnly(p *botrelay.Profile) error {
	if p.BuiltIn {
		return botrelay.Errorf(botrelay.ECONFLICT, "profile %q is built in and read-only; create a custom profile instead", p.Name)
	}
	return nil
}

func (a *API) listProfiles(w http.ResponseWriter, r *http.Request) {
	profiles, err := a.o.Store.Profiles(r.Context(), a.o.Account)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := make([]profileJSON, 0, len(profiles))
	for _, p := range profiles {
		out = append(out, toProfileJSON(p))
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) createProfile(w http.ResponseWriter, r *http.Request) {
	var req profileRequest
	if err := decode(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	p := &botrelay.Profile{AccountID: a.o.Account, Name: req.Name, Description: req.Description, Role: req.Role,
		Permissions: req.Permissions}
	if err := p.Validate(); err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := checkPermissions(caller(r.Context()), p.Permissions); err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.o.Store.CreateProfile(r.Context(), p); err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, toProfileJSON(p))
}

func (a *API) getProfile(w http.ResponseWriter, r *http.Request) {
	p, err := a.profile(r.Context(), r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toProfileJSON(p))
}

func (a *API) updateProfile(w http.ResponseWriter, r *http.Request) {
	p, err := a.profile(r.Context(), r)
	if err == nil {
		err = builtInReadOnly(p)
	}
	if err == nil {
		err = checkPermissions(caller(r.Context()), p.Permissions)
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var req profileRequest
	if err := decode(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	p.Name, p.Description, p.Role, p.Permissions = req.Name, req.Description, req.Role, req.Permissions
	if err := p.Validate(); err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := checkPermissions(caller(r.Context()), p.Permissions); err != nil {
		a.writeError(w, r, err)
		return
	}
	if err := a.o.Store.UpdateProfile(r.Context(), p); err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toProfileJSON(p))
}

func (a *API) deleteProfile(w http.ResponseWriter, r *http.Request) {
	p, err := a.profile(r.Context(), r)
	if err == nil {
		err = builtInReadOnly(p)
	}
	if err == nil {
		err = checkPermissions(caller(r.Context()), p.Permissions)
	}
	if err == nil {
		err = a.o.Store.DeleteProfile(r.Context(), p.ID)
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
