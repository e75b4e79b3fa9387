package relay_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/testrig"
)

// Public API commands (F40) as the relay carries them out: queued in the
// store, run by the worker of the conversation in order with the bot's own
// turns, and picked up again after the bot restarts.

const commandBot = `function lambda(input, cb) {
  var p = input.payload;
  if (p.message === "slow") { cb(null, {messages: ["thinking", {delay: 2}, "done thinking"]}); return; }
  if (p.message === "sdes?") { cb(null, {messages: ["sdes: " + JSON.stringify(p.context.lpSdes)]}); return; }
  cb(null, {messages: ["echo: " + p.message]});
}`

// queueCommand stores a command as the Public API does and wakes the relay.
func queueCommand(t *testing.T, r *testrig.Rig, b *botrelay.Bot, conv string, typ botrelay.CommandType, payload any) string {
	t.Helper()
	raw, _ := json.Marshal(payload)
	c := &botrelay.Command{AccountID: testrig.Account, BotID: b.ID, ConversationID: botrelay.ConversationID(conv), Type: typ,
		Payload: raw, TimeoutAt: time.Now().Add(60 * time.Second)}
	if err := r.Store.CreateCommand(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	r.Relay.WakeCommands()
	return c.ID
}

func waitCommand(t *testing.T, r *testrig.Rig, id string) *botrelay.Command {
	t.Helper()
	var c *botrelay.Command
	testrig.Eventually(t, wait, "command "+id+" to end", func() bool {
		var err error
		c, err = r.Store.Command(context.Background(), id)
		return err == nil && c.State != botrelay.CommandWaiting
	})
	return c
}

func textMessages(items ...string) botrelay.MessagesPayload {
	p := botrelay.MessagesPayload{}
	for _, it := range items {
		raw, _ := json.Marshal(it)
		p.Messages = append(p.Messages, botrelay.CommandMessage{Type: "text", Payload: raw, Metadata: json.RawMessage(`[]`)})
	}
	return p
}

func TestF40_CommandsRunInOrderWithTheBotsTurns(t *testing.T) {
	r := newRig(t)
	b := fnBot(r, "cmd", commandBot, nil)
	r.Start(b, botrelay.BotOnline)
	c := testrig.NewConsumer(t, r.URL, string(testrig.Account))
	conv := c.Open(botrelay.SkillNameBot)
	c.Say("hi")
	c.WaitTexts(wait, "echo: hi")

	// A command that arrives while the bot is in the middle of a turn
	// (its delay) goes out after the turn.
	c.Say("slow")
	c.WaitTexts(wait, "thinking")
	first := queueCommand(t, r, b, conv, botrelay.CommandMessages, textMessages("from the CRM", "and more"))
	c.WaitTexts(wait, "and more")
	if got := waitCommand(t, r, first); got.State != botrelay.CommandCompleted || got.StartedAt.IsZero() {
		t.Fatalf("command = %+v", got)
	}

	// Engagement attributes reach the vendor from then on.
	sdes := queueCommand(t, r, b, conv, botrelay.CommandSDEs, map[string]any{
		"sdes":           []any{map[string]any{"type": "ctmrinfo", "info": map[string]any{"cstatus": "gold"}}},
		"sharkVisitorId": "v", "sharkSessionId": "s"})
	if got := waitCommand(t, r, sdes); got.State != botrelay.CommandCompleted {
		t.Fatalf("sdes command = %+v", got)
	}
	c.Say("sdes?")
	want := `sdes: {"unauthenticatedSdes":{"customerInfo":{"customerInfo":{"cstatus":"gold"}}}}`
	c.WaitTexts(wait, want)

	// They survive a restart of the bot.
	if err := r.Relay.StopKeeping(context.Background(), b.ID); err != nil { // a restart: the conversation stays
		t.Fatal(err)
	}
	r.Start(b, botrelay.BotOnline)
	c.Say("sdes?")
	testrig.Eventually(t, wait, "the attributes after the restart", func() bool {
		texts := c.AgentTexts()
		return len(texts) == 7 && texts[6] == want
	})

	// A transfer to a skill that does not exist fails with its cause; the
	// bot keeps the conversation.
	bad := queueCommand(t, r, b, conv, botrelay.CommandTransfer, botrelay.TransferPayload{Skill: "Human"})
	got := waitCommand(t, r, bad)
	if got.State != botrelay.CommandFailed ||
		got.ErrorCause != botrelay.ErrorCodePrefix+"pipes.messaging-handle-bot-action.transfer-skill-not-existing" ||
		!strings.Contains(got.ErrorMessage, `"Human"`) {
		t.Fatalf("transfer command = %+v", got)
	}
	c.Say("still there?")
	c.WaitTexts(wait, "echo: still there?")
	wantTexts := []string{"echo: hi", "thinking", "done thinking", "from the CRM", "and more", want, want, "echo: still there?"}
	if texts := c.AgentTexts(); !slices.Equal(texts, wantTexts) {
		t.Fatalf("agent texts %q, want %q", texts, wantTexts)
	}
}

func TestF40_CommandsWaitForTheBotToRestart(t *testing.T) {
	r := newRig(t)
	b := fnBot(r, "cmd", commandBot, nil)
	r.Start(b, botrelay.BotOnline)
	c := testrig.NewConsumer(t, r.URL, string(testrig.Account))
	conv := c.Open(botrelay.SkillNameBot)
	c.Say("hi")
	c.WaitTexts(wait, "echo: hi")
	if err := r.Relay.StopKeeping(context.Background(), b.ID); err != nil { // a restart: the conversation stays
		t.Fatal(err)
	}
	id := queueCommand(t, r, b, conv, botrelay.CommandMessages, textMessages("while you were away"))
	r.Start(b, botrelay.BotOnline)
	c.WaitTexts(wait, "echo: hi", "while you were away")
	if got := waitCommand(t, r, id); got.State != botrelay.CommandCompleted {
		t.Fatalf("command = %+v", got)
	}
	// Closed by a command: the bot lets the conversation go.
	closeID := queueCommand(t, r, b, conv, botrelay.CommandClose, struct{}{})
	if got := waitCommand(t, r, closeID); got.State != botrelay.CommandCompleted {
		t.Fatalf("close command = %+v", got)
	}
	testrig.Eventually(t, wait, "the conversation to close", func() bool {
		return r.Conversation(conv).State == botrelay.ConversationClose
	})
	late := queueCommand(t, r, b, conv, botrelay.CommandMessages, textMessages("too late"))
	if got := waitCommand(t, r, late); got.State != botrelay.CommandFailed ||
		got.ErrorCause != botrelay.ErrorCodePrefix+"connector.messaging.conversation-closed" {
		t.Fatalf("command on a closed conversation = %+v", got)
	}
}
