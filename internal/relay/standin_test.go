package relay_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/relay"
	"github.com/botrelay/botrelay/internal/testrig"
)

// Stand-ins (docs/standins.md), through the real hub, the liveperson
// adapter and the relay, with recording vendors: the exact vendor calls of
// each bot and the exact transcript each consumer saw.

// twoBots has recording bots A and B, both on skill bot, and a human on
// skill human; neither bot is started.
func twoBots(t *testing.T, edit func(*botrelay.Bot), obs ...*countingObserver) (r *testrig.Rig, a, b *recorder, botA, botB *botrelay.Bot) {
	a, b = &recorder{id: "rec_a"}, &recorder{id: "rec_b"}
	o := testrig.RigOptions{Vendors: []botrelay.VendorConnector{a, b}}
	if len(obs) > 0 {
		o.Observer = obs[0]
	}
	r = testrig.NewRig(t, o)
	botA = r.AddBot("a", testrig.BotOptions{Vendor: "rec_a", Edit: edit})
	botB = r.AddBot("b", testrig.BotOptions{Vendor: "rec_b", Edit: edit})
	return r, a, b, botA, botB
}

const handBackText = "One moment, a colleague takes over."

func withHandBackText(b *botrelay.Bot) { b.Settings.Routing.HandBackMessage = handBackText }

// The operator stops A while it holds 50 conversations and B serves the
// same skill: every conversation goes back to the skill, B takes it, and
// B answers the next consumer message within 5 s; B's vendor never sees
// what the consumer wrote to A.
func TestStandIn_StopHandsBackToAnotherBot(t *testing.T) {
	obs := newCountingObserver()
	r, a, b, botA, botB := twoBots(t, withHandBackText, obs)
	r.Start(botA, botrelay.BotOnline)
	const n = 50
	consumers := make([]*testrig.Consumer, n)
	var wg sync.WaitGroup
	for i := range consumers {
		c := testrig.NewConsumer(t, r.URL, "1000")
		consumers[i] = c
		c.Open("bot")
		c.Say(fmt.Sprintf("hello %d", i))
	}
	for i, c := range consumers {
		c.WaitTexts(wait, fmt.Sprintf("rec_a: echo hello %d", i))
	}
	r.Start(botB, botrelay.BotOnline)
	if err := r.Relay.Stop(context.Background(), botA.ID); err != nil {
		t.Fatal(err)
	}
	for _, c := range consumers {
		c.WaitTexts(wait, handBackText)
		// B holds the conversation before the consumer writes again.
		testrig.Eventually(t, wait, "B to hold "+c.ConvID, func() bool {
			st, err := r.Store.BotConversation(context.Background(), botB.ID, botrelay.ConversationID(c.ConvID))
			return err == nil && st.Open
		})
	}
	slowest := time.Duration(0)
	var mu sync.Mutex
	for i, c := range consumers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			c.Say(fmt.Sprintf("again %d", i))
			c.WaitTexts(5*time.Second, fmt.Sprintf("rec_b: echo again %d", i))
			mu.Lock()
			slowest = max(slowest, time.Since(start))
			mu.Unlock()
		}()
	}
	wg.Wait()
	t.Logf("slowest answer by the stand-in after the hand-back: %v", slowest)
	var wantA, wantB []string
	for i, c := range consumers {
		wantA = append(wantA, fmt.Sprintf("TEXT hello %d", i))
		wantB = append(wantB, fmt.Sprintf("TEXT again %d", i))
		wantTranscript(t, c, fmt.Sprintf("consumer: hello %d", i), fmt.Sprintf("bot: rec_a: echo hello %d", i),
			"bot: "+handBackText, fmt.Sprintf("consumer: again %d", i), fmt.Sprintf("bot: rec_b: echo again %d", i))
		conv := r.Conversation(c.ConvID)
		if conv.AssignedAgent() != botB.UserID {
			t.Fatalf("conversation %s is assigned to %d, want B's user %d", c.ConvID, conv.AssignedAgent(), botB.UserID)
		}
		if st, err := r.Store.BotConversation(context.Background(), botA.ID, botrelay.ConversationID(c.ConvID)); err != nil || st.Open {
			t.Fatalf("A's state of %s = %+v, %v; want let go", c.ConvID, st, err)
		}
	}
	wantSorted(t, "A", a.Calls(), wantA)
	wantSorted(t, "B", b.Calls(), wantB)
	if _, handBacks, _ := obs.snapshot(); len(handBacks) != 1 || handBacks[string(botA.ID)+" stop"] != n {
		t.Fatalf("observed hand-backs = %v, want %d for A's stop", handBacks, n)
	}
	figures, err := r.Store.SplitFigures(context.Background(), r.Skills["bot"])
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range figures {
		want := botrelay.SplitFigures{BotID: f.BotID, Assigned: n, HandedBack: n}
		if f.BotID == botB.ID {
			want = botrelay.SplitFigures{BotID: f.BotID, Assigned: n, Open: n}
		}
		if *f != want {
			t.Fatalf("figures of %s = %+v, want %+v", f.BotID, *f, want)
		}
	}
}

