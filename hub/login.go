package hub

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/auth"
	"github.com/botrelay/botrelay/internal/limits"
)

// writeLoginError answers like LivePerson's agentVep: {"error","internalCode"}.
func writeLoginError(w http.ResponseWriter, status int, msg string, internal int) {
	writeJSON(w, status, map[string]any{"error": msg, "internalCode": internal})
}

type loginBody struct {
	Username          string `json:"username"`
	Password          string `json:"password"`
	AppKey            string `json:"appKey"`
	Secret            string `json:"secret"`
	AccessToken       string `json:"accessToken"`
	AccessTokenSecret string `json:"accessTokenSecret"`
	JWT               string `json:"jwt"`
	Assertion         string `json:"assertion"`
	CSRF              string `json:"csrf"`
}

// badLogin is the one answer to wrong credentials, whichever part is wrong.
const badLogin = "wrong username, password or API key"

// handleLogin is agentVep's login: a password or an API key set. Only
// enabled users whose profile grants conversation:handle, or bot users, may
// log in. A login replaces the user's previous session.
func (h *Hub) handleLogin(w http.ResponseWriter, r *http.Request) {
	if !h.checkAccount(w, r) {
		return
	}
	var b loginBody
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&b); err != nil {
		writeLoginError(w, http.StatusBadRequest, "malformed login body", 1001)
		return
	}
	ctx := r.Context()
	if b.Username == "" {
		writeLoginError(w, http.StatusUnauthorized, "username is required", 1002)
		return
	}
	user := h.loginUser(w, r, &b)
	if user == nil {
		return
	}
	if !user.Enabled {
		writeLoginError(w, http.StatusUnauthorized, "user is disabled", 1005)
		return
	}
	prof, err := h.store.Profile(ctx, user.ProfileID)
	if err != nil {
		h.loginFailed(w, err, badLogin)
		return
	}
	if user.Type != botrelay.UserBot && !prof.Has(botrelay.PermConvHandle) {
		writeLoginError(w, http.StatusForbidden, "the user's profile does not allow handling conversations", 1006)
		return
	}
	s, tok, err := h.newSession(ctx, user, prof)
	if err != nil {
		h.loginFailed(w, err, badLogin)
		return
	}
	h.startSession(s)
	h.log.Info("agent logged in", "user_id", int64(user.ID), "login", user.LoginName)

	http.SetCookie(w, &http.Cookie{Name: "Session_id", Value: tok.cookie, Path: "/api/account/" + string(h.o.Account),
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode, MaxAge: int(h.o.SessionTTL / time.Second)})
	writeJSON(w, http.StatusOK, h.loginAnswer(r, s, tok, prof))
}

// loginUser checks the credentials of b, an API key set or a password, and
// returns their user. When they do not pass it has answered and returns nil.
func (h *Hub) loginUser(w http.ResponseWriter, r *http.Request, b *loginBody) *botrelay.User {
	switch {
	case b.AppKey != "":
		return h.apiKeyUser(w, r, b)
	case b.Password != "":
		return h.passwordUser(w, r, b)
	}
	writeLoginError(w, http.StatusUnauthorized, "log in with a password or an API key; SAML and JWT logins are not supported", 1004)
	return nil
}

// apiKeyUser checks an API key set: the key must belong to the named user
// and every part must match. It answers and returns nil when it does not.
func (h *Hub) apiKeyUser(w http.ResponseWriter, r *http.Request, b *loginBody) *botrelay.User {
	ctx := r.Context()
	cr, err := h.store.Credentials(ctx, h.o.Account, b.Username)
	if err != nil {
		h.loginFailed(w, err, badLogin)
		return nil
	}
	k, err := h.store.APIKey(ctx, b.AppKey)
	if err != nil {
		h.loginFailed(w, err, badLogin)
		return nil
	}
	if k.UserID != cr.User.ID || subtle.ConstantTimeCompare([]byte(k.AccessToken), []byte(b.AccessToken)) != 1 ||
		!auth.VerifySecret(b.Secret, k.SecretHash) || !auth.VerifySecret(b.AccessTokenSecret, k.AccessTokenSecretHash) {
		writeLoginError(w, http.StatusUnauthorized, badLogin, 1003)
		return nil
	}
	if err := h.store.TouchAPIKey(ctx, k.AppKey, h.now()); err != nil {
		h.log.Warn("touch api key", "err", err)
	}
	return cr.User
}

