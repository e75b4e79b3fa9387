package dashboard_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/botrelay/botrelay/connectors/function"
	"github.com/botrelay/botrelay/connectors/rasa"
	"github.com/botrelay/botrelay/internal/browsertest"
	"github.com/botrelay/botrelay/internal/testrig"
)

// apiBot is a bot as GET /api/v1/bots/{id} shows it.
type apiBot struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Started    bool     `json:"started"`
	SecretsSet []string `json:"secretsSet"`
	Settings   struct {
		Vendor        json.RawMessage `json:"vendor"`
		ErrorHandling struct {
			EscalationSkill   string `json:"escalationSkill"`
			MessageToConsumer string `json:"messageToConsumer"`
		} `json:"errorHandling"`
	} `json:"settings"`
}

// loggedIn opens the dashboard at hash as the admin.
func loggedIn(t *testing.T, base, password, hash string) *page {
	t.Helper()
	p := &page{t: t, ctx: browsertest.Browser(t, 1280, 1000), dir: browsertest.ArtifactsDir(t)}
	browsertest.FailOnCSPViolations(t, p.ctx, "dashboard")
	p.do("log in", chromedp.Navigate(base+"/dashboard/"+hash), chromedp.WaitVisible(chromedp.CSS("#login-username")),
		chromedp.SendKeys(chromedp.CSS("#login-username"), "admin"),
		chromedp.SendKeys(chromedp.CSS("#login-password"), password),
		chromedp.Click(chromedp.CSS("#login-submit")))
	return p
}

// demoBot returns the seeded demo bot's id.
func demoBot(t *testing.T, api *testrig.API) string {
	t.Helper()
	var bots []apiBot
	api.Do(http.MethodGet, "/api/v1/bots", nil, http.StatusOK, &bots)
	for _, b := range bots {
		if b.Name == "Demo bot" {
			return b.ID
		}
	}
	t.Fatalf("no demo bot in %+v", bots)
	return ""
}

