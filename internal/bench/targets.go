package bench

import (
	"fmt"
	"strings"
)

// The published targets (issue 20; BENCHMARKS.md "Targets"). A run judges
// each target its configuration measures and says, for the others, which
// run would measure them.
const (
	targetMsgPerSecond   = 5000
	targetFloorRatio     = 0.50
	targetLatencyRate    = 1000 // msg/s the added-p99 target is measured at
	targetAddedP99Ms     = 5.0
	targetIdleOpen       = 1_000_000
	targetIdleRSSBytes   = 4 << 30
	targetReadyMs        = 1000
	perConversationLimit = float64(targetIdleRSSBytes) / targetIdleOpen
)

// Target is one published target as a run measured it.
type Target struct {
	Name string `json:"name"`
	Goal string `json:"goal"`
	// Measured is the figure the run measured, with its unit; empty when
	// the run's configuration does not measure it (Note says which does).
	Measured string `json:"measured,omitempty"`
	// Met is set only for a target the run measured.
	Met  *bool  `json:"met,omitempty"`
	Note string `json:"note,omitempty"`
}

func judged(name, goal, measured string, met bool, note string) Target {
	return Target{Name: name, Goal: goal, Measured: measured, Met: &met, Note: note}
}

func unmeasured(name, goal, note string) Target {
	return Target{Name: name, Goal: goal, Note: note}
}

// judge measures the report against the published targets.
func (r *Report) judge() []Target {
	c := r.Config
	var ts []Target
	b := r.Botrelay
	unbounded := c.Rate <= 0
	durable := strings.Contains(c.Store, "synchronous=FULL") || strings.Contains(c.Store, "synchronous_commit=on")
	const tput = "throughput"
	switch {
	case b == nil || !unbounded:
		ts = append(ts, unmeasured(tput, "≥ 5,000 msg/s end to end, every write durable", "run with --rate 0 (unbounded)"))
	default:
		note := ""
		if !durable {
			note = "the store does not fsync every commit here; the target needs it"
		}
		ts = append(ts, judged(tput, "≥ 5,000 msg/s end to end, every write durable",
			fmt.Sprintf("%.0f msg/s", b.MessagesPerSecond), b.MessagesPerSecond >= targetMsgPerSecond && durable, note))
	}
	const floor = "floor ratio"
	if r.FloorRatio > 0 {
		ts = append(ts, judged(floor, "≥ 50 % of the floor's msg/s in the same run",
			fmt.Sprintf("%.1f %%", r.FloorRatio*100), r.FloorRatio >= targetFloorRatio, ""))
	} else {
		ts = append(ts, unmeasured(floor, "≥ 50 % of the floor's msg/s in the same run", "run unbounded with --floor"))
	}
	const lat = "added p99 at 1,000 msg/s"
	if a := r.AddedLatency; a != nil && c.Rate == targetLatencyRate {
		ts = append(ts, judged(lat, "≤ 5 ms over the floor", fmt.Sprintf("%.2f ms", a.P99), a.P99 <= targetAddedP99Ms, ""))
	} else {
		ts = append(ts, unmeasured(lat, "≤ 5 ms over the floor", "run with --rate 1000 and --floor"))
	}
	ts = append(ts, r.idleTargets()...)
	const pg, pgGoal = "PostgreSQL against SQLite", "≥ 60 % of SQLite's msg/s on one node"
	if c := r.Compare; c != nil && c.PostgresRatio > 0 {
		ts = append(ts, judged(pg, pgGoal, fmt.Sprintf("%.1f %%", c.PostgresRatio*100), c.PostgresRatio >= PostgresTarget && durable, ""))
	} else {
		ts = append(ts, unmeasured(pg, pgGoal, "run with --database postgres://… --compare-sqlite"))
	}
	return ts
}

// idleTargets judges memory and readiness with 1,000,000 open
// conversations; a smaller run reports its figure and the projection.
func (r *Report) idleTargets() []Target {
	const mem, ready = "1,000,000 idle conversations", "ready with 1,000,000 open"
	memGoal, readyGoal := "≤ 4 GiB RSS on one node", "/healthz 200 ≤ 1 s"
	var ts []Target
	if c := r.Cloned; c != nil && c.Conversations >= targetIdleOpen {
		// A node restarted with them (--idle-clone) is what an operator
		// lives with: judged on it rather than on the conversations opened
		// before the copy.
		return []Target{
			judged(mem, memGoal, fmt.Sprintf("%s after GC (%s before) with %d restarted (%.0f bytes each)",
				mib(c.RSSBytes), mib(c.RawRSSBytes), c.Conversations, c.RSSPerConversationByte), c.RSSBytes <= targetIdleRSSBytes, ""),
			judged(ready, readyGoal, fmt.Sprintf("%.0f ms with %d restarted", c.ReadyMs, c.Conversations), c.ReadyMs <= targetReadyMs,
				fmt.Sprintf("every bot ONLINE after %.1f s", c.OnlineMs/1000)),
		}
	}
	if i := r.Idle; i != nil && i.Conversations > 0 {
		measured := fmt.Sprintf("%s with %d open (%.0f bytes each)", mib(i.RSSAfterBytes), i.Conversations, i.RSSPerConversationBytes)
		if i.Conversations >= targetIdleOpen {
			ts = append(ts, judged(mem, memGoal, measured, i.RSSAfterBytes <= targetIdleRSSBytes, ""))
		} else {
			ts = append(ts, Target{Name: mem, Goal: memGoal, Measured: measured,
				Note: fmt.Sprintf("projected %.2f GiB at 1,000,000 (the target allows %.0f bytes each); run with --idle 1000000 to judge",
					(float64(i.RSSBeforeBytes)+i.RSSPerConversationBytes*targetIdleOpen)/(1<<30), perConversationLimit)})
		}
	} else {
		ts = append(ts, unmeasured(mem, memGoal, "run with --idle 1000000"))
	}
	if rd := r.Readiness; rd != nil && len(rd.RunsMs) > 0 {
		measured := fmt.Sprintf("%.0f ms (max) with %d open", rd.MaxMs, rd.OpenConversations)
		if rd.OpenConversations >= targetIdleOpen {
			ts = append(ts, judged(ready, readyGoal, measured, rd.MaxMs <= targetReadyMs, ""))
		} else {
			ts = append(ts, Target{Name: ready, Goal: readyGoal, Measured: measured, Note: "run with --idle 1000000 to judge"})
		}
	} else {
		ts = append(ts, unmeasured(ready, readyGoal, "run with --readiness 1 or more"))
	}
	return ts
}

// writeTargets writes the targets section of the summary.
func writeTargets(b *strings.Builder, ts []Target) {
	b.WriteString("targets\n")
	for _, t := range ts {
		verdict := "not measured"
		if t.Measured != "" {
			verdict = "not judged"
		}
		if t.Met != nil {
			verdict = "MISSED"
			if *t.Met {
				verdict = "met"
			}
		}
		fmt.Fprintf(b, "  %-28s %-46s %-12s %s", t.Name, t.Goal, verdict, t.Measured)
		if t.Note != "" {
			if t.Measured != "" {
				b.WriteString("; ")
			}
			b.WriteString(t.Note)
		}
		b.WriteString("\n")
	}
}
