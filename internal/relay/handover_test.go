package relay_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/testrig"
)

// The handover rules (F12, F31, F33; docs/connector.md "Handovers"), each
// checked through the real hub, the liveperson adapter and the relay: the
// exact list of vendor calls each bot received, and the exact transcript
// the consumer saw.

// recorder is a vendor whose every call is written down. Its replies:
// a welcome turn says "welcome (last: …)"; "agent" transfers to skill human
// and "to bot2" to skill bot2, each after a message; anything else is
// echoed.
type recorder struct {
	id    string
	mu    sync.Mutex
	calls []string
}

func (r *recorder) Info() botrelay.VendorInfo {
	return botrelay.VendorInfo{ID: r.id, DisplayName: r.id}
}

func (r *recorder) NewBot(json.RawMessage, botrelay.BotEnv) (botrelay.VendorBot, error) {
	return r, nil
}

func (r *recorder) Converse(_ context.Context, t *botrelay.Turn) (*botrelay.Reply, error) {
	say := func(text string) botrelay.Item { return botrelay.Item{Message: &botrelay.Message{Text: text}} }
	r.mu.Lock()
	defer r.mu.Unlock()
	switch t.Kind {
	case botrelay.TurnStart:
		r.calls = append(r.calls, "START last="+t.LastConsumerMessage)
		return &botrelay.Reply{Items: []botrelay.Item{say(r.id + ": welcome (last: " + t.LastConsumerMessage + ")")}}, nil
	case botrelay.TurnText:
		r.calls = append(r.calls, "TEXT "+t.Text)
	default:
		r.calls = append(r.calls, string(t.Kind))
	}
	switch t.Text {
	case "agent":
		return &botrelay.Reply{Items: []botrelay.Item{say("Transferring you to a human.")},
			Action: &botrelay.Action{Kind: botrelay.ActionTransfer, Skill: botrelay.SkillNameHuman}}, nil
	case "to bot2":
		return &botrelay.Reply{Items: []botrelay.Item{say("Passing you to bot two.")},
			Action: &botrelay.Action{Kind: botrelay.ActionTransfer, Skill: "bot2"}}, nil
	}
	return &botrelay.Reply{Items: []botrelay.Item{say(r.id + ": echo " + t.Text)}}, nil
}

func (r *recorder) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

// handoverRig has two recording bots, A on skill bot and B on skill bot2,
// and a human agent alice on skill human; welcomeA and welcomeB set the
// bots' Welcome Message option. Neither bot is started.
type handoverRig struct {
	*testrig.Rig
	a, b     *recorder
	botA     *botrelay.Bot
	botB     *botrelay.Bot
	alice    *botrelay.User
	password string
}

func newHandoverRig(t *testing.T, welcomeA, welcomeB bool) *handoverRig {
	a, b := &recorder{id: "rec_a"}, &recorder{id: "rec_b"}
	r := testrig.NewRig(t, testrig.RigOptions{Vendors: []botrelay.VendorConnector{a, b}, Skills: []string{"bot2"}})
	h := &handoverRig{Rig: r, a: a, b: b, password: "Alice-Pa55word!"}
	h.botA = r.AddBot("a", testrig.BotOptions{Vendor: "rec_a", Edit: func(b *botrelay.Bot) { b.Settings.Messaging.WelcomeMessage = welcomeA }})
	h.botB = r.AddBot("b", testrig.BotOptions{Vendor: "rec_b", Skills: []string{"bot2"},
		Edit: func(b *botrelay.Bot) { b.Settings.Messaging.WelcomeMessage = welcomeB }})
	h.alice = r.AddHuman("alice", h.password, botrelay.SkillNameHuman)
	return h
}

// holds waits until bot holds the conversation: its state open and the
// hub's assigned agent.
func (h *handoverRig) holds(bot *botrelay.Bot, conv string) {
	h.T.Helper()
	testrig.Eventually(h.T, wait, string(bot.ID)+" to hold the conversation", func() bool {
		st, err := h.Store.BotConversation(context.Background(), bot.ID, botrelay.ConversationID(conv))
		if err != nil || !st.Open {
			return false
		}
		c := h.Conversation(conv)
		return c.AssignedAgent() == bot.UserID
	})
}

