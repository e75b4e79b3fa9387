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

// TestGetUserProfile (issue 15, point 4): GetUserProfile honours userId:
// the caller's own profile without one, another user's by id, and a
// consumer's engagement attributes, as LivePerson answers them, for a
// consumer whose conversation the caller may read.
func TestGetUserProfile(t *testing.T) {
	_, srv := newFixtureHub(t, 5*time.Second)
	alice := agentConn(t, srv, "alice")
	bob := agentConn(t, srv, "bob")
	own := alice.mustCall(".ams.userprofile.GetUserProfile", map[string]any{})
	if get(own, "nickname") != "alice" || get(own, "userId") == nil {
		t.Fatalf("own profile = %v", own)
	}
	if p := alice.mustCall(".ams.userprofile.GetUserProfile", map[string]any{"userId": get(bob.mustCall(".ams.userprofile.GetUserProfile", map[string]any{}), "userId")}); get(p, "nickname") != "bob" {
		t.Fatalf("bob's profile = %v", p)
	}

	cons, consumerID := consumerConn(t, srv)
	conv := cons.mustCall("cm.ConsumerRequestConversation", map[string]any{"brandId": "1000", "channelType": "MESSAGING",
		"conversationContext": map[string]any{"type": "SharkContext", "lpSdes": map[string]any{
			"unauthenticatedSdes": map[string]any{"customerInfo": map[string]any{"serverTimeStamp": "1", "customerInfo": map[string]any{"cstatus": "gold"}}}}}}).(map[string]any)["conversationId"].(string)
	// Not yet alice's conversation: refused.
	if code, body := alice.call(".ams.userprofile.GetUserProfile", map[string]any{"userId": consumerID}); code != 403 {
		t.Fatalf("a consumer of another's conversation: %d %v, want 403", code, body)
	}
	acceptRing(t, alice, conv)
	attrs, _ := alice.mustCall(".ams.userprofile.GetUserProfile", map[string]any{"userId": consumerID}).([]any)
	if len(attrs) != 1 || get(attrs[0], "type") != "ctmrinfo" || get(attrs[0], "info", "cstatus") != "gold" || get(attrs[0], "auth") != false {
		t.Fatalf("the consumer's profile = %v; want its ctmrinfo entry", attrs)
	}
	if code, _ := alice.call(".ams.userprofile.GetUserProfile", map[string]any{"userId": "nobody-at-all"}); code != 404 {
		t.Fatalf("an unknown userId: %d, want 404", code)
	}
}
