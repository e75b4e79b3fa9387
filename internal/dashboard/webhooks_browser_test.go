package dashboard_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/botrelay/botrelay/internal/browsertest"
	"github.com/botrelay/botrelay/internal/testrig"
)

// TestDashboardWebhooks: the admin adds a webhook for conversation.opened
// on the Webhooks page and sees its secret once; a consumer opens a
// conversation; the webhook's delivery log shows the event's delivery,
// still pending because the target does not resolve, with the attempt's
// error.
func TestDashboardWebhooks(t *testing.T) {
	const password = "Hooks-pass-42"
	base, _ := startServer(t, password)
	c := loginAPI(t, base, "admin", password)
	p := &page{t: t, ctx: browsertest.Browser(t, 1280, 1000), dir: browsertest.ArtifactsDir(t)}
	p.do("log in", chromedp.Navigate(base+"/dashboard/#/webhooks"), chromedp.WaitVisible(chromedp.CSS("#login-username")),
		chromedp.SendKeys(chromedp.CSS("#login-username"), "admin"),
		chromedp.SendKeys(chromedp.CSS("#login-password"), password),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#webhook-form")))
	p.do("add a webhook",
		chromedp.SendKeys(chromedp.CSS("#webhook-url"), "https://hooks.invalid/botrelay"),
		chromedp.SendKeys(chromedp.CSS("#webhook-description"), "CRM"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#webhook-events input[value="conversation.opened"]').click()`),
		chromedp.Click(chromedp.CSS("#webhook-submit")))
	p.waitJS("the secret shown", `!!document.querySelector("[data-testid=webhook-secret]") && !document.querySelector("#webhook-created").hidden`, 10*time.Second)
	secret := evalJS[string](p, `document.querySelector("[data-testid=webhook-secret]").textContent`)
	if !strings.HasPrefix(secret, "whsec_") || len(secret) < 40 {
		t.Fatalf("secret shown as %q", secret)
	}
	p.screenshot("dashboard-30-webhook-created")
	var hooks []struct {
		ID     int      `json:"id"`
		URL    string   `json:"url"`
		Events []string `json:"events"`
	}
	c.do(http.MethodGet, "/api/v1/webhooks", nil, http.StatusOK, &hooks)
	if len(hooks) != 1 || hooks[0].URL != "https://hooks.invalid/botrelay" || strings.Join(hooks[0].Events, ",") != "conversation.opened" {
		t.Fatalf("webhooks = %+v", hooks)
	}
	row := evalJS[string](p, `document.querySelector("[data-testid=webhook-row]").textContent`)
	if !strings.Contains(row, "https://hooks.invalid/botrelay") || !strings.Contains(row, "conversation.opened") {
		t.Errorf("webhook row: %s", row)
	}

	consumer := testrig.NewConsumer(t, base, "1000")
	conv := consumer.Open("bot")
	p.do("open the delivery log", chromedp.Click(chromedp.CSS("[data-testid=webhook-deliveries]")),
		chromedp.WaitVisible(chromedp.CSS("#deliveries-table")))
	p.waitJS("the attempt in the log", `[...document.querySelectorAll("[data-testid=delivery-row]")].some(r =>
		r.dataset.type === "conversation.opened" && r.dataset.state === "PENDING" && r.cells[4].textContent !== "0" && r.cells[6].textContent !== "")`,
		30*time.Second)
	p.screenshot("dashboard-31-webhook-deliveries")
	var ds []struct {
		EventID  string `json:"eventId"`
		Attempts int    `json:"attempts"`
	}
	c.do(http.MethodGet, "/api/v1/webhooks/1/deliveries", nil, http.StatusOK, &ds)
	if len(ds) != 1 || ds[0].EventID != conv+":opened" || ds[0].Attempts < 1 {
		t.Fatalf("deliveries = %+v", ds)
	}

	p.do("back to the list", chromedp.Navigate(base+"/dashboard/#/webhooks"), chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS("[data-testid=webhook-row]")))
	if strings.Contains(evalJS[string](p, `document.body.innerHTML`), secret) {
		t.Error("the secret is still on the page after a reload")
	}
}