func wantSorted(t *testing.T, who string, got, want []string) {
	t.Helper()
	got, want = slices.Clone(got), slices.Clone(want)
	slices.Sort(got)
	slices.Sort(want)
	wantCalls(t, who, got, want...)
}

// With no other Online bot on the skill, a stopped bot hands its
// conversations to its escalation skill, where a human takes them.
func TestStandIn_StopWithoutAnotherBotGoesToEscalation(t *testing.T) {
	r, a, b, botA, _ := twoBots(t, withHandBackText)
	r.Start(botA, botrelay.BotOnline)
	c := testrig.NewConsumer(t, r.URL, "1000")
	c.Open("bot")
	c.Say("hi")
	c.WaitTexts(wait, "rec_a: echo hi")
	if err := r.Relay.Stop(context.Background(), botA.ID); err != nil {
		t.Fatal(err)
	}
	r.WaitSkill(c.ConvID, botrelay.SkillNameHuman, wait)
	c.WaitTexts(wait, handBackText)
	c.Say("still there?")
	wantTranscript(t, c, "consumer: hi", "bot: rec_a: echo hi", "bot: "+handBackText, "consumer: still there?")
	wantCalls(t, "A", a.Calls(), "TEXT hi")
	wantCalls(t, "B", b.Calls())
}

// A bot that stays in Service Interruption past handBackAfterSeconds hands
// its conversations back around its broken session: with no other bot
// Online (the platform is down for every bot), to the escalation skill.
// When the platform is back, the consumer's conversation waits on skill
// human with the hand-back message in its transcript, and the bot no
// longer holds it.
func TestStandIn_ServiceInterruptionHandsBackAfterGrace(t *testing.T) {
	r, a, _, botA, _ := twoBots(t, func(b *botrelay.Bot) {
		withHandBackText(b)
		b.Settings.Routing.HandBackAfterSeconds = 1
	})
	r.Start(botA, botrelay.BotOnline)
	c := testrig.NewConsumer(t, r.URL, "1000")
	c.Open("bot")
	c.Say("hi")
	c.WaitTexts(wait, "rec_a: echo hi")
	r.StopPlatform()
	r.WaitState(botA, botrelay.BotServiceInterruption, wait)
	start := time.Now()
	r.WaitSkill(c.ConvID, botrelay.SkillNameHuman, wait)
	t.Logf("handed back %v after the Service Interruption began", time.Since(start))
	testrig.Eventually(t, wait, "A to let the conversation go", func() bool {
		st, err := r.Store.BotConversation(context.Background(), botA.ID, botrelay.ConversationID(c.ConvID))
		return err == nil && !st.Open
	})
	r.StartPlatform()
	r.WaitState(botA, botrelay.BotOnline, wait)
	again := testrig.ResumeConsumer(t, r.URL, "1000", c.Token, c.ID, c.ConvID)
	again.WaitTexts(wait, handBackText)
	wantTranscript(t, again, "consumer: hi", "bot: rec_a: echo hi", "bot: "+handBackText)
	if conv := r.Conversation(c.ConvID); conv.AssignedAgent() != 0 {
		t.Fatalf("the conversation went back to user %d", conv.AssignedAgent())
	}
	wantCalls(t, "A", a.Calls(), "TEXT hi")
}

