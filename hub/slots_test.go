package hub_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// ringing is the set of conversations an agent is being rung for, from its
// routing-task notifications in order: a WAITING upsert adds, a DELETE or
// an ACCEPTED upsert removes. The caller holds c.mu.
func (c *client) ringing() map[string]bool {
	out := map[string]bool{}
	for _, m := range c.frames {
		if m["type"] != ".ams.routing.RoutingTaskNotification" {
			continue
		}
		for _, ch := range get(m, "body", "changes").([]any) {
			conv, _ := get(ch, "result", "conversationId").(string)
			rd := get(ch, "result", "ringsDetails").([]any)[0].(map[string]any)
			if get(ch, "type") == "UPSERT" && rd["ringState"] == "WAITING" {
				out[conv] = true
			} else {
				delete(out, conv)
			}
		}
	}
	return out
}

// waitRinging waits until the agent is rung for exactly n conversations
// and returns them.
func (c *client) waitRinging(what string, n int) map[string]bool {
	c.t.Helper()
	var got map[string]bool
	c.waitFor(what, func(map[string]any) bool {
		got = c.ringing()
		return len(got) == n
	})
	return got
}

// TestRingsCountAgainstSlots: an agent's rings count against its messaging
// slots like the conversations it holds, and stop counting once they are
// answered or withdrawn. Seven consumers wait; alice (5 slots) is rung for
// five and no more; botty, of the same skill, gets the other two. Alice
// takes one: she holds one and is rung for four, still full. When she
// leaves, her four rings are withdrawn and botty, at two rings, is rung for
// three more: five, his slots; the last conversation waits.
func TestRingsCountAgainstSlots(t *testing.T) {
	_, srv := newFixtureHub(t, time.Minute)
	alice := agentConn(t, srv, "alice")
	consumers := map[string]*client{}
	for i := range 7 {
		cons, _ := consumerConn(t, srv)
		conv := cons.mustCall("cm.ConsumerRequestConversation", map[string]any{}).(map[string]any)["conversationId"].(string)
		consumers[conv] = cons
		if i < 5 {
			alice.waitRinging(fmt.Sprintf("alice rung for %d", i+1), i+1)
		}
	}
	botty := agentConn(t, srv, "botty")
	bottyRings := botty.waitRinging("botty rung for the two alice has no slot for", 2)
	aliceRings := alice.waitRinging("alice still rung for five", 5)
	for conv := range bottyRings {
		if aliceRings[conv] {
			t.Fatalf("conversation %s rings both agents", conv)
		}
	}

	var taken string
	for conv := range aliceRings {
		taken = conv
		break
	}
	acceptRing(t, alice, taken)
	alice.waitRinging("alice rung for four after accepting one", 4)

	// A sixth ring would show here: a consumer more, alice full, botty at 2.
	cons, _ := consumerConn(t, srv)
	extra := cons.mustCall("cm.ConsumerRequestConversation", map[string]any{}).(map[string]any)["conversationId"].(string)
	bottyRings = botty.waitRinging("botty rung for the new one too", 3)
	if !bottyRings[extra] {
		t.Fatalf("botty rung for %v, want the new conversation %s among them", bottyRings, extra)
	}

	alice.ws.Close(websocket.StatusNormalClosure, "")
	bottyRings = botty.waitRinging("botty full once alice's rings are withdrawn", 5)
	if bottyRings[taken] {
		t.Fatalf("botty rung for %s, which alice holds", taken)
	}

	// A consumer gives up on one of them: that ring is withdrawn, which
	// frees the slot for the eighth conversation, still waiting.
	var gone string
	for conv := range bottyRings {
		if consumers[conv] != nil {
			gone = conv
			break
		}
	}
	consumers[gone].mustCall("cm.UpdateConversationField", map[string]any{"conversationId": gone, "conversationField": []any{
		map[string]any{"field": "ConversationStateField", "conversationState": "CLOSE"}}})
	var now map[string]bool
	botty.waitFor("botty rung for the last waiting conversation instead", func(map[string]any) bool {
		now = botty.ringing()
		return len(now) == 5 && !now[gone]
	})
	for conv := range now {
		if conv == taken {
			t.Fatalf("botty rung for %s, which alice holds", taken)
		}
	}
}