// passwordUser checks a password. Every password check goes through the
// shared login limiter: the attempt is reserved before the store is read or
// the hash runs, and an unknown name is checked against a dummy hash. It
// answers and returns nil when the password does not pass.
func (h *Hub) passwordUser(w http.ResponseWriter, r *http.Request, b *loginBody) *botrelay.User {
	ctx := r.Context()
	att, err := h.o.Logins.Begin(b.Username, h.o.ClientAddr(r))
	if err != nil {
		writeLimited(w, err)
		return nil
	}
	defer att.Abort()
	var cr *botrelay.Credentials
	ok, err := att.Verify(ctx, b.Password, func() (string, error) {
		c, err := h.store.Credentials(ctx, h.o.Account, b.Username)
		if botrelay.ErrorCode(err) == botrelay.ENOTFOUND {
			return "", nil
		} else if err != nil {
			return "", err
		}
		cr = c
		return c.PasswordHash, nil
	})
	if limits.SetRetryAfter(w.Header(), err) {
		writeError(w, err)
		return nil
	} else if err != nil {
		h.loginFailed(w, err, badLogin)
		return nil
	}
	if !ok {
		writeLoginError(w, http.StatusUnauthorized, badLogin, 1003)
		return nil
	}
	return cr.User
}

// tokens are a new session's secrets, given to the client once: the
// store and the hub keep only their hashes.
type tokens struct{ bearer, cookie, csrf string }

// newSession makes a session for user, with fresh tokens, and stores it,
// which ends the user's sessions on every node; a bot user's session knows
// whether it runs surveys.
func (h *Hub) newSession(ctx context.Context, user *botrelay.User, prof *botrelay.Profile) (*session, tokens, error) {
	tok := tokens{bearer: auth.RandomToken(32), cookie: auth.RandomToken(24), csrf: auth.RandomToken(16)}
	now := h.now()
	s := &session{
		bearerHash: hashToken(tok.bearer),
		cookieHash: hashToken(tok.cookie),
		csrfHash:   hashToken(tok.csrf),
		user:       user,
		viewAll:    prof.Has(botrelay.PermConvViewAll),
		created:    now,
		expires:    now.Add(h.o.SessionTTL),
		checked:    now,
	}
	if user.Type == botrelay.UserBot {
		var err error
		if s.survey, s.surveySkills, err = h.surveyRole(ctx, user.ID); err != nil {
			return nil, tok, err
		}
		if s.weight, err = h.routingWeight(ctx, user.ID); err != nil {
			return nil, tok, err
		}
	}
	err := h.store.CreateAgentSession(ctx, &botrelay.AgentSession{BearerHash: s.bearerHash, CookieHash: s.cookieHash,
		CSRFHash: s.csrfHash, AccountID: h.o.Account, UserID: user.ID, CreatedAt: now, ExpiresAt: s.expires})
	if err != nil {
		return nil, tok, err
	}
	return s, tok, nil
}

// startSession makes s the session of its user: the user's previous session
// ends and its websocket is closed with CloseSessionReplaced.
func (h *Hub) startSession(s *session) {
	user := s.user
	h.mu.Lock()
	old := h.userSession[user.ID]
	if old != nil {
		h.dropSession(old)
	}
	h.users[user.ID] = user
	h.sessions[s.bearerHash] = s
	h.cookies[s.cookieHash] = s
	h.userSession[user.ID] = s
	var oldConn *conn
	if old != nil {
		oldConn = old.conn
		old.conn = nil
	}
	h.mu.Unlock()
	if oldConn != nil {
		oldConn.close(CloseSessionReplaced, "another login of this user took over")
	}
}

