package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/function"
	"github.com/botrelay/botrelay/internal/testrig"
	"github.com/botrelay/botrelay/internal/uuid"
)

// storedConversation stores an open conversation on skill bot with who (when
// not nil) as its assigned agent, for the route permission fixtures.
func (e *env) storedConversation(who *botrelay.User) botrelay.ConversationID {
	e.t.Helper()
	id := botrelay.ConversationID(uuid.New())
	now := time.Now().UTC()
	c := &botrelay.Conversation{ID: id, AccountID: testrig.Account, ConsumerID: botrelay.ConsumerID(uuid.New()),
		SkillID: e.rig.Skills["bot"], State: botrelay.ConversationOpen, TTR: botrelay.TTRNormal,
		Participants: []botrelay.Participant{{ConsumerID: "", Role: botrelay.ParticipantConsumer, State: botrelay.ParticipantStateActive, JoinedAt: now}},
		Dialogs:      []botrelay.Dialog{{ID: botrelay.DialogID(id), Type: botrelay.DialogMain, State: botrelay.DialogOpen, CreatedAt: now}}}
	c.Participants[0].ConsumerID = c.ConsumerID
	if who != nil {
		c.Participants = append(c.Participants, botrelay.Participant{UserID: who.ID, Role: botrelay.ParticipantAssignedAgent,
			State: botrelay.ParticipantStateActive, JoinedAt: now})
	}
	if err := e.rig.Store.CreateConversation(context.Background(), c); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// shopBot answers "hi" with a structured-content card and a text with quick
// replies, transfers to human on "agent", and fails on "boom".
const shopBot = `function lambda(input, callback) {
  var text = String((input.payload || {}).message || "").trim();
  if (text === "boom") { return callback(new Error("the shop is on fire")); }
  if (text === "agent") {
    return callback(null, { messages: ["Transferring you."], context: { action: "TRANSFER", actionParameters: { skill: "human" } } });
  }
  if (text === "hi") {
    return callback(null, { messages: [
      { structuredContent: { type: "vertical", elements: [
        { type: "text", text: "Our plans", style: { bold: true } },
        { type: "text", text: "Basic or Pro" },
        { type: "button", title: "Basic", click: { actions: [{ type: "publishText", text: "basic" }] } } ] } },
      { structuredContent: { message: "Pick one", quickReplies: { type: "quickReplies", itemsPerRow: 2, replies: [
        { type: "button", title: "Basic", click: { actions: [{ type: "publishText", text: "basic" }] } },
        { type: "button", title: "Pro", click: { actions: [{ type: "publishText", text: "pro" }] } } ] } } } ] });
  }
  return callback(null, { messages: ["You said " + text] });
}`

// convFixture is the traffic of the transcript tests: conversation one
// (Carla: text, the bot's card and quick replies, a transfer, Alice
// accepting, her reply and private note, Alice closing), conversation two
// (a vendor failure escalated to human, still waiting) and conversation
// three (open with the bot).
type convFixture struct {
	e            *env
	bot          *botrelay.Bot
	alice, bob   *botrelay.User
	one, two     string
	three        string
	carla, other *testrig.Consumer
}

const agentPassword = "agent-pass-123"

func newConvFixture(t *testing.T) *convFixture {
	e := newEnv(t, function.Connector{})
	f := &convFixture{e: e}
	f.bot = e.rig.AddBot("shop", testrig.BotOptions{Vendor: "function", Settings: map[string]any{"code": shopBot, "timeoutMs": 5000}})
	e.rig.Start(f.bot, botrelay.BotOnline)
	f.alice = e.rig.AddHuman("alice", agentPassword, "human")
	f.bob = e.rig.AddHuman("bob", agentPassword, "human")
	alice := testrig.NewAgent(t, e.rig.URL, string(testrig.Account), "alice", agentPassword)

	f.carla = testrig.NewConsumer(t, e.rig.URL, string(testrig.Account))
	f.one = f.carla.OpenWith("bot", map[string]any{"personal": map[string]any{"firstname": "Carla", "lastname": "Rossi"}})
	f.carla.WaitAssigned(10*time.Second, f.one)
	f.carla.Say("hi")
	f.carla.WaitTexts(10*time.Second, "Pick one")
	f.carla.Say("agent")
	f.carla.WaitTexts(10*time.Second, "Transferring you.")
	e.rig.WaitSkill(f.one, "human", 10*time.Second)
	alice.AcceptRing(f.one, 10*time.Second)
	alice.Say(f.one, "Hello, I am Alice.")
	if code, body := alice.Request(".ams.ms.PublishEvent", map[string]any{"dialogId": f.one, "conversationId": f.one,
		"messageAudience": "AGENTS_AND_MANAGERS",
		"event":           map[string]any{"type": "ContentEvent", "contentType": "text/plain", "message": "VIP customer"}}); code != 200 {
		t.Fatalf("private note: %d %s", code, body)
	}
	f.carla.WaitTexts(10*time.Second, "Hello, I am Alice.")
	if code, body := alice.Request(".ams.cm.UpdateConversationField", map[string]any{"conversationId": f.one,
		"conversationField": []map[string]any{{"field": "ConversationStateField", "conversationState": "CLOSE"}}}); code != 200 {
		t.Fatalf("close: %d %s", code, body)
	}
	testrig.Eventually(t, 10*time.Second, "conversation one closed", func() bool {
		return e.rig.Conversation(f.one).State == botrelay.ConversationClose
	})

	f.other = testrig.NewConsumer(t, e.rig.URL, string(testrig.Account))
	f.two = f.other.Open("bot")
	f.other.WaitAssigned(10*time.Second, f.two)
	f.other.Say("boom")
	e.rig.WaitSkill(f.two, "human", 10*time.Second)
	third := testrig.NewConsumer(t, e.rig.URL, string(testrig.Account))
	f.three = third.Open("bot")
	third.Say("hello")
	third.WaitTexts(10*time.Second, "You said hello")
	return f
}

func (f *convFixture) consumerOf(id string) string {
	return string(f.e.rig.Conversation(id).ConsumerID)
}

// line renders a transcript entry as one comparable line.
func line(en map[string]any) string {
	str := func(v any) string {
		if v == nil {
			return ""
		}
		if s, ok := v.(string); ok {
			return s
		}
		b, _ := json.Marshal(v)
		return string(b)
	}
	name := func(v any) string {
		m, _ := v.(map[string]any)
		return str(m["name"])
	}
	switch en["kind"] {
	case "message":
		au := en["author"].(map[string]any)
		ev := en["event"].(map[string]any)
		body := str(ev["message"])
		if ev["type"] == "RichContentEvent" {
			body = "rich " + str(ev["content"])
		} else if ev["quickReplies"] != nil {
			body += " quickReplies " + str(ev["quickReplies"])
		}
		who := str(au["role"]) + " " + str(au["name"])
		if au["userType"] != nil {
			who += " (" + str(au["userType"]) + ")"
		}
		if en["private"] == true {
			who = "PRIVATE " + who
		}
		return who + ": " + body
	case "botError":
		return "botError " + name(en["bot"]) + " " + str(en["code"])
	}
	out := "event " + str(en["type"])
	for _, k := range []string{"user", "skill", "fromSkill"} {
		if en[k] != nil {
			out += " " + k + "=" + name(en[k])
		}
	}
	for _, k := range []string{"role", "ttr", "by", "dialogType"} {
		if en[k] != nil {
			out += " " + k + "=" + str(en[k])
		}
	}
	return out
}

type transcriptResp struct {
	Conversation map[string]any   `json:"conversation"`
	Transcript   []map[string]any `json:"transcript"`
}

func (f *convFixture) transcript(t *testing.T, token, id string) ([]string, transcriptResp) {
	t.Helper()
	r := f.e.do(nil, http.MethodGet, "/api/v1/conversations/"+id, token, nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET conversation %s: %d %s", id, r.status, r.body)
	}
	var tr transcriptResp
	r.decode(t, &tr)
	var lines []string
	var last time.Time
	for _, en := range tr.Transcript {
		at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(en["at"]))
		if err != nil || at.Before(last) {
			t.Errorf("transcript out of time order at %v (%v)", en, err)
		}
		last = at
		lines = append(lines, line(en))
	}
	return lines, tr
}

