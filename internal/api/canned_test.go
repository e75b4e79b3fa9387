package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/botrelay/botrelay"
)

// cannedFixtures are the canned-reply routes' entries of fixtures().
func cannedFixtures() map[string]fixture {
	fresh := func(e *env) string { return fmt.Sprintf("/api/v1/canned-replies/%d", e.newCanned()) }
	return map[string]fixture{
		"GET /api/v1/canned-replies": func(*env, *botrelay.User) (string, any) { return "/api/v1/canned-replies", nil },
		"POST /api/v1/canned-replies": func(e *env, _ *botrelay.User) (string, any) {
			return "/api/v1/canned-replies", map[string]any{"title": e.unique("greet"), "text": "Hello!"}
		},
		"GET /api/v1/canned-replies/{id}":    func(e *env, _ *botrelay.User) (string, any) { return fresh(e), nil },
		"DELETE /api/v1/canned-replies/{id}": func(e *env, _ *botrelay.User) (string, any) { return fresh(e), nil },
		"PUT /api/v1/canned-replies/{id}": func(e *env, _ *botrelay.User) (string, any) {
			return fresh(e), map[string]any{"title": e.unique("bye"), "text": "Goodbye!"}
		},
	}
}

func (e *env) newCanned() botrelay.CannedReplyID {
	var c cannedJSON
	e.admin(http.MethodPost, "/api/v1/canned-replies", map[string]any{"title": e.unique("canned"), "text": "Some text"},
		http.StatusCreated).decode(e.t, &c)
	return c.ID
}

// wantError checks an error response: status and the JSON body's code and
// message.
func wantError(t *testing.T, r resp, status int, code, msgPart string) {
	t.Helper()
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	r.decode(t, &body)
	if r.status != status || body.Error.Code != code || !strings.Contains(body.Error.Message, msgPart) {
		t.Errorf("got %d %s, want %d with code %q and a message containing %q", r.status, r.body, status, code, msgPart)
	}
}

// TestCannedReplies: an admin adds, lists, edits and deletes canned
// replies; an agent reads them but cannot change them; bad input is a 400
// and an unknown id a 404, both with the JSON error body.
func TestCannedReplies(t *testing.T) {
	e := newEnv(t)
	agent := e.tokens["Agent"]

	var list []cannedJSON
	e.do(nil, http.MethodGet, "/api/v1/canned-replies", agent, nil).decode(t, &list)
	if list == nil || len(list) != 0 {
		t.Fatalf("new account lists %v, want []", list)
	}

	var hello, refund cannedJSON
	e.admin(http.MethodPost, "/api/v1/canned-replies", map[string]any{"title": " Hello ", "text": "Hi, I'm here to help."}, http.StatusCreated).decode(t, &hello)
	e.admin(http.MethodPost, "/api/v1/canned-replies", map[string]any{"title": "Refund", "text": "Refunds take 5 days."}, http.StatusCreated).decode(t, &refund)
	if hello.ID == 0 || hello.Title != "Hello" || hello.Text != "Hi, I'm here to help." || hello.CreatedAt == "" {
		t.Fatalf("created %+v", hello)
	}

	r := e.do(nil, http.MethodGet, "/api/v1/canned-replies", agent, nil)
	r.decode(t, &list)
	if r.status != http.StatusOK || len(list) != 2 || list[0].Title != "Hello" || list[1].Title != "Refund" {
		t.Fatalf("agent's list: %d %s", r.status, r.body)
	}
	var one cannedJSON
	e.do(nil, http.MethodGet, fmt.Sprintf("/api/v1/canned-replies/%d", refund.ID), agent, nil).decode(t, &one)
	if one != refund {
		t.Errorf("GET one = %+v, want %+v", one, refund)
	}

	// An agent may not change them.
	wantError(t, e.do(nil, http.MethodPost, "/api/v1/canned-replies", agent, map[string]any{"title": "x", "text": "y"}),
		http.StatusForbidden, botrelay.EFORBIDDEN, "canned:manage")
	wantError(t, e.do(nil, http.MethodDelete, fmt.Sprintf("/api/v1/canned-replies/%d", hello.ID), agent, nil),
		http.StatusForbidden, botrelay.EFORBIDDEN, "canned:manage")
	// Nobody anonymous reads them.
	if r := e.do(nil, http.MethodGet, "/api/v1/canned-replies", "", nil); r.status != http.StatusUnauthorized {
		t.Errorf("anonymous list: %d %s", r.status, r.body)
	}

	// Edit.
	var edited cannedJSON
	e.admin(http.MethodPut, fmt.Sprintf("/api/v1/canned-replies/%d", hello.ID), map[string]any{"title": "Welcome", "text": "Welcome to Acme!"}, http.StatusOK).decode(t, &edited)
	if edited.ID != hello.ID || edited.Title != "Welcome" || edited.Text != "Welcome to Acme!" || edited.CreatedAt != hello.CreatedAt {
		t.Errorf("edited %+v", edited)
	}

	// Bad input: 400 with the rule; a taken title: 409.
	wantError(t, e.admin(http.MethodPost, "/api/v1/canned-replies", map[string]any{"title": "", "text": "y"}, http.StatusBadRequest),
		http.StatusBadRequest, botrelay.EINVALID, "title must be 1 to 80 characters")
	wantError(t, e.admin(http.MethodPost, "/api/v1/canned-replies", map[string]any{"title": "t", "text": strings.Repeat("a", 4001)}, http.StatusBadRequest),
		http.StatusBadRequest, botrelay.EINVALID, "text must be 1 to 4000 characters")
	wantError(t, e.admin(http.MethodPost, "/api/v1/canned-replies", map[string]any{"title": "t", "text": "y", "extra": 1}, http.StatusBadRequest),
		http.StatusBadRequest, botrelay.EINVALID, "extra")
	wantError(t, e.admin(http.MethodPut, fmt.Sprintf("/api/v1/canned-replies/%d", refund.ID), map[string]any{"title": "WELCOME", "text": "y"}, http.StatusConflict),
		http.StatusConflict, botrelay.ECONFLICT, `"WELCOME" already exists`)

	// Unknown and malformed ids: 404 (as for every other resource).
	wantError(t, e.admin(http.MethodGet, "/api/v1/canned-replies/999999", nil, http.StatusNotFound),
		http.StatusNotFound, botrelay.ENOTFOUND, "canned reply 999999 not found")
	wantError(t, e.admin(http.MethodPut, "/api/v1/canned-replies/999999", map[string]any{"title": "a", "text": "b"}, http.StatusNotFound),
		http.StatusNotFound, botrelay.ENOTFOUND, "not found")
	wantError(t, e.admin(http.MethodGet, "/api/v1/canned-replies/abc", nil, http.StatusNotFound),
		http.StatusNotFound, botrelay.ENOTFOUND, `id "abc" does not exist`)

	// Delete.
	e.admin(http.MethodDelete, fmt.Sprintf("/api/v1/canned-replies/%d", hello.ID), nil, http.StatusNoContent)
	wantError(t, e.admin(http.MethodDelete, fmt.Sprintf("/api/v1/canned-replies/%d", hello.ID), nil, http.StatusNotFound),
		http.StatusNotFound, botrelay.ENOTFOUND, "not found")
	e.do(nil, http.MethodGet, "/api/v1/canned-replies", agent, nil).decode(t, &list)
	if len(list) != 1 || list[0].ID != refund.ID {
		t.Errorf("after delete: %+v", list)
	}
}
