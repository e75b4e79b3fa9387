package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
)

// BenchmarkAuthenticate is the cost credentials add to every API request:
// authenticate reads the session or token by its hash (one primary-key
// read), then the user and its profile, on the database the nodes share
// (SQLite, or PostgreSQL when BOTRELAY_TEST_POSTGRES is set). Run with
// -benchtime and compare with the tree before sessions moved to the store.
func BenchmarkAuthenticate(b *testing.B) {
	d := newSharedDB(b)
	e := d.node()
	ctx := context.Background()
	user := adminID(b, d)
	id, csrf, _, err := e.api.sessions.newSession(ctx, user, e.api.o.SessionTTL)
	if err != nil {
		b.Fatal(err)
	}
	_, tok, err := e.api.sessions.newToken(ctx, user, "bench")
	if err != nil {
		b.Fatal(err)
	}
	cookie := httptest.NewRequest(http.MethodPost, "/api/v1/skills", nil)
	cookie.AddCookie(&http.Cookie{Name: SessionCookie, Value: id})
	cookie.Header.Set(CSRFHeader, csrf)
	bearer := httptest.NewRequest(http.MethodGet, "/api/v1/me", nil)
	bearer.Header.Set("Authorization", "Bearer "+tok)
	for _, c := range []struct {
		name string
		req  *http.Request
	}{{"cookie", cookie}, {"bearer", bearer}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu0 := processCPU()
			for b.Loop() {
				if _, err := e.api.authenticate(c.req); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// processCPU is the process's user and system CPU time in nanoseconds: on a
// loaded machine it varies less than the wall time per operation.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
