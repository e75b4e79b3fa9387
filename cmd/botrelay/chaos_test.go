package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/testrig"
)

// The chaos suite (issue 13, acceptance point 1): one `botrelay serve`
// process per run carries 200 conversations of every action class at once
// (50 under the race detector, which slows botrelay about tenfold;
// BOTRELAY_CHAOS_CONVERSATIONS sets another number);
// the run kills it (SIGKILL at three instants, or SIGTERM), starts it again
// on the same data folder, lets it settle, sends a follow-up message where
// the class has one, and then reads every conversation's end state and the
// consumer's transcript. Each consumer opens its conversation and writes "hi
// m1" (the bot echoes "echo m1"); once all are open, every consumer writes
// "go m2" at the same time (the action turn: "ack m2", a 2-second pause, the
// last message, then the action); the follow-up is "5 after m3".

// chaosScript is every chaos bot's function; process.env.MODE says which
// class it plays.
const chaosScript = `
function lambda(input, callback) {
  var p = input.payload, env = process.env, tag = env.TAG || "";
  var ev = (p.event && p.event.name) || "";
  if (ev === "WELCOME") return callback(null, {messages: [tag + "welcome"]});
  if (ev === "SURVEY") return callback(null, {messages: ["How would you rate us, 1 to 5?"]});
  var found = /\bm\d+\b/.exec(p.message || ""), m = found ? found[0] : "m?";
  if (env.MODE === "survey") {
    return callback(null, {messages: ["Thanks for rating " + m],
      context: {action: "CLOSE_CONVERSATION", actionParameters: {result: {answer: p.message}}}});
  }
  if (env.MODE === "echo" || (p.message || "").indexOf("go ") !== 0) return callback(null, {messages: [tag + "echo " + m]});
  var pause = {delay: Number(env.DELAY)};
  switch (env.MODE) {
  case "transfer":
    return callback(null, {messages: ["ack " + m, pause, "Transferring you to a human. " + m],
      context: {action: "TRANSFER", actionParameters: {skill: "human"}}});
  case "agent":
    return callback(null, {messages: ["ack " + m, pause, "Transferring you to Alex. " + m],
      context: {action: "TRANSFER", actionParameters: {skill: "human", agentId: env.AGENT}}});
  case "close":
    return callback(null, {messages: ["ack " + m, pause, "Goodbye! " + m], context: {action: "CLOSE_CONVERSATION"}});
  case "ttr":
    return callback(null, {messages: ["ack " + m, pause, "Marked urgent. " + m],
      context: {action: "CHANGE_TTR", actionParameters: {ttrType: "URGENT"}}});
  case "escalate":
    throw new Error("the vendor is down");
  case "welcome":
    return callback(null, {messages: ["ack " + m, pause, "Passing you to bot B. " + m],
      context: {action: "TRANSFER", actionParameters: {skill: env.TARGET}}});
  }
  callback(new Error("unknown mode " + env.MODE));
}
`

const (
	chaosEscalation = "Sorry, something broke on my side; a human will take over."
	chaosNote       = "Escalated by the bot after a vendor failure."
	chaosQuestion   = "How would you rate us, 1 to 5?"
	chaosPassword   = "Chaos-Pa55word!"
)

// chaosClass is one action class: its bot, what the consumer must see
// exactly once, and the end state.
type chaosClass struct {
	name  string
	skill string // the skill its conversations open on
	mode  string
	// expect are the bot texts (to the consumer) each conversation must
	// hold exactly once when everything is done, the follow-up's answer
	// included; answers are those that answer a consumer message (a missing
	// one is "unanswered"), the others belong to the action (a missing one
	// is a lost action).
	answers, actionTexts []string
	// ack and last are the action turn's first and last message (the kill
	// offsets watch them); "" when the class has none.
	ack, last string
	followUp  bool // the consumer writes "after m3" after the restart
}

