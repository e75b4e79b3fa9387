package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
)

// The management API's sessions and personal access tokens.

func testAPISessions(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	s, b := seeded(t, newDB)
	u := newUser(t, s, "sess-user", botrelay.UserHuman)
	t0 := time.Date(2026, 12, 6, 9, 0, 0, 123456789, time.UTC)
	a := &botrelay.APISession{IDHash: "h-a", UserID: u.ID, CSRFHash: "c-a", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	must(t, s.CreateAPISession(ctx, a))
	want := botrelay.APISession{IDHash: "h-a", UserID: u.ID, CSRFHash: "c-a", CreatedAt: t0.Truncate(time.Millisecond),
		ExpiresAt: t0.Add(time.Hour).Truncate(time.Millisecond), LastSeenAt: t0.Truncate(time.Millisecond)}
	got, err := s.APISession(ctx, "h-a")
	must(t, err)
	if *got != want || *a != want {
		t.Fatalf("APISession = %+v, filled in %+v; want %+v", got, a, want)
	}
	wantCode(t, s.CreateAPISession(ctx, &botrelay.APISession{IDHash: "h-a", UserID: u.ID, CSRFHash: "x", ExpiresAt: t0}), botrelay.ECONFLICT)
	wantCode(t, s.CreateAPISession(ctx, &botrelay.APISession{IDHash: "h-x", UserID: 999999, CSRFHash: "x", ExpiresAt: t0}), botrelay.EINVALID)
	wantCode(t, s.CreateAPISession(ctx, &botrelay.APISession{IDHash: "", UserID: u.ID, CSRFHash: "x", ExpiresAt: t0}), botrelay.EINVALID)
	_, err = s.APISession(ctx, "h-none")
	wantCode(t, err, botrelay.ENOTFOUND)

	seen := t0.Add(10 * time.Minute)
	must(t, s.TouchAPISession(ctx, "h-a", seen))
	must(t, s.TouchAPISession(ctx, "h-none", seen)) // gone is not an error
	if got, err = s.APISession(ctx, "h-a"); err != nil || !got.LastSeenAt.Equal(seen.Truncate(time.Millisecond)) {
		t.Fatalf("after touch: %+v, %v", got, err)
	}

	// Expired sessions are returned until swept; the sweep takes only them.
	must(t, s.CreateAPISession(ctx, &botrelay.APISession{IDHash: "h-old", UserID: u.ID, CSRFHash: "c", CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}))
	must(t, s.CreateAPISession(ctx, &botrelay.APISession{IDHash: "h-admin", UserID: b.Admin.ID, CSRFHash: "c", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	if _, err := s.APISession(ctx, "h-old"); err != nil {
		t.Fatalf("expired session before the sweep: %v", err)
	}
	n, err := s.DeleteExpiredAPISessions(ctx, t0.Add(30*time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("DeleteExpiredAPISessions = %d, %v; want 1", n, err)
	}
	_, err = s.APISession(ctx, "h-old")
	wantCode(t, err, botrelay.ENOTFOUND)

	must(t, s.DeleteAPISession(ctx, "h-a"))
	must(t, s.DeleteAPISession(ctx, "h-a")) // twice is not an error
	_, err = s.APISession(ctx, "h-a")
	wantCode(t, err, botrelay.ENOTFOUND)
	if _, err := s.APISession(ctx, "h-admin"); err != nil {
		t.Fatalf("another user's session went: %v", err)
	}
}

func testAPITokens(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	s, b := seeded(t, newDB)
	u := newUser(t, s, "tok-user", botrelay.UserHuman)
	t0 := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	for _, id := range []string{"t2", "t1", "t3"} {
		at := t0
		if id == "t3" {
			at = t0.Add(time.Second)
		}
		must(t, s.CreateAPIToken(ctx, &botrelay.APIToken{ID: id, Hash: "hash-" + id, UserID: u.ID, Description: "d" + id, CreatedAt: at}))
	}
	must(t, s.CreateAPIToken(ctx, &botrelay.APIToken{ID: "ta", Hash: "hash-ta", UserID: b.Admin.ID, CreatedAt: t0}))
	wantCode(t, s.CreateAPIToken(ctx, &botrelay.APIToken{ID: "t1", Hash: "hash-new", UserID: u.ID}), botrelay.ECONFLICT)
	wantCode(t, s.CreateAPIToken(ctx, &botrelay.APIToken{ID: "t9", Hash: "hash-t1", UserID: u.ID}), botrelay.ECONFLICT)
	wantCode(t, s.CreateAPIToken(ctx, &botrelay.APIToken{ID: "t9", Hash: "hash-t9", UserID: 999999}), botrelay.EINVALID)
	wantCode(t, s.CreateAPIToken(ctx, &botrelay.APIToken{ID: "", Hash: "hash-t9", UserID: u.ID}), botrelay.EINVALID)

	got, err := s.APIToken(ctx, "hash-t1")
	must(t, err)
	want := botrelay.APIToken{ID: "t1", Hash: "hash-t1", UserID: u.ID, Description: "dt1", CreatedAt: t0}
	if *got != want {
		t.Fatalf("APIToken = %+v, want %+v", got, want)
	}
	_, err = s.APIToken(ctx, "hash-none")
	wantCode(t, err, botrelay.ENOTFOUND)
	used := t0.Add(time.Hour)
	must(t, s.TouchAPIToken(ctx, "hash-t1", used))
	must(t, s.TouchAPIToken(ctx, "hash-none", used))
	if got, err = s.APIToken(ctx, "hash-t1"); err != nil || !got.LastUsedAt.Equal(used) {
		t.Fatalf("after touch: %+v, %v", got, err)
	}

	list, err := s.APITokens(ctx, u.ID)
	must(t, err)
	if ids := tokenIDs(list); ids != "t1 t2 t3" {
		t.Fatalf("APITokens = %q, want oldest first, then by id: \"t1 t2 t3\"", ids)
	}
	if list, err := s.APITokens(ctx, 999999); err != nil || len(list) != 0 {
		t.Fatalf("APITokens of nobody = %v, %v", list, err)
	}

	// A user revokes only its own tokens.
	wantCode(t, s.DeleteAPIToken(ctx, u.ID, "ta"), botrelay.ENOTFOUND)
	must(t, s.DeleteAPIToken(ctx, u.ID, "t2"))
	wantCode(t, s.DeleteAPIToken(ctx, u.ID, "t2"), botrelay.ENOTFOUND)
	_, err = s.APIToken(ctx, "hash-t2")
	wantCode(t, err, botrelay.ENOTFOUND)
	if _, err := s.APIToken(ctx, "hash-ta"); err != nil {
		t.Fatalf("admin's token: %v", err)
	}
}

func tokenIDs(list []*botrelay.APIToken) string {
	out := ""
	for i, t := range list {
		if i > 0 {
			out += " "
		}
		out += t.ID
	}
	return out
}

// testAPICredentialsRevoke: revoking a user, or deleting it, ends its
// sessions and tokens and nobody else's.
func testAPICredentialsRevoke(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	s, b := seeded(t, newDB)
	exp := time.Now().Add(time.Hour)
	add := func(u botrelay.UserID, key string) {
		t.Helper()
		must(t, s.CreateAPISession(ctx, &botrelay.APISession{IDHash: "s-" + key, UserID: u, CSRFHash: "c", ExpiresAt: exp}))
		must(t, s.CreateAPIToken(ctx, &botrelay.APIToken{ID: key, Hash: "t-" + key, UserID: u}))
	}
	gone := func(key string, wantGone bool) {
		t.Helper()
		_, errS := s.APISession(ctx, "s-"+key)
		_, errT := s.APIToken(ctx, "t-"+key)
		for _, err := range []error{errS, errT} {
			if wantGone {
				wantCode(t, err, botrelay.ENOTFOUND)
			} else {
				must(t, err)
			}
		}
	}
	u1 := newUser(t, s, "rev-1", botrelay.UserHuman)
	u2 := newUser(t, s, "rev-2", botrelay.UserHuman)
	add(u1.ID, "u1a")
	add(u1.ID, "u1b")
	add(u2.ID, "u2")
	add(b.Admin.ID, "admin")
	must(t, s.RevokeAPICredentials(ctx, u1.ID))
	gone("u1a", true)
	gone("u1b", true)
	gone("u2", false)
	must(t, s.RevokeAPICredentials(ctx, u1.ID)) // nothing left is fine
	must(t, s.DeleteUser(ctx, u2.ID))
	gone("u2", true)
	gone("admin", false)
}

// testAPICredentialsRestart: sessions and tokens survive a reopen.
func testAPICredentialsRestart(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	open := newDB(t)
	s, err := open()
	must(t, err)
	b := newBootstrap()
	_, err = s.Bootstrap(ctx, b)
	must(t, err)
	exp := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	must(t, s.CreateAPISession(ctx, &botrelay.APISession{IDHash: "kept", UserID: b.Admin.ID, CSRFHash: "csrf", ExpiresAt: exp}))
	must(t, s.CreateAPIToken(ctx, &botrelay.APIToken{ID: "kept", Hash: "kept-hash", UserID: b.Admin.ID, Description: "ci"}))
	must(t, s.Close())
	s, err = open()
	must(t, err)
	t.Cleanup(func() { s.Close() })
	if got, err := s.APISession(ctx, "kept"); err != nil || got.UserID != b.Admin.ID || got.CSRFHash != "csrf" || !got.ExpiresAt.Equal(exp) {
		t.Fatalf("session after reopen: %+v, %v", got, err)
	}
	if got, err := s.APIToken(ctx, "kept-hash"); err != nil || got.ID != "kept" || got.Description != "ci" {
		t.Fatalf("token after reopen: %+v, %v", got, err)
	}
}
