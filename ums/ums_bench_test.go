package ums_test

import (
	"encoding/json"
	"testing"

	"github.com/botrelay/botrelay/ums"
)

// The hub decodes every frame a client sends and encodes every frame it
// sends; these are the two ends of each message's trip (BENCHMARKS.md).

var publishFrame = []byte(`{"kind":"req","id":"42","type":"ms.PublishEvent","body":{"dialogId":"5b0a3c1e-8f4d-4c2a-9b1e-0d6f7a2c9e11","event":{"type":"ContentEvent","contentType":"text/plain","message":"I would like to change the delivery address of my order"}}}`)

func BenchmarkDecodePublishEvent(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(publishFrame)))
	for b.Loop() {
		if _, err := ums.Decode(publishFrame); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeMessagingEventNotification(b *testing.B) {
	ev := ums.MessagingEvent{Sequence: 7, ConversationID: "5b0a3c1e-8f4d-4c2a-9b1e-0d6f7a2c9e11", DialogID: "5b0a3c1e-8f4d-4c2a-9b1e-0d6f7a2c9e11",
		ServerTimestamp: 1764000000000, OriginatorID: "1000.12", OriginatorPID: "0b7e0a52-8a4e-4c8e-9d0b-3f1e2d4c5b6a",
		OriginatorMetadata: ums.OriginatorMetadata{ID: "0b7e0a52-8a4e-4c8e-9d0b-3f1e2d4c5b6a", Role: "ASSIGNED_AGENT", Name: "Support bot", UserType: "BOT"},
		Event:              json.RawMessage(`{"type":"ContentEvent","contentType":"text/plain","message":"Sure, which address should we deliver to?"}`)}
	n := ums.NewNotification("ms.MessagingEventNotification", ums.MessagingEventBody{Changes: []ums.MessagingEvent{ev}})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(n); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeResponse(b *testing.B) {
	req, err := ums.Decode(publishFrame)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(ums.OK(req, map[string]int64{"sequence": 7})); err != nil {
			b.Fatal(err)
		}
	}
}

// The same two frames as the hub writes them now (encode.go).

func BenchmarkEncodeAgentEventDirect(b *testing.B) {
	ev := ums.MessagingEvent{Sequence: 7, ConversationID: "5b0a3c1e-8f4d-4c2a-9b1e-0d6f7a2c9e11", DialogID: "5b0a3c1e-8f4d-4c2a-9b1e-0d6f7a2c9e11",
		ServerTimestamp: 1764000000000, OriginatorID: "1000.12", OriginatorPID: "0b7e0a52-8a4e-4c8e-9d0b-3f1e2d4c5b6a",
		OriginatorMetadata: ums.OriginatorMetadata{ID: "0b7e0a52-8a4e-4c8e-9d0b-3f1e2d4c5b6a", Role: "ASSIGNED_AGENT", Name: "Support bot", UserType: "BOT"},
		Event:              json.RawMessage(`{"type":"ContentEvent","contentType":"text/plain","message":"Sure, which address should we deliver to?"}`)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ums.EncodeAgentEvent(&ev); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeSequence(b *testing.B) {
	req, err := ums.Decode(publishFrame)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = ums.EncodeSequence(req, 7)
	}
}
