package hub

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/botrelay/botrelay"
)

// session is one agent login. Sessions live in the store (botrelay.HubStore)
// so that every node knows them and a restart keeps them; the hub keeps the
// ones in use in memory and re-reads them from the store (sessions.go). The
// tokens are known only by their SHA-256 hashes.
type session struct {
	bearerHash string
	cookieHash string
	csrfHash   string
	user       *botrelay.User
	viewAll    bool
	created    time.Time
	expires    time.Time
	// checked is when the store last confirmed the session.
	checked  time.Time
	state    string // ONLINE, AWAY, OCCUPIED; "" until set
	conn     *conn
	lastRing time.Time
	// survey is set for the user of a survey bot (F41): it is rung for
	// the post-conversation survey dialogs of surveySkills (every skill
	// when empty) and for nothing else.
	survey       bool
	surveySkills []botrelay.SkillID
	// weight is the routing weight of the user's agent bot (split.go).
	weight int
}

// writeJSON writes v with the status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
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
	if h.bearerSession(r.Context(), tok, false) == nil {
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
