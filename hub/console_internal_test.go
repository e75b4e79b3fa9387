package hub

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestConsumerName(t *testing.T) {
	long := strings.Repeat("é", 120)
	for ctx, want := range map[string]string{
		``:                        "",
		`{"type":"SharkContext"}`: "",
		`{"engagementAttributes":"x","personal":1}`:                                                              "",
		`{"engagementAttributes":[{"type":"personal","personal":{"firstname":" Dana ","lastname":"Scully\n"}}]}`: "Dana Scully",
		`{"engagementAttributes":[{"type":"ctmrinfo"},{"type":"personal","personal":{"firstname":"Sam"}}]}`:      "Sam",
		`{"engagementAttributes":[{"type":"personal","personal":{"firstname":"` + long + `"}}]}`:                 strings.Repeat("é", 99) + "…",
	} {
		if got := consumerName(json.RawMessage(ctx)); got != want {
			t.Errorf("consumerName(%s) = %q, want %q", ctx, got, want)
		}
	}
}

func TestNotePreview(t *testing.T) {
	at := time.Unix(1700000000, 0)
	for _, tc := range []struct {
		ev   eventShape
		want string
		ok   bool
	}{
		{eventShape{Type: "ContentEvent", Message: json.RawMessage(`"  hello\n\tthere  "`)}, "hello there", true},
		{eventShape{Type: "ContentEvent", ContentType: "hosted/file", Message: json.RawMessage(`{"relativePath":"a/b.png","caption":"bill.png"}`)}, "📎 bill.png", true},
		{eventShape{Type: "ContentEvent", ContentType: "hosted/file", Message: json.RawMessage(`{"relativePath":"a/b.png"}`)}, "📎 file", true},
		{eventShape{Type: "ChatStateEvent"}, "", false},
		{eventShape{Type: "RichContentEvent", Content: json.RawMessage(`{}`)}, "", false},
	} {
		cs := &convState{}
		if ok := notePreview(cs, &tc.ev, at); ok != tc.ok || cs.preview != tc.want || (ok && !cs.previewAt.Equal(at)) {
			t.Errorf("notePreview(%+v) = %v, %q", tc.ev, ok, cs.preview)
		}
	}
}
