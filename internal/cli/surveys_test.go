package cli

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

// fakeAPI serves canned JSON answers by request URI ("GET /api/v1/…?…").
func fakeAPI(t *testing.T, answers map[string]string) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := answers[r.Method+" "+r.URL.RequestURI()]
		if !ok {
			t.Errorf("unexpected request %s %s", r.Method, r.URL.RequestURI())
			w.WriteHeader(404)
			body = `{"error":{"code":"not_found","message":"no such route"}}`
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	t.Setenv("BOTRELAY_TOKEN", "brt_x")
	t.Setenv("BOTRELAY_TOKEN_FILE", filepath.Join(t.TempDir(), "token"))
	t.Setenv("BOTRELAY_SERVER", srv.URL)
}

const twoSurveys = `[
 {"botId":"b1","conversationId":"c2","dialogId":"d2","consumerId":"u2","skillId":3,"state":"OPEN",
  "answers":[],"result":null,"startedAt":"2026-11-25T10:05:00Z","endedAt":null},
 {"botId":"b1","conversationId":"c1","dialogId":"d1","consumerId":"u1","skillId":3,"state":"COMPLETED",
  "answers":[{"sequence":1,"question":"How did we do?\nScore 1-5","answer":"5","at":"2026-11-25T10:01:00Z"},
             {"sequence":2,"question":"Why?","answer":"fast","at":"2026-11-25T10:02:00Z"}],
  "result":{"nps": 10, "comment": "fast"},"startedAt":"2026-11-25T10:00:00Z","endedAt":"2026-11-25T10:03:00Z"}]`

func TestSurveysListAndShow(t *testing.T) {
	fakeAPI(t, map[string]string{
		"GET /api/v1/surveys?botId=b1&limit=2":  twoSurveys,
		"GET /api/v1/surveys?conversationId=c1": `[` + twoSurveys[strings.Index(twoSurveys, `{"botId":"b1","conversationId":"c1"`):],
		"GET /api/v1/surveys?conversationId=c9": `[]`,
	})
	cases := []struct {
		name string
		args []string
		code int
		out  []string // lines of stdout, fields joined by one space
		err  string
	}{
		{"list", []string{"list", "--bot", "b1", "--limit", "2"}, 0, []string{
			"CONVERSATION BOT STATE STARTED ENDED ANSWERS",
			"c2 b1 OPEN 2026-11-25T10:05:00Z - 0",
			"c1 b1 COMPLETED 2026-11-25T10:00:00Z 2026-11-25T10:03:00Z 2",
		}, ""},
		{"show", []string{"show", "c1"}, 0, []string{
			"conversation: c1", "bot: b1", "state: COMPLETED", "started: 2026-11-25T10:00:00Z", "ended: 2026-11-25T10:03:00Z",
			"answers (2):", "How did we do? Score 1-5 → 5", "Why? → fast", `result: {"nps":10,"comment":"fast"}`,
		}, ""},
		{"show none", []string{"show", "c9"}, 1, nil, `botrelay surveys show: not_found: conversation "c9" has no survey run` + "\n"},
		{"bad limit", []string{"list", "--limit", "-1"}, 2, nil, "botrelay surveys list: --limit must be at least 1; run 'botrelay surveys list -h' for the flags\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Run("surveys", tc.args, nil, &stdout, &stderr)
			if code != tc.code || stderr.String() != tc.err {
				t.Fatalf("exit %d, stderr %q; want %d, %q", code, stderr.String(), tc.code, tc.err)
			}
			var got []string
			for _, l := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
				if l = strings.Join(strings.Fields(l), " "); l != "" {
					got = append(got, l)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tc.out, "\n") {
				t.Fatalf("stdout:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.out, "\n"))
			}
		})
	}
}

func TestParsePermissionsAndRole(t *testing.T) {
	perms, err := parsePermissions("permissions", " bot:view,BOT:START,,bot:view ")
	if err != nil || strings.Join(perms, ",") != "bot:view,bot:start" {
		t.Fatalf("parsePermissions = %v, %v", perms, err)
	}
	if perms, err := parsePermissions("permissions", ""); err != nil || perms == nil || len(perms) != 0 {
		t.Fatalf(`parsePermissions("") = %#v, %v; want an empty list`, perms, err)
	}
	if _, err := parsePermissions("grant", "bot:fly"); err == nil || !strings.Contains(err.Error(), `--grant: unknown permission "bot:fly"`) {
		t.Fatalf("unknown permission: %v", err)
	}
	for in, want := range map[string]string{"agent": "AGENT", "Agent-Manager": "AGENT_MANAGER", "campaign_manager": "CAMPAIGN_MANAGER"} {
		if got, err := parseRole(in); err != nil || got != want {
			t.Errorf("parseRole(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := parseRole("boss"); err == nil {
		t.Fatal("parseRole accepted boss")
	}
}

func TestProfilesUpdateSendsTheMergedProfile(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.Method + " " + r.URL.Path {
		case "GET /api/v1/profiles":
			w.Write([]byte(`[{"id":7,"name":"ops"}]`))
		case "GET /api/v1/profiles/7":
			w.Write([]byte(`{"id":7,"name":"ops","description":"d","role":"AGENT","builtIn":false,"permissions":["bot:start","bot:view"]}`))
		case "PUT /api/v1/profiles/7":
			var b bytes.Buffer
			b.ReadFrom(r.Body)
			got = b.String()
			w.Write([]byte(`{"id":7,"name":"ops","role":"AGENT","permissions":["bot:stop","bot:view"]}`))
		default:
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
		}
	}))
	defer srv.Close()
	t.Setenv("BOTRELAY_TOKEN", "brt_x")
	t.Setenv("BOTRELAY_TOKEN_FILE", filepath.Join(t.TempDir(), "token"))
	t.Setenv("BOTRELAY_SERVER", srv.URL)
	var stdout, stderr bytes.Buffer
	if code := Run("profiles", []string{"update", "ops", "--grant", "bot:stop", "--revoke", "bot:start"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	if want := `{"description":"d","name":"ops","permissions":["bot:view","bot:stop"],"role":"AGENT"}`; got != want {
		t.Fatalf("PUT body %s, want %s", got, want)
	}
	if stdout.String() != "updated profile 7 (ops): bot:stop,bot:view\n" {
		t.Fatalf("stdout %q", stdout.String())
	}
}
