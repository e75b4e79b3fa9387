package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/sealed"
	"github.com/botrelay/botrelay/internal/testrig"
)

// GET /api/v1/skills/{id}/split lists the skill's bots with their weights
// and outcome counters, the share of the conversations each got and its
// containment.
func TestSkillSplit(t *testing.T) {
	e := newEnv(t)
	skill := e.newSkill()
	weighted := func(w int) botJSON {
		u := e.newBotUser()
		if err := e.rig.Store.UpdateUser(context.Background(), withSkill(t, e, u, skill)); err != nil {
			t.Fatal(err)
		}
		body := e.botBody(u, "k1")
		body["settings"].(map[string]any)["routing"] = map[string]any{"weight": w}
		var b botJSON
		e.admin(http.MethodPost, "/api/v1/bots", body, http.StatusCreated).decode(t, &b)
		return b
	}
	a, b := weighted(70), weighted(30)
	e.newBot("k2") // not on the skill and never on it: not listed
	ctx := context.Background()
	set := func(bot botrelay.BotID, n int, o botrelay.Outcome) {
		for i := range n {
			conv := botrelay.ConversationID(fmt.Sprintf("%s-%s-%d", bot, o, i))
			if err := e.rig.Store.SetOutcome(ctx, bot, conv, skill, o); err != nil {
				t.Fatal(err)
			}
		}
	}
	set(a.ID, 5, botrelay.OutcomeClosed)
	set(a.ID, 2, botrelay.OutcomeTransferred)
	set(a.ID, 1, botrelay.OutcomeOpen)
	set(b.ID, 1, botrelay.OutcomeEscalated)
	set(b.ID, 1, botrelay.OutcomeHandedBack)

	var got splitJSON
	e.admin(http.MethodGet, fmt.Sprintf("/api/v1/skills/%d/split", skill), nil, http.StatusOK).decode(t, &got)
	raw, _ := json.Marshal(got)
	want := fmt.Sprintf(`{"skillId":%d,"skill":%q,"bots":[`+
		`{"botId":%q,"name":%q,"weight":70,"state":"OFFLINE","onSkill":true,"assigned":8,"share":80,"open":1,"closed":5,"transferred":2,"escalated":0,"handedBack":0,"containment":71.4},`+
		`{"botId":%q,"name":%q,"weight":30,"state":"OFFLINE","onSkill":true,"assigned":2,"share":20,"open":0,"closed":0,"transferred":0,"escalated":1,"handedBack":1,"containment":0}]}`,
		skill, got.Skill, a.ID, a.Name, b.ID, b.Name)
	if string(raw) != want {
		t.Fatalf("split:\n got  %s\n want %s", raw, want)
	}
	wantError(t, e.admin(http.MethodGet, "/api/v1/skills/99999/split", nil, http.StatusNotFound), http.StatusNotFound, "not_found", "skill 99999 not found")
}

func withSkill(t *testing.T, e *env, id botrelay.UserID, skill botrelay.SkillID) *botrelay.User {
	u, err := e.rig.Store.User(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	u.SkillIDs = append(u.SkillIDs, skill)
	return u
}

// settings.routing is checked: each mistake is a 400 that says what is
// wrong.
func TestRoutingSettingsValidation(t *testing.T) {
	e := newEnv(t)
	other := e.newBot("k1")
	for _, tc := range []struct {
		routing map[string]any
		says    string
	}{
		{map[string]any{"weight": -1}, "settings.routing.weight must be 0 or more"},
		{map[string]any{"fallback": map[string]any{"botId": "nope"}}, `settings.routing.fallback.botId: "nope" is not another bot`},
		{map[string]any{"fallback": map[string]any{"botId": string(other.ID), "vendor": "fake"}}, "give botId or vendor with settings, not both"},
		{map[string]any{"fallback": map[string]any{"vendor": "nope"}}, `settings.routing.fallback.vendor: "nope" is not a vendor`},
		{map[string]any{"fallback": map[string]any{"vendor": "fake", "settings": map[string]any{"greeting": "x"}}}, "settings.routing.fallback: apiKey is required"},
	} {
		body := e.botBody(e.newBotUser(), "k1")
		body["settings"].(map[string]any)["routing"] = tc.routing
		wantError(t, e.admin(http.MethodPost, "/api/v1/bots", body, http.StatusBadRequest), http.StatusBadRequest, "invalid", tc.says)
	}
}

// A fallback vendor's secret settings are sealed with the bot's secrets,
// never shown, kept by an edit that does not give them, and must be given
// again when its endpoint changes.
func TestFallbackSecretsAreSealed(t *testing.T) {
	e := newEnv(t)
	const secret = "fallback-secret-7731"
	body := e.botBody(e.newBotUser(), "k1")
	fallback := map[string]any{"vendor": "fake", "settings": map[string]any{"greeting": "hi", "host": "a.example", "apiKey": secret}}
	body["settings"].(map[string]any)["routing"] = map[string]any{"fallback": fallback}
	r := e.admin(http.MethodPost, "/api/v1/bots", body, http.StatusCreated)
	if strings.Contains(string(r.body), secret) {
		t.Fatalf("the fallback's secret is in the response: %s", r.body)
	}
	var b botJSON
	r.decode(t, &b)
	opened := func() *sealed.Secrets {
		stored, err := e.rig.Store.Bot(context.Background(), b.ID)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(stored.Settings.Routing.Fallback.Settings), secret) {
			t.Fatalf("the fallback's secret is stored in the settings: %s", stored.Settings.Routing.Fallback.Settings)
		}
		sec, err := sealed.Open(e.rig.Box, stored)
		if err != nil {
			t.Fatal(err)
		}
		return sec
	}
	if sec := opened(); sec.Fallback["apiKey"] != secret || sec.FallbackEndpoint["host"] != `"a.example"` {
		t.Fatalf("sealed fallback = %v %v", sec.Fallback, sec.FallbackEndpoint)
	}
	// An edit without the secret keeps it.
	edit := map[string]any{"name": "renamed", "settings": map[string]any{"vendor": map[string]any{"greeting": "hello"},
		"errorHandling": map[string]any{"escalationSkill": "human"},
		"routing":       map[string]any{"fallback": map[string]any{"vendor": "fake", "settings": map[string]any{"greeting": "yo", "host": "a.example"}}}}}
	e.admin(http.MethodPut, "/api/v1/bots/"+string(b.ID), edit, http.StatusOK)
	if sec := opened(); sec.Fallback["apiKey"] != secret {
		t.Fatalf("the edit lost the fallback's secret: %v", sec.Fallback)
	}
	// Another host without the secret: refused.
	edit["settings"].(map[string]any)["routing"] = map[string]any{"fallback": map[string]any{"vendor": "fake", "settings": map[string]any{"host": "evil.example"}}}
	wantError(t, e.admin(http.MethodPut, "/api/v1/bots/"+string(b.ID), edit, http.StatusBadRequest), http.StatusBadRequest, "invalid",
		"changing host changes where the fallback's calls go; send the secret settings apiKey again")
	if sec := opened(); sec.FallbackEndpoint["host"] != `"a.example"` {
		t.Fatalf("a refused edit moved the fallback: %v", sec.FallbackEndpoint)
	}
}

