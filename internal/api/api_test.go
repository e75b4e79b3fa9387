package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/auth"
	"github.com/botrelay/botrelay/internal/sealed"
	"github.com/botrelay/botrelay/internal/testrig"
	"github.com/botrelay/botrelay/internal/webhook"
)

// fakeVendor is a vendor connector for API tests: settings {"greeting",
// "apiKey", "host"} where apiKey is a secret and required and host (unused)
// is its endpoint setting; the health check fails when apiKey is "bad".
type fakeVendor struct{}

func (fakeVendor) Info() botrelay.VendorInfo {
	return botrelay.VendorInfo{ID: "fake", DisplayName: "Fake", Secrets: []string{"apiKey"}, Endpoint: []string{"host"}}
}

func (fakeVendor) NewBot(cfg json.RawMessage, env botrelay.BotEnv) (botrelay.VendorBot, error) {
	var s struct {
		Greeting string `json:"greeting"`
		APIKey   string `json:"apiKey"`
		Host     string `json:"host"`
	}
	dec := json.NewDecoder(bytes.NewReader(cfg))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, botrelay.Errorf(botrelay.EINVALID, "%v", err)
	}
	if s.APIKey == "" {
		return nil, botrelay.Errorf(botrelay.EINVALID, "apiKey is required")
	}
	return &fakeBot{apiKey: s.APIKey}, nil
}

type fakeBot struct{ apiKey string }

func (b *fakeBot) Converse(ctx context.Context, t *botrelay.Turn) (*botrelay.Reply, error) {
	return &botrelay.Reply{Items: []botrelay.Item{{Message: &botrelay.Message{Text: "hi"}}}}, nil
}

func (b *fakeBot) CheckHealth(ctx context.Context) error {
	if b.apiKey == "bad" {
		return botrelay.NewVendorError(botrelay.ErrVendorUnavailable, "fake.auth", "the vendor refused the key")
	}
	return nil
}

// env is an API on a real rig (store, hub, relay) behind httptest.
type env struct {
	t      testing.TB
	rig    *testrig.Rig
	api    *API
	srv    *httptest.Server
	n      atomic.Int64
	mu     sync.Mutex
	bodies []string // every response body, for the secret scan
	spec   *specChecker
	users  map[string]*botrelay.User
	tokens map[string]string // profile name → bearer token
}

const testPassword = "correct horse battery"

func newEnv(t *testing.T, vendors ...botrelay.VendorConnector) *env {
	t.Helper()
	return newEnvWith(t, nil, vendors...)
}

// newEnvWith is newEnv with a chance to change the API's options.
func newEnvWith(t testing.TB, edit func(*Options), vendors ...botrelay.VendorConnector) *env {
	t.Helper()
	rig := testrig.NewRig(t, testrig.RigOptions{Vendors: append([]botrelay.VendorConnector{fakeVendor{}}, vendors...)})
	o := Options{Store: rig.Store, Relay: rig.Relay, Box: rig.Box, Registry: rig.Registry, Account: testrig.Account,
		Logger: rig.Log, Signer: rig.Signer, Webhooks: webhook.New(webhook.Options{Store: rig.Store, Box: rig.Box})}
	if edit != nil {
		edit(&o)
	}
	a := New(o)
	mux := http.NewServeMux()
	a.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e := &env{t: t, rig: rig, api: a, srv: srv, spec: newSpecChecker(t, a), users: map[string]*botrelay.User{},
		tokens: map[string]string{}}
	ctx := context.Background()
	hash, err := auth.HashPassword(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	custom := &botrelay.Profile{AccountID: testrig.Account, Name: "Bot starter", Role: botrelay.RoleCampaignManager,
		Permissions: []botrelay.Permission{botrelay.PermBotCreate, botrelay.PermBotStart}}
	if err := rig.Store.CreateProfile(ctx, custom); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"Admin", "Campaign Manager", "Agent Manager", "Agent", "Bot starter"} {
		var u *botrelay.User
		if name == "Admin" {
			u, err = rig.Store.UserByLogin(ctx, testrig.Account, "admin")
		} else {
			p, perr := rig.Store.ProfileByName(ctx, testrig.Account, name)
			if perr != nil {
				t.Fatal(perr)
			}
			u = &botrelay.User{AccountID: testrig.Account, Type: botrelay.UserHuman, ProfileID: p.ID, Enabled: true,
				LoginName: strings.ToLower(strings.ReplaceAll(name, " ", "-"))}
			err = rig.Store.CreateUser(ctx, u)
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := rig.Store.SetPasswordHash(ctx, u.ID, hash); err != nil {
			t.Fatal(err)
		}
		e.users[name] = u
		e.tokens[name] = e.newToken(u.ID, "test")
	}
	return e
}

// newToken makes a personal access token for user and returns its value.
func (e *env) newToken(user botrelay.UserID, desc string) string {
	e.t.Helper()
	_, value, err := e.api.sessions.newToken(context.Background(), user, desc)
	if err != nil {
		e.t.Fatal(err)
	}
	return value
}

// resp is a decoded response.
type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// do sends a request with an optional bearer token and JSON body.
func (e *env) do(client *http.Client, method, path, token string, body any, header ...string) resp {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if client == nil {
		client = e.srv.Client()
	}
	res, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	e.mu.Lock()
	e.bodies = append(e.bodies, string(raw))
	e.mu.Unlock()
	if err := e.spec.check(req, res.StatusCode, raw); err != nil {
		e.t.Error(err)
	}
	if res.StatusCode >= 300 && res.StatusCode != 401 && res.StatusCode != 403 && res.StatusCode != 429 &&
		(len(raw) == 0 || !json.Valid(raw) || !strings.Contains(string(raw), `"error"`)) {
		e.t.Errorf("%s %s: %d without an error body: %s", method, path, res.StatusCode, raw)
	}
	return resp{res.StatusCode, res.Header, raw}
}

// admin sends a request as the admin and wants status.
func (e *env) admin(method, path string, body any, want int) resp {
	e.t.Helper()
	r := e.do(nil, method, path, e.tokens["Admin"], body)
	if r.status != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.body)
	}
	return r
}

