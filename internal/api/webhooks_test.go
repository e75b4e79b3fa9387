package api

import (
	"fmt"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
)

// withWebhookFixtures adds the webhook routes' fixtures to fx.
func withWebhookFixtures(fx map[string]fixture) map[string]fixture {
	hook := func(e *env, suffix string) string {
		return fmt.Sprintf("/api/v1/webhooks/%d%s", e.newWebhook().ID, suffix)
	}
	maps.Copy(fx, map[string]fixture{
		"GET /api/v1/webhooks": func(*env, *botrelay.User) (string, any) { return "/api/v1/webhooks", nil },
		"POST /api/v1/webhooks": func(*env, *botrelay.User) (string, any) {
			return "/api/v1/webhooks", map[string]any{"url": "https://hooks.example.com/in"}
		},
		"GET /api/v1/webhooks/{id}": func(e *env, _ *botrelay.User) (string, any) { return hook(e, ""), nil },
		"PUT /api/v1/webhooks/{id}": func(e *env, _ *botrelay.User) (string, any) {
			return hook(e, ""), map[string]any{"url": "https://hooks.example.com/other", "events": []string{"conversation.closed"}}
		},
		"DELETE /api/v1/webhooks/{id}":             func(e *env, _ *botrelay.User) (string, any) { return hook(e, ""), nil },
		"POST /api/v1/webhooks/{id}/rotate-secret": func(e *env, _ *botrelay.User) (string, any) { return hook(e, "/rotate-secret"), nil },
		"GET /api/v1/webhooks/{id}/deliveries":     func(e *env, _ *botrelay.User) (string, any) { return hook(e, "/deliveries"), nil },
	})
	return fx
}

// newWebhook creates a subscription as the admin.
func (e *env) newWebhook() webhookJSON {
	var w webhookJSON
	e.admin(http.MethodPost, "/api/v1/webhooks", map[string]any{"url": "https://hooks.example.com/" + e.unique("h")},
		http.StatusCreated).decode(e.t, &w)
	return w
}

func TestWebhookCRUD(t *testing.T) {
	e := newEnv(t)
	var created webhookJSON
	e.admin(http.MethodPost, "/api/v1/webhooks", map[string]any{"url": "https://crm.example.com/botrelay", "description": "CRM",
		"events": []string{"conversation.closed", "conversation.escalated"}}, http.StatusCreated).decode(t, &created)
	if !strings.HasPrefix(created.Secret, "whsec_") || len(created.Secret) < 40 || !created.Enabled ||
		fmt.Sprint(created.Events) != "[conversation.closed conversation.escalated]" || created.PreviousSecretExpiresAt != nil {
		t.Fatalf("created = %+v", created)
	}
	path := fmt.Sprintf("/api/v1/webhooks/%d", created.ID)
	// The secret is shown once: never in a read or a list.
	for _, p := range []string{path, "/api/v1/webhooks"} {
		if r := e.admin(http.MethodGet, p, nil, http.StatusOK); strings.Contains(string(r.body), created.Secret) ||
			strings.Contains(string(r.body), `"secret"`) {
			t.Fatalf("GET %s shows the secret: %s", p, r.body)
		}
	}
	var edited webhookJSON
	e.admin(http.MethodPut, path, map[string]any{"url": "https://crm.example.com/v2", "enabled": false}, http.StatusOK).decode(t, &edited)
	if edited.URL != "https://crm.example.com/v2" || edited.Enabled || len(edited.Events) != 0 || edited.Secret != "" {
		t.Fatalf("edited = %+v", edited)
	}

	var rotated webhookJSON
	e.admin(http.MethodPost, path+"/rotate-secret", map[string]any{"overlapSeconds": 3600}, http.StatusOK).decode(t, &rotated)
	if rotated.Secret == "" || rotated.Secret == created.Secret || rotated.PreviousSecretExpiresAt == nil {
		t.Fatalf("rotated = %+v", rotated)
	}
	until, err := time.Parse(time.RFC3339Nano, *rotated.PreviousSecretExpiresAt)
	if err != nil || time.Until(until) < 59*time.Minute || time.Until(until) > time.Hour {
		t.Fatalf("previous secret expires at %v, want in an hour", until)
	}
	e.admin(http.MethodPost, path+"/rotate-secret", map[string]any{"overlapSeconds": 0}, http.StatusOK).decode(t, &rotated)
	if rotated.PreviousSecretExpiresAt != nil {
		t.Fatalf("overlap 0 keeps the previous secret until %s", *rotated.PreviousSecretExpiresAt)
	}
	if r := e.admin(http.MethodGet, path+"/deliveries", nil, http.StatusOK); string(r.body) != "[]\n" {
		t.Fatalf("deliveries = %s", r.body)
	}
	e.admin(http.MethodDelete, path, nil, http.StatusNoContent)
	e.admin(http.MethodGet, path, nil, http.StatusNotFound)
}

func TestWebhookBadInput(t *testing.T) {
	e := newEnv(t)
	w := e.newWebhook()
	path := fmt.Sprintf("/api/v1/webhooks/%d", w.ID)
	for _, c := range []struct {
		method, path string
		body         any
		status       int
		want         string
	}{
		{"POST", "/api/v1/webhooks", map[string]any{"url": "ftp://x.example.com"}, 400,
			`{"error":{"code":"invalid","message":"url must be an absolute http:// or https:// URL of at most 2048 bytes"}}`},
		{"POST", "/api/v1/webhooks", map[string]any{"url": "https://x.example.com", "events": []string{"conversation.deleted"}}, 400,
			`{"error":{"code":"invalid","message":"event kind \"conversation.deleted\" is not known"}}`},
		{"POST", "/api/v1/webhooks", map[string]any{"url": "http://127.0.0.1:9000/hook"}, 400,
			`{"error":{"code":"invalid","message":"url must not point at a loopback, private or link-local address (127.0.0.1); the operator can allow private targets with webhooks.allow_private_targets"}}`},
		{"POST", "/api/v1/webhooks", map[string]any{"url": "http://169.254.169.254/latest/meta-data"}, 400,
			`{"error":{"code":"invalid","message":"url must not point at a loopback, private or link-local address (169.254.169.254); the operator can allow private targets with webhooks.allow_private_targets"}}`},
		{"POST", "/api/v1/webhooks", map[string]any{"url": "http://localhost/hook"}, 400,
			`{"error":{"code":"invalid","message":"url must not point at this machine (localhost); the operator can allow private targets with webhooks.allow_private_targets"}}`},
		{"POST", "/api/v1/webhooks", map[string]any{"url": "https://x.example.com", "secret": "mine"}, 400,
			`{"error":{"code":"invalid","message":"invalid JSON body: unknown field \"secret\""}}`},
		{"POST", path + "/rotate-secret", map[string]any{"overlapSeconds": -1}, 400,
			`{"error":{"code":"invalid","message":"overlapSeconds must be between 0 and 604800 (7 days)"}}`},
		{"GET", path + "/deliveries?state=LOST", nil, 400,
			`{"error":{"code":"invalid","message":"state must be PENDING, DELIVERED or FAILED"}}`},
		{"GET", "/api/v1/webhooks/999999", nil, 404, `{"error":{"code":"not_found","message":"webhook 999999 not found"}}`},
	} {
		r := e.admin(c.method, c.path, c.body, c.status)
		if got := strings.TrimSpace(string(r.body)); got != c.want {
			t.Errorf("%s %s: %s\nwant %s", c.method, c.path, got, c.want)
		}
	}
}
