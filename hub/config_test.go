package hub_test

import (
	"encoding/json"
	"testing"
	"time"
)

// TestHubConfig: the pages learn the account from the hub itself.
func TestHubConfig(t *testing.T) {
	_, srv := newFixtureHub(t, time.Minute)
	resp, err := srv.Client().Get(srv.URL + "/api/hub/config")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var cfg struct {
		Account string `json:"account"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&cfg); err != nil || resp.StatusCode != 200 || cfg.Account == "" {
		t.Fatalf("GET /api/hub/config = %d %+v, %v", resp.StatusCode, cfg, err)
	}
}
