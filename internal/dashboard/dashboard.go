// Package dashboard is botrelay's management dashboard: a single page of
// plain HTML, CSS and JavaScript (no build step, nothing from another
// origin) served at /dashboard/, that does everything through the REST API
// under /api/v1 with the session cookie and the CSRF header.
//
// Pages (hash routes of the one page): the bot table (#/bots) with start
// and stop, the Add Bot wizard (#/bots/new), a bot's page (#/bots/{id})
// with its status dashboard, error log, open conversations, the
// conversation tester and (survey bots) its survey runs, its edit page
// (#/bots/{id}/edit) and figures (#/bots/{id}/stats), the survey runs
// page (#/surveys), the users, skills and profiles pages, the canned
// replies page (#/canned), and the webhooks page (#/webhooks,
// static/webhooks.js) with each subscription's delivery log
// (#/webhooks/{id}). docs/dashboard.md describes them.
//
// The consumer page (/) and the agent console (/agent) of the hub are
// separate; the dashboard does not touch their paths.
//
// Elements that tests rely on carry stable ids and data-testid attributes:
// the login form (#login-username, #login-password, #login-submit,
// #login-error), the bot table (#bots-table, rows [data-testid=bot-row]
// with data-bot-id and data-name, [data-testid=bot-state] with data-state,
// [data-testid=start-bot], [data-testid=stop-bot]), the wizard (#add-bot,
// #wizard [data-step], #wizard-next, #wizard-back, #wizard-create, and the
// fields named in static/app.js), the tester (#tester-input,
// #tester-send, #tester-start, #tester-log with [data-testid=tester-turn]),
// and the survey runs (#surveys-table on the Surveys page with the filters
// #survey-bot and #survey-conversation, #survey-runs-table on a survey
// bot's page; rows [data-testid=survey-row] with data-conversation-id,
// data-dialog-id, data-bot-id and data-state, each followed by its
// [data-testid=survey-detail] row with [data-testid=survey-answer] items,
// [data-testid=survey-result] and [data-testid=survey-error]), and the
// Conversations page (#/conversations, static/conversations.js: the form
// #conversation-search with #conv-consumer, #conv-bot, #conv-skill,
// #conv-state, #conv-from, #conv-to and #conv-search; #conversations-table
// rows [data-testid=conversation-row] with data-conversation-id;
// #conversations-more; the transcript #transcript of li items with
// data-kind message, event or botError, messages with data-author and
// data-private, [data-testid=rich-content], [data-testid=quick-reply] and
// [data-testid=private-note]).
//
// The bot edit page (#/bots/{id}/edit, static/botpages.js) has #edit-form
// with #edit-name, #edit-escalation-skill, #edit-msg-consumer,
// #edit-msg-agent, #edit-msg-failure, #edit-welcome (agent bots) or
// #edit-survey-skills and #edit-survey-error (survey bots), #edit-save and
// #edit-error, or #edit-refused with [data-testid=edit-refused-message]
// and #edit-stop while the bot runs. Generated vendor forms (wizard and
// edit) are #vendor-form with one input #vf-{key} per setting (the
// function vendor's code keeps #function-code),
// [data-testid=secret-state][data-key] and #vf-{key}-clear for secrets,
// the #vendor-raw toggle and its #vendor-settings JSON box. The figures
// page (#/bots/{id}/stats) has #stats-range, the totals
// [data-testid=total-{handled,closed,transferred,escalated,containment,
// p50,p95,uptime}] and the SVG charts #chart-conversations,
// #chart-containment, #chart-latency, #chart-uptime and #chart-errors,
// whose circles carry data-series, data-at and data-value.
//
// The canned replies page (#/canned) has #canned-table with rows
// [data-testid=canned-row] and data-canned-id, [data-testid=canned-title], [data-testid=canned-text],
// [data-testid=edit-canned], [data-testid=delete-canned]; the form
// #canned-form with #canned-title, #canned-text, #canned-submit,
// #canned-cancel and #canned-error).
// Webhooks page (#webhooks-table with rows [data-testid=webhook-row] and
// data-webhook-id, [data-testid=webhook-deliveries] links, #webhook-form
// with #webhook-url, #webhook-description, #webhook-events and
// #webhook-submit, the once-shown [data-testid=webhook-secret], and the log
// #deliveries-table with rows [data-testid=delivery-row], data-state and
// data-type).
package dashboard

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var files embed.FS

// assets is the file tree served under /dashboard/.
var assets, _ = fs.Sub(files, "static")

// ContentSecurityPolicy is sent with every dashboard response: scripts,
// styles and everything else come from botrelay itself, nothing inline.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

// Routes registers the dashboard on mux: GET /dashboard redirects to
// /dashboard/, which serves the page; its assets are below it.
func Routes(mux *http.ServeMux) {
	mux.Handle("GET /dashboard", http.RedirectHandler("/dashboard/", http.StatusMovedPermanently))
	mux.Handle("GET /dashboard/", Handler())
}

// Handler serves the dashboard page at its root and the assets below it;
// mount it at /dashboard/.
func Handler() http.Handler {
	files := http.StripPrefix("/dashboard/", http.FileServerFS(assets))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		if r.URL.Path == "/dashboard/" {
			b, err := fs.ReadFile(assets, "index.html")
			if err != nil {
				http.NotFound(w, r)
				return
			}
			h.Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write(b)
			return
		}
		if r.URL.Path == "/dashboard/index.html" {
			http.Redirect(w, r, "/dashboard/", http.StatusMovedPermanently)
			return
		}
		files.ServeHTTP(w, r)
	})
}
