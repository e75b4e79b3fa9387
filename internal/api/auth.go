package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/auth"
	"github.com/botrelay/botrelay/internal/limits"
)

// SessionCookie is the name of the login session cookie.
const SessionCookie = "botrelay_session"

// CSRFHeader carries the CSRF token that state-changing requests made with
// the session cookie must send.
const CSRFHeader = "X-CSRF-Token"

// principal is the authenticated caller.
type principal struct {
	user    *botrelay.User
	profile *botrelay.Profile
	// sessionID is set for cookie logins, tokenID for bearer tokens.
	sessionID string
	tokenID   string
}

type principalKey struct{}

// caller returns the principal the guard put in ctx.
func caller(ctx context.Context) *principal {
	p, _ := ctx.Value(principalKey{}).(*principal)
	return p
}

// authenticate finds the caller from a bearer token or the session cookie,
// checks the CSRF token of a cookie request that changes state, and loads
// the user and profile fresh, so profile and enablement changes apply at
// once.
func (a *API) authenticate(r *http.Request) (*principal, error) {
	p := &principal{}
	var userID botrelay.UserID
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, value, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || value == "" {
			return nil, botrelay.Errorf(botrelay.EUNAUTHORIZED, "the Authorization header must be \"Bearer <token>\"")
		}
		t, err := a.sessions.token(r.Context(), strings.TrimSpace(value))
		if err != nil {
			return nil, err
		} else if t == nil {
			return nil, botrelay.Errorf(botrelay.EUNAUTHORIZED, "the token is not valid")
		}
		userID, p.tokenID = t.UserID, t.ID
	} else if c, err := r.Cookie(SessionCookie); err == nil && c.Value != "" {
		s, err := a.sessions.session(r.Context(), c.Value)
		if err != nil {
			return nil, err
		} else if s == nil {
			return nil, botrelay.Errorf(botrelay.EUNAUTHORIZED, "the session has ended; log in again")
		}
		if !safeMethod(r.Method) && !csrfMatches(s, r.Header.Get(CSRFHeader)) {
			return nil, botrelay.Errorf(botrelay.EFORBIDDEN, "missing or wrong %s header", CSRFHeader)
		}
		userID, p.sessionID = s.UserID, c.Value
	} else {
		return nil, botrelay.Errorf(botrelay.EUNAUTHORIZED, "log in or send a bearer token")
	}
	u, err := a.o.Store.User(r.Context(), userID)
	if errors.Is(err, botrelay.ErrNotFound) || (err == nil && (!u.Enabled || u.AccountID != a.o.Account)) {
		return nil, botrelay.Errorf(botrelay.EUNAUTHORIZED, "the user no longer exists or is disabled")
	} else if err != nil {
		return nil, err
	}
	prof, err := a.o.Store.Profile(r.Context(), u.ProfileID)
	if err != nil {
		return nil, err
	}
	p.user, p.profile = u, prof
	return p, nil
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

type loginRequest struct {
	LoginName string `json:"loginName"`
	Password  string `json:"password"`
}

type loginResponse struct {
	CSRFToken string   `json:"csrfToken"`
	ExpiresAt string   `json:"expiresAt"`
	User      userJSON `json:"user"`
}

