package relay_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/customendpoint"
	"github.com/botrelay/botrelay/connectors/function"
	"github.com/botrelay/botrelay/internal/testrig"
)

// stateReads counts the relay's reads of single conversation states.
type stateReads struct {
	botrelay.Store
	n atomic.Int64
}

func (s *stateReads) BotConversation(ctx context.Context, bot botrelay.BotID, conv botrelay.ConversationID) (*botrelay.BotConversation, error) {
	s.n.Add(1)
	return s.Store.BotConversation(ctx, bot, conv)
}

// TestResumeReadsTheStatesOnce: a bot restarted while it holds open
// conversations reads their states in one listing when its session starts,
// not one by one as the platform lists the conversations (thousands of
// workers would otherwise wait for the store at once); and each resumed
// conversation goes on exactly where it was: the next message is answered
// once, after the turns before the restart.
func TestResumeReadsTheStatesOnce(t *testing.T) {
	reads := &stateReads{}
	r := testrig.NewRig(t, testrig.RigOptions{Vendors: []botrelay.VendorConnector{function.Connector{}, customendpoint.Connector{}},
		WrapStore: func(s botrelay.Store) botrelay.Store { reads.Store = s; return reads }})
	b := fnBot(r, "resumer", echoBot, nil)
	r.Start(b, botrelay.BotOnline)
	const n = 12
	consumers := make([]*testrig.Consumer, n)
	for i := range consumers {
		c := testrig.NewConsumer(t, r.URL, "1000")
		c.Open("bot")
		c.Say(fmt.Sprint("a", i))
		consumers[i] = c
	}
	for i, c := range consumers {
		c.WaitTexts(wait, fmt.Sprintf("echo: a%d #1", i))
	}
	if err := r.Relay.StopKeeping(context.Background(), b.ID); err != nil {
		t.Fatal(err)
	}
	reads.n.Store(0)
	r.Start(b, botrelay.BotOnline)
	for i, c := range consumers {
		c.Say(fmt.Sprint("b", i))
		c.WaitTexts(wait, fmt.Sprintf("echo: a%d #1", i), fmt.Sprintf("echo: b%d #2", i))
	}
	if got := reads.n.Load(); got != 0 {
		t.Errorf("resuming %d conversations read %d states one by one; want them all from the session's listing", n, got)
	}
	for i, c := range consumers {
		if texts := c.AgentTexts(); len(texts) != 2 {
			t.Errorf("consumer %d saw %q; want each answer once", i, texts)
		}
	}
}
