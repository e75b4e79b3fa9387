package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/rasa"
)

// TestEditBotAsTheDashboardDoes edits a stopped Rasa bot the way the
// dashboard's edit form does (the whole settings back, secrets only when
// typed): an empty secret keeps the stored one, null removes it, and no
// response ever carries a secret's value.
func TestEditBotAsTheDashboardDoes(t *testing.T) {
	e := newEnv(t, rasa.Connector{})
	const secret = "rasa-token-0123456789"
	var b botJSON
	e.admin(http.MethodPost, "/api/v1/bots", map[string]any{"name": "rasa-1", "vendor": "rasa", "userId": e.newBotUser(),
		"settings": map[string]any{"vendor": map[string]any{"baseUrl": "http://127.0.0.1:5005", "token": secret},
			"errorHandling": map[string]any{"escalationSkill": "human"}}}, http.StatusCreated).decode(t, &b)
	if !slices.Contains(b.SecretsSet, "token") {
		t.Fatalf("secretsSet %v", b.SecretsSet)
	}
	path := "/api/v1/bots/" + string(b.ID)

	// The form: name, escalation skill and a non-secret vendor setting
	// change; the token field is left empty, so it is not sent.
	settings := b.Settings
	settings.ErrorHandling.EscalationSkill = "bot"
	settings.ErrorHandling.MessageToConsumer = "One moment."
	settings.Vendor = json.RawMessage(`{"baseUrl":"http://127.0.0.1:5005","welcomeMessage":"/hello"}`)
	var got botJSON
	e.admin(http.MethodPut, path, map[string]any{"name": "rasa-renamed", "userId": b.UserID, "settings": settings}, http.StatusOK).decode(t, &got)
	if got.Name != "rasa-renamed" || got.Settings.ErrorHandling.EscalationSkill != "bot" ||
		got.Settings.ErrorHandling.MessageToConsumer != "One moment." ||
		string(got.Settings.Vendor) != `{"baseUrl":"http://127.0.0.1:5005","welcomeMessage":"/hello"}` {
		t.Errorf("after edit: %+v", got)
	}
	if !slices.Contains(got.SecretsSet, "token") {
		t.Errorf("an empty secret field removed the secret: secretsSet %v", got.SecretsSet)
	}
	// The clear action sends null.
	settings.Vendor = json.RawMessage(`{"baseUrl":"http://127.0.0.1:5005","token":null}`)
	e.admin(http.MethodPut, path, map[string]any{"name": "rasa-renamed", "userId": b.UserID, "settings": settings}, http.StatusOK).decode(t, &got)
	if slices.Contains(got.SecretsSet, "token") || string(got.Settings.Vendor) != `{"baseUrl":"http://127.0.0.1:5005"}` {
		t.Errorf("after clear: secretsSet %v, vendor %s", got.SecretsSet, got.Settings.Vendor)
	}
	// A new value is taken and, again, not shown.
	settings.Vendor = json.RawMessage(`{"baseUrl":"http://127.0.0.1:5005","token":"another-secret-value-42"}`)
	e.admin(http.MethodPut, path, map[string]any{"name": "rasa-renamed", "userId": b.UserID, "settings": settings}, http.StatusOK).decode(t, &got)
	if !slices.Contains(got.SecretsSet, "token") {
		t.Errorf("after a new token: secretsSet %v", got.SecretsSet)
	}
	e.admin(http.MethodGet, path, nil, http.StatusOK)
	e.admin(http.MethodGet, "/api/v1/bots", nil, http.StatusOK)
	for _, body := range e.bodies {
		for _, s := range []string{secret, "another-secret-value-42"} {
			if strings.Contains(body, s) {
				t.Fatalf("a response carries a secret: %s", body)
			}
		}
	}
}

// TestEditRunningBotRefused: an edit of a started bot is 409 with a
// message that says what to do (F48), and changes nothing.
func TestEditRunningBotRefused(t *testing.T) {
	e := newEnv(t)
	b := e.newBot("k1")
	path := "/api/v1/bots/" + string(b.ID)
	e.admin(http.MethodPost, path+"/start", nil, http.StatusAccepted)
	e.rig.WaitState(&botrelay.Bot{ID: b.ID}, botrelay.BotOnline, 15*time.Second)
	var eb struct {
		Error struct{ Code, Message string }
	}
	e.admin(http.MethodPut, path, map[string]any{"name": "nope", "userId": b.UserID, "settings": b.Settings}, http.StatusConflict).decode(t, &eb)
	want := "bot " + string(b.ID) + " is ONLINE; stop it before editing it"
	if eb.Error.Code != botrelay.ECONFLICT || eb.Error.Message != want {
		t.Errorf("error %+v, want conflict %q", eb.Error, want)
	}
	var got botJSON
	e.admin(http.MethodGet, path, nil, http.StatusOK).decode(t, &got)
	if got.Name != b.Name {
		t.Errorf("refused edit changed the name to %q", got.Name)
	}
}

// TestVendorDescriptions: GET /api/v1/vendors describes each vendor's
// settings for the generated forms, secrets flagged.
func TestVendorDescriptions(t *testing.T) {
	e := newEnv(t, rasa.Connector{})
	var vs []vendorJSON
	e.admin(http.MethodGet, "/api/v1/vendors", nil, http.StatusOK).decode(t, &vs)
	i := slices.IndexFunc(vs, func(v vendorJSON) bool { return v.ID == "rasa" })
	if i < 0 {
		t.Fatalf("no rasa in %+v", vs)
	}
	got, _ := json.Marshal(vs[i].Fields)
	want := `[{"key":"baseUrl","label":"Rasa server URL","type":"url","required":true,"secret":false,"help":"e.g. https://rasa.example.com:5005"},` +
		`{"key":"token","label":"Token","type":"string","required":false,"secret":true,"help":"Sent with every request when set."},` +
		`{"key":"authMode","label":"Token sent as","type":"select","required":false,"secret":false,"options":["query","bearer"],"default":"query"},` +
		`{"key":"welcomeMessage","label":"Welcome message","type":"string","required":false,"secret":false,"default":"/welcome"}]`
	if string(got) != want {
		t.Errorf("rasa fields\n got %s\nwant %s", got, want)
	}
	j := slices.IndexFunc(vs, func(v vendorJSON) bool { return v.ID == "fake" })
	if j < 0 || len(vs[j].Fields) != 0 || vs[j].Fields == nil {
		t.Errorf("a vendor without descriptions: %+v", vs[j])
	}
}
