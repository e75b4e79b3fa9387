package relay

import (
	"encoding/json"
	"testing"

	"github.com/botrelay/botrelay"
)

// TestWithMarkerBytes: the marker is appended to a message's metadata with
// exactly encoding/json's bytes, whether the metadata is empty (the common
// case, written directly), an array, an object, or not JSON.
func TestWithMarkerBytes(t *testing.T) {
	general := func(meta json.RawMessage, id string) string {
		var list []json.RawMessage
		if len(meta) > 0 {
			if err := json.Unmarshal(meta, &list); err != nil {
				list = []json.RawMessage{meta}
			}
		}
		tag, _ := json.Marshal(map[string]string{"type": "ExternalId", "id": id})
		b, _ := json.Marshal(append(list, tag))
		return string(b)
	}
	for _, meta := range []string{"", `[{"type":"BotResponse","intents":[]}]`, `{"type":"X"}`, `[]`} {
		for _, id := range []string{marker(keyConsumer+"7", 0), marker(keyWelcome+"0", 12), marker(keyEscalate+"123456789", 3),
			"botrelay:<s>&1:0", "botrelay:é:1", `botrelay:"q":2`} {
			m := &botrelay.Message{Text: "hi", Metadata: json.RawMessage(meta)}
			got := withMarker(m, id)
			if want := general(json.RawMessage(meta), id); string(got.Metadata) != want {
				t.Errorf("withMarker(%s, %q) = %s, want %s", meta, id, got.Metadata, want)
			}
			if string(m.Metadata) != meta || got.Text != "hi" {
				t.Errorf("withMarker changed its message or lost its text")
			}
		}
	}
	if got := marker(keyConsumer+"42", 3); got != "botrelay:s42:3" {
		t.Errorf("marker = %q", got)
	}
}