func (e *env) unique(prefix string) string { return fmt.Sprintf("%s-%d", prefix, e.n.Add(1)) }

func (e *env) profileID(name string) botrelay.ProfileID {
	p, err := e.rig.Store.ProfileByName(context.Background(), testrig.Account, name)
	if err != nil {
		e.t.Fatal(err)
	}
	return p.ID
}

// newBotUser creates a bot user through the API.
func (e *env) newBotUser() botrelay.UserID {
	var out createdUserResponse
	e.admin(http.MethodPost, "/api/v1/users", map[string]any{"type": "BOT", "loginName": e.unique("botuser"),
		"profileId": e.profileID("Agent"), "messagingSlots": 100, "skillIds": []botrelay.SkillID{e.rig.Skills["bot"]}},
		http.StatusCreated).decode(e.t, &out)
	return out.User.ID
}

// newHuman creates a human agent through the API.
func (e *env) newHuman() botrelay.UserID {
	var out createdUserResponse
	e.admin(http.MethodPost, "/api/v1/users", map[string]any{"type": "HUMAN", "loginName": e.unique("human"),
		"profileId": e.profileID("Agent"), "password": testPassword}, http.StatusCreated).decode(e.t, &out)
	return out.User.ID
}

// botBody is a valid create body for a fake-vendor bot.
func (e *env) botBody(user botrelay.UserID, apiKey string) map[string]any {
	return map[string]any{"name": e.unique("bot"), "vendor": "fake", "userId": user,
		"settings": map[string]any{"vendor": map[string]any{"greeting": "hello", "apiKey": apiKey},
			"errorHandling": map[string]any{"escalationSkill": "human"}}}
}

// newBot creates a fake-vendor bot through the API.
func (e *env) newBot(apiKey string) botJSON {
	var b botJSON
	e.admin(http.MethodPost, "/api/v1/bots", e.botBody(e.newBotUser(), apiKey), http.StatusCreated).decode(e.t, &b)
	return b
}

func (e *env) newSkill() botrelay.SkillID {
	var s skillJSON
	e.admin(http.MethodPost, "/api/v1/skills", map[string]any{"name": e.unique("skill")}, http.StatusCreated).decode(e.t, &s)
	return s.ID
}

func (e *env) newProfile() botrelay.ProfileID {
	var p profileJSON
	e.admin(http.MethodPost, "/api/v1/profiles", map[string]any{"name": e.unique("profile"), "role": "AGENT",
		"permissions": []string{"bot:view"}}, http.StatusCreated).decode(e.t, &p)
	return p.ID
}

// fixture gives one valid request of a route for the caller whose user is
// given (nil: anonymous).
type fixture func(e *env, who *botrelay.User) (path string, body any)

