package botrelay_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/botrelay/botrelay"
)

func TestConsumerName(t *testing.T) {
	for ctx, want := range map[string]string{
		``:                                       "",
		`not json`:                               "",
		`{"type":"SharkContext","lang":"en-US"}`: "",
		`{"name":"  Dana  "}`:                    "Dana",
		`{"name":42,"personal":{"firstname":"Eve"}}`:            "Eve",
		`{"personal":{"firstname":"Carla","lastname":"Rossi"}}`: "Carla Rossi",
		`{"personal":{"lastname":"Rossi"}}`:                     "Rossi",
		`{"name":"` + strings.Repeat("é", 200) + `"}`:           strings.Repeat("é", 128),
	} {
		if got := botrelay.ConsumerName(json.RawMessage(ctx)); got != want {
			t.Errorf("ConsumerName(%s) = %q, want %q", ctx, got, want)
		}
	}
	if got := botrelay.ConsumerDisplayName("1a2b3c4d-0000-4000-8000-000000000001", nil); got != "Consumer 1a2b3c4d" {
		t.Errorf("display name %q", got)
	}
	if got := botrelay.ConsumerDisplayName("abc", json.RawMessage(`{"name":"Dana"}`)); got != "Dana" {
		t.Errorf("display name %q", got)
	}
}
