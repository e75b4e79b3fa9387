package hub_test

import (
	"bufio"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/connectors/function"
	"github.com/botrelay/botrelay/internal/relay"
	"github.com/botrelay/botrelay/internal/sealed"
	"github.com/botrelay/botrelay/platforms/liveperson"
	"github.com/botrelay/botrelay/secretbox"
)

// sdkDir is the node-agent-sdk peer (test/lpsdk, installed by `npm ci`).
func sdkDir(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "test", "lpsdk")
	node, err := exec.LookPath("node")
	_, modErr := os.Stat(filepath.Join(dir, "node_modules", "node-agent-sdk", "package.json"))
	if err != nil || modErr != nil {
		msg := fmt.Sprintf("node-agent-sdk peer unavailable (node: %v; test/lpsdk/node_modules: %v); run `cd test/lpsdk && npm ci`", err, modErr)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	_ = node
	return dir
}

// sdkAgent is one node process running test/lpsdk/agent.js.
type sdkAgent struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	mu     sync.Mutex
	events []map[string]any
	signal chan struct{}
	exited chan struct{}
	stderr strings.Builder
}

func startSDKAgent(t *testing.T, dir, caFile, csds, name string, f *fixture, extra ...string) *sdkAgent {
	t.Helper()
	ks := f.keys[name]
	cmd := exec.Command("node", "agent.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"NODE_EXTRA_CA_CERTS="+caFile,
		"LP_ACCOUNT="+string(acct), "LP_CSDS="+csds, "LP_USERNAME="+name,
		"LP_APP_KEY="+ks.AppKey, "LP_SECRET="+ks.Secret, "LP_ACCESS_TOKEN="+ks.AccessToken, "LP_ACCESS_TOKEN_SECRET="+ks.AccessTokenSecret)
	cmd.Env = append(cmd.Env, extra...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	a := &sdkAgent{t: t, name: name, cmd: cmd, signal: make(chan struct{}, 1), exited: make(chan struct{})}
	cmd.Stderr = &lockedWriter{mu: &a.mu, b: &a.stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) != nil {
				continue
			}
			t.Logf("%s: %s", name, sc.Text())
			a.mu.Lock()
			a.events = append(a.events, m)
			a.mu.Unlock()
			select {
			case a.signal <- struct{}{}:
			default:
			}
		}
		_ = cmd.Wait()
		close(a.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-a.exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-a.exited
		}
	})
	return a
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// waitEvent waits for an event line of the kind; an "error" line or an exit
// fails the test.
func (a *sdkAgent) waitEvent(ev string, pred func(m map[string]any) bool) map[string]any {
	a.t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		a.mu.Lock()
		for _, m := range a.events {
			if m["ev"] == "error" {
				a.mu.Unlock()
				a.t.Fatalf("%s: SDK error %v", a.name, m)
			}
			if m["ev"] == ev && (pred == nil || pred(m)) {
				a.mu.Unlock()
				return m
			}
		}
		a.mu.Unlock()
		select {
		case <-a.signal:
		case <-a.exited:
			a.mu.Lock()
			stderr := a.stderr.String()
			a.mu.Unlock()
			a.t.Fatalf("%s exited while waiting for %q; stderr: %s", a.name, ev, stderr)
		case <-deadline:
			a.mu.Lock()
			stderr := a.stderr.String()
			a.mu.Unlock()
			a.t.Fatalf("%s: timed out waiting for %q; stderr: %s", a.name, ev, stderr)
		}
	}
}

