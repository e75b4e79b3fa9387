// Package botstats keeps the per-bot figures over time that the dashboard
// charts and GET /api/v1/bots/{id}/stats serves: conversations handled,
// transferred, escalated and closed, vendor calls and their latency, logged
// errors by code, and the time each bot spent started and Online.
//
// The Recorder is the relay's StatsObserver. It only adds to counters in
// memory on the bots' goroutines; Run writes them to the store every
// FlushEvery (5 s by default) as additive per-minute and per-hour counters
// (botrelay.BotStatsStore), so the hot path never writes per message. A
// crash loses what was counted since the last flush, at most FlushEvery of
// figures; a clean shutdown flushes once more. Run also deletes minute
// buckets older than 24 hours and hour buckets older than 30 days, only
// while Options.Active says this node should (once per cluster).
package botstats

import (
	"context"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/relay"
)

// Options configure a Recorder. Store is required.
type Options struct {
	Store botrelay.BotStatsStore
	// Now is the clock. Default: time.Now.
	Now func() time.Time
	// FlushEvery is how often counts go to the store. Default: 5s.
	FlushEvery time.Duration
	// PruneEvery is how often old buckets are deleted. Default: 10m.
	PruneEvery time.Duration
	// Active reports whether this node does the once-per-cluster work
	// (pruning). Default: always true.
	Active func() bool
	// Logger receives flush failures. Default: slog.Default().
	Logger *slog.Logger
}

// Recorder counts what the bots do and writes it to the store. It is safe
// for concurrent use.
type Recorder struct {
	o       Options
	mu      sync.Mutex
	pending map[key]int64
	spans   map[botrelay.BotID]span
}

var _ relay.StatsObserver = (*Recorder)(nil)

// key is one counter of one minute bucket (Unix milliseconds).
type key struct {
	bot    botrelay.BotID
	minute int64
	metric string
}

// span is the state a started bot has been in since a time.
type span struct {
	state botrelay.BotState
	since time.Time
}

// New returns a Recorder; nothing is written until Run or Flush.
func New(o Options) *Recorder {
	if o.Store == nil {
		panic("botstats: New needs a Store")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.FlushEvery <= 0 {
		o.FlushEvery = 5 * time.Second
	}
	if o.PruneEvery <= 0 {
		o.PruneEvery = 10 * time.Minute
	}
	if o.Active == nil {
		o.Active = func() bool { return true }
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Recorder{o: o, pending: map[key]int64{}, spans: map[botrelay.BotID]span{}}
}

// add counts v under metric in the minute of at; r.mu is held.
func (r *Recorder) add(bot botrelay.BotID, at time.Time, metric string, v int64) {
	r.pending[key{bot, at.Truncate(time.Minute).UnixMilli(), metric}] += v
}

func (r *Recorder) count(bot botrelay.BotID, metric string, v int64) {
	now := r.o.Now()
	r.mu.Lock()
	r.add(bot, now, metric, v)
	r.mu.Unlock()
}

// VendorCall implements relay.Observer.
func (r *Recorder) VendorCall(b *botrelay.Bot, d time.Duration, err error) {
	now := r.o.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.add(b.ID, now, botrelay.StatVendorCalls, 1)
	if err != nil {
		r.add(b.ID, now, botrelay.StatVendorErrors, 1)
	}
	r.add(b.ID, now, botrelay.StatLatencyPrefix+strconv.Itoa(LatencyBucket(d)), 1)
}

// Escalated implements relay.Observer.
func (r *Recorder) Escalated(b *botrelay.Bot, _ string) { r.count(b.ID, botrelay.StatEscalated, 1) }

// Conversation implements relay.StatsObserver.
func (r *Recorder) Conversation(b *botrelay.Bot, ev relay.ConversationEvent) {
	switch ev {
	case relay.ConversationHandled:
		r.count(b.ID, botrelay.StatHandled, 1)
	case relay.ConversationTransferred:
		r.count(b.ID, botrelay.StatTransferred, 1)
	case relay.ConversationClosed:
		r.count(b.ID, botrelay.StatClosed, 1)
	}
}

// ErrorLogged implements relay.StatsObserver.
func (r *Recorder) ErrorLogged(b *botrelay.Bot, code string) {
	r.count(b.ID, botrelay.StatErrorPrefix+code, 1)
}

// StateChanged implements relay.StatsObserver: the time of the state the
// bot leaves is counted, and an Offline bot is no longer timed.
func (r *Recorder) StateChanged(b *botrelay.Bot, s botrelay.BotState, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if sp, ok := r.spans[b.ID]; ok {
		r.time(b.ID, sp, at)
	}
	if s == botrelay.BotOffline {
		delete(r.spans, b.ID)
		return
	}
	r.spans[b.ID] = span{state: s, since: at}
}

// time counts the span up to until as started time (and Online time when
// it was Online), split at minute boundaries; r.mu is held.
func (r *Recorder) time(bot botrelay.BotID, sp span, until time.Time) {
	for t := sp.since; t.Before(until); {
		next := t.Truncate(time.Minute).Add(time.Minute)
		if next.After(until) {
			next = until
		}
		ms := next.Sub(t).Milliseconds()
		r.add(bot, t, botrelay.StatStartedMillis, ms)
		if sp.state == botrelay.BotOnline {
			r.add(bot, t, botrelay.StatOnlineMillis, ms)
		}
		t = next
	}
}

// Run flushes every FlushEvery and prunes every PruneEvery (when Active)
// until ctx ends, then flushes once more.
func (r *Recorder) Run(ctx context.Context) {
	flush := time.NewTicker(r.o.FlushEvery)
	defer flush.Stop()
	prune := time.NewTicker(r.o.PruneEvery)
	defer prune.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			r.logFailure("flush bot figures", r.Flush(fctx))
			return
		case <-flush.C:
			r.logFailure("flush bot figures", r.Flush(ctx))
		case <-prune.C:
			if r.o.Active() {
				r.logFailure("prune bot figures", r.Prune(ctx))
			}
		}
	}
}

