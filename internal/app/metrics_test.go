package app_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/botrelay/botrelay/internal/testrig"
)

// scrape reads /metrics into series → value; a series is written as the
// exposition format does, labels sorted by name.
func scrape(t *testing.T, base string) map[string]float64 {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// series names one series: name{k="v",…} with the labels sorted.
func series(name string, kv ...string) string {
	type pair struct{ k, v string }
	var ps []pair
	for i := 0; i+1 < len(kv); i += 2 {
		ps = append(ps, pair{kv[i], kv[i+1]})
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].k < ps[j].k })
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = fmt.Sprintf("%s=%q", p.k, p.v)
	}
	if len(parts) == 0 {
		return name
	}
	return name + "{" + strings.Join(parts, ",") + "}"
}

// TestOperatorMetrics runs the real server, starts a function bot "Echo"
// on its own skill, has one consumer chat with it (a turn answered) and a
// second one break it (the function throws: a failed turn, an escalation
// to skill human, where no agent is online), and scrapes /metrics: the
// per-bot series (info, state, open conversations, turns by result,
// escalations by code, vendor latency), the hub's (connections by side,
// open and waiting conversations, rings, oldest wait) and the store's
// (commit time and writes per commit) have the values this traffic gives.
func TestOperatorMetrics(t *testing.T) {
	const password = "Metrics-pass-42"
	base, _ := startServer(t, password)
	api := testrig.LoginAPI(t, base, "admin", password)

	api.Do(http.MethodPost, "/api/v1/skills", map[string]any{"name": "echo"}, http.StatusCreated, nil)
	var user struct {
		User struct {
			ID json.Number `json:"id"`
		} `json:"user"`
	}
	api.Do(http.MethodPost, "/api/v1/users", map[string]any{"type": "BOT", "loginName": "echo-bot", "profileId": api.ID("/api/v1/profiles", "Agent"),
		"messagingSlots": 10, "skillIds": []json.Number{api.ID("/api/v1/skills", "echo")}}, http.StatusCreated, &user)
	var bot struct {
		ID string `json:"id"`
	}
	code := `function lambda(input, callback) {
  if (input.payload.message === "fail") { throw new Error("broken on purpose"); }
  callback(null, { messages: ["Echo: " + input.payload.message] });
}`
	api.Do(http.MethodPost, "/api/v1/bots", map[string]any{"name": "Echo", "vendor": "function", "userId": user.User.ID,
		"settings": map[string]any{"vendor": map[string]any{"code": code},
			"errorHandling": map[string]any{"escalationSkill": "human", "messageToConsumer": "Let me get you a human."}}},
		http.StatusCreated, &bot)
	api.Do(http.MethodPost, "/api/v1/bots/"+bot.ID+"/start", nil, http.StatusAccepted, nil)
	testrig.Eventually(t, 20*time.Second, "Echo online", func() bool {
		var st struct {
			State string `json:"state"`
		}
		api.Do(http.MethodGet, "/api/v1/bots/"+bot.ID+"/status", nil, http.StatusOK, &st)
		return st.State == "ONLINE"
	})
	var demo string
	var bots []struct{ ID, Name string }
	api.Do(http.MethodGet, "/api/v1/bots", nil, http.StatusOK, &bots)
	for _, b := range bots {
		if b.Name == "Demo bot" {
			demo = b.ID
		}
	}

	happy := testrig.NewConsumer(t, base, "1000")
	happy.Open("echo")
	happy.Say("hi")
	happy.WaitTexts(20*time.Second, "Echo: hi")
	broken := testrig.NewConsumer(t, base, "1000")
	broken.Open("echo")
	broken.Say("fail")
	broken.WaitTexts(20*time.Second, "Let me get you a human.")

	var errs []struct {
		Code string `json:"code"`
	}
	testrig.Eventually(t, 20*time.Second, "the escalation in Echo's error log", func() bool {
		api.Do(http.MethodGet, "/api/v1/bots/"+bot.ID+"/errors", nil, http.StatusOK, &errs)
		return len(errs) == 1
	})
	escalation := errs[0].Code

	want := map[string]float64{
		series("botrelay_bot_info", "bot_id", bot.ID, "name", "Echo", "vendor", "function", "type", "AGENT"): 1,
		series("botrelay_bot_state", "bot_id", bot.ID, "state", "ONLINE"):                                    1,
		series("botrelay_bot_state", "bot_id", bot.ID, "state", "OFFLINE"):                                   0,
		series("botrelay_bot_state", "bot_id", bot.ID, "state", "VENDOR_INTERRUPTION"):                       0,
		series("botrelay_bot_state", "bot_id", demo, "state", "ONLINE"):                                      1,
		// The happy conversation stays with Echo; the broken one went to
		// skill human.
		series("botrelay_bot_open_conversations", "bot_id", bot.ID):                                   1,
		series("botrelay_bot_open_conversations", "bot_id", demo):                                     0,
		series("botrelay_bot_turns_total", "bot_id", bot.ID, "vendor", "function", "result", "ok"):    1,
		series("botrelay_bot_turns_total", "bot_id", bot.ID, "vendor", "function", "result", "error"): 1,
		series("botrelay_bot_escalations_total", "bot_id", bot.ID, "code", escalation):                1,
		series("botrelay_bot_vendor_latency_seconds_count", "bot_id", bot.ID, "vendor", "function"):   2,
		// The two bots' agent sessions and the two consumers.
		series("botrelay_hub_connections", "side", "agent"):    2,
		series("botrelay_hub_connections", "side", "consumer"): 2,
		"botrelay_hub_open_conversations":                      2,
		"botrelay_hub_waiting_conversations":                   1,
		"botrelay_hub_rings":                                   0,
	}
	var got map[string]float64
	ok := func() bool {
		got = scrape(t, base)
		for k, v := range want {
			if g, found := got[k]; !found || g != v {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(15 * time.Second)
	for !ok() && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	for k, v := range want {
		if g, found := got[k]; !found || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, found, v)
		}
	}
	if w := got["botrelay_hub_oldest_wait_seconds"]; w <= 0 || w > 60 {
		t.Errorf("botrelay_hub_oldest_wait_seconds = %v, want the broken conversation's wait", w)
	}
	if s := got[series("botrelay_bot_vendor_latency_seconds_sum", "bot_id", bot.ID, "vendor", "function")]; s <= 0 || s > 10 {
		t.Errorf("vendor latency sum %v", s)
	}
	commits, writes := got["botrelay_store_commit_duration_seconds_count"], got["botrelay_store_commit_writes_count"]
	if commits < 10 || writes != commits || got["botrelay_store_commit_writes_sum"] < commits || got["botrelay_store_commit_duration_seconds_sum"] <= 0 {
		t.Errorf("store commits %v, writes histogram count %v sum %v, time %v", commits, writes,
			got["botrelay_store_commit_writes_sum"], got["botrelay_store_commit_duration_seconds_sum"])
	}
	t.Logf("escalation code %s; %v commits holding %v writes", escalation, commits, got["botrelay_store_commit_writes_sum"])

	// The Grafana dashboard in deploy/ asks only for series that exist.
	raw, err := os.ReadFile("../../deploy/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("deploy/grafana-dashboard.json: %v", err)
	}
	exprs := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			exprs++
			for _, name := range regexp.MustCompile(`botrelay_[a-z_]+`).FindAllString(tg.Expr, -1) {
				found := false
				for k := range got {
					if k == name || strings.HasPrefix(k, name+"{") {
						found = true
						break
					}
				}
				if !found {
					t.Errorf("dashboard panel %q asks for %s, which /metrics does not have", p.Title, name)
				}
			}
		}
	}
	if exprs < 10 {
		t.Errorf("the dashboard has %d queries", exprs)
	}
}
