package dashboard_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/botrelay/botrelay/connectors/customendpoint"
	"github.com/botrelay/botrelay/connectors/function"
	"github.com/botrelay/botrelay/internal/browsertest"
	"github.com/botrelay/botrelay/internal/testrig"
)

// apiClient is an admin's session on the REST API, for setting up what the
// dashboard then shows and for comparing the dashboard with the API.
type apiClient struct{ *testrig.API }

func loginAPI(t *testing.T, base, user, password string) *apiClient {
	t.Helper()
	return &apiClient{testrig.LoginAPI(t, base, user, password)}
}

func (c *apiClient) do(method, path string, body any, status int, out any) {
	c.API.Do(method, path, body, status, out)
}

func (c *apiClient) lookupID(path, name string) json.Number { return c.API.ID(path, name) }

// functionBot creates a bot user and a stopped function bot running code,
// and returns the bot's id.
func (c *apiClient) functionBot(name, login, code string) string {
	var user struct {
		User struct {
			ID json.Number `json:"id"`
		} `json:"user"`
	}
	c.do(http.MethodPost, "/api/v1/users", map[string]any{"type": "BOT", "loginName": login, "nickname": name,
		"profileId": c.lookupID("/api/v1/profiles", "Agent"), "messagingSlots": 10,
		"skillIds": []json.Number{c.lookupID("/api/v1/skills", "bot")}}, http.StatusCreated, &user)
	var bot struct {
		ID string `json:"id"`
	}
	c.do(http.MethodPost, "/api/v1/bots", map[string]any{"name": name, "vendor": "function", "userId": user.User.ID,
		"settings": map[string]any{"vendor": map[string]any{"code": code},
			"errorHandling": map[string]any{"escalationSkill": "human"}}}, http.StatusCreated, &bot)
	return bot.ID
}

