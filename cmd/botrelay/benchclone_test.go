package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"testing"
)

// TestBenchIdleClone: --idle-clone replicates the idle conversations in the
// stopped server's store, restarts the server on them and reports it; the
// store then holds every copy as an open conversation of one of the bots,
// with the rows of its template, and the restarted server carries the live
// load with every message answered once.
func TestBenchIdleClone(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	var stdout, stderr bytes.Buffer
	args := []string{"bench", "--json", "--quiet", "--settle", "-1s", "--data", data, "--keep-data", "--bots", "2", "--consumers", "2",
		"--idle", "3", "--idle-clone", "40", "--warmup", "100ms", "--duration", "500ms", "--readiness", "0", "--floor=false"}
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("bench exited %d: %s", code, stderr.String())
	}
	var r struct {
		Botrelay *benchPhase
		Cloned   *struct {
			Conversations, Templates, MaxPerBot, FailedHistoryReads int
			ReadyMs, OnlineMs, LoadedMs, QuietMs                    float64
			RSSBytes                                                int64 `json:"rssBytes"`
		}
	}
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		t.Fatalf("the report is not JSON: %v\n%s", err, stdout.String())
	}
	checkPhase(t, "botrelay after the restart", r.Botrelay)
	c := r.Cloned
	if c == nil || c.Conversations != 40 || c.Templates != 3 || c.FailedHistoryReads != 0 || c.RSSBytes <= 0 ||
		!(c.ReadyMs > 0 && c.OnlineMs >= c.ReadyMs && c.LoadedMs > 0 && c.QuietMs >= c.LoadedMs) {
		t.Fatalf("cloned: %+v", c)
	}
	db, err := sql.Open("sqlite", filepath.Join(data, "botrelay.db.cloned"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	count := func(q string) int {
		var n int
		if err := db.QueryRow(q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	for q, want := range map[string]int{
		"SELECT count(*) FROM conversations WHERE state = 'OPEN'":                                 40,
		"SELECT count(DISTINCT consumer_id) FROM conversations WHERE state = 'OPEN'":              40,
		"SELECT count(*) FROM conversation_dialogs WHERE state = 'OPEN' AND id = conversation_id": 40,
		"SELECT count(*) FROM conversation_participants":                                          80,
		"SELECT count(*) FROM bot_conversations WHERE open":                                       40,
		"SELECT count(*) FROM bot_outcomes":                                                       40,
		"SELECT count(DISTINCT bot_id) FROM bot_conversations WHERE open":                         2,
		`SELECT count(*) FROM bot_conversations b JOIN conversation_participants p ON p.conversation_id = b.conversation_id
			JOIN bots ON bots.id = b.bot_id WHERE b.open AND p.role = 'ASSIGNED_AGENT' AND p.user_id = bots.user_id`: 40,
	} {
		if got := count(q); got != want {
			t.Errorf("%s = %d, want %d", q, got, want)
		}
	}
	if c.MaxPerBot != count("SELECT max(n) FROM (SELECT count(*) AS n FROM bot_conversations WHERE open GROUP BY bot_id) t") {
		t.Errorf("the report's most conversations on one bot %d differs from the store's", c.MaxPerBot)
	}
}
