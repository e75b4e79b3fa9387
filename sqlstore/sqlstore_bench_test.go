package sqlstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/sqlstore"
)

// benchStore opens an SQLite store with botrelay's durable settings (WAL,
// synchronous=FULL) in a temporary folder, with an account, a skill and one
// open conversation.
func benchStore(b testing.TB) (*sqlstore.Store, *botrelay.Conversation) {
	return benchStoreAt(b, filepath.Join(b.TempDir(), "bench.db"))
}

func benchStoreAt(b testing.TB, path string) (*sqlstore.Store, *botrelay.Conversation) {
	b.Helper()
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, sqlstore.Options{Dialect: sqlstore.SQLite, DSN: path,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	boot := &botrelay.Bootstrap{Account: &botrelay.Account{ID: "1000", Name: "Bench"}, Profiles: botrelay.BuiltInProfiles(),
		Skills: []*botrelay.Skill{{Name: botrelay.SkillNameBot}, {Name: botrelay.SkillNameHuman}},
		Admin:  &botrelay.User{Type: botrelay.UserHuman, LoginName: "admin", Enabled: true}}
	if _, err := s.Bootstrap(ctx, boot); err != nil {
		b.Fatal(err)
	}
	return s, benchConversation(b, s, boot.Skills[0].ID, 1)
}

func benchConversation(b testing.TB, s *sqlstore.Store, skill botrelay.SkillID, n int) *botrelay.Conversation {
	b.Helper()
	id := botrelay.ConversationID(fmt.Sprintf("00000000-0000-4000-9000-%012d", n))
	consumer := botrelay.ConsumerID(fmt.Sprintf("c0ffee00-0000-4000-8000-%012d", n))
	now := time.Now().UTC()
	cv := &botrelay.Conversation{ID: id, AccountID: "1000", ConsumerID: consumer, SkillID: skill,
		State: botrelay.ConversationOpen, TTR: botrelay.TTRNormal,
		Participants: []botrelay.Participant{{ConsumerID: consumer, Role: botrelay.ParticipantConsumer, State: botrelay.ParticipantStateActive, JoinedAt: now}},
		Dialogs:      []botrelay.Dialog{{ID: botrelay.DialogID(id), Type: botrelay.DialogMain, State: botrelay.DialogOpen, CreatedAt: now}}}
	if err := s.CreateConversation(context.Background(), cv); err != nil {
		b.Fatal(err)
	}
	return cv
}

// BenchmarkAppendEvent is one consumer message committed durably: the write
// the hub makes before it answers PublishEvent.
func BenchmarkAppendEvent(b *testing.B) {
	s, cv := benchStore(b)
	ev := json.RawMessage(`{"type":"ContentEvent","contentType":"text/plain","message":"I would like to change the delivery address of my order"}`)
	ctx := context.Background()
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		e := &botrelay.MessageEvent{ConversationID: cv.ID, DialogID: botrelay.DialogID(cv.ID), Type: "ContentEvent",
			OriginatorID: string(cv.ConsumerID), OriginatorPID: string(cv.ConsumerID), OriginatorRole: botrelay.ParticipantConsumer, Event: ev}
		if err := s.AppendEvent(ctx, e); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendEventParallel appends from many goroutines to their own
// conversations, as the hub does under load: SQLite has one writer, so this
// shows whether the writes queue for it or share a commit and its fsync.
func BenchmarkAppendEventParallel(b *testing.B) {
	s, cv := benchStore(b)
	ev := json.RawMessage(`{"type":"ContentEvent","contentType":"text/plain","message":"hello"}`)
	convs := make(chan *botrelay.Conversation, 64)
	for i := range 64 {
		convs <- benchConversation(b, s, cv.SkillID, i+2)
	}
	ctx := context.Background()
	b.SetParallelism(8)
	b.ReportAllocs()
	defer reportCPU(b)()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c := <-convs
		for pb.Next() {
			e := &botrelay.MessageEvent{ConversationID: c.ID, DialogID: botrelay.DialogID(c.ID), Type: "ContentEvent",
				OriginatorID: string(c.ConsumerID), OriginatorPID: string(c.ConsumerID), OriginatorRole: botrelay.ParticipantConsumer, Event: ev}
			if err := s.AppendEvent(ctx, e); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkSaveBotConversation is the relay's per-turn state write (its
// outbox and last sequence), made several times per turn.
func BenchmarkSaveBotConversation(b *testing.B) {
	s, cv := benchStore(b)
	ctx := context.Background()
	var prof botrelay.ProfileID
	ps, err := s.Profiles(ctx, "1000")
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range ps {
		if p.Role == botrelay.RoleAgent {
			prof = p.ID
		}
	}
	u := &botrelay.User{AccountID: "1000", Type: botrelay.UserBot, LoginName: "bench-bot", ProfileID: prof, MessagingSlots: 10, Enabled: true}
	if err := s.CreateUser(ctx, u); err != nil {
		b.Fatal(err)
	}
	bot := &botrelay.Bot{ID: "bench-bot", AccountID: "1000", Name: "bench", UserID: u.ID, Vendor: "function",
		Settings: botrelay.BotSettings{ErrorHandling: botrelay.ErrorHandling{EscalationSkill: "human"}}}
	if err := s.CreateBot(ctx, bot); err != nil {
		b.Fatal(err)
	}
	bc := &botrelay.BotConversation{BotID: bot.ID, ConversationID: cv.ID, DialogID: botrelay.DialogID(cv.ID), Open: true,
		LastSequence: 1, Outbox: json.RawMessage(`{"key":"s1","seq":1,"reply":{"items":[{"message":{"text":"hello"}}]}}`)}
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		if err := s.SaveBotConversation(ctx, bc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendEventParallelSerialized is BenchmarkAppendEventParallel
// with the writers queued on a mutex in Go, so each write commits on its
// own: the difference between the two is what sharing commits saves (or,
// without group commit, what contention on SQLite's write lock costs).
func BenchmarkAppendEventParallelSerialized(b *testing.B) {
	s, cv := benchStore(b)
	ev := json.RawMessage(`{"type":"ContentEvent","contentType":"text/plain","message":"hello"}`)
	convs := make(chan *botrelay.Conversation, 64)
	for i := range 64 {
		convs <- benchConversation(b, s, cv.SkillID, i+2)
	}
	ctx := context.Background()
	var mu sync.Mutex
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c := <-convs
		for pb.Next() {
			e := &botrelay.MessageEvent{ConversationID: c.ID, DialogID: botrelay.DialogID(c.ID), Type: "ContentEvent",
				OriginatorID: string(c.ConsumerID), OriginatorPID: string(c.ConsumerID), OriginatorRole: botrelay.ParticipantConsumer, Event: ev}
			mu.Lock()
			err := s.AppendEvent(ctx, e)
			mu.Unlock()
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// reportCPU adds the process's CPU time (user and system, all goroutines,
// the fsyncs' kernel time included) per operation to a benchmark's
// results, and its threads' voluntary context switches per operation (a
// thread that sleeps waiting for another: a hand-off between goroutines
// that had to wake a thread, or a wait for the disk). A durable write's wall
// time is mostly waiting for the disk; its CPU is what it takes from the
// rest of a server. Call it after the setup and defer the function it
// returns.
func reportCPU(b *testing.B) func() {
	start, startSw := processCPU(), voluntarySwitches()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(voluntarySwitches()-startSw)/float64(b.N), "vcsw/op")
		}
	}
}

func voluntarySwitches() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Nvcsw
}