// TestEditBotInBrowser edits a stopped Rasa bot through its generated
// vendor form: the settings show as typed fields, the secret as a
// write-only password field marked "set", a saved edit keeps the secret,
// a required field left empty is refused with its label, and Clear
// removes the secret.
func TestEditBotInBrowser(t *testing.T) {
	const password = "Edit-pass-42"
	const token = "rasa-secret-token-0042"
	base, _ := startServerWith(t, password, function.Connector{}, rasa.Connector{})
	api := testrig.LoginAPI(t, base, "admin", password)
	var user struct {
		User struct {
			ID int64 `json:"id"`
		} `json:"user"`
	}
	api.Do(http.MethodPost, "/api/v1/users", map[string]any{"type": "BOT", "loginName": "rasa-bot", "messagingSlots": 10,
		"profileId": api.ID("/api/v1/profiles", "Agent"), "skillIds": []any{api.ID("/api/v1/skills", "bot")}}, http.StatusCreated, &user)
	var b apiBot
	api.Do(http.MethodPost, "/api/v1/bots", map[string]any{"name": "Rasa bot", "vendor": "rasa", "userId": user.User.ID,
		"settings": map[string]any{"vendor": map[string]any{"baseUrl": "http://127.0.0.1:5005", "token": token},
			"errorHandling": map[string]any{"escalationSkill": "human"}}}, http.StatusCreated, &b)

	p := loggedIn(t, base, password, "#/bots/"+b.ID)
	p.do("open the edit page", chromedp.WaitVisible(chromedp.CSS("#bot-edit")), chromedp.Click(chromedp.CSS("#bot-edit")),
		chromedp.WaitVisible(chromedp.CSS("#edit-form")))
	form := evalJS[map[string]any](p, `({
		baseUrl: document.querySelector("#vf-baseUrl").value,
		baseUrlLabel: document.querySelector("[data-field=baseUrl] .label").textContent.trim(),
		tokenType: document.querySelector("#vf-token").type,
		token: document.querySelector("#vf-token").value,
		tokenState: document.querySelector("[data-testid=secret-state][data-key=token]").textContent,
		authModes: [...document.querySelectorAll("#vf-authMode option")].map(o => o.value).join(","),
		welcomePlaceholder: document.querySelector("#vf-welcomeMessage").placeholder,
		rawHidden: document.querySelector("#vendor-settings").closest("label").hidden,
		pageHasToken: document.body.innerHTML.includes(`+jsString(token)+`),
	})`)
	want := map[string]any{"baseUrl": "http://127.0.0.1:5005", "baseUrlLabel": "Rasa server URL *", "tokenType": "password", "token": "",
		"tokenState": "set", "authModes": ",query,bearer", "welcomePlaceholder": "/welcome", "rawHidden": true, "pageHasToken": false}
	if fmt.Sprint(form) != fmt.Sprint(want) {
		t.Errorf("generated form\n got %v\nwant %v", form, want)
	}
	p.screenshot("botedit-01-generated-form")

	// Edit the name, the escalation skill and a vendor setting; the token
	// field stays empty.
	p.do("edit", chromedp.SetValue(chromedp.CSS("#edit-name"), "Rasa bot edited"),
		chromedp.SetValue(chromedp.CSS("#edit-escalation-skill"), "bot"),
		chromedp.SendKeys(chromedp.CSS("#vf-welcomeMessage"), "/hi"),
		chromedp.Click(chromedp.CSS("#edit-save")))
	p.waitJS("back on the bot page", `location.hash === "#/bots/`+b.ID+`" && document.querySelector("#bot-title") && document.querySelector("#bot-title").textContent === "Rasa bot edited"`, 10*time.Second)
	api.Do(http.MethodGet, "/api/v1/bots/"+b.ID, nil, http.StatusOK, &b)
	if b.Name != "Rasa bot edited" || string(b.Settings.Vendor) != `{"baseUrl":"http://127.0.0.1:5005","welcomeMessage":"/hi"}` ||
		b.Settings.ErrorHandling.EscalationSkill != "bot" || !slices.Contains(b.SecretsSet, "token") {
		t.Errorf("after the edit: %+v (vendor %s)", b, b.Settings.Vendor)
	}

	// A required field left empty is refused before anything is sent.
	p.do("edit again", chromedp.Click(chromedp.CSS("#bot-edit")), chromedp.WaitVisible(chromedp.CSS("#edit-form")))
	p.waitJS("the saved values", `document.querySelector("#vf-welcomeMessage").value === "/hi" && document.querySelector("#edit-escalation-skill").value === "bot"`, 5*time.Second)
	p.do("empty the base URL", chromedp.Evaluate[chromedp.Void](`document.querySelector("#vf-baseUrl").value = ""`), chromedp.Click(chromedp.CSS("#edit-save")))
	p.waitJS("required", `document.querySelector("#edit-error").textContent === "Rasa server URL is required."`, 5*time.Second)
	p.screenshot("botedit-02-required")

	// The raw JSON toggle shows the settings without the secret.
	p.do("restore and look at the raw JSON", chromedp.SetValue(chromedp.CSS("#vf-baseUrl"), "http://127.0.0.1:5005"),
		chromedp.Click(chromedp.CSS("#vendor-raw")))
	raw := evalJS[string](p, `document.querySelector("#vendor-settings").value`)
	if strings.Contains(raw, token) || !strings.Contains(raw, `"welcomeMessage": "/hi"`) || strings.Contains(raw, `"token"`) {
		t.Errorf("raw JSON %s", raw)
	}
	p.do("back to the fields, clear the token, save", chromedp.Click(chromedp.CSS("#vendor-raw")),
		chromedp.Click(chromedp.CSS("#vf-token-clear")), chromedp.Click(chromedp.CSS("#edit-save")))
	p.waitJS("saved", `location.hash === "#/bots/`+b.ID+`"`, 10*time.Second)
	api.Do(http.MethodGet, "/api/v1/bots/"+b.ID, nil, http.StatusOK, &b)
	if slices.Contains(b.SecretsSet, "token") || string(b.Settings.Vendor) != `{"baseUrl":"http://127.0.0.1:5005","welcomeMessage":"/hi"}` {
		t.Errorf("after Clear: secrets %v, vendor %s", b.SecretsSet, b.Settings.Vendor)
	}
	p.do("the edit page once more", chromedp.Click(chromedp.CSS("#bot-edit")), chromedp.WaitVisible(chromedp.CSS("#edit-form")))
	p.waitJS("token not set", `document.querySelector("[data-testid=secret-state][data-key=token]").textContent === "not set" && !document.querySelector("#vf-token-clear")`, 5*time.Second)
	p.screenshot("botedit-03-secret-cleared")
}

