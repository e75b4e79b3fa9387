package api

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/function"
	"github.com/botrelay/botrelay/internal/relay"
	"github.com/botrelay/botrelay/internal/testrig"
)

// TestPublicAPIRequests checks the Public API's answers to every kind of
// bad request (spec §5): logins, bearers, the account, ttl bounds and each
// command's body, with the exact status and error code, every answer
// checked against openapi.json; none of them queues a command.
func TestPublicAPIRequests(t *testing.T) {
	e := newEnv(t, function.Connector{})
	var b botJSON
	e.admin(http.MethodPost, "/api/v1/bots", map[string]any{"name": "papi", "type": "AGENT", "vendor": "function",
		"userId": e.newBotUser(), "settings": map[string]any{"vendor": map[string]any{"code": `function lambda(input, cb) { cb(null, {messages: ["ok"]}); }`},
			"errorHandling": map[string]any{"escalationSkill": "human"}}}, http.StatusCreated).decode(t, &b)
	e.admin(http.MethodPost, "/api/v1/bots/"+string(b.ID)+"/start", nil, http.StatusAccepted)
	e.rig.WaitState(&botrelay.Bot{ID: b.ID}, botrelay.BotOnline, 15*time.Second)
	var user createdUserResponse
	e.admin(http.MethodPost, "/api/v1/users", map[string]any{"type": "BOT", "loginName": "crm", "profileId": e.profileID("Agent"),
		"password": testPassword}, http.StatusCreated).decode(t, &user)
	c := testrig.NewConsumer(t, e.rig.URL, string(testrig.Account))
	conv := c.Open("bot")
	c.Say("hi")
	c.WaitTexts(15*time.Second, "ok")

	const acct = "/api/v1/account/" + string(testrig.Account)
	k := user.APIKey
	creds := func(typ string, kv ...string) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return map[string]any{"authType": typ, "credentials": m}
	}
	for name, tc := range map[string]struct {
		path   string
		body   any
		status int
		code   string
	}{
		"lower-case authType": {acct + "/login", creds("user_pass", "username", "crm", "password", testPassword), 400, botrelay.EINVALID},
		"no password":         {acct + "/login", creds("USER_PASS", "username", "crm"), 400, botrelay.EINVALID},
		"unknown field":       {acct + "/login", map[string]any{"authType": "USER_PASS", "user": "crm"}, 400, botrelay.EINVALID},
		"wrong password":      {acct + "/login", creds("USER_PASS", "username", "crm", "password", "wrong horse"), 401, botrelay.EUNAUTHORIZED},
		"wrong secret": {acct + "/login", creds("API_KEY", "username", "crm", "appKey", k.AppKey, "secret", "nope",
			"accessToken", k.AccessToken, "accessTokenSecret", k.AccessTokenSecret), 401, botrelay.EUNAUTHORIZED},
		"another user's key": {acct + "/login", creds("API_KEY", "username", "agent", "appKey", k.AppKey, "secret", k.Secret,
			"accessToken", k.AccessToken, "accessTokenSecret", k.AccessTokenSecret), 401, botrelay.EUNAUTHORIZED},
		"no conversation permission": {acct + "/login", creds("USER_PASS", "username", "campaign-manager", "password", testPassword), 403, botrelay.EFORBIDDEN},
		"another account":            {"/api/v1/account/999/login", creds("USER_PASS", "username", "crm", "password", testPassword), 404, botrelay.ENOTFOUND},
	} {
		r := e.do(nil, http.MethodPost, tc.path, "", tc.body)
		if r.status != tc.status || errorCodeOf(t, r) != tc.code {
			t.Errorf("%s: %d %s, want %d %s", name, r.status, r.body, tc.status, tc.code)
		}
	}
	var login struct{ Bearer string }
	r := e.do(nil, http.MethodPost, acct+"/login?v=1.3", "", creds("API_KEY", "username", "crm", "appKey", k.AppKey, "secret", k.Secret,
		"accessToken", k.AccessToken, "accessTokenSecret", k.AccessTokenSecret))
	if r.status != http.StatusOK {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	r.decode(t, &login)

	path := acct + "/conversation/" + conv
	for name, token := range map[string]string{"no bearer": "", "a management token": e.tokens["Admin"], "garbage": "brt_nope"} {
		if r := e.do(nil, http.MethodGet, path+"/command", token, nil); r.status != http.StatusUnauthorized || errorCodeOf(t, r) != botrelay.EUNAUTHORIZED {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	big := map[string]any{"type": "text", "text": strings.Repeat("x", 15000)}
	for name, tc := range map[string]struct {
		path   string
		body   any
		status int
	}{
		"ttl too short":          {path + "/close?ttl=9", nil, 400},
		"ttl too long":           {path + "/close?ttl=121", nil, 400},
		"ttl not a number":       {path + "/close?ttl=soon", nil, 400},
		"close with a field":     {path + "/close", map[string]any{"reason": "x"}, 400},
		"no messages":            {path + "/messages", map[string]any{"messages": []any{}}, 400},
		"empty text":             {path + "/messages", map[string]any{"messages": []any{""}}, 400},
		"long delay":             {path + "/messages", map[string]any{"messages": []any{map[string]any{"delay": 61}}}, 400},
		"big structured content": {path + "/messages", map[string]any{"messages": []any{map[string]any{"structuredContent": big}}}, 400},
		"metadata not an array":  {path + "/messages", map[string]any{"messages": []any{map[string]any{"text": "a", "metadata": map[string]any{}}}}, 400},
		"unknown audience":       {path + "/messages", map[string]any{"messages": []any{map[string]any{"text": "a", "messageAudience": "ALL"}}}, 400},
		"text and card":          {path + "/messages", map[string]any{"messages": []any{map[string]any{"text": "a", "structuredContent": map[string]any{"type": "text"}}}}, 400},
		"context not an object":  {path + "/messages", map[string]any{"context": "x", "messages": []any{"a"}}, 400},
		"transfer without skill": {path + "/transfer", map[string]any{}, 400},
		"unknown ttr":            {path + "/ttr", map[string]any{"ttrType": "SOON"}, 400},
		"sdes without ids":       {path + "/sdes", map[string]any{"sdes": []any{map[string]any{"type": "personal"}}}, 400},
		"sdes empty":             {path + "/sdes", map[string]any{"sdes": []any{}, "sharkVisitorId": "v", "sharkSessionId": "s"}, 400},
		"unknown conversation":   {acct + "/conversation/nope/close", nil, 404},
		"another account":        {"/api/v1/account/999/conversation/" + conv + "/close", nil, 404},
	} {
		r := e.do(nil, http.MethodPost, tc.path, login.Bearer, tc.body)
		want := map[int]string{400: botrelay.EINVALID, 404: botrelay.ENOTFOUND}[tc.status]
		if r.status != tc.status || errorCodeOf(t, r) != want {
			t.Errorf("%s: %d %s, want %d", name, r.status, r.body, tc.status)
		}
	}
	if r := e.do(nil, http.MethodGet, path+"/command/12345", login.Bearer, nil); r.status != http.StatusNotFound {
		t.Errorf("unknown command: %d %s", r.status, r.body)
	}
	r = e.do(nil, http.MethodGet, path+"/command", login.Bearer, nil)
	if r.status != http.StatusOK || string(r.body) != "[]\n" {
		t.Fatalf("a rejected request queued a command: %d %s", r.status, r.body)
	}
	// A good one, for contrast: queued, and carried out.
	r = e.do(nil, http.MethodPost, path+"/messages?ttl=10", login.Bearer, map[string]any{"messages": []any{"from the CRM"}})
	if r.status != http.StatusOK {
		t.Fatalf("messages: %d %s", r.status, r.body)
	}
	c.WaitTexts(15*time.Second, "ok", "from the CRM")
	var queued struct{ CommandID string }
	r.decode(t, &queued)
	// Records, completed and failed, as openapi.json describes them (e.do
	// checks every answer against it).
	bad := e.do(nil, http.MethodPost, path+"/transfer", login.Bearer, map[string]any{"skill": "no-such-skill"})
	var failed struct{ CommandID string }
	bad.decode(t, &failed)
	for id, want := range map[string]string{queued.CommandID: "completed", failed.CommandID: "failed"} {
		var rec commandRecordJSON
		testrig.Eventually(t, 15*time.Second, "command "+id+" "+want, func() bool {
			e.do(nil, http.MethodGet, path+"/command/"+id, login.Bearer, nil).decode(t, &rec)
			return rec.State != "waiting"
		})
		if rec.State != want || rec.Result == nil || (want == "failed") != (rec.Result.Error != nil) {
			t.Errorf("command %s: %+v", id, rec)
		}
	}
	var list []commandRecordJSON
	e.do(nil, http.MethodGet, path+"/command", login.Bearer, nil).decode(t, &list)
	if len(list) != 2 || list[0].ID != queued.CommandID || list[1].Data.Type != "transfer" {
		t.Errorf("list: %+v", list)
	}
}

func errorCodeOf(t *testing.T, r resp) string {
	t.Helper()
	var e errorBody
	r.decode(t, &e)
	return e.Error.Code
}

// TestPublicAPIThroughAnotherNode: the node that takes the request need
// not run the bot. A second API, with a relay of its own that runs no bot
// (another node of a cluster, sharing the store), queues the command; the
// bot's relay finds it in the store by itself (no wake-up reaches it) and
// the consumer gets the message.
func TestPublicAPIThroughAnotherNode(t *testing.T) {
	e := newEnv(t, function.Connector{})
	var b botJSON
	e.admin(http.MethodPost, "/api/v1/bots", map[string]any{"name": "papi", "type": "AGENT", "vendor": "function",
		"userId": e.newBotUser(), "settings": map[string]any{"vendor": map[string]any{"code": `function lambda(input, cb) { cb(null, {messages: ["ok"]}); }`},
			"errorHandling": map[string]any{"escalationSkill": "human"}}}, http.StatusCreated).decode(t, &b)
	e.admin(http.MethodPost, "/api/v1/bots/"+string(b.ID)+"/start", nil, http.StatusAccepted)
	e.rig.WaitState(&botrelay.Bot{ID: b.ID}, botrelay.BotOnline, 15*time.Second)
	e.admin(http.MethodPost, "/api/v1/users", map[string]any{"type": "BOT", "loginName": "crm", "profileId": e.profileID("Agent"),
		"password": testPassword}, http.StatusCreated)
	c := testrig.NewConsumer(t, e.rig.URL, string(testrig.Account))
	conv := c.Open("bot")
	c.Say("hi")
	c.WaitTexts(15*time.Second, "ok")

	other := New(Options{Store: e.rig.Store, Box: e.rig.Box, Registry: e.rig.Registry, Account: testrig.Account, Logger: e.rig.Log,
		Relay: relay.New(relay.Options{Store: e.rig.Store, Registry: e.rig.Registry, Box: e.rig.Box, Logger: e.rig.Log})})
	mux := http.NewServeMux()
	other.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	post := func(path, bearer string, body any) resp {
		t.Helper()
		raw, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/account/"+string(testrig.Account)+path, bytes.NewReader(raw))
		req.Header.Set("Content-Type", "application/json")
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		out, _ := io.ReadAll(res.Body)
		return resp{status: res.StatusCode, body: out}
	}
	var login struct{ Bearer string }
	r := post("/login", "", map[string]any{"authType": "USER_PASS", "credentials": map[string]any{"username": "crm", "password": testPassword}})
	if r.status != http.StatusOK {
		t.Fatalf("login on the other node: %d %s", r.status, r.body)
	}
	r.decode(t, &login)
	if r := post("/conversation/"+conv+"/messages", login.Bearer, map[string]any{"messages": []any{"from the other node"}}); r.status != http.StatusOK {
		t.Fatalf("messages on the other node: %d %s", r.status, r.body)
	}
	c.WaitTexts(15*time.Second, "ok", "from the other node")
}
