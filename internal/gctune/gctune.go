// Package gctune gives a small heap room to grow between garbage
// collections.
//
// Go collects when the heap has grown by GOGC percent (100) over what the
// last collection kept. A relay's live heap is small (tens of MiB) while it
// allocates hundreds of MiB a second per message it moves, so with the
// default it collects many times a second and the collector was a tenth of
// the server's CPU at saturation (BENCHMARKS.md). The tuner raises the
// percentage while the live heap is small, so that each cycle has at least
// MinRoom to allocate into, and returns to 100 as the live heap grows
// (with 1,000,000 open conversations the heap is gigabytes and the default
// applies). An operator's GOGC or GOMEMLIMIT is left alone.
package gctune

import (
	"context"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// MinRoom is the least the heap may grow between two collections.
const MinRoom = 128 << 20

// maxPercent bounds the percentage for a nearly empty heap.
const maxPercent = 800

// Percent is the GOGC percentage that gives a live heap of live bytes at
// least MinRoom to grow, between 100 and maxPercent.
func Percent(live uint64) int {
	if live == 0 {
		return maxPercent
	}
	p := int(MinRoom * 100 / live)
	return min(max(p, 100), maxPercent)
}

// Start tunes the collector until ctx ends, unless getenv has GOGC or
// GOMEMLIMIT set. It reads the live heap after every collection (and every
// interval) and changes the percentage only when it moved by a quarter (or returns to the default)
// (each change briefly stops the world). Tuning after every collection
// matters: when the live heap jumps (a flood of password checks holds
// tens of MiB each), the next goal is set from the new live heap at the
// default percentage instead of multiplying it by the small heap's.
func Start(ctx context.Context, getenv func(string) string, interval time.Duration) {
	if getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
		return
	}
	t := &tuner{sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/gogc:percent"}}}
	t.apply()
	t.armAfterGC()
	go func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				t.mu.Lock()
				t.stopped = true
				debug.SetGCPercent(100)
				t.mu.Unlock()
				return
			case <-tick.C:
				t.apply()
			}
		}
	}()
}

type tuner struct {
	mu      sync.Mutex
	stopped bool
	sample  []metrics.Sample // the live heap and the percentage in force
}

// apply compares the percentage the live heap needs with the one in force
// (not the one the tuner last set: a tuner stopping elsewhere in the
// process, as tests start and stop them, resets it to the default).
func (t *tuner) apply() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	metrics.Read(t.sample)
	if t.sample[0].Value.Kind() != metrics.KindUint64 || t.sample[1].Value.Kind() != metrics.KindUint64 {
		return
	}
	p, current := Percent(t.sample[0].Value.Uint64()), int(t.sample[1].Value.Uint64())
	if p != current && (p == 100 || p*4 < current*3 || p*4 > current*5) {
		debug.SetGCPercent(p) // the default exactly; others once they moved by a quarter
	}
}

// gcSentinel is garbage whose finalizer runs once per collection.
type gcSentinel struct{ _ [32]byte } // not a tiny allocation: finalizers run

// armAfterGC runs apply after the next collection, and again after each
// one until the tuner stops.
func (t *tuner) armAfterGC() {
	s := &gcSentinel{}
	runtime.SetFinalizer(s, func(*gcSentinel) {
		t.apply()
		t.mu.Lock()
		stopped := t.stopped
		t.mu.Unlock()
		if !stopped {
			t.armAfterGC()
		}
	})
}