var chaosClasses = []*chaosClass{
	{name: "transfer to skill", skill: "ch-transfer", mode: "transfer", followUp: true,
		answers: []string{"echo m1", "ack m2", "Transferring you to a human. m2"},
		ack:     "ack m2", last: "Transferring you to a human. m2"},
	{name: "transfer to agent", skill: "ch-agent", mode: "agent", followUp: true,
		answers: []string{"echo m1", "ack m2", "Transferring you to Alex. m2"},
		ack:     "ack m2", last: "Transferring you to Alex. m2"},
	{name: "close", skill: "ch-close", mode: "close",
		answers: []string{"echo m1", "ack m2", "Goodbye! m2"},
		ack:     "ack m2", last: "Goodbye! m2"},
	{name: "close with survey", skill: "ch-survey", mode: "close", followUp: true,
		answers:     []string{"echo m1", "ack m2", "Goodbye! m2", "Thanks for rating m3"},
		actionTexts: []string{chaosQuestion},
		ack:         "ack m2", last: "Goodbye! m2"},
	{name: "change TTR", skill: "ch-ttr", mode: "ttr", followUp: true,
		answers: []string{"echo m1", "ack m2", "Marked urgent. m2", "echo m3"},
		ack:     "ack m2", last: "Marked urgent. m2"},
	{name: "escalation", skill: "ch-escalate", mode: "escalate", followUp: true,
		answers: []string{"echo m1", chaosEscalation}},
	{name: "welcome after transfer", skill: "ch-welcome-a", mode: "welcome", followUp: true,
		answers:     []string{"A echo m1", "ack m2", "Passing you to bot B. m2", "B echo m3"},
		actionTexts: []string{"B welcome"},
		ack:         "ack m2", last: "Passing you to bot B. m2"},
}

// chaosAPI is the management REST API of one server, as the admin.
type chaosAPI struct {
	t      *testing.T
	base   string
	client *http.Client
	token  string
}

func chaosLogin(t *testing.T, base string) *chaosAPI {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	a := &chaosAPI{t: t, base: base, client: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
	var login struct {
		CSRF string `json:"csrfToken"`
	}
	a.must("POST", "/api/v1/login", map[string]string{"loginName": "admin", "password": chaosPassword}, &login, 200)
	req, _ := http.NewRequest("POST", base+"/api/v1/tokens", strings.NewReader(`{"description":"chaos"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", login.CSRF)
	resp, err := a.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		Token string `json:"token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 201 || tok.Token == "" {
		t.Fatalf("POST /api/v1/tokens: %d, %v", resp.StatusCode, err)
	}
	a.token = tok.Token
	return a
}

func (a *chaosAPI) must(method, path string, body, out any, want int) {
	a.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, a.base+path, r)
	req.Header.Set("Content-Type", "application/json")
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		a.t.Fatalf("%s %s = %d %s, want %d", method, path, resp.StatusCode, raw, want)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			a.t.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
}

// chaosSetup holds the ids the checks need.
type chaosSetup struct {
	skills map[string]botrelay.SkillID // by name
	users  map[string]botrelay.UserID  // by login name
	bots   []string
}

// setupChaos creates, through the REST API, the skills, a human agent
// (alex, on skill human, not logged in), one bot per class (bot B of the
// welcome class and the survey bot besides), starts them and waits until
// they are ONLINE.
func setupChaos(t *testing.T, api *chaosAPI, delay string) *chaosSetup {
	t.Helper()
	s := &chaosSetup{skills: map[string]botrelay.SkillID{}, users: map[string]botrelay.UserID{}}
	var skills []struct {
		ID   botrelay.SkillID `json:"id"`
		Name string           `json:"name"`
	}
	api.must("GET", "/api/v1/skills", nil, &skills, 200)
	for _, sk := range skills {
		s.skills[sk.Name] = sk.ID
	}
	for _, name := range []string{"ch-transfer", "ch-agent", "ch-close", "ch-survey", "ch-ttr", "ch-escalate", "ch-welcome-a", "ch-welcome-b"} {
		var sk struct {
			ID botrelay.SkillID `json:"id"`
		}
		api.must("POST", "/api/v1/skills", map[string]any{"name": name, "postSurvey": name == "ch-survey"}, &sk, 201)
		s.skills[name] = sk.ID
	}
	var profiles []struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	}
	api.must("GET", "/api/v1/profiles", nil, &profiles, 200)
	agentProfile := int64(0)
	for _, p := range profiles {
		if p.Name == "Agent" {
			agentProfile = p.ID
		}
	}
	user := func(typ, login string, skills ...string) botrelay.UserID {
		ids := []botrelay.SkillID{}
		for _, sk := range skills {
			ids = append(ids, s.skills[sk])
		}
		body := map[string]any{"type": typ, "loginName": login, "profileId": agentProfile, "messagingSlots": 1000, "skillIds": ids}
		if typ == "HUMAN" {
			body["password"] = chaosPassword
		}
		var out struct {
			User struct {
				ID botrelay.UserID `json:"id"`
			} `json:"user"`
		}
		api.must("POST", "/api/v1/users", body, &out, 201)
		s.users[login] = out.User.ID
		return out.User.ID
	}
	alex := user("HUMAN", "alex", "human")
	bot := func(name, typ, skill string, env map[string]string, welcome bool, surveySkills ...string) {
		var skills []string
		if skill != "" {
			skills = []string{skill}
		}
		uid := user("BOT", name, skills...)
		env["DELAY"] = delay
		settings := map[string]any{
			"vendor": map[string]any{"code": chaosScript, "env": env},
			"errorHandling": map[string]any{"escalationSkill": "human", "messageToConsumer": chaosEscalation,
				"messageToAgent": chaosNote, "transferFailureMessage": "Nobody can take over right now."},
			"messaging": map[string]any{"welcomeMessage": welcome},
		}
		if len(surveySkills) > 0 {
			settings["survey"] = map[string]any{"skills": surveySkills}
		}
		var out struct {
			ID string `json:"id"`
		}
		api.must("POST", "/api/v1/bots", map[string]any{"name": name, "vendor": "function", "type": typ, "userId": uid, "settings": settings}, &out, 201)
		s.bots = append(s.bots, out.ID)
	}
	for _, c := range chaosClasses {
		env := map[string]string{"MODE": c.mode, "AGENT": fmt.Sprint(alex), "TARGET": "ch-welcome-b"}
		if c.mode == "welcome" {
			env["TAG"] = "A "
		}
		bot("chaos-"+c.skill, "AGENT", c.skill, env, false)
	}
	bot("chaos-welcome-b", "AGENT", "ch-welcome-b", map[string]string{"MODE": "echo", "TAG": "B "}, true)
	bot("chaos-surveys", "SURVEY", "", map[string]string{"MODE": "survey"}, false, "ch-survey")
	for _, id := range s.bots {
		api.must("POST", "/api/v1/bots/"+id+"/start", nil, nil, 202)
	}
	for _, id := range s.bots {
		testrig.Eventually(t, 30*time.Second, "bot "+id+" ONLINE", func() bool {
			var st struct {
				State string `json:"state"`
			}
			api.must("GET", "/api/v1/bots/"+id+"/status", nil, &st, 200)
			return st.State == "ONLINE"
		})
	}
	return s
}

