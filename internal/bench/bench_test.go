package bench

import (
	"testing"
	"time"
)

func TestLatencyPercentiles(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	l := latency(ds)
	if l.P50 != 50 || l.P95 != 95 || l.P99 != 99 || l.Max != 100 || l.Mean != 50.5 {
		t.Errorf("latency = %+v; want p50 50, p95 95, p99 99, max 100, mean 50.5", l)
	}
	if (latency(nil) != Latency{}) {
		t.Error("no samples should give zero figures")
	}
	if l := latency([]time.Duration{3 * time.Millisecond}); l.P50 != 3 || l.P99 != 3 || l.Max != 3 {
		t.Errorf("one sample: %+v", l)
	}
}
