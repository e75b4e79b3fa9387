package chatclient

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestFormatEvent(t *testing.T) {
	tests := []struct {
		name     string
		event    string
		role     string
		userType string
		who      string
		text     string
		skip     bool
	}{
		{name: "bot text", event: `{"type":"ContentEvent","contentType":"text/plain","message":"Hi there"}`, role: "ASSIGNED_AGENT", userType: "BOT", who: "bot", text: "Hi there"},
		{name: "agent text folds lines", event: `{"type":"ContentEvent","contentType":"text/plain","message":"line one\n  line two "}`, role: "ASSIGNED_AGENT", who: "agent", text: "line one line two"},
		{name: "manager is an agent", event: `{"type":"ContentEvent","contentType":"text/plain","message":"x"}`, role: "MANAGER", who: "agent", text: "x"},
		{name: "own message skipped", event: `{"type":"ContentEvent","contentType":"text/plain","message":"me"}`, role: "CONSUMER", skip: true},
		{name: "chat state skipped", event: `{"type":"ChatStateEvent","chatState":"COMPOSING"}`, role: "ASSIGNED_AGENT", skip: true},
		{name: "receipt skipped", event: `{"type":"AcceptStatusEvent","status":"READ","sequenceList":[1]}`, role: "ASSIGNED_AGENT", skip: true},
		{
			name:  "quick replies",
			event: `{"type":"ContentEvent","contentType":"text/plain","message":"Ok?","quickReplies":{"type":"quickReplies","itemsPerRow":8,"replies":[{"type":"button","title":"Yes","click":{"actions":[{"type":"publishText","text":"yes"}]}},{"type":"button","title":"No"}]}}`,
			role:  "ASSIGNED_AGENT", userType: "BOT", who: "bot", text: "Ok? [quick replies: Yes | No]",
		},
		{name: "hosted file", event: `{"type":"ContentEvent","contentType":"hosted/file","message":{"relativePath":"a/b.png","fileType":"PNG","caption":"photo"}}`, role: "ASSIGNED_AGENT", who: "agent", text: "[file: photo]"},
		{name: "hosted file without caption", event: `{"type":"ContentEvent","contentType":"hosted/file","message":{"relativePath":"a/b.png","fileType":"PNG"}}`, role: "ASSIGNED_AGENT", who: "agent", text: "[file: a/b.png]"},
		{
			name:  "vertical card",
			event: `{"type":"RichContentEvent","content":{"type":"vertical","elements":[{"type":"image","url":"https://x.test/s.png","caption":"Shoe"},{"type":"text","text":"Red shoe","style":{"bold":true}},{"type":"button","title":"Buy","click":{"actions":[{"type":"publishText","text":"buy"}]}},{"type":"button","title":"More","click":{"actions":[{"type":"link","uri":"https://x.test/more","name":"More"}]}}]}}`,
			role:  "ASSIGNED_AGENT", userType: "BOT", who: "bot",
			text: "[image: Shoe <https://x.test/s.png>] / Red shoe / [button: Buy] / [button: More <https://x.test/more>]",
		},
		{
			name:  "horizontal with link and map",
			event: `{"type":"RichContentEvent","content":{"type":"horizontal","elements":[{"type":"link","title":"Docs","uri":"https://x.test/d"},{"type":"map","la":1.5,"lo":-2},{"type":"image","url":"https://x.test/i.png"}]}}`,
			role:  "ASSIGNED_AGENT", who: "agent",
			text: "[link: Docs <https://x.test/d>] | [map: 1.5,-2] | [image: https://x.test/i.png]",
		},
		{
			name:  "carousel",
			event: `{"type":"RichContentEvent","content":{"type":"carousel","padding":10,"elements":[{"type":"vertical","elements":[{"type":"text","text":"A"},{"type":"button","title":"Pick A"}]},{"type":"vertical","elements":[{"type":"text","text":"B"},{"type":"unknownthing"}]}]}}`,
			role:  "ASSIGNED_AGENT", userType: "bot", who: "bot",
			text: "A / [button: Pick A] || B / [unknownthing]",
		},
		{name: "malformed rich content skipped", event: `{"type":"RichContentEvent","content":"nope"}`, role: "ASSIGNED_AGENT", who: "agent", text: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := messagingEvent{Event: json.RawMessage(tt.event)}
			ev.OriginatorMetadata.Role = tt.role
			ev.OriginatorMetadata.UserType = tt.userType
			who, text, ok := formatEvent(ev, "consumer-1")
			if ok == tt.skip {
				t.Fatalf("formatEvent ok = %v, want %v (who %q text %q)", ok, !tt.skip, who, text)
			}
			if ok && (who != tt.who || text != tt.text) {
				t.Errorf("formatEvent = %q, %q\nwant          %q, %q", who, text, tt.who, tt.text)
			}
		})
	}
}

// run runs the client against srv with the given input and returns its output.
func run(t *testing.T, o Options) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out bytes.Buffer
	o.Out = &out
	err := Run(ctx, o)
	return out.String(), err
}

