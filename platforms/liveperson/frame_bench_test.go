package liveperson

import (
	"context"
	"testing"

	"github.com/botrelay/botrelay"
)

// The bot's side of each message: the hub's OnlineEventDistribution frames
// for a consumer message (turned into an event for the relay) and for the
// bot's own reply (ignored), as the hub sends them.
var (
	consumerMessageFrame = []byte(`{"kind":"notification","type":".ams.ms.OnlineEventDistribution","body":{"sequence":7,` +
		`"conversationId":"5b0a3c1e-8f4d-4c2a-9b1e-0d6f7a2c9e11","dialogId":"5b0a3c1e-8f4d-4c2a-9b1e-0d6f7a2c9e11",` +
		`"serverTimestamp":1764000000000,"originatorId":"c-8a4e","originatorPId":"c-8a4e","originatorMetadata":{"id":"c-8a4e",` +
		`"role":"CONSUMER"},"event":{"type":"ContentEvent","contentType":"text/plain","message":"I would like to change the ` +
		`delivery address of my order"}}}`)
	botEchoFrame = []byte(`{"kind":"notification","type":".ams.ms.OnlineEventDistribution","body":{"sequence":8,` +
		`"conversationId":"5b0a3c1e-8f4d-4c2a-9b1e-0d6f7a2c9e11","dialogId":"5b0a3c1e-8f4d-4c2a-9b1e-0d6f7a2c9e11",` +
		`"serverTimestamp":1764000000001,"originatorId":"1000.12","originatorPId":"0b7e0a52","originatorMetadata":{"id":"0b7e0a52",` +
		`"role":"ASSIGNED_AGENT","name":"Support bot","userType":"BOT"},"event":{"type":"ContentEvent","contentType":"text/plain",` +
		`"message":"Sure, which address should we deliver to?"},"metadata":[{"id":"botrelay:s7:0","type":"ExternalId"}]}}`)
)

// benchConn is an adapter holding one assigned conversation, with a
// connection whose frames the benchmark feeds by hand.
func benchConn(b *testing.B) *wsConn {
	a, err := New(Config{Account: "1000", Username: "bot", AppKey: "a", Secret: "s", AccessToken: "t", AccessTokenSecret: "ts"}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	id := "5b0a3c1e-8f4d-4c2a-9b1e-0d6f7a2c9e11"
	a.convs[id] = &convState{assigned: true, main: id, dialogs: dialogTypes{{id, dialogMain}},
		ref: botrelay.ConversationRef{ID: botrelay.ConversationID(id), DialogID: botrelay.DialogID(id), Type: botrelay.Messaging,
			ConsumerID: "c-8a4e", SkillID: 3},
		context: []byte(`{"type":"SharkContext","lang":"en-US","visitorId":"v-1","sessionId":"s-1","clientProperties":{}}`)}
	return &wsConn{a: a, ctx: context.Background(), q: newQueue(), st: &loginState{legacyID: "1000.12", userPID: "0b7e0a52"},
		pending: map[string]chan inFrame{}}
}

// BenchmarkMessageNotification is the adapter's handling of one consumer
// message frame: decoded, checked, translated into the relay's event with
// its lpEvent.
func BenchmarkMessageNotification(b *testing.B) {
	for _, c := range []struct {
		name  string
		frame []byte
		want  int
	}{{"consumer", consumerMessageFrame, 1}, {"echo", botEchoFrame, 0}} {
		b.Run(c.name, func(b *testing.B) {
			wc := benchConn(b)
			b.ReportAllocs()
			for b.Loop() {
				wc.frame(c.frame)
				if len(wc.q.items) != c.want {
					b.Fatalf("%d events, want %d", len(wc.q.items), c.want)
				}
				wc.q.items = nil
			}
		})
	}
}
