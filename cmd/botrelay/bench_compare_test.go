package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchCompareSQLite: --compare-sqlite runs the same load on SQLite,
// then on PostgreSQL, and reports PostgreSQL's throughput as a share of
// SQLite's, in the JSON report and in the summary.
func TestBenchCompareSQLite(t *testing.T) {
	t.Parallel()
	pg, db := benchPostgres(t)
	out := filepath.Join(t.TempDir(), "report.json")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"bench", "--quiet", "--settle", "-1s", "--floor=false", "--readiness", "0", "--warmup", "200ms",
		"--duration", "1s", "--consumers", "3", "--database", pg, "--compare-sqlite", "--out", out}, &stdout, &stderr); code != 0 {
		t.Fatalf("bench exited %d: %s", code, stderr.String())
	}
	js, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var r benchReport
	var c struct {
		Config  struct{ Store, Schema string }
		Compare *struct {
			Store         string
			SQLite        *benchPhase
			PostgresRatio float64
			Target        float64
			Met           bool
		} `json:"sqliteComparison"`
	}
	if err := json.Unmarshal(js, &r); err != nil {
		t.Fatalf("the report is not JSON: %v\n%s", err, js)
	}
	json.Unmarshal(js, &c)
	checkPhase(t, "botrelay", r.Botrelay)
	if !strings.HasPrefix(c.Config.Store, "postgresql ") {
		t.Errorf("store %q; want the main run on PostgreSQL", c.Config.Store)
	}
	cmp := c.Compare
	if cmp == nil {
		t.Fatalf("no sqliteComparison in the report:\n%s", js)
	}
	checkPhase(t, "sqlite", cmp.SQLite)
	if !strings.HasPrefix(cmp.Store, "sqlite") {
		t.Errorf("comparison store %q; want SQLite", cmp.Store)
	}
	want := r.Botrelay.MessagesPerSecond / cmp.SQLite.MessagesPerSecond
	if math.Abs(cmp.PostgresRatio-want) > 1e-9 || cmp.Target != 0.6 || cmp.Met != (want >= 0.6) {
		t.Errorf("ratio %v target %v met %v; want %v of 0.6 (%.0f over %.0f msg/s)", cmp.PostgresRatio, cmp.Target, cmp.Met,
			want, r.Botrelay.MessagesPerSecond, cmp.SQLite.MessagesPerSecond)
	}
	sum := stdout.String()
	line := fmt.Sprintf("postgres  %.1f%% of SQLite's throughput on the same node", want*100)
	if !strings.Contains(sum, line) || !strings.Contains(sum, "\nsqlite ") {
		t.Errorf("summary does not show the SQLite run and %q:\n%s", line, sum)
	}
	if schemaExists(t, db, c.Config.Schema) {
		t.Errorf("schema %q of the run is still there", c.Config.Schema)
	}
}

func TestBenchCompareSQLiteRefuses(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--compare-sqlite"}, "--database postgres://"},
		{[]string{"--compare-sqlite", "--database", "postgres://u@127.0.0.1:1/db", "--nodes", "2", "--bots", "2"}, "--nodes"},
		{[]string{"--compare-sqlite", "--database", "postgres://u@127.0.0.1:1/db", "--rate", "100"}, "--rate"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(append([]string{"bench"}, tc.args...), &stdout, &stderr); code != 1 {
			t.Errorf("%v: exit %d, want 1; stderr %q", tc.args, code, stderr.String())
			continue
		}
		if msg := stderr.String(); strings.Count(msg, "\n") != 1 || !strings.Contains(msg, tc.want) || stdout.Len() != 0 {
			t.Errorf("%v: stderr %q; want one line saying %q", tc.args, msg, tc.want)
		}
	}
}