// TestLiveStateAndRunningEdit: the bot table and the edit page follow
// the demo bot's state without a reload while it is stopped and started
// through the API; the edit page refuses a running bot with the reason
// and shows the form once the bot is stopped from there.
func TestLiveStateAndRunningEdit(t *testing.T) {
	const password = "Live-pass-42"
	base, _ := startServer(t, password)
	api := testrig.LoginAPI(t, base, "admin", password)
	id := demoBot(t, api)
	p := loggedIn(t, base, password, "#/bots")
	p.waitJS("demo bot online", stateIs("Demo bot", "ONLINE", "Online"), 20*time.Second)
	p.do("mark the page", chromedp.Evaluate[chromedp.Void](`window.notReloaded = true`))

	api.Do(http.MethodPost, "/api/v1/bots/"+id+"/stop", nil, http.StatusOK, nil)
	p.waitJS("offline without a reload", stateIs("Demo bot", "OFFLINE", "Offline")+` && window.notReloaded === true`, 10*time.Second)
	p.screenshot("botedit-04-live-offline")
	api.Do(http.MethodPost, "/api/v1/bots/"+id+"/start", nil, http.StatusAccepted, nil)
	p.waitJS("online again without a reload", stateIs("Demo bot", "ONLINE", "Online")+` && window.notReloaded === true`, 20*time.Second)
	p.screenshot("botedit-05-live-online")

	// The edit page of the running bot.
	p.do("edit the running bot", chromedp.Evaluate[chromedp.Void](`location.hash = "#/bots/`+id+`/edit"`),
		chromedp.WaitVisible(chromedp.CSS("#edit-refused")))
	msg := evalJS[string](p, `document.querySelector("[data-testid=edit-refused-message]").textContent`)
	if want := "Demo bot is Online. A bot can be edited only while it is Offline: stop it first, then edit it and start it again."; msg != want {
		t.Errorf("refusal %q, want %q", msg, want)
	}
	if evalJS[bool](p, `!!document.querySelector("#edit-form")`) {
		t.Error("the edit form is shown for a running bot")
	}
	p.screenshot("botedit-06-running-refused")
	p.do("stop it from the edit page", chromedp.Click(chromedp.CSS("#edit-stop")))
	p.waitJS("the form appears", `document.querySelector("#edit-form") && document.querySelector("#edit-refused").hidden && document.querySelector("[data-testid=bot-state]").dataset.state === "OFFLINE"`, 10*time.Second)
	p.waitJS("the function code field", `document.querySelector("#function-code").value.includes("function lambda")`, 5*time.Second)
	p.screenshot("botedit-07-stopped-form")
	// Started again behind the page's back: the form gives way.
	api.Do(http.MethodPost, "/api/v1/bots/"+id+"/start", nil, http.StatusAccepted, nil)
	p.waitJS("refused again", `!document.querySelector("#edit-refused").hidden && document.querySelector("#edit-form-box").hidden`, 10*time.Second)
}

