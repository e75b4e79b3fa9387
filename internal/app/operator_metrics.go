package app

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/hub"
	"github.com/botrelay/botrelay/internal/relay"
	"github.com/botrelay/botrelay/sqlstore"
)

// Operator metrics: per bot, hub and store series (docs/operations.md
// lists them). Counters and histograms are fed as things happen (the
// relay's Observer, the store's commit observer); gauges are read at
// scrape time from the relay, the store and the hub.

// botStates are the values of botrelay_bot_state's state label.
var botStates = []botrelay.BotState{botrelay.BotOffline, botrelay.BotStarting, botrelay.BotOnline,
	botrelay.BotVendorInterruption, botrelay.BotServiceInterruption}

// botEvents counts what the bots do; it is the relay's Observer.
type botEvents struct {
	turns       *prometheus.CounterVec
	escalations *prometheus.CounterVec
	latency     *prometheus.HistogramVec

	*standInCounters // standin_metrics.go
}

var _ relay.Observer = (*botEvents)(nil)

func newBotEvents() *botEvents {
	return &botEvents{
		turns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "botrelay_bot_turns_total",
			Help: "Turns a bot sent to its vendor, by bot, vendor and result (ok or error).",
		}, []string{"bot_id", "vendor", "result"}),
		escalations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "botrelay_bot_escalations_total",
			Help: "Conversations a bot escalated (F31), by bot and error-log code (as GET /api/v1/bots/{id}/errors shows it).",
		}, []string{"bot_id", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "botrelay_bot_vendor_latency_seconds",
			Help:    "Time a vendor took to answer a turn (retries within the vendor timeout included), by bot and vendor.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 14),
		}, []string{"bot_id", "vendor"}),
		standInCounters: newStandInCounters(),
	}
}

func (e *botEvents) VendorCall(b *botrelay.Bot, d time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	e.turns.WithLabelValues(string(b.ID), b.Vendor, result).Inc()
	e.latency.WithLabelValues(string(b.ID), b.Vendor).Observe(d.Seconds())
}

// Escalated counts under the code as the error log shows it (with
// botrelay.ErrorCodePrefix).
func (e *botEvents) Escalated(b *botrelay.Bot, code string) {
	if !strings.HasPrefix(code, botrelay.ErrorCodePrefix) {
		code = botrelay.ErrorCodePrefix + code
	}
	e.escalations.WithLabelValues(string(b.ID), code).Inc()
}

// liveGauges reads the bots' states and open conversations and the hub's
// figures when Prometheus scrapes.
type liveGauges struct {
	store *sqlstore.Store
	relay *relay.Relay
	// hub returns the hub this node runs; nil on a cluster node that
	// does not route (its hub series are then absent).
	hub     func() *hub.Hub
	account botrelay.AccountID

	info, state, open                        *prometheus.Desc
	conns, hubOpen, waiting, rings, longWait *prometheus.Desc
}

func newLiveGauges(st *sqlstore.Store, r *relay.Relay, h func() *hub.Hub, account botrelay.AccountID) *liveGauges {
	return &liveGauges{store: st, relay: r, hub: h, account: account,
		info: prometheus.NewDesc("botrelay_bot_info", "Each bot, with its name, vendor and type; always 1.",
			[]string{"bot_id", "name", "vendor", "type"}, nil),
		state: prometheus.NewDesc("botrelay_bot_state", "1 for a bot's current state, 0 for the others (OFFLINE, STARTING, ONLINE, VENDOR_INTERRUPTION, SERVICE_INTERRUPTION).",
			[]string{"bot_id", "state"}, nil),
		open: prometheus.NewDesc("botrelay_bot_open_conversations", "Conversations a bot holds now.",
			[]string{"bot_id"}, nil),
		conns: prometheus.NewDesc("botrelay_hub_connections", "Open websockets of the hub, by side (agent, bots included, or consumer).",
			[]string{"side"}, nil),
		hubOpen:  prometheus.NewDesc("botrelay_hub_open_conversations", "Open conversations on the hub.", nil, nil),
		waiting:  prometheus.NewDesc("botrelay_hub_waiting_conversations", "Conversations waiting on their skill for an agent.", nil, nil),
		rings:    prometheus.NewDesc("botrelay_hub_rings", "Rings offering a waiting conversation to an agent now.", nil, nil),
		longWait: prometheus.NewDesc("botrelay_hub_oldest_wait_seconds", "How long the longest-waiting conversation has waited (0 when none waits).", nil, nil),
	}
}

func (g *liveGauges) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{g.info, g.state, g.open, g.conns, g.hubOpen, g.waiting, g.rings, g.longWait} {
		ch <- d
	}
}

func (g *liveGauges) Collect(ch chan<- prometheus.Metric) {
	if h := g.hub(); h != nil {
		hs := h.Stats()
		ch <- prometheus.MustNewConstMetric(g.conns, prometheus.GaugeValue, float64(hs.AgentConnections), "agent")
		ch <- prometheus.MustNewConstMetric(g.conns, prometheus.GaugeValue, float64(hs.ConsumerConnections), "consumer")
		ch <- prometheus.MustNewConstMetric(g.hubOpen, prometheus.GaugeValue, float64(hs.OpenConversations))
		ch <- prometheus.MustNewConstMetric(g.waiting, prometheus.GaugeValue, float64(hs.Waiting))
		ch <- prometheus.MustNewConstMetric(g.rings, prometheus.GaugeValue, float64(hs.Rings))
		ch <- prometheus.MustNewConstMetric(g.longWait, prometheus.GaugeValue, hs.OldestWait.Seconds())
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	bots, err := g.store.Bots(ctx, g.account)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(g.info, errors.New("read the bots: "+botrelay.ErrorMessage(err)))
		return
	}
	for _, b := range bots {
		id := string(b.ID)
		ch <- prometheus.MustNewConstMetric(g.info, prometheus.GaugeValue, 1, id, b.Name, b.Vendor, string(b.Type))
		now := g.relay.State(b.ID)
		for _, s := range botStates {
			v := 0.0
			if s == now {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(g.state, prometheus.GaugeValue, v, id, string(s))
		}
		if n, err := g.store.CountOpenBotConversations(ctx, b.ID); err == nil {
			ch <- prometheus.MustNewConstMetric(g.open, prometheus.GaugeValue, float64(n), id)
		}
	}
}

// operator registers the operator series on the metrics registry (events
// is the relay's Observer) and hooks the store's commits.
func (m *metrics) operator(st *sqlstore.Store, events *botEvents, r *relay.Relay, h func() *hub.Hub, account botrelay.AccountID) {
	commitTime := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "botrelay_store_commit_duration_seconds",
		Help:    "Time from BEGIN to COMMIT of the store's write transactions (SQLite group commits included).",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
	})
	commitWrites := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "botrelay_store_commit_writes",
		Help:    "Writes per committed transaction: the batch size of SQLite's group commit (1 elsewhere).",
		Buckets: prometheus.ExponentialBuckets(1, 2, 10),
	})
	m.reg.MustRegister(events.turns, events.escalations, events.latency, commitTime, commitWrites,
		newLiveGauges(st, r, h, account), events.handBacks, events.fallbackTurns)
	st.ObserveCommits(func(writes int, d time.Duration) {
		commitTime.Observe(d.Seconds())
		commitWrites.Observe(float64(writes))
	})
}
