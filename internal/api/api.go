// Package api is botrelay's management REST API under /api/v1: bots, users,
// skills, profiles, the caller's own identity and the vendor list, with
// session-cookie and bearer-token authentication and one permission per
// route.
//
// Handlers are thin: they parse the request, call the store, provisioning
// (package provision: bots and users), the relay or the vendor registry,
// and render JSON. Errors are *botrelay.Error values and map to HTTP
// statuses in exactly one place (writeError).
//
// Sessions and personal access tokens are kept in the store (hashed), so
// they survive a restart and are valid on every node sharing the database.
package api

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/limits"
	"github.com/botrelay/botrelay/internal/provision"
	"github.com/botrelay/botrelay/internal/relay"
	"github.com/botrelay/botrelay/internal/sealed"
	"github.com/botrelay/botrelay/internal/webhook"
)

// Pseudo-permissions for the routes that need no profile permission. Every
// route of the table names exactly one permission: a botrelay.Perm* value,
// Authenticated or Anyone.
const (
	// Authenticated routes need a logged-in, enabled user and no particular
	// permission (the caller's own identity, logout, personal tokens).
	Authenticated botrelay.Permission = "authenticated"
	// Anyone routes need no credentials (login).
	Anyone botrelay.Permission = "anyone"
)

// Options configure New. Store, Relay, Box, Registry and Account are
// required; the rest have defaults.
type Options struct {
	Store botrelay.Store
	Relay *relay.Relay
	// Cluster answers GET /api/v1/cluster in cluster mode; nil on a
	// single node.
	Cluster  ClusterStatus
	Box      sealed.Sealer
	Registry *botrelay.Registry
	Account  botrelay.AccountID
	// Logger receives internal errors, once each. Default: slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default: time.Now.
	Now func() time.Time
	// HTTPClient is given to vendor bots built for the connection test.
	// Default: http.DefaultClient.
	HTTPClient *http.Client
	// Signer is given to vendor bots built for validation and the
	// connection test (Custom Endpoint needs it without tokenUrl). Optional.
	Signer botrelay.TokenSigner
	// SessionTTL is how long a login session lasts. Default: 12h.
	SessionTTL time.Duration
	// Logins limits password logins and runs password hashes; the server
	// shares one with the hub's agent login. Default: a limiter of its own
	// with the default limits.
	Logins *limits.Logins
	// ClientAddr returns the client address of a request, for the login
	// limits. Default: the TCP peer's IP address (limits.ClientAddr).
	ClientAddr func(r *http.Request) string
	// Webhooks seals and rotates webhook secrets and says whether private
	// targets are allowed; nil answers the webhook routes with 501.
	Webhooks *webhook.Service
}

// API serves the management REST API. It is safe for concurrent use.
type API struct {
	o        Options
	log      *slog.Logger
	sessions *credentials
	prov     *provision.Provisioner
}

