package liveperson

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/auth"
)

// TestConversationFlow drives a whole conversation through the real hub:
// ring, accept, assignment, consumer messages, every kind of publish,
// typing both ways, TTR, history and a transfer to the human skill.
func TestConversationFlow(t *testing.T) { conversationFlow(t, false) }

// TestConversationFlowTLS is the same over HTTPS and WSS with a private CA.
func TestConversationFlowTLS(t *testing.T) { conversationFlow(t, true) }

func conversationFlow(t *testing.T, useTLS bool) {
	e := newEnv(t, useTLS)
	a := e.adapter(nil)
	rec := newRecorder()
	stop, _ := running(t, a, rec)
	rec.waitOnline(t)

	ctx := context.Background()
	skills, err := a.Skills(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"bot", "human", "survey"} {
		if skills[name] != e.skills[name] {
			t.Fatalf("Skills()[%q] = %d, want %d (all: %v)", name, skills[name], e.skills[name], skills)
		}
	}

	c := e.newConsumer("bot")
	ev := rec.waitKind(t, botrelay.EventAssigned, botrelay.ConversationID(c.convID))
	ref := ev.Conversation
	want := botrelay.ConversationRef{ID: botrelay.ConversationID(c.convID), DialogID: botrelay.DialogID(c.convID),
		Type: botrelay.Messaging, ConsumerID: botrelay.ConsumerID(c.id), SkillID: e.skills["bot"], SkillName: "bot"}
	if ref != want {
		t.Fatalf("assigned conversation = %+v, want %+v", ref, want)
	}
	if len(ev.Context) == 0 || !json.Valid(ev.Context) {
		t.Fatalf("assigned event has no conversation context: %q", ev.Context)
	}
	if got := e.conversation(ref.ID).AssignedAgent(); got != e.bot.ID {
		t.Fatalf("assigned agent in the store = %d, want the bot %d", got, e.bot.ID)
	}

	// Consumer text.
	c.say("hello bot")
	msg := rec.waitKind(t, botrelay.EventConsumerMessage, ref.ID)
	if msg.Text != "hello bot" || msg.Sequence < 1 || msg.Conversation.DialogID != ref.DialogID {
		t.Fatalf("consumer message = %+v", msg)
	}
	var raw struct {
		Sequence           int64  `json:"sequence"`
		DialogID           string `json:"dialogId"`
		OriginatorMetadata struct {
			Role string `json:"role"`
		} `json:"originatorMetadata"`
		Event struct {
			Message string `json:"message"`
		} `json:"event"`
	}
	if err := json.Unmarshal(msg.Raw, &raw); err != nil || raw.Sequence != msg.Sequence || raw.DialogID != c.convID ||
		raw.OriginatorMetadata.Role != "CONSUMER" || raw.Event.Message != "hello bot" {
		t.Fatalf("Raw is not the notification body: %s (%v)", msg.Raw, err)
	}
	helloSeq := msg.Sequence

	// Plain text.
	seq, err := a.Publish(ctx, ref, &botrelay.Message{Text: "Hi! How can I help?"})
	if err != nil || seq <= helloSeq {
		t.Fatalf("Publish text = %d, %v", seq, err)
	}
	got := c.nextFromAgent()
	if got.Event.Type != "ContentEvent" || string(got.Event.Message) != `"Hi! How can I help?"` || got.Sequence != seq {
		t.Fatalf("consumer got %+v", got)
	}

	// Text with quick replies and metadata.
	qr := json.RawMessage(`{"type":"quickReplies","itemsPerRow":8,"replies":[{"type":"button","title":"Yes","click":{"actions":[{"type":"publishText","text":"Yes"}]}}]}`)
	meta := json.RawMessage(`[{"type":"ExternalId","id":"q1"}]`)
	if _, err := a.Publish(ctx, ref, &botrelay.Message{Text: "Continue?", QuickReplies: qr, Metadata: meta, EncodedMetadata: "ZW5jb2RlZA=="}); err != nil {
		t.Fatal(err)
	}
	got = c.nextFromAgent()
	if string(got.Event.Message) != `"Continue?"` || !jsonEqual(got.Event.QuickReplies, qr) || !jsonEqual(got.Metadata, meta) {
		t.Fatalf("quick replies: consumer got %+v", got)
	}

	// Structured content.
	sc := json.RawMessage(`{"type":"vertical","elements":[{"type":"text","text":"Our menu"},{"type":"button","title":"Order","click":{"actions":[{"type":"publishText","text":"order"}]}}]}`)
	if _, err := a.Publish(ctx, ref, &botrelay.Message{StructuredContent: sc, Metadata: json.RawMessage(`{"type":"ExternalId","id":"card"}`)}); err != nil {
		t.Fatal(err)
	}
	got = c.nextFromAgent()
	if got.Event.Type != "RichContentEvent" || !jsonEqual(got.Event.Content, sc) || !jsonEqual(got.Metadata, json.RawMessage(`[{"type":"ExternalId","id":"card"}]`)) {
		t.Fatalf("structured content: consumer got %+v", got)
	}

	// A private note, then a public marker: the consumer sees only the marker.
	noteSeq, err := a.Publish(ctx, ref, &botrelay.Message{Text: "summary for agents", Audience: botrelay.AudienceAgentsAndManagers})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Publish(ctx, ref, &botrelay.Message{Text: "marker"}); err != nil {
		t.Fatal(err)
	}
	if got = c.nextFromAgent(); string(got.Event.Message) != `"marker"` {
		t.Fatalf("after a private note the consumer got %+v, want the marker", got)
	}
	stored, err := e.store.Events(ctx, ref.ID, ref.DialogID, noteSeq-1, 1)
	if err != nil || len(stored) != 1 || stored[0].Audience != botrelay.AudienceAgentsAndManagers {
		t.Fatalf("stored private note = %+v, %v", stored, err)
	}
	// Encoded metadata is stored with its event.
	all, _ := e.store.Events(ctx, ref.ID, ref.DialogID, 0, 0)
	foundEncoded := false
	for _, ev := range all {
		foundEncoded = foundEncoded || ev.EncodedMetadata == "ZW5jb2RlZA=="
	}
	if !foundEncoded {
		t.Fatal("encodedMetadata was not carried on the request")
	}

	// Typing, both ways.
	if err := a.SetTyping(ctx, ref, true); err != nil {
		t.Fatal(err)
	}
	if got = c.nextFromAgent(); got.Event.Type != "ChatStateEvent" || got.Event.ChatState != "COMPOSING" {
		t.Fatalf("typing: consumer got %+v", got)
	}
	if err := a.SetTyping(ctx, ref, false); err != nil {
		t.Fatal(err)
	}
	if got = c.nextFromAgent(); got.Event.ChatState != "ACTIVE" {
		t.Fatalf("typing off: consumer got %+v", got)
	}
	c.request("ms.PublishEvent", map[string]any{"dialogId": c.convID, "event": map[string]any{"type": "ChatStateEvent", "chatState": "COMPOSING"}})
	if ty := rec.waitKind(t, botrelay.EventConsumerTyping, ref.ID); !ty.Typing {
		t.Fatalf("consumer typing = %+v", ty)
	}
	// Receipts are not events for the relay.
	c.request("ms.PublishEvent", map[string]any{"dialogId": c.convID, "event": map[string]any{"type": "AcceptStatusEvent", "status": "READ", "sequenceList": []int64{seq}}})

	// Rich content from the consumer.
	c.request("ms.PublishEvent", map[string]any{"dialogId": c.convID, "event": map[string]any{"type": "RichContentEvent",
		"content": map[string]any{"type": "vertical", "elements": []any{}}}})
	rich := rec.waitKind(t, botrelay.EventConsumerMessage, ref.ID)
	if !jsonEqual(rich.RichContent, json.RawMessage(`{"type":"vertical","elements":[]}`)) || rich.Text != "" {
		t.Fatalf("consumer rich content = %+v", rich)
	}

	// TTR.
	if err := a.SetTTR(ctx, ref, "URGENT", 0); err != nil {
		t.Fatal(err)
	}
	if ttr := e.conversation(ref.ID).TTR; ttr != botrelay.TTRUrgent {
		t.Fatalf("TTR = %s", ttr)
	}
	if err := a.SetTTR(ctx, ref, "SOON", 0); botrelay.ErrorCode(err) != botrelay.EINVALID {
		t.Fatalf("SetTTR(SOON) = %v, want EINVALID", err)
	}

	// History after the first message: the consumer's later messages, and
	// the bot's own with their metadata (the relay's restart markers).
	c.say("one")
	c.say("two")
	rec.waitEvent(t, "message two", func(ev *botrelay.PlatformEvent) bool { return ev.Text == "two" })
	hist, err := a.History(ctx, ref, helloSeq)
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	own := 0
	for i, h := range hist {
		if h.Sequence <= helloSeq || (i > 0 && h.Sequence <= hist[i-1].Sequence) {
			t.Fatalf("history item %d = %+v", i, h)
		}
		if h.Kind == botrelay.EventBotMessage {
			own++
			continue
		}
		if h.Kind != botrelay.EventConsumerMessage {
			t.Fatalf("history item %d = %+v", i, h)
		}
		if h.RichContent != nil {
			texts = append(texts, "<rich>")
			continue
		}
		texts = append(texts, h.Text)
	}
	if strings.Join(texts, ",") != "<rich>,one,two" || own == 0 {
		t.Fatalf("History after %d = %v and %d of the bot's own messages", helloSeq, texts, own)
	}
	history, _ := a.History(ctx, ref, 0)
	consumer := 0
	for _, h := range history {
		if h.Kind == botrelay.EventConsumerMessage {
			consumer++
		}
	}
	if consumer != 4 || history[0].Text != "hello bot" {
		t.Fatalf("History from 0 = %d consumer events", consumer)
	}

	// Errors carry the platform's code and message.
	_, err = a.Publish(ctx, botrelay.ConversationRef{ID: "nope", DialogID: "nope"}, &botrelay.Message{Text: "x"})
	var perr *Error
	if !errors.As(err, &perr) || perr.Code != 404 || perr.Message == "" {
		t.Fatalf("Publish to a missing dialog = %v, want a 404 *Error", err)
	}

	// Transfer to the human skill.
	if err := a.Transfer(ctx, ref, e.skills["human"], ""); err != nil {
		t.Fatal(err)
	}
	un := rec.waitKind(t, botrelay.EventUnassigned, ref.ID)
	if un.Closed {
		t.Fatalf("transfer reported the conversation closed: %+v", un)
	}
	conv := e.conversation(ref.ID)
	if conv.SkillID != e.skills["human"] || conv.AssignedAgent() != 0 || conv.State != botrelay.ConversationOpen {
		t.Fatalf("after transfer: skill %d, agent %d, state %s", conv.SkillID, conv.AssignedAgent(), conv.State)
	}
	if _, err := a.Publish(ctx, ref, &botrelay.Message{Text: "still here?"}); !errors.As(err, &perr) || perr.Code != 403 {
		t.Fatalf("Publish after the transfer = %v, want 403", err)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run = %v, want nil after the context ended", err)
	}
}

