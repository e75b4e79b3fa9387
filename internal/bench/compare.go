package bench

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// The SQLite comparison (--compare-sqlite): issue 20's PostgreSQL target is
// one node on PostgreSQL at 60 % or more of the same node's throughput on
// SQLite. With CompareSQLite the bench runs the same load on SQLite first,
// on a server of its own with a fresh data folder, then on --database, and
// reports the second as a share of the first. Both run in one invocation,
// one after the other, so both see the same machine.

// PostgresTarget is the share of SQLite's throughput one node on
// PostgreSQL must reach (issue 20).
const PostgresTarget = 0.60

// Comparison is the SQLite run of a --compare-sqlite bench.
type Comparison struct {
	// Store describes the SQLite store of that run.
	Store string `json:"store"`
	// SQLite is the load on SQLite (Botrelay is the same load on
	// PostgreSQL).
	SQLite *Phase `json:"sqlite"`
	// PostgresRatio is Botrelay's messages per second over SQLite's;
	// Target the share to reach, and Met whether it did.
	PostgresRatio float64 `json:"postgresRatio"`
	Target        float64 `json:"target"`
	Met           bool    `json:"met"`
}

// checkCompare refuses a comparison the bench cannot run.
func (o *Options) checkCompare() error {
	switch {
	case !o.CompareSQLite:
		return nil
	case o.Database == "":
		return errors.New("--compare-sqlite compares SQLite with PostgreSQL: add --database postgres://…")
	case o.Nodes > 1:
		return errors.New("--compare-sqlite compares one node on each store: leave out --nodes")
	case o.Rate > 0:
		return errors.New("--compare-sqlite compares throughput, which a fixed --rate caps: leave out --rate")
	}
	return nil
}

// runSQLiteFirst runs the load on SQLite, on a server of its own, and
// keeps it in r.Compare; the floor, the readiness restarts and the CPU
// profile are the PostgreSQL run's only.
func runSQLiteFirst(ctx context.Context, o *Options, r *Report) error {
	so := *o
	so.Database, so.Data, so.Floor, so.Readiness, so.CPUProfile = "", "", false, 0, ""
	o.logf("comparison: the same load on SQLite first")
	sr := &Report{Config: Config{Store: "sqlite (WAL, synchronous=FULL)"}}
	if err := runBotrelay(ctx, &so, sr); err != nil {
		return fmt.Errorf("the SQLite run: %w", err)
	}
	r.Compare = &Comparison{Store: sr.Config.Store, SQLite: sr.Botrelay, Target: PostgresTarget}
	o.logf("comparison: now on PostgreSQL")
	return nil
}

// compare fills in the ratio once the PostgreSQL run is done.
func (c *Comparison) compare(pg *Phase) {
	if c == nil || pg == nil || c.SQLite == nil || c.SQLite.MessagesPerSecond <= 0 {
		return
	}
	c.PostgresRatio = pg.MessagesPerSecond / c.SQLite.MessagesPerSecond
	c.Met = c.PostgresRatio >= c.Target
}

// write adds the SQLite run and the ratio to the summary.
func (c *Comparison) write(b *strings.Builder, phase func(name string, p *Phase)) {
	if c == nil || c.SQLite == nil {
		return
	}
	phase("sqlite", c.SQLite)
	writeCosts(b, c.SQLite)
	met := "below"
	if c.Met {
		met = "meets"
	}
	fmt.Fprintf(b, "postgres  %.1f%% of SQLite's throughput on the same node (%s the target of %.0f%%)\n",
		c.PostgresRatio*100, met, c.Target*100)
}