func fixtures() map[string]fixture {
	static := func(path string, body any) fixture {
		return func(*env, *botrelay.User) (string, any) { return path, body }
	}
	fresh := func(f func(e *env) string) fixture {
		return func(e *env, _ *botrelay.User) (string, any) { return f(e), nil }
	}
	return map[string]fixture{
		"POST /api/v1/login":    static("/api/v1/login", map[string]string{"loginName": "agent", "password": testPassword}),
		"POST /api/v1/logout":   static("/api/v1/logout", nil),
		"GET /api/v1/me":        static("/api/v1/me", nil),
		"GET /api/v1/tokens":    static("/api/v1/tokens", nil),
		"POST /api/v1/tokens":   static("/api/v1/tokens", map[string]string{"description": "ci"}),
		"GET /api/v1/vendors":   static("/api/v1/vendors", nil),
		"GET /api/v1/bots":      static("/api/v1/bots", nil),
		"GET /api/v1/users":     static("/api/v1/users", nil),
		"GET /api/v1/skills":    static("/api/v1/skills", nil),
		"GET /api/v1/profiles":  static("/api/v1/profiles", nil),
		"GET /api/openapi.json": static("/api/openapi.json", nil),
		"DELETE /api/v1/tokens/{id}": func(e *env, who *botrelay.User) (string, any) {
			if who == nil {
				return "/api/v1/tokens/none", nil
			}
			t, _, err := e.api.sessions.newToken(context.Background(), who.ID, "to delete")
			if err != nil {
				e.t.Fatal(err)
			}
			return "/api/v1/tokens/" + t.ID, nil
		},
		"GET /api/v1/skills/{id}/split": fresh(func(e *env) string { return fmt.Sprintf("/api/v1/skills/%d/split", e.newSkill()) }),
		"POST /api/v1/bots": func(e *env, _ *botrelay.User) (string, any) {
			return "/api/v1/bots", e.botBody(e.newBotUser(), "k-"+e.unique("secret"))
		},
		"GET /api/v1/bots/{id}": fresh(func(e *env) string { return "/api/v1/bots/" + string(e.newBot("k1").ID) }),
		"PUT /api/v1/bots/{id}": func(e *env, _ *botrelay.User) (string, any) {
			b := e.newBot("k1")
			return "/api/v1/bots/" + string(b.ID), map[string]any{"name": "renamed",
				"settings": map[string]any{"vendor": map[string]any{"greeting": "hey"}}}
		},
		"POST /api/v1/bots/{id}/converse": func(e *env, _ *botrelay.User) (string, any) {
			return "/api/v1/bots/" + string(e.newBot("k1").ID) + "/converse", map[string]any{"text": "hello"}
		},
		"DELETE /api/v1/bots/{id}":            fresh(func(e *env) string { return "/api/v1/bots/" + string(e.newBot("k1").ID) }),
		"POST /api/v1/bots/{id}/start":        fresh(func(e *env) string { return "/api/v1/bots/" + string(e.newBot("k1").ID) + "/start" }),
		"POST /api/v1/bots/{id}/stop":         fresh(func(e *env) string { return "/api/v1/bots/" + string(e.newBot("k1").ID) + "/stop" }),
		"POST /api/v1/bots/{id}/test":         fresh(func(e *env) string { return "/api/v1/bots/" + string(e.newBot("k1").ID) + "/test" }),
		"GET /api/v1/bots/{id}/status":        fresh(func(e *env) string { return "/api/v1/bots/" + string(e.newBot("k1").ID) + "/status" }),
		"GET /api/v1/bots/{id}/errors":        fresh(func(e *env) string { return "/api/v1/bots/" + string(e.newBot("k1").ID) + "/errors?conversationId=c1" }),
		"GET /api/v1/bots/{id}/conversations": fresh(func(e *env) string { return "/api/v1/bots/" + string(e.newBot("k1").ID) + "/conversations" }),
		"GET /api/v1/cluster":                 fresh(func(e *env) string { return "/api/v1/cluster" }),
		"GET /api/v1/conversations":           static("/api/v1/conversations?state=open&limit=10", nil),
		"GET /api/v1/conversations/{id}": func(e *env, who *botrelay.User) (string, any) {
			return "/api/v1/conversations/" + string(e.storedConversation(who)), nil
		},
		"GET /api/v1/bots/{id}/stats": fresh(func(e *env) string { return "/api/v1/bots/" + string(e.newBot("k1").ID) + "/stats?step=1h" }),
		"GET /api/v1/surveys": fresh(func(e *env) string {
			b := e.newBot("k1")
			sv := &botrelay.Survey{BotID: b.ID, ConversationID: "c-" + botrelay.ConversationID(e.unique("conv")), DialogID: botrelay.DialogID(e.unique("dialog")),
				State: botrelay.SurveyCompleted, Result: json.RawMessage(`{"csat":5}`), EndedAt: time.Now(),
				Answers: []botrelay.SurveyAnswer{{Sequence: 1, Question: "Rate us", Answer: "5", At: time.Now()}}}
			if err := e.rig.Store.SaveSurvey(context.Background(), sv); err != nil {
				e.t.Fatal(err)
			}
			return "/api/v1/surveys?botId=" + string(b.ID)
		}),
		"GET /api/v1/users/{id}":         fresh(func(e *env) string { return fmt.Sprintf("/api/v1/users/%d", e.newHuman()) }),
		"DELETE /api/v1/users/{id}":      fresh(func(e *env) string { return fmt.Sprintf("/api/v1/users/%d", e.newHuman()) }),
		"GET /api/v1/users/{id}/apikeys": fresh(func(e *env) string { return fmt.Sprintf("/api/v1/users/%d/apikeys", e.newBotUser()) }),
		"GET /api/v1/skills/{id}":        fresh(func(e *env) string { return fmt.Sprintf("/api/v1/skills/%d", e.newSkill()) }),
		"DELETE /api/v1/skills/{id}":     fresh(func(e *env) string { return fmt.Sprintf("/api/v1/skills/%d", e.newSkill()) }),
		"GET /api/v1/profiles/{id}":      fresh(func(e *env) string { return fmt.Sprintf("/api/v1/profiles/%d", e.newProfile()) }),
		"DELETE /api/v1/profiles/{id}":   fresh(func(e *env) string { return fmt.Sprintf("/api/v1/profiles/%d", e.newProfile()) }),
		"POST /api/v1/users": func(e *env, _ *botrelay.User) (string, any) {
			return "/api/v1/users", map[string]any{"type": "HUMAN", "loginName": e.unique("new"), "profileId": e.profileID("Agent")}
		},
		"PUT /api/v1/users/{id}": func(e *env, _ *botrelay.User) (string, any) {
			return fmt.Sprintf("/api/v1/users/%d", e.newHuman()), map[string]any{"loginName": e.unique("renamed"),
				"profileId": e.profileID("Agent Manager"), "enabled": true}
		},
		"POST /api/v1/users/{id}/password": func(e *env, _ *botrelay.User) (string, any) {
			return fmt.Sprintf("/api/v1/users/%d/password", e.newHuman()), map[string]any{}
		},
		"POST /api/v1/users/{id}/apikeys": func(e *env, _ *botrelay.User) (string, any) {
			return fmt.Sprintf("/api/v1/users/%d/apikeys", e.newBotUser()), map[string]any{"description": "ci"}
		},
		"DELETE /api/v1/users/{id}/apikeys/{appKey}": func(e *env, _ *botrelay.User) (string, any) {
			u := e.newBotUser()
			k, err := e.api.newAPIKey(context.Background(), u, "to delete")
			if err != nil {
				e.t.Fatal(err)
			}
			return fmt.Sprintf("/api/v1/users/%d/apikeys/%s", u, k.AppKey), nil
		},
		"POST /api/v1/skills": func(e *env, _ *botrelay.User) (string, any) {
			return "/api/v1/skills", map[string]any{"name": e.unique("skill"), "description": "d"}
		},
		"PUT /api/v1/skills/{id}": func(e *env, _ *botrelay.User) (string, any) {
			return fmt.Sprintf("/api/v1/skills/%d", e.newSkill()), map[string]any{"name": e.unique("skill"), "postSurvey": true}
		},
		"POST /api/v1/profiles": func(e *env, _ *botrelay.User) (string, any) {
			return "/api/v1/profiles", map[string]any{"name": e.unique("profile"), "role": "AGENT", "permissions": []string{"bot:view"}}
		},
		"PUT /api/v1/profiles/{id}": func(e *env, _ *botrelay.User) (string, any) {
			return fmt.Sprintf("/api/v1/profiles/%d", e.newProfile()), map[string]any{"name": e.unique("profile"),
				"role": "AGENT_MANAGER", "permissions": []string{"bot:view", "bot:stop"}}
		},
	}
}