// TestNodeAgentSDK drives LivePerson's node-agent-sdk 1.2.0 against the hub
// over TLS with a CA made for the run: API-key login through the domain
// lookup, ONLINE, subscriptions; a consumer opens a conversation on skill
// bot; the first SDK agent accepts the ring, receives the consumer's text,
// replies with a text and a rich-content card, and transfers to skill
// human, where a second SDK agent accepts it and closes it.
func TestNodeAgentSDK(t *testing.T) {
	dir := sdkDir(t)
	f, srv := newFixtureHub(t, 10*time.Second)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	csds := strings.TrimPrefix(srv.URL, "https://")
	human := fmt.Sprint(f.skills[botrelay.SkillNameHuman].ID)

	first := startSDKAgent(t, dir, caFile, csds, "botty", f, "MODE=first", "TRANSFER_SKILL="+human)
	second := startSDKAgent(t, dir, caFile, csds, "bob", f, "MODE=second")
	conn := first.waitEvent("connected", nil)
	if conn["agentId"] != f.users["botty"].PID || conn["legacyId"] != fmt.Sprintf("1000.%d", f.users["botty"].ID) {
		t.Fatalf("SDK identity = %v", conn)
	}
	first.waitEvent("ready", nil)
	second.waitEvent("ready", nil)

	cons, _ := consumerConn(t, srv)
	conv := cons.mustCall("cm.ConsumerRequestConversation", map[string]any{"brandId": "1000", "channelType": "MESSAGING", "skill": "bot"}).(map[string]any)["conversationId"].(string)
	cons.mustCall("ms.SubscribeMessagingEvents", map[string]any{"dialogId": conv, "conversationId": conv, "fromSeq": 0})

	first.waitEvent("accepted", func(m map[string]any) bool { return m["conversationId"] == conv })
	first.waitEvent("assigned", func(m map[string]any) bool { return m["conversationId"] == conv })
	cons.mustCall("ms.PublishEvent", map[string]any{"dialogId": conv, "event": map[string]any{"type": "ContentEvent", "contentType": "text/plain", "message": "hello bot"}})
	got := first.waitEvent("text", func(m map[string]any) bool { return m["message"] == "hello bot" })
	if got["conversationId"] != conv {
		t.Fatalf("text event = %v", got)
	}
	cons.waitFor("SDK text", hasText("ms.MessagingEventNotification", "hi from sdk"))
	cons.waitFor("SDK card", func(m map[string]any) bool {
		b, _ := json.Marshal(m["body"])
		return m["type"] == "ms.MessagingEventNotification" && strings.Contains(string(b), "botrelay card")
	})
	first.waitEvent("transferred", nil)

	second.waitEvent("accepted", func(m map[string]any) bool { return m["conversationId"] == conv })
	a := second.waitEvent("assigned", func(m map[string]any) bool { return m["conversationId"] == conv })
	if pids, _ := a["assignedPids"].([]any); len(pids) != 1 || pids[0] != f.users["bob"].PID || a["skillId"] != human {
		t.Fatalf("second agent's conversation = %v", a)
	}
	second.waitEvent("closed", func(m map[string]any) bool { return m["conversationId"] == conv })
	cons.waitFor("second agent's text", hasText("ms.MessagingEventNotification", "second agent here"))
	cons.waitFor("closed", func(m map[string]any) bool {
		return m["type"] == "cqm.ExConversationChangeNotification" &&
			get(get(m, "body", "changes").([]any)[0], "result", "conversationDetails", "state") == "CLOSE"
	})
	for _, ag := range []*sdkAgent{first, second} {
		ag.mu.Lock()
		for _, m := range ag.events {
			if m["ev"] == "error" {
				t.Errorf("%s: %v", ag.name, m)
			}
		}
		ag.mu.Unlock()
	}
}