// chaosConv is one consumer's conversation.
type chaosConv struct {
	class          *chaosClass
	convID         string
	token, id      string
	first, resumed *testrig.Consumer
	// seen and seenAgain are the agents' texts first and resumed received.
	seen, seenAgain textScan
	// followed: the consumer wrote its follow-up (only to an open
	// conversation, and for the survey only into an open survey dialog).
	followed bool
}

// textScan collects the agents' texts a consumer received, reading only
// the events that are new since the last call: the suite polls 1,400
// consumers and must leave the CPU to the server.
type textScan struct {
	n     int
	texts []string
}

func (s *textScan) update(c *testrig.Consumer) []string {
	if c == nil {
		return nil
	}
	evs := c.Events()
	for _, e := range evs[s.n:] {
		if e.FromAgent() {
			if txt := e.Text(); txt != "" {
				s.texts = append(s.texts, txt)
			}
		}
	}
	s.n = len(evs)
	return s.texts
}

// parallel runs f(0..n-1) on workers goroutines.
func parallel(n, workers int, f func(i int)) {
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// sawCount counts the conversations whose consumer has received text.
func sawCount(convs []*chaosConv, text func(*chaosClass) string) int {
	n := 0
	for _, cv := range convs {
		want := text(cv.class)
		if want != "" && slices.Contains(cv.seen.update(cv.first), want) {
			n++
		}
	}
	return n
}

// chaosRow is one line of a run's table.
type chaosRow struct {
	convs, lost, doubled, unanswered, extra int
	examples                                []string
	perKind                                 map[string]int
	// history is the first failing conversation's events, one a line.
	history string
}

// note keeps two examples of each kind of fault.
func (r *chaosRow) note(kind, format string, args ...any) {
	if r.perKind == nil {
		r.perKind = map[string]int{}
	}
	if r.perKind[kind]++; r.perKind[kind] <= 2 {
		r.examples = append(r.examples, kind+": "+fmt.Sprintf(format, args...))
	}
}

type chaosRun struct {
	name   string
	signal syscall.Signal
	// offset is the instant of the signal: "early" (every consumer's "go
	// m2" acknowledged), "mid-publish" (half of the action turns' first
	// messages seen: most turns are in their 2-second pause), "action" (half
	// of the last messages before the action seen).
	offset string
}

func TestChaosActionsSurviveKillAndStop(t *testing.T) {
	if testing.Short() {
		t.Skip("the chaos suite runs real servers under load; skipped with -short")
	}
	// Under -race (as CI runs it) the suite runs in a copy of this test
	// binary built without the race detector: the detector slows the
	// servers about tenfold, and 200 conversations per class would not fit
	// CI's budget. The relay's own tests run under -race.
	if runWithoutRace(t, "TestChaosActionsSurviveKillAndStop") {
		return
	}
	n := 200
	if v := os.Getenv("BOTRELAY_CHAOS_CONVERSATIONS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			t.Fatalf("BOTRELAY_CHAOS_CONVERSATIONS=%q: want a number of conversations per class, at least 1", v)
		}
	}
	runs := []chaosRun{
		{"SIGKILL early", syscall.SIGKILL, "early"},
		{"SIGKILL mid-publish", syscall.SIGKILL, "mid-publish"},
		{"SIGKILL during the action", syscall.SIGKILL, "action"},
		{"SIGTERM mid-publish", syscall.SIGTERM, "mid-publish"},
	}
	began := time.Now()
	for _, run := range runs {
		t.Run(strings.ReplaceAll(run.name, " ", "_"), func(t *testing.T) {
			runChaos(t, run, n)
		})
	}
	t.Logf("chaos suite: %d conversations per class and run, %v in all", n, time.Since(began).Round(time.Second))
}