// TestRoutePermissions calls every route of the table as each profile and
// anonymously with a valid request: allowed gives 2xx, a missing permission
// 403 and no credentials 401.
func TestRoutePermissions(t *testing.T) {
	e := newEnv(t)
	fx := withWebhookFixtures(fixtures())
	maps.Copy(fx, cannedFixtures())
	callers := []string{"Admin", "Campaign Manager", "Agent Manager", "Agent", "Bot starter", "anonymous"}
	for _, rt := range e.api.RouteTable() {
		key := rt.Method + " " + rt.Pattern
		f, ok := fx[key]
		if !ok {
			t.Errorf("route %s has no test fixture", key)
			continue
		}
		delete(fx, key)
		for _, name := range callers {
			t.Run(key+"/"+name, func(t *testing.T) {
				parent := e.t
				e.t = t // subtests run one at a time; helpers fail the subtest
				defer func() { e.t = parent }()
				who, token := e.users[name], e.tokens[name]
				path, body := f(e, who)
				r := e.do(nil, rt.Method, path, token, body)
				switch {
				case rt.Perm == Anyone || (who != nil && (rt.Perm == Authenticated || e.hasPerm(who, rt.Perm))):
					if r.status < 200 || r.status > 299 {
						t.Errorf("allowed: status %d: %s", r.status, r.body)
					}
				case who == nil:
					if r.status != http.StatusUnauthorized {
						t.Errorf("anonymous: status %d, want 401: %s", r.status, r.body)
					}
				default:
					if r.status != http.StatusForbidden {
						t.Errorf("denied: status %d, want 403: %s", r.status, r.body)
					}
				}
			})
		}
	}
	for key := range fx {
		t.Errorf("fixture %s matches no route", key)
	}
	// Profiles from spec §1.3, checked directly besides the table.
	for name, want := range map[string]map[botrelay.Permission]bool{
		"Admin":            {botrelay.PermBotCreate: true, botrelay.PermBotStart: true, botrelay.PermBotStop: true},
		"Campaign Manager": {botrelay.PermBotCreate: true, botrelay.PermBotStart: true, botrelay.PermBotEdit: true},
		"Agent Manager":    {botrelay.PermBotCreate: false, botrelay.PermBotStart: false, botrelay.PermBotStop: true, botrelay.PermBotEdit: true, botrelay.PermBotDelete: true},
		"Agent":            {botrelay.PermBotCreate: false, botrelay.PermBotStart: false, botrelay.PermBotStop: true, botrelay.PermBotEdit: true, botrelay.PermBotDelete: true},
		"Bot starter":      {botrelay.PermBotCreate: true, botrelay.PermBotStart: true, botrelay.PermBotStop: false, botrelay.PermBotView: false},
	} {
		for perm, ok := range want {
			if got := e.hasPerm(e.users[name], perm); got != ok {
				t.Errorf("%s has %s: %v, want %v", name, perm, got, ok)
			}
		}
	}
}

