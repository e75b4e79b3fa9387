package botrelay

import (
	"context"
	"time"
)

// Per-bot figures over time (GET /api/v1/bots/{id}/stats): counters kept
// in time buckets of two resolutions, one row per bot, bucket and metric.

// The bucket resolutions the store keeps, and how long each is kept
// (docs/api.md, "Bot figures").
const (
	StatsMinute          = time.Minute
	StatsHour            = time.Hour
	StatsMinuteRetention = 24 * time.Hour
	StatsHourRetention   = 30 * 24 * time.Hour
)

// The metric names of BotStat. Histogram buckets of vendor latency are
// StatLatencyPrefix + the bucket index (see internal/botstats), and error
// counts StatErrorPrefix + the error-log code.
const (
	StatHandled       = "handled"
	StatTransferred   = "transferred"
	StatEscalated     = "escalated"
	StatClosed        = "closed"
	StatVendorCalls   = "vendor_calls"
	StatVendorErrors  = "vendor_errors"
	StatOnlineMillis  = "online_ms"
	StatStartedMillis = "started_ms"
	StatLatencyPrefix = "latency:"
	StatErrorPrefix   = "error:"
)

// BotStat is one counter of one bot in one time bucket.
type BotStat struct {
	BotID BotID
	// Resolution is the bucket's length: StatsMinute or StatsHour.
	Resolution time.Duration
	// Bucket is the bucket's start, a multiple of Resolution since the
	// Unix epoch (UTC).
	Bucket time.Time
	Metric string
	Value  int64
}

// BotStatsStore keeps the per-bot figures.
type BotStatsStore interface {
	// AddBotStats adds each stat's Value to its counter (bot, resolution,
	// bucket, metric), creating it at 0 when absent, all in one
	// transaction. Adding is commutative, so several nodes may add to the
	// same counters. EINVALID for a resolution other than StatsMinute or
	// StatsHour, a bucket off its resolution or an empty metric.
	AddBotStats(ctx context.Context, stats []BotStat) error
	// BotStats returns the bot's counters of resolution res whose bucket
	// starts in [from, to), ordered by bucket then metric.
	BotStats(ctx context.Context, bot BotID, res time.Duration, from, to time.Time) ([]BotStat, error)
	// PruneBotStats deletes the counters of resolution res whose bucket
	// starts before before, and returns how many it deleted.
	PruneBotStats(ctx context.Context, res time.Duration, before time.Time) (int64, error)
}

// CheckBotStat reports why s cannot be stored, or nil.
func CheckBotStat(s BotStat) error {
	if s.Resolution != StatsMinute && s.Resolution != StatsHour {
		return Errorf(EINVALID, "stats resolution %s: must be 1m or 1h", s.Resolution)
	}
	if s.Bucket.UnixMilli()%s.Resolution.Milliseconds() != 0 {
		return Errorf(EINVALID, "stats bucket %s is not on a %s boundary", s.Bucket.UTC().Format(time.RFC3339), s.Resolution)
	}
	if s.Metric == "" || s.BotID == "" {
		return Errorf(EINVALID, "a stat needs a bot and a metric")
	}
	return nil
}