// TestNodeAgentSDKHandsBackToBot is the human → bot transfer back of issue
// 13 with LivePerson's node-agent-sdk as the human agent: a consumer talks
// to the demo bot (its own script, run by the relay in this process and
// logged in to the hub like botrelay's bots), asks for an agent, the SDK
// agent accepts, the consumer writes "thanks, one more question" to the
// human, the human transfers the conversation back to skill bot. The bot
// (Welcome Message off) must stay silent — it must not answer what the
// consumer wrote to the human — until the consumer writes something new,
// and then answer that once.
func TestNodeAgentSDKHandsBackToBot(t *testing.T) {
	dir := sdkDir(t)
	f, srv := newFixtureHub(t, 10*time.Second)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	csds := strings.TrimPrefix(srv.URL, "https://")
	botSkill := fmt.Sprint(f.skills[botrelay.SkillNameBot].ID)
	startDemoBot(t, f, srv)

	human := startSDKAgent(t, dir, caFile, csds, "bob", f, "MODE=handback", "TRANSFER_SKILL="+botSkill)
	human.waitEvent("ready", nil)

	cons, _ := consumerConn(t, srv)
	conv := cons.mustCall("cm.ConsumerRequestConversation", map[string]any{"brandId": "1000", "channelType": "MESSAGING", "skill": "bot"}).(map[string]any)["conversationId"].(string)
	cons.mustCall("ms.SubscribeMessagingEvents", map[string]any{"dialogId": conv, "conversationId": conv, "fromSeq": 0})
	say := func(text string) {
		cons.mustCall("ms.PublishEvent", map[string]any{"dialogId": conv, "event": map[string]any{"type": "ContentEvent", "contentType": "text/plain", "message": text}})
	}
	say("hi")
	cons.waitFor("the greeting", hasText("ms.MessagingEventNotification", "What would you like to do?"))
	say("agent")
	human.waitEvent("accepted", func(m map[string]any) bool { return m["conversationId"] == conv })
	human.waitEvent("assigned", func(m map[string]any) bool { return m["conversationId"] == conv })
	say("thanks, one more question")
	human.waitEvent("transferred", func(m map[string]any) bool { return m["conversationId"] == conv })

	// The bot takes the conversation back.
	botty := f.users["botty"].ID
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := f.store.Conversation(context.Background(), botrelay.ConversationID(conv))
		if err == nil && c.AssignedAgent() == botty {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the bot did not take the conversation back within 20s (assigned: %v, %v)", c.AssignedAgent(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Something new: the bot answers it, and only it. Anything the bot
	// replayed from the human's part would come before this answer.
	say("what are your opening hours")
	cons.waitFor("the answer to the new message", hasText("ms.MessagingEventNotification", "We are open around the clock: bots never sleep."))
	want := []string{
		"consumer: hi",
		"bot: Hello! I am the botrelay demo bot.",
		"bot: What would you like to do?",
		"consumer: agent",
		"bot: Transferring you to a human agent. Please hold on.",
		"consumer: thanks, one more question",
		"agent: Let me pass you back to our bot.",
		"consumer: what are your opening hours",
		"bot: We are open around the clock: bots never sleep.",
		"bot: What would you like to do?",
	}
	var got []string
	deadline = time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if got = transcript(cons); len(got) >= len(want) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("consumer transcript:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// transcript is what the consumer received of the main dialog, in sequence
// order: "consumer: …", "bot: …" or "agent: …" per text message.
func transcript(c *client) []string {
	type line struct {
		seq  float64
		text string
	}
	seen := map[float64]bool{}
	var lines []line
	c.mu.Lock()
	for _, m := range c.frames {
		if m["type"] != "ms.MessagingEventNotification" {
			continue
		}
		changes, _ := get(m, "body", "changes").([]any)
		for _, ch := range changes {
			seq, _ := get(ch, "sequence").(float64)
			msg, ok := get(ch, "event", "message").(string)
			if !ok || get(ch, "event", "type") != "ContentEvent" || seen[seq] {
				continue
			}
			seen[seq] = true
			who := "agent"
			switch {
			case get(ch, "originatorMetadata", "role") == "CONSUMER":
				who = "consumer"
			case get(ch, "originatorMetadata", "userType") == "BOT":
				who = "bot"
			}
			lines = append(lines, line{seq, who + ": " + msg})
		}
	}
	c.mu.Unlock()
	sort.Slice(lines, func(i, j int) bool { return lines[i].seq < lines[j].seq })
	var out []string
	for _, l := range lines {
		out = append(out, l.text)
	}
	return out
}

// startDemoBot runs the demo bot's script (internal/app/demo.js) as a
// function bot logged in as botty (skill bot) through the relay and the
// LivePerson adapter, over the hub's TLS listener; Welcome Message is off.
func startDemoBot(t *testing.T, f *fixture, srv *httptest.Server) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	code, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "internal", "app", "demo.js"))
	if err != nil {
		t.Fatal(err)
	}
	box, err := secretbox.New(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	vendor, _ := json.Marshal(map[string]any{"code": string(code)})
	b := &botrelay.Bot{ID: "bot-demo", AccountID: acct, Name: "Demo bot", UserID: f.users["botty"].ID, Vendor: "function",
		Type: botrelay.BotAgent, ConversationType: botrelay.Messaging,
		Settings: botrelay.BotSettings{Vendor: vendor, ErrorHandling: botrelay.ErrorHandling{EscalationSkill: botrelay.SkillNameHuman,
			MessageToConsumer: "Something went wrong; let me get you a human agent."}}}
	ks := f.keys["botty"]
	b.Secrets, err = sealed.Seal(box, b, &sealed.Secrets{APIKey: sealed.Credentials{AppKey: ks.AppKey, Secret: ks.Secret,
		AccessToken: ks.AccessToken, AccessTokenSecret: ks.AccessTokenSecret}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := f.store.CreateBot(ctx, b); err != nil {
		t.Fatal(err)
	}
	reg := botrelay.NewRegistry()
	reg.RegisterVendor(function.Connector{})
	r := relay.New(relay.Options{Store: f.store, Registry: reg, Box: box, Logger: quiet, ConnectTimeout: 10 * time.Second,
		Scripts: &function.Runner{Logger: quiet},
		NewPlatform: func(b *botrelay.Bot, u *botrelay.User, c sealed.Credentials) (botrelay.PlatformAdapter, error) {
			return liveperson.New(liveperson.Config{Account: string(acct), CSDSDomain: srv.URL, Username: c.Username,
				AppKey: c.AppKey, Secret: c.Secret, AccessToken: c.AccessToken, AccessTokenSecret: c.AccessTokenSecret},
				liveperson.Options{Logger: quiet, HTTPClient: srv.Client(), ReconnectMin: 100 * time.Millisecond, ReconnectMax: 500 * time.Millisecond})
		}})
	done := make(chan struct{})
	go func() { r.Run(ctx, acct); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	<-r.Ready()
	if err := r.Start(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for r.State(b.ID) != botrelay.BotOnline {
		if time.Now().After(deadline) {
			t.Fatalf("the demo bot is %s after 20s, want ONLINE", r.State(b.ID))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
