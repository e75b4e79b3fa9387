package cli

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseInterleavedFlags(t *testing.T) {
	e := &env{stdout: &bytes.Buffer{}}
	fs := e.flags("x", "x")
	limit := fs.Int("limit", 0, "")
	pos, err := parse(fs, []string{"--json", "ID1", "--limit", "3", "--server", "http://h"}, "id")
	if err != nil || len(pos) != 1 || pos[0] != "ID1" || !e.json || *limit != 3 || e.server != "http://h" {
		t.Fatalf("parse = %v, %v (json %v, limit %d, server %q)", pos, err, e.json, *limit, e.server)
	}
	if _, err := parse(e.flags("y", "y"), []string{"a", "b"}, "id"); err == nil {
		t.Fatal("an extra argument was accepted")
	}
	if _, err := parse(e.flags("z", "z"), nil, "id"); err == nil || !strings.Contains(err.Error(), "missing id") {
		t.Fatalf("missing argument: %v", err)
	}
}

func TestRunErrorsAreOneLine(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer brt_x" {
			t.Errorf("Authorization = %q", r.Header.Get("Authorization"))
		}
		switch r.URL.Path {
		case "/api/v1/bots/b1/start":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"error":{"code":"forbidden","message":"your profile lacks the permission bot:start\nsecond line"}}`))
		default:
			http.Error(w, "<html>\nbad gateway</html>", http.StatusBadGateway)
		}
	}))
	defer srv.Close()
	t.Setenv("BOTRELAY_TOKEN", "brt_x")
	t.Setenv("BOTRELAY_TOKEN_FILE", filepath.Join(t.TempDir(), "token"))
	t.Setenv("BOTRELAY_SERVER", srv.URL)
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"start", "b1"}, 1, "botrelay bots start: forbidden: your profile lacks the permission bot:start"},
		{[]string{"list"}, 1, "botrelay bots list: bad_gateway: GET /bots answered 502 Bad Gateway"},
		{[]string{"nope"}, 2, `botrelay bots: unknown subcommand "nope"; run 'botrelay bots -h' for the subcommands`},
		{[]string{"create", "--settings", "[1]", "--name", "n", "--user", "u", "--vendor", "v"}, 2, "botrelay bots create: --settings must be a JSON object or @file holding one; run 'botrelay bots create -h' for the flags"},
	}
	for _, tc := range cases {
		var stdout, stderr bytes.Buffer
		code := Run("bots", tc.args, nil, &stdout, &stderr)
		if code != tc.code || stderr.String() != tc.want+"\n" {
			t.Errorf("bots %v: exit %d, stderr %q; want %d, %q", tc.args, code, stderr.String(), tc.code, tc.want)
		}
	}
}

func TestTokenFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "token")
	t.Setenv("BOTRELAY_TOKEN_FILE", path)
	if _, err := writeLogin(savedLogin{Server: "http://h", TokenID: "id", Token: "brt_t"}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v", st.Mode().Perm(), err)
	}
	s, ok, err := readLogin()
	if !ok || err != nil || s.Token != "brt_t" || s.TokenID != "id" {
		t.Fatalf("readLogin = %+v, %v, %v", s, ok, err)
	}
}

// TestGroupUsageListsEverySubcommand keeps each group's help in step with
// its dispatch table.
func TestGroupUsageListsEverySubcommand(t *testing.T) {
	groups := map[string]map[string]subcommand{"bots": botCommands, "users": userCommands, "skills": skillCommands,
		"profiles": profileCommands, "surveys": surveyCommands, "cluster": clusterCommands, "conversations": conversationCommands}
	for g, cmds := range groups {
		var stdout, stderr bytes.Buffer
		if code := Run(g, []string{"-h"}, nil, &stdout, &stderr); code != 0 || stderr.Len() != 0 {
			t.Fatalf("%s -h: exit %d, stderr %q", g, code, stderr.String())
		}
		for name := range cmds {
			if !strings.Contains(stdout.String(), "\n  "+name+" ") {
				t.Errorf("'botrelay %s -h' does not list %q", g, name)
			}
		}
	}
}