// tokenVendor is a vendor whose secret setting token must reach it: it
// answers "fallback says <text>" when its token is the one given at
// creation, and refuses to be built without one.
type tokenVendor struct{ want string }

func (tokenVendor) Info() botrelay.VendorInfo {
	return botrelay.VendorInfo{ID: "tokened", DisplayName: "Tokened", Secrets: []string{"token"}, Endpoint: []string{"url"}}
}

func (v tokenVendor) NewBot(cfg json.RawMessage, _ botrelay.BotEnv) (botrelay.VendorBot, error) {
	var s struct{ URL, Token string }
	if err := json.Unmarshal(cfg, &s); err != nil || s.Token == "" {
		return nil, botrelay.Errorf(botrelay.EINVALID, "token is required")
	}
	return tokenBot{ok: s.Token == v.want}, nil
}

type tokenBot struct{ ok bool }

func (b tokenBot) Converse(_ context.Context, t *botrelay.Turn) (*botrelay.Reply, error) {
	if !b.ok {
		return nil, botrelay.NewVendorError(botrelay.ErrVendorAuth, "tokened.auth", "wrong token")
	}
	return &botrelay.Reply{Items: []botrelay.Item{{Message: &botrelay.Message{Text: "fallback says " + t.Text}}}}, nil
}

// A bot made through the API with a fallback of its own (vendor, settings
// and a secret) starts in Vendor Interruption — its own vendor's health
// check fails — and the fallback, built with the sealed secret, answers
// the consumer instead of an escalation.
func TestFallbackOfItsOwnAnswers(t *testing.T) {
	const secret = "tokened-secret-5521"
	e := newEnv(t, tokenVendor{want: secret})
	body := e.botBody(e.newBotUser(), "bad") // its health check fails
	body["settings"].(map[string]any)["routing"] = map[string]any{"fallback": map[string]any{
		"vendor": "tokened", "settings": map[string]any{"url": "https://fallback.example", "token": secret}}}
	var b botJSON
	e.admin(http.MethodPost, "/api/v1/bots", body, http.StatusCreated).decode(t, &b)
	e.admin(http.MethodPost, "/api/v1/bots/"+string(b.ID)+"/start", nil, http.StatusAccepted)
	e.rig.WaitState(&botrelay.Bot{ID: b.ID}, botrelay.BotVendorInterruption, 15*time.Second)
	c := testrig.NewConsumer(t, e.rig.URL, "1000")
	c.Open("bot")
	c.Say("hello")
	c.WaitTexts(15*time.Second, "fallback says hello")
	if errs := e.rig.Errors(&botrelay.Bot{ID: b.ID}); len(errs) != 0 {
		t.Fatalf("errors = %v, want none", errs)
	}
}

// When the fallback fails too, the conversation escalates, with the
// fallback's error code in the log.
func TestFallbackFailingTooEscalates(t *testing.T) {
	e := newEnv(t, tokenVendor{want: "the-right-token-0"})
	body := e.botBody(e.newBotUser(), "bad")
	body["settings"].(map[string]any)["routing"] = map[string]any{"fallback": map[string]any{
		"vendor": "tokened", "settings": map[string]any{"url": "https://fallback.example", "token": "a-wrong-token-1"}}}
	var b botJSON
	e.admin(http.MethodPost, "/api/v1/bots", body, http.StatusCreated).decode(t, &b)
	e.admin(http.MethodPost, "/api/v1/bots/"+string(b.ID)+"/start", nil, http.StatusAccepted)
	bot := &botrelay.Bot{ID: b.ID}
	e.rig.WaitState(bot, botrelay.BotVendorInterruption, 15*time.Second)
	c := testrig.NewConsumer(t, e.rig.URL, "1000")
	c.Open("bot")
	c.Say("hello")
	e.rig.WaitSkill(c.ConvID, botrelay.SkillNameHuman, 15*time.Second)
	if errs := e.rig.Errors(bot); len(errs) != 1 || errs[0] != botrelay.ErrorCodePrefix+"tokened.auth" {
		t.Fatalf("errors = %v, want the fallback's tokened.auth", errs)
	}
}
