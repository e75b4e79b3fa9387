package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/botrelay/botrelay/internal/testrig"
)

// TestConversationsCLI: botrelay conversations list and show against a real
// server, after Dana chatted with the demo bot (its greeting with quick
// replies, then "bye", which closes the conversation).
func TestConversationsCLI(t *testing.T) {
	const password = "Conv-Admin-Pa55word"
	base := startServerForCLI(t, password)
	r := &cliRunner{t: t, env: []string{"BOTRELAY_TOKEN_FILE=" + filepath.Join(t.TempDir(), "token"), "BOTRELAY_SERVER=" + base}}
	if res := r.run(password+"\n", "login", "--user", "admin"); res.code != 0 {
		t.Fatalf("login: exit %d, stderr %q", res.code, res.stderr)
	}
	dana := testrig.NewConsumer(t, base, "1000")
	conv := dana.OpenWith("bot", map[string]any{"name": "Dana Scully"})
	dana.Say("hi")
	dana.WaitTexts(20*time.Second, "What would you like to do?")
	dana.Say("bye")
	dana.WaitTexts(20*time.Second, "Thank you for chatting. Goodbye!")
	var state string
	testrig.Eventually(t, 20*time.Second, "the demo bot closes the conversation", func() bool {
		var page struct {
			Conversations []struct{ State string } `json:"conversations"`
		}
		if err := json.Unmarshal([]byte(r.ok("conversations", "list", "--consumer", "dana", "--json")), &page); err != nil || len(page.Conversations) != 1 {
			t.Fatalf("list --json: %+v, %v", page, err)
		}
		state = page.Conversations[0].State
		return state == "CLOSE"
	})

	out := r.ok("conversations", "list", "--consumer", "Dana", "--bot", "Demo bot", "--state", "closed")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "CONVERSATION CONSUMER SKILL BOTS STATE STARTED CLOSED" ||
		!strings.HasPrefix(strings.Join(strings.Fields(lines[1]), " "), conv+" Dana Scully bot Demo bot CLOSE ") {
		t.Fatalf("conversations list:\n%s", out)
	}
	if out := r.ok("conversations", "list", "--state", "open"); strings.Count(out, "\n") != 1 {
		t.Fatalf("no open conversation, but:\n%s", out)
	}

	out = r.ok("conversations", "show", conv)
	var got []string
	for i, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if i > 0 { // drop the time
			_, l, _ = strings.Cut(l, " ")
		}
		got = append(got, l)
	}
	want := []string{
		"conversation " + conv + " with Dana Scully, skill bot, CLOSE",
		"started on skill bot",
		"Demo bot joined as ASSIGNED_AGENT",
		"consumer Dana Scully: hi",
		"bot Demo bot: Hello! I am the botrelay demo bot.",
		"bot Demo bot: What would you like to do? [Opening hours] [What is botrelay?] [Talk to an agent] [Bye]",
		"consumer Dana Scully: bye",
		"bot Demo bot: Thank you for chatting. Goodbye!",
		"closed by AGENT",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("conversations show:\n%s\n\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	r.fails(1, "invalid: state must be open or closed", "conversations", "list", "--state", "maybe")
	r.fails(1, "not_found: conversation nope does not exist", "conversations", "show", "nope")
	r.fails(2, "--limit must be at least 1", "conversations", "list", "--limit", "0")
}