const (
	card   = `{"elements":[{"style":{"bold":true},"text":"Our plans","type":"text"},{"text":"Basic or Pro","type":"text"},{"click":{"actions":[{"text":"basic","type":"publishText"}]},"title":"Basic","type":"button"}],"type":"vertical"}`
	quicks = `{"itemsPerRow":2,"replies":[{"click":{"actions":[{"text":"basic","type":"publishText"}]},"title":"Basic","type":"button"},{"click":{"actions":[{"text":"pro","type":"publishText"}]},"title":"Pro","type":"button"}],"type":"quickReplies"}`
)

// TestConversationTranscript: the whole transcript of a conversation with
// consumer text, a bot's card and quick replies, a transfer, an agent's
// reply and private note and the close, in order with exact fields; and
// the bot error of a failed vendor turn in line.
func TestConversationTranscript(t *testing.T) {
	f := newConvFixture(t)
	admin := f.e.tokens["Admin"]
	got, tr := f.transcript(t, admin, f.one)
	want := []string{
		"event CONVERSATION_STARTED skill=bot",
		"event PARTICIPANT_JOINED user=shop-user role=ASSIGNED_AGENT",
		"CONSUMER Carla Rossi: hi",
		"ASSIGNED_AGENT shop-user (BOT): rich " + card,
		"ASSIGNED_AGENT shop-user (BOT): Pick one quickReplies " + quicks,
		"CONSUMER Carla Rossi: agent",
		"ASSIGNED_AGENT shop-user (BOT): Transferring you.",
		"event PARTICIPANT_LEFT user=shop-user role=ASSIGNED_AGENT",
		"event TRANSFERRED skill=human fromSkill=bot",
		"event PARTICIPANT_JOINED user=alice role=ASSIGNED_AGENT",
		"ASSIGNED_AGENT alice (HUMAN): Hello, I am Alice.",
		"PRIVATE ASSIGNED_AGENT alice (HUMAN): VIP customer",
		"event CONVERSATION_CLOSED by=AGENT",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("transcript:\n%s\n\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	c := tr.Conversation
	if c["id"] != f.one || c["state"] != "CLOSE" || c["closeReason"] != "AGENT" || c["closedAt"] == nil ||
		line(map[string]any{"kind": "event", "skill": c["skill"]}) != "event  skill=human" ||
		fmt.Sprint(c["consumer"]) != fmt.Sprintf("map[id:%s name:Carla Rossi]", f.consumerOf(f.one)) ||
		fmt.Sprint(c["bots"]) != fmt.Sprintf("[map[id:%s name:shop]]", f.bot.ID) {
		t.Errorf("conversation = %v", c)
	}
	// A message line in full: the consumer's first text.
	msg := tr.Transcript[2]
	if msg["dialogId"] != f.one || msg["sequence"] != float64(1) || msg["private"] != false ||
		fmt.Sprint(msg["author"]) != fmt.Sprintf("map[consumerId:%s name:Carla Rossi role:CONSUMER]", f.consumerOf(f.one)) {
		t.Errorf("first message = %v", msg)
	}

	// The failed vendor turn: its error code in line, then the escalation.
	got, _ = f.transcript(t, admin, f.two)
	want = []string{
		"event CONVERSATION_STARTED skill=bot",
		"event PARTICIPANT_JOINED user=shop-user role=ASSIGNED_AGENT",
		"CONSUMER Consumer " + f.consumerOf(f.two)[:8] + ": boom",
		"botError shop " + botrelay.ErrorCodePrefix + "aivendor.faas.invoke-lambda",
		"ASSIGNED_AGENT shop-user (BOT): Let me get you a human.",
		"PRIVATE ASSIGNED_AGENT shop-user (BOT): Escalated by the bot.",
		"event PARTICIPANT_LEFT user=shop-user role=ASSIGNED_AGENT",
		"event TRANSFERRED skill=human fromSkill=bot",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("escalated transcript:\n%s\n\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// search runs GET /api/v1/conversations?query as token and returns the ids
// found and the next cursor.
func (f *convFixture) search(t *testing.T, token string, query url.Values) ([]string, *string) {
	t.Helper()
	r := f.e.do(nil, http.MethodGet, "/api/v1/conversations?"+query.Encode(), token, nil)
	if r.status != http.StatusOK {
		t.Fatalf("search %s: %d %s", query.Encode(), r.status, r.body)
	}
	var page struct {
		Conversations []struct {
			ID string `json:"id"`
		} `json:"conversations"`
		NextCursor *string `json:"nextCursor"`
	}
	r.decode(t, &page)
	ids := []string{}
	for _, c := range page.Conversations {
		ids = append(ids, c.ID)
	}
	return ids, page.NextCursor
}

// TestConversationSearch: each filter, paging, the participant rule for an
// agent without conversation:view-all, and bad parameters.
func TestConversationSearch(t *testing.T) {
	f := newConvFixture(t)
	admin := f.e.tokens["Admin"]
	start := f.e.rig.Conversation(f.two).CreatedAt
	q := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	all := []string{f.three, f.two, f.one}
	for name, tc := range map[string]struct {
		q    url.Values
		want []string
	}{
		"everything, newest first": {q(), all},
		"consumer id":              {q("consumer", f.consumerOf(f.two)), []string{f.two}},
		"consumer name":            {q("consumer", "carla"), []string{f.one}},
		"displayed consumer name":  {q("consumer", "Consumer "+f.consumerOf(f.three)[:8]), []string{f.three}},
		"bot by id":                {q("bot", string(f.bot.ID)), all},
		"bot by name":              {q("bot", "shop", "state", "closed"), []string{f.one}},
		"skill by name":            {q("skill", "human"), []string{f.two, f.one}},
		"skill by id":              {q("skill", fmt.Sprint(f.e.rig.Skills["bot"])), all},
		"open":                     {q("state", "open"), []string{f.three, f.two}},
		"closed":                   {q("state", "closed"), []string{f.one}},
		"from":                     {q("from", start.Format(time.RFC3339Nano)), []string{f.three, f.two}},
		"to":                       {q("to", start.Format(time.RFC3339Nano)), []string{f.one}},
		"nothing":                  {q("consumer", "nobody-by-this-name"), []string{}},
	} {
		if got, _ := f.search(t, admin, tc.q); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: %v, want %v", name, got, tc.want)
		}
	}

	// Paging: 2, then 1 and no cursor.
	page, next := f.search(t, admin, q("limit", "2"))
	if fmt.Sprint(page) != fmt.Sprint(all[:2]) || next == nil {
		t.Fatalf("page 1: %v, cursor %v", page, next)
	}
	page, next = f.search(t, admin, q("limit", "2", "cursor", *next))
	if fmt.Sprint(page) != fmt.Sprint(all[2:]) || next != nil {
		t.Fatalf("page 2: %v, cursor %v", page, next)
	}

	// Alice (profile Agent, without conversation:view-all) took part in
	// conversation one only, and left it when she closed it: she finds it
	// and reads it; the others are 404 as if they did not exist.
	_, alice, err := f.e.api.sessions.newToken(context.Background(), f.alice.ID, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := f.search(t, alice, q()); fmt.Sprint(got) != fmt.Sprint([]string{f.one}) {
		t.Errorf("alice's search: %v, want only %s", got, f.one)
	}
	if got, _ := f.transcript(t, alice, f.one); len(got) != 13 {
		t.Errorf("alice's transcript has %d lines", len(got))
	}
	for _, id := range []string{f.two, f.three, "no-such-conversation"} {
		r := f.e.do(nil, http.MethodGet, "/api/v1/conversations/"+id, alice, nil)
		if want := fmt.Sprintf(`{"error":{"code":"not_found","message":"conversation %s does not exist"}}`, id); r.status != http.StatusNotFound ||
			strings.TrimSpace(string(r.body)) != want {
			t.Errorf("alice reads %s: %d %s, want 404 %s", id, r.status, r.body, want)
		}
	}
	_, bob, err := f.e.api.sessions.newToken(context.Background(), f.bob.ID, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := f.search(t, bob, q()); len(got) != 0 {
		t.Errorf("bob took part in nothing but finds %v", got)
	}
	// The Agent Manager profile has conversation:view-all.
	if got, _ := f.search(t, f.e.tokens["Agent Manager"], q()); fmt.Sprint(got) != fmt.Sprint(all) {
		t.Errorf("agent manager's search: %v", got)
	}

	for query, msg := range map[string]string{
		"limit=0":        "limit must be between 1 and 200",
		"limit=201":      "limit must be between 1 and 200",
		"limit=ten":      "limit must be between 1 and 200",
		"state=pending":  "state must be open or closed",
		"from=yesterday": "from must be an RFC 3339 time such as 2026-01-02T15:04:05Z",
		"to=2026-13-01":  "to must be an RFC 3339 time such as 2026-01-02T15:04:05Z",
		"from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z": "from must be before to",
		"cursor=not-a-cursor":                               "cursor is not one this API returned as nextCursor",
		"skill=no-such-skill":                               `skill "no-such-skill" does not exist; give a skill id or name`,
		"bot=no-such-bot":                                   `bot "no-such-bot" does not exist; give a bot id or name`,
		"skil=human":                                        `unknown query parameter "skil"; use consumer, bot, skill, state, from, to, limit, cursor`,
		"state=open&state=closed":                           `query parameter "state" is given more than once`,
	} {
		r := f.e.do(nil, http.MethodGet, "/api/v1/conversations?"+query, admin, nil)
		want := `{"error":{"code":"invalid","message":` + strings.TrimSuffix(string(marshalT(t, msg)), "\n") + `}}`
		if r.status != http.StatusBadRequest || strings.TrimSpace(string(r.body)) != want {
			t.Errorf("?%s: %d %s, want 400 %s", query, r.status, r.body, want)
		}
	}
	if r := f.e.do(nil, http.MethodGet, "/api/v1/conversations", "", nil); r.status != http.StatusUnauthorized {
		t.Errorf("anonymous search: %d", r.status)
	}
}

func marshalT(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
