package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
)

func init() {
	// The bench starts its servers by re-executing the running binary; in
	// tests that is the test binary, which TestMain turns into botrelay.
	benchChildEnv = []string{"BOTRELAY_TEST_EXEC_MAIN=1"}
}

type benchPhase struct {
	Sent, Replied, Lost, TotalSent, TotalReplied, Rejected, Odd int64
	Duplicates, Disconnected                                    int64
	MessagesPerSecond                                           float64
	Latency                                                     struct{ P50, P95, P99, Max float64 } `json:"latencyMs"`
	ServerCPUSeconds                                            float64
	ServerRSSBytes                                              int64
}

type benchReport struct {
	Machine struct {
		CPUs        int
		MemoryBytes int64
	}
	Config struct {
		Vendor    string
		Bots      int
		Consumers int
	}
	Botrelay   *benchPhase
	Floor      *benchPhase
	FloorRatio float64
	Idle       *struct {
		Conversations  int
		RSSAfterBytes  int64 `json:"rssAfterBytes"`
		RSSBeforeBytes int64 `json:"rssBeforeBytes"`
	}
	Readiness *struct {
		OpenConversations int
		RunsMs            []float64
	}
}

func runBench(t *testing.T, args ...string) benchReport {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(append([]string{"bench", "--json", "--quiet", "--settle", "-1s"}, args...), &stdout, &stderr); code != 0 {
		t.Fatalf("bench exited %d: %s", code, stderr.String())
	}
	var r benchReport
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("the report is not JSON: %v\n%s", err, stdout.String())
	}
	return r
}

// checkPhase checks what any load must show: every message sent was
// answered exactly once, nothing was refused, and the figures are
// consistent with each other.
func checkPhase(t *testing.T, name string, p *benchPhase) {
	t.Helper()
	if p == nil {
		t.Fatalf("%s: no figures in the report", name)
	}
	if p.Sent == 0 || p.Replied != p.Sent || p.Lost != 0 || p.TotalReplied != p.TotalSent {
		t.Errorf("%s: sent %d replied %d lost %d (total %d/%d); want every message answered", name, p.Sent, p.Replied, p.Lost, p.TotalSent, p.TotalReplied)
	}
	if p.Rejected != 0 || p.Odd != 0 || p.Duplicates != 0 || p.Disconnected != 0 {
		t.Errorf("%s: %d messages refused, %d unexpected bot texts, %d answers seen twice, %d consumers disconnected",
			name, p.Rejected, p.Odd, p.Duplicates, p.Disconnected)
	}
	if p.MessagesPerSecond <= 0 {
		t.Errorf("%s: %v messages per second", name, p.MessagesPerSecond)
	}
	l := p.Latency
	if !(l.P50 > 0 && l.P50 <= l.P95 && l.P95 <= l.P99 && l.P99 <= l.Max) {
		t.Errorf("%s: latency percentiles out of order: %+v", name, l)
	}
	if p.ServerRSSBytes <= 0 {
		t.Errorf("%s: server RSS %d", name, p.ServerRSSBytes)
	}
}

func TestBenchReport(t *testing.T) {
	t.Parallel()
	r := runBench(t, "--consumers", "3", "--idle", "4", "--warmup", "100ms", "--duration", "500ms", "--readiness", "1")
	checkPhase(t, "botrelay", r.Botrelay)
	checkPhase(t, "floor", r.Floor)
	if r.Machine.CPUs <= 0 || r.Machine.MemoryBytes <= 0 {
		t.Errorf("machine: %+v", r.Machine)
	}
	if r.Config.Vendor != "noop" || r.Config.Bots != 1 || r.Config.Consumers != 3 {
		t.Errorf("config: %+v", r.Config)
	}
	if r.FloorRatio <= 0 {
		t.Errorf("floor ratio %v", r.FloorRatio)
	}
	if r.Idle == nil || r.Idle.Conversations != 4 || r.Idle.RSSAfterBytes <= 0 || r.Idle.RSSBeforeBytes <= 0 {
		t.Errorf("idle: %+v", r.Idle)
	}
	if r.Readiness == nil || r.Readiness.OpenConversations != 7 || len(r.Readiness.RunsMs) != 1 || r.Readiness.RunsMs[0] <= 0 {
		t.Errorf("readiness: %+v", r.Readiness)
	}
}

