package hub_test

import (
	"bufio"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
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
