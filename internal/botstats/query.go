package botstats

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/botrelay/botrelay"
)

// MaxPoints bounds the points of one query.
const MaxPoints = 1500

// Figures are a bot's figures over one time range. The JSON is the body of
// GET /api/v1/bots/{id}/stats (docs/api.md).
type Figures struct {
	// At is the start of the point (of the range, for the totals), RFC 3339.
	At          string `json:"at"`
	Handled     int64  `json:"handled"`
	Transferred int64  `json:"transferred"`
	Escalated   int64  `json:"escalated"`
	Closed      int64  `json:"closed"`
	// ContainmentRate is Closed ÷ Handled (at most 1): the conversations
	// the bot finished itself, without a transfer or an escalation; nil
	// when it handled none.
	ContainmentRate *float64 `json:"containmentRate"`
	VendorCalls     int64    `json:"vendorCalls"`
	VendorErrors    int64    `json:"vendorErrors"`
	// LatencyP50Ms and LatencyP95Ms are the vendor latency quantiles in
	// milliseconds, interpolated in a histogram whose buckets grow by √2
	// (so within ±20%); nil without vendor calls.
	LatencyP50Ms *float64 `json:"latencyP50Ms"`
	LatencyP95Ms *float64 `json:"latencyP95Ms"`
	// Errors counts the conversation error log's entries by code.
	Errors map[string]int64 `json:"errors"`
	// OnlineMs and StartedMs are the time the bot was Online and started
	// (in any state but Offline); Uptime is their ratio, nil when the bot
	// was not started.
	OnlineMs  int64    `json:"onlineMs"`
	StartedMs int64    `json:"startedMs"`
	Uptime    *float64 `json:"uptime"`

	latency [latencyBuckets]int64
}

// Series is the answer to a query: the totals of the range and one point
// per step.
type Series struct {
	BotID botrelay.BotID `json:"botId"`
	From  string         `json:"from"`
	To    string         `json:"to"`
	// Step is the points' length as a Go duration ("5m0s" is "5m").
	Step string `json:"step"`
	// Resolution is the stored bucket length used: "1m" or "1h".
	Resolution string    `json:"resolution"`
	Totals     *Figures  `json:"totals"`
	Points     []Figures `json:"points"`
}

// Query is a request for figures. Zero From, To or Step take defaults:
// To now, From 24 hours before To, Step the smallest of 1m, 5m, 15m, 1h,
// 6h and 24h that gives at most 300 points (whole hours when the range
// starts before the minute buckets' retention).
type Query struct {
	Bot      botrelay.BotID
	From, To time.Time
	Step     time.Duration
}

var defaultSteps = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour}

