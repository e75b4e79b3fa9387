package main

import (
	"bytes"
	"encoding/json"
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
