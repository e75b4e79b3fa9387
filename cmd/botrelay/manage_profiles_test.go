package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestManageProfilesSurveysAndMore covers profiles, surveys and the bot and
// user subcommands that complete the CLI's coverage of the API, as an
// operator sees them: tables, --json, and one-line errors.
func TestManageProfilesSurveysAndMore(t *testing.T) {
	const password = "Cli-Admin-Pa55word"
	base := startServerForCLI(t, password)
	dir := t.TempDir()
	admin := &cliRunner{t: t, env: []string{"BOTRELAY_TOKEN_FILE=" + filepath.Join(dir, "admin"), "BOTRELAY_SERVER=" + base}}
	if res := admin.runEnv([]string{"BOTRELAY_PASSWORD=" + password}, "", "login", "--user", "admin"); res.code != 0 {
		t.Fatalf("admin login: exit %d, stderr %q", res.code, res.stderr)
	}

	// Profiles: the four built-in ones.
	out := admin.ok("profiles", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 || strings.Join(strings.Fields(lines[0]), " ") != "ID NAME ROLE BUILT IN PERMISSIONS" {
		t.Fatalf("profiles list = %q, want a header and 4 built-in profiles", out)
	}
	for _, want := range []string{"Admin", "Campaign Manager", "Agent Manager", "CAMPAIGN_MANAGER", "conversation:view-all"} {
		if !strings.Contains(out, want) {
			t.Fatalf("profiles list = %q, want %q in it", out, want)
		}
	}
	var profiles []struct {
		Name        string
		BuiltIn     bool
		Permissions []string
	}
	if err := json.Unmarshal([]byte(admin.ok("profiles", "list", "--json")), &profiles); err != nil || len(profiles) != 4 || !profiles[0].BuiltIn {
		t.Fatalf("profiles list --json: %+v, %v", profiles, err)
	}

	// A custom profile granting only bot:create and bot:start.
	out = admin.ok("profiles", "create", "--name", "bot-starter", "--role", "agent", "--permissions", "bot:create, bot:start",
		"--description", "creates and starts bots")
	if !strings.HasPrefix(out, "created profile ") || !strings.Contains(out, "(bot-starter) with 2 permissions") {
		t.Fatalf("profiles create printed %q", out)
	}
	out = admin.ok("profiles", "show", "bot-starter")
	for _, want := range []string{"name:", "bot-starter", "role:", "AGENT", "built in:", "false", "permissions:", "bot:create, bot:start", "creates and starts bots"} {
		if !strings.Contains(out, want) {
			t.Fatalf("profiles show = %q, want %q in it", out, want)
		}
	}
	var starter struct {
		ID          int64
		Role        string
		Permissions []string
	}
	if err := json.Unmarshal([]byte(admin.ok("profiles", "show", "bot-starter", "--json")), &starter); err != nil ||
		starter.Role != "AGENT" || !slices.Equal(starter.Permissions, []string{"bot:create", "bot:start"}) {
		t.Fatalf("profiles show --json = %+v, %v", starter, err)
	}

	// Update and delete another custom profile.
	admin.ok("profiles", "create", "--name", "temp", "--role", "AGENT_MANAGER")
	out = admin.ok("profiles", "update", "temp", "--name", "viewer", "--grant", "bot:view,user:view", "--role", "campaign-manager")
	if !strings.Contains(out, "updated profile") || !strings.Contains(out, "(viewer): bot:view,user:view") {
		t.Fatalf("profiles update printed %q", out)
	}
	out = admin.ok("profiles", "update", "viewer", "--revoke", "user:view", "--description", "reads bots")
	if !strings.Contains(out, "(viewer): bot:view") || strings.Contains(out, "user:view") {
		t.Fatalf("profiles update --revoke printed %q", out)
	}
	if out := admin.ok("profiles", "show", "viewer"); !strings.Contains(out, "CAMPAIGN_MANAGER") || !strings.Contains(out, "reads bots") {
		t.Fatalf("profiles show after update = %q", out)
	}
	out = admin.ok("profiles", "update", "viewer", "--permissions", "", "--json")
	var viewer struct{ Permissions []string }
	if err := json.Unmarshal([]byte(out), &viewer); err != nil || viewer.Permissions == nil || len(viewer.Permissions) != 0 {
		t.Fatalf("profiles update --permissions '' --json = %q (%v)", out, err)
	}
	if out := admin.ok("profiles", "delete", "viewer"); out != "deleted profile viewer\n" {
		t.Fatalf("profiles delete printed %q", out)
	}
	admin.fails(1, `not_found: profile "viewer" does not exist`, "profiles", "show", "viewer")

	// Bad input: usage errors (2) found locally, the API's refusals (1).
	admin.fails(2, "--role \"boss\" must be one of ADMIN, CAMPAIGN_MANAGER, AGENT_MANAGER, AGENT", "profiles", "create", "--name", "x", "--role", "boss")
	admin.fails(2, `unknown permission "bot:fly"`, "profiles", "create", "--name", "x", "--role", "AGENT", "--permissions", "bot:view,bot:fly")
	admin.fails(2, "--name is required", "profiles", "create", "--role", "AGENT")
	admin.fails(2, "--role is required", "profiles", "create", "--name", "x")
	admin.fails(2, `unknown permission "nope"`, "profiles", "update", "bot-starter", "--grant", "nope")
	admin.fails(2, "missing profile ID or name", "profiles", "show")
	admin.fails(2, "-h", "profiles", "frobnicate")
	admin.fails(1, "conflict: ", "profiles", "create", "--name", "bot-starter", "--role", "AGENT")
	admin.fails(1, `conflict: profile "Admin" is built in and read-only`, "profiles", "update", "Admin", "--grant", "bot:view")
	admin.fails(1, "conflict: ", "profiles", "delete", "Agent")

	// A user with the custom profile can create and start a bot, not stop it.
	const starterPassword = "Starter-Pa55word-1"
	if res := admin.run(starterPassword+"\n", "users", "create", "--login", "starter", "--type", "HUMAN", "--profile", "bot-starter",
		"--password-stdin"); res.code != 0 {
		t.Fatalf("users create starter: exit %d, stderr %q", res.code, res.stderr)
	}
	admin.fails(1, "conflict: profile", "profiles", "delete", "bot-starter") // in use
	admin.ok("users", "create", "--login", "starter-bot", "--type", "BOT", "--profile", "Agent")
	var botUser struct{ ID int64 }
	if err := json.Unmarshal([]byte(admin.ok("users", "show", "starter-bot", "--json")), &botUser); err != nil || botUser.ID == 0 {
		t.Fatalf("users show --json: %+v, %v", botUser, err)
	}
	user := &cliRunner{t: t, env: []string{"BOTRELAY_TOKEN_FILE=" + filepath.Join(dir, "starter"), "BOTRELAY_SERVER=" + base}}
	if res := user.run(starterPassword+"\n", "login", "--user", "starter"); res.code != 0 {
		t.Fatalf("starter login: exit %d, stderr %q", res.code, res.stderr)
	}
	settings := `{"code": "function lambda(i, cb){ cb(null,{messages:[\"hi from the tester\"]}) }"}`
	var bot struct{ ID string }
	out = user.ok("bots", "create", "--name", "starter's bot", "--user", strconv.FormatInt(botUser.ID, 10), "--vendor", "function", "--settings", settings, "--json")
	if err := json.Unmarshal([]byte(out), &bot); err != nil || bot.ID == "" {
		t.Fatalf("bots create as starter = %q (%v)", out, err)
	}
	if out := user.ok("bots", "start", bot.ID); !strings.Contains(out, "bot "+bot.ID+": starting") {
		t.Fatalf("bots start as starter printed %q", out)
	}
	user.fails(1, "forbidden: your profile lacks the permission bot:stop", "bots", "stop", bot.ID)
	user.fails(1, "forbidden: your profile lacks the permission bot:view", "bots", "list")
	user.fails(1, "forbidden: your profile lacks the permission profile:view", "profiles", "list")
	user.fails(1, "forbidden: your profile lacks the permission bot:view", "surveys", "list")
	admin.ok("bots", "stop", bot.ID)

	// bots conversations and converse (the conversation tester).
	if out := admin.ok("bots", "conversations", bot.ID); strings.Join(strings.Fields(out), " ") != "CONVERSATION DIALOG CONSUMER SKILL ESCALATIONS CREATED UPDATED" {
		t.Fatalf("bots conversations = %q, want only the header", out)
	}
	if out := admin.ok("bots", "conversations", bot.ID, "--json"); out != "[]\n" {
		t.Fatalf("bots conversations --json = %q", out)
	}
	out = admin.ok("bots", "converse", bot.ID, "hello")
	if !strings.Contains(out, "turn 1: PROCESSED") || !strings.Contains(out, "bot: hi from the tester") {
		t.Fatalf("bots converse printed %q", out)
	}
	conv := strings.TrimSuffix(strings.Fields(out)[1], ",") // "conversation ID, turn 1: …"
	if out := admin.ok("bots", "converse", bot.ID, "--conversation", conv, "--text", "again"); !strings.Contains(out, "turn 2: PROCESSED") {
		t.Fatalf("bots converse (second turn) printed %q", out)
	}
	admin.fails(2, "give a text (--text T or TEXT) or --start", "bots", "converse", bot.ID)
	admin.fails(1, "not_found", "bots", "converse", "no-such-bot", "hi")

	// Surveys: none yet.
	if out := admin.ok("surveys", "list"); strings.Join(strings.Fields(out), " ") != "CONVERSATION BOT STATE STARTED ENDED ANSWERS" {
		t.Fatalf("surveys list = %q, want only the header", out)
	}
	if out := admin.ok("surveys", "list", "--json"); out != "[]\n" {
		t.Fatalf("surveys list --json = %q", out)
	}
	if out := admin.ok("surveys", "list", "--bot", bot.ID, "--limit", "5"); strings.Join(strings.Fields(out), " ") != "CONVERSATION BOT STATE STARTED ENDED ANSWERS" {
		t.Fatalf("surveys list --bot = %q, want only the header", out)
	}
	if out := admin.ok("surveys", "list", "--bot", bot.ID, "--conversation", "c1", "--json"); out != "[]\n" {
		t.Fatalf("surveys list --bot --conversation --json = %q", out)
	}
	admin.fails(2, "--limit must be at least 1", "surveys", "list", "--limit", "0")
	admin.fails(2, `invalid value "x" for flag -limit`, "surveys", "list", "--limit", "x")
	admin.fails(1, "invalid: limit must be between 1 and 500", "surveys", "list", "--limit", "501")
	admin.fails(1, `not_found: conversation "c1" has no survey run`, "surveys", "show", "c1")
	admin.fails(2, "missing conversation ID", "surveys", "show")
	admin.fails(2, `unexpected argument "extra"`, "surveys", "list", "extra")

	// skills show.
	if out := admin.ok("skills", "show", "human"); !strings.Contains(out, "name:") || !strings.Contains(out, "human") {
		t.Fatalf("skills show = %q", out)
	}
	admin.fails(1, `not_found: skill "nope" does not exist`, "skills", "show", "nope")

	// API keys: list, revoke one, revoke it again.
	var keys []struct{ AppKey string }
	if err := json.Unmarshal([]byte(admin.ok("users", "keys", "starter-bot", "--json")), &keys); err != nil || len(keys) == 0 {
		t.Fatalf("users keys --json: %+v, %v", keys, err)
	}
	if out := admin.ok("users", "delete-key", "starter-bot", keys[0].AppKey); !strings.Contains(out, "deleted API key "+keys[0].AppKey) {
		t.Fatalf("users delete-key printed %q", out)
	}
	if out := admin.ok("users", "keys", "starter-bot"); strings.Contains(out, keys[0].AppKey) || len(strings.Split(strings.TrimSpace(out), "\n")) != len(keys) {
		t.Fatalf("users keys after delete-key = %q, want the other %d key(s) only", out, len(keys)-1)
	}
	admin.fails(1, "not_found", "users", "delete-key", "starter-bot", keys[0].AppKey)
	admin.fails(2, "missing app key", "users", "delete-key", "starter-bot")

	// Password reset: the user's token ends; the new password logs in.
	const newPassword = "Starter-Pa55word-2"
	if res := admin.run(newPassword+"\n", "users", "password", "starter", "--password-stdin"); res.code != 0 ||
		!strings.Contains(res.stdout, "set the password of user starter") || strings.Contains(res.stdout, "generated") {
		t.Fatalf("users password --password-stdin: exit %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}
	user.fails(1, "unauthorized", "bots", "start", bot.ID)
	if res := user.run(starterPassword+"\n", "login", "--user", "starter"); res.code != 1 {
		t.Fatalf("login with the old password: exit %d", res.code)
	}
	if res := user.run(newPassword+"\n", "login", "--user", "starter"); res.code != 0 {
		t.Fatalf("login with the new password: exit %d, stderr %q", res.code, res.stderr)
	}
	if res := admin.run("short\n", "users", "password", "starter", "--password-stdin"); res.code != 1 ||
		!strings.HasPrefix(res.stderr, "botrelay users password: invalid: ") || strings.Count(res.stderr, "\n") != 1 {
		t.Fatalf("users password with a weak password: exit %d, stderr %q", res.code, res.stderr)
	}
	out = admin.ok("users", "password", "starter")
	if !strings.Contains(out, "generated password (shown once): ") {
		t.Fatalf("users password printed %q", out)
	}
	admin.fails(1, `not_found: user "nobody" does not exist`, "users", "password", "nobody")

	for _, o := range append(admin.output, user.output...) {
		for _, secret := range []string{password, starterPassword, newPassword} {
			if strings.Contains(o, secret) {
				t.Fatalf("output contains a password: %q", o)
			}
		}
	}
}
