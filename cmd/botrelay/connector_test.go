package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/testrig"
)

// TestDemoBotChatAndHandover is the connector's first acceptance point: on
// an empty data folder, `botrelay chat` gets the demo bot's greeting and a
// transfer notice, and a human agent then receives the conversation with its
// history.
func TestDemoBotChatAndHandover(t *testing.T) {
	const password = "Agent-Pa55word!"
	srv := start(t, []string{"BOTRELAY_ADMIN_PASSWORD=" + password}, "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir())
	base := srv.waitListening(t)

	chat := startWithInput(t, strings.NewReader("hi\nagent\n"), nil, "chat", "--server", base, "--idle", "2s")
	if code := chat.exitCode(t, 30*time.Second); code != 0 {
		t.Fatalf("chat exit status %d; stderr: %s", code, chat.stderr)
	}
	lines := strings.Split(strings.TrimSpace(chat.stdout.String()), "\n")
	greet := slices.Index(lines, "bot: Hello! I am the botrelay demo bot.")
	transfer := slices.Index(lines, "bot: Transferring you to a human agent. Please hold on.")
	notice := slices.Index(lines, "system: conversation transferred")
	if greet < 0 || transfer < greet || notice < transfer {
		t.Fatalf("chat printed:\n%s\nwant the greeting, then the transfer message, then the transfer notice", chat.stdout)
	}

	// The admin is a human agent on skill human: the conversation rings them.
	agent := testrig.NewAgent(t, base, "1000", "admin", password)
	conv := agent.WaitRing(15 * time.Second)
	agent.AcceptRing(conv, 5*time.Second)
	history := agent.History(conv)
	want := []string{"consumer: hi", "bot: Hello! I am the botrelay demo bot.", "consumer: agent",
		"bot: Transferring you to a human agent. Please hold on."}
	for _, w := range want {
		if !slices.Contains(history, w) {
			t.Fatalf("agent's history = %q, lacks %q", history, w)
		}
	}
	srv.stop(t)
}

// TestKill9AnswersEveryMessageOnce is the connector's restart-safety
// acceptance point: botrelay is killed with SIGKILL while consumer messages
// are in flight — one reply half published (the demo bot's "about" answer
// pauses a second between its messages), two messages not yet read — and
// after a restart every message is answered exactly once.
func TestKill9AnswersEveryMessageOnce(t *testing.T) {
	const about = "botrelay puts AI bots from many vendors in front of your customers and hands over to people when needed."
	const menu = "What would you like to do?"
	data := t.TempDir()
	srv := start(t, nil, "serve", "--addr", "127.0.0.1:0", "--data", data)
	base := srv.waitListening(t)
	c := testrig.NewConsumer(t, base, "1000")
	conv := c.Open("bot")
	c.Say("hello")
	c.WaitTexts(15*time.Second, "Hello! I am the botrelay demo bot.", menu)
	for i := 1; i <= 3; i++ {
		c.Say(fmt.Sprintf("about %d", i)) // acknowledged: stored by the hub
	}
	// The first answer's text is out and its pause has begun: kill now.
	c.WaitTexts(15*time.Second, about)
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	srv.exitCode(t, 10*time.Second)
	c.Close()

	srv2 := start(t, nil, "serve", "--addr", "127.0.0.1:0", "--data", data)
	srv2.waitListening(t)
	count := func() (abouts, menus int) {
		s := openSQLite(t, data)
		defer s.Close()
		evs, err := s.Events(context.Background(), botrelay.ConversationID(conv), "", 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.OriginatorType != botrelay.UserBot {
				continue
			}
			abouts += strings.Count(string(e.Event), about)
			menus += strings.Count(string(e.Event), menu)
		}
		return abouts, menus
	}
	testrig.Eventually(t, 30*time.Second, "every message answered after the restart", func() bool {
		a, m := count()
		return a >= 3 && m >= 4
	})
	srv2.stop(t)
	if a, m := count(); a != 3 || m != 4 {
		t.Fatalf("after the restart: %d \"about\" answers (want 3) and %d menus (want 4: hello and three abouts)", a, m)
	}
}
