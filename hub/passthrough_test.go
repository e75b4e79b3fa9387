package hub_test

import (
	"testing"
	"time"
)

// TestEncodedMetadataReachesTheConsumer: docs/protocol.md says the
// request-level encodedMetadata of PublishEvent is passed through on every
// delivery; the consumer gets it as LivePerson delivers it (issue 15,
// point 4).
func TestEncodedMetadataReachesTheConsumer(t *testing.T) {
	_, srv := newFixtureHub(t, 5*time.Second)
	alice := agentConn(t, srv, "alice")
	cons, _ := consumerConn(t, srv)
	conv := cons.mustCall("cm.ConsumerRequestConversation", map[string]any{"brandId": "1000", "channelType": "MESSAGING"}).(map[string]any)["conversationId"].(string)
	cons.mustCall("ms.SubscribeMessagingEvents", map[string]any{"dialogId": conv, "conversationId": conv, "fromSeq": 0})
	acceptRing(t, alice, conv)
	alice.mustCall(".ams.ms.PublishEvent", map[string]any{"dialogId": conv,
		"event": map[string]any{"type": "ContentEvent", "contentType": "text/plain", "message": "with metadata"}},
		map[string]any{"encodedMetadata": "ZW5jb2RlZA==", "metadata": []any{map[string]any{"type": "ExternalId", "id": "m-1"}}})
	m := cons.waitFor("the agent's message", hasText("ms.MessagingEventNotification", "with metadata"))
	ch, _ := get(m, "body", "changes").([]any)
	var found bool
	for _, c := range ch {
		if get(c, "event", "message") == "with metadata" {
			found = true
			if get(c, "encodedMetadata") != "ZW5jb2RlZA==" {
				t.Errorf("the consumer got %v; want encodedMetadata passed through", c)
			}
			if md, _ := get(c, "metadata").([]any); len(md) != 1 {
				t.Errorf("the consumer got metadata %v; want the message's", get(c, "metadata"))
			}
		}
	}
	if !found {
		t.Fatalf("no change with the message in %v", m)
	}
}
