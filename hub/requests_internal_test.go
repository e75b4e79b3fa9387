package hub

import (
	"testing"

	"github.com/botrelay/botrelay/ums"
)

// A table key that is not the canonical form of a request type could never
// be looked up: the request would be answered "not supported".
func TestHandlerTablesUseCanonicalTypes(t *testing.T) {
	for name, table := range map[string]map[string]handler{"agent": agentHandlers, "consumer": consumerHandlers} {
		for typ, f := range table {
			if f == nil {
				t.Errorf("%s table: %q has no handler", name, typ)
			}
			if got := ums.Canonical(typ); got != typ {
				t.Errorf("%s table: key %q is not canonical (it reads as %q)", name, typ, got)
			}
		}
	}
}

// The requests that run in a conversation's lane (laneKey) are requests
// both sides may send.
func TestLaneRequestsAreInBothTables(t *testing.T) {
	h := &Hub{}
	for _, typ := range []string{"ms.PublishEvent", "ms.QueryMessages", "cm.UpdateConversationField"} {
		req := &ums.Request{Type: ".ams." + typ, Body: []byte(`{"conversationId":"c1"}`)}
		if h.laneKey(req) != "c1" {
			t.Errorf("%s does not run in its conversation's lane", typ)
		}
		if agentHandlers[typ] == nil || consumerHandlers[typ] == nil {
			t.Errorf("%s is missing from a table", typ)
		}
	}
}
