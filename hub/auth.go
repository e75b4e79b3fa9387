package hub

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/auth"
	"github.com/botrelay/botrelay/internal/limits"
)

// session is one agent login. Sessions live in memory: a restart requires a
// new login (clients re-login on 401 or close code 4401).
type session struct {
	bearer   string
	csrf     string
	cookie   string
	user     *botrelay.User
	viewAll  bool
	expires  time.Time
	state    string // ONLINE, AWAY, OCCUPIED; "" until set
	conn     *conn
	lastRing time.Time
	// survey is set for the user of a survey bot (F41): it is rung for
	// the post-conversation survey dialogs of surveySkills (every skill
	// when empty) and for nothing else.
	survey       bool
	surveySkills []botrelay.SkillID
}

// writeJSON writes v with the status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeLoginError answers like LivePerson's agentVep: {"error","internalCode"}.
func writeLoginError(w http.ResponseWriter, status int, msg string, internal int) {
	writeJSON(w, status, map[string]any{"error": msg, "internalCode": internal})
}

// writeError answers with the shared error body {"error":{"code","message"}}.
func writeError(w http.ResponseWriter, err error) {
	ue := toUMSError(err)
	writeJSON(w, ue.Status, ue.Response().Body)
}

// checkAccount answers 404 unless the path names the hub's account.
func (h *Hub) checkAccount(w http.ResponseWriter, r *http.Request) bool {
	if r.PathValue("account") != string(h.o.Account) {
		writeError(w, botrelay.Errorf(botrelay.ENOTFOUND, "account %q is not served here", r.PathValue("account")))
		return false
	}
	return true
}

// baseURIs lists the services a client looks up, all on this server.
func (h *Hub) baseURIs(r *http.Request) []map[string]string {
	host := h.o.PublicHost(r)
	var out []map[string]string
	for _, s := range []string{"agentVep", "asyncMessagingEnt", "asyncMessaging", "msgHist", "sentinel", "smt",
		"leDataReporting", "accountConfigReadOnly", "accountConfigReadWrite", "botConnectorsDomain", "idp", "liveEngagementUI"} {
		out = append(out, map[string]string{"service": s, "account": string(h.o.Account), "baseURI": host})
	}
	return out
}

func (h *Hub) handleBaseURI(w http.ResponseWriter, r *http.Request) {
	if !h.checkAccount(w, r) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"baseURIs": h.baseURIs(r)})
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
	const bad = "wrong username, password or API key"
	var user *botrelay.User
	switch {
	case b.AppKey != "":
		cr, err := h.store.Credentials(ctx, h.o.Account, b.Username)
		if err != nil {
			h.loginFailed(w, err, bad)
			return
		}
		k, err := h.store.APIKey(ctx, b.AppKey)
		if err != nil {
			h.loginFailed(w, err, bad)
			return
		}
		if k.UserID != cr.User.ID || subtle.ConstantTimeCompare([]byte(k.AccessToken), []byte(b.AccessToken)) != 1 ||
			!auth.VerifySecret(b.Secret, k.SecretHash) || !auth.VerifySecret(b.AccessTokenSecret, k.AccessTokenSecretHash) {
			writeLoginError(w, http.StatusUnauthorized, bad, 1003)
			return
		}
		if err := h.store.TouchAPIKey(ctx, k.AppKey, h.now()); err != nil {
			h.log.Warn("touch api key", "err", err)
		}
		user = cr.User
	case b.Password != "":
		// Every password check goes through the shared login limiter:
		// the attempt is reserved before the store is read or the hash
		// runs, and an unknown name is checked against a dummy hash.
		att, err := h.o.Logins.Begin(b.Username, h.o.ClientAddr(r))
		if err != nil {
			writeLimited(w, err)
			return
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
			return
		} else if err != nil {
			h.loginFailed(w, err, bad)
			return
		}
		if !ok {
			writeLoginError(w, http.StatusUnauthorized, bad, 1003)
			return
		}
		user = cr.User
	default:
		writeLoginError(w, http.StatusUnauthorized, "log in with a password or an API key; SAML and JWT logins are not supported", 1004)
		return
	}
	if !user.Enabled {
		writeLoginError(w, http.StatusUnauthorized, "user is disabled", 1005)
		return
	}
	prof, err := h.store.Profile(ctx, user.ProfileID)
	if err != nil {
		h.loginFailed(w, err, bad)
		return
	}
	if user.Type != botrelay.UserBot && !prof.Has(botrelay.PermConvHandle) {
		writeLoginError(w, http.StatusForbidden, "the user's profile does not allow handling conversations", 1006)
		return
	}
	s := &session{
		bearer:  auth.RandomToken(32),
		csrf:    auth.RandomToken(16),
		cookie:  auth.RandomToken(24),
		user:    user,
		viewAll: prof.Has(botrelay.PermConvViewAll),
		expires: h.now().Add(h.o.SessionTTL),
	}
	if user.Type == botrelay.UserBot {
		if s.survey, s.surveySkills, err = h.surveyRole(ctx, user.ID); err != nil {
			h.loginFailed(w, err, bad)
			return
		}
	}
	h.mu.Lock()
	old := h.userSession[user.ID]
	if old != nil {
		h.dropSession(old)
	}
	h.users[user.ID] = user
	h.sessions[s.bearer] = s
	h.cookies[s.cookie] = s
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
	h.log.Info("agent logged in", "user_id", int64(user.ID), "login", user.LoginName)

	http.SetCookie(w, &http.Cookie{Name: "Session_id", Value: s.cookie, Path: "/api/account/" + string(h.o.Account),
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode, MaxAge: int(h.o.SessionTTL / time.Second)})
	writeJSON(w, http.StatusOK, map[string]any{
		"csrf":       s.csrf,
		"wsuk":       auth.RandomToken(12),
		"sessionTTl": strconv.FormatInt(h.o.SessionTTL.Milliseconds(), 10),
		"bearer":     s.bearer,
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
	})
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

