package rasa

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/botrelay/botrelay"
)

// BenchmarkParseReply translates every valid sample reply in
// testdata/replies into a botrelay.Reply; ns/reply is the cost of one
// (BENCHMARKS.md).
func BenchmarkParseReply(b *testing.B) {

	parse := func(body []byte) error {
		_, _, err := parseReply(body, botrelay.Messaging, "bot")
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
