package api

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/all"
	"github.com/botrelay/botrelay/internal/sealed"
	"github.com/botrelay/botrelay/internal/testrig"
)

// listener is an HTTP server (HTTP/1.1 and cleartext HTTP/2, so gRPC
// clients reach it too) that records every request it gets, as an attacker's
// server would.
type listener struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []string // each request: method, URL, headers and body
}

func newListener(t *testing.T) *listener {
	l := &listener{}
	l.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s %s\n", r.Method, r.URL.String(), r.Host)
		for k, vs := range r.Header {
			fmt.Fprintf(&b, "%s: %s\n", k, strings.Join(vs, ", "))
		}
		b.WriteString("\n")
		b.Write(body)
		l.mu.Lock()
		l.reqs = append(l.reqs, b.String())
		l.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"nope"}`))
	}))
	l.srv.Config.Protocols = new(http.Protocols)
	l.srv.Config.Protocols.SetHTTP1(true)
	l.srv.Config.Protocols.SetUnencryptedHTTP2(true)
	l.srv.Start()
	t.Cleanup(l.srv.Close)
	return l
}

func (l *listener) host() string { return strings.TrimPrefix(l.srv.URL, "http://") }

// take returns and forgets the recorded requests.
func (l *listener) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.reqs
	l.reqs = nil
	return out
}

var base64Run = regexp.MustCompile(`[A-Za-z0-9+/_=-]{8,}`)

// leaks returns the needles found in a recorded request, looking at the
// request as received and at every run of base64 in it decoded (Basic
// auth, JWT segments, encoded bodies).
func leaks(req string, needles []string) []string {
	texts := []string{req}
	for _, run := range base64Run.FindAllString(req, -1) {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
			if d, err := enc.DecodeString(strings.TrimRight(run, "=")); err == nil {
				texts = append(texts, string(d))
			} else if d, err := enc.DecodeString(run); err == nil {
				texts = append(texts, string(d))
			}
		}
	}
	if u, err := url.QueryUnescape(req); err == nil {
		texts = append(texts, u)
	}
	var found []string
	for _, n := range needles {
		forms := []string{n, base64.StdEncoding.EncodeToString([]byte(n)), base64.RawURLEncoding.EncodeToString([]byte(n)),
			url.QueryEscape(n)}
		for _, text := range texts {
			if slices.ContainsFunc(forms, func(f string) bool { return strings.Contains(text, f) }) {
				found = append(found, n)
				break
			}
		}
	}
	return found
}

// secretNeedles are the strings that must never reach another endpoint:
// every stored secret of the bot (vendor secrets and the bot user's API key
// set) and, for multi-line secrets such as PEM keys, each long line.
func secretNeedles(t *testing.T, e *env, id botrelay.BotID) []string {
	t.Helper()
	b, err := e.rig.Store.Bot(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	sec, err := sealed.Open(e.rig.Box, b)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	add := func(s string) {
		if len(s) >= 8 {
			out = append(out, s)
		}
		for line := range strings.SplitSeq(s, "\n") {
			if line = strings.TrimSpace(line); len(line) >= 16 && !strings.HasPrefix(line, "-----") && line != s {
				out = append(out, line)
			}
		}
	}
	for _, v := range sec.Vendor {
		switch v := v.(type) {
		case string:
			add(v)
		default:
			raw, _ := json.Marshal(v)
			add(string(raw))
		}
	}
	for _, s := range []string{sec.APIKey.AppKey, sec.APIKey.Secret, sec.APIKey.AccessToken, sec.APIKey.AccessTokenSecret} {
		add(s)
	}
	if len(out) == 0 {
		t.Fatalf("bot %s has no stored secrets to look for", id)
	}
	return out
}

func pemKey(t *testing.T) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// endpointCase is one vendor in the endpoint test.
type endpointCase struct {
	survey bool
	// settings are complete vendor settings, secrets included, whose
	// endpoint is the server at u (host is u without the scheme).
	settings func(u, host string, secret func(string) string) map[string]any
}

// endpointCases has a case for every built-in vendor with secrets; the test
// fails for a vendor that has none. The endpoint of each is the listener
// for the moved bot and the "legitimate" server for the original one.
func endpointCases(t *testing.T) map[string]endpointCase {
	key := pemKey(t)
	return map[string]endpointCase{
		"custom_endpoint": {settings: func(u, _ string, s func(string) string) map[string]any {
			return map[string]any{"baseUrl": u, "botId": "bot-1", "clientId": "client-1", "clientSecret": s("ce"),
				"tokenUrl": u + "/token", "environment": "draft"}
		}},
		"watson_v1": {settings: func(u, _ string, s func(string) string) map[string]any {
			return map[string]any{"workspaceUrl": u, "workspaceId": "ws-1", "apiKey": s("w1"), "tokenEndpointUrl": u + "/identity/token"}
		}},
		"watson_v2": {settings: func(u, _ string, s func(string) string) map[string]any {
			return map[string]any{"url": u, "assistantId": "as-1", "apiKey": s("w2"), "tokenEndpointUrl": u + "/identity/token"}
		}},
		"lex_v1": {settings: func(u, _ string, s func(string) string) map[string]any {
			return map[string]any{"region": "us-east-1", "accessKeyId": "AKIAIOSFODNN7EXAMPLE", "secretAccessKey": s("l1"),
				"sessionToken": s("l1t"), "endpoint": u, "botName": "OrderBot", "botAlias": "prod"}
		}},
		"lex_v2": {settings: func(u, _ string, s func(string) string) map[string]any {
			return map[string]any{"region": "us-east-1", "accessKeyId": "AKIAIOSFODNN7EXAMPLE", "secretAccessKey": s("l2"),
				"sessionToken": s("l2t"), "endpoint": u, "botId": "ABCDEFGHIJ", "botAliasId": "TSTALIASID", "localeId": "en_US"}
		}},
		"dialogflow_es": {settings: func(_, host string, _ func(string) string) map[string]any {
			return map[string]any{"languageCode": "en-US", "projectId": "proj-one", "clientEmail": "bot@proj-one.iam.gserviceaccount.com",
				"privateKey": key, "serviceLocation": host, "location": "europe-west1", "environment": "draft"}
		}},
		"dialogflow_cx": {settings: func(_, host string, _ func(string) string) map[string]any {
			return map[string]any{"languageCode": "en", "projectId": "proj-one", "clientEmail": "bot@proj-one.iam.gserviceaccount.com",
				"privateKey": key, "serviceLocation": host, "location": "europe-west1", "agentId": "agent-1", "environmentId": "env-1"}
		}},
		"directline": {settings: func(u, _ string, s func(string) string) map[string]any {
			return map[string]any{"secret": s("dl"), "endpoint": u + "/v3/directline", "polling": true}
		}},
		"ebot7": {settings: func(u, _ string, s func(string) string) map[string]any {
			return map[string]any{"appKey": "xapp-" + s("e7"), "botId": "bot-1", "baseUrl": u}
		}},
		"rasa": {settings: func(u, _ string, s func(string) string) map[string]any {
			return map[string]any{"baseUrl": u, "token": s("ra")}
		}},
		"openai": {settings: func(u, _ string, s func(string) string) map[string]any {
			return map[string]any{"baseUrl": u, "model": "small", "apiKey": s("oa")}
		}},
		"medallia": {survey: true, settings: func(u, _ string, s func(string) string) map[string]any {
			return map[string]any{"baseUrl": u, "clientId": "client-1", "clientSecret": s("md"), "surveyAppId": "app-1",
				"tokenUrl": u + "/oauth/token"}
		}},
	}
}

// TestEveryVendorDeclaresItsEndpoint: a vendor with secrets must say which
// settings decide where its calls go, or its secrets could be redirected.
func TestEveryVendorDeclaresItsEndpoint(t *testing.T) {
	for _, c := range all.Connectors() {
		info := c.Info()
		if len(info.Secrets) > 0 && len(info.Endpoint) == 0 {
			t.Errorf("vendor %s has secrets %v but declares no endpoint settings (VendorInfo.Endpoint)", info.ID, info.Secrets)
		}
		for _, k := range info.Endpoint {
			if slices.Contains(info.Secrets, k) {
				t.Errorf("vendor %s: %q is both a secret and an endpoint setting", info.ID, k)
			}
		}
	}
	// The registry refuses such a vendor outright.
	defer func() {
		if recover() == nil {
			t.Error("RegisterVendor accepted a vendor with secrets and no endpoint settings")
		}
	}()
	botrelay.NewRegistry().RegisterVendor(noEndpointVendor{})
}

type noEndpointVendor struct{ fakeVendor }

func (noEndpointVendor) Info() botrelay.VendorInfo {
	return botrelay.VendorInfo{ID: "no_endpoint", Secrets: []string{"apiKey"}}
}

// TestMovedEndpointGetsNoSecret is issue 14's attack on every vendor: an
// Agent-profile user (bot:edit) points each endpoint setting of a bot, in
// turn and all at once, at a listener and runs the connection test and the
// conversation tester. The listener must never receive a stored credential
// in any form; the edit is refused unless the secrets are given again, and
// secrets given again are the only ones that travel.
func TestMovedEndpointGetsNoSecret(t *testing.T) {
	e := newEnv(t, all.Connectors()...)
	cases := endpointCases(t)
	legit := newListener(t) // where the bots' owner pointed them
	attacker := newListener(t)
	agent := e.tokens["Agent"]
	if !e.hasPerm(e.users["Agent"], botrelay.PermBotEdit) {
		t.Fatal("the built-in Agent profile lacks bot:edit; the test would prove nothing")
	}

	for _, conn := range all.Connectors() {
		info := conn.Info()
		if len(info.Secrets) == 0 {
			continue
		}
		c, ok := cases[info.ID]
		if !ok {
			t.Errorf("vendor %s has secrets but no case in endpointCases: add one", info.ID)
			continue
		}
		t.Run(info.ID, func(t *testing.T) {
			secret := func(name string) string { return "stored-" + name + "-" + strings.Repeat("k", 12) }
			orig := c.settings(legit.srv.URL, legit.host(), secret)
			moved := c.settings(attacker.srv.URL, attacker.host(), func(name string) string { return "fresh-" + name + "-zzzzzzzz" })
			if info.ID == "dialogflow_es" || info.ID == "dialogflow_cx" {
				moved["privateKey"] = pemKey(t)
			}
			for _, k := range info.Endpoint {
				if _, ok := orig[k]; !ok {
					t.Fatalf("the case of %s does not set endpoint setting %s", info.ID, k)
				}
				if orig[k] == moved[k] {
					// Not a URL: any other value is a move.
					moved[k] = otherValue(k, orig[k])
				}
			}
			typ := "AGENT"
			if c.survey {
				typ = "SURVEY"
			}
			var b botJSON
			r := e.do(nil, http.MethodPost, "/api/v1/bots", e.tokens["Admin"], map[string]any{"name": e.unique(info.ID), "type": typ,
				"vendor": info.ID, "userId": e.newBotUser(), "settings": map[string]any{"vendor": orig,
					"errorHandling": map[string]any{"escalationSkill": "human"}}})
			if r.status != http.StatusCreated {
				t.Fatalf("create: %d %s", r.status, r.body)
			}
			r.decode(t, &b)
			id := string(b.ID)
			needles := secretNeedles(t, e, b.ID)
			attacker.take()

			// run is what the attacker does after an edit: the connection
			// test and a tester turn, whatever they answer.
			run := func() {
				e.do(nil, http.MethodPost, "/api/v1/bots/"+id+"/test", agent, nil)
				if !c.survey {
					e.do(nil, http.MethodPost, "/api/v1/bots/"+id+"/converse", agent, map[string]any{"text": "hi"})
				}
			}
			check := func(step string) {
				t.Helper()
				for _, req := range attacker.take() {
					if found := leaks(req, needles); len(found) > 0 {
						t.Errorf("%s: the listener received stored secrets %q in:\n%s", step, found, req)
					}
				}
			}
			plainOf := func() map[string]any {
				var cur botJSON
				r := e.do(nil, http.MethodGet, "/api/v1/bots/"+id, agent, nil)
				if r.status != http.StatusOK {
					t.Fatalf("GET bot as Agent: %d %s", r.status, r.body)
				}
				r.decode(t, &cur)
				m := map[string]any{}
				if err := json.Unmarshal(cur.Settings.Vendor, &m); err != nil {
					t.Fatal(err)
				}
				return m
			}
			put := func(vendor map[string]any) resp {
				return e.do(nil, http.MethodPut, "/api/v1/bots/"+id, agent, map[string]any{"name": b.Name,
					"settings": map[string]any{"vendor": vendor, "errorHandling": map[string]any{"escalationSkill": "human"}}})
			}
			stored := slices.Sorted(maps.Keys(secretKeysOf(info, orig)))

			// Each endpoint setting alone, then all of them: refused while
			// the stored secrets would follow.
			steps := append(slices.Clone(info.Endpoint), "all")
			for _, step := range steps {
				v := plainOf()
				changed := []string{step}
				if step == "all" {
					changed = slices.Sorted(slices.Values(info.Endpoint))
					for _, k := range info.Endpoint {
						v[k] = moved[k]
					}
				} else {
					v[step] = moved[step]
				}
				r := put(v)
				want := fmt.Sprintf(`{"error":{"code":"invalid","message":"settings.vendor: changing %s changes where the vendor calls go; `+
					`send the secret settings %s again (or set them to null to remove them)"}}`,
					strings.Join(changed, ", "), strings.Join(stored, ", "))
				if r.status != http.StatusBadRequest || strings.TrimSpace(string(r.body)) != want {
					t.Errorf("moving %s without the secrets: %d %s\nwant 400 %s", step, r.status, r.body, want)
				}
				got := plainOf()
				for _, k := range changed {
					if fmt.Sprint(got[k]) != fmt.Sprint(orig[k]) {
						t.Errorf("moving %s was refused but the stored %s is now %v", step, k, got[k])
					}
				}
				run()
				check("after moving " + step)
			}

			// The settings changed behind the API's back (say, in the
			// database): the sealed secrets were bound to the old endpoint,
			// so neither the test nor the tester uses them.
			sb, err := e.rig.Store.Bot(context.Background(), b.ID)
			if err != nil {
				t.Fatal(err)
			}
			tampered := plainOf()
			for _, k := range info.Endpoint {
				tampered[k] = moved[k]
			}
			sb.Settings.Vendor, _ = json.Marshal(tampered)
			if err := e.rig.Store.UpdateBot(context.Background(), sb); err != nil {
				t.Fatal(err)
			}
			var tr testResult
			e.do(nil, http.MethodPost, "/api/v1/bots/"+id+"/test", agent, nil).decode(t, &tr)
			if tr.OK || !strings.Contains(tr.Error, "the stored vendor secrets were saved for other values of") {
				t.Errorf("connection test with tampered endpoint settings = %+v, want the binding refusal", tr)
			}
			run()
			check("after the stored settings were changed directly")
			sb.Settings.Vendor = b.Settings.Vendor
			if err := e.rig.Store.UpdateBot(context.Background(), sb); err != nil {
				t.Fatal(err)
			}

			// Moving with fresh secrets is allowed: the listener now gets
			// calls (so it was reachable all along), and only the fresh
			// secrets.
			v := plainOf()
			for _, k := range info.Endpoint {
				v[k] = moved[k]
			}
			maps.Copy(v, secretKeysOf(info, moved))
			if r := put(v); r.status != http.StatusOK {
				t.Fatalf("moving with fresh secrets: %d %s", r.status, r.body)
			}
			run()
			reqs := attacker.take()
			if len(reqs) == 0 {
				t.Errorf("the moved bot never called the listener; the refusals above prove nothing")
			}
			for _, req := range reqs {
				if found := leaks(req, needles); len(found) > 0 {
					t.Errorf("moved with fresh secrets: the listener received the old secrets %q in:\n%s", found, req)
				}
			}
		})
	}
}

