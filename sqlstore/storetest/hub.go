package storetest

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
)

// hubCases are the HubStore cases; Run runs them with the others.
var hubCases = []struct {
	name string
	fn   func(t *testing.T, newDB NewDB)
}{
	{"AgentSessions", testAgentSessions},
	{"AgentSessionsRestart", testAgentSessionsRestart},
	{"AgentSessionsMany", testAgentSessionsMany},
	{"HubFiles", testHubFiles},
	{"HubKeys", testHubKeys},
}

func newAgentSession(u *botrelay.User, tag string, expires time.Time) *botrelay.AgentSession {
	return &botrelay.AgentSession{BearerHash: "b-" + tag, CookieHash: "c-" + tag, CSRFHash: "x-" + tag,
		AccountID: acct, UserID: u.ID, ExpiresAt: expires}
}

func testAgentSessions(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	s, _ := seeded(t, newDB)
	alice := newUser(t, s, "alice", botrelay.UserHuman)
	bob := newUser(t, s, "bob", botrelay.UserHuman)
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)

	a1 := newAgentSession(alice, "a1", exp)
	must(t, s.CreateAgentSession(ctx, a1))
	if a1.CreatedAt.IsZero() {
		t.Fatal("CreateAgentSession did not fill CreatedAt")
	}
	b1 := newAgentSession(bob, "b1", exp)
	must(t, s.CreateAgentSession(ctx, b1))
	got, err := s.AgentSession(ctx, "b-a1")
	must(t, err)
	if *got != *a1 {
		t.Fatalf("AgentSession = %+v, want %+v", got, a1)
	}
	if got, err = s.AgentSessionByCookie(ctx, "c-a1"); err != nil || got.BearerHash != "b-a1" {
		t.Fatalf("AgentSessionByCookie = %+v, %v", got, err)
	}
	_, err = s.AgentSession(ctx, "c-a1")
	wantCode(t, err, botrelay.ENOTFOUND)
	wantCode(t, s.CreateAgentSession(ctx, newAgentSession(bob, "a1", exp)), botrelay.ECONFLICT)
	wantCode(t, s.CreateAgentSession(ctx, &botrelay.AgentSession{BearerHash: "b"}), botrelay.EINVALID)

	// A second login of alice replaces her first session, not bob's.
	must(t, s.CreateAgentSession(ctx, newAgentSession(alice, "a2", exp)))
	if got, _ := s.AgentSession(ctx, "b-a1"); got.Ended != botrelay.AgentSessionReplaced {
		t.Fatalf("first session after a second login: ended %q, want %q", got.Ended, botrelay.AgentSessionReplaced)
	}
	if got, _ := s.AgentSession(ctx, "b-b1"); got.Ended != "" {
		t.Fatalf("bob's session ended %q by alice's login", got.Ended)
	}
	wantCode(t, s.ExtendAgentSession(ctx, "b-a1", exp.Add(time.Hour)), botrelay.ENOTFOUND)

	later := exp.Add(2 * time.Hour)
	must(t, s.ExtendAgentSession(ctx, "b-a2", later))
	if got, _ := s.AgentSession(ctx, "b-a2"); !got.ExpiresAt.Equal(later) {
		t.Fatalf("expiry after extend = %v, want %v", got.ExpiresAt, later)
	}
	must(t, s.EndAgentSession(ctx, "b-a2", botrelay.AgentSessionLoggedOut))
	if got, _ := s.AgentSession(ctx, "b-a2"); got.Ended != botrelay.AgentSessionLoggedOut {
		t.Fatalf("ended after logout = %q", got.Ended)
	}
	wantCode(t, s.EndAgentSession(ctx, "b-a2", botrelay.AgentSessionLoggedOut), botrelay.ENOTFOUND)
	wantCode(t, s.EndAgentSession(ctx, "b-none", botrelay.AgentSessionLoggedOut), botrelay.ENOTFOUND)
	wantCode(t, s.EndAgentSession(ctx, "b-b1", "whatever"), botrelay.EINVALID)

	// Expired rows go, ended or not; live ones stay.
	n, err := s.DeleteAgentSessions(ctx, exp.Add(time.Millisecond))
	must(t, err)
	if n != 2 {
		t.Fatalf("DeleteAgentSessions removed %d, want 2 (a1 and b1)", n)
	}
	_, err = s.AgentSession(ctx, "b-b1")
	wantCode(t, err, botrelay.ENOTFOUND)
	if _, err := s.AgentSession(ctx, "b-a2"); err != nil {
		t.Fatalf("a2 expires later and must stay: %v", err)
	}
	// Deleting a user deletes its sessions.
	must(t, s.CreateAgentSession(ctx, newAgentSession(bob, "b2", exp)))
	must(t, s.DeleteUser(ctx, bob.ID))
	_, err = s.AgentSession(ctx, "b-b2")
	wantCode(t, err, botrelay.ENOTFOUND)
}

