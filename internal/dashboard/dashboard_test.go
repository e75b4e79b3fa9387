package dashboard_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/botrelay/botrelay/internal/dashboard"
)

func get(t *testing.T, srv *httptest.Server, path string) (*http.Response, string) {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}

// TestServing checks the routes, the content types and the security
// headers of the dashboard, and that its page loads nothing from another
// origin and runs no inline script.
func TestServing(t *testing.T) {
	mux := http.NewServeMux()
	dashboard.Routes(mux)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "consumer page") })
	srv := httptest.NewServer(mux)
	defer srv.Close()

	res, _ := get(t, srv, "/dashboard")
	if res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != "/dashboard/" {
		t.Errorf("GET /dashboard: %d to %q, want a redirect to /dashboard/", res.StatusCode, res.Header.Get("Location"))
	}
	if _, body := get(t, srv, "/"); body != "consumer page" {
		t.Errorf("GET / answers %q: the dashboard must leave / to the hub", body)
	}

	res, page := get(t, srv, "/dashboard/")
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /dashboard/: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if got := res.Header.Get("Content-Security-Policy"); got != dashboard.ContentSecurityPolicy ||
		!strings.Contains(got, "script-src 'self'") || strings.Contains(got, "unsafe-inline") {
		t.Errorf("Content-Security-Policy %q", got)
	}
	for _, h := range []string{"X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"} {
		if res.Header.Get(h) == "" {
			t.Errorf("no %s header", h)
		}
	}
	scripts := regexp.MustCompile(`<script([^>]*)>([^<]*)</script>`).FindAllStringSubmatch(page, -1)
	if len(scripts) == 0 {
		t.Error("the page loads no script")
	}
	for _, s := range scripts {
		if !strings.Contains(s[1], `src="/dashboard/`) || strings.TrimSpace(s[2]) != "" {
			t.Errorf("script %q is inline or not from /dashboard/", s[0])
		}
	}
	if regexp.MustCompile(`(?i)(src|href)="(https?:)?//`).MatchString(page) {
		t.Error("the page references another origin")
	}

	for path, ctype := range map[string]string{"/dashboard/app.js": "text/javascript", "/dashboard/style.css": "text/css"} {
		res, body := get(t, srv, path)
		if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), ctype) || body == "" {
			t.Errorf("GET %s: %d %s", path, res.StatusCode, res.Header.Get("Content-Type"))
		}
		if res.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s: no Content-Security-Policy", path)
		}
		if strings.Contains(body, "@import") || strings.Contains(body, "url(http") || strings.Contains(body, "innerHTML") {
			t.Errorf("%s loads remote resources or writes HTML from strings", path)
		}
	}
	if res, _ := get(t, srv, "/dashboard/missing.js"); res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /dashboard/missing.js: %d, want 404", res.StatusCode)
	}
}
