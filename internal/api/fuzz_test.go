package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/limits"
)

// FuzzRESTBody sends arbitrary JSON bodies to the routes that read one
// (login, users, bots, skills, profiles, passwords) over real HTTP as the
// admin, and checks what a client sees: never a 500, always JSON, every
// failure the {"error":{"code","message"}} body with the code of its
// status, and every answer as the OpenAPI document describes it.
//
//	go test -run '^$' -fuzz '^FuzzRESTBody$' -fuzztime 15s ./internal/api
func FuzzRESTBody(f *testing.F) {
	e := newEnvWith(f, func(o *Options) {
		// Guessing limits out of the way, so every login body reaches the
		// password check.
		o.Logins = limits.NewLogins(limits.LoginConfig{PairFailures: 1 << 20, NameFailures: 1 << 20, AddressFailures: 1 << 20}, nil)
	})
	human := e.newHuman()
	bot := e.newBot("k-fuzz")
	skill := e.newSkill()
	routes := []struct{ method, path string }{
		{http.MethodPost, "/api/v1/login"},
		{http.MethodPost, "/api/v1/users"},
		{http.MethodPut, fmt.Sprintf("/api/v1/users/%d", human)},
		{http.MethodPost, fmt.Sprintf("/api/v1/users/%d/password", human)},
		{http.MethodPost, "/api/v1/bots"},
		{http.MethodPut, "/api/v1/bots/" + string(bot.ID)},
		{http.MethodPost, "/api/v1/skills"},
		{http.MethodPut, fmt.Sprintf("/api/v1/skills/%d", skill)},
		{http.MethodPost, "/api/v1/profiles"},
		{http.MethodPost, "/api/v1/tokens"},
	}
	seed := func(route int, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(route), b)
	}
	seed(0, map[string]string{"loginName": "agent", "password": testPassword})
	seed(0, map[string]string{"loginName": "agent", "password": "wrong"})
	seed(1, map[string]any{"type": "HUMAN", "loginName": "fuzzed", "profileId": e.profileID("Agent"), "password": testPassword})
	seed(1, map[string]any{"type": "BOT", "loginName": "fuzzbot", "profileId": e.profileID("Agent"), "skillIds": []botrelay.SkillID{e.rig.Skills["bot"]}})
	seed(2, map[string]any{"loginName": "renamed", "profileId": e.profileID("Agent"), "enabled": true, "nickname": "N", "chatSlots": 2})
	seed(3, map[string]any{"password": "a new password"})
	seed(3, map[string]any{})
	seed(4, e.botBody(e.newBotUser(), "k-seed"))
	seed(5, map[string]any{"name": "renamed bot", "settings": map[string]any{"vendor": map[string]any{"greeting": "hi"}}})
	seed(6, map[string]any{"name": "fuzz skill", "description": "d", "postSurvey": true})
	seed(7, map[string]any{"name": "fuzz skill 2"})
	seed(8, map[string]any{"name": "fuzz profile", "role": "AGENT", "permissions": []string{"bot:view"}})
	seed(9, map[string]any{"description": "ci"})
	for i := range routes {
		f.Add(uint8(i), []byte(`{"a":[1,{"b":null}],"c":"\u0000"}`))
		f.Add(uint8(i), []byte(`[]`))
	}
	admin := e.tokens["Admin"]
	client := e.srv.Client()
	client.Timeout = 10 * time.Second // a hang fails the input instead of stalling the fuzzer

	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		rt := routes[int(route)%len(routes)]
		req, err := http.NewRequest(rt.method, e.srv.URL+rt.path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+admin)
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode >= 500 && res.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("%s %s %q: %d %s", rt.method, rt.path, body, res.StatusCode, raw)
		}
		if res.StatusCode >= 400 {
			var eb errorBody
			if err := json.Unmarshal(raw, &eb); err != nil || eb.Error.Message == "" || errorStatus(eb.Error.Code) != res.StatusCode {
				t.Fatalf("%s %s %q: %d with a body that is not the error body of that status: %s", rt.method, rt.path, body, res.StatusCode, raw)
			}
		} else if len(raw) > 0 && !json.Valid(raw) {
			t.Fatalf("%s %s %q: %d with a body that is not JSON: %s", rt.method, rt.path, body, res.StatusCode, raw)
		}
		if err := e.spec.check(req, res.StatusCode, raw); err != nil {
			t.Fatal(err)
		}
	})
}