// New returns the API. It does no I/O and starts no goroutines.
func New(o Options) *API {
	if o.Store == nil || o.Relay == nil || o.Box == nil || o.Registry == nil || o.Account == "" {
		panic("api: New needs Store, Relay, Box, Registry and Account")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.HTTPClient == nil {
		o.HTTPClient = http.DefaultClient
	}
	if o.SessionTTL == 0 {
		o.SessionTTL = 12 * time.Hour
	}
	if o.Logins == nil {
		o.Logins = limits.NewLogins(limits.LoginConfig{}, o.Now)
	}
	if o.ClientAddr == nil {
		o.ClientAddr = limits.ClientAddr
	}
	return &API{
		o:        o,
		log:      o.Logger,
		sessions: &credentials{store: o.Store, now: o.Now, log: o.Logger},
		prov: provision.New(provision.Options{Store: o.Store, Box: o.Box, Registry: o.Registry, Account: o.Account,
			Logger: o.Logger, HTTPClient: o.HTTPClient, Now: o.Now, Signer: o.Signer}),
	}
}

// Route is one entry of the route table: an HTTP method, a ServeMux path
// pattern, the one permission the caller needs, and the handler.
type Route struct {
	Method  string
	Pattern string
	Perm    botrelay.Permission
	Handler http.HandlerFunc
}

// RouteTable returns the API's routes. The table is data so tests can call
// every route; Routes registers exactly these.
func (a *API) RouteTable() []Route {
	const v1 = "/api/v1"
	return append([]Route{
		{http.MethodPost, v1 + "/login", Anyone, a.login},
		{http.MethodPost, v1 + "/logout", Authenticated, a.logout},
		{http.MethodGet, v1 + "/me", Authenticated, a.me},
		{http.MethodGet, v1 + "/tokens", Authenticated, a.listTokens},
		{http.MethodPost, v1 + "/tokens", Authenticated, a.createToken},
		{http.MethodDelete, v1 + "/tokens/{id}", Authenticated, a.deleteToken},
		{http.MethodGet, v1 + "/vendors", botrelay.PermBotView, a.listVendors},

		{http.MethodGet, v1 + "/bots", botrelay.PermBotView, a.listBots},
		{http.MethodPost, v1 + "/bots", botrelay.PermBotCreate, a.createBot},
		{http.MethodGet, v1 + "/bots/{id}", botrelay.PermBotView, a.getBot},
		{http.MethodPut, v1 + "/bots/{id}", botrelay.PermBotEdit, a.updateBot},
		{http.MethodDelete, v1 + "/bots/{id}", botrelay.PermBotDelete, a.deleteBot},
		{http.MethodPost, v1 + "/bots/{id}/start", botrelay.PermBotStart, a.startBot},
		{http.MethodPost, v1 + "/bots/{id}/stop", botrelay.PermBotStop, a.stopBot},
		{http.MethodPost, v1 + "/bots/{id}/test", botrelay.PermBotEdit, a.testBot},
		{http.MethodPost, v1 + "/bots/{id}/converse", botrelay.PermBotEdit, a.converse},
		{http.MethodGet, v1 + "/bots/{id}/status", botrelay.PermBotView, a.botStatus},
		{http.MethodGet, v1 + "/bots/{id}/errors", botrelay.PermBotView, a.botErrors},
		{http.MethodGet, v1 + "/bots/{id}/conversations", botrelay.PermBotView, a.botConversations},
		{http.MethodGet, v1 + "/bots/{id}/stats", botrelay.PermBotView, a.botStats},

		{http.MethodGet, v1 + "/surveys", botrelay.PermBotView, a.listSurveys},
		{http.MethodGet, v1 + "/cluster", botrelay.PermBotView, a.clusterStatus},

		// Everyone may call these; without conversation:view-all the caller
		// sees only conversations they took part in (conversations.go).
		{http.MethodGet, v1 + "/conversations", Authenticated, a.listConversations},
		{http.MethodGet, v1 + "/conversations/{id}", Authenticated, a.getConversation},

		{http.MethodGet, v1 + "/users", botrelay.PermUserView, a.listUsers},
		{http.MethodPost, v1 + "/users", botrelay.PermUserManage, a.createUser},
		{http.MethodGet, v1 + "/users/{id}", botrelay.PermUserView, a.getUser},
		{http.MethodPut, v1 + "/users/{id}", botrelay.PermUserManage, a.updateUser},
		{http.MethodDelete, v1 + "/users/{id}", botrelay.PermUserManage, a.deleteUser},
		{http.MethodPost, v1 + "/users/{id}/password", botrelay.PermUserManage, a.resetPassword},
		{http.MethodGet, v1 + "/users/{id}/apikeys", botrelay.PermUserManage, a.listAPIKeys},
		{http.MethodPost, v1 + "/users/{id}/apikeys", botrelay.PermUserManage, a.createAPIKey},
		{http.MethodDelete, v1 + "/users/{id}/apikeys/{appKey}", botrelay.PermUserManage, a.deleteAPIKey},

		{http.MethodGet, v1 + "/skills", botrelay.PermSkillView, a.listSkills},
		{http.MethodPost, v1 + "/skills", botrelay.PermSkillEdit, a.createSkill},
		{http.MethodGet, v1 + "/skills/{id}", botrelay.PermSkillView, a.getSkill},
		{http.MethodPut, v1 + "/skills/{id}", botrelay.PermSkillEdit, a.updateSkill},
		{http.MethodDelete, v1 + "/skills/{id}", botrelay.PermSkillEdit, a.deleteSkill},
		{http.MethodGet, v1 + "/skills/{id}/split", botrelay.PermBotView, a.skillSplit},

		{http.MethodGet, v1 + "/profiles", botrelay.PermProfView, a.listProfiles},
		{http.MethodPost, v1 + "/profiles", botrelay.PermProfEdit, a.createProfile},
		{http.MethodGet, v1 + "/profiles/{id}", botrelay.PermProfView, a.getProfile},
		{http.MethodPut, v1 + "/profiles/{id}", botrelay.PermProfEdit, a.updateProfile},
		{http.MethodDelete, v1 + "/profiles/{id}", botrelay.PermProfEdit, a.deleteProfile},

		{http.MethodGet, "/api/openapi.json", Anyone, serveOpenAPI},
	}, append(a.cannedRoutes(v1), a.webhookRoutes(v1)...)...)
}

// Routes registers every route of RouteTable on mux, each wrapped in
// authentication and its permission check. It panics on a route without a
// method, outside /api/, without a handler, or whose permission is neither a
// known botrelay permission nor Authenticated or Anyone: a wiring mistake
// must fail at start.
func (a *API) Routes(mux *http.ServeMux) {
	for _, rt := range a.RouteTable() {
		mux.Handle(rt.Method+" "+rt.Pattern, a.guard(rt))
	}
	for _, rt := range a.PublicRouteTable() {
		mux.Handle(rt.Method+" "+rt.Pattern, a.publicGuard(rt))
	}
}

// guard checks rt and wraps its handler; see Routes.
func (a *API) guard(rt Route) http.Handler {
	if rt.Method == "" || !strings.HasPrefix(rt.Pattern, "/api/") || rt.Handler == nil {
		panic(fmt.Sprintf("api: malformed route %q %q", rt.Method, rt.Pattern))
	}
	if rt.Perm != Anyone && rt.Perm != Authenticated && !rt.Perm.Valid() {
		panic(fmt.Sprintf("api: route %s %s has no valid permission (%q)", rt.Method, rt.Pattern, rt.Perm))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if rt.Perm == Anyone {
			rt.Handler(w, r)
			return
		}
		p, err := a.authenticate(r)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		if rt.Perm != Authenticated && !p.profile.Has(rt.Perm) {
			a.writeError(w, r, botrelay.Errorf(botrelay.EFORBIDDEN, "your profile lacks the permission %s", rt.Perm))
			return
		}
		rt.Handler(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

// openAPI is the OpenAPI 3.1 document of the API; tests check every
// response against it.
//
//go:embed openapi.json
var openAPI []byte

// serveOpenAPI serves the OpenAPI document.
func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPI)
}

// errorStatus maps an error code to its HTTP status; the one place that does.
func errorStatus(code string) int {
	switch code {
	case botrelay.EINVALID:
		return http.StatusBadRequest
	case botrelay.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case botrelay.EFORBIDDEN:
		return http.StatusForbidden
	case botrelay.ENOTFOUND:
		return http.StatusNotFound
	case botrelay.ECONFLICT:
		return http.StatusConflict
	case botrelay.ERATELIMITED:
		return http.StatusTooManyRequests
	case botrelay.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	case botrelay.ENOTIMPLEMENTED:
		return http.StatusNotImplemented
	}
	return http.StatusInternalServerError
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// writeError renders err as {"error":{"code","message"}}. Internal errors
// are logged here, once, and shown only as a generic message.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := botrelay.ErrorCode(err)
	msg := botrelay.ErrorMessage(err)
	if code == botrelay.EINTERNAL {
		a.log.ErrorContext(r.Context(), "api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		msg = "internal error"
	}
	if code == botrelay.EUNAUTHORIZED {
		w.Header().Set("WWW-Authenticate", `Bearer realm="botrelay"`)
	}
	limits.SetRetryAfter(w.Header(), err) // 429 and 503 of the limits say when to retry
	writeJSON(w, errorStatus(code), errorBody{errorDetail{code, msg}})
}

// writeJSON renders v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v) // the client went away; nothing to do
}

// maxBody bounds request bodies.
const maxBody = 1 << 20

// decode reads the JSON body into v, refusing unknown fields, trailing data
// and bodies over maxBody, as EINVALID errors.
func decode(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return botrelay.Errorf(botrelay.EINVALID, "the request body is larger than %d bytes", maxBody)
		case errors.Is(err, io.EOF):
			return botrelay.Errorf(botrelay.EINVALID, "the request body must be a JSON object")
		}
		return botrelay.Errorf(botrelay.EINVALID, "invalid JSON body: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return botrelay.Errorf(botrelay.EINVALID, "invalid JSON body: unexpected data after the object")
	}
	return nil
}

// pathInt parses the path value name as a positive integer id.
func pathInt(r *http.Request, name string) (int64, error) {
	n, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || n <= 0 {
		return 0, botrelay.Errorf(botrelay.ENOTFOUND, "%s %q does not exist", name, r.PathValue(name))
	}
	return n, nil
}

// queryLimit parses ?limit (default def, at most max).
func queryLimit(r *http.Request, def, max int) (int, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		return 0, botrelay.Errorf(botrelay.EINVALID, "limit must be between 1 and %d", max)
	}
	return n, nil
}
