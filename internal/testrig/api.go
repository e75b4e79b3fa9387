package testrig

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"testing"
	"time"
)

// API is a user's session on botrelay's REST API (cookie and CSRF token),
// for tests that set data up the way a user would.
type API struct {
	t    testing.TB
	Base string
	hc   *http.Client
	csrf string
}

// LoginAPI logs user in at base (http://host:port) with a password.
func LoginAPI(t testing.TB, base, user, password string) *API {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	a := &API{t: t, Base: base, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
	var out struct {
		CSRFToken string `json:"csrfToken"`
	}
	a.Do(http.MethodPost, "/api/v1/login", map[string]string{"loginName": user, "password": password}, http.StatusOK, &out)
	a.csrf = out.CSRFToken
	return a
}

// Do sends a request with a JSON body (nil for none), fails the test unless
// the answer has status, and decodes the answer into out (unless nil). It
// returns the raw answer.
func (a *API) Do(method, path string, body any, status int, out any) []byte {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.Base+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if a.csrf != "" {
		req.Header.Set("X-CSRF-Token", a.csrf)
	}
	res, err := a.hc.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode != status {
		a.t.Fatalf("%s %s: status %d, want %d: %s", method, path, res.StatusCode, status, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			a.t.Fatalf("%s %s: %v in %s", method, path, err, data)
		}
	}
	return data
}

// ID returns the id of the item called name in the list at path (skills,
// profiles).
func (a *API) ID(path, name string) json.Number {
	a.t.Helper()
	var items []struct {
		ID   json.Number `json:"id"`
		Name string      `json:"name"`
	}
	a.Do(http.MethodGet, path, nil, http.StatusOK, &items)
	for _, it := range items {
		if it.Name == name {
			return it.ID
		}
	}
	a.t.Fatalf("%s has no %q", path, name)
	return ""
}
