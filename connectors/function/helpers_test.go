package function

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
)

// settings renders vendor settings for code with extra fields.
func settings(code string, extra string) json.RawMessage {
	s := fmt.Sprintf(`{"code":%s`, mustJSON(code))
	if extra != "" {
		s += "," + extra
	}
	return json.RawMessage(s + "}")
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// logBuffer collects log records, safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

var fixedNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// newBot builds a bot from code; extra adds settings fields.
func newBot(t testing.TB, code, extra string) (*Bot, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	env := botrelay.BotEnv{
		BotID:     "bot-1",
		AccountID: "1000",
		Logger:    slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:       func() time.Time { return fixedNow },
	}
	vb, err := Connector{}.NewBot(settings(code, extra), env)
	if err != nil {
		t.Fatalf("NewBot: %v", err)
	}
	return vb.(*Bot), logs
}

// textTurn is a messaging text turn.
func textTurn(text string) *botrelay.Turn {
	return &botrelay.Turn{
		Kind:         botrelay.TurnText,
		Conversation: messagingConv,
		Text:         text,
		LPEvent:      json.RawMessage(`{"sequence":3,"event":{"type":"ContentEvent","message":"` + text + `","contentType":"text/plain"},"dialogId":"c-1","conversationId":"c-1"}`),
		SDEs:         json.RawMessage(`{}`),
	}
}

var messagingConv = botrelay.ConversationRef{ID: "c-1", DialogID: "c-1", Type: botrelay.Messaging, ConsumerID: "consumer-1", SkillID: 7, SkillName: "bot"}

func converse(t testing.TB, b *Bot, turn *botrelay.Turn) (*botrelay.Reply, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return b.Converse(ctx, turn)
}

// golden compares got with testdata/<name>, or rewrites it with -update.
// The readable form of a Reply in golden files.
type goldenReply struct {
	Items       []goldenItem      `json:"items,omitempty"`
	Action      *goldenAction     `json:"action,omitempty"`
	Skipped     []string          `json:"skipped,omitempty"`
	Intents     []botrelay.Intent `json:"intents,omitempty"`
	VendorState json.RawMessage   `json:"vendorState,omitempty"`
}

type goldenItem struct {
	Text              string          `json:"text,omitempty"`
	StructuredContent json.RawMessage `json:"structuredContent,omitempty"`
	QuickReplies      json.RawMessage `json:"quickReplies,omitempty"`
	Audience          string          `json:"audience,omitempty"`
	Metadata          json.RawMessage `json:"metadata,omitempty"`
	EncodedMetadata   string          `json:"encodedMetadata,omitempty"`
	Delay             string          `json:"delay,omitempty"`
	Typing            *bool           `json:"typing,omitempty"`
}

type goldenAction struct {
	Kind        botrelay.ActionKind `json:"kind"`
	Skill       string              `json:"skill,omitempty"`
	AgentID     string              `json:"agentId,omitempty"`
	WithoutPCS  bool                `json:"withoutPcs,omitempty"`
	TTR         string              `json:"ttr,omitempty"`
	TTRSeconds  int                 `json:"ttrSeconds,omitempty"`
	FunctionID  string              `json:"functionId,omitempty"`
	Payload     json.RawMessage     `json:"payload,omitempty"`
	FailOnError bool                `json:"failOnError,omitempty"`
}

// render is the golden text of a reply or an error.
func render(r *botrelay.Reply, err error) []byte {
	if err != nil {
		return []byte(fmt.Sprintf("error: %v\nclass: %v\n", err, errorClass(err)))
	}
	g := goldenReply{Skipped: r.Skipped, Intents: r.Intents, VendorState: r.VendorState}
	for _, it := range r.Items {
		switch {
		case it.Message != nil:
			m := it.Message
			g.Items = append(g.Items, goldenItem{Text: m.Text, StructuredContent: m.StructuredContent, QuickReplies: m.QuickReplies,
				Audience: m.Audience, Metadata: m.Metadata, EncodedMetadata: m.EncodedMetadata})
		case it.Delay != nil:
			typing := it.Delay.Typing
			g.Items = append(g.Items, goldenItem{Delay: it.Delay.Duration.String(), Typing: &typing})
		}
	}
	if a := r.Action; a != nil {
		g.Action = &goldenAction{Kind: a.Kind, Skill: a.Skill, AgentID: a.AgentID, WithoutPCS: a.WithoutPCS, TTR: a.TTR,
			TTRSeconds: a.TTRSeconds, FunctionID: a.FunctionID, Payload: a.Payload, FailOnError: a.FailOnError}
	}
	b, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}

func errorClass(err error) string {
	for _, c := range []error{botrelay.ErrVendorUnavailable, botrelay.ErrVendorBadReply, botrelay.ErrVendorAuth, botrelay.ErrUnsupported} {
		if errors.Is(err, c) {
			return c.Error()
		}
	}
	return "unclassified"
}

// wantVendorError checks err's class and code.
func wantVendorError(t *testing.T, err error, class error, code string) *botrelay.VendorError {
	t.Helper()
	var ve *botrelay.VendorError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v is not a *VendorError", err)
	}
	if !errors.Is(err, class) || ve.Code != code {
		t.Fatalf("error %v: want class %q and code %q, got class %q and code %q", err, class, code, errorClass(err), ve.Code)
	}
	if strings.HasPrefix(ve.Code, botrelay.ErrorCodePrefix) {
		t.Fatalf("code %q carries the prefix", ve.Code)
	}
	return ve
}