// loginAnswer is the body of a successful login, shaped like agentVep's.
func (h *Hub) loginAnswer(r *http.Request, s *session, tok tokens, prof *botrelay.Profile) map[string]any {
	user := s.user
	return map[string]any{
		"csrf":       tok.csrf,
		"wsuk":       auth.RandomToken(12),
		"sessionTTl": strconv.FormatInt(h.o.SessionTTL.Milliseconds(), 10),
		"bearer":     tok.bearer,
		"config": map[string]any{
			"loginName":         user.LoginName,
			"userId":            strconv.FormatInt(int64(user.ID), 10),
			"userPid":           user.PID,
			"userTypeId":        map[bool]int{true: 2, false: 1}[user.Type == botrelay.UserBot],
			"userPrivileges":    []int{},
			"serverCurrentTime": ms(h.now()),
			"timeDiff":          0,
			"isAdmin":           prof.Role == botrelay.RoleAdmin,
			"accountId":         string(h.o.Account),
			"nickname":          user.Nickname,
			"profileIds":        []int64{int64(user.ProfileID)},
		},
		"csdsCollectionResponse": map[string]any{"baseURIs": h.baseURIs(r)},
		"accountData":            map[string]any{"agentGroupsData": map[string]any{"items": []any{}}},
	}
}

// writeLimited answers a login the limits refused: 429 or 503 with
// Retry-After and the shared error body {"error":{"code","message"}}.
func writeLimited(w http.ResponseWriter, err error) {
	limits.SetRetryAfter(w.Header(), err)
	writeError(w, err)
}

func (h *Hub) loginFailed(w http.ResponseWriter, err error, msg string) {
	if botrelay.ErrorCode(err) == botrelay.ENOTFOUND {
		writeLoginError(w, http.StatusUnauthorized, msg, 1003)
		return
	}
	h.log.Error("login", "err", err)
	writeLoginError(w, http.StatusInternalServerError, "login failed", 1000)
}

// handleRefresh extends a session: body {"csrf"} with the login cookie.
func (h *Hub) handleRefresh(w http.ResponseWriter, r *http.Request) {
	if !h.checkAccount(w, r) {
		return
	}
	var b loginBody
	_ = json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&b)
	s := h.cookieSession(r, b.CSRF)
	if s == nil {
		writeLoginError(w, http.StatusUnauthorized, "session unauthorized", 1010)
		return
	}
	expires := h.now().Add(h.o.SessionTTL)
	if err := h.store.ExtendAgentSession(r.Context(), s.bearerHash, expires); botrelay.ErrorCode(err) == botrelay.ENOTFOUND {
		// Ended on another node since this one last looked.
		h.endSession(s, CloseSessionEnded, "session ended")
		writeLoginError(w, http.StatusUnauthorized, "session unauthorized", 1010)
		return
	} else if err != nil {
		h.log.Error("refresh", "err", err)
		writeLoginError(w, http.StatusInternalServerError, "refresh failed", 1000)
		return
	}
	h.mu.Lock()
	s.expires, s.checked = expires, h.now()
	h.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"csrf": b.CSRF, "sessionTTl": strconv.FormatInt(h.o.SessionTTL.Milliseconds(), 10)})
}

// handleLogout ends a session, by cookie and csrf or by bearer, in the
// store (so on every node) and closes its websocket with
// CloseSessionEnded.
func (h *Hub) handleLogout(w http.ResponseWriter, r *http.Request) {
	if !h.checkAccount(w, r) {
		return
	}
	var b loginBody
	_ = json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&b)
	s := h.cookieSession(r, b.CSRF)
	if s == nil {
		s = h.bearerSession(r.Context(), bearerFromHeader(r), false)
	}
	if s == nil {
		writeLoginError(w, http.StatusUnauthorized, "session unauthorized", 1010)
		return
	}
	err := h.store.EndAgentSession(r.Context(), s.bearerHash, botrelay.AgentSessionLoggedOut)
	if err != nil && botrelay.ErrorCode(err) != botrelay.ENOTFOUND {
		h.log.Error("logout", "err", err)
		writeLoginError(w, http.StatusInternalServerError, "logout failed", 1000)
		return
	}
	h.endSession(s, CloseSessionEnded, "logged out")
	writeJSON(w, http.StatusOK, map[string]any{})
}