// Run reads the figures of q from st. EINVALID when the range is empty,
// the step is not a whole number of minutes, more than MaxPoints points
// are asked for, or minute steps are asked for a range older than the
// minute buckets' retention.
func Run(ctx context.Context, st botrelay.BotStatsStore, now time.Time, q Query) (*Series, error) {
	if q.To.IsZero() {
		q.To = now
	}
	if q.From.IsZero() {
		q.From = q.To.Add(-24 * time.Hour)
	}
	if !q.From.Before(q.To) {
		return nil, botrelay.Errorf(botrelay.EINVALID, "from must be before to")
	}
	minuteFloor := now.Add(-botrelay.StatsMinuteRetention)
	if q.Step == 0 {
		for _, s := range defaultSteps {
			q.Step = s
			if q.To.Sub(q.From)/s <= 300 && (s%time.Hour == 0 || !q.From.Before(minuteFloor)) {
				break
			}
		}
	}
	if q.Step < time.Minute || q.Step%time.Minute != 0 {
		return nil, botrelay.Errorf(botrelay.EINVALID, "step must be a whole number of minutes, e.g. 1m, 15m or 1h")
	}
	res := botrelay.StatsMinute
	if q.Step%time.Hour == 0 {
		res = botrelay.StatsHour
	} else if q.From.Before(minuteFloor) {
		return nil, botrelay.Errorf(botrelay.EINVALID,
			"minute figures are kept for 24 hours; for a range that starts earlier use a step of whole hours (step=1h)")
	}
	from := q.From.UTC().Truncate(q.Step)
	n := int((q.To.Sub(from) + q.Step - 1) / q.Step)
	if n > MaxPoints {
		return nil, botrelay.Errorf(botrelay.EINVALID, "%d points asked for; at most %d (choose a longer step)", n, MaxPoints)
	}
	to := from.Add(time.Duration(n) * q.Step)
	stats, err := st.BotStats(ctx, q.Bot, res, from, to)
	if err != nil {
		return nil, err
	}
	s := &Series{BotID: q.Bot, From: from.Format(time.RFC3339), To: to.Format(time.RFC3339), Step: shortDuration(q.Step),
		Resolution: shortDuration(res), Totals: newFigures(from), Points: make([]Figures, n)}
	for i := range s.Points {
		s.Points[i] = *newFigures(from.Add(time.Duration(i) * q.Step))
	}
	for _, x := range stats {
		i := int(x.Bucket.Sub(from) / q.Step)
		if i < 0 || i >= n {
			continue
		}
		s.Points[i].add(x.Metric, x.Value)
		s.Totals.add(x.Metric, x.Value)
	}
	for i := range s.Points {
		s.Points[i].finish()
	}
	s.Totals.finish()
	return s, nil
}

func newFigures(at time.Time) *Figures {
	return &Figures{At: at.UTC().Format(time.RFC3339), Errors: map[string]int64{}}
}

func (f *Figures) add(metric string, v int64) {
	switch metric {
	case botrelay.StatHandled:
		f.Handled += v
	case botrelay.StatTransferred:
		f.Transferred += v
	case botrelay.StatEscalated:
		f.Escalated += v
	case botrelay.StatClosed:
		f.Closed += v
	case botrelay.StatVendorCalls:
		f.VendorCalls += v
	case botrelay.StatVendorErrors:
		f.VendorErrors += v
	case botrelay.StatOnlineMillis:
		f.OnlineMs += v
	case botrelay.StatStartedMillis:
		f.StartedMs += v
	default:
		if code, ok := strings.CutPrefix(metric, botrelay.StatErrorPrefix); ok {
			f.Errors[code] += v
		} else if b, ok := strings.CutPrefix(metric, botrelay.StatLatencyPrefix); ok {
			if i, err := strconv.Atoi(b); err == nil && i >= 0 && i < latencyBuckets {
				f.latency[i] += v
			}
		}
	}
}

func ratio(a, b int64) *float64 {
	if b <= 0 {
		return nil
	}
	r := min(float64(a)/float64(b), 1)
	return &r
}

func (f *Figures) finish() {
	f.ContainmentRate = ratio(f.Closed, f.Handled)
	f.Uptime = ratio(f.OnlineMs, f.StartedMs)
	f.LatencyP50Ms = f.quantile(0.50)
	f.LatencyP95Ms = f.quantile(0.95)
}

// quantile interpolates the q-quantile of the latency histogram in
// milliseconds, or nil when it is empty.
func (f *Figures) quantile(q float64) *float64 {
	var total int64
	for _, c := range f.latency {
		total += c
	}
	if total == 0 {
		return nil
	}
	rank := q * float64(total)
	var seen int64
	for i, c := range f.latency {
		if c == 0 || float64(seen+c) < rank {
			seen += c
			continue
		}
		lo := 0.0
		if i > 0 {
			lo = float64(LatencyBound(i-1)) / float64(time.Millisecond)
		}
		hi := float64(LatencyBound(i)) / float64(time.Millisecond)
		v := lo + (hi-lo)*(rank-float64(seen))/float64(c)
		v = float64(int64(v*10+0.5)) / 10 // 0.1 ms is plenty
		return &v
	}
	return nil
}

// shortDuration writes d as Go does, without zero trailing units: "5m",
// "1h", "1h30m".
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