// secretKeysOf returns the secret settings of settings.
func secretKeysOf(info botrelay.VendorInfo, settings map[string]any) map[string]any {
	out := map[string]any{}
	for _, k := range info.Secrets {
		if v, ok := settings[k]; ok {
			out[k] = v
		}
	}
	return out
}

// otherValue is a valid different value for an endpoint setting that is
// not a URL (ids, regions).
func otherValue(key string, v any) any {
	switch key {
	case "region":
		return "eu-west-1"
	case "location":
		if v == "europe-west1" {
			return "us-central1"
		}
		return "europe-west1"
	case "botId":
		if s, _ := v.(string); len(s) == 10 {
			return "KLMNOPQRST"
		}
		return "bot-2"
	case "botAliasId":
		return "ALIAS00002"
	case "projectId":
		return "proj-two"
	case "botName":
		return "OtherBot"
	case "botAlias":
		return "beta"
	}
	s, _ := v.(string)
	return s + "-2"
}

// TestPlatformMoveNeedsBotCreate: a bot logs in to its platform with its
// API key set, so pointing settings.platform elsewhere is refused to a
// user with bot:edit alone (the Agent profile), and a platform changed
// behind the API's back gets no login with the sealed key set.
func TestPlatformMoveNeedsBotCreate(t *testing.T) {
	e := newEnv(t)
	attacker := newListener(t)
	b := e.newBot("platform-key-1")
	id := string(b.ID)
	body := func(platform map[string]any) map[string]any {
		return map[string]any{"name": b.Name, "settings": map[string]any{"vendor": map[string]any{"greeting": "hello"},
			"errorHandling": map[string]any{"escalationSkill": "human"}, "platform": platform}}
	}
	evil := map[string]any{"account": "666", "csdsDomain": attacker.srv.URL}
	r := e.do(nil, http.MethodPut, "/api/v1/bots/"+id, e.tokens["Agent"], body(evil))
	want := `{"error":{"code":"forbidden","message":"changing settings.platform sends the bot's API key set to another platform, which needs the bot:create permission"}}`
	if r.status != http.StatusForbidden || strings.TrimSpace(string(r.body)) != want {
		t.Errorf("Agent moving the platform: %d %s, want 403 %s", r.status, r.body, want)
	}
	// Other edits by the Agent still work.
	if r := e.do(nil, http.MethodPut, "/api/v1/bots/"+id, e.tokens["Agent"], body(nil)); r.status != http.StatusOK {
		t.Errorf("Agent editing without moving the platform: %d %s", r.status, r.body)
	}

	// The stored platform changed directly: the start refuses to log in.
	needles := secretNeedles(t, e, b.ID)
	sb, err := e.rig.Store.Bot(context.Background(), b.ID)
	if err != nil {
		t.Fatal(err)
	}
	sb.Settings.Platform = botrelay.PlatformSettings{Account: "666", CSDSDomain: attacker.srv.URL}
	if err := e.rig.Store.UpdateBot(context.Background(), sb); err != nil {
		t.Fatal(err)
	}
	e.admin(http.MethodPost, "/api/v1/bots/"+id+"/start", nil, http.StatusAccepted)
	testrig.Eventually(t, 20*time.Second, "the start refused for the platform binding", func() bool {
		var st statusJSON
		e.admin(http.MethodGet, "/api/v1/bots/"+id+"/status", nil, http.StatusOK).decode(t, &st)
		for _, h := range st.History {
			if strings.Contains(h.Message, "stored for another platform") {
				return true
			}
		}
		return false
	})
	e.admin(http.MethodPost, "/api/v1/bots/"+id+"/stop", nil, http.StatusOK)
	for _, req := range attacker.take() {
		if found := leaks(req, needles); len(found) > 0 {
			t.Errorf("the foreign platform received the bot's key set %q in:\n%s", found, req)
		}
	}
}
