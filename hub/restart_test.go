package hub_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/botrelay/botrelay/hub"
	"github.com/botrelay/botrelay/sqlstore"
)

// childEnv makes the test binary run a hub server instead of the tests: the
// value is the data folder, which holds botrelay.db; the server writes its
// address to <folder>/addr once it listens.
const childEnv = "BOTRELAY_HUB_TEST_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		if err := runChild(dir); err != nil {
			os.Stderr.WriteString("hub child: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runChild serves a hub on plain HTTP on the data folder until killed.
func runChild(dir string) error {
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, sqlstore.Options{Dialect: sqlstore.SQLite, DSN: filepath.Join(dir, "botrelay.db"), Logger: quiet})
	if err != nil {
		return err
	}
	h, err := hub.New(hub.Options{Store: s, Account: acct, DataDir: dir, SigningKey: signingKey, Logger: quiet, RingTimeout: 5 * time.Second})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	h.Routes(mux)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go func() { _ = h.Run(ctx) }()
	tmp := filepath.Join(dir, "addr.tmp")
	if err := os.WriteFile(tmp, []byte(ln.Addr().String()), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, "addr")); err != nil {
		return err
	}
	return http.Serve(ln, mux)
}

// startChild starts a hub child process on dir and returns its base URL.
func startChild(t *testing.T, dir string) (*exec.Cmd, string) {
	t.Helper()
	_ = os.Remove(filepath.Join(dir, "addr"))
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(dir, "addr"))
		if err == nil {
			return cmd, "http://" + strings.TrimSpace(string(b))
		}
		if !errors.Is(err, os.ErrNotExist) || time.Now().After(deadline) {
			t.Fatalf("hub child did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestKill9KeepsAcknowledgedMessage: a consumer message acknowledged before
// a SIGKILL of the server reaches the agent after a restart on the same data.
func TestKill9KeepsAcknowledgedMessage(t *testing.T) {
	dir := t.TempDir()
	f := seed(t, filepath.Join(dir, "botrelay.db"))
	f.store.Close()

	cmd, base := startChild(t, dir)
	hc := &http.Client{Timeout: 10 * time.Second}
	ws := "ws" + strings.TrimPrefix(base, "http")
	var tok struct {
		Token string `json:"token"`
	}
	if code := postJSON(t, hc, base+"/api/account/1000/consumer/token", nil, nil, &tok); code != 200 {
		t.Fatalf("token: %d", code)
	}
	cons := dial(t, hc, ws+"/ws_api/account/1000/messaging/consumer?v=3&token="+tok.Token, nil)
	conv := cons.mustCall("cm.ConsumerRequestConversation", map[string]any{"skill": "human"}).(map[string]any)["conversationId"].(string)
	seq := cons.mustCall("ms.PublishEvent", map[string]any{"dialogId": conv, "event": map[string]any{"type": "ContentEvent", "contentType": "text/plain", "message": "survive the crash"}})
	if get(seq, "sequence") != float64(1) {
		t.Fatalf("ack = %v", seq)
	}
	// The acknowledgement is in; kill the server without any chance to flush.
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	<-cons.closed

	_, base = startChild(t, dir)
	ws = "ws" + strings.TrimPrefix(base, "http")
	bearer := login(t, base, hc, "bob")
	bob := dial(t, hc, ws+"/ws_api/account/1000/messaging/brand/"+bearer+"?v=2.1", nil)
	bob.mustCall(".ams.routing.SetAgentState", map[string]any{"availability": "ONLINE"})
	bob.mustCall(".ams.routing.SubscribeRoutingTasks", map[string]any{})
	bob.mustCall(".ams.aam.SubscribeExConversations", map[string]any{"convState": []string{"OPEN"}})
	acceptRing(t, bob, conv)
	hist := bob.mustCall(".ams.ms.QueryMessages", map[string]any{"dialogId": conv, "newerThanSequence": 0}).([]any)
	if len(hist) != 1 || get(hist[0], "event", "message") != "survive the crash" {
		t.Fatalf("after restart the agent got %v", hist)
	}
	// The consumer reconnects with its token and catches up.
	cons = dial(t, hc, ws+"/ws_api/account/1000/messaging/consumer?v=3&token="+tok.Token, nil)
	again := cons.mustCall("cm.ConsumerRequestConversation", map[string]any{}).(map[string]any)["conversationId"]
	if again != conv {
		t.Fatalf("after restart the consumer's open conversation is %v, want %s", again, conv)
	}
	cons.mustCall("ms.SubscribeMessagingEvents", map[string]any{"dialogId": conv, "fromSeq": 0})
	cons.waitFor("history after restart", hasText("ms.MessagingEventNotification", "survive the crash"))
}
