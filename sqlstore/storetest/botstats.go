package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/botrelay/botrelay"
)

// testBotStats: counters add up (also from concurrent writers, as nodes of
// a cluster would), reads are bounded by bucket and resolution, bad stats
// are refused, and pruning deletes only what is older.
func testBotStats(t *testing.T, newDB NewDB) {
	s := openStore(t, newDB)
	ctx := context.Background()
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	m := func(bot botrelay.BotID, res time.Duration, at time.Time, metric string, v int64) botrelay.BotStat {
		return botrelay.BotStat{BotID: bot, Resolution: res, Bucket: at, Metric: metric, Value: v}
	}
	if err := s.AddBotStats(ctx, []botrelay.BotStat{
		m("b1", botrelay.StatsMinute, t0, botrelay.StatHandled, 2),
		m("b1", botrelay.StatsMinute, t0, botrelay.StatClosed, 1),
		m("b1", botrelay.StatsMinute, t0.Add(time.Minute), botrelay.StatHandled, 1),
		m("b1", botrelay.StatsHour, t0, botrelay.StatHandled, 3),
		m("b2", botrelay.StatsMinute, t0, botrelay.StatHandled, 7),
	}); err != nil {
		t.Fatal(err)
	}
	// Ten writers add to the same counter at once.
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.AddBotStats(ctx, []botrelay.BotStat{m("b1", botrelay.StatsMinute, t0, botrelay.StatHandled, 1)})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent add: %v", err)
		}
	}
	got, err := s.BotStats(ctx, "b1", botrelay.StatsMinute, t0, t0.Add(2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprint([]string{
		"10:00 closed=1", "10:00 handled=12", "10:01 handled=1",
	})
	if s := statLines(got); s != want {
		t.Errorf("minute stats = %s, want %s", s, want)
	}
	// The upper bound is exclusive; the hour resolution is apart.
	got, _ = s.BotStats(ctx, "b1", botrelay.StatsMinute, t0, t0.Add(time.Minute))
	if s := statLines(got); s != fmt.Sprint([]string{"10:00 closed=1", "10:00 handled=12"}) {
		t.Errorf("first minute = %s", s)
	}
	got, _ = s.BotStats(ctx, "b1", botrelay.StatsHour, t0, t0.Add(time.Hour))
	if s := statLines(got); s != fmt.Sprint([]string{"10:00 handled=3"}) {
		t.Errorf("hour stats = %s", s)
	}
	for name, bad := range map[string]botrelay.BotStat{
		"resolution": m("b1", 5*time.Minute, t0, botrelay.StatHandled, 1),
		"bucket":     m("b1", botrelay.StatsHour, t0.Add(time.Minute), botrelay.StatHandled, 1),
		"metric":     m("b1", botrelay.StatsMinute, t0, "", 1),
	} {
		if err := s.AddBotStats(ctx, []botrelay.BotStat{bad}); botrelay.ErrorCode(err) != botrelay.EINVALID {
			t.Errorf("bad %s: err %v, want EINVALID", name, err)
		}
	}
	n, err := s.PruneBotStats(ctx, botrelay.StatsMinute, t0.Add(time.Minute))
	if err != nil || n != 3 { // b1's two counters of 10:00 and b2's
		t.Fatalf("prune = %d, %v; want 3", n, err)
	}
	got, _ = s.BotStats(ctx, "b1", botrelay.StatsMinute, t0, t0.Add(time.Hour))
	if s := statLines(got); s != fmt.Sprint([]string{"10:01 handled=1"}) {
		t.Errorf("after prune = %s", s)
	}
	if got, _ := s.BotStats(ctx, "b1", botrelay.StatsHour, t0, t0.Add(time.Hour)); len(got) != 1 {
		t.Errorf("prune of minutes touched hours: %v", got)
	}
}

func statLines(st []botrelay.BotStat) string {
	out := []string{}
	for _, s := range st {
		out = append(out, fmt.Sprintf("%s %s=%d", s.Bucket.UTC().Format("15:04"), s.Metric, s.Value))
	}
	return fmt.Sprint(out)
}