func (a *API) login(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if err := decode(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	// The attempt is reserved with the shared login limiter before the
	// store is read or the hash runs, so concurrent guesses cannot all
	// pass a limit only some of them fit.
	att, err := a.o.Logins.Begin(req.LoginName, a.o.ClientAddr(r))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	defer att.Abort()
	u, err := a.checkPassword(r.Context(), att, req)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	id, csrf, expires, err := a.sessions.newSession(r.Context(), u.ID, a.o.SessionTTL)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: id, Path: "/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, MaxAge: int(a.o.SessionTTL / time.Second)})
	writeJSON(w, http.StatusOK, loginResponse{CSRFToken: csrf, ExpiresAt: expires.UTC().Format(time.RFC3339), User: toUserJSON(u)})
}

// checkPassword returns the enabled user whose password req proves, or
// EUNAUTHORIZED without saying which part was wrong. An unknown name, or a
// user without a password, is checked against a dummy hash of the same
// cost, so it takes as long as a wrong password.
func (a *API) checkPassword(ctx context.Context, att *limits.Attempt, req loginRequest) (*botrelay.User, error) {
	bad := botrelay.Errorf(botrelay.EUNAUTHORIZED, "wrong login name or password")
	var creds *botrelay.Credentials
	ok, err := att.Verify(ctx, req.Password, func() (string, error) {
		c, err := a.o.Store.Credentials(ctx, a.o.Account, strings.TrimSpace(req.LoginName))
		if errors.Is(err, botrelay.ErrNotFound) {
			return "", nil
		} else if err != nil {
			return "", err
		}
		creds = c
		return c.PasswordHash, nil
	})
	if err != nil {
		return nil, err
	}
	if !ok || !creds.User.Enabled {
		return nil, bad
	}
	if auth.NeedsRehash(creds.PasswordHash) {
		if h, err := a.o.Logins.Hash(ctx, req.Password); err == nil {
			if err := a.o.Store.SetPasswordHash(ctx, creds.User.ID, h); err != nil {
				a.log.WarnContext(ctx, "rehash password", "user_id", int64(creds.User.ID), "err", err)
			}
		}
	}
	return creds.User, nil
}

// logout ends the cookie session, if the request has one, and clears the
// cookie. Bearer tokens are revoked with DELETE /api/v1/tokens/{id}.
func (a *API) logout(w http.ResponseWriter, r *http.Request) {
	if p := caller(r.Context()); p.sessionID != "" {
		if err := a.sessions.endSession(r.Context(), p.sessionID); err != nil {
			a.writeError(w, r, err)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
	w.WriteHeader(http.StatusNoContent)
}

type meResponse struct {
	User        userJSON              `json:"user"`
	Profile     profileJSON           `json:"profile"`
	Permissions []botrelay.Permission `json:"permissions"`
}

func (a *API) me(w http.ResponseWriter, r *http.Request) {
	p := caller(r.Context())
	writeJSON(w, http.StatusOK, meResponse{User: toUserJSON(p.user), Profile: toProfileJSON(p.profile),
		Permissions: nonNil(p.profile.Permissions)})
}

type tokenRequest struct {
	Description string `json:"description"`
}

type tokenJSON struct {
	ID          string  `json:"id"`
	Description string  `json:"description"`
	CreatedAt   string  `json:"createdAt"`
	LastUsedAt  *string `json:"lastUsedAt"`
	// Token is the value, present only in the response that created it.
	Token string `json:"token,omitempty"`
}

func toTokenJSON(t *token) tokenJSON {
	j := tokenJSON{ID: t.ID, Description: t.Description, CreatedAt: timeString(t.CreatedAt)}
	if !t.LastUsedAt.IsZero() {
		s := timeString(t.LastUsedAt)
		j.LastUsedAt = &s
	}
	return j
}

func (a *API) createToken(w http.ResponseWriter, r *http.Request) {
	var req tokenRequest
	if err := decode(w, r, &req); err != nil {
		a.writeError(w, r, err)
		return
	}
	if len(req.Description) > 256 {
		a.writeError(w, r, botrelay.Errorf(botrelay.EINVALID, "description must be at most 256 bytes"))
		return
	}
	t, value, err := a.sessions.newToken(r.Context(), caller(r.Context()).user.ID, strings.TrimSpace(req.Description))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	j := toTokenJSON(&t)
	j.Token = value
	writeJSON(w, http.StatusCreated, j)
}

func (a *API) listTokens(w http.ResponseWriter, r *http.Request) {
	list, err := a.sessions.userTokens(r.Context(), caller(r.Context()).user.ID)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	out := []tokenJSON{}
	for _, t := range list {
		out = append(out, toTokenJSON(t))
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) deleteToken(w http.ResponseWriter, r *http.Request) {
	if err := a.sessions.deleteToken(r.Context(), caller(r.Context()).user.ID, r.PathValue("id")); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func timeString(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// Escalation guard: a user who may manage users or profiles could otherwise
// give itself (or a user it controls) more rights than it has. So a caller
// may only assign, create or change profiles whose permissions it holds
// itself, and may only change users whose profile it could assign.

// checkPermissions refuses perms the caller does not hold.
func checkPermissions(p *principal, perms []botrelay.Permission) error {
	for _, perm := range perms {
		if !p.profile.Has(perm) {
			return botrelay.Errorf(botrelay.EFORBIDDEN, "you cannot grant %s, which your own profile lacks", perm)
		}
	}
	return nil
}

// checkAssign refuses a profile with permissions the caller lacks. A
// profile that does not exist passes, so the store reports it as EINVALID.
func (a *API) checkAssign(ctx context.Context, p *principal, id botrelay.ProfileID) error {
	prof, err := a.o.Store.Profile(ctx, id)
	if errors.Is(err, botrelay.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	return checkPermissions(p, prof.Permissions)
}
