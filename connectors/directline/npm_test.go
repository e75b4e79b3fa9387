package directline

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
)

// peerDir is the npm peer (test/directline, installed by `npm ci`):
// offline-directline@1.3.1 serving a botbuilder@4.23.3 bot. Without node or
// node_modules the test fails under CI and skips otherwise.
func peerDir(t testing.TB) (dir, node string) {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	dir = filepath.Join(filepath.Dir(file), "..", "..", "test", "directline")
	node, err := exec.LookPath("node")
	_, e1 := os.Stat(filepath.Join(dir, "node_modules", "offline-directline", "package.json"))
	_, e2 := os.Stat(filepath.Join(dir, "node_modules", "botbuilder", "package.json"))
	if err != nil || e1 != nil || e2 != nil {
		msg := fmt.Sprintf("Direct Line npm peer unavailable (node: %v; node_modules: %v %v); run `cd test/directline && npm ci`", err, e1, e2)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return dir, node
}

type lockedBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startNode runs one script of the peer with PORT=0, reads the port it
// printed, waits until the port accepts connections, and stops the process
// when the test ends.
func startNode(t testing.TB, dir, node, script string, env ...string) int {
	t.Helper()
	cmd := exec.Command(node, script)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "PORT=0"), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &lockedBuf{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	ports := make(chan int, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var m struct {
				Listening int `json:"listening"`
			}
			if json.Unmarshal(sc.Bytes(), &m) == nil && m.Listening > 0 {
				select {
				case ports <- m.Listening:
				default:
				}
			}
		}
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	var port int
	select {
	case port = <-ports:
	case <-exited:
		t.Fatalf("%s exited before listening; stderr: %s", script, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not listen within 30s; stderr: %s", script, stderr.String())
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return port
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s does not accept connections: %v", script, addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startStack starts the bot and offline-directline in front of it and
// returns the endpoint setting (offline-directline serves /directline/...
// without /v3).
func startStack(t testing.TB) string {
	dir, node := peerDir(t)
	botPort := startNode(t, dir, node, "bot.js")
	dlPort := startNode(t, dir, node, "directline.js", fmt.Sprintf("BOT_URL=http://127.0.0.1:%d/api/messages", botPort))
	return fmt.Sprintf("http://127.0.0.1:%d/directline", dlPort)
}

// TestBotFrameworkStack is acceptance 1: against offline-directline and a
// botbuilder bot, in polling mode: the welcome, text both ways (the bot
// also echoes the channelData.context it got), suggested actions as quick
// replies, a hero card, and a transfer in channelData.
func TestBotFrameworkStack(t *testing.T) {
	endpoint := startStack(t)
	b := newTestBot(t, endpoint, func(m map[string]any) { m["replyTimeoutMs"] = 10000 })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tr := turn(botrelay.TurnStart, "lp-conv-npm", "")
	say := func(kind botrelay.TurnKind, text string) *botrelay.Reply {
		t.Helper()
		tr.Kind, tr.Text = kind, text
		r, err := b.Converse(ctx, tr)
		if err != nil {
			t.Fatalf("Converse(%q): %v", text, err)
		}
		tr.VendorState = r.VendorState
		return r
	}
	texts := func(r *botrelay.Reply) string {
		var s []string
		for _, it := range r.Items {
			if it.Message != nil {
				s = append(s, it.Message.Text)
			}
		}
		return strings.Join(s, "|")
	}

	if r := say(botrelay.TurnStart, ""); texts(r) != "Welcome to the Bot Framework test bot!" {
		t.Fatalf("welcome reply = %+v", r.Items)
	}
	if r := say(botrelay.TurnText, "hello bot"); texts(r) != "You said: hello bot" {
		t.Fatalf("echo reply = %+v", r.Items)
	}
	var st vendorState
	_ = json.Unmarshal(tr.VendorState, &st)
	r := say(botrelay.TurnText, "context")
	var got outContext
	if err := json.Unmarshal([]byte(texts(r)), &got); err != nil || got.ConvID != "lp-conv-npm" || got.MSConversationID != st.ConversationID || len(got.LPEvent) < 10 {
		t.Fatalf("the bot saw channelData.context %s (%v); state %+v", texts(r), err, st)
	}
	r = say(botrelay.TurnText, "quick")
	if len(r.Items) != 1 || r.Items[0].Message.Text != "Do you like it?" || !strings.Contains(string(r.Items[0].Message.QuickReplies), `"publishText","text":"Yes"`) {
		t.Fatalf("suggested actions reply = %s", mustJSON(r))
	}
	r = say(botrelay.TurnText, "card")
	if len(r.Items) != 1 || !strings.Contains(string(r.Items[0].Message.StructuredContent), `"https://example.com/botrelay.png"`) {
		t.Fatalf("hero card reply = %s", mustJSON(r))
	}
	r = say(botrelay.TurnText, "agent")
	if texts(r) != "Transferring you to a human." || r.Action == nil || r.Action.Kind != botrelay.ActionTransfer || r.Action.Skill != "human" {
		t.Fatalf("transfer reply = %s", mustJSON(r))
	}
	if err := b.CheckHealth(ctx); err != nil {
		t.Fatalf("CheckHealth against offline-directline: %v", err)
	}

	// The Power Virtual Agents welcome: the native startConversation event.
	pva := newTestBot(t, endpoint, func(m map[string]any) { m["pva"] = true; m["replyTimeoutMs"] = 10000 })
	r, err := pva.Converse(ctx, turn(botrelay.TurnStart, "lp-conv-pva", ""))
	if err != nil || texts(r) != "Welcome to the Bot Framework test bot!" {
		t.Fatalf("PVA welcome: %v, %s", err, mustJSON(r))
	}
}
