package function

import "testing"

// BenchmarkParseResult translates a typical callback result (texts, quick
// replies, an intent) into a botrelay.Reply (BENCHMARKS.md).
func BenchmarkParseResult(b *testing.B) {
	result := []byte(`{"messages":["Sure, I can help with that.",{"structuredContent":{"type":"vertical","elements":[{"type":"text","text":"Pick one"}]},"metadata":{"type":"ExternalId","id":"card-1"}}],"context":{"intentId":"order.change","intentName":"Change order","confidenceScore":0.93,"session":{"step":2}}}`)
	if _, err := parseResult(result); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseResult(result); err != nil {
			b.Fatal(err)
		}
	}
}
