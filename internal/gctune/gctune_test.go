package gctune

import (
	"context"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercentGivesSmallHeapsRoomAndLargeHeapsTheDefault(t *testing.T) {
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, maxPercent},
		{1 << 20, maxPercent}, // 1 MiB live: capped
		{32 << 20, 400},       // 32 MiB live: 128 MiB of room
		{64 << 20, 200},       // 64 MiB: 128 MiB of room
		{128 << 20, 100},      // from here on the default
		{3 << 30, 100},        // 1,000,000 open conversations: never more than the default
	} {
		if got := Percent(c.live); got != c.want {
			t.Errorf("Percent(%d MiB) = %d, want %d", c.live>>20, got, c.want)
		}
	}
}

func TestStartLeavesAnOperatorsSettingAlone(t *testing.T) {
	defer debug.SetGCPercent(100)
	debug.SetGCPercent(100)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	Start(ctx, func(k string) string {
		if k == "GOGC" {
			return "100"
		}
		return ""
	}, time.Hour)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("with GOGC set the percentage changed to %d", got)
	}
	runtime.GC() // the live heap as it is now, not as an earlier test left it
	Start(ctx, func(string) string { return "" }, time.Hour)
	if got := debug.SetGCPercent(100); got <= 100 {
		t.Fatalf("a test binary's small heap kept the default percentage (%d)", got)
	}
}

// TestPercentFollowsTheLiveHeapAfterEachCollection: when the live heap
// jumps, the next collection brings the percentage back to the default,
// so the jump is not multiplied by a small heap's percentage.
func TestPercentFollowsTheLiveHeapAfterEachCollection(t *testing.T) {
	defer debug.SetGCPercent(100)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	Start(ctx, func(string) string { return "" }, time.Hour)
	gogc := func() uint64 {
		s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	waitFor := func(what string, ok func() bool) {
		deadline := time.Now().Add(10 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: GOGC is %d", what, gogc())
			}
			runtime.GC()
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor("a small heap gets room", func() bool { return gogc() > 100 })
	held := make([][]byte, 0, 64)
	for range 64 {
		held = append(held, make([]byte, 4<<20)) // 256 MiB live
	}
	waitFor("a large live heap gets the default", func() bool { return gogc() == 100 })
	runtime.KeepAlive(held)
	waitFor("room again once the heap is small", func() bool { return gogc() > 100 })
}