func wantCalls(t *testing.T, who string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s's vendor calls:\n  got  %q\n  want %q", who, got, want)
	}
}

func wantTranscript(t *testing.T, c *testrig.Consumer, want ...string) {
	t.Helper()
	if got := c.Transcript(); !slices.Equal(got, want) {
		t.Fatalf("consumer transcript:\n  got  %s\n  want %s", strings.Join(got, " | "), strings.Join(want, " | "))
	}
}

// talkToAlice opens a conversation on skill human, where alice answers; the
// consumer's last message to her is "thanks, one more question".
func (h *handoverRig) talkToAlice() (*testrig.Consumer, *testrig.Agent) {
	t := h.T
	t.Helper()
	alice := testrig.NewAgent(t, h.URL, "1000", "alice", h.password)
	c := testrig.NewConsumer(t, h.URL, "1000")
	conv := c.Open(botrelay.SkillNameHuman)
	c.Say("hello human")
	alice.AcceptRing(conv, wait)
	alice.Say(conv, "hi, how can I help?")
	c.WaitTexts(wait, "hi, how can I help?")
	c.Say("thanks, one more question")
	return c, alice
}

// A human transfers to the bot skill with the Welcome Message off: the bot
// stays silent until the consumer writes, and never answers what the
// consumer wrote to the human.
func TestHandover_HumanToBotSkill_WelcomeOff(t *testing.T) {
	h := newHandoverRig(t, false, false)
	h.Start(h.botA, botrelay.BotOnline)
	c, alice := h.talkToAlice()
	alice.Transfer(c.ConvID, int64(h.Skills[botrelay.SkillNameBot]), "")
	h.holds(h.botA, c.ConvID)
	c.Say("new question")
	c.WaitTexts(wait, "rec_a: echo new question")
	wantCalls(t, "bot A", h.a.Calls(), "TEXT new question")
	wantTranscript(t, c, "consumer: hello human", "agent: hi, how can I help?", "consumer: thanks, one more question",
		"consumer: new question", "bot: rec_a: echo new question")
}

// With the Welcome Message on, the bot greets once with the consumer's last
// message before it joined, and answers nothing of the human's part.
func TestHandover_HumanToBotSkill_WelcomeOn(t *testing.T) {
	h := newHandoverRig(t, true, false)
	h.Start(h.botA, botrelay.BotOnline)
	c, alice := h.talkToAlice()
	alice.Transfer(c.ConvID, int64(h.Skills[botrelay.SkillNameBot]), "")
	c.WaitTexts(wait, "rec_a: welcome (last: thanks, one more question)")
	h.holds(h.botA, c.ConvID)
	c.Say("new question")
	c.WaitTexts(wait, "rec_a: echo new question")
	wantCalls(t, "bot A", h.a.Calls(), "START last=thanks, one more question", "TEXT new question")
	wantTranscript(t, c, "consumer: hello human", "agent: hi, how can I help?", "consumer: thanks, one more question",
		"bot: rec_a: welcome (last: thanks, one more question)", "consumer: new question", "bot: rec_a: echo new question")
}

// Bot A hands the conversation to bot B's skill: B (Welcome on) greets once
// and answers none of A's part.
func TestHandover_BotToBot(t *testing.T) {
	h := newHandoverRig(t, false, true)
	h.Start(h.botA, botrelay.BotOnline)
	h.Start(h.botB, botrelay.BotOnline)
	c := testrig.NewConsumer(t, h.URL, "1000")
	c.Open(botrelay.SkillNameBot)
	c.Say("hi")
	c.WaitTexts(wait, "rec_a: echo hi")
	c.Say("to bot2")
	c.WaitTexts(wait, "rec_b: welcome (last: to bot2)")
	h.holds(h.botB, c.ConvID)
	c.Say("anything")
	c.WaitTexts(wait, "rec_b: echo anything")
	wantCalls(t, "bot A", h.a.Calls(), "TEXT hi", "TEXT to bot2")
	wantCalls(t, "bot B", h.b.Calls(), "START last=to bot2", "TEXT anything")
	wantTranscript(t, c, "consumer: hi", "bot: rec_a: echo hi", "consumer: to bot2", "bot: Passing you to bot two.",
		"bot: rec_b: welcome (last: to bot2)", "consumer: anything", "bot: rec_b: echo anything")
}