// TestFiguresPageWithTraffic sends three conversations to the demo bot
// through the hub (one closed by the bot on "bye", one transferred on
// "agent", one answered) and reads them on the figures page: the totals
// and the points of the SVG charts.
func TestFiguresPageWithTraffic(t *testing.T) {
	const password = "Figures-pass-42"
	base, _ := startServer(t, password)
	api := testrig.LoginAPI(t, base, "admin", password)
	id := demoBot(t, api)
	testrig.Eventually(t, 20*time.Second, "demo bot online", func() bool {
		var st struct {
			State string `json:"state"`
		}
		api.Do(http.MethodGet, "/api/v1/bots/"+id+"/status", nil, http.StatusOK, &st)
		return st.State == "ONLINE"
	})
	const wait = 20 * time.Second
	for _, c := range []struct{ say, answer string }{
		{"bye", "Thank you for chatting. Goodbye!"},
		{"agent", "Transferring you to a human agent. Please hold on."},
		{"what?", `Sorry, I did not understand "what?".`},
	} {
		consumer := testrig.NewConsumer(t, base, "1000")
		consumer.Open("bot")
		consumer.Say(c.say)
		consumer.WaitTexts(wait, c.answer)
	}

	p := loggedIn(t, base, password, "#/bots/"+id)
	p.do("open the figures", chromedp.WaitVisible(chromedp.CSS("#bot-stats")), chromedp.Click(chromedp.CSS("#bot-stats")),
		chromedp.WaitVisible(chromedp.CSS("#stats-totals")))
	tile := func(k string) string {
		// ?. : the page re-renders the tiles while it polls.
		return `document.querySelector("[data-testid=total-` + k + `] .value")?.textContent`
	}
	// The server writes the figures every 5 seconds; the page polls.
	p.waitJS("three conversations", tile("handled")+` === "3" && `+tile("closed")+` === "1" && `+tile("transferred")+` === "1"`, 30*time.Second)
	tiles := evalJS[[]string](p, `["escalated", "containment", "uptime", "p50", "p95"].map(k => document.querySelector("[data-testid=total-" + k + "] .value").textContent)`)
	if tiles[0] != "0" || tiles[1] != "33.3 %" || !strings.HasSuffix(tiles[2], " %") || !strings.HasSuffix(tiles[3], " ms") || !strings.HasSuffix(tiles[4], " ms") {
		t.Errorf("escalated, containment, uptime, p50, p95 = %q", tiles)
	}
	sum := func(chart, series string) float64 {
		return evalJS[float64](p, `[...document.querySelectorAll("#`+chart+` circle[data-series=`+series+`]")].reduce((a, c) => a + Number(c.dataset.value), 0)`)
	}
	for series, n := range map[string]float64{"handled": 3, "closed": 1, "transferred": 1, "escalated": 0} {
		if got := sum("chart-conversations", series); got != n {
			t.Errorf("the conversations chart's %s points add up to %v, want %v", series, got, n)
		}
	}
	points := evalJS[int](p, `Number(document.querySelector("#chart-conversations").dataset.points)`)
	lines := evalJS[int](p, `document.querySelector("#chart-conversations polyline[data-series=handled]").getAttribute("points").trim().split(" ").length`)
	if points < 60 || points > 61 || lines != points {
		t.Errorf("an hour of minutes: %d points, handled line of %d", points, lines)
	}
	if got := sum("chart-containment", "containment"); got <= 0 {
		t.Errorf("containment chart has no point: %v", got)
	}
	p.screenshot("botedit-08-figures")

	p.do("the last 10 minutes", chromedp.SetValue(chromedp.CSS("#stats-range"), "10m"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#stats-range").dispatchEvent(new Event("change"))`))
	p.waitJS("ten minutes", `Number(document.querySelector("#chart-conversations").dataset.points) <= 11 && `+tile("handled")+` === "3"`, 10*time.Second)
	if got := sum("chart-conversations", "handled"); got != 3 {
		t.Errorf("10 minutes: handled points add up to %v", got)
	}
	p.screenshot("botedit-09-figures-10m")
}

// TestWizardVendorForm creates a Rasa bot through the Add Bot wizard's
// generated vendor form: the required URL is asked for by its label, the
// token is a password field, and the bot is stored with the typed
// settings and the token as a secret.
func TestWizardVendorForm(t *testing.T) {
	const password = "Wizard-pass-42"
	const token = "wizard-rasa-token-77"
	base, _ := startServerWith(t, password, function.Connector{}, rasa.Connector{})
	p := loggedIn(t, base, password, "#/bots/new")
	p.do("to step 2", chromedp.WaitVisible(chromedp.CSS(`#wizard[data-step="1"]`)), chromedp.Click(chromedp.CSS("#wizard-next")),
		chromedp.WaitVisible(chromedp.CSS(`#wizard[data-step="2"]`)))
	p.do("new bot user", chromedp.Click(chromedp.CSS("#agent-new")), chromedp.SendKeys(chromedp.CSS("#new-user-login"), "rasa-wizard"),
		chromedp.Click(chromedp.CSS("#wizard-next")), chromedp.WaitVisible(chromedp.CSS(`#wizard[data-step="3"]`)))
	p.do("to step 4", chromedp.Click(chromedp.CSS("#wizard-next")), chromedp.WaitVisible(chromedp.CSS(`#wizard[data-step="4"]`)))
	p.do("choose rasa", chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector("#vendor"); s.value = "rasa"; s.dispatchEvent(new Event("change")); })()`))
	p.waitJS("the rasa form", `document.querySelector("#vendor-form[data-vendor=rasa] #vf-baseUrl") && document.querySelector("#vf-token").type === "password"`, 5*time.Second)
	labels := evalJS[[]string](p, `[...document.querySelectorAll("#vendor-form [data-field] .label")].map(l => l.textContent.trim())`)
	if want := []string{"Rasa server URL *", "Token not set", "Token sent as", "Welcome message"}; fmt.Sprint(labels) != fmt.Sprint(want) {
		t.Errorf("labels %q, want %q", labels, want)
	}
	if v := evalJS[string](p, `document.querySelector("#vf-baseUrl").value`); v != "http://localhost:5005" {
		t.Errorf("the URL starts as %q, want the template's http://localhost:5005", v)
	}
	p.do("create without the URL", chromedp.SetValue(chromedp.CSS("#bot-name"), "Wizard rasa"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#vf-baseUrl").value = ""`),
		chromedp.Click(chromedp.CSS("#data-disclaimer")), chromedp.Click(chromedp.CSS("#wizard-create")))
	p.waitJS("the URL asked for", `document.querySelector("#wizard-error").textContent === "Rasa server URL is required."`, 5*time.Second)
	p.do("fill and create", chromedp.SendKeys(chromedp.CSS("#vf-baseUrl"), "http://127.0.0.1:5005"),
		chromedp.SendKeys(chromedp.CSS("#vf-token"), token), chromedp.SetValue(chromedp.CSS("#vf-authMode"), "bearer"))
	p.screenshot("botedit-10-wizard-vendor-form")
	p.do("create", chromedp.Click(chromedp.CSS("#wizard-create")), chromedp.WaitVisible(chromedp.CSS(botRow("Wizard rasa"))))
	api := testrig.LoginAPI(t, base, "admin", password)
	var bots []apiBot
	api.Do(http.MethodGet, "/api/v1/bots", nil, http.StatusOK, &bots)
	i := slices.IndexFunc(bots, func(b apiBot) bool { return b.Name == "Wizard rasa" })
	if i < 0 {
		t.Fatalf("no Wizard rasa bot in %+v", bots)
	}
	if b := bots[i]; string(b.Settings.Vendor) != `{"authMode":"bearer","baseUrl":"http://127.0.0.1:5005"}` || !slices.Contains(b.SecretsSet, "token") {
		t.Errorf("stored vendor settings %s, secrets %v", b.Settings.Vendor, b.SecretsSet)
	}
}