// TestTransferToAgent suggests a human agent; the hub records the
// suggestion on the human skill.
func TestTransferToAgent(t *testing.T) {
	e := newEnv(t, false)
	a := e.adapter(nil)
	rec := newRecorder()
	running(t, a, rec)
	rec.waitOnline(t)
	c := e.newConsumer("bot")
	ref := rec.waitKind(t, botrelay.EventAssigned, botrelay.ConversationID(c.convID)).Conversation
	admin, err := e.store.UserByLogin(e.ctx, testAccount, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Transfer(context.Background(), ref, e.skills["human"], itoa(int64(admin.ID))); err != nil {
		t.Fatal(err)
	}
	rec.waitKind(t, botrelay.EventUnassigned, ref.ID)
	conv := e.conversation(ref.ID)
	suggested := false
	for _, p := range conv.Participants {
		suggested = suggested || (p.UserID == admin.ID && p.State == botrelay.ParticipantStateSuggested)
	}
	if !suggested || conv.SkillID != e.skills["human"] {
		t.Fatalf("after transfer to agent: %+v", conv.Participants)
	}
}

// TestClose covers the three ways a conversation ends for a bot.
func TestClose(t *testing.T) {
	e := newEnv(t, false)
	a := e.adapter(nil)
	rec := newRecorder()
	running(t, a, rec)
	rec.waitOnline(t)
	ctx := context.Background()

	// Without PCS: the conversation closes.
	c := e.newConsumer("bot")
	ref := rec.waitKind(t, botrelay.EventAssigned, botrelay.ConversationID(c.convID)).Conversation
	if err := a.Close(ctx, ref, true); err != nil {
		t.Fatal(err)
	}
	if un := rec.waitKind(t, botrelay.EventUnassigned, ref.ID); !un.Closed {
		t.Fatalf("close without PCS: %+v", un)
	}
	if st := e.conversation(ref.ID).State; st != botrelay.ConversationClose {
		t.Fatalf("state = %s", st)
	}

	// With PCS on a skill without a survey: closing the main dialog closes
	// the conversation.
	c = e.newConsumer("bot")
	ref = rec.waitKind(t, botrelay.EventAssigned, botrelay.ConversationID(c.convID)).Conversation
	if err := a.Close(ctx, ref, false); err != nil {
		t.Fatal(err)
	}
	if un := rec.waitKind(t, botrelay.EventUnassigned, ref.ID); !un.Closed {
		t.Fatalf("close with PCS: %+v", un)
	}
	if st := e.conversation(ref.ID).State; st != botrelay.ConversationClose {
		t.Fatalf("state = %s", st)
	}

	// On a skill with a survey but no survey bot logged in: the
	// conversation closes outright (TestSurveyBot runs a survey).
	c = e.newConsumer("survey")
	ref = rec.waitKind(t, botrelay.EventAssigned, botrelay.ConversationID(c.convID)).Conversation
	if err := a.Close(ctx, ref, false); err != nil {
		t.Fatal(err)
	}
	if un := rec.waitKind(t, botrelay.EventUnassigned, ref.ID); !un.Closed {
		t.Fatalf("close on a survey skill without a survey bot: %+v", un)
	}
	if conv := e.conversation(ref.ID); conv.State != botrelay.ConversationClose || len(conv.Dialogs) != 1 {
		t.Fatalf("after closing the main dialog: %+v", conv)
	}
}

// TestSurveyBot: closing the main dialog on a skill with a survey hands the
// conversation from the agent bot to the survey bot of the skill, as
// EventSurveyStarted on the survey dialog; the survey bot talks in it and
// closing the survey dialog ends the conversation.
func TestSurveyBot(t *testing.T) {
	e := newEnv(t, false)
	agent := e.adapter(nil)
	agentRec := newRecorder()
	running(t, agent, agentRec)
	agentRec.waitOnline(t)

	// A second bot user, bound to a survey bot of skill survey.
	ctx := context.Background()
	prof, err := e.store.ProfileByName(ctx, testAccount, "Agent")
	if err != nil {
		t.Fatal(err)
	}
	u := &botrelay.User{Type: botrelay.UserBot, AccountID: testAccount, LoginName: "lp-survey", Nickname: "Survey",
		ProfileID: prof.ID, MessagingSlots: 50, Enabled: true}
	if err := e.store.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	keys, err := auth.NewKeySet()
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.CreateAPIKey(ctx, &botrelay.APIKey{AppKey: keys.AppKey, UserID: u.ID, AccessToken: keys.AccessToken,
		SecretHash: auth.HashSecret(keys.Secret), AccessTokenSecretHash: auth.HashSecret(keys.AccessTokenSecret)}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.CreateBot(ctx, &botrelay.Bot{AccountID: testAccount, Name: "survey", UserID: u.ID, Vendor: "function",
		Type: botrelay.BotSurvey, Settings: botrelay.BotSettings{Survey: botrelay.SurveySettings{Skills: []string{"survey"}}}}); err != nil {
		t.Fatal(err)
	}
	surveyor := e.adapter(func(c *Config, o *Options) {
		c.Username, c.AppKey, c.Secret, c.AccessToken, c.AccessTokenSecret = u.LoginName, keys.AppKey, keys.Secret, keys.AccessToken, keys.AccessTokenSecret
		o.SurveyBot = true
	})
	rec := newRecorder()
	running(t, surveyor, rec)
	rec.waitOnline(t)

	// The agent bot gets the conversation, never the survey bot.
	c := e.newConsumer("survey")
	ref := agentRec.waitKind(t, botrelay.EventAssigned, botrelay.ConversationID(c.convID)).Conversation
	if err := agent.Close(ctx, ref, false); err != nil {
		t.Fatal(err)
	}
	if un := agentRec.waitKind(t, botrelay.EventUnassigned, ref.ID); un.Closed {
		t.Fatalf("the agent bot saw the conversation closed although its survey runs: %+v", un)
	}
	sv := rec.waitKind(t, botrelay.EventSurveyStarted, ref.ID)
	if sv.Conversation.DialogID == ref.DialogID || sv.Conversation.DialogID == "" {
		t.Fatalf("survey event = %+v", sv)
	}
	if _, err := surveyor.Publish(ctx, sv.Conversation, &botrelay.Message{Text: "How did we do?"}); err != nil {
		t.Fatal(err)
	}
	// Closing without withoutPcs closes the survey dialog, and with it the
	// conversation.
	if err := surveyor.Close(ctx, sv.Conversation, false); err != nil {
		t.Fatal(err)
	}
	if un := rec.waitKind(t, botrelay.EventUnassigned, ref.ID); !un.Closed {
		t.Fatalf("survey close: %+v", un)
	}
	if conv := e.conversation(ref.ID); conv.State != botrelay.ConversationClose || len(conv.Dialogs) != 2 {
		t.Fatalf("after the survey: %+v", conv)
	}
	for {
		select {
		case ev := <-agentRec.events:
			if ev.Kind == botrelay.EventSurveyStarted || ev.Kind == botrelay.EventAssigned {
				t.Fatalf("the agent bot was offered the survey: %+v", ev)
			}
			continue
		default:
		}
		break
	}
}

// TestManualRings: with RingAcceptManual the relay sees the ring and
// accepts it.
func TestManualRings(t *testing.T) {
	e := newEnv(t, false)
	a := e.adapter(func(_ *Config, o *Options) { o.RingAccept = RingAcceptManual })
	rec := newRecorder()
	running(t, a, rec)
	rec.waitOnline(t)
	c := e.newConsumer("bot")
	ring := rec.waitKind(t, botrelay.EventRing, botrelay.ConversationID(c.convID))
	if ring.RingID == "" || ring.Conversation.ConsumerID != botrelay.ConsumerID(c.id) || ring.Conversation.SkillID != e.skills["bot"] {
		t.Fatalf("ring = %+v", ring)
	}
	if err := a.Accept(context.Background(), ring.RingID); err != nil {
		t.Fatal(err)
	}
	rec.waitKind(t, botrelay.EventAssigned, ring.Conversation.ID)
	if err := a.Accept(context.Background(), ring.RingID); err == nil {
		t.Fatal("accepting a ring twice succeeded")
	}
}

// TestReconnect: the platform ends the session (logout: close code 4401),
// then the hub restarts on the same store; each time the adapter logs in
// again, resubscribes and reports the open conversation assigned again.
// Run can also be called again after it returned.
func TestReconnect(t *testing.T) {
	e := newEnv(t, false)
	a := e.adapter(nil)
	rec := newRecorder()
	stop, _ := running(t, a, rec)
	rec.waitOnline(t)
	c := e.newConsumer("bot")
	id := botrelay.ConversationID(c.convID)
	ref := rec.waitKind(t, botrelay.EventAssigned, id).Conversation

	// 1. The session is logged out server-side.
	a.mu.Lock()
	bearer := a.auth.bearer
	a.mu.Unlock()
	req, _ := newJSONRequest(e.baseURL()+"/api/account/"+testAccount+"/logout?v=1.3", `{}`)
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := e.client.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("logout: %v %v", err, resp)
	}
	resp.Body.Close()
	if err := waitState(t, rec); err == nil || !strings.Contains(err.Error(), "4401") {
		t.Fatalf("state after logout = %v, want the 4401 close", err)
	}
	rec.waitOnline(t)
	again := rec.waitKind(t, botrelay.EventAssigned, id)
	if again.Conversation != ref {
		t.Fatalf("after re-login: %+v, want %+v", again.Conversation, ref)
	}
	a.mu.Lock()
	newBearer := a.auth.bearer
	a.mu.Unlock()
	if newBearer == bearer {
		t.Fatal("the adapter did not log in again")
	}
	c.say("after relogin")
	if m := rec.waitKind(t, botrelay.EventConsumerMessage, id); m.Text != "after relogin" {
		t.Fatalf("message = %+v", m)
	}

	// 2. The hub restarts on the same store and address.
	e.restart()
	if err := waitState(t, rec); err == nil {
		t.Fatal("no interruption reported")
	}
	rec.waitOnline(t)
	rec.waitKind(t, botrelay.EventAssigned, id)
	seq, err := a.Publish(context.Background(), ref, &botrelay.Message{Text: "back"})
	if err != nil || seq == 0 {
		t.Fatalf("Publish after the restart = %d, %v", seq, err)
	}

	// 3. Run ends with its context and can run again.
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Publish(context.Background(), ref, &botrelay.Message{Text: "x"}); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("Publish while stopped = %v, want ErrNotConnected", err)
	}
	rec2 := newRecorder()
	running(t, a, rec2)
	rec2.waitOnline(t)
	rec2.waitKind(t, botrelay.EventAssigned, id)
}

