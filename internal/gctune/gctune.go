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
	"runtime/debug"
	"runtime/metrics"
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
// GOMEMLIMIT set. It checks the live heap every interval and changes the
// percentage only when it moved by a quarter (each change briefly stops
// the world).
func Start(ctx context.Context, getenv func(string) string, interval time.Duration) {
	if getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
		return
	}
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	current := 100
	apply := func() {
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return
		}
		p := Percent(sample[0].Value.Uint64())
		if p*4 < current*3 || p*4 > current*5 {
			debug.SetGCPercent(p)
			current = p
		}
	}
	apply()
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				debug.SetGCPercent(100)
				return
			case <-t.C:
				apply()
			}
		}
	}()
}
