package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// specChecker checks responses against the embedded OpenAPI document.
type specChecker struct {
	doc      *openapi3.T
	patterns *http.ServeMux // the route table's patterns, to find a request's operation
}

func newSpecChecker(t testing.TB, a *API) *specChecker {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(openAPI)
	if err != nil {
		t.Fatalf("load openapi.json: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not valid: %v", err)
	}
	c := &specChecker{doc: doc, patterns: http.NewServeMux()}
	for _, rt := range append(a.RouteTable(), a.PublicRouteTable()...) {
		c.patterns.HandleFunc(rt.Method+" "+rt.Pattern, func(http.ResponseWriter, *http.Request) {})
	}
	return c
}

// check returns an error when the document does not describe the response.
func (c *specChecker) check(req *http.Request, status int, body []byte) error {
	_, pattern := c.patterns.Handler(req)
	if pattern == "" {
		return nil
	}
	method, path, _ := strings.Cut(pattern, " ")
	item := c.doc.Paths.Value(path)
	if item == nil || item.GetOperation(method) == nil {
		return fmt.Errorf("openapi: %s is not documented", pattern)
	}
	op := item.GetOperation(method)
	resp := op.Responses.Status(status)
	if resp == nil {
		resp = op.Responses.Default()
	}
	if resp == nil {
		return fmt.Errorf("openapi: %s: status %d is not documented", pattern, status)
	}
	media := resp.Value.Content.Get("application/json")
	if media == nil {
		if len(body) != 0 {
			return fmt.Errorf("openapi: %s %d: documented without a body, got %s", pattern, status, body)
		}
		return nil
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("openapi: %s %d: body is not JSON: %v", pattern, status, err)
	}
	if err := media.Schema.Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		return fmt.Errorf("openapi: %s %d: %v\nbody: %s", pattern, status, err, body)
	}
	return nil
}

// TestSpecCheckerCatchesDrift makes sure the checker is not vacuous.
func TestSpecCheckerCatchesDrift(t *testing.T) {
	c := newSpecChecker(t, &API{})
	req := httptest.NewRequest(http.MethodGet, "/api/v1/skills/1", nil)
	good := `{"id":1,"name":"bot","description":"","postSurvey":false,"createdAt":"2026-01-01T00:00:00Z","updatedAt":"2026-01-01T00:00:00Z"}`
	if err := c.check(req, http.StatusOK, []byte(good)); err != nil {
		t.Errorf("valid skill refused: %v", err)
	}
	for name, body := range map[string]string{
		"extra field":   strings.Replace(good, `"id":1`, `"id":1,"secret":"x"`, 1),
		"missing field": strings.Replace(good, `"name":"bot",`, ``, 1),
		"wrong type":    strings.Replace(good, `"id":1`, `"id":"1"`, 1),
	} {
		if err := c.check(req, http.StatusOK, []byte(body)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := c.check(req, http.StatusNotFound, []byte(`{"error":{"code":"nope","message":"x"}}`)); err == nil {
		t.Error("unknown error code accepted")
	}
}

func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	a := &API{}
	c := newSpecChecker(t, a)
	n := 0
	for _, rt := range append(a.RouteTable(), a.PublicRouteTable()...) {
		item := c.doc.Paths.Value(rt.Pattern)
		if item == nil || item.GetOperation(rt.Method) == nil {
			t.Errorf("%s %s is not in openapi.json", rt.Method, rt.Pattern)
			continue
		}
		if got := item.GetOperation(rt.Method).Extensions["x-permission"]; got != string(rt.Perm) {
			t.Errorf("%s %s: x-permission %v, want %s", rt.Method, rt.Pattern, got, rt.Perm)
		}
		n++
	}
	ops := 0
	for _, item := range c.doc.Paths.Map() {
		ops += len(item.Operations())
	}
	if ops != n {
		t.Errorf("openapi.json has %d operations, the route table %d", ops, n)
	}
}