// TestConversationClosedWhileAway: a conversation that closes while the
// adapter is disconnected is reported unassigned after the reconnect.
func TestConversationClosedWhileAway(t *testing.T) {
	e := newEnv(t, false)
	a := e.adapter(func(_ *Config, o *Options) {
		o.ReconnectMin, o.ReconnectMax = 300*time.Millisecond, 300*time.Millisecond
	})
	rec := newRecorder()
	running(t, a, rec)
	rec.waitOnline(t)
	c := e.newConsumer("bot")
	id := botrelay.ConversationID(c.convID)
	rec.waitKind(t, botrelay.EventAssigned, id)

	e.stop()
	if err := waitState(t, rec); err == nil {
		t.Fatal("no interruption reported")
	}
	// Close the conversation in the store while the hub is down.
	conv := e.conversation(id)
	conv.State, conv.CloseReason = botrelay.ConversationClose, botrelay.CloseByConsumer
	for i := range conv.Dialogs {
		conv.Dialogs[i].State = botrelay.DialogClose
	}
	if err := e.store.UpdateConversation(e.ctx, conv); err != nil {
		t.Fatal(err)
	}
	e.start(e.addr)
	rec.waitOnline(t)
	rec.waitKind(t, botrelay.EventUnassigned, id)
}

// TestSessionReplaced: another login of the same user ends Run with
// ErrSessionReplaced.
func TestSessionReplaced(t *testing.T) {
	e := newEnv(t, false)
	a := e.adapter(nil)
	rec := newRecorder()
	_, done := running(t, a, rec)
	rec.waitOnline(t)

	other := e.adapter(nil)
	if _, err := other.Skills(context.Background()); err != nil { // logs in
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrSessionReplaced) || !strings.Contains(err.Error(), "lp-bot") {
			t.Fatalf("Run = %v, want ErrSessionReplaced", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Run did not return after the session was replaced")
	}
}

// TestBadCredentials: a rejected login ends Run with an error that names
// the check and not the secret.
func TestBadCredentials(t *testing.T) {
	e := newEnv(t, false)
	wrong := "0123456789abcdef0123456789abcdef"
	a := e.adapter(func(c *Config, _ *Options) { c.Secret = wrong })
	rec := newRecorder()
	_, done := running(t, a, rec)
	select {
	case err := <-done:
		if !errors.Is(err, ErrLoginRejected) {
			t.Fatalf("Run = %v, want ErrLoginRejected", err)
		}
		msg := err.Error()
		for _, s := range []string{"401", "lp-bot", "API key", "login"} {
			if !strings.Contains(msg, s) {
				t.Errorf("error %q does not mention %q", msg, s)
			}
		}
		for _, s := range []string{wrong, e.keys.AccessTokenSecret, e.keys.Secret} {
			if strings.Contains(msg, s) {
				t.Errorf("error %q shows a secret", msg)
			}
		}
	case <-time.After(waitLimit):
		t.Fatal("Run did not return on bad credentials")
	}
	if err := <-rec.states; !errors.Is(err, ErrLoginRejected) {
		t.Fatalf("PlatformState = %v", err)
	}
	if _, err := a.Skills(context.Background()); !errors.Is(err, ErrLoginRejected) {
		t.Fatalf("Skills = %v", err)
	}
}

// TestUnreachable: a platform that is down is retried, not fatal.
func TestUnreachable(t *testing.T) {
	e := newEnv(t, false)
	e.stop()
	a := e.adapter(nil)
	rec := newRecorder()
	stop, done := running(t, a, rec)
	for i := 0; i < 3; i++ {
		if err := waitState(t, rec); err == nil {
			t.Fatal("online without a server")
		}
	}
	select {
	case err := <-done:
		t.Fatalf("Run returned %v while the platform was down", err)
	default:
	}
	e.start(e.addr)
	rec.waitOnline(t)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func waitState(t *testing.T, rec *recorder) error {
	t.Helper()
	select {
	case err := <-rec.states:
		return err
	case <-time.After(waitLimit):
		t.Fatal("timed out waiting for a platform state")
		return nil
	}
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

// echoInbound answers each consumer message from inside HandleEvent, as a
// relay that works synchronously would.
type echoInbound struct {
	*recorder
	a *Adapter
}

func (e echoInbound) HandleEvent(ctx context.Context, ev *botrelay.PlatformEvent) {
	if ev.Kind == botrelay.EventConsumerMessage {
		if _, err := e.a.Publish(ctx, ev.Conversation, &botrelay.Message{Text: "echo: " + ev.Text}); err != nil && ctx.Err() == nil {
			panic(err)
		}
	}
	e.recorder.HandleEvent(ctx, ev)
}

// TestCallsFromHandleEvent: the adapter keeps reading while the relay's
// HandleEvent waits for an answer of its own request.
func TestCallsFromHandleEvent(t *testing.T) {
	e := newEnv(t, false)
	a := e.adapter(nil)
	rec := newRecorder()
	running(t, a, echoInbound{rec, a})
	rec.waitOnline(t)
	c := e.newConsumer("bot")
	rec.waitKind(t, botrelay.EventAssigned, botrelay.ConversationID(c.convID))
	for _, text := range []string{"a", "b", "c"} {
		c.say(text)
	}
	for _, text := range []string{"a", "b", "c"} {
		if got := c.nextFromAgent(); string(got.Event.Message) != `"echo: `+text+`"` {
			t.Fatalf("consumer got %s, want the echo of %q", got.Event.Message, text)
		}
	}
}
