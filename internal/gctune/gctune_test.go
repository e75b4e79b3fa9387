package gctune

import (
	"context"
	"runtime/debug"
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
	Start(ctx, func(string) string { return "" }, time.Hour)
	if got := debug.SetGCPercent(100); got <= 100 {
		t.Fatalf("a test binary's small heap kept the default percentage (%d)", got)
	}
}
