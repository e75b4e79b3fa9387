package botstats_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/botstats"
	"github.com/botrelay/botrelay/internal/relay"
	"github.com/botrelay/botrelay/sqlstore"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func newStore(t *testing.T) *sqlstore.Store {
	t.Helper()
	st, err := sqlstore.Open(context.Background(), sqlstore.Options{Dialect: sqlstore.SQLite,
		DSN: filepath.Join(t.TempDir(), "b.db"), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestRecorderFigures drives the recorder as the relay would over three
// minutes and reads the figures back per minute and in total.
func TestRecorderFigures(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	c := &clock{t: t0}
	rec := botstats.New(botstats.Options{Store: st, Now: c.now})
	b := &botrelay.Bot{ID: "bot-1"}

	rec.StateChanged(b, botrelay.BotStarting, t0)
	rec.StateChanged(b, botrelay.BotOnline, t0.Add(30*time.Second))
	c.set(t0.Add(40 * time.Second))
	for range 3 {
		rec.Conversation(b, relay.ConversationHandled)
	}
	rec.Conversation(b, relay.ConversationTransferred)
	rec.Conversation(b, relay.ConversationClosed)
	rec.Escalated(b, "vendor")
	rec.ErrorLogged(b, "tpb.vendor.timeout")
	for _, d := range []time.Duration{10, 20, 30, 40, 1000} {
		rec.VendorCall(b, d*time.Millisecond, nil)
	}
	rec.VendorCall(b, 5*time.Millisecond, errors.New("down"))
	if err := rec.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// Vendor Interruption from 10:01:30 to a flush at 10:02:30.
	c.set(t0.Add(90 * time.Second))
	rec.StateChanged(b, botrelay.BotVendorInterruption, c.now())
	c.set(t0.Add(150 * time.Second))
	if err := rec.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	s, err := botstats.Run(ctx, st, c.now(), botstats.Query{Bot: b.ID, From: t0, To: t0.Add(3 * time.Minute), Step: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if s.Resolution != "1m" || s.Step != "1m" || len(s.Points) != 3 {
		t.Fatalf("series %s %s with %d points", s.Resolution, s.Step, len(s.Points))
	}
	tot := s.Totals
	if tot.Handled != 3 || tot.Transferred != 1 || tot.Closed != 1 || tot.Escalated != 1 || tot.VendorCalls != 6 || tot.VendorErrors != 1 {
		t.Errorf("totals %+v", tot)
	}
	if tot.Errors["tpb.vendor.timeout"] != 1 || len(tot.Errors) != 1 {
		t.Errorf("errors %v", tot.Errors)
	}
	if *tot.ContainmentRate != 1.0/3 {
		t.Errorf("containment %v", *tot.ContainmentRate)
	}
	// Started 10:00:00–10:02:30, Online 10:00:30–10:01:30.
	if tot.StartedMs != 150000 || tot.OnlineMs != 60000 || *tot.Uptime != 0.4 {
		t.Errorf("started %d ms, online %d ms, uptime %v", tot.StartedMs, tot.OnlineMs, *tot.Uptime)
	}
	if p := s.Points[0]; p.OnlineMs != 30000 || p.StartedMs != 60000 || p.Handled != 3 {
		t.Errorf("10:00 %+v", p)
	}
	if p := s.Points[1]; p.OnlineMs != 30000 || p.StartedMs != 60000 || p.Handled != 0 || p.ContainmentRate != nil {
		t.Errorf("10:01 %+v", p)
	}
	if p := s.Points[2]; p.OnlineMs != 0 || p.StartedMs != 30000 || p.LatencyP50Ms != nil {
		t.Errorf("10:02 %+v", p)
	}
	// Six calls: 5, 10, 20, 30, 40 and 1000 ms. The median lies between
	// 20 and 30 ms, the 95th percentile in the 1000 ms bucket; buckets are
	// √2 wide.
	if p50 := *tot.LatencyP50Ms; p50 < 16 || p50 > 32 {
		t.Errorf("p50 %v ms", p50)
	}
	if p95 := *tot.LatencyP95Ms; p95 < 700 || p95 > 1100 {
		t.Errorf("p95 %v ms", p95)
	}
	// The hour buckets hold the same totals.
	h, err := botstats.Run(ctx, st, c.now(), botstats.Query{Bot: b.ID, From: t0, To: t0.Add(time.Hour), Step: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(h.Totals)
	m, _ := json.Marshal(tot)
	if h.Resolution != "1h" || string(a) != string(m) {
		t.Errorf("hour totals %s\nminute totals %s", a, m)
	}
}

// TestQueryRules: defaults and the refused queries.
func TestQueryRules(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	now := time.Date(2026, 12, 6, 10, 7, 0, 0, time.UTC)
	s, err := botstats.Run(ctx, st, now, botstats.Query{Bot: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Step != "5m" || s.Resolution != "1m" || len(s.Points) != 289 || s.Totals.Uptime != nil {
		t.Errorf("default: step %s res %s %d points", s.Step, s.Resolution, len(s.Points))
	}
	s, err = botstats.Run(ctx, st, now, botstats.Query{Bot: "b", From: now.Add(-7 * 24 * time.Hour)})
	if err != nil || s.Step != "1h" || s.Resolution != "1h" {
		t.Errorf("a week: %v %+v", err, s)
	}
	if s, err := botstats.Run(ctx, st, now, botstats.Query{Bot: "b", From: now.Add(-30 * 24 * time.Hour)}); err != nil || s.Step != "6h" {
		t.Errorf("30 days by default: %v %+v", err, s)
	}
	for name, q := range map[string]botstats.Query{
		"empty range": {Bot: "b", From: now, To: now},
		"seconds":     {Bot: "b", Step: 30 * time.Second},
		"old minutes": {Bot: "b", From: now.Add(-48 * time.Hour), Step: 5 * time.Minute},
		"1680 points": {Bot: "b", From: now.Add(-70 * 24 * time.Hour), To: now, Step: time.Hour},
	} {
		if _, err := botstats.Run(ctx, st, now, q); botrelay.ErrorCode(err) != botrelay.EINVALID {
			t.Errorf("%s: err %v, want EINVALID", name, err)
		}
	}
}

// TestLatencyBuckets: every duration lands in the bucket whose bounds hold it.
func TestLatencyBuckets(t *testing.T) {
	for _, d := range []time.Duration{0, time.Millisecond, 1500 * time.Microsecond, 2 * time.Millisecond, 7 * time.Millisecond,
		time.Second, 3 * time.Second, time.Hour} {
		i := botstats.LatencyBucket(d)
		if d > botstats.LatencyBound(i) && i != 39 {
			t.Errorf("%v in bucket %d (≤ %v)", d, i, botstats.LatencyBound(i))
		}
		if i > 0 && d <= botstats.LatencyBound(i-1) {
			t.Errorf("%v in bucket %d but fits %d (≤ %v)", d, i, i-1, botstats.LatencyBound(i-1))
		}
	}
}

// flaky is a stats store whose next AddBotStats fails when fail is set.
type flaky struct {
	botrelay.BotStatsStore
	fail bool
}

func (f *flaky) AddBotStats(ctx context.Context, s []botrelay.BotStat) error {
	if f.fail {
		f.fail = false
		return errors.New("database away")
	}
	return f.BotStatsStore.AddBotStats(ctx, s)
}

// TestFlushFailureKeepsCounts: counts a failed flush could not write are
// written by the next one, once.
func TestFlushFailureKeepsCounts(t *testing.T) {
	ctx := context.Background()
	st := &flaky{BotStatsStore: newStore(t), fail: true}
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	rec := botstats.New(botstats.Options{Store: st, Now: func() time.Time { return t0 }})
	b := &botrelay.Bot{ID: "bot-1"}
	rec.Conversation(b, relay.ConversationHandled)
	if err := rec.Flush(ctx); err == nil {
		t.Fatal("the failing flush reported no error")
	}
	rec.Conversation(b, relay.ConversationHandled)
	if err := rec.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := rec.Flush(ctx); err != nil { // nothing left: nothing written twice
		t.Fatal(err)
	}
	s, err := botstats.Run(ctx, st, t0, botstats.Query{Bot: b.ID, From: t0, To: t0.Add(time.Minute), Step: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if s.Totals.Handled != 2 {
		t.Errorf("handled %d, want 2", s.Totals.Handled)
	}
}

// TestPrune: minute buckets older than 24 hours and hour buckets older
// than 30 days go; younger ones stay.
func TestPrune(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	stat := func(res time.Duration, at time.Time) botrelay.BotStat {
		return botrelay.BotStat{BotID: "b", Resolution: res, Bucket: at, Metric: botrelay.StatHandled, Value: 1}
	}
	if err := st.AddBotStats(ctx, []botrelay.BotStat{
		stat(botrelay.StatsMinute, now.Add(-25*time.Hour)), stat(botrelay.StatsMinute, now.Add(-23*time.Hour)),
		stat(botrelay.StatsHour, now.Add(-31*24*time.Hour)), stat(botrelay.StatsHour, now.Add(-29*24*time.Hour)),
	}); err != nil {
		t.Fatal(err)
	}
	if err := botstats.New(botstats.Options{Store: st, Now: func() time.Time { return now }}).Prune(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		res  time.Duration
		from time.Time
		want int
	}{
		{botrelay.StatsMinute, now.Add(-48 * time.Hour), 1},
		{botrelay.StatsHour, now.Add(-60 * 24 * time.Hour), 1},
	} {
		got, err := st.BotStats(ctx, "b", c.res, c.from, now)
		if err != nil || len(got) != c.want {
			t.Errorf("%s buckets after prune: %v %v", c.res, got, err)
		}
	}
}
