package dashboard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/function"
	"github.com/botrelay/botrelay/internal/app"
	"github.com/botrelay/botrelay/internal/browsertest"
	"github.com/botrelay/botrelay/internal/config"
	"github.com/botrelay/botrelay/sqlstore"
)

// page is the browser tab under test; every step runs with a deadline.
type page struct {
	t   *testing.T
	ctx context.Context
	dir string
}

// do runs steps within 15 s, failing the test with a screenshot otherwise.
func (p *page) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.screenshot("dashboard-failure")
		p.t.Fatalf("%s: %v", what, err)
	}
}

// waitJS waits until the JavaScript expression is truthy.
func (p *page) waitJS(what, expr string, timeout time.Duration) {
	p.t.Helper()
	p.do(what, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(50*time.Millisecond)))
}

func evalJS[T any](p *page, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// screenshot saves a PNG of the viewport into the artifacts folder.
func (p *page) screenshot(name string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG")) {
		p.t.Errorf("screenshot %s is not a PNG", name)
		return
	}
	path := filepath.Join(p.dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Errorf("write screenshot: %v", err)
		return
	}
	p.t.Logf("screenshot: %s", path)
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// startServer runs the real botrelay server (app.Main: SQLite in a temp
// dir, hub, connector, API and dashboard) with the function vendor and
// returns its base URL and a second store on its database, for data the
// dashboard only shows (survey runs).
func startServer(t *testing.T, adminPassword string) (string, *sqlstore.Store) {
	t.Helper()
	return startServerWith(t, adminPassword, function.Connector{})
}

// startServerWith is startServer with the given vendor connectors
// registered instead of the function vendor alone.
func startServerWith(t *testing.T, adminPassword string, vendors ...botrelay.VendorConnector) (string, *sqlstore.Store) {
	t.Helper()
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.Data = t.TempDir()
	cfg.Log.Level = "error"
	cfg.ShutdownTimeout = config.Duration(10 * time.Second)
	reg := botrelay.NewRegistry()
	reg.RegisterVendor(vendors...)
	env := map[string]string{"BOTRELAY_ADMIN_PASSWORD": adminPassword}
	m := &app.Main{Config: cfg, Registry: reg, Stdout: io.Discard, Logs: io.Discard,
		Getenv: func(k string) string { return env[k] }}
	ready := m.Ready() // before Run: Ready sets the defaults Run reads
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("server did not start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start within 30 s")
	}
	_, dsn := cfg.DatabaseURL()
	store, err := sqlstore.Open(context.Background(), sqlstore.Options{Dialect: sqlstore.SQLite, DSN: dsn,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("open the server's store: %v", err)
	}
	t.Cleanup(func() { store.Close() })
	return "http://" + m.Addr(), store
}

// saveSurveys stores a survey bot, "Feedback bot", with a completed run of
// two answers and a result, and a failed run of the demo bot, and returns
// the survey bot's id.
func saveSurveys(t *testing.T, store *sqlstore.Store) botrelay.BotID {
	t.Helper()
	ctx := context.Background()
	const account = botrelay.AccountID("1000")
	profiles, err := store.Profiles(ctx, account)
	if err != nil {
		t.Fatal(err)
	}
	user := &botrelay.User{AccountID: account, Type: botrelay.UserBot, LoginName: "feedback-bot", Nickname: "Feedback bot",
		MessagingSlots: 10, Enabled: true}
	for _, p := range profiles {
		if p.Role == botrelay.RoleAgent {
			user.ProfileID = p.ID
		}
	}
	if err := store.CreateUser(ctx, user); err != nil {
		t.Fatal(err)
	}
	survey := &botrelay.Bot{AccountID: account, Name: "Feedback bot", UserID: user.ID, Type: botrelay.BotSurvey,
		ConversationType: botrelay.Messaging, Vendor: "function"}
	if err := store.CreateBot(ctx, survey); err != nil {
		t.Fatal(err)
	}
	bots, err := store.Bots(ctx, account)
	if err != nil {
		t.Fatal(err)
	}
	var demo botrelay.BotID
	for _, b := range bots {
		if b.Name == "Demo bot" {
			demo = b.ID
		}
	}
	started := time.Now().Add(-5 * time.Minute).Truncate(time.Second)
	for _, sv := range []*botrelay.Survey{
		{BotID: survey.ID, ConversationID: "conv-survey-1", DialogID: "dialog-survey-1", ConsumerID: "consumer-1",
			State: botrelay.SurveyCompleted, StartedAt: started, EndedAt: started.Add(40 * time.Second),
			Answers: []botrelay.SurveyAnswer{
				{Sequence: 1, Question: "How would you rate us, 1 to 5?", Answer: "5", At: started.Add(10 * time.Second)},
				{Sequence: 3, Question: "What could we do better?", Answer: "Answer <b>faster</b>", At: started.Add(30 * time.Second)},
			},
			Result: json.RawMessage(`{"rating":5,"comment":"Answer <b>faster</b>"}`)},
		{BotID: demo, ConversationID: "conv-survey-2", DialogID: "dialog-survey-2", State: botrelay.SurveyFailed,
			Error: "vendor down", StartedAt: started.Add(time.Minute), EndedAt: started.Add(70 * time.Second)},
	} {
		if err := store.SaveSurvey(ctx, sv); err != nil {
			t.Fatal(err)
		}
	}
	return survey.ID
}

// echoCode is the function bot the wizard creates: it greets and echoes.
const echoCode = `function lambda(input, callback) {
  const p = input.payload;
  if (p.event && p.event.name === "WELCOME") { return callback(null, { messages: ["Welcome to echo"] }); }
  callback(null, { messages: ["Echo: " + p.message] });
}`

// botRow is a CSS selector for the bot table's row of the named bot.
func botRow(name string) string { return fmt.Sprintf(`#bots-table tr[data-name=%q]`, name) }

// stateIs is a JavaScript predicate: the named bot's row shows state with
// its label.
func stateIs(name, state, label string) string {
	return fmt.Sprintf(`(() => { const s = document.querySelector(%s); return !!s && s.dataset.state === %s && s.textContent === %s; })()`,
		jsString(botRow(name)+" [data-testid=bot-state]"), jsString(state), jsString(label))
}

// TestDashboard is acceptance 3 of issue 7 in Chromium: log in, create a
// function bot through the Add Bot wizard (with a new bot user and a
// passing connection test), start it and see it Online in the table, chat
// with it in the conversation tester and see the function's raw request
// and reply, stop it and see it Offline; then the users, skills and
// profiles pages, and survey runs (stored directly) on the Surveys page and
// on a survey bot's page. Screenshots of each step go to
// $BOTRELAY_TEST_ARTIFACTS.
func TestDashboard(t *testing.T) {
	const password = "Dashboard-pass-42"
	base, store := startServer(t, password)
	p := &page{t: t, ctx: browsertest.Browser(t, 1280, 900), dir: browsertest.ArtifactsDir(t)}
	browsertest.FailOnCSPViolations(t, p.ctx, "dashboard")
	const botName = "Echo bot"

	// Log in; a wrong password is refused first.
	p.do("open dashboard", chromedp.Navigate(base+"/dashboard"), chromedp.WaitVisible(chromedp.CSS("#login-username")))
	p.screenshot("dashboard-01-login")
	p.do("wrong password",
		chromedp.SendKeys(chromedp.CSS("#login-username"), "admin"),
		chromedp.SendKeys(chromedp.CSS("#login-password"), "wrong-password"),
		chromedp.Click(chromedp.CSS("#login-submit")))
	p.waitJS("login error", `document.querySelector("#login-error").textContent.length > 0`, 10*time.Second)
	p.do("log in",
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#login-password").value = ""`),
		chromedp.SendKeys(chromedp.CSS("#login-password"), password),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#bots-table")))
	// The seeded demo bot is listed and comes Online.
	p.waitJS("demo bot online", stateIs("Demo bot", "ONLINE", "Online"), 20*time.Second)
	p.screenshot("dashboard-02-bots")

	// The wizard, step 1: bot type.
	p.do("open wizard", chromedp.Click(chromedp.CSS("#add-bot")), chromedp.WaitVisible(chromedp.CSS(`#wizard[data-step="1"]`)))
	p.do("agent bot", chromedp.Click(chromedp.CSS("#type-agent")), chromedp.Click(chromedp.CSS("#wizard-next")),
		chromedp.WaitVisible(chromedp.CSS(`#wizard[data-step="2"]`)))
	// Step 2: a new bot user on skill "bot" (the demo bot's user is taken,
	// so it is not offered).
	if evalJS[bool](p, `[...document.querySelectorAll("#agent-user option")].some(o => o.textContent.startsWith("demo-bot"))`) {
		t.Error("the wizard offers the demo bot's user, which already has a bot")
	}
	p.do("new bot user",
		chromedp.Click(chromedp.CSS("#agent-new")),
		chromedp.SendKeys(chromedp.CSS("#new-user-login"), "echo-bot"),
		chromedp.SendKeys(chromedp.CSS("#new-user-nickname"), botName))
	p.waitJS("skill bot preselected", `[...document.querySelectorAll("#new-user-skills input:checked")].map(i => i.parentNode.textContent.trim()).join() === "bot"`, 5*time.Second)
	p.screenshot("dashboard-03-wizard-agent")
	p.do("to step 3", chromedp.Click(chromedp.CSS("#wizard-next")), chromedp.WaitVisible(chromedp.CSS(`#wizard[data-step="3"]`)))
	// Step 3: messaging, escalation to "human".
	p.waitJS("messaging and human escalation", `document.querySelector("#conv-messaging").checked && document.querySelector("#escalation-skill").value === "human"`, 5*time.Second)
	p.screenshot("dashboard-04-wizard-conversation")
	p.do("to step 4", chromedp.Click(chromedp.CSS("#wizard-next")), chromedp.WaitVisible(chromedp.CSS(`#wizard[data-step="4"]`)))
	// Step 4: function vendor with the echo code, data disclaimer, test.
	p.waitJS("function vendor and default name", `document.querySelector("#vendor").value === "function" && document.querySelector("#bot-name").value === `+jsString(botName), 5*time.Second)
	p.do("function code",
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#function-code").value = `+jsString(echoCode)),
		chromedp.Click(chromedp.CSS("#data-disclaimer")),
		chromedp.Click(chromedp.CSS("#test-connection")))
	p.waitJS("connection test passes", `document.querySelector("#test-result").dataset.ok === "true"`, 15*time.Second)
	if got := evalJS[string](p, `document.querySelector("#test-result").textContent`); got != "Connection OK." {
		t.Errorf("test result %q", got)
	}
	p.screenshot("dashboard-05-wizard-ai")
	p.do("create", chromedp.Click(chromedp.CSS("#wizard-create")), chromedp.WaitVisible(chromedp.CSS(botRow(botName))))

	// The new bot is in the table: Offline, function vendor, skill bot.
	p.waitJS("new bot offline", stateIs(botName, "OFFLINE", "Offline"), 10*time.Second)
	row := evalJS[[]string](p, fmt.Sprintf(`[...document.querySelector(%s).cells].slice(0, 7).map(c => c.textContent)`, jsString(botRow(botName))))
	if want := []string{botName, "Agent", "JavaScript function", "Offline", "0", "bot", "—"}; fmt.Sprint(row) != fmt.Sprint(want) {
		t.Errorf("table row %q, want %q", row, want)
	}

	// Start it: Online with a start time.
	p.do("start", chromedp.Click(chromedp.CSS(botRow(botName)+" [data-testid=start-bot]")))
	p.waitJS("online", stateIs(botName, "ONLINE", "Online")+` && document.querySelector(`+jsString(botRow(botName)+" [data-testid=bot-started-at]")+`).textContent !== "—"`, 30*time.Second)
	p.screenshot("dashboard-06-online")

	// The bot page and the conversation tester.
	p.do("open bot page", chromedp.Click(chromedp.CSS(botRow(botName)+" [data-testid=bot-link]")), chromedp.WaitVisible(chromedp.CSS("#tester-input")))
	p.waitJS("bot page online with history", `document.querySelector("#bot-title").textContent === `+jsString(botName)+
		` && document.querySelector("[data-testid=bot-state]").dataset.state === "ONLINE" && [...document.querySelectorAll("#state-history tbody tr")].some(r => r.textContent.includes("Online"))`, 10*time.Second)
	p.do("welcome event", chromedp.Click(chromedp.CSS("#tester-start")))
	p.waitJS("welcome reply", `[...document.querySelectorAll("[data-testid=tester-reply]")].some(e => e.textContent === "Welcome to echo")`, 15*time.Second)
	p.do("send text", chromedp.SendKeys(chromedp.CSS("#tester-input"), "hello dashboard"), chromedp.Click(chromedp.CSS("#tester-send")))
	p.waitJS("echo reply", `[...document.querySelectorAll("[data-testid=tester-reply]")].some(e => e.textContent === "Echo: hello dashboard")`, 15*time.Second)
	last := `[...document.querySelectorAll("[data-testid=tester-turn]")].pop()`
	p.waitJS("processed with the vendor request and reply", last+`.dataset.status === "PROCESSED" && `+last+`.querySelector("details.vendor").open`, 5*time.Second)
	req := evalJS[string](p, last+`.querySelector("[data-testid=vendor-request]").textContent`)
	resp := evalJS[string](p, last+`.querySelector("[data-testid=vendor-response]").textContent`)
	if !strings.Contains(req, `"message": "hello dashboard"`) || !strings.Contains(req, `"convId": "tester-`) {
		t.Errorf("vendor request panel shows %s", req)
	}
	if !strings.Contains(resp, `"Echo: hello dashboard"`) {
		t.Errorf("vendor reply panel shows %s", resp)
	}
	p.screenshot("dashboard-07-tester")

	// Back to the table; stop it: Offline.
	p.do("back to table", chromedp.Navigate(base+"/dashboard/#/bots"), chromedp.WaitVisible(chromedp.CSS(botRow(botName))))
	p.waitJS("still online", stateIs(botName, "ONLINE", "Online"), 10*time.Second)
	p.do("stop", chromedp.Click(chromedp.CSS(botRow(botName)+" [data-testid=stop-bot]")))
	p.waitJS("offline", stateIs(botName, "OFFLINE", "Offline")+` && !document.querySelector(`+jsString(botRow(botName)+" [data-testid=start-bot]")+`).hidden`, 20*time.Second)
	p.screenshot("dashboard-08-offline")

	// Users, skills and profiles pages list what the server holds.
	p.do("users page", chromedp.Click(chromedp.CSS(`#nav a[data-nav=users]`)), chromedp.WaitVisible(chromedp.CSS("#users-table")))
	p.waitJS("bot user listed", `!!document.querySelector('#users-table tr[data-login="echo-bot"]') && !!document.querySelector('#users-table tr[data-login="admin"]')`, 10*time.Second)
	p.screenshot("dashboard-09-users")
	p.do("skills page", chromedp.Click(chromedp.CSS(`#nav a[data-nav=skills]`)), chromedp.WaitVisible(chromedp.CSS("#skill-form")))
	p.do("add skill", chromedp.SendKeys(chromedp.CSS("#skill-name"), "billing"), chromedp.Click(chromedp.CSS("#skill-submit")))
	p.waitJS("skill added", `[...document.querySelectorAll("#skills-table tbody tr")].map(r => r.cells[1].textContent).join() === "bot,human,billing"`, 10*time.Second)
	p.screenshot("dashboard-10-skills")
	p.do("profiles page", chromedp.Click(chromedp.CSS(`#nav a[data-nav=profiles]`)), chromedp.WaitVisible(chromedp.CSS("#profiles-table")))
	p.waitJS("built-in profiles", `["Admin", "Campaign Manager", "Agent Manager", "Agent"].every(n => [...document.querySelectorAll("#profiles-table tbody tr")].some(r => r.cells[0].textContent === n))`, 10*time.Second)
	p.screenshot("dashboard-11-profiles")

	// Surveys: the runs, newest first, with bot names; a run expands to its
	// answers, result and error; the bot filter; the survey bot's page.
	surveyBot := saveSurveys(t, store)
	surveyRow := func(table, conv string) string {
		return fmt.Sprintf(`%s tr[data-testid=survey-row][data-conversation-id=%q]`, table, conv)
	}
	rowsText := `[...document.querySelectorAll("#surveys-table tr[data-testid=survey-row]")].map(r => [...r.cells].map(c => c.textContent).join("|")).join("\n")`
	p.do("surveys page", chromedp.Click(chromedp.CSS(`#nav a[data-nav=surveys]`)), chromedp.WaitVisible(chromedp.CSS("#surveys-table")))
	p.waitJS("survey runs listed", `document.querySelectorAll("#surveys-table tr[data-testid=survey-row]").length === 2 && `+
		rowsText+`.startsWith("conv-survey-2|Demo bot|Error|") && `+rowsText+`.includes("\nconv-survey-1|Feedback bot|Completed|")`, 10*time.Second)
	if got := evalJS[string](p, rowsText); !strings.HasSuffix(got, "|2") || strings.Contains(got, "—|") {
		t.Errorf("survey rows %q: want 2 answers and both end times", got)
	}
	completed := surveyRow("#surveys-table", "conv-survey-1")
	detail := completed + ` + tr[data-testid=survey-detail]`
	p.do("expand the completed run", chromedp.Click(chromedp.CSS(completed)), chromedp.WaitVisible(chromedp.CSS(detail+` [data-testid=survey-result]`)))
	qa := evalJS[[]string](p, fmt.Sprintf(`[...document.querySelectorAll(%s)].map(li => li.querySelector("[data-testid=survey-question]").textContent + " → " + li.querySelector("[data-testid=survey-answer-text]").textContent)`,
		jsString(detail+` [data-testid=survey-answer]`)))
	if want := []string{"How would you rate us, 1 to 5? → 5", "What could we do better? → Answer <b>faster</b>"}; fmt.Sprint(qa) != fmt.Sprint(want) {
		t.Errorf("answers %q, want %q", qa, want)
	}
	if got := evalJS[string](p, `document.querySelector(`+jsString(detail+` [data-testid=survey-result]`)+`).textContent`); got != "{\n  \"rating\": 5,\n  \"comment\": \"Answer <b>faster</b>\"\n}" {
		t.Errorf("result %q", got)
	}
	failed := surveyRow("#surveys-table", "conv-survey-2")
	p.do("expand the failed run", chromedp.Click(chromedp.CSS(failed)),
		chromedp.WaitVisible(chromedp.CSS(failed+` + tr[data-testid=survey-detail] [data-testid=survey-error]`)))
	if got := evalJS[string](p, `document.querySelector(`+jsString(failed+` + tr [data-testid=survey-error]`)+`).textContent`); got != "vendor down" {
		t.Errorf("error %q", got)
	}
	p.screenshot("dashboard-12-surveys")
	p.do("filter by the survey bot", chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector("#survey-bot"); s.value = `+
		jsString(string(surveyBot))+`; s.dispatchEvent(new Event("change")); })()`))
	p.waitJS("only the survey bot's run", `document.querySelectorAll("#surveys-table tr[data-testid=survey-row]").length === 1 && !!document.querySelector(`+jsString(completed)+`)`, 10*time.Second)
	p.do("survey bot page", chromedp.Navigate(base+"/dashboard/#/bots/"+string(surveyBot)), chromedp.WaitVisible(chromedp.CSS("#survey-runs-table")))
	runRow := surveyRow("#survey-runs-table", "conv-survey-1")
	p.do("survey bot's run", chromedp.WaitVisible(chromedp.CSS(runRow)), chromedp.Click(chromedp.CSS(runRow)),
		chromedp.WaitVisible(chromedp.CSS(runRow+` + tr [data-testid=survey-result]`)))
	if got := evalJS[string](p, `document.querySelector(`+jsString(runRow+` + tr [data-testid=survey-answers]`)+`).textContent`); !strings.Contains(got, "What could we do better?") {
		t.Errorf("survey runs panel shows %q", got)
	}
	p.screenshot("dashboard-13-survey-bot")

	if n := evalJS[string](p, `document.body.dataset.cspViolations || "0"`); n != "0" {
		t.Errorf("%s Content-Security-Policy violations on the dashboard", n)
	}
}