func TestRunScripted(t *testing.T) {
	tests := []struct {
		name  string
		input string
		skill string
		tls   bool
		want  []string
		err   string
	}{
		{
			name:  "greeting and quick replies",
			input: "hi\n\nyes\n",
			want: []string{
				"bot: Welcome!",
				"bot: Hello! Need help? [quick replies: Yes | No]",
				"bot: Pick one / [button: Shoes]",
			},
		},
		{
			name:  "transfer to a human",
			input: "agent\nthanks\n",
			skill: "sales",
			want: []string{
				"bot: Welcome!",
				"bot: Transferring you",
				"system: conversation transferred",
				"system: Ann joined",
				"agent: Hi, Ann here",
				"bot: You said: thanks on conv-1",
			},
		},
		{
			name:  "close ends the run without waiting for idle",
			input: "bye\nnever sent\n",
			want:  []string{"bot: Welcome!", "system: conversation closed"},
		},
		{
			name:  "post-conversation survey dialog",
			input: "survey\ngreat\n",
			want: []string{
				"bot: Welcome!",
				"bot: How did we do?",
				"bot: You said: great on survey-1",
			},
		},
		{
			name:  "over TLS",
			input: "hello\n",
			tls:   true,
			want:  []string{"bot: Welcome!", "bot: You said: hello on conv-1"},
		},
		{
			name:  "rejected message is an error",
			input: "fail\n",
			want:  []string{"bot: Welcome!"},
			err:   "send message: 400 rejected on purpose",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hub := newFakeHub(t)
			var srv *httptest.Server
			if tt.tls {
				srv = httptest.NewTLSServer(hub.routes())
			} else {
				srv = httptest.NewServer(hub.routes())
			}
			defer srv.Close()
			o := Options{Server: srv.URL, Skill: tt.skill, In: strings.NewReader(tt.input), HTTPClient: srv.Client()}
			// "bye" must end the run long before this idle time.
			o.Idle = 50 * time.Millisecond
			if strings.HasPrefix(tt.input, "bye") {
				o.Idle = time.Minute
			}
			start := time.Now()
			out, err := run(t, o)
			if tt.err == "" && err != nil {
				t.Fatalf("Run: %v\noutput:\n%s", err, out)
			}
			if tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
				t.Fatalf("Run error = %v, want %q", err, tt.err)
			}
			if got, want := out, strings.Join(tt.want, "\n")+"\n"; got != want {
				t.Errorf("output:\n%s\nwant:\n%s", got, want)
			}
			if o.Idle == time.Minute && time.Since(start) > 30*time.Second {
				t.Errorf("Run waited for idle after the close")
			}
			wantSkill := tt.skill
			if wantSkill == "" {
				wantSkill = "bot"
			}
			if hub.lastSkill != wantSkill {
				t.Errorf("conversation requested on skill %q, want %q", hub.lastSkill, wantSkill)
			}
		})
	}
}

func TestRunTokenFileContinuesConversation(t *testing.T) {
	hub := newFakeHub(t)
	srv := httptest.NewServer(hub.routes())
	defer srv.Close()
	tokenFile := filepath.Join(t.TempDir(), "token")

	out1, err := run(t, Options{Server: srv.URL, In: strings.NewReader("one\n"), Idle: 50 * time.Millisecond, TokenFile: tokenFile})
	if err != nil {
		t.Fatalf("first run: %v", err)
	}
	if want := "bot: Welcome!\nbot: You said: one on conv-1\n"; out1 != want {
		t.Fatalf("first run output:\n%s\nwant:\n%s", out1, want)
	}
	b, err := os.ReadFile(tokenFile)
	if err != nil || strings.TrimSpace(string(b)) == "" {
		t.Fatalf("token file not written: %q, %v", b, err)
	}

	out2, err := run(t, Options{Server: srv.URL, In: strings.NewReader("two\n"), Idle: 50 * time.Millisecond, TokenFile: tokenFile})
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	// The second run continues conv-1 and prints its history first.
	want2 := "bot: Welcome!\nbot: You said: one on conv-1\nbot: You said: two on conv-1\n"
	if out2 != want2 {
		t.Errorf("second run output:\n%s\nwant:\n%s", out2, want2)
	}
	if hub.refreshes != 1 {
		t.Errorf("token refreshes = %d, want 1", hub.refreshes)
	}
	if len(hub.convs) != 1 {
		t.Errorf("conversations = %d, want 1", len(hub.convs))
	}
}

func TestRunInteractiveReturnsAtEndOfInput(t *testing.T) {
	hub := newFakeHub(t)
	srv := httptest.NewServer(hub.routes())
	defer srv.Close()
	// Interactive: no idle wait after the input ends, even with a long Idle.
	_, err := run(t, Options{Server: srv.URL, In: strings.NewReader(""), Idle: time.Hour, Interactive: true})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestRunErrors(t *testing.T) {
	hub := newFakeHub(t)
	srv := httptest.NewServer(hub.routes())
	defer srv.Close()
	tests := []struct {
		name string
		o    Options
		err  string
	}{
		{name: "no server", o: Options{}, err: "no server URL"},
		{name: "not http", o: Options{Server: "ftp://x"}, err: "must be an http(s) URL"},
		{name: "unknown account", o: Options{Server: srv.URL, Account: "42"}, err: "consumer token: 404"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := run(t, tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Run error = %v, want %q", err, tt.err)
			}
		})
	}
}

func TestRunStopsWithContext(t *testing.T) {
	hub := newFakeHub(t)
	srv := httptest.NewServer(hub.routes())
	defer srv.Close()
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Options{Server: srv.URL, In: pr, Out: &out, Idle: time.Hour}) }()
	// Wait for the greeting: the client is connected and idle on input.
	if _, err := pw.Write([]byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	out.waitFor(t, "You said: ping")
	cancel()
	select {
	case err := <-done:
		if err != context.Canceled {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

// syncBuffer is an output buffer a test can wait on.
type syncBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.changed != nil {
		close(b.changed)
		b.changed = nil
	}
	return b.buf.Write(p)
}

// waitFor waits until the output contains s, failing the test after 10s.
func (b *syncBuffer) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		b.mu.Lock()
		if strings.Contains(b.buf.String(), s) {
			b.mu.Unlock()
			return
		}
		if b.changed == nil {
			b.changed = make(chan struct{})
		}
		ch := b.changed
		b.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("output never contained %q; got:\n%s", s, b.buf.String())
		}
	}
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