// A bot stopped while it held conversations without handing them back (a
// kill during its hand-back, or a stop before hand-backs existed) has them
// handed back when the relay next starts.
func TestStandIn_StartSweepsWhatStoppedBotsHold(t *testing.T) {
	r, a, _, botA, _ := twoBots(t, withHandBackText)
	r.Start(botA, botrelay.BotOnline)
	c := testrig.NewConsumer(t, r.URL, "1000")
	c.Open("bot")
	c.Say("hi")
	c.WaitTexts(wait, "rec_a: echo hi")
	if err := r.Relay.StopKeeping(context.Background(), botA.ID); err != nil {
		t.Fatal(err)
	}
	if st, _ := r.Store.BotConversation(context.Background(), botA.ID, botrelay.ConversationID(c.ConvID)); st == nil || !st.Open {
		t.Fatal("StopKeeping let the conversation go")
	}
	// botrelay starts again: a new relay on the same store and hub.
	ctx, cancel := context.WithCancel(context.Background())
	next := relay.New(relay.Options{Store: r.Store, Registry: r.Registry, Box: r.Box, Logger: r.Log, HandBack: r.Hub})
	done := make(chan struct{})
	go func() { next.Run(ctx, testrig.Account); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	r.WaitSkill(c.ConvID, botrelay.SkillNameHuman, wait)
	c.WaitTexts(wait, handBackText)
	wantTranscript(t, c, "consumer: hi", "bot: rec_a: echo hi", "bot: "+handBackText)
	testrig.Eventually(t, wait, "A to let the conversation go", func() bool {
		st, err := r.Store.BotConversation(context.Background(), botA.ID, botrelay.ConversationID(c.ConvID))
		return err == nil && !st.Open
	})
	wantCalls(t, "A", a.Calls(), "TEXT hi")
}

// A shutdown of botrelay is not an operator's stop: even with another bot
// of the skill Online, the bot keeps its conversations, with no hand-back
// message, and answers them again after the restart.
func TestStandIn_ShutdownDoesNotHandBack(t *testing.T) {
	r, a, b, botA, botB := twoBots(t, withHandBackText)
	run := func() (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		rel := r.NewRelay()
		done := make(chan struct{})
		go func() { rel.Run(ctx, testrig.Account); close(done) }()
		return func() { cancel(); <-done }
	}
	// A runs in a botrelay process of its own.
	if err := r.Store.SetBotStarted(context.Background(), botA.ID, true); err != nil {
		t.Fatal(err)
	}
	stop := run()
	c := testrig.NewConsumer(t, r.URL, "1000")
	c.Open("bot")
	c.Say("hi")
	c.WaitTexts(wait, "rec_a: echo hi")
	r.Start(botB, botrelay.BotOnline) // a stand-in is there (on another node)
	stop()                            // A's process shuts down
	if st, err := r.Store.BotConversation(context.Background(), botA.ID, botrelay.ConversationID(c.ConvID)); err != nil || !st.Open {
		t.Fatalf("after the shutdown A's state = %+v, %v; want still open", st, err)
	}
	if conv := r.Conversation(c.ConvID); conv.AssignedAgent() != botA.UserID || conv.SkillID != r.Skills["bot"] {
		t.Fatalf("after the shutdown the conversation is assigned to %d on skill %d", conv.AssignedAgent(), conv.SkillID)
	}
	if err := r.Relay.StopKeeping(context.Background(), botB.ID); err != nil {
		t.Fatal(err)
	}
	stop = run() // A's process starts again
	defer stop()
	c.Say("again")
	c.WaitTexts(wait, "rec_a: echo again")
	wantTranscript(t, c, "consumer: hi", "bot: rec_a: echo hi", "consumer: again", "bot: rec_a: echo again")
	wantCalls(t, "A", a.Calls(), "TEXT hi", "TEXT again")
	wantCalls(t, "B", b.Calls())
}

// historyHolder is a platform adapter whose History waits while hold is
// set, until its context ends: a conversation's worker then cannot take the
// conversation over (it stores nothing) before a stop's drain runs out.
type historyHolder struct {
	botrelay.PlatformAdapter
	hold *atomic.Bool
}

func (h historyHolder) History(ctx context.Context, ref botrelay.ConversationRef, after int64) ([]*botrelay.PlatformEvent, error) {
	for h.hold.Load() {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return h.PlatformAdapter.History(ctx, ref, after)
}

func (h historyHolder) SetAvailability(ctx context.Context, state string) error {
	return h.PlatformAdapter.(botrelay.AvailabilitySetter).SetAvailability(ctx, state)
}

// A conversation the platform assigned to the bot, but that its worker had
// not taken over (nothing stored) when the operator stopped the bot, is
// handed back too.
func TestStandIn_StopHandsBackWhatWasNotTakenOverYet(t *testing.T) {
	a, b := &recorder{id: "rec_a"}, &recorder{id: "rec_b"}
	var hold atomic.Bool
	r := testrig.NewRig(t, testrig.RigOptions{Vendors: []botrelay.VendorConnector{a, b}, DrainTimeout: 300 * time.Millisecond,
		WrapPlatform: func(p botrelay.PlatformAdapter) botrelay.PlatformAdapter { return historyHolder{p, &hold} }})
	botA := r.AddBot("a", testrig.BotOptions{Vendor: "rec_a", Edit: withHandBackText})
	botB := r.AddBot("b", testrig.BotOptions{Vendor: "rec_b", Edit: withHandBackText})
	r.Start(botA, botrelay.BotOnline)
	hold.Store(true)
	c := testrig.NewConsumer(t, r.URL, "1000")
	c.Open("bot")
	c.Say("hello")
	testrig.Eventually(t, wait, "A to be assigned", func() bool { return r.Conversation(c.ConvID).AssignedAgent() == botA.UserID })
	r.Start(botB, botrelay.BotOnline)
	if err := r.Relay.Stop(context.Background(), botA.ID); err != nil {
		t.Fatal(err)
	}
	hold.Store(false)
	c.WaitTexts(wait, handBackText)
	testrig.Eventually(t, wait, "B to hold the conversation", func() bool {
		st, err := r.Store.BotConversation(context.Background(), botB.ID, botrelay.ConversationID(c.ConvID))
		return err == nil && st.Open
	})
	c.Say("again")
	c.WaitTexts(wait, "rec_b: echo again")
	wantTranscript(t, c, "consumer: hello", "bot: "+handBackText, "consumer: again", "bot: rec_b: echo again")
	wantCalls(t, "A", a.Calls())
	wantCalls(t, "B", b.Calls(), "TEXT again")
}