func TestBenchFunctionVendorAtFixedRate(t *testing.T) {
	t.Parallel()
	r := runBench(t, "--vendor", "function", "--bots", "2", "--consumers", "4", "--rate", "40",
		"--warmup", "100ms", "--duration", "500ms", "--floor=false", "--readiness", "0")
	checkPhase(t, "botrelay", r.Botrelay)
	if r.Floor != nil || r.Readiness != nil || r.Idle != nil {
		t.Errorf("floor, readiness or idle figures that were not asked for: %+v %+v %+v", r.Floor, r.Readiness, r.Idle)
	}
}

func TestBenchRejectsUnknownVendor(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"bench", "--vendor", "nope"}, &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d, want 1; stderr %q", code, stderr.String())
	}
	if msg := stderr.String(); strings.Count(msg, "\n") != 1 || !strings.Contains(msg, `"nope"`) {
		t.Errorf("stderr %q; want one line naming the vendor", msg)
	}
}

func TestBenchRefusesClusterWithoutPostgres(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--nodes", "3"}, []string{"--nodes", "PostgreSQL", "--database postgres://"}},
		{[]string{"--database", "sqlite:/tmp/x.db"}, []string{"--database", "postgres://", `"sqlite:/tmp/x.db"`}},
		{[]string{"--nodes", "3", "--bots", "2", "--database", "postgres://u@127.0.0.1:1/db"}, []string{"--nodes 3", "--bots 2"}},
		{[]string{"--server", "http://127.0.0.1:1", "--database", "postgres://u@127.0.0.1:1/db"}, []string{"--server"}},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(append([]string{"bench"}, tc.args...), &stdout, &stderr); code != 1 {
			t.Errorf("%v: exit %d, want 1; stderr %q", tc.args, code, stderr.String())
			continue
		}
		msg := stderr.String()
		if strings.Count(msg, "\n") != 1 || stdout.Len() != 0 {
			t.Errorf("%v: stderr %q, stdout %q; want one line on stderr", tc.args, msg, stdout.String())
		}
		for _, w := range tc.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%v: stderr %q does not say %q", tc.args, msg, w)
			}
		}
	}
}

// benchCosts are the per-node and database figures of a report.
type benchCosts struct {
	Config struct {
		Store  string
		Nodes  int
		Schema string
	}
	Botrelay struct {
		Nodes []struct {
			ID                  string
			Router              bool
			Bots, Consumers     int
			CPUSeconds          float64
			CPUPerMessageMicros float64
			RSSBytes            int64
			StoreCommits        int64
		}
		Database *struct {
			Kind                                     string
			Commits, StoreCommits, StoreWrites       int64
			CommitsPerMessage, StoreWritesPerMessage float64
		}
	}
}

func runBenchCosts(t *testing.T, args ...string) (benchReport, benchCosts) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(append([]string{"bench", "--json", "--quiet", "--settle", "-1s", "--floor=false", "--readiness", "0",
		"--warmup", "200ms", "--duration", "1s"}, args...), &stdout, &stderr); code != 0 {
		t.Fatalf("bench exited %d: %s", code, stderr.String())
	}
	var r benchReport
	var c benchCosts
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("the report is not JSON: %v\n%s", err, stdout.String())
	}
	json.Unmarshal(stdout.Bytes(), &c)
	checkPhase(t, "botrelay", r.Botrelay)
	return r, c
}

