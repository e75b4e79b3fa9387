package liveperson

import (
	"encoding/json"
	"fmt"
	"testing"
)

// TestSharedContext: conversations whose consumer context is the same keep
// one copy of it, which no append can write through; past the table's
// bound a context is kept as it came.
func TestSharedContext(t *testing.T) {
	a := &Adapter{}
	first := a.sharedContext(json.RawMessage(`{"type":"SharkContext","lang":"en-US"}`))
	again := a.sharedContext(json.RawMessage(`{"type":"SharkContext","lang":"en-US"}`))
	if string(again) != `{"type":"SharkContext","lang":"en-US"}` || &again[0] != &first[0] {
		t.Fatalf("an equal context is not shared: %s", again)
	}
	if cap(first) != len(first) {
		t.Fatalf("a shared context has room to append into (cap %d, len %d)", cap(first), len(first))
	}
	other := a.sharedContext(json.RawMessage(`{"type":"SharkContext","lang":"fr-FR"}`))
	if string(other) != `{"type":"SharkContext","lang":"fr-FR"}` || &other[0] == &first[0] {
		t.Fatalf("a different context came back as %s", other)
	}
	for i := range maxSharedContexts {
		a.sharedContext(json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)))
	}
	if len(a.contexts) != maxSharedContexts {
		t.Fatalf("the table holds %d contexts; want at most %d", len(a.contexts), maxSharedContexts)
	}
	raw := json.RawMessage(`{"n":"new"}`)
	if got := a.sharedContext(raw); &got[0] != &raw[0] {
		t.Fatalf("past the bound a context is not kept as it came")
	}
}