// A human transfers the conversation to a specific bot (agent transfer):
// the bot takes it and answers only what the consumer writes next.
func TestHandover_AgentTransferIntoBot(t *testing.T) {
	h := newHandoverRig(t, false, false)
	h.Start(h.botB, botrelay.BotOnline)
	c, alice := h.talkToAlice()
	alice.Transfer(c.ConvID, int64(h.Skills["bot2"]), "1000."+itoa(int64(h.botB.UserID)))
	h.holds(h.botB, c.ConvID)
	c.Say("are you a bot?")
	c.WaitTexts(wait, "rec_b: echo are you a bot?")
	wantCalls(t, "bot B", h.b.Calls(), "TEXT are you a bot?")
	wantTranscript(t, c, "consumer: hello human", "agent: hi, how can I help?", "consumer: thanks, one more question",
		"consumer: are you a bot?", "bot: rec_b: echo are you a bot?")
}

// A conversation goes from the bot to a human and comes back: the bot
// answers only what the consumer writes after it is back.
func TestHandover_BackToItsBot(t *testing.T) {
	h := newHandoverRig(t, false, false)
	h.Start(h.botA, botrelay.BotOnline)
	alice := testrig.NewAgent(t, h.URL, "1000", "alice", h.password)
	c := testrig.NewConsumer(t, h.URL, "1000")
	c.Open(botrelay.SkillNameBot)
	c.Say("hi")
	c.WaitTexts(wait, "rec_a: echo hi")
	c.Say("agent")
	c.WaitTexts(wait, "Transferring you to a human.")
	alice.AcceptRing(c.ConvID, wait)
	alice.Say(c.ConvID, "alice here")
	c.WaitTexts(wait, "alice here")
	c.Say("thanks, one more question")
	alice.Say(c.ConvID, "the bot can answer that")
	c.WaitTexts(wait, "the bot can answer that")
	alice.Transfer(c.ConvID, int64(h.Skills[botrelay.SkillNameBot]), "")
	h.holds(h.botA, c.ConvID)
	c.Say("new")
	c.WaitTexts(wait, "rec_a: echo new")
	wantCalls(t, "bot A", h.a.Calls(), "TEXT hi", "TEXT agent", "TEXT new")
	wantTranscript(t, c, "consumer: hi", "bot: rec_a: echo hi", "consumer: agent", "bot: Transferring you to a human.",
		"agent: alice here", "consumer: thanks, one more question", "agent: the bot can answer that",
		"consumer: new", "bot: rec_a: echo new")
}

// The consumer writes while the conversation waits for the bot (bot B is
// not started yet): once B takes it, that message is answered, once.
func TestHandover_ConsumerWritesWhileWaiting(t *testing.T) {
	h := newHandoverRig(t, false, false)
	h.Start(h.botA, botrelay.BotOnline)
	c := testrig.NewConsumer(t, h.URL, "1000")
	c.Open(botrelay.SkillNameBot)
	c.Say("hi")
	c.WaitTexts(wait, "rec_a: echo hi")
	c.Say("to bot2")
	c.WaitTexts(wait, "Passing you to bot two.")
	h.WaitSkill(c.ConvID, "bot2", wait)
	c.Say("are you there?")
	h.Start(h.botB, botrelay.BotOnline)
	c.WaitTexts(wait, "rec_b: echo are you there?")
	h.holds(h.botB, c.ConvID)
	c.Say("good")
	c.WaitTexts(wait, "rec_b: echo good")
	wantCalls(t, "bot A", h.a.Calls(), "TEXT hi", "TEXT to bot2")
	wantCalls(t, "bot B", h.b.Calls(), "TEXT are you there?", "TEXT good")
	wantTranscript(t, c, "consumer: hi", "bot: rec_a: echo hi", "consumer: to bot2", "bot: Passing you to bot two.",
		"consumer: are you there?", "bot: rec_b: echo are you there?", "consumer: good", "bot: rec_b: echo good")
}