// dropSession forgets s. The caller holds h.mu and closes s.conn.
func (h *Hub) dropSession(s *session) {
	delete(h.sessions, s.bearer)
	delete(h.cookies, s.cookie)
	if h.userSession[s.user.ID] == s {
		delete(h.userSession, s.user.ID)
	}
	h.reroute(s.user.ID)
}

// cookieSession finds the session of the Session_id cookie with a matching
// csrf value.
func (h *Hub) cookieSession(r *http.Request, csrf string) *session {
	ck, err := r.Cookie("Session_id")
	if err != nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.cookies[ck.Value]
	if s == nil || !s.expires.After(h.now()) || subtle.ConstantTimeCompare([]byte(s.csrf), []byte(csrf)) != 1 {
		return nil
	}
	return s
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
	h.mu.Lock()
	s.expires = h.now().Add(h.o.SessionTTL)
	h.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"csrf": s.csrf, "sessionTTl": strconv.FormatInt(h.o.SessionTTL.Milliseconds(), 10)})
}

// handleLogout ends a session, by cookie and csrf or by bearer, and closes
// its websocket with CloseSessionEnded.
func (h *Hub) handleLogout(w http.ResponseWriter, r *http.Request) {
	if !h.checkAccount(w, r) {
		return
	}
	var b loginBody
	_ = json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&b)
	s := h.cookieSession(r, b.CSRF)
	if s == nil {
		s = h.bearerSession(bearerFromHeader(r))
	}
	if s == nil {
		writeLoginError(w, http.StatusUnauthorized, "session unauthorized", 1010)
		return
	}
	h.mu.Lock()
	h.dropSession(s)
	c := s.conn
	s.conn = nil
	h.mu.Unlock()
	if c != nil {
		c.close(CloseSessionEnded, "logged out")
	}
	writeJSON(w, http.StatusOK, map[string]any{})
}