// TestDashboardBotTableStates is the first browser test of issue 18's
// acceptance: three bots in different states — the demo bot Online, "Zulu
// bot" (its function defines no lambda, so its vendor check fails) in
// Vendor Interruption and "Alpha bot" stopped, Offline. The API lists them
// by creation (Demo, Zulu, Alpha), the table by name (Alpha, Demo, Zulu),
// so a table that pairs rows with statuses by position shows every state
// on the wrong row. Each row must show its own bot's state, as
// GET /bots/{id}/status gives it.
func TestDashboardBotTableStates(t *testing.T) {
	const password = "Table-pass-42"
	base, _ := startServer(t, password)
	c := loginAPI(t, base, "admin", password)
	zulu := c.functionBot("Zulu bot", "zulu-bot", `var notALambda = 1;`)
	alpha := c.functionBot("Alpha bot", "alpha-bot", echoCode)
	c.do(http.MethodPost, "/api/v1/bots/"+zulu+"/start", nil, http.StatusAccepted, nil)

	// The API's view: each bot's state, once every bot has settled.
	want := map[string]string{"Demo bot": "ONLINE", "Zulu bot": "VENDOR_INTERRUPTION", "Alpha bot": "OFFLINE"}
	ids := map[string]string{"Zulu bot": zulu, "Alpha bot": alpha}
	var bots []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	c.do(http.MethodGet, "/api/v1/bots", nil, http.StatusOK, &bots)
	var order []string
	for _, b := range bots {
		ids[b.Name] = b.ID
		order = append(order, b.Name)
	}
	if fmt.Sprint(order) != "[Demo bot Zulu bot Alpha bot]" {
		t.Fatalf("API order %q; the test needs the API order to differ from the name order", order)
	}
	apiState := func(name string) string {
		var st struct {
			State string `json:"state"`
		}
		c.do(http.MethodGet, "/api/v1/bots/"+ids[name]+"/status", nil, http.StatusOK, &st)
		return st.State
	}
	testrig.Eventually(t, 30*time.Second, "the three bots settle in their states", func() bool {
		for name, s := range want {
			if apiState(name) != s {
				return false
			}
		}
		return true
	})

	p := &page{t: t, ctx: browsertest.Browser(t, 1280, 800), dir: browsertest.ArtifactsDir(t)}
	p.do("open dashboard", chromedp.Navigate(base+"/dashboard"), chromedp.WaitVisible(chromedp.CSS("#login-username")),
		chromedp.SendKeys(chromedp.CSS("#login-username"), "admin"),
		chromedp.SendKeys(chromedp.CSS("#login-password"), password),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#bots-table")))
	p.waitJS("three rows", `document.querySelectorAll("#bots-table tbody tr").length === 3`, 10*time.Second)
	p.waitJS("each row's own state", stateIs("Demo bot", "ONLINE", "Online")+" && "+
		stateIs("Zulu bot", "VENDOR_INTERRUPTION", "Vendor Interruption")+" && "+stateIs("Alpha bot", "OFFLINE", "Offline"), 15*time.Second)
	p.screenshot("dashboard-20-bot-table-states")

	// Row by row, the table and the API agree (after a few refreshes).
	rows := evalJS[[]string](p, `[...document.querySelectorAll("#bots-table tbody tr")].map(r => r.dataset.botId + "|" + r.cells[0].textContent + "|" + r.querySelector("[data-testid=bot-state]").dataset.state)`)
	var got []string
	for _, r := range rows {
		f := strings.Split(r, "|")
		if len(f) != 3 {
			t.Fatalf("row %q", r)
		}
		if f[0] != ids[f[1]] {
			t.Errorf("row %q carries the id of another bot (%s is %s)", r, f[1], ids[f[1]])
		}
		if s := apiState(f[1]); s != f[2] {
			t.Errorf("row %s shows %s, the API says %s", f[1], f[2], s)
		}
		got = append(got, f[1]+"="+f[2])
	}
	if w := "[Alpha bot=OFFLINE Demo bot=ONLINE Zulu bot=VENDOR_INTERRUPTION]"; fmt.Sprint(got) != w {
		t.Errorf("table %v, want %v", got, w)
	}
	// Start and Stop buttons follow each row's own bot.
	for name, startHidden := range map[string]bool{"Alpha bot": false, "Demo bot": true, "Zulu bot": true} {
		if h := evalJS[bool](p, `document.querySelector(`+jsString(botRow(name)+" [data-testid=start-bot]")+`).hidden`); h != startHidden {
			t.Errorf("%s: Start hidden = %v, want %v", name, h, startHidden)
		}
	}

	// The agent bot's page has no survey panel, and no stray "null" where
	// it would have been.
	p.do("Alpha bot's page", chromedp.Click(chromedp.CSS(botRow("Alpha bot")+" [data-testid=bot-link]")), chromedp.WaitVisible(chromedp.CSS("#tester")))
	p.waitJS("Alpha bot's page shows Offline", `document.querySelector("#bot-title").textContent === "Alpha bot" && document.querySelector("[data-testid=bot-state]").dataset.state === "OFFLINE"`, 10*time.Second)
	if stray := evalJS[[]string](p, `[...document.querySelector("#view").childNodes].filter(n => n.nodeType === Node.TEXT_NODE).map(n => n.textContent)`); len(stray) != 0 {
		t.Errorf("the bot page has stray text %q", stray)
	}
	p.screenshot("dashboard-23-agent-bot-page")
	if n := evalJS[string](p, `document.body.dataset.cspViolations || "0"`); n != "0" {
		t.Errorf("%s Content-Security-Policy violations", n)
	}
}

// TestDashboardCreateBotUserKeys is the second browser test of issue 18's
// acceptance: the Add user form starts on the Agent profile; creating a bot
// user shows its API key set — app key, secret, access token and its
// secret — as text, once; after a reload of the page only the listing
// without secrets remains, and the API never shows the secrets again.
func TestDashboardCreateBotUserKeys(t *testing.T) {
	const password = "Users-pass-42"
	base, _ := startServer(t, password)
	c := loginAPI(t, base, "admin", password)
	p := &page{t: t, ctx: browsertest.Browser(t, 1280, 1000), dir: browsertest.ArtifactsDir(t)}
	p.do("log in", chromedp.Navigate(base+"/dashboard/#/users"), chromedp.WaitVisible(chromedp.CSS("#login-username")),
		chromedp.SendKeys(chromedp.CSS("#login-username"), "admin"),
		chromedp.SendKeys(chromedp.CSS("#login-password"), password),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#user-form")))
	if got := evalJS[string](p, `document.querySelector("#user-profile").selectedOptions[0].textContent`); got != "Agent" {
		t.Errorf("the Add user form's profile defaults to %q, want Agent", got)
	}
	p.do("fill in a bot user",
		chromedp.SetValue(chromedp.CSS("#user-type"), "BOT"),
		chromedp.SendKeys(chromedp.CSS("#user-login"), "keys-bot"),
		chromedp.SendKeys(chromedp.CSS("#user-nickname"), "Keys bot"),
		chromedp.Evaluate[chromedp.Void](`[...document.querySelectorAll("#user-skills label")].find(l => l.textContent.trim() === "bot").querySelector("input").click()`),
		chromedp.Click(chromedp.CSS("#user-submit")))
	p.waitJS("keys shown", `!!document.querySelector("[data-testid=created-api-key]") && !document.querySelector("#user-created").hidden`, 10*time.Second)
	p.screenshot("dashboard-21-bot-user-keys")
	text := evalJS[string](p, `document.querySelector("#user-created").textContent`)
	for _, bad := range []string{"[object", "null", "undefined"} {
		if strings.Contains(text, bad) {
			t.Errorf("the created-user notice shows %q: %s", bad, text)
		}
	}
	field := func(id string) string {
		return evalJS[string](p, `document.querySelector("[data-testid=`+id+`]").textContent`)
	}
	appKey, secret := field("created-app-key"), field("created-secret")
	token, tokenSecret := field("created-access-token"), field("created-access-token-secret")
	for name, v := range map[string]string{"app key": appKey, "secret": secret, "access token": token, "access token secret": tokenSecret} {
		if len(v) < 16 {
			t.Errorf("%s shown as %q", name, v)
		}
	}

	// The API agrees: the user is a BOT with the Agent profile and skill
	// bot, and its key set is the one shown — without its secrets.
	var users []struct {
		ID        json.Number   `json:"id"`
		LoginName string        `json:"loginName"`
		Type      string        `json:"type"`
		ProfileID json.Number   `json:"profileId"`
		SkillIDs  []json.Number `json:"skillIds"`
	}
	c.do(http.MethodGet, "/api/v1/users", nil, http.StatusOK, &users)
	var id json.Number
	for _, u := range users {
		if u.LoginName == "keys-bot" {
			id = u.ID
			if u.Type != "BOT" || u.ProfileID != c.lookupID("/api/v1/profiles", "Agent") ||
				fmt.Sprint(u.SkillIDs) != fmt.Sprint([]json.Number{c.lookupID("/api/v1/skills", "bot")}) {
				t.Errorf("created user %+v: want a BOT with the Agent profile and skill bot", u)
			}
		}
	}
	if id == "" {
		t.Fatal("keys-bot is not in GET /users")
	}
	var keys []map[string]any
	c.do(http.MethodGet, "/api/v1/users/"+id.String()+"/apikeys", nil, http.StatusOK, &keys)
	if len(keys) != 1 || keys[0]["appKey"] != appKey || keys[0]["accessToken"] != token {
		t.Fatalf("keys %v, want the one shown (app key %s)", keys, appKey)
	}
	if _, ok := keys[0]["secret"]; ok {
		t.Errorf("GET keys shows the secret again: %v", keys[0])
	}

	// Once: after a reload the notice and the secrets are gone.
	p.do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#users-table tr[data-login="keys-bot"]`)))
	html := evalJS[string](p, `document.body.innerHTML`)
	if strings.Contains(html, secret) || strings.Contains(html, tokenSecret) {
		t.Error("the secrets are still on the page after a reload")
	}
	if !evalJS[bool](p, `document.querySelector("#user-created").hidden`) {
		t.Error("the created-user notice is still shown after a reload")
	}
	p.screenshot("dashboard-22-users-after-reload")
}

// TestDashboardTestConnectionProgressCancel: in the wizard, Test
// connection against a Custom Endpoint that never answers counts the
// seconds, and Cancel test stops it — the vendor's request ends too;
// against a dead endpoint (nothing listens) it says it failed and what to
// check. The last step shows no stray "null".
func TestDashboardTestConnectionProgressCancel(t *testing.T) {
	const password = "Wizard-pass-42"
	hung := make(chan struct{}, 1)
	ended := make(chan struct{}, 1)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case hung <- struct{}{}:
		default:
		}
		<-r.Context().Done()
		select {
		case ended <- struct{}{}:
		default:
		}
	}))
	defer hang.Close()
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()

	base, _ := startServerWith(t, password, function.Connector{}, customendpoint.Connector{})
	p := &page{t: t, ctx: browsertest.Browser(t, 1280, 1000), dir: browsertest.ArtifactsDir(t)}
	p.do("log in", chromedp.Navigate(base+"/dashboard/#/bots/new"), chromedp.WaitVisible(chromedp.CSS("#login-username")),
		chromedp.SendKeys(chromedp.CSS("#login-username"), "admin"),
		chromedp.SendKeys(chromedp.CSS("#login-password"), password),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS(`#wizard[data-step="1"]`)))
	p.do("to step 2", chromedp.Click(chromedp.CSS("#wizard-next")), chromedp.WaitVisible(chromedp.CSS(`#wizard[data-step="2"]`)))
	p.do("new bot user", chromedp.Click(chromedp.CSS("#agent-new")), chromedp.SendKeys(chromedp.CSS("#new-user-login"), "ce-bot"),
		chromedp.Click(chromedp.CSS("#wizard-next")), chromedp.WaitVisible(chromedp.CSS(`#wizard[data-step="3"]`)))
	p.do("to step 4", chromedp.Click(chromedp.CSS("#wizard-next")), chromedp.WaitVisible(chromedp.CSS(`#wizard[data-step="4"]`)))
	p.do("custom endpoint", chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector("#vendor"); s.value = "custom_endpoint"; s.dispatchEvent(new Event("change")); })()`))
	p.waitJS("custom endpoint step", `document.querySelector("#vendor").value === "custom_endpoint" && !document.querySelector("#function-code")`, 5*time.Second)
	if stray := evalJS[[]string](p, `[...document.querySelector("#wizard").childNodes].filter(n => n.nodeType === Node.TEXT_NODE).map(n => n.textContent)`); len(stray) != 0 {
		t.Errorf("the wizard's last step has stray text %q", stray)
	}
	settings := func(url string) string {
		// The advanced toggle shows the raw JSON box of the generated form.
		return `(() => { const t = document.querySelector("#vendor-raw"); if (!t.checked) t.click(); ` +
			`document.querySelector("#vendor-settings").value = ` + jsString(`{"baseUrl": "`+url+`", "botId": "b1", "environment": "prod"}`) + `; })()`
	}

	// A vendor that never answers: progress, then Cancel test.
	p.do("test a hanging endpoint", chromedp.Evaluate[chromedp.Void](settings(hang.URL)), chromedp.Click(chromedp.CSS("#test-connection")))
	select {
	case <-hung:
	case <-time.After(15 * time.Second):
		t.Fatal("the connection test never reached the endpoint")
	}
	p.waitJS("progress counts seconds", `/^Testing the connection… [1-9]\d* s$/.test(document.querySelector("#test-result").textContent) && !document.querySelector("#test-cancel").hidden && document.querySelector("#test-connection").disabled`, 5*time.Second)
	p.screenshot("dashboard-24-test-connection-progress")
	p.do("cancel", chromedp.Click(chromedp.CSS("#test-cancel")))
	p.waitJS("cancelled", `document.querySelector("#test-result").dataset.ok === "cancelled" && document.querySelector("#test-result").textContent === "Test cancelled." && document.querySelector("#test-cancel").hidden && !document.querySelector("#test-connection").disabled`, 5*time.Second)
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Error("the vendor's request went on after Cancel test")
	}

	// A dead endpoint: a clear failure.
	p.do("test a dead endpoint", chromedp.Evaluate[chromedp.Void](settings(deadURL)), chromedp.Click(chromedp.CSS("#test-connection")))
	// The Custom Endpoint connector retries get-state (F42), so this takes
	// a while; the result line keeps counting meanwhile.
	testrig.Eventually(t, 40*time.Second, "the dead endpoint's test ends", func() bool {
		return evalJS[string](p, `document.querySelector("#test-result").dataset.ok`) == "false"
	})
	got := evalJS[string](p, `document.querySelector("#test-result").textContent`)
	if !strings.HasPrefix(got, "Failed after ") || !strings.Contains(got, "Check the vendor settings (address, credentials) and that botrelay can reach the vendor.") {
		t.Errorf("dead endpoint reported as %q", got)
	}
	t.Logf("dead endpoint: %s", got)
	p.screenshot("dashboard-25-test-connection-dead")
}