func testAgentSessionsRestart(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	open := newDB(t)
	s, err := open()
	must(t, err)
	_, err = s.Bootstrap(ctx, newBootstrap())
	must(t, err)
	u := newUser(t, s, "alice", botrelay.UserHuman)
	a := newAgentSession(u, "r", time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond))
	must(t, s.CreateAgentSession(ctx, a))
	must(t, s.PutHubFile(ctx, &botrelay.HubFile{AccountID: acct, Path: "p/f.txt", ConsumerID: "p", Content: []byte("kept")}))
	s.Close()
	s, err = open()
	must(t, err)
	defer s.Close()
	got, err := s.AgentSession(ctx, "b-r")
	must(t, err)
	if *got != *a {
		t.Fatalf("after restart AgentSession = %+v, want %+v", got, a)
	}
	f, err := s.HubFile(ctx, acct, "p/f.txt")
	must(t, err)
	if string(f.Content) != "kept" {
		t.Fatalf("after restart file = %q", f.Content)
	}
}

func testHubFiles(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	s, _ := seeded(t, newDB)
	// Every byte value survives, and a few MB fit.
	content := bytes.Repeat([]byte{0, 1, 0xff, 'a', '\n', 0x80}, 1<<19)
	f := &botrelay.HubFile{AccountID: acct, Path: "c1/abc.png", ConsumerID: "c1", Content: content}
	must(t, s.PutHubFile(ctx, f))
	got, err := s.HubFile(ctx, acct, "c1/abc.png")
	must(t, err)
	if !bytes.Equal(got.Content, content) || got.ConsumerID != "c1" || !got.CreatedAt.Equal(f.CreatedAt) {
		t.Fatalf("HubFile = %d bytes, consumer %q, created %v; want %d bytes, c1, %v", len(got.Content), got.ConsumerID, got.CreatedAt, len(content), f.CreatedAt)
	}
	empty := &botrelay.HubFile{AccountID: acct, Path: "c1/empty.txt", ConsumerID: "c1", Content: []byte{}}
	must(t, s.PutHubFile(ctx, empty))
	if got, err := s.HubFile(ctx, acct, "c1/empty.txt"); err != nil || len(got.Content) != 0 {
		t.Fatalf("empty file = %v, %v", got, err)
	}
	wantCode(t, s.PutHubFile(ctx, &botrelay.HubFile{AccountID: acct, Path: "c1/abc.png", ConsumerID: "c1", Content: []byte("x")}), botrelay.ECONFLICT)
	wantCode(t, s.PutHubFile(ctx, &botrelay.HubFile{AccountID: acct, Path: "x"}), botrelay.EINVALID)
	_, err = s.HubFile(ctx, acct, "c1/none.png")
	wantCode(t, err, botrelay.ENOTFOUND)
	_, err = s.HubFile(ctx, "other", "c1/abc.png")
	wantCode(t, err, botrelay.ENOTFOUND)
}

func testHubKeys(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	s, _ := seeded(t, newDB)
	_, err := s.HubKey(ctx, "signing")
	wantCode(t, err, botrelay.ENOTFOUND)
	// Nodes starting together all end up with one key.
	var wg sync.WaitGroup
	got := make([]string, 8)
	errs := make([]error, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = s.PutHubKeyOnce(ctx, "signing", string(rune('a'+i)))
		}()
	}
	wg.Wait()
	for i := range got {
		must(t, errs[i])
		if got[i] != got[0] {
			t.Fatalf("concurrent PutHubKeyOnce returned %q and %q", got[0], got[i])
		}
	}
	if k, err := s.HubKey(ctx, "signing"); err != nil || k != got[0] {
		t.Fatalf("HubKey = %q, %v; want %q", k, err, got[0])
	}
	if k, _ := s.PutHubKeyOnce(ctx, "signing", "later"); k != got[0] {
		t.Fatalf("a later PutHubKeyOnce replaced the key with %q", k)
	}
	must(t, s.DeleteHubKey(ctx, "signing"))
	must(t, s.DeleteHubKey(ctx, "signing"))
	if k, _ := s.PutHubKeyOnce(ctx, "signing", "new"); k != "new" {
		t.Fatalf("after DeleteHubKey the key is %q, want new", k)
	}
}

// testAgentSessionsMany: AgentSessions reads many sessions at once, more
// than one query's worth, and leaves out unknown hashes.
func testAgentSessionsMany(t *testing.T, newDB NewDB) {
	ctx := context.Background()
	s, _ := seeded(t, newDB)
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Millisecond)
	var hashes []string
	want := map[string]botrelay.UserID{}
	for i := range 3 {
		u := newUser(t, s, fmt.Sprintf("agent%d", i), botrelay.UserHuman)
		for j := range 400 {
			tag := fmt.Sprintf("%d-%d", i, j)
			must(t, s.CreateAgentSession(ctx, newAgentSession(u, tag, exp)))
			hashes = append(hashes, "b-"+tag)
			want["b-"+tag] = u.ID
		}
	}
	hashes = append(hashes, "b-unknown")
	got, err := s.AgentSessions(ctx, hashes)
	must(t, err)
	if len(got) != len(want) {
		t.Fatalf("AgentSessions returned %d sessions, want %d", len(got), len(want))
	}
	live := 0
	for _, a := range got {
		if want[a.BearerHash] != a.UserID {
			t.Fatalf("session %s has user %d, want %d", a.BearerHash, a.UserID, want[a.BearerHash])
		}
		delete(want, a.BearerHash)
		if a.Ended == "" {
			live++
		}
	}
	if live != 3 {
		t.Fatalf("%d live sessions, want 3 (the last login of each user)", live)
	}
	if got, err := s.AgentSessions(ctx, nil); err != nil || len(got) != 0 {
		t.Fatalf("AgentSessions(nil) = %v, %v", got, err)
	}
}
