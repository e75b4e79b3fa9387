package app

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/botrelay/botrelay"
)

// The relay's stand-in reports reach /metrics as the documented series.
func TestStandInMetrics(t *testing.T) {
	events := newBotEvents()
	reg := prometheus.NewRegistry()
	reg.MustRegister(events.handBacks, events.fallbackTurns)
	b := &botrelay.Bot{ID: "b1"}
	events.HandedBack(b, "stop", 50)
	events.HandedBack(b, "interruption", 2)
	events.FallbackTurn(b, nil)
	events.FallbackTurn(b, nil)
	events.FallbackTurn(b, errors.New("down"))
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	var series []string
	for _, line := range strings.Split(string(body), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			series = append(series, line)
		}
	}
	want := []string{
		`botrelay_bot_fallback_turns_total{bot_id="b1",result="error"} 1`,
		`botrelay_bot_fallback_turns_total{bot_id="b1",result="ok"} 2`,
		`botrelay_bot_handbacks_total{bot_id="b1",why="interruption"} 2`,
		`botrelay_bot_handbacks_total{bot_id="b1",why="stop"} 50`,
	}
	if strings.Join(series, "\n") != strings.Join(want, "\n") {
		t.Fatalf("metrics:\n%s\nwant:\n%s", strings.Join(series, "\n"), strings.Join(want, "\n"))
	}
}