// bearerSession returns the live session of a bearer, or nil.
func (h *Hub) bearerSession(bearer string) *session {
	if bearer == "" {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.sessions[bearer]
	if s == nil || !s.expires.After(h.now()) {
		return nil
	}
	return s
}

// sweepSessions forgets expired sessions.
func (h *Hub) sweepSessions() {
	h.mu.Lock()
	var conns []*conn
	for _, s := range h.sessions {
		if !s.expires.After(h.now()) {
			h.dropSession(s)
			if s.conn != nil {
				conns = append(conns, s.conn)
				s.conn = nil
			}
		}
	}
	h.mu.Unlock()
	for _, c := range conns {
		c.close(CloseSessionEnded, "session expired")
	}
}

// bearerFromHeader reads "Authorization: Bearer <t>" or "jwt <t>".
func bearerFromHeader(r *http.Request) string {
	a := r.Header.Get("Authorization")
	for _, p := range []string{"Bearer ", "bearer ", "jwt ", "JWT "} {
		if strings.HasPrefix(a, p) {
			return strings.TrimSpace(a[len(p):])
		}
	}
	return ""
}

// handleSkills lists the account's skills for the agent console: [{"id","name"}].
func (h *Hub) handleSkills(w http.ResponseWriter, r *http.Request) {
	if !h.checkAccount(w, r) {
		return
	}
	tok := bearerFromHeader(r)
	if tok == "" {
		tok = r.URL.Query().Get("token")
	}
	if h.bearerSession(tok) == nil {
		writeError(w, botrelay.Errorf(botrelay.EUNAUTHORIZED, "an agent bearer is required"))
		return
	}
	list, err := h.store.Skills(r.Context(), h.o.Account)
	if err != nil {
		writeError(w, err)
		return
	}
	out := make([]map[string]string, 0, len(list))
	for _, s := range list {
		out = append(out, map[string]string{"id": strconv.FormatInt(int64(s.ID), 10), "name": s.Name})
	}
	writeJSON(w, http.StatusOK, out)
}

// Consumer tokens.

// ConsumerTokenTTL is how long a consumer token is valid.
const ConsumerTokenTTL = 30 * 24 * time.Hour

type consumerClaims struct {
	Acct string `json:"acct"`
	Sub  string `json:"sub"`
	Exp  int64  `json:"exp"` // Unix seconds
}

func (h *Hub) sign(payload string) string {
	m := hmac.New(sha256.New, h.o.SigningKey)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// consumerToken signs a token for the consumer.
func (h *Hub) consumerToken(id botrelay.ConsumerID) (string, time.Time) {
	exp := h.now().Add(ConsumerTokenTTL).Truncate(time.Second)
	b, _ := json.Marshal(consumerClaims{Acct: string(h.o.Account), Sub: string(id), Exp: exp.Unix()})
	p := base64.RawURLEncoding.EncodeToString(b)
	return p + "." + h.sign("consumer|"+p), exp
}

var errBadToken = errors.New("bad token")

// verifyConsumerToken returns the consumer of a valid token.
func (h *Hub) verifyConsumerToken(tok string) (botrelay.ConsumerID, error) {
	p, sig, ok := strings.Cut(tok, ".")
	if !ok || len(tok) > 1024 || !hmac.Equal([]byte(sig), []byte(h.sign("consumer|"+p))) {
		return "", errBadToken
	}
	b, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return "", errBadToken
	}
	var c consumerClaims
	if json.Unmarshal(b, &c) != nil || c.Acct != string(h.o.Account) || c.Sub == "" || c.Exp <= h.now().Unix() {
		return "", errBadToken
	}
	return botrelay.ConsumerID(c.Sub), nil
}

// consumerFromRequest reads the consumer token from Authorization or ?token=.
func (h *Hub) consumerFromRequest(r *http.Request) (botrelay.ConsumerID, error) {
	tok := bearerFromHeader(r)
	if tok == "" {
		tok = r.URL.Query().Get("token")
	}
	if tok == "" {
		return "", errBadToken
	}
	return h.verifyConsumerToken(tok)
}

// handleConsumerToken issues a consumer token, or refreshes the one sent in
// Authorization (same consumer id).
func (h *Hub) handleConsumerToken(w http.ResponseWriter, r *http.Request) {
	if !h.checkAccount(w, r) {
		return
	}
	id := botrelay.ConsumerID("")
	if tok := bearerFromHeader(r); tok != "" {
		if got, err := h.verifyConsumerToken(tok); err == nil {
			id = got
		}
	}
	if id == "" {
		// A new anonymous consumer: limited per client address.
		if err := h.o.Consumers.Token(h.o.ClientAddr(r)); err != nil {
			writeLimited(w, err)
			return
		}
		id = botrelay.ConsumerID(newID())
	}
	tok, exp := h.consumerToken(id)
	writeJSON(w, http.StatusOK, map[string]any{"token": tok, "consumerId": string(id), "expiresAt": exp.UnixMilli()})
}

// unauthorized answers 401 with the shared error body.
func unauthorized(w http.ResponseWriter, msg string) {
	writeError(w, botrelay.Errorf(botrelay.EUNAUTHORIZED, "%s", msg))
}

// user returns a user of the account by id, from the cache or the store.
func (h *Hub) user(ctx context.Context, id botrelay.UserID) (*botrelay.User, error) {
	h.mu.Lock()
	u := h.users[id]
	h.mu.Unlock()
	if u != nil {
		return u, nil
	}
	u, err := h.store.User(ctx, id)
	if err != nil {
		return nil, err
	}
	if u.AccountID != h.o.Account {
		return nil, botrelay.Errorf(botrelay.ENOTFOUND, "user %d not found", id)
	}
	h.mu.Lock()
	h.users[id] = u
	h.mu.Unlock()
	return u, nil
}

// resolveUser reads a user reference: "<account>.<id>", "<id>" or a PID.
func (h *Hub) resolveUser(ctx context.Context, ref string) (*botrelay.User, error) {
	s := strings.TrimPrefix(ref, string(h.o.Account)+".")
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return h.user(ctx, botrelay.UserID(n))
	}
	list, err := h.store.Users(ctx, h.o.Account, botrelay.UserFilter{})
	if err != nil {
		return nil, err
	}
	for _, u := range list {
		if u.PID == ref {
			h.mu.Lock()
			h.users[u.ID] = u
			h.mu.Unlock()
			return u, nil
		}
	}
	return nil, botrelay.Errorf(botrelay.ENOTFOUND, "user %q not found", ref)
}
