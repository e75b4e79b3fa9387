package hub_test

import (
	"testing"
	"time"
)

// frameIndex is the position of the first frame matching pred, or -1.
func (c *client) frameIndex(pred func(m map[string]any) bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, m := range c.frames {
		if pred(m) {
			return i
		}
	}
	return -1
}

// A client that routes notifications by the subscription id of the
// response must see the response first (issue 15, point 9).
func TestAgentStateResponsePrecedesNotification(t *testing.T) {
	_, srv := newFixtureHub(t, 5*time.Second)
	bearer := login(t, srv.URL, srv.Client(), "alice")
	c := dial(t, srv.Client(), wsURL(srv)+"/ws_api/account/1000/messaging/brand/"+bearer+"?v=2.1", nil)

	body := c.mustCall(".ams.routing.SubscribeAgentsState", map[string]any{})
	sub, _ := get(body, "subscriptionId").(string)
	if sub == "" {
		t.Fatalf("SubscribeAgentsState answered %v, want a subscriptionId", body)
	}
	isResp := func(id string) func(m map[string]any) bool {
		return func(m map[string]any) bool { return m["kind"] == "resp" && m["reqId"] == id }
	}
	stateNotif := func(avail string) func(m map[string]any) bool {
		return func(m map[string]any) bool {
			if m["kind"] != "notification" || m["type"] != ".ams.routing.AgentStateNotification" {
				return false
			}
			ch, _ := get(m, "body", "changes").([]any)
			return get(m, "body", "subscriptionId") == sub && len(ch) == 1 && get(ch[0], "result", "availability") == avail
		}
	}
	c.waitFor("the first state notification", stateNotif("AWAY"))
	if r, n := c.frameIndex(isResp("r1")), c.frameIndex(stateNotif("AWAY")); r < 0 || r > n {
		t.Fatalf("SubscribeAgentsState: response at frame %d, its notification at %d; frames %s", r, n, c.dump())
	}

	c.mustCall(".ams.routing.SetAgentState", map[string]any{"availability": "ONLINE"})
	c.waitFor("the ONLINE notification", stateNotif("ONLINE"))
	if r, n := c.frameIndex(isResp("r2")), c.frameIndex(stateNotif("ONLINE")); r < 0 || r > n {
		t.Fatalf("SetAgentState: response at frame %d, its notification at %d; frames %s", r, n, c.dump())
	}
}
