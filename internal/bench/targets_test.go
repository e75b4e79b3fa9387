package bench

import (
	"strings"
	"testing"
)

// TestTargetsJudgeWhatTheRunMeasured: a run is judged only on the targets
// its configuration measures, and the summary says which run judges the
// others.
func TestTargetsJudgeWhatTheRunMeasured(t *testing.T) {
	met := func(ts []Target, name string) string {
		for _, x := range ts {
			if x.Name == name {
				switch {
				case x.Met == nil:
					return "unjudged"
				case *x.Met:
					return "met"
				}
				return "missed"
			}
		}
		return "absent"
	}
	unbounded := &Report{Config: Config{Store: "sqlite (WAL, synchronous=FULL)"},
		Botrelay: &Phase{MessagesPerSecond: 5200}, FloorRatio: 0.49,
		AddedLatency: &Latency{P99: 1},
		Idle:         &Idle{Conversations: 1000, RSSBeforeBytes: 50 << 20, RSSAfterBytes: 54 << 20, RSSPerConversationBytes: 4000},
		Readiness:    &Readiness{OpenConversations: 1100, RunsMs: []float64{80}, MaxMs: 80}}
	ts := unbounded.judge()
	for name, want := range map[string]string{"throughput": "met", "floor ratio": "missed",
		"added p99 at 1,000 msg/s": "unjudged", "1,000,000 idle conversations": "unjudged", "ready with 1,000,000 open": "unjudged"} {
		if got := met(ts, name); got != want {
			t.Errorf("unbounded run, %s: %s, want %s", name, got, want)
		}
	}
	var b strings.Builder
	writeTargets(&b, ts)
	for _, want := range []string{"run with --rate 1000", "projected 3.77 GiB", "5200 msg/s", "49.0 %"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}

	fixed := &Report{Config: Config{Store: "postgresql (synchronous_commit=on, fsync=on)", Rate: 1000},
		Botrelay: &Phase{MessagesPerSecond: 1000}, AddedLatency: &Latency{P99: 5.5},
		Idle:      &Idle{Conversations: 1_000_000, RSSAfterBytes: 3 << 30},
		Readiness: &Readiness{OpenConversations: 1_000_000, RunsMs: []float64{1200}, MaxMs: 1200}}
	ts = fixed.judge()
	for name, want := range map[string]string{"throughput": "unjudged", "added p99 at 1,000 msg/s": "missed",
		"1,000,000 idle conversations": "met", "ready with 1,000,000 open": "missed"} {
		if got := met(ts, name); got != want {
			t.Errorf("fixed-rate run, %s: %s, want %s", name, got, want)
		}
	}

	// A node restarted with a million replicated conversations is judged
	// on its own figures, not on the ones opened before the copy.
	cloned := &Report{Config: Config{Store: "sqlite (WAL, synchronous=FULL)"}, Botrelay: &Phase{MessagesPerSecond: 3000},
		Idle:   &Idle{Conversations: 1000, RSSBeforeBytes: 100 << 20, RSSAfterBytes: 120 << 20, RSSPerConversationBytes: 8000},
		Cloned: &Cloned{Conversations: 1_000_000, RSSBytes: 2271 << 20, RawRSSBytes: 5086 << 20, ReadyMs: 59, OnlineMs: 97447, RSSPerConversationByte: 2263}}
	ts = cloned.judge()
	for name, want := range map[string]string{"1,000,000 idle conversations": "met", "ready with 1,000,000 open": "met"} {
		if got := met(ts, name); got != want {
			t.Errorf("cloned run, %s: %s, want %s", name, got, want)
		}
	}
	b.Reset()
	writeTargets(&b, ts)
	for _, want := range []string{"2271.0 MiB after GC (5086.0 MiB before) with 1000000 restarted", "59 ms", "every bot ONLINE after 97.4 s"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("cloned summary lacks %q:\n%s", want, b.String())
		}
	}
	cloned.Cloned.RSSBytes = 4300 << 20
	if got := met(cloned.judge(), "1,000,000 idle conversations"); got != "missed" {
		t.Errorf("4,300 MiB restarted: %s, want missed", got)
	}

	pg := &Report{Config: Config{Store: "postgresql 15 (synchronous_commit=on, fsync=on)"}, Botrelay: &Phase{MessagesPerSecond: 1300},
		Compare: &Comparison{SQLite: &Phase{MessagesPerSecond: 2000}}}
	pg.Compare.compare(pg.Botrelay)
	if got := met(pg.judge(), "PostgreSQL against SQLite"); got != "met" {
		t.Errorf("PostgreSQL at 65 %% of SQLite: %s, want met", got)
	}
	if got := met(unbounded.judge(), "PostgreSQL against SQLite"); got != "unjudged" {
		t.Errorf("a SQLite run judged the PostgreSQL target: %s", got)
	}

	// A store that does not fsync every commit never meets the throughput target.
	lax := &Report{Config: Config{Store: "postgresql (synchronous_commit=off)"}, Botrelay: &Phase{MessagesPerSecond: 9000}}
	if got := met(lax.judge(), "throughput"); got != "missed" {
		t.Errorf("throughput without durable commits: %s, want missed", got)
	}
}