// noConsumerLimits turns off the per-address consumer limits of a server
// that many test consumers on one address use.
var noConsumerLimits = []string{"BOTRELAY_CONSUMERS_TOKENS_PER_MINUTE=0", "BOTRELAY_CONSUMERS_CONVERSATIONS_PER_MINUTE=0",
	"BOTRELAY_CONSUMERS_CONVERSATIONS_PER_CONSUMER=0", "BOTRELAY_CONSUMERS_MESSAGES_PER_MINUTE=0",
	"BOTRELAY_CONSUMERS_MESSAGES_PER_CONSUMER=0"}

func runChaos(t *testing.T, run chaosRun, n int) {
	began := time.Now()
	data := t.TempDir()
	// One test process plays 1,400 consumers from one address: the
	// consumer limits (docs/security.md) are off for it.
	env := append([]string{"BOTRELAY_ADMIN_PASSWORD=" + chaosPassword}, noConsumerLimits...)
	srv := start(t, env, "serve", "--addr", "127.0.0.1:0", "--data", data)
	base := srv.waitListening(t)
	api := chaosLogin(t, base)
	setup := setupChaos(t, api, "2")
	t.Logf("%v: server up, bots online", time.Since(began).Round(time.Millisecond))

	// Every conversation opens, then every consumer writes its two messages.
	var convs []*chaosConv
	for _, c := range chaosClasses {
		for range n {
			convs = append(convs, &chaosConv{class: c})
		}
	}
	parallel(len(convs), 64, func(i int) {
		cv := convs[i]
		cv.first = testrig.NewConsumer(t, base, "1000")
		cv.convID = cv.first.Open(cv.class.skill)
		cv.token, cv.id = cv.first.Token, cv.first.ID
		cv.first.Say("hi m1")
	})
	opened := time.Since(began)
	t.Logf("%v: %d conversations open", opened.Round(time.Millisecond), len(convs))
	parallel(len(convs), len(convs), func(i int) { convs[i].first.Say("go m2") })
	acked := time.Since(began)
	t.Logf("%v: every consumer message acknowledged", acked.Round(time.Millisecond))

	// The signal, at the run's instant.
	withAction := 0
	for _, cv := range convs {
		if cv.class.ack != "" {
			withAction++
		}
	}
	waitSaw := func(what string, text func(*chaosClass) string) {
		deadline := time.Now().Add(60 * time.Second)
		for sawCount(convs, text) < withAction/2 {
			if time.Now().After(deadline) {
				t.Fatalf("half of the action turns did not show %s within 60s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	switch run.offset {
	case "mid-publish":
		waitSaw("their first message", func(c *chaosClass) string { return c.ack })
	case "action":
		waitSaw("their last message", func(c *chaosClass) string { return c.last })
	}
	sawAck := sawCount(convs, func(c *chaosClass) string { return c.ack })
	sawLast := sawCount(convs, func(c *chaosClass) string { return c.last })
	signalled := time.Now()
	if err := srv.cmd.Process.Signal(run.signal); err != nil {
		t.Fatal(err)
	}
	code := srv.exitCode(t, 60*time.Second)
	stopTook := time.Since(signalled)
	if run.signal == syscall.SIGTERM && code != 0 {
		t.Errorf("exit status after SIGTERM = %d, want 0", code)
	}
	for _, cv := range convs {
		cv.first.Close()
	}

	// The restart, on the same data folder; it settles when every
	// conversation reached the state its action leads to, or no
	// conversation has changed for 5 seconds.
	restarted := time.Now()
	t.Logf("%v: stopped by %v in %v", time.Since(began).Round(time.Millisecond), run.signal, stopTook.Round(time.Millisecond))
	srv2 := start(t, env, "serve", "--addr", "127.0.0.1:0", "--data", data)
	base2 := srv2.waitListening(t)
	// The bots the operator started come back by themselves.
	api2 := chaosLogin(t, base2)
	botStates := func() map[string]string {
		m := map[string]string{}
		for _, id := range setup.bots {
			var st struct {
				State string `json:"state"`
			}
			api2.must("GET", "/api/v1/bots/"+id+"/status", nil, &st, 200)
			m[id] = st.State
		}
		return m
	}
	online := settle(t, 60*time.Second, 60*time.Second, func() (bool, string) {
		for _, st := range botStates() {
			if st != "ONLINE" {
				return false, ""
			}
		}
		return true, ""
	})
	if !online {
		t.Errorf("bots not ONLINE 60s after the restart: %v", botStates())
	}
	t.Logf("%v: bots back ONLINE after %v", time.Since(began).Round(time.Millisecond), time.Since(restarted).Round(time.Millisecond))
	store := openSQLite(t, data)
	defer store.Close()
	ctx := context.Background()
	byID := map[string]*chaosConv{}
	for _, cv := range convs {
		byID[cv.convID] = cv
	}
	snapshot := func() (map[string]*botrelay.Conversation, string) {
		all, err := store.Conversations(ctx, "1000", botrelay.ConversationFilter{})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]*botrelay.Conversation{}
		var fp strings.Builder
		for _, c := range all {
			m[string(c.ID)] = c
			fmt.Fprintf(&fp, "%s %s %d %s %d %d %v;", c.ID, c.State, c.SkillID, c.TTR, c.AssignedAgent(), len(c.Dialogs), c.UpdatedAt)
		}
		return m, fp.String()
	}
	settle(t, 90*time.Second, 5*time.Second, func() (bool, string) {
		m, fp := snapshot()
		for _, cv := range convs {
			if why := endState(cv.class, m[cv.convID], setup, false); why != "" {
				return false, fp
			}
		}
		return true, fp
	})
	settled := time.Since(restarted)
	t.Logf("%v: settled %v after the restart", time.Since(began).Round(time.Millisecond), settled.Round(time.Millisecond))

	// The follow-ups: the consumers come back and write once more.
	states, _ := snapshot()
	var back []*chaosConv
	for _, cv := range convs {
		if cv.class.followUp && states[cv.convID].State == botrelay.ConversationOpen {
			back = append(back, cv)
		}
	}
	parallel(len(back), 32, func(i int) {
		cv := back[i]
		cv.resumed = testrig.ResumeConsumer(t, base2, "1000", cv.token, cv.id, cv.convID)
		if cv.class.survey() { // the survey: answer in the survey dialog
			if d := states[cv.convID].OpenDialog(); d != nil && d.Type == botrelay.DialogPostSurvey {
				if code, body := cv.resumed.Request("ms.SubscribeMessagingEvents", map[string]any{"dialogId": d.ID, "conversationId": cv.convID, "fromSeq": 0}); code != 200 {
					t.Errorf("subscribe to the survey of %s: %d %s", cv.convID, code, body)
					return
				}
				cv.resumed.Dialog = string(d.ID)
				// A consumer answers the question once it is asked.
				deadline := time.Now().Add(60 * time.Second)
				for !slices.Contains(cv.seenAgain.update(cv.resumed), chaosQuestion) {
					if time.Now().After(deadline) {
						return // never asked: the check reports it
					}
					time.Sleep(50 * time.Millisecond)
				}
			} else {
				return // no survey to answer: the check reports the conversation
			}
		}
		cv.resumed.Say("5 after m3")
		cv.followed = true
	})
	followed := time.Now()
	t.Logf("%v: %d follow-ups sent", time.Since(began).Round(time.Millisecond), len(back))
	settle(t, 90*time.Second, 3*time.Second, func() (bool, string) {
		done, total := true, 0
		for _, cv := range back {
			texts := cv.seenAgain.update(cv.resumed)
			total += cv.seenAgain.n
			for _, want := range cv.class.answers {
				if strings.HasSuffix(want, "m3") && !slices.Contains(texts, want) {
					done = false
				}
			}
		}
		return done, strconv.Itoa(total)
	})
	followTook := time.Since(followed)
	t.Logf("%v: follow-ups settled in %v", time.Since(began).Round(time.Millisecond), followTook.Round(time.Millisecond))
	srv2.stop(t)

	// The table: end states from the store, transcripts as the consumer
	// receives them (bot texts to everyone, in every dialog).
	states, _ = snapshot()
	rows := map[*chaosClass]*chaosRow{}
	for _, c := range chaosClasses {
		rows[c] = &chaosRow{}
	}
	for _, cv := range convs {
		row := rows[cv.class]
		row.convs++
		conv := states[cv.convID]
		evs, err := store.Events(ctx, botrelay.ConversationID(cv.convID), "", 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		var texts, notes []string
		for _, e := range evs {
			txt := eventText(e.Event)
			if e.OriginatorType != botrelay.UserBot || txt == "" {
				continue
			}
			if e.Audience == botrelay.AudienceAgentsAndManagers {
				notes = append(notes, txt)
			} else {
				texts = append(texts, txt)
			}
		}
		lost := endState(cv.class, conv, setup, true)
		if lost == "" && cv.class.survey() {
			runs, err := store.Surveys(ctx, botrelay.SurveyFilter{ConversationID: botrelay.ConversationID(cv.convID)})
			if err != nil || len(runs) != 1 || runs[0].State != botrelay.SurveyCompleted || len(runs[0].Answers) != 1 {
				lost = fmt.Sprintf("survey runs %s", describeSurveys(runs, err))
			}
		}
		for _, want := range cv.class.actionTexts {
			switch k := count(texts, want); {
			case k == 0 && lost == "":
				lost = fmt.Sprintf("%q never sent", want)
			case k > 1:
				row.doubled += k - 1
				row.note("doubled", "%s: %q %d times: %q", cv.convID, want, k, texts)
			}
		}
		if cv.class.mode == "escalate" {
			switch k := count(notes, chaosNote); {
			case k == 0 && lost == "":
				lost = "no private note for the agents"
			case k > 1:
				row.doubled += k - 1
				row.note("doubled", "%s: private note %d times", cv.convID, k)
			}
		}
		before := row.lost + row.doubled + row.unanswered + row.extra
		if lost != "" {
			row.lost++
			row.note("lost", "%s: %s; bot texts %q", cv.convID, lost, texts)
		}
		for _, want := range cv.class.answers {
			switch k := count(texts, want); {
			case k == 0 && strings.HasSuffix(want, " m3") && !cv.followed:
				// The consumer could not write its follow-up: the lost
				// action is counted, not an unanswered message.
			case k == 0:
				row.unanswered++
				row.note("unanswered", "%s: %q missing: %q", cv.convID, want, texts)
			case k > 1:
				row.doubled += k - 1
				row.note("doubled", "%s: %q %d times: %q", cv.convID, want, k, texts)
			}
		}
		for _, txt := range texts {
			if !slices.Contains(cv.class.answers, txt) && !slices.Contains(cv.class.actionTexts, txt) {
				row.extra++
				row.note("extra", "%s: unexpected %q: %q", cv.convID, txt, texts)
			}
		}
		if row.history == "" && row.lost+row.doubled+row.unanswered+row.extra > before {
			row.history = dumpEvents(cv.convID, evs)
		}
	}

	var out strings.Builder
	fmt.Fprintf(&out, "\n%s (signal after %v: %d of %d action turns had shown their first message, %d their last; stopped in %v; settled %v after the restart, follow-ups %v; run %v)\n",
		run.name, (signalled.Sub(began) - acked).Round(time.Millisecond), sawAck, withAction, sawLast,
		stopTook.Round(time.Millisecond), settled.Round(time.Millisecond), followTook.Round(time.Millisecond), time.Since(began).Round(time.Second))
	fmt.Fprintf(&out, "  opened %d conversations in %v, all messages acknowledged at %v\n", len(convs), opened.Round(time.Millisecond), acked.Round(time.Millisecond))
	fmt.Fprintf(&out, "  %-24s %6s %6s %8s %11s %6s\n", "class", "convs", "lost", "doubled", "unanswered", "extra")
	bad := false
	for _, c := range chaosClasses {
		r := rows[c]
		fmt.Fprintf(&out, "  %-24s %6d %6d %8d %11d %6d\n", c.name, r.convs, r.lost, r.doubled, r.unanswered, r.extra)
		if r.lost+r.doubled+r.unanswered+r.extra > 0 {
			bad = true
			for _, ex := range r.examples {
				fmt.Fprintf(&out, "      e.g. %s\n", ex)
			}
			fmt.Fprintf(&out, "%s", r.history)
		}
	}
	for i, p := range []*proc{srv, srv2} {
		fmt.Fprintf(&out, "  server %d logged: %s\n", i+1, logSummary(p))
	}
	t.Log(out.String())
	if bad {
		t.Errorf("%s: actions lost, messages doubled, unanswered or unexpected (table in the log)", run.name)
	}
}

func (c *chaosClass) survey() bool { return c.skill == "ch-survey" }

// endState says why conv is not in the state c's action leads to ("" when
// it is). final includes what the follow-up does (the survey completes).
func endState(c *chaosClass, conv *botrelay.Conversation, s *chaosSetup, final bool) string {
	if conv == nil {
		return "conversation not found"
	}
	human := s.skills[botrelay.SkillNameHuman]
	switch c.mode {
	case "transfer", "escalate":
		if conv.State != botrelay.ConversationOpen || conv.SkillID != human || conv.AssignedAgent() != 0 {
			return fmt.Sprintf("state %s, skill %d, assigned %d; want OPEN, waiting on skill human", conv.State, conv.SkillID, conv.AssignedAgent())
		}
	case "agent":
		alex := s.users["alex"]
		suggested := slices.ContainsFunc(conv.Participants, func(p botrelay.Participant) bool {
			return p.UserID == alex && p.Role == botrelay.ParticipantAssignedAgent
		})
		if conv.State != botrelay.ConversationOpen || conv.SkillID != human || !suggested ||
			(conv.AssignedAgent() != 0 && conv.AssignedAgent() != alex) {
			return fmt.Sprintf("state %s, skill %d, assigned %d, alex suggested %v; want OPEN on skill human with alex suggested",
				conv.State, conv.SkillID, conv.AssignedAgent(), suggested)
		}
	case "close":
		if !c.survey() || final {
			if conv.State != botrelay.ConversationClose {
				return fmt.Sprintf("state %s, assigned %d; want CLOSE", conv.State, conv.AssignedAgent())
			}
		}
		if c.survey() {
			var survey *botrelay.Dialog
			for i := range conv.Dialogs {
				if conv.Dialogs[i].Type == botrelay.DialogPostSurvey {
					survey = &conv.Dialogs[i]
				}
			}
			if survey == nil || (!final && survey.State != botrelay.DialogOpen) {
				return fmt.Sprintf("state %s, assigned %d, %d dialogs; want the survey dialog open", conv.State, conv.AssignedAgent(), len(conv.Dialogs))
			}
		}
	case "ttr":
		if conv.State != botrelay.ConversationOpen || conv.TTR != botrelay.TTRUrgent || conv.AssignedAgent() != s.users["chaos-ch-ttr"] {
			return fmt.Sprintf("state %s, TTR %s, assigned %d; want OPEN, URGENT, with the bot", conv.State, conv.TTR, conv.AssignedAgent())
		}
	case "welcome":
		if conv.State != botrelay.ConversationOpen || conv.SkillID != s.skills["ch-welcome-b"] || conv.AssignedAgent() != s.users["chaos-welcome-b"] {
			return fmt.Sprintf("state %s, skill %d, assigned %d; want OPEN with bot B", conv.State, conv.SkillID, conv.AssignedAgent())
		}
	}
	return ""
}

func describeSurveys(runs []*botrelay.Survey, err error) string {
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, r := range runs {
		out = append(out, fmt.Sprintf("%s with %d answers", r.State, len(r.Answers)))
	}
	return fmt.Sprintf("%q", out)
}

// settle polls check until it reports done, or its fingerprint has not
// changed for quiet, or d has passed; the caller's checks then say what is
// wrong.
func settle(t *testing.T, d, quiet time.Duration, check func() (done bool, fingerprint string)) bool {
	t.Helper()
	deadline := time.Now().Add(d)
	last, since := "", time.Now()
	for time.Now().Before(deadline) {
		done, fp := check()
		if done {
			return true
		}
		if fp != last {
			last, since = fp, time.Now()
		} else if time.Since(since) >= quiet {
			return false
		}
		time.Sleep(500 * time.Millisecond)
	}
	return false
}

// logSummary counts a server's warnings and errors by message, with the
// first error text of each.
func logSummary(p *proc) string {
	counts := map[string]int{}
	first := map[string]string{}
	for line := range strings.SplitSeq(p.stderr.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil || (rec["level"] != "WARN" && rec["level"] != "ERROR") {
			continue
		}
		key := fmt.Sprintf("%s %q", rec["level"], rec["msg"])
		if code, ok := rec["code"]; ok {
			key += fmt.Sprintf(" %v", code)
		}
		counts[key]++
		detail := ""
		for _, k := range []string{"err", "message", "detail"} {
			if e, ok := rec[k]; ok {
				detail = fmt.Sprint(e)
				break
			}
		}
		// Up to three different details of each kind: a rare cause hides
		// behind a common one otherwise.
		if detail != "" && !strings.Contains(first[key], detail) && strings.Count(first[key], " | ") < 2 {
			if first[key] != "" {
				first[key] += " | "
			}
			first[key] += detail
		}
	}
	if len(counts) == 0 {
		return "no warnings or errors"
	}
	var out []string
	for k, n := range counts {
		out = append(out, fmt.Sprintf("%d× %s (%s)", n, k, first[k]))
	}
	slices.Sort(out)
	return strings.Join(out, "; ")
}

// dumpEvents lists a conversation's stored events: dialog, sequence, who,
// audience, text (or type) and the relay's marker.
func dumpEvents(conv string, evs []*botrelay.MessageEvent) string {
	var b strings.Builder
	fmt.Fprintf(&b, "      history of %s:\n", conv)
	for _, e := range evs {
		who := string(e.OriginatorType)
		if who == "" {
			who = "CONSUMER"
		}
		what := eventText(e.Event)
		if what == "" {
			what = "<" + e.Type + ">"
		}
		dialog := "main"
		if string(e.DialogID) != conv {
			dialog = "survey"
		}
		fmt.Fprintf(&b, "        %s #%d %s %s %s %q %s %s\n", dialog, e.Sequence, e.CreatedAt.Format("15:04:05.000"), who, e.OriginatorID, what, e.Audience, e.Metadata)
	}
	return b.String()
}

func count(list []string, s string) int {
	k := 0
	for _, x := range list {
		if x == s {
			k++
		}
	}
	return k
}

// eventText is a stored event's plain text, or "".
func eventText(raw json.RawMessage) string {
	var ev struct {
		Type    string          `json:"type"`
		Message json.RawMessage `json:"message"`
	}
	if json.Unmarshal(raw, &ev) != nil || ev.Type != "ContentEvent" {
		return ""
	}
	var s string
	if json.Unmarshal(ev.Message, &s) != nil {
		return ""
	}
	return s
}