func (e *env) hasPerm(u *botrelay.User, perm botrelay.Permission) bool {
	p, err := e.rig.Store.Profile(context.Background(), u.ProfileID)
	if err != nil {
		e.t.Fatal(err)
	}
	return p.Has(perm)
}

func TestRouteWithoutPermissionPanics(t *testing.T) {
	e := &API{}
	for name, rt := range map[string]Route{
		"no permission":      {Method: http.MethodGet, Pattern: "/api/v1/x", Handler: func(http.ResponseWriter, *http.Request) {}},
		"unknown permission": {Method: http.MethodGet, Pattern: "/api/v1/x", Perm: "bot:fly", Handler: func(http.ResponseWriter, *http.Request) {}},
		"no handler":         {Method: http.MethodGet, Pattern: "/api/v1/x", Perm: botrelay.PermBotView},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			e.guard(rt)
		})
	}
}

// TestNoSecretInResponses creates and edits bots with known vendor secrets
// and checks that no response body ever carries them or the bot user's
// sealed API key secrets.
func TestNoSecretInResponses(t *testing.T) {
	e := newEnv(t)
	const secret = "s3cr3t-vendor-key-9f1c"
	b := e.newBot(secret)
	if len(b.SecretsSet) == 0 || b.SecretsSet[0] != "apiKey" {
		t.Errorf("secretsSet = %v, want apiKey first", b.SecretsSet)
	}
	if strings.Contains(string(b.Settings.Vendor), "apiKey") {
		t.Errorf("settings.vendor shows the secret key: %s", b.Settings.Vendor)
	}
	path := "/api/v1/bots/" + string(b.ID)
	e.admin(http.MethodGet, path, nil, http.StatusOK)
	e.admin(http.MethodGet, "/api/v1/bots", nil, http.StatusOK)
	// An update without apiKey keeps the secret; the connector still gets it.
	var upd botJSON
	e.admin(http.MethodPut, path, map[string]any{"name": "kept", "settings": map[string]any{"vendor": map[string]any{"greeting": "yo"}}},
		http.StatusOK).decode(t, &upd)
	if len(upd.SecretsSet) == 0 || upd.SecretsSet[0] != "apiKey" {
		t.Errorf("after update secretsSet = %v", upd.SecretsSet)
	}
	var tr testResult
	e.admin(http.MethodPost, path+"/test", nil, http.StatusOK).decode(t, &tr)
	if !tr.OK || !tr.Checked {
		t.Errorf("test connection: %+v", tr)
	}
	e.admin(http.MethodGet, path+"/status", nil, http.StatusOK)
	e.admin(http.MethodPost, path+"/start", nil, http.StatusAccepted)
	e.admin(http.MethodPost, path+"/stop", nil, http.StatusOK)
	e.admin(http.MethodGet, fmt.Sprintf("/api/v1/users/%d/apikeys", b.UserID), nil, http.StatusOK)
	// A second secret replaces the first.
	const secret2 = "another-s3cr3t-77aa"
	e.admin(http.MethodPut, path, map[string]any{"name": "new key", "settings": map[string]any{"vendor": map[string]any{"apiKey": secret2}}},
		http.StatusOK)

	stored, err := e.rig.Store.Bot(context.Background(), b.ID)
	if err != nil {
		t.Fatal(err)
	}
	sec, err := sealed.Open(e.rig.Box, stored)
	if err != nil {
		t.Fatal(err)
	}
	if sec.Vendor["apiKey"] != secret2 || sec.APIKey.Secret == "" || sec.APIKey.AccessTokenSecret == "" {
		t.Fatalf("sealed secrets = vendor %v, key set %t", sec.Vendor, sec.APIKey.Secret != "")
	}
	if strings.Contains(string(stored.Settings.Vendor), "apiKey") {
		t.Errorf("stored settings carry the secret: %s", stored.Settings.Vendor)
	}
	keys, err := e.rig.Store.APIKeys(context.Background(), b.UserID)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, k := range keys {
		found = found || (k.AppKey == sec.APIKey.AppKey && auth.VerifySecret(sec.APIKey.Secret, k.SecretHash))
	}
	if !found {
		t.Error("the sealed key set is not stored (hashed) for the bot user")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, body := range e.bodies {
		for _, s := range []string{secret, secret2, sec.APIKey.Secret, sec.APIKey.AccessTokenSecret, stored.Secrets} {
			if strings.Contains(body, s) {
				t.Errorf("a response contains a stored secret: %s", body)
			}
		}
	}
}

func TestVendorValidation(t *testing.T) {
	e := newEnv(t)
	body := e.botBody(e.newBotUser(), "")
	body["settings"].(map[string]any)["vendor"] = map[string]any{"greeting": "hi"}
	r := e.admin(http.MethodPost, "/api/v1/bots", body, http.StatusBadRequest)
	if !strings.Contains(string(r.body), "apiKey") {
		t.Errorf("error does not name the field: %s", r.body)
	}
	body = e.botBody(e.newHuman(), "k")
	e.admin(http.MethodPost, "/api/v1/bots", body, http.StatusBadRequest)
	b := e.newBot("bad")
	var tr testResult
	e.admin(http.MethodPost, "/api/v1/bots/"+string(b.ID)+"/test", nil, http.StatusOK).decode(t, &tr)
	if tr.OK || !strings.Contains(tr.Error, "refused") {
		t.Errorf("test connection of a bad key: %+v", tr)
	}
	e.admin(http.MethodGet, "/api/v1/bots/nope", nil, http.StatusNotFound)
	e.admin(http.MethodPut, "/api/v1/profiles/"+fmt.Sprint(e.profileID("Admin")), map[string]any{"name": "x", "role": "ADMIN"}, http.StatusConflict)
	e.admin(http.MethodDelete, "/api/v1/profiles/"+fmt.Sprint(e.profileID("Agent")), nil, http.StatusConflict)
}

// TestCookieSessionCSRF logs in with a password: reads work with the cookie
// alone, state changes need the CSRF token, and logout ends the session.
func TestCookieSessionCSRF(t *testing.T) {
	e := newEnv(t)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	r := e.do(c, http.MethodPost, "/api/v1/login", "", map[string]string{"loginName": "Admin", "password": testPassword})
	if r.status != http.StatusOK {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	var lr loginResponse
	r.decode(t, &lr)
	setCookie := r.header.Get("Set-Cookie")
	for _, attr := range []string{"HttpOnly", "SameSite=Strict", SessionCookie + "="} {
		if !strings.Contains(setCookie, attr) {
			t.Errorf("Set-Cookie %q lacks %s", setCookie, attr)
		}
	}
	if strings.Contains(setCookie, "Secure") {
		t.Errorf("Secure cookie over plain HTTP: %q", setCookie)
	}
	if r := e.do(c, http.MethodGet, "/api/v1/me", "", nil); r.status != http.StatusOK {
		t.Errorf("me: %d", r.status)
	}
	skill := map[string]string{"name": "csrf"}
	if r := e.do(c, http.MethodPost, "/api/v1/skills", "", skill); r.status != http.StatusForbidden {
		t.Errorf("without CSRF token: %d, want 403", r.status)
	}
	if r := e.do(c, http.MethodPost, "/api/v1/skills", "", skill, CSRFHeader, "wrong"); r.status != http.StatusForbidden {
		t.Errorf("wrong CSRF token: %d, want 403", r.status)
	}
	if r := e.do(c, http.MethodPost, "/api/v1/skills", "", skill, CSRFHeader, lr.CSRFToken); r.status != http.StatusCreated {
		t.Errorf("with CSRF token: %d, want 201: %s", r.status, r.body)
	}
	// A token made in the session works as a bearer token without cookies.
	var tok tokenJSON
	e.do(c, http.MethodPost, "/api/v1/tokens", "", map[string]string{"description": "cli"}, CSRFHeader, lr.CSRFToken).decode(t, &tok)
	if !strings.HasPrefix(tok.Token, TokenPrefix) {
		t.Fatalf("token %+v", tok)
	}
	if r := e.do(nil, http.MethodPost, "/api/v1/skills", tok.Token, map[string]string{"name": "bearer"}); r.status != http.StatusCreated {
		t.Errorf("bearer: %d %s", r.status, r.body)
	}
	var list []tokenJSON
	e.do(nil, http.MethodGet, "/api/v1/tokens", tok.Token, nil).decode(t, &list)
	for _, l := range list {
		if l.Token != "" {
			t.Error("token list shows a token value")
		}
	}
	if r := e.do(c, http.MethodPost, "/api/v1/logout", "", nil, CSRFHeader, lr.CSRFToken); r.status != http.StatusNoContent {
		t.Errorf("logout: %d", r.status)
	}
	if r := e.do(c, http.MethodGet, "/api/v1/me", "", nil); r.status != http.StatusUnauthorized {
		t.Errorf("after logout: %d, want 401", r.status)
	}
	if r := e.do(nil, http.MethodDelete, "/api/v1/tokens/"+tok.ID, tok.Token, nil); r.status != http.StatusNoContent {
		t.Errorf("revoke token: %d", r.status)
	}
	if r := e.do(nil, http.MethodGet, "/api/v1/me", tok.Token, nil); r.status != http.StatusUnauthorized {
		t.Errorf("revoked token: %d, want 401", r.status)
	}
	// Disabling a user ends its access at once.
	var cu createdUserResponse
	e.admin(http.MethodPost, "/api/v1/users", map[string]any{"type": "HUMAN", "loginName": "soon-disabled",
		"profileId": e.profileID("Agent")}, http.StatusCreated).decode(t, &cu)
	if len(cu.GeneratedPassword) != auth.GeneratedPasswordLength {
		t.Fatalf("generated password not shown once: %+v", cu)
	}
	r = e.do(nil, http.MethodPost, "/api/v1/login", "", map[string]string{"loginName": "soon-disabled", "password": cu.GeneratedPassword})
	if r.status != http.StatusOK {
		t.Fatalf("login with the generated password: %d %s", r.status, r.body)
	}
	ut := e.newToken(cu.User.ID, "x")
	e.admin(http.MethodPut, fmt.Sprintf("/api/v1/users/%d", cu.User.ID), map[string]any{"loginName": "soon-disabled",
		"profileId": e.profileID("Agent"), "enabled": false}, http.StatusOK)
	if r := e.do(nil, http.MethodGet, "/api/v1/me", ut, nil); r.status != http.StatusUnauthorized {
		t.Errorf("disabled user's token: %d, want 401", r.status)
	}
	if r := e.do(nil, http.MethodPost, "/api/v1/login", "", map[string]string{"loginName": "soon-disabled", "password": cu.GeneratedPassword}); r.status != http.StatusUnauthorized {
		t.Errorf("disabled user's login: %d, want 401", r.status)
	}
}

// TestBotLifecycle starts and stops a bot through the API against the rig's
// relay and hub, and checks that edits are refused while it runs (F48).
func TestBotLifecycle(t *testing.T) {
	e := newEnv(t)
	b := e.newBot("k1")
	path := "/api/v1/bots/" + string(b.ID)
	e.admin(http.MethodPost, path+"/start", nil, http.StatusAccepted)
	e.admin(http.MethodPost, path+"/start", nil, http.StatusConflict)
	var st statusJSON
	testrig.Eventually(t, 15*time.Second, "bot online", func() bool {
		e.admin(http.MethodGet, path+"/status", nil, http.StatusOK).decode(t, &st)
		return st.State == botrelay.BotOnline
	})
	if !st.Started || len(st.History) == 0 || st.History[0].State != botrelay.BotOnline {
		t.Errorf("status %+v", st)
	}
	edit := map[string]any{"name": "edited", "settings": map[string]any{"vendor": map[string]any{"greeting": "x"}}}
	r := e.admin(http.MethodPut, path, edit, http.StatusConflict)
	var eb errorBody
	r.decode(t, &eb)
	if eb.Error.Code != botrelay.ECONFLICT {
		t.Errorf("code %q", eb.Error.Code)
	}
	// Agents may stop but not start (spec §1.3).
	e.do(nil, http.MethodPost, path+"/stop", e.tokens["Agent"], nil)
	e.admin(http.MethodGet, path+"/status", nil, http.StatusOK).decode(t, &st)
	if st.State != botrelay.BotOffline || st.Started {
		t.Errorf("after stop: %+v", st)
	}
	if r := e.do(nil, http.MethodPost, path+"/start", e.tokens["Agent"], nil); r.status != http.StatusForbidden {
		t.Errorf("agent start: %d", r.status)
	}
	var got botJSON
	e.admin(http.MethodPut, path, edit, http.StatusOK).decode(t, &got)
	if got.Name != "edited" || string(got.Settings.Vendor) != `{"greeting":"x"}` {
		t.Errorf("after edit: %+v", got)
	}
	e.admin(http.MethodGet, path+"/errors", nil, http.StatusOK)
	e.admin(http.MethodGet, path+"/conversations", nil, http.StatusOK)
	// Deleting a running bot stops it first and drops its key set.
	e.admin(http.MethodPost, path+"/start", nil, http.StatusAccepted)
	e.rig.WaitState(&botrelay.Bot{ID: b.ID}, botrelay.BotOnline, 15*time.Second)
	e.admin(http.MethodDelete, path, nil, http.StatusNoContent)
	if s := e.rig.Relay.State(b.ID); s != botrelay.BotOffline {
		t.Errorf("deleted bot is %s", s)
	}
	e.admin(http.MethodGet, path, nil, http.StatusNotFound)
	var keys []apiKeyJSON
	e.admin(http.MethodGet, fmt.Sprintf("/api/v1/users/%d/apikeys", b.UserID), nil, http.StatusOK).decode(t, &keys)
	if len(keys) != 1 { // the one made with the user; the bot's is gone
		t.Errorf("keys after delete: %+v", keys)
	}
}

// TestNoPrivilegeEscalation gives a custom profile user and profile
// management without bot rights, and checks that it cannot hand out, or
// take over, rights it lacks.
func TestNoPrivilegeEscalation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	prof := &botrelay.Profile{AccountID: testrig.Account, Name: "User admin", Role: botrelay.RoleAdmin,
		Permissions: []botrelay.Permission{botrelay.PermUserView, botrelay.PermUserManage, botrelay.PermProfView, botrelay.PermProfEdit}}
	if err := e.rig.Store.CreateProfile(ctx, prof); err != nil {
		t.Fatal(err)
	}
	u := &botrelay.User{AccountID: testrig.Account, Type: botrelay.UserHuman, LoginName: "useradmin", ProfileID: prof.ID, Enabled: true}
	if err := e.rig.Store.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	tok := e.newToken(u.ID, "t")
	admin := e.users["Admin"]
	for name, c := range map[string]struct {
		method, path string
		body         any
		want         int
	}{
		"create an admin":         {http.MethodPost, "/api/v1/users", map[string]any{"type": "HUMAN", "loginName": "evil", "profileId": e.profileID("Admin")}, 403},
		"promote itself":          {http.MethodPut, fmt.Sprintf("/api/v1/users/%d", u.ID), map[string]any{"loginName": "useradmin", "profileId": e.profileID("Admin")}, 403},
		"reset the admin":         {http.MethodPost, fmt.Sprintf("/api/v1/users/%d/password", admin.ID), map[string]any{}, 403},
		"delete the admin":        {http.MethodDelete, fmt.Sprintf("/api/v1/users/%d", admin.ID), nil, 403},
		"grant bot:create":        {http.MethodPost, "/api/v1/profiles", map[string]any{"name": "p1", "role": "AGENT", "permissions": []string{"bot:create"}}, 403},
		"widen its own profile":   {http.MethodPut, fmt.Sprintf("/api/v1/profiles/%d", prof.ID), map[string]any{"name": "User admin", "role": "ADMIN", "permissions": []string{"bot:start", "user:manage"}}, 403},
		"grant what it has":       {http.MethodPost, "/api/v1/profiles", map[string]any{"name": "viewer", "role": "AGENT", "permissions": []string{"user:view"}}, 201},
		"create an agent it owns": {http.MethodPost, "/api/v1/users", map[string]any{"type": "HUMAN", "loginName": "helper", "profileId": prof.ID}, 201},
	} {
		t.Run(name, func(t *testing.T) {
			if r := e.do(nil, c.method, c.path, tok, c.body); r.status != c.want {
				t.Errorf("status %d, want %d: %s", r.status, c.want, r.body)
			}
		})
	}
}
