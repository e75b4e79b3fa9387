package app

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/botrelay/botrelay"
	"github.com/botrelay/botrelay/internal/relay"
)

// standInCounters count the stand-ins (docs/standins.md): hand-backs and
// the turns a fallback vendor answered.
type standInCounters struct {
	handBacks     *prometheus.CounterVec
	fallbackTurns *prometheus.CounterVec
}

var _ relay.StandInObserver = (*botEvents)(nil)

func newStandInCounters() *standInCounters {
	return &standInCounters{
		handBacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "botrelay_bot_handbacks_total",
			Help: "Conversations a bot handed back to their skill or the escalation skill, by bot and why (stop, interruption, start).",
		}, []string{"bot_id", "why"}),
		fallbackTurns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "botrelay_bot_fallback_turns_total",
			Help: "Turns a bot's fallback vendor answered instead of its own, by bot and result (ok or error).",
		}, []string{"bot_id", "result"}),
	}
}

// HandedBack implements relay.StandInObserver.
func (c *standInCounters) HandedBack(b *botrelay.Bot, why string, n int) {
	c.handBacks.WithLabelValues(string(b.ID), why).Add(float64(n))
}

// FallbackTurn implements relay.StandInObserver.
func (c *standInCounters) FallbackTurn(b *botrelay.Bot, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	c.fallbackTurns.WithLabelValues(string(b.ID), result).Inc()
}
