package dashboard_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/function"
	"github.com/botrelay/botrelay/internal/browsertest"
)

// dummyVendor is a vendor connector that exists only in this test: a new
// vendor needs nothing but its package and its registration to appear in
// the API and the dashboard (issue 16, acceptance 2).
type dummyVendor struct{}

func (dummyVendor) Info() botrelay.VendorInfo {
	return botrelay.VendorInfo{ID: "dummy_vendor", DisplayName: "Dummy Vendor", Secrets: []string{"apiToken"},
		Endpoint: []string{"baseUrl"}, Errors: botrelay.VendorErrors{Timeout: "aivendor.dummy_vendor.send",
			Codes: []string{"aivendor.dummy_vendor.send"}}}
}

func (dummyVendor) NewBot(json.RawMessage, botrelay.BotEnv) (botrelay.VendorBot, error) {
	return dummyBot{}, nil
}

type dummyBot struct{}

func (dummyBot) Converse(context.Context, *botrelay.Turn) (*botrelay.Reply, error) {
	return &botrelay.Reply{Items: []botrelay.Item{{Message: &botrelay.Message{Text: "dummy"}}}}, nil
}

// vendorsOf fetches GET /api/v1/vendors as the admin (cookie login).
func vendorsOf(t *testing.T, base, password string) []map[string]any {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	resp, err := hc.Get(base + "/api/v1/vendors")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/vendors without a login: status %d, want 401", resp.StatusCode)
	}
	resp, err = hc.Post(base+"/api/v1/login", "application/json",
		strings.NewReader(`{"loginName":"admin","password":`+jsString(password)+`}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login: status %d", resp.StatusCode)
	}
	resp, err = hc.Get(base + "/api/v1/vendors")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v1/vendors: status %d", resp.StatusCode)
	}
	var out []map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestNewVendorAppearsInAPIAndWizard registers a vendor the server has never
// heard of and finds it, with its secrets and endpoint settings, in
// GET /api/v1/vendors and in the Add Bot wizard's vendor list.
func TestNewVendorAppearsInAPIAndWizard(t *testing.T) {
	const password = "Vendor-pass-42"
	base, _ := startServerWith(t, password, function.Connector{}, dummyVendor{})

	var dummy map[string]any
	for _, v := range vendorsOf(t, base, password) {
		if v["id"] == "dummy_vendor" {
			dummy = v
		}
	}
	want := map[string]any{"id": "dummy_vendor", "displayName": "Dummy Vendor", "secrets": []any{"apiToken"},
		"endpoint": []any{"baseUrl"}, "survey": false, "surveyOnly": false, "fields": []any{}}
	if !reflect.DeepEqual(dummy, want) {
		t.Fatalf("GET /api/v1/vendors lists dummy_vendor as %v, want %v", dummy, want)
	}

	p := &page{t: t, ctx: browsertest.Browser(t, 1280, 900), dir: browsertest.ArtifactsDir(t)}
	browsertest.FailOnCSPViolations(t, p.ctx, "dashboard")
	p.do("log in", chromedp.Navigate(base+"/dashboard"), chromedp.WaitVisible(chromedp.CSS("#login-username")),
		chromedp.SendKeys(chromedp.CSS("#login-username"), "admin"),
		chromedp.SendKeys(chromedp.CSS("#login-password"), password),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#bots-table")))
	p.do("open wizard", chromedp.Click(chromedp.CSS("#add-bot")), chromedp.WaitVisible(chromedp.CSS(`#wizard[data-step="1"]`)))
	p.do("agent bot", chromedp.Click(chromedp.CSS("#type-agent")), chromedp.Click(chromedp.CSS("#wizard-next")),
		chromedp.WaitVisible(chromedp.CSS(`#wizard[data-step="2"]`)))
	p.do("new bot user",
		chromedp.Click(chromedp.CSS("#agent-new")),
		chromedp.SendKeys(chromedp.CSS("#new-user-login"), "dummy-bot"),
		chromedp.SendKeys(chromedp.CSS("#new-user-nickname"), "Dummy bot"))
	p.do("to step 3", chromedp.Click(chromedp.CSS("#wizard-next")), chromedp.WaitVisible(chromedp.CSS(`#wizard[data-step="3"]`)))
	p.do("to step 4", chromedp.Click(chromedp.CSS("#wizard-next")), chromedp.WaitVisible(chromedp.CSS(`#wizard[data-step="4"]`)))

	options := evalJS[[]string](p, `[...document.querySelectorAll("#vendor option")].map(o => o.value + "=" + o.textContent)`)
	if !contains(options, "dummy_vendor=Dummy Vendor (dummy_vendor)") || !contains(options, "function=JavaScript function (function)") {
		t.Fatalf("the wizard's vendors are %q, want the function vendor and Dummy Vendor (dummy_vendor)", options)
	}
	p.do("choose the dummy vendor",
		chromedp.SetValue(chromedp.CSS("#vendor"), "dummy_vendor"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#vendor").dispatchEvent(new Event("change"))`))
	p.waitJS("its credentials named", `document.querySelector("#vendor") && document.querySelector("#vendor").value === "dummy_vendor" && document.body.textContent.includes("Credentials (apiToken) are stored encrypted")`, 5*time.Second)
	p.screenshot("dashboard-dummy-vendor")
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