// checkCosts checks the database figures: every answer took at least one
// committed write (the consumer's message and the bot's answer are stored).
func checkCosts(t *testing.T, r benchReport, c benchCosts, kind string, nodes int) {
	t.Helper()
	d := c.Botrelay.Database
	if d == nil || d.Kind != kind || d.Commits <= 0 || d.StoreCommits <= 0 || d.CommitsPerMessage <= 0 || d.StoreWritesPerMessage < 1 {
		t.Errorf("database figures %+v; want %s with commits and at least one write per message", d, kind)
	}
	if len(c.Botrelay.Nodes) != nodes {
		t.Fatalf("%d nodes in the report, want %d: %+v", len(c.Botrelay.Nodes), nodes, c.Botrelay.Nodes)
	}
	var sum float64
	for _, n := range c.Botrelay.Nodes {
		if n.CPUSeconds <= 0 || n.CPUPerMessageMicros <= 0 || n.RSSBytes <= 0 || n.Bots < 1 || n.Consumers < 1 {
			t.Errorf("node %+v: want CPU, memory, a bot and consumers", n)
		}
		sum += n.CPUSeconds
	}
	// The nodes' CPU adds up to the servers' (sampled a moment apart).
	if total := r.Botrelay.ServerCPUSeconds; math.Abs(sum-total) > 0.05+total/10 {
		t.Errorf("the nodes' CPU adds up to %.2fs, the servers' to %.2fs", sum, total)
	}
}

func TestBenchSQLiteCommits(t *testing.T) {
	t.Parallel()
	r, c := runBenchCosts(t, "--consumers", "3")
	checkCosts(t, r, c, "sqlite", 1)
	if n := c.Botrelay.Nodes[0]; n.ID != "single" || n.Router || n.Bots != 1 || n.Consumers != 3 {
		t.Errorf("node %+v; want the single node with the bot and the 3 consumers", n)
	}
}

// benchPostgres is BOTRELAY_TEST_POSTGRES and a connection to it, or skips.
func benchPostgres(t *testing.T) (string, *sql.DB) {
	pg := os.Getenv("BOTRELAY_TEST_POSTGRES")
	if pg == "" {
		t.Skip("BOTRELAY_TEST_POSTGRES is not set; .ci/run sets it")
	}
	db, err := sql.Open("pgx", pg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return pg, db
}

func schemaExists(t *testing.T, db *sql.DB, schema string) bool {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1", schema).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func TestBenchPostgres(t *testing.T) {
	t.Parallel()
	pg, db := benchPostgres(t)
	r, c := runBenchCosts(t, "--consumers", "3", "--database", pg)
	checkCosts(t, r, c, "postgresql", 1)
	if !strings.HasPrefix(c.Config.Store, "postgresql ") || !strings.Contains(c.Config.Store, "synchronous_commit=") {
		t.Errorf("store %q; want PostgreSQL and its commit settings", c.Config.Store)
	}
	if c.Config.Schema == "" || schemaExists(t, db, c.Config.Schema) {
		t.Errorf("schema %q of the run is still there (or unnamed); want it dropped", c.Config.Schema)
	}
	// --keep-data keeps the schema, with the run's bots in it.
	_, c = runBenchCosts(t, "--consumers", "2", "--database", pg, "--keep-data")
	t.Cleanup(func() { db.Exec("DROP SCHEMA " + c.Config.Schema + " CASCADE") })
	var bots int
	if err := db.QueryRow("SELECT count(*) FROM " + c.Config.Schema + ".bots WHERE name LIKE 'bench-%'").Scan(&bots); err != nil || bots != 1 {
		t.Errorf("kept schema %q: %d bots (%v); want the run's bot", c.Config.Schema, bots, err)
	}
}

func TestBenchCluster(t *testing.T) {
	t.Parallel()
	pg, db := benchPostgres(t)
	r, c := runBenchCosts(t, "--nodes", "2", "--bots", "2", "--consumers", "5", "--database", pg)
	checkCosts(t, r, c, "postgresql", 2)
	if c.Config.Nodes != 2 || r.Config.Bots != 2 {
		t.Errorf("config %+v %+v; want 2 nodes and 2 bots", c.Config, r.Config)
	}
	routers, consumers := 0, 0
	for i, n := range c.Botrelay.Nodes {
		if want := fmt.Sprintf("n%d", i+1); n.ID != want || n.Bots != 1 {
			t.Errorf("node %d: %+v; want %s running one bot", i, n, want)
		}
		if n.Router {
			routers++
		}
		consumers += n.Consumers
	}
	if routers != 1 || consumers != 5 || c.Botrelay.Nodes[0].Consumers != 3 {
		t.Errorf("nodes %+v; want one router and the 5 consumers spread 3 and 2", c.Botrelay.Nodes)
	}
	if schemaExists(t, db, c.Config.Schema) {
		t.Errorf("schema %q is still there", c.Config.Schema)
	}
}
