package openai

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/botrelay/botrelay"
)

// BenchmarkParseReply translates every valid sample reply in
// testdata/replies into a botrelay.Reply; ns/reply is the cost of one
// (BENCHMARKS.md).
func BenchmarkParseReply(b *testing.B) {
	raw, _ := json.Marshal(map[string]any{"model": "m", "maxHistoryMessages": 3, "maxHistoryBytes": 100})
	vb, err := Connector{}.NewBot(raw, botrelay.BotEnv{})
	if err != nil {
		b.Fatal(err)
	}
	bot := vb.(*Bot)
	parse := func(body []byte) error {
		_, err := bot.ParseResponse(context.Background(), &botrelay.Turn{Kind: botrelay.TurnText, Text: "hi", VendorState: json.RawMessage(priorState)}, body)
		return err
	}
	files, _ := filepath.Glob("testdata/replies/*.json")
	var bodies [][]byte
	for _, name := range files {
		body, err := os.ReadFile(name)
		if err == nil && parse(body) == nil {
			bodies = append(bodies, body)
		}
	}
	if len(bodies) == 0 {
		b.Fatal("no sample reply parses")
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, body := range bodies {
			if err := parse(body); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(bodies)), "ns/reply")
}