// The Welcome Message is turned on while a conversation is open, and the
// bot restarts: the resumed conversation is not greeted in the middle of
// the chat; only conversations the bot gets from then on are.
func TestHandover_RestartWithWelcomeTurnedOn(t *testing.T) {
	h := newHandoverRig(t, false, false)
	h.Start(h.botA, botrelay.BotOnline)
	c := testrig.NewConsumer(t, h.URL, "1000")
	c.Open(botrelay.SkillNameBot)
	c.Say("hi")
	c.WaitTexts(wait, "rec_a: echo hi")
	if err := h.Relay.StopKeeping(context.Background(), h.botA.ID); err != nil {
		t.Fatal(err)
	}
	b, err := h.Store.Bot(context.Background(), h.botA.ID)
	if err != nil {
		t.Fatal(err)
	}
	b.Settings.Messaging.WelcomeMessage = true
	if err := h.Store.UpdateBot(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	h.Start(h.botA, botrelay.BotOnline)
	c.Say("again")
	c.WaitTexts(wait, "rec_a: echo again")
	// A new conversation is greeted (the bot joins before the consumer
	// writes: there is no last consumer message yet).
	c2 := testrig.NewConsumer(t, h.URL, "1000")
	c2.Open(botrelay.SkillNameBot)
	c2.WaitTexts(wait, "rec_a: welcome (last: )")
	c2.Say("first")
	c2.WaitTexts(wait, "rec_a: echo first")
	wantCalls(t, "bot A", h.a.Calls(), "TEXT hi", "TEXT again", "START last=", "TEXT first")
	wantTranscript(t, c, "consumer: hi", "bot: rec_a: echo hi", "consumer: again", "bot: rec_a: echo again")
}

// flakyHistory is a platform whose History fails while failing is set, as
// a hub under load that does not answer QueryMessages in time.
type flakyHistory struct {
	botrelay.PlatformAdapter
	failing atomic.Bool
	calls   atomic.Int32
}

func (f *flakyHistory) History(ctx context.Context, conv botrelay.ConversationRef, after int64) ([]*botrelay.PlatformEvent, error) {
	f.calls.Add(1)
	if f.failing.Load() {
		return nil, errors.New("QueryMessages: no answer within 10s")
	}
	return f.PlatformAdapter.History(ctx, conv, after)
}

// A bot resumes a conversation whose history it cannot read (the platform
// does not answer): it does not skip the consumer messages the history
// holds. Once the history can be read, every message written meanwhile is
// answered once, in order, and none is lost behind a later one.
func TestHandover_ResumeWaitsForTheHistory(t *testing.T) {
	flaky := &flakyHistory{}
	a := &recorder{id: "rec_a"}
	r := testrig.NewRig(t, testrig.RigOptions{Vendors: []botrelay.VendorConnector{a},
		WrapPlatform: func(p botrelay.PlatformAdapter) botrelay.PlatformAdapter { flaky.PlatformAdapter = p; return flaky }})
	bot := r.AddBot("a", testrig.BotOptions{Vendor: "rec_a"})
	r.Start(bot, botrelay.BotOnline)
	c := testrig.NewConsumer(t, r.URL, "1000")
	c.Open(botrelay.SkillNameBot)
	c.Say("one")
	c.WaitTexts(wait, "rec_a: echo one")
	if err := r.Relay.StopKeeping(context.Background(), bot.ID); err != nil {
		t.Fatal(err)
	}
	c.Say("two") // written while the bot is stopped
	flaky.failing.Store(true)
	before := flaky.calls.Load()
	r.Start(bot, botrelay.BotOnline)
	// The resume's reads fail; a live message arrives meanwhile.
	testrig.Eventually(t, wait, "the resume to try the history", func() bool { return flaky.calls.Load() > before })
	c.Say("three")
	testrig.Eventually(t, wait, "the history tried again", func() bool { return flaky.calls.Load() >= before+3 })
	wantCalls(t, "bot A", a.Calls(), "TEXT one")
	flaky.failing.Store(false)
	c.WaitTexts(wait, "rec_a: echo two", "rec_a: echo three")
	wantCalls(t, "bot A", a.Calls(), "TEXT one", "TEXT two", "TEXT three")
	wantTranscript(t, c, "consumer: one", "bot: rec_a: echo one", "consumer: two", "consumer: three",
		"bot: rec_a: echo two", "bot: rec_a: echo three")
}

// historyReads counts the history reads of each conversation.
type historyReads struct {
	botrelay.PlatformAdapter
	mu    sync.Mutex
	reads map[botrelay.ConversationID]int
}

func (h *historyReads) History(ctx context.Context, conv botrelay.ConversationRef, after int64) ([]*botrelay.PlatformEvent, error) {
	h.mu.Lock()
	if h.reads == nil {
		h.reads = map[botrelay.ConversationID]int{}
	}
	h.reads[conv.ID]++
	h.mu.Unlock()
	return h.PlatformAdapter.History(ctx, conv, after)
}

func (h *historyReads) of(id string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.reads[botrelay.ConversationID(id)]
}

// A restart resumes a conversation the bot holds and the consumer wrote
// nothing in after the last message the bot handled (here: none yet, as the
// idle conversations of a busy node) without reading its history: the hub
// says which sequence the consumer wrote last. It reads the history of one
// the consumer wrote in while the bot was stopped: that message is answered
// once, and the quiet conversation goes on where it was.
func TestHandover_ResumeReadsOnlyTheHistoryItNeeds(t *testing.T) {
	reads := &historyReads{}
	a := &recorder{id: "rec_a"}
	r := testrig.NewRig(t, testrig.RigOptions{Vendors: []botrelay.VendorConnector{a},
		WrapPlatform: func(p botrelay.PlatformAdapter) botrelay.PlatformAdapter { reads.PlatformAdapter = p; return reads }})
	bot := r.AddBot("a", testrig.BotOptions{Vendor: "rec_a"})
	r.Start(bot, botrelay.BotOnline)
	quiet := testrig.NewConsumer(t, r.URL, "1000")
	quiet.Open(botrelay.SkillNameBot)
	testrig.Eventually(t, wait, "the bot to hold the quiet conversation", func() bool {
		st, err := r.Store.BotConversation(context.Background(), bot.ID, botrelay.ConversationID(quiet.ConvID))
		return err == nil && st.Open
	})
	busy := testrig.NewConsumer(t, r.URL, "1000")
	busy.Open(botrelay.SkillNameBot)
	busy.Say("x")
	busy.WaitTexts(wait, "rec_a: echo x")
	if err := r.Relay.StopKeeping(context.Background(), bot.ID); err != nil {
		t.Fatal(err)
	}
	busy.Say("y") // written while the bot is stopped
	quietBefore, busyBefore := reads.of(quiet.ConvID), reads.of(busy.ConvID)
	r.Start(bot, botrelay.BotOnline)
	busy.WaitTexts(wait, "rec_a: echo y")
	if n := reads.of(busy.ConvID) - busyBefore; n != 1 {
		t.Fatalf("the conversation written in while the bot was stopped had its history read %d times on resume, want 1", n)
	}
	quiet.Say("two")
	quiet.WaitTexts(wait, "rec_a: echo two")
	if n := reads.of(quiet.ConvID) - quietBefore; n != 0 {
		t.Fatalf("the up-to-date conversation had its history read %d times on resume, want 0", n)
	}
	wantCalls(t, "bot A", a.Calls(), "TEXT x", "TEXT y", "TEXT two")
	wantTranscript(t, quiet, "consumer: two", "bot: rec_a: echo two")
	wantTranscript(t, busy, "consumer: x", "bot: rec_a: echo x", "consumer: y", "bot: rec_a: echo y")
}