func (r *Recorder) logFailure(what string, err error) {
	if err != nil {
		r.o.Logger.Warn(what, "err", err)
	}
}

// Flush writes what was counted since the last flush, the time of the
// running bots' current states included, as minute and hour counters. On
// failure the counts are kept for the next flush.
func (r *Recorder) Flush(ctx context.Context) error {
	now := r.o.Now()
	r.mu.Lock()
	for bot, sp := range r.spans {
		r.time(bot, sp, now)
		r.spans[bot] = span{state: sp.state, since: now}
	}
	pending := r.pending
	r.pending = map[key]int64{}
	r.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	stats := make([]botrelay.BotStat, 0, 2*len(pending))
	hours := map[key]int64{}
	for k, v := range pending {
		stats = append(stats, botrelay.BotStat{BotID: k.bot, Resolution: botrelay.StatsMinute,
			Bucket: time.UnixMilli(k.minute).UTC(), Metric: k.metric, Value: v})
		hk := k
		hk.minute = time.UnixMilli(k.minute).Truncate(time.Hour).UnixMilli()
		hours[hk] += v
	}
	for k, v := range hours {
		stats = append(stats, botrelay.BotStat{BotID: k.bot, Resolution: botrelay.StatsHour,
			Bucket: time.UnixMilli(k.minute).UTC(), Metric: k.metric, Value: v})
	}
	if err := r.o.Store.AddBotStats(ctx, stats); err != nil {
		r.mu.Lock()
		for k, v := range pending {
			r.pending[k] += v
		}
		r.mu.Unlock()
		return err
	}
	return nil
}

// Prune deletes the buckets older than their retention.
func (r *Recorder) Prune(ctx context.Context) error {
	now := r.o.Now()
	if _, err := r.o.Store.PruneBotStats(ctx, botrelay.StatsMinute, now.Add(-botrelay.StatsMinuteRetention)); err != nil {
		return err
	}
	_, err := r.o.Store.PruneBotStats(ctx, botrelay.StatsHour, now.Add(-botrelay.StatsHourRetention))
	return err
}

// Latency histogram: bucket i holds the calls that took at most
// LatencyBound(i), bucket 0 those up to 1 ms; each bound is √2 times the
// previous one, and the last bucket (about 12 minutes) takes everything
// longer.
const latencyBuckets = 40

// LatencyBound is the upper bound of latency bucket i.
func LatencyBound(i int) time.Duration {
	return time.Duration(math.Pow(2, float64(i)/2) * float64(time.Millisecond))
}

// LatencyBucket returns the bucket of a call that took d.
func LatencyBucket(d time.Duration) int {
	ms := float64(d) / float64(time.Millisecond)
	if ms <= 1 {
		return 0
	}
	i := int(math.Ceil(2 * math.Log2(ms)))
	// Rounding may put a value just above a bound; keep it in its bucket.
	for i > 0 && d <= LatencyBound(i-1) {
		i--
	}
	return min(i, latencyBuckets-1)
}
